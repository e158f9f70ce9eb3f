// Domains: DKIM / SPF / DMARC / MX / MTA-STS / TLS-RPT health of each sending domain, with the
// record to publish when something is wrong.
import { api, seg } from '../api.js';
import { badge, clear, h, pageTitle } from '../dom.js';

const KIND = { pass: 'pass', warn: 'warn', fail: 'fail' };
const CONCURRENCY = 3;

function overall(findings) {
  if (findings.some((f) => f.status === 'fail')) return 'fail';
  if (findings.some((f) => f.status === 'warn')) return 'warn';
  return 'pass';
}

export const domainsPage = {
  id: 'domains',
  title: 'page.domains',
  async render(ctx) {
    const { main, t, tenant, admin } = ctx;
    main.append(pageTitle(t('page.domains')), h('p', { class: 'intro' }, t('domains.intro')));
    const data = await api('/domains', { query: { tenant } });
    if (!ctx.alive()) return;
    if (!data.items.length) return void main.append(h('p', {}, t('domains.none')));

    const list = h('div', { class: 'domains', id: 'domain-list' });
    const checks = data.items.map((d) => {
      const body = h('div', { class: 'domain-body', 'aria-live': 'polite' }, t('domains.checking'));
      const summary = h('span', { class: 'domain-summary' });
      const headingId = `dom-${seg(d.domain).replace(/[^a-zA-Z0-9-]/g, '-')}`;
      const run = () => check(d.domain, body, summary, ctx);
      const again = h('button', { type: 'button', class: 'btn btn-small btn-ghost', 'aria-describedby': headingId, onclick: run }, t('domains.recheck'));
      list.append(h('section', { class: 'panel domain', 'aria-labelledby': headingId, dataset: { domain: d.domain } }, h('div', { class: 'domain-head' }, h('h2', { id: headingId }, d.domain, admin && d.tenant ? h('small', {}, ` · ${d.tenant}`) : null), summary, again), body));
      return run;
    });
    main.append(list);
    // A few checks at a time: each one is several DNS lookups on the server.
    let next = 0;
    const worker = async () => {
      while (next < checks.length && ctx.alive()) await checks[next++]();
    };
    await Promise.all(Array.from({ length: Math.min(CONCURRENCY, checks.length) }, worker));
  },
};

async function check(domain, body, summary, { t, lang, alive, errorText }) {
  clear(body).append(t('domains.checking'));
  clear(summary);
  let r;
  try {
    r = await api(`/domains/${seg(domain)}/check`);
  } catch (err) {
    if (alive()) clear(body).append(h('p', { class: 'error-box' }, errorText(err)));
    return;
  }
  if (!alive()) return;
  const o = overall(r.findings);
  summary.append(badge(KIND[o], t(`domains.overall.${o}`)));
  const rows = r.findings.map((f) => {
    const fix = f.fix?.[lang] ?? f.fix?.fr;
    return h(
      'li',
      { class: `finding finding-${f.status}`, dataset: { check: f.check } },
      h('div', { class: 'finding-head' }, h('strong', {}, t(`check.${f.check}`, {}, f.check.toUpperCase())), ' ', badge(KIND[f.status] ?? 'muted', t(`status.${f.status}`))),
      h('p', { class: 'finding-detail' }, f.detail),
      f.status !== 'pass' && fix ? h('div', { class: 'fix' }, h('p', { class: 'fix-label' }, t('domains.fix')), h('pre', {}, h('code', {}, fix)), copyButton(fix, t)) : null,
    );
  });
  clear(body).append(h('ul', { class: 'findings' }, rows));
}

function copyButton(text, t) {
  const b = h('button', { type: 'button', class: 'btn btn-small btn-ghost' }, t('copy'));
  b.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(text);
      b.textContent = t('copied');
    } catch {
      b.textContent = t('copyFailed');
    }
  });
  return b;
}
