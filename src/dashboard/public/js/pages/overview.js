// Overview: today's figures, the queue by state, active alerts.
import { api } from '../api.js';
import { badge, h, pageTitle, section } from '../dom.js';

function card(label, value, href) {
  const v = h('span', { class: 'card-value' }, value);
  return h('div', { class: 'card' }, h('dt', {}, href ? h('a', { href }, label) : label), h('dd', {}, v));
}

export const overviewPage = {
  id: 'overview',
  title: 'page.overview',
  async render({ main, t, fmt, tenant, lang }) {
    main.append(pageTitle(t('page.overview')));
    const o = await api('/stats/overview', { query: { tenant } });
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
    );
  },
};
