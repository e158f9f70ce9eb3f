// Dashboard shell: sign-in, navigation (hash routes), language switch, tenant filter, status line.
import { api, ApiError, session, setUnauthorizedHandler } from './api.js';
import { clear, h } from './dom.js';
import { fmt, getLang, localMessage, setLang, t } from './i18n.js';
import { overviewPage } from './pages/overview.js';
import { providersPage } from './pages/providers.js';
import { quotasPage } from './pages/quotas.js';
import { listmonkPage } from './pages/listmonk.js';
import { queuePage } from './pages/queue.js';
import { domainsPage } from './pages/domains.js';
import { demailnagementPage } from './pages/demailnagement.js';
import { dmarcPage } from './pages/dmarc.js';

const PAGES = [overviewPage, providersPage, quotasPage, listmonkPage, queuePage, domainsPage, dmarcPage, demailnagementPage];
const $ = (id) => document.getElementById(id);

const state = { me: null, tenant: '', tenants: [], renderSeq: 0, cleanups: [] };

/** Announces a short message to screen readers and shows it; errors stay until the next one. */
function status(message, kind = 'info') {
  const el = $('status');
  el.className = `status status-${kind}`;
  el.textContent = message;
  el.setAttribute('role', kind === 'error' ? 'alert' : 'status');
}

/** An API error as one sentence in the current language. */
function errorText(err) {
  if (err instanceof ApiError) {
    if (err.status === 403) return `${t('error.forbidden')} ${localMessage(err.message)}`;
    if (err.status === 404) return localMessage(err.message);
    if (err.status === 429) return localMessage(err.message);
  }
  return localMessage(String(err?.message ?? err));
}

function parseRoute() {
  const m = /^#\/([a-z-]+)(?:\?(.*))?$/.exec(location.hash);
  const page = PAGES.find((p) => p.id === m?.[1]) ?? PAGES[0];
  return { page, params: new URLSearchParams(m?.[2] ?? '') };
}

