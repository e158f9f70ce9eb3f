// Démailnagement: the share of mail sent to the US giants (Google, Microsoft, Yahoo, Apple,
// Amazon) month by month, so a collective can see its move away from them.
import { api } from '../api.js';
import { COLORS, stackedBars } from '../chart.js';
import { h, pageTitle, section, table } from '../dom.js';
import { hasMail, headline, shareBars } from '../dem-months.js';

export const demailnagementPage = {
  id: 'demailnagement',
  title: 'page.demailnagement',
  async render(ctx) {
    const { main, t, fmt, tenant } = ctx;
    main.append(pageTitle(t('page.demailnagement')), h('p', { class: 'intro' }, t('dem.intro')));
    const data = await api('/stats/demailnagement', { query: { tenant, months: 12 } });
    if (!ctx.alive()) return;
    const months = data.months;
    const top = headline(months);
    if (!top) return void main.append(h('p', {}, t('dem.none')));

    const { current, previous, delta } = top;
    main.append(
      h(
        'p',
        { class: 'headline', id: 'dem-headline' },
        t('dem.headline', { pct: fmt.pct(current.usGiantsPct), month: fmt.month(current.month) }),
        previous ? ` ${t(delta <= 0 ? 'dem.down' : 'dem.up', { points: fmt.num(Math.abs(Math.round(delta * 10) / 10)), month: fmt.month(previous.month) })}` : '',
      ),
    );
    const chartBox = h('div', { class: 'chart', id: 'dem-chart', role: 'img', 'aria-label': t('dem.chartLabel') });
    const tbl = table({
      id: 'dem-table',
      caption: t('dem.caption'),
      columns: [{ label: t('dem.col.month'), rowHeader: true }, { label: t('dem.col.total'), numeric: true }, { label: t('dem.col.giants'), numeric: true }, { label: t('dem.col.share'), numeric: true }, { label: t('dem.col.others'), numeric: true }, { label: t('dem.col.delivGiants'), numeric: true }, { label: t('dem.col.delivOthers'), numeric: true }],
      // A month without mail has no shares: its percentages are left empty.
      rows: months.map((m) => {
        const pct = (v) => (hasMail(m) ? fmt.pct(v) : '–');
        return [fmt.month(m.month), fmt.num(m.total), fmt.num(m.usGiants), pct(m.usGiantsPct), fmt.num(m.others), pct(m.deliveredPctUsGiants), pct(m.deliveredPctOthers)];
      }),
    });
    main.append(section(t('dem.perMonth'), h('div', { class: 'chart-over-table' }, h('figure', { class: 'chart-figure' }, chartBox, h('figcaption', {}, t('dem.figcaption'))), tbl)));
    const bars = shareBars(months);
    ctx.onCleanup(
      stackedBars(chartBox, {
        x: months.map((_, i) => i),
        time: false,
        xTitle: t('dem.col.month'),
        xLabel: (i) => (months[i] ? fmt.monthShort(months[i].month) : ''),
        layers: [
          { label: t('dem.giants'), color: COLORS.giants, values: bars.giants },
          { label: t('dem.others'), color: COLORS.others, values: bars.others },
        ],
        formatValue: (v) => fmt.pct(v),
        yRange: [0, 100],
      }),
    );
  },
};
