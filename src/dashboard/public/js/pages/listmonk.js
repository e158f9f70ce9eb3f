// Bulk mail redirected to Listmonk: who sent it, when, the draft job and its state (with the fix and
// a retry button when it failed); then, per tenant, the same checks as `relais listmonk check`.
import { api, seg } from '../api.js';
import { badge, clear, h, pageTitle, safeHref, section, table } from '../dom.js';

const STATUS_KIND = { 'draft-created': 'pass', pending: 'warn', failed: 'fail' };

export const listmonkPage = {
  id: 'listmonk',
  title: 'page.listmonk',
  async render(ctx) {
    const { main, t, fmt, tenant, admin, alive, lang } = ctx;
    main.append(pageTitle(t('page.listmonk')), h('p', { class: 'intro' }, t('listmonk.intro')));
    const [data, tenants] = await Promise.all([api('/listmonk/redirects', { query: { tenant } }), api('/tenants')]);
    if (!alive()) return;
    const items = [...data.items].sort((a, b) => (a.at < b.at ? 1 : -1));
    const rows = items.map((r) => {
      const href = r.listmonkUrl ? safeHref(r.listmonkUrl) : null;
      const draft = href
        ? h('a', { href, target: '_blank', rel: 'noopener noreferrer' }, r.campaignId ? t('listmonk.openDraftN', { id: r.campaignId }) : t('listmonk.openDraft'), h('span', { class: 'sr-only' }, ` ${t('newWindow')}`))
        : r.campaignId
          ? `#${r.campaignId}`
          : '–';
      const fix = r.fix?.[lang] ?? r.fix?.fr;
      const retry = r.status === 'failed' ? h('button', { type: 'button', class: 'btn btn-small btn-ghost', dataset: { job: r.jobId }, onclick: (e) => retryJob(e.currentTarget, r.jobId, ctx) }, t('listmonk.retry')) : null;
      return [
        fmt.dateTime(r.at),
        admin ? r.tenant : null,
        r.sender,
        r.subject ?? '–',
        fmt.num(r.recipients),
        [badge(STATUS_KIND[r.status] ?? 'muted', t(`listmonk.status.${r.status}`, {}, r.status)), r.error ? h('div', { class: 'small' }, r.error) : null, fix && r.status === 'failed' ? h('div', { class: 'small fix' }, fix) : null, retry],
        draft,
        h('code', { class: 'small' }, r.jobId ?? '–'),
      ].filter((c, i) => !(i === 1 && !admin));
    });
    const columns = [{ label: t('listmonk.col.at') }, admin ? { label: t('listmonk.col.tenant') } : null, { label: t('listmonk.col.sender') }, { label: t('listmonk.col.subject') }, { label: t('listmonk.col.recipients'), numeric: true }, { label: t('listmonk.col.status') }, { label: t('listmonk.col.draft') }, { label: t('listmonk.col.job') }].filter(Boolean);
    main.append(section(t('listmonk.title', { n: fmt.num(items.length) }), table({ id: 'redirect-table', caption: t('listmonk.caption'), columns, rows, emptyText: t('listmonk.none') })));

    const withListmonk = tenants.items.filter((x) => x.listmonk?.url && (!tenant || x.id === tenant));
    const panels = h('div', { id: 'listmonk-checks' });
    main.append(section(t('listmonk.checkTitle'), h('p', { class: 'intro' }, t('listmonk.checkIntro')), withListmonk.length ? panels : h('p', {}, t('listmonk.noInstance'))));
    for (const x of withListmonk) {
      const body = h('div', { 'aria-live': 'polite' }, t('listmonk.checking'));
      const headingId = `lm-${x.id.replace(/[^a-zA-Z0-9-]/g, '-')}`;
      const run = () => runCheck(x.id, body, ctx);
      panels.append(h('section', { class: 'panel domain', 'aria-labelledby': headingId, dataset: { tenant: x.id } }, h('div', { class: 'domain-head' }, h('h2', { id: headingId }, x.name || x.id, h('small', {}, ` · ${x.listmonk.url}`)), h('button', { type: 'button', class: 'btn btn-small btn-ghost', 'aria-describedby': headingId, onclick: run }, t('domains.recheck'))), body));
      await run();
      if (!alive()) return;
    }
  },
};

async function runCheck(tenantId, body, { t, lang, alive, errorText }) {
  clear(body).append(t('listmonk.checking'));
  let r;
  try {
    r = await api(`/tenants/${seg(tenantId)}/listmonk/check`);
  } catch (err) {
    if (alive()) clear(body).append(h('p', { class: 'error-box' }, errorText(err)));
    return;
  }
  if (!alive()) return;
  const lines = r.lines.map((l) => {
    const fix = l.fix?.[lang] ?? l.fix?.fr;
    return h(
      'li',
      { class: `finding finding-${l.status}`, dataset: { check: l.check } },
      h('div', { class: 'finding-head' }, h('strong', {}, l.check), ' ', badge(l.status, l.status === 'pass' ? 'PASS' : 'FAIL')),
      h('p', { class: 'finding-detail' }, l.detail),
      l.status === 'fail' && fix ? h('div', { class: 'fix' }, h('p', { class: 'fix-label' }, t('domains.fix')), h('p', {}, fix)) : null,
    );
  });
  clear(body).append(r.version ? h('p', { class: 'small' }, `Listmonk ${r.version}`) : '', h('ul', { class: 'findings' }, lines));
}

async function retryJob(button, jobId, { t, errorText }) {
  button.disabled = true;
  try {
    await api(`/listmonk/jobs/${seg(jobId)}/retry`, { method: 'POST' });
    button.textContent = t('listmonk.retried');
  } catch (err) {
    button.disabled = false;
    button.textContent = errorText(err);
  }
}