function applyStaticTexts() {
  const lang = getLang();
  document.documentElement.lang = lang;
  document.title = t('app.title');
  for (const el of document.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  for (const el of document.querySelectorAll('[data-i18n-aria]')) el.setAttribute('aria-label', t(el.dataset.i18nAria));
  const sw = $('lang-switch');
  sw.textContent = lang === 'fr' ? 'English' : 'Français';
  sw.lang = lang === 'fr' ? 'en' : 'fr';
  sw.setAttribute('aria-label', lang === 'fr' ? 'Switch to English' : 'Passer en français');
  if (state.me) renderChrome();
}

function renderChrome() {
  const { me } = state;
  $('nav').hidden = !me;
  $('sign-out').hidden = !me;
  $('who').textContent = !me ? '' : me.admin ? t('who.admin', { name: me.name }) : t('who.tenant', { name: me.name, tenant: me.tenant ?? '?' });
  const list = clear($('nav-list'));
  const current = parseRoute().page.id;
  for (const p of PAGES) list.append(h('li', {}, h('a', { href: `#/${p.id}`, 'aria-current': p.id === current ? 'page' : null }, t(p.title))));
  const filter = $('tenant-filter');
  filter.hidden = !(me?.admin && state.tenants.length);
  const sel = clear($('tenant-select'));
  sel.append(h('option', { value: '' }, t('tenant.all')));
  for (const tn of state.tenants) sel.append(h('option', { value: tn.id, selected: tn.id === state.tenant }, tn.name ? `${tn.name} (${tn.id})` : tn.id));
}

async function renderPage({ focus, fromRoute = false }) {
  for (const fn of state.cleanups.splice(0)) fn();
  const seq = ++state.renderSeq;
  const { page, params } = parseRoute();
  renderChrome();
  const container = h('div', { class: 'page', id: `page-${page.id}` });
  clear($('main')).append(container);
  const ctx = {
    main: container,
    me: state.me,
    admin: !!state.me.admin,
    tenant: state.me.admin ? state.tenant : state.me.tenant,
    params,
    fromRoute,
    lang: getLang(),
    t,
    fmt,
    status,
    alive: () => seq === state.renderSeq,
    onCleanup: (fn) => state.cleanups.push(fn),
    rerender: () => renderPage({ focus: false }),
    errorText,
  };
  status(t('loading'));
  try {
    await page.render(ctx);
    if (ctx.alive() && $('status').textContent === t('loading')) status('');
  } catch (err) {
    if (!ctx.alive()) return;
    if (err instanceof ApiError && err.status === 401) return; // handled by the unauthorized handler
    const msg = err instanceof ApiError ? (err.status === 404 ? t('error.notAvailable') : localMessage(err.message)) : String(err?.message ?? err);
    container.append(h('p', { class: 'error-box' }, msg));
    status(msg, 'error');
  }
  if (focus && ctx.alive()) container.querySelector('h1')?.focus();
}

function showSignIn(message) {
  state.me = null;
  for (const fn of state.cleanups.splice(0)) fn();
  renderChrome();
  const input = h('input', { id: 'token', name: 'token', type: 'password', autocomplete: 'off', spellcheck: 'false', required: true, 'aria-describedby': 'token-help' });
  const error = h('p', { id: 'token-error', class: 'field-error', role: 'alert' });
  const form = h(
    'form',
    { class: 'signin panel', novalidate: true, onsubmit: (e) => signIn(e, input, error) },
    h('h1', { id: 'page-title', tabindex: '-1' }, t('signin.title')),
    h('p', { id: 'token-help' }, t('signin.help')),
    h('label', { for: 'token' }, t('signin.token')),
    input,
    error,
    h('button', { type: 'submit', class: 'btn' }, t('signin.submit')),
  );
  clear($('main')).append(form);
  if (message) {
    error.textContent = message;
    status(message, 'error');
  } else status('');
  input.focus();
}

async function signIn(e, input, error) {
  e.preventDefault();
  const token = input.value.trim();
  if (!token) {
    error.textContent = t('signin.empty');
    input.setAttribute('aria-invalid', 'true');
    input.focus();
    return;
  }
  status(t('signin.checking'));
  try {
    const me = await api('/whoami', { token });
    session.set(token);
    input.value = '';
    await enter(me, true);
  } catch (err) {
    const msg = err instanceof ApiError && err.status === 401 ? t('signin.refused') : localMessage(err.message);
    error.textContent = msg;
    input.setAttribute('aria-invalid', 'true');
    status(msg, 'error');
    input.focus();
  }
}

async function enter(me, focus) {
  state.me = me;
  state.tenants = [];
  if (me.admin) {
    try {
      const r = await api('/tenants');
      state.tenants = (Array.isArray(r) ? r : (r?.items ?? [])).map((x) => ({ id: x.id, name: x.name }));
    } catch {
      state.tenants = []; // the filter is a convenience: without the tenants route it stays hidden
    }
  }
  if (!/^#\//.test(location.hash)) history.replaceState(null, '', '#/overview');
  await renderPage({ focus, fromRoute: true });
}

function signOut() {
  session.clear();
  state.tenant = '';
  history.replaceState(null, '', location.pathname);
  showSignIn();
  status(t('signout.done'));
}

async function start() {
  applyStaticTexts();
  setUnauthorizedHandler(() => {
    if (!state.me) return;
    session.clear();
    showSignIn(t('signin.expired'));
  });
  $('lang-switch').addEventListener('click', () => {
    setLang(getLang() === 'fr' ? 'en' : 'fr');
    applyStaticTexts();
    if (state.me) renderPage({ focus: false });
    else showSignIn();
    status(t('lang.changed'));
  });
  $('sign-out').addEventListener('click', signOut);
  $('tenant-select').addEventListener('change', (e) => {
    state.tenant = e.target.value;
    renderPage({ focus: false });
  });
  $('skip-link').addEventListener('click', (e) => {
    e.preventDefault(); // "#main" is not a route
    $('main').focus();
  });
  window.addEventListener('hashchange', () => {
    if (state.me && /^#\//.test(location.hash)) renderPage({ focus: true, fromRoute: true });
  });
  const token = session.token;
  if (!token) return showSignIn();
  try {
    await enter(await api('/whoami', { token }), false);
  } catch (err) {
    session.clear();
    showSignIn(err instanceof ApiError && err.status === 401 ? t('signin.expired') : localMessage(err.message));
  }
}

start();
