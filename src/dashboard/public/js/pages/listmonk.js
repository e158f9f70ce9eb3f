// Bulk mail redirected to Listmonk: who sent it, when, and the draft campaign it became.
import { api } from '../api.js';
import { badge, h, pageTitle, safeHref, section, table } from '../dom.js';

const STATUS_KIND = { 'draft-created': 'pass', pending: 'warn', failed: 'fail' };

export const listmonkPage = {
  id: 'listmonk',
  title: 'page.listmonk',
  async render({ main, t, fmt, tenant, admin, alive }) {
    main.append(pageTitle(t('page.listmonk')), h('p', { class: 'intro' }, t('listmonk.intro')));
    const data = await api('/listmonk/redirects', { query: { tenant } });
    if (!alive()) return;
    const items = [...data.items].sort((a, b) => (a.at < b.at ? 1 : -1));
    const rows = items.map((r) => {
      const href = r.listmonkUrl ? safeHref(r.listmonkUrl) : null;
      const draft = href
        ? h('a', { href, target: '_blank', rel: 'noopener noreferrer' }, r.campaignId ? t('listmonk.openDraftN', { id: r.campaignId }) : t('listmonk.openDraft'), h('span', { class: 'sr-only' }, ` ${t('newWindow')}`))
        : r.campaignId
          ? `#${r.campaignId}`
          : '–';
      return [
        fmt.dateTime(r.at),
        admin ? r.tenant : null,
        r.sender,
        fmt.num(r.recipients),
        [badge(STATUS_KIND[r.status] ?? 'muted', t(`listmonk.status.${r.status}`, {}, r.status)), r.error ? h('div', { class: 'small' }, r.error) : null],
        draft,
        r.messageId ? h('code', { class: 'small' }, r.messageId) : '–',
      ].filter((c, i) => !(i === 1 && !admin));
    });
    const columns = [{ label: t('listmonk.col.at') }, admin ? { label: t('listmonk.col.tenant') } : null, { label: t('listmonk.col.sender') }, { label: t('listmonk.col.recipients'), numeric: true }, { label: t('listmonk.col.status') }, { label: t('listmonk.col.draft') }, { label: t('listmonk.col.messageId') }].filter(Boolean);
    main.append(section(t('listmonk.title', { n: fmt.num(items.length) }), table({ id: 'redirect-table', caption: t('listmonk.caption'), columns, rows, emptyText: t('listmonk.none') })));
  },
};
