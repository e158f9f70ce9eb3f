// Deliverability per provider: the providers delivery has slowed down or suspended after their
// replies (admins), stacked delivered / deferred / bounced over time, the figures in a table
// beside the chart, and the top reasons with sample replies.
import { api, seg } from '../api.js';
import { COLORS, stackedBars } from '../chart.js';
import { badge, h, pageTitle, section, table } from '../dom.js';

const PERIODS = { '24h': { hours: 24, step: 'hour' }, '7d': { hours: 24 * 7, step: 'day' }, '30d': { hours: 24 * 30, step: 'day' } };
const view = { period: '7d', provider: '' }; // kept while navigating

/** Samples are reply strings; tolerate {code, enhanced, text} objects too. */
function sampleText(s) {
  return typeof s === 'string' ? s : [s?.code, s?.enhanced, s?.text].filter(Boolean).join(' ');
}

export const providersPage = {
  id: 'providers',
  title: 'page.providers',
  async render(ctx) {
    const { main, t, fmt, tenant, params } = ctx;
    if (ctx.fromRoute && params.has('provider')) {
      view.provider = params.get('provider') ?? '';
    }
    const { hours, step } = PERIODS[view.period];
    const to = new Date();
    const from = new Date(to.getTime() - hours * 3600_000);
    const range = { from: from.toISOString(), to: to.toISOString(), tenant };

    main.append(pageTitle(t('page.providers')));
    const periodSel = h('select', { id: 'period', onchange: (e) => ((view.period = e.target.value), ctx.rerender()) }, Object.keys(PERIODS).map((p) => h('option', { value: p, selected: p === view.period }, t(`period.${p}`))));
    const providerSel = h('select', { id: 'provider', onchange: (e) => ((view.provider = e.target.value), ctx.rerender()) });
    main.append(h('form', { class: 'filters', onsubmit: (e) => e.preventDefault() }, h('label', { for: 'period' }, t('providers.period')), periodSel, h('label', { for: 'provider' }, t('providers.provider')), providerSel));

    const [stats, series, shaping] = await Promise.all([
      api('/stats/providers', { query: range }),
      api('/stats/timeseries', { query: { ...range, provider: view.provider, step } }),
      ctx.admin ? api('/delivery/shaping') : null,
    ]);
    if (!ctx.alive()) return;
    if (shaping) main.append(shapingSection(ctx, shaping));
    const providers = stats.items;
    providerSel.append(h('option', { value: '' }, t('providers.all')), providers.map((p) => h('option', { value: p.provider, selected: p.provider === view.provider }, p.name)));
    const selected = providers.find((p) => p.provider === view.provider);

    // Chart (canvas, so described in text) beside the table that carries the same figures.
    const chartBox = h('div', { class: 'chart', id: 'provider-chart', role: 'img', 'aria-label': t('providers.chartLabel', { who: selected?.name ?? t('providers.all') }) });
    const pts = series.points;
    const figure = h('figure', { class: 'chart-figure' }, chartBox, h('figcaption', {}, t('providers.caption', { who: selected?.name ?? t('providers.all'), step: t(`step.${series.step ?? step}`) })));
    const countPct = (n, p) => [fmt.num(n), ' ', h('span', { class: 'pct' }, `(${fmt.pct(p)})`)];
    const rows = providers.map((p) => [
      h('button', { type: 'button', class: 'linkish', 'aria-pressed': String(p.provider === view.provider), onclick: () => ((view.provider = p.provider === view.provider ? '' : p.provider), ctx.rerender()) }, p.name),
      fmt.num(p.sent),
      countPct(p.delivered, p.deliveredPct),
      countPct(p.deferred, p.deferredPct),
      countPct(p.bounced, p.bouncedPct),
    ]);
    const tbl = table({
      id: 'provider-table',
      caption: t('providers.tableCaption', { from: fmt.dateTime(stats.from ?? range.from), to: fmt.dateTime(stats.to ?? range.to) }),
      columns: [{ label: t('providers.col.provider'), rowHeader: true }, { label: t('count.sent'), numeric: true }, { label: t('count.delivered'), numeric: true }, { label: t('count.deferred'), numeric: true }, { label: t('count.bounced'), numeric: true }],
      rows,
      emptyText: t('providers.none'),
    });
    main.append(section(t('providers.overTime'), h('div', { class: 'chart-and-table' }, figure, tbl)));
    if (pts.length) {
      ctx.onCleanup(
        stackedBars(chartBox, {
          x: pts.map((p) => Date.parse(p.t) / 1000),
          xTitle: t('providers.when'),
          layers: [
            { label: t('count.delivered'), color: COLORS.delivered, values: pts.map((p) => p.delivered) },
            { label: t('count.deferred'), color: COLORS.deferred, values: pts.map((p) => p.deferred) },
            { label: t('count.bounced'), color: COLORS.bounced, values: pts.map((p) => p.bounced) },
          ],
          formatValue: (v) => fmt.num(v),
        }),
      );
    } else chartBox.append(h('p', { class: 'empty' }, t('providers.noSeries')));
    chartBox.dataset.points = String(pts.length);

    // Reasons: for the selected provider, else for every provider that had problems.
    const withReasons = (selected ? [selected] : providers).filter((p) => p.topReasons?.length);
    const reasons = h('div', { id: 'reasons' });
    for (const p of withReasons) {
      reasons.append(
        h('h3', {}, p.name),
        h(
          'ul',
          { class: 'reasons' },
          p.topReasons.map((r) =>
            h(
              'li',
              {},
              h(
                'details',
                {},
                h('summary', {}, `${t(`reason.${r.reason}`, {}, r.reason)} — ${t('providers.times', { n: fmt.num(r.count) })}`),
                r.samples?.length ? h('ul', { class: 'samples' }, r.samples.map((s) => h('li', {}, h('code', {}, sampleText(s))))) : h('p', {}, t('providers.noSample')),
              ),
            ),
          ),
        ),
      );
    }
    if (!withReasons.length) reasons.append(h('p', {}, t('providers.noReasons')));
    main.append(section(t('providers.reasons'), reasons));
  },
};

