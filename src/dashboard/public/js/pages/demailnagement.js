// Démailnagement: the share of mail sent to the US giants (Google, Microsoft, Yahoo, Apple,
// Amazon) month by month, so a collective can see its move away from them.
import { api } from '../api.js';
import { COLORS, stackedBars } from '../chart.js';
import { h, pageTitle, section, table } from '../dom.js';

export const demailnagementPage = {
  id: 'demailnagement',
  title: 'page.demailnagement',
  async render(ctx) {
    const { main, t, fmt, tenant } = ctx;
    main.append(pageTitle(t('page.demailnagement')), h('p', { class: 'intro' }, t('dem.intro')));
    const data = await api('/stats/demailnagement', { query: { tenant, months: 12 } });
    if (!ctx.alive()) return;
    const months = data.months;
    if (!months.length) return void main.append(h('p', {}, t('dem.none')));

    const first = months[0];
    const last = months[months.length - 1];
    const delta = last.usGiantsPct - first.usGiantsPct;
    main.append(
      h(
        'p',
        { class: 'headline', id: 'dem-headline' },
        t('dem.headline', { pct: fmt.pct(last.usGiantsPct), month: fmt.month(last.month) }),
        months.length > 1 ? ` ${t(delta <= 0 ? 'dem.down' : 'dem.up', { points: fmt.num(Math.abs(Math.round(delta * 10) / 10)), month: fmt.month(first.month) })}` : '',
      ),
    );
    const chartBox = h('div', { class: 'chart', id: 'dem-chart', role: 'img', 'aria-label': t('dem.chartLabel') });
    const tbl = table({
      id: 'dem-table',
      caption: t('dem.caption'),
      columns: [{ label: t('dem.col.month'), rowHeader: true }, { label: t('dem.col.total'), numeric: true }, { label: t('dem.col.giants'), numeric: true }, { label: t('dem.col.share'), numeric: true }, { label: t('dem.col.others'), numeric: true }, { label: t('dem.col.delivGiants'), numeric: true }, { label: t('dem.col.delivOthers'), numeric: true }],
      rows: months.map((m) => [fmt.month(m.month), fmt.num(m.total), fmt.num(m.usGiants), fmt.pct(m.usGiantsPct), fmt.num(m.others), fmt.pct(m.deliveredPctUsGiants), fmt.pct(m.deliveredPctOthers)]),
    });
    main.append(section(t('dem.perMonth'), h('div', { class: 'chart-over-table' }, h('figure', { class: 'chart-figure' }, chartBox, h('figcaption', {}, t('dem.figcaption'))), tbl)));
    ctx.onCleanup(
      stackedBars(chartBox, {
        x: months.map((_, i) => i),
        time: false,
        xTitle: t('dem.col.month'),
        xLabel: (i) => (months[i] ? fmt.monthShort(months[i].month) : ''),
        layers: [
          { label: t('dem.giants'), color: COLORS.giants, values: months.map((m) => m.usGiantsPct) },
          { label: t('dem.others'), color: COLORS.others, values: months.map((m) => Math.max(0, 100 - m.usGiantsPct)) },
        ],
        formatValue: (v) => fmt.pct(v),
        yRange: [0, 100],
      }),
    );
  },
};
