// uPlot wrappers. uPlot has no stacking of its own: bars are drawn as cumulative sums, the
// tallest first, so each visible band is one series; the legend shows the raw values.
import uPlot from '/dashboard/vendor/uPlot.esm.js';

export const COLORS = { delivered: '#2e7d32', deferred: '#b45f06', bounced: '#b71c1c', giants: '#6a1b9a', others: '#00695c' };

function cumulative(series) {
  const out = [];
  let acc = series[0].map(() => 0);
  for (const s of series) {
    acc = acc.map((v, i) => v + (s[i] ?? 0));
    out.push(acc);
  }
  return out;
}

function widthOf(el) {
  return Math.max(280, Math.floor(el.getBoundingClientRect().width || el.clientWidth || 600));
}

/** Resizes the chart with its container; returns a cleanup function. */
function autosize(u, el, height) {
  const ro = new ResizeObserver(() => u.setSize({ width: widthOf(el), height }));
  ro.observe(el);
  return () => {
    ro.disconnect();
    u.destroy();
  };
}

/**
 * Stacked bars. x: numbers (epoch seconds when time, else indexes); layers: [{label, color,
 * values}] bottom first. xLabel(x) formats ticks and the legend when x is not time.
 */
export function stackedBars(el, { x, layers, height = 300, time = true, xLabel, xTitle = '', formatValue = (v) => String(v), yRange }) {
  const stacked = cumulative(layers.map((l) => l.values));
  const order = layers.map((_, i) => i).reverse(); // tallest (cumulative top) first
  const bars = uPlot.paths.bars({ size: [0.7, 48], align: 0 });
  const opts = {
    width: widthOf(el),
    height,
    cursor: { points: { show: false }, drag: { x: false, y: false } },
    scales: { x: { time, range: (_u, min, max) => [min - 0.5 * step(x, time), max + 0.5 * step(x, time)] }, y: { range: yRange ? () => yRange : (_u, _min, max) => [0, niceMax(max)] } },
    axes: [
      time ? {} : { values: (_u, splits) => splits.map((s) => (Number.isInteger(s) ? (xLabel?.(s) ?? s) : '')), space: 40 },
      { values: (_u, splits) => splits.map(formatValue), size: 60 },
    ],
    series: [
      time ? { label: xTitle } : { label: xTitle, value: (_u, v) => (v == null ? '–' : (xLabel?.(v) ?? v)) },
      ...order.map((i) => ({
        label: layers[i].label,
        stroke: layers[i].color,
        fill: layers[i].color,
        width: 0,
        paths: bars,
        points: { show: false },
        value: (_u, _v, _si, idx) => (idx == null ? '–' : formatValue(layers[i].values[idx] ?? 0)),
      })),
    ],
  };
  const u = new uPlot(opts, [x, ...order.map((i) => stacked[i])], el);
  return autosize(u, el, height);
}

/** Bars stack from zero; leave a little headroom above the tallest. */
function niceMax(max) {
  if (!(max > 0)) return 1;
  const mag = 10 ** Math.floor(Math.log10(max));
  return Math.ceil((max * 1.05) / mag) * mag;
}

function step(x, time) {
  if (x.length < 2) return time ? 3600 : 1;
  return x[1] - x[0];
}