/** Restrictions in force (suspended or slowed, per pool) with the reply that caused them, and a button to lift each. */
function shapingSection(ctx, shaping) {
  const { t, fmt } = ctx;
  const reply = (r) => [r.code, r.enhanced, r.text].filter(Boolean).join(' ');
  const rows = shaping.restrictions.map((r) => [
    r.provider,
    r.pool,
    badge(r.mode === 'suspended' ? 'fail' : 'warn', t(`shaping.mode.${r.mode}`)),
    t(`shaping.category.${r.category}`, {}, r.category),
    fmt.dateTime(r.since),
    fmt.dateTime(r.until),
    r.mode === 'suspended' ? t('shaping.probe') : t('shaping.limits', { conn: r.limits.maxConnections, rate: r.limits.messagesPerMinute }),
    h('div', {}, h('code', {}, reply(r.cause.reply)), r.cause.fix ? h('p', { class: 'fix' }, ctx.lang === 'en' ? r.cause.fix.en : r.cause.fix.fr) : null),
    h(
      'button',
      {
        type: 'button',
        class: 'btn',
        'aria-label': t('shaping.clearLabel', { provider: r.provider, pool: r.pool }),
        onclick: async () => {
          try {
            await api(`/delivery/shaping/${seg(r.provider)}`, { method: 'DELETE', query: { pool: r.pool } });
            await ctx.rerender();
            ctx.status(t('shaping.cleared', { provider: r.provider, pool: r.pool }));
            document.getElementById('page-title')?.focus();
          } catch (err) {
            ctx.status(ctx.errorText(err), 'error');
          }
        },
      },
      t('shaping.clear'),
    ),
  ]);
  const tbl = table({
    id: 'shaping-table',
    caption: t('shaping.caption', { node: shaping.node }),
    columns: [
      { label: t('providers.col.provider'), rowHeader: true },
      { label: t('shaping.col.pool') },
      { label: t('shaping.col.state') },
      { label: t('shaping.col.category') },
      { label: t('shaping.col.since') },
      { label: t('shaping.col.until') },
      { label: t('shaping.col.limits') },
      { label: t('shaping.col.cause') },
      { label: t('shaping.col.action') },
    ],
    rows,
    emptyText: t('shaping.none'),
  });
  const warm = shaping.warmups.length
    ? table({
        id: 'warmup-table',
        caption: t('shaping.warmupCaption'),
        columns: [{ label: t('shaping.col.pool'), rowHeader: true }, { label: t('providers.col.provider') }, { label: t('shaping.col.sent'), numeric: true }, { label: t('shaping.col.volume'), numeric: true }],
        rows: shaping.warmups.map((w) => [w.pool, w.provider, fmt.num(w.sent), fmt.num(w.volume)]),
      })
    : null;
  return section(t('shaping.title'), tbl, warm);
}
