// Overview: today's figures, the queue by state, active alerts.
import { api } from '../api.js';
import { badge, h, pageTitle, safeHref, section, table } from '../dom.js';

function card(label, value, href) {
  const v = h('span', { class: 'card-value' }, value);
  return h('div', { class: 'card' }, h('dt', {}, href ? h('a', { href }, label) : label), h('dd', {}, v));
}

export const overviewPage = {
  id: 'overview',
  title: 'page.overview',
  async render({ main, t, fmt, tenant, lang }) {
    main.append(pageTitle(t('page.overview')));
    const [o, bl] = await Promise.all([api('/stats/overview', { query: { tenant } }), api('/dnsbl').catch(() => null)]);
    const d = o.today;
    main.append(
      section(
        t('overview.today'),
        h(
          'dl',
          { class: 'cards', id: 'today-cards' },
          card(t('count.accepted'), fmt.num(d.accepted)),
          card(t('count.delivered'), fmt.num(d.delivered)),
          card(t('count.deferred'), fmt.num(d.deferred)),
          card(t('count.bounced'), fmt.num(d.bounced)),
          card(t('count.rejected'), fmt.num(d.rejected)),
          card(t('count.redirected'), fmt.num(d.redirected), '#/listmonk'),
        ),
      ),
      section(
        t('overview.queue'),
        h(
          'dl',
          { class: 'cards', id: 'queue-cards' },
          card(t('state.active'), fmt.num(o.queue.active), '#/queue?state=active'),
          card(t('state.deferred'), fmt.num(o.queue.deferred), '#/queue?state=deferred'),
          card(t('state.hold'), fmt.num(o.queue.hold), '#/queue?state=hold'),
        ),
      ),
      section(
        t('overview.alerts'),
        o.alerts.length
          ? h(
              'ul',
              { class: 'alerts', id: 'alerts' },
              o.alerts.map((a) =>
                h(
                  'li',
                  { class: `alert alert-${a.severity}` },
                  badge(a.severity === 'critical' ? 'fail' : 'warn', t(`severity.${a.severity}`)),
                  ' ',
                  h('span', {}, a.message?.[lang] ?? a.message?.fr ?? a.id),
                  ' ',
                  h('small', {}, t('alerts.since', { when: fmt.dateTime(a.since) })),
                ),
              ),
            )
          : h('p', { id: 'alerts' }, t('alerts.none')),
      ),
      ...(bl ? [dnsblSection(bl, { t, fmt, tenant })] : []),
    );
  },
};

const DNSBL_KIND = { listed: 'fail', refused: 'warn', error: 'warn', clear: 'pass' };

/** Current block-list state: what is listed (or could not be asked), with its delisting page. */
function dnsblSection(bl, { t, fmt, tenant }) {
  const items = bl.items.filter((e) => !tenant || e.kind === 'ip' || e.tenant === tenant);
  const notable = items.filter((e) => e.listed || e.status === 'refused' || e.status === 'error');
  if (!items.length) return section(t('overview.dnsbl'), h('p', { id: 'dnsbl' }, t('dnsbl.never')));
  if (!notable.length) return section(t('overview.dnsbl'), h('p', { id: 'dnsbl' }, t('dnsbl.clean', { n: fmt.num(items.length) })));
  const rows = notable.map((e) => {
    const href = e.listed && e.delist ? safeHref(e.delist) : null;
    return [
      h('code', {}, e.name),
      e.zone,
      badge(DNSBL_KIND[e.status] ?? 'muted', t(`dnsbl.status.${e.status}`, {}, e.status)),
      e.listed ? fmt.dateTime(e.since) : '–',
      href ? h('a', { href, target: '_blank', rel: 'noopener noreferrer' }, e.delist, h('span', { class: 'sr-only' }, ` ${t('newWindow')}`)) : '–',
    ];
  });
  return section(
    t('overview.dnsbl'),
    table({ id: 'dnsbl', caption: t('dnsbl.caption'), columns: [{ label: t('dnsbl.col.name'), rowHeader: true }, { label: t('dnsbl.col.zone') }, { label: t('dnsbl.col.status') }, { label: t('dnsbl.col.since') }, { label: t('dnsbl.col.delist') }], rows }),
  );
}
