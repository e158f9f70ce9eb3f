// Senders and quotas: usage bars per mailbox / domain / tenant; an admin adjusts a limit in place
// (PUT /quotas/{address}) or drops the overrides (DELETE /quotas/{address}).
import { api, seg } from '../api.js';
import { badge, clear, h, pageTitle, section } from '../dom.js';
import { confirmDialog } from '../dialog.js';

const view = { search: '' };

function usage(limit, t, fmt) {
  const ratio = limit.limit > 0 ? limit.used / limit.limit : 0;
  return h(
    'div',
    { class: 'usage' },
    h('meter', { min: 0, max: limit.limit || 1, low: Math.round((limit.limit || 1) * 0.7), high: Math.round((limit.limit || 1) * 0.9), optimum: 0, value: Math.min(limit.used, limit.limit || limit.used), 'aria-label': t('quotas.usageOf', { name: t(`limit.${limit.name}`, {}, limit.name) }) }),
    h('span', { class: 'usage-text' }, t('quotas.used', { used: fmt.num(limit.used), limit: fmt.num(limit.limit), pct: fmt.pct(ratio * 100) })),
  );
}

export const quotasPage = {
  id: 'quotas',
  title: 'page.quotas',
  async render(ctx) {
    const { main, t, fmt, tenant, admin, status } = ctx;
    main.append(pageTitle(t('page.quotas')), h('p', { class: 'intro' }, t('quotas.intro')));
    const search = h('input', { id: 'quota-search', type: 'search', value: view.search, autocomplete: 'off' });
    main.append(h('form', { class: 'filters', role: 'search', onsubmit: (e) => e.preventDefault() }, h('label', { for: 'quota-search' }, t('quotas.search')), search));
    const data = await api('/quotas', { query: { tenant } });
    if (!ctx.alive()) return;

    const tbl = h('table', { id: 'quota-table' }, h('caption', {}, t('quotas.caption')));
    tbl.append(h('thead', {}, h('tr', {}, [t('quotas.col.address'), t('quotas.col.limit'), t('quotas.col.usage'), t('quotas.col.reset'), admin ? t('quotas.col.actions') : null].filter(Boolean).map((c) => h('th', { scope: 'col' }, c)))));
    const bodies = new Map();

    const renderItem = (item, focusLimit) => {
      const body = bodies.get(item.address) ?? h('tbody', { dataset: { address: item.address } });
      bodies.set(item.address, clear(body));
      body.hidden = !!view.search && !item.address.toLowerCase().includes(view.search.toLowerCase());
      item.limits.forEach((l, i) => {
        const limitCell = h('td', { class: 'limit-cell' }, h('span', { class: 'limit-name' }, t(`limit.${l.name}`, {}, l.name)), ' ', h('strong', { class: 'limit-value' }, fmt.num(l.limit)), l.override ? [' ', badge('info', t('quotas.override'))] : null, l.hard === false ? [' ', badge('muted', t('quotas.soft'))] : null);
        const addressCell = h('th', { scope: 'row' }, i === 0 ? [h('span', { class: 'address' }, item.address), h('br'), h('small', {}, t(`level.${item.level}`), item.tenant && item.level !== 'tenant' ? ` · ${item.tenant}` : '')] : h('span', { class: 'sr-only' }, item.address));
        const row = h('tr', {}, addressCell, limitCell, h('td', {}, usage(l, t, fmt)), h('td', {}, l.resetAt ? fmt.dateTime(l.resetAt) : '–'));
        if (admin) {
          const adjust = h('button', { type: 'button', class: 'btn btn-small', dataset: { limit: l.name }, 'aria-label': t('quotas.adjustLabel', { name: t(`limit.${l.name}`, {}, l.name), address: item.address }), onclick: () => edit(item, l, limitCell, adjust) }, t('quotas.adjust'));
          const actions = h('td', { class: 'actions' }, adjust);
          if (i === 0 && item.limits.some((x) => x.override)) actions.append(h('button', { type: 'button', class: 'btn btn-small btn-ghost', onclick: () => resetOverrides(item) }, t('quotas.reset')));
          row.append(actions);
          if (focusLimit === l.name) queueMicrotask(() => adjust.focus());
        }
        body.append(row);
      });
      return body;
    };

    const edit = (item, l, cell, button) => {
      const inputId = `q-${Math.random().toString(36).slice(2, 8)}`;
      const input = h('input', { id: inputId, type: 'number', min: '0', step: '1', required: true, value: String(l.limit), inputmode: 'numeric', class: 'limit-input' });
      const cancel = () => renderItem(item, l.name);
      const form = h(
        'form',
        {
          class: 'inline-edit',
          onsubmit: async (e) => {
            e.preventDefault();
            const value = Number(input.value);
            if (!Number.isInteger(value) || value < 0) {
              input.setAttribute('aria-invalid', 'true');
              status(t('quotas.invalid'), 'error');
              input.focus();
              return;
            }
            try {
              const updated = await api(`/quotas/${seg(item.address)}`, { method: 'PUT', body: { limits: { [l.name]: value } } });
              Object.assign(item, updated);
              renderItem(item, l.name);
              status(t('quotas.saved', { address: item.address, name: t(`limit.${l.name}`, {}, l.name), value: fmt.num(value) }));
            } catch (err) {
              status(ctx.errorText(err), 'error');
              input.focus();
            }
          },
          onkeydown: (e) => {
            if (e.key === 'Escape') cancel();
          },
        },
        h('label', { for: inputId }, t('quotas.newLimit', { name: t(`limit.${l.name}`, {}, l.name) })),
        input,
        h('button', { type: 'submit', class: 'btn btn-small' }, t('save')),
        h('button', { type: 'button', class: 'btn btn-small btn-ghost', onclick: cancel }, t('cancel')),
      );
      clear(cell).append(form);
      button.disabled = true;
      input.focus();
      input.select();
    };

    const resetOverrides = async (item) => {
      if (!(await confirmDialog({ title: t('quotas.resetTitle'), text: t('quotas.resetText', { address: item.address }), confirm: t('quotas.reset'), t }))) return;
      try {
        await api(`/quotas/${seg(item.address)}`, { method: 'DELETE' });
        Object.assign(item, await api(`/quotas/${seg(item.address)}`));
        renderItem(item);
        status(t('quotas.resetDone', { address: item.address }));
      } catch (err) {
        status(ctx.errorText(err), 'error');
      }
    };

    for (const item of data.items) tbl.append(renderItem(item));
    search.addEventListener('input', () => {
      view.search = search.value.trim();
      for (const item of data.items) bodies.get(item.address).hidden = !!view.search && !item.address.toLowerCase().includes(view.search.toLowerCase());
    });
    main.append(section(t('quotas.title'), data.items.length ? h('div', { class: 'table-wrap', role: 'region', tabindex: '0', 'aria-label': t('quotas.caption') }, tbl) : h('p', {}, t('quotas.none'))));
  },
};
