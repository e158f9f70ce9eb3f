// DMARC: per domain, what the receivers' aggregate reports say — the aligned share of Relais's
// own mail day by day (should stay near 100 %), and the other sources sending in the domain's
// name (the upstream sending directly, a website form, a spoofer), biggest first.
import { api, seg } from '../api.js';
import { COLORS, stackedBars } from '../chart.js';
import { badge, h, pageTitle, section, table } from '../dom.js';

const DAYS = 30;
const TOP_SOURCES = 10;
/** Aligned share under this shows as a warning (the alert's default threshold). */
const GOOD_SHARE = 0.98;

const pct = (fmt, share) => (share === null || share === undefined ? '–' : fmt.pct(share * 100));

export const dmarcPage = {
  id: 'dmarc',
  title: 'page.dmarc',
  async render(ctx) {
    const { main, t, fmt, tenant, alive } = ctx;
    main.append(pageTitle(t('page.dmarc')), h('p', { class: 'intro' }, t('dmarc.intro')));
    const list = await api('/dmarc/domains', { query: { days: DAYS } });
    if (!alive()) return;
    const items = list.items.filter((i) => !tenant || i.tenant === tenant);
    if (!items.length) return void main.append(h('p', { id: 'dmarc-none' }, t('dmarc.none')));
    main.append(
      section(
        t('dmarc.summary', { days: DAYS }),
        table({
          id: 'dmarc-domains',
          caption: t('dmarc.summaryCaption', { days: DAYS }),
          columns: [{ label: t('dmarc.col.domain'), rowHeader: true }, { label: t('dmarc.col.relaisMessages'), numeric: true }, { label: t('dmarc.col.aligned'), numeric: true }, { label: t('dmarc.col.otherMessages'), numeric: true }, { label: t('dmarc.col.otherSources'), numeric: true }],
          rows: items.map((i) => [h('a', { href: `#dmarc-${anchor(i.domain)}` }, i.domain), fmt.num(i.relais.messages), shareBadge(fmt, i.relais.share), fmt.num(i.others.messages), fmt.num(i.others.sources)]),
        }),
      ),
    );
    for (const i of items) {
      const v = await api(`/dmarc/domains/${seg(i.domain)}`, { query: { days: DAYS } });
      if (!alive()) return;
      const { el, draw } = domainSection(ctx, v);
      main.append(el);
      draw();
    }
  },
};

const anchor = (d) => d.replace(/[^a-zA-Z0-9-]/g, '-');

function shareBadge(fmt, share) {
  if (share === null || share === undefined) return '–';
  return badge(share >= GOOD_SHARE ? 'pass' : 'warn', pct(fmt, share));
}

function domainSection(ctx, v) {
  const { t, fmt } = ctx;
  const days = v.byDay.filter((d) => d.relais.messages + d.mailcow.messages + d.elsewhere.messages > 0);
  const chartBox = h('div', { class: 'chart', role: 'img', 'aria-label': t('dmarc.chartLabel', { domain: v.domain }) });
  const dayTable = table({
    id: `dmarc-days-${anchor(v.domain)}`,
    caption: t('dmarc.dayCaption', { domain: v.domain }),
    columns: [{ label: t('dmarc.col.day'), rowHeader: true }, { label: t('dmarc.col.relaisMessages'), numeric: true }, { label: t('dmarc.col.aligned'), numeric: true }, { label: t('dmarc.col.others'), numeric: true }],
    rows: days.map((d) => [d.day, fmt.num(d.relais.messages), shareBadge(fmt, d.relais.share), fmt.num(d.mailcow.messages + d.elsewhere.messages)]),
    emptyText: t('dmarc.noDays'),
  });
  const outside = v.bySource.filter((s) => s.label !== 'relais').slice(0, TOP_SOURCES);
  const sources = table({
    id: `dmarc-sources-${anchor(v.domain)}`,
    caption: t('dmarc.sourcesCaption', { domain: v.domain }),
    columns: [{ label: t('dmarc.col.source'), rowHeader: true }, { label: t('dmarc.col.label') }, { label: t('dmarc.col.ptr') }, { label: t('dmarc.col.messages'), numeric: true }, { label: t('dmarc.col.aligned'), numeric: true }, { label: t('dmarc.col.reporters') }],
    rows: outside.map((s) => [h('code', {}, s.ip), t(`dmarc.label.${s.label}`, {}, s.label), s.ptr ?? '–', fmt.num(s.messages), pct(fmt, s.share), s.reporters.join(', ')]),
    emptyText: t('dmarc.noOutside'),
  });
  const tls = v.tls.length
    ? table({
      caption: t('dmarc.tlsCaption', { domain: v.domain }),
      columns: [{ label: t('dmarc.col.reporter'), rowHeader: true }, { label: t('dmarc.col.tlsOk'), numeric: true }, { label: t('dmarc.col.tlsFailed'), numeric: true }, { label: t('dmarc.col.tlsFailures') }],
      rows: v.tls.map((r) => [r.org, fmt.num(r.successful), fmt.num(r.failed), Object.entries(r.failures).map(([k, n]) => `${k} (${fmt.num(n)})`).join(', ') || '–']),
    })
    : null;
  const el = h(
    'section',
    { class: 'panel dmarc-domain', id: `dmarc-${anchor(v.domain)}`, dataset: { domain: v.domain } },
    h('h2', {}, v.domain),
    h('p', {}, t('dmarc.relaisLine', { n: fmt.num(v.relais.messages), share: pct(fmt, v.relais.share) }), ' ', t('dmarc.othersLine', { n: fmt.num(v.others.messages), sources: fmt.num(v.others.sources), share: pct(fmt, v.others.share) })),
    h('h3', {}, t('dmarc.overTime')),
    h('div', { class: 'chart-and-table' }, chartBox, dayTable),
    h('h3', {}, t('dmarc.topSources')),
    sources,
    tls ? h('h3', {}, t('dmarc.tls')) : null,
    tls,
  );
  /** Once in the page (the chart takes its container's width). */
  const draw = () => {
    if (!days.length) return void chartBox.append(h('p', { class: 'empty' }, t('dmarc.noDays')));
    // Relais's mail per day over the whole range, aligned below unaligned: the share is the
    // lower band's height; days without reports stay empty.
    ctx.onCleanup(
        stackedBars(chartBox, {
          x: v.byDay.map((d) => Date.parse(`${d.day}T12:00:00Z`) / 1000),
          xTitle: t('dmarc.col.day'),
          layers: [
            { label: t('dmarc.alignedLayer'), color: COLORS.delivered, values: v.byDay.map((d) => d.relais.aligned) },
            { label: t('dmarc.unalignedLayer'), color: COLORS.bounced, values: v.byDay.map((d) => d.relais.messages - d.relais.aligned) },
          ],
          formatValue: (n) => fmt.num(n),
        }),
    );
  };
  return { el, draw };
}
