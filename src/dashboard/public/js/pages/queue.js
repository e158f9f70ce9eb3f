// The queue: filter, page through, open a message's attempts; admins retry, hold, release, delete.
import { api, seg } from '../api.js';
import { badge, clear, h, pageTitle, section } from '../dom.js';
import { confirmDialog } from '../dialog.js';

const PAGE_SIZE = 50;
const filters = { state: '', sender: '', recipient: '', domain: '', offset: 0 };
const STATE_KIND = { active: 'pass', deferred: 'warn', hold: 'muted' };

function lastReply(item) {
  const r = item.recipients.find((x) => x.last)?.last;
  return r ? `${r.code}${r.enhanced ? ` ${r.enhanced}` : ''} ${r.text}` : '–';
}

export const queuePage = {
  id: 'queue',
  title: 'page.queue',
  async render(ctx) {
    const { main, t, fmt, tenant, admin, status, params } = ctx;
    if (ctx.fromRoute && params.has('state')) {
      // a link such as #/queue?state=deferred sets the filter; later re-renders keep the form's
      filters.state = params.get('state') ?? '';
      filters.offset = 0;
    }
    main.append(pageTitle(t('page.queue')));
    const field = (name, type = 'search') => h('input', { id: `f-${name}`, name, type, value: filters[name], autocomplete: 'off' });
    const stateSel = h('select', { id: 'f-state', name: 'state' }, ['', 'active', 'deferred', 'hold'].map((s) => h('option', { value: s, selected: s === filters.state }, s ? t(`state.${s}`) : t('queue.anyState'))));
    const inputs = { sender: field('sender'), recipient: field('recipient'), domain: field('domain') };
    const form = h(
      'form',
      {
        class: 'filters',
        role: 'search',
        onsubmit: (e) => {
          e.preventDefault();
          Object.assign(filters, { state: stateSel.value, sender: inputs.sender.value.trim(), recipient: inputs.recipient.value.trim(), domain: inputs.domain.value.trim(), offset: 0 });
          ctx.rerender();
        },
      },
      h('label', { for: 'f-state' }, t('queue.state')),
      stateSel,
      h('label', { for: 'f-sender' }, t('queue.sender')),
      inputs.sender,
      h('label', { for: 'f-recipient' }, t('queue.recipient')),
      inputs.recipient,
      h('label', { for: 'f-domain' }, t('queue.domain')),
      inputs.domain,
      h('button', { type: 'submit', class: 'btn' }, t('queue.filter')),
    );
    main.append(form);

    const q = await api('/queue', { query: { state: filters.state, sender: filters.sender, recipient: filters.recipient, domain: filters.domain, tenant, limit: PAGE_SIZE, offset: filters.offset } });
    if (!ctx.alive()) return;
    main.append(h('p', { id: 'queue-counts', class: 'counts' }, t('queue.counts', { total: fmt.num(q.total), active: fmt.num(q.counts.active), deferred: fmt.num(q.counts.deferred), hold: fmt.num(q.counts.hold) })));

    const act = async (item, action) => {
      try {
        if (action === 'delete') {
          const ans = await confirmDialog({ title: t('queue.deleteTitle'), text: t('queue.deleteText', { id: item.id, from: item.from || '<>' }), confirm: t('queue.delete'), checkbox: t('queue.deleteBounce'), danger: true, t });
          if (!ans) return;
          await api(`/queue/${seg(item.id)}`, { method: 'DELETE', query: { bounce: ans.checked } });
        } else {
          await api(`/queue/${seg(item.id)}/${action}`, { method: 'POST' });
        }
        await ctx.rerender();
        status(t(`queue.done.${action}`, { id: item.id }));
        document.getElementById('page-title')?.focus();
      } catch (err) {
        status(ctx.errorText(err), 'error');
      }
    };

    const tbl = h('table', { id: 'queue-table' }, h('caption', {}, t('queue.caption')));
    const cols = [t('queue.col.id'), t('queue.col.state'), t('queue.col.from'), t('queue.col.to'), t('queue.col.received'), t('queue.col.next'), t('queue.col.last'), admin ? t('queue.col.actions') : null].filter(Boolean);
    tbl.append(h('thead', {}, h('tr', {}, cols.map((c) => h('th', { scope: 'col' }, c)))));
    const body = h('tbody');
    for (const item of q.items) {
      const detailRow = h('tr', { class: 'details-row', hidden: true }, h('td', { colspan: cols.length }));
      const toggle = h('button', { type: 'button', class: 'linkish mono', 'aria-expanded': 'false', onclick: () => toggleDetails(item, toggle, detailRow, ctx) }, item.id);
      const rcpts = item.recipients.map((r) => r.address);
      const row = h(
        'tr',
        { dataset: { id: item.id } },
        h('th', { scope: 'row' }, toggle),
        h('td', {}, badge(STATE_KIND[item.state], t(`state.${item.state}`)), item.holdReason ? h('div', { class: 'small' }, item.holdReason) : null),
        h('td', { class: 'wrap' }, item.from || '<>', item.subject ? h('div', { class: 'small' }, item.subject) : null),
        h('td', { class: 'wrap' }, rcpts.slice(0, 2).join(', '), rcpts.length > 2 ? ` ${t('queue.more', { n: rcpts.length - 2 })}` : ''),
        h('td', {}, fmt.dateTime(item.receivedAt)),
        h('td', {}, item.state === 'hold' ? '–' : fmt.dateTime(item.nextAttemptAt)),
        h('td', { class: 'wrap small' }, lastReply(item)),
      );
      if (admin) {
        const label = (k) => t(k) + ' ' + item.id;
        row.append(
          h(
            'td',
            { class: 'actions' },
            item.state !== 'hold' ? h('button', { type: 'button', class: 'btn btn-small', dataset: { action: 'retry' }, 'aria-label': label('queue.retry'), onclick: () => act(item, 'retry') }, t('queue.retry')) : null,
            item.state === 'hold'
              ? h('button', { type: 'button', class: 'btn btn-small', dataset: { action: 'release' }, 'aria-label': label('queue.release'), onclick: () => act(item, 'release') }, t('queue.release'))
              : h('button', { type: 'button', class: 'btn btn-small btn-ghost', dataset: { action: 'hold' }, 'aria-label': label('queue.hold'), onclick: () => act(item, 'hold') }, t('queue.hold')),
            h('button', { type: 'button', class: 'btn btn-small btn-danger', dataset: { action: 'delete' }, 'aria-label': label('queue.delete'), onclick: () => act(item, 'delete') }, t('queue.delete')),
          ),
        );
      }
      body.append(row, detailRow);
    }
    if (!q.items.length) body.append(h('tr', {}, h('td', { colspan: cols.length, class: 'empty' }, t('queue.empty'))));
    tbl.append(body);

    const pager = h(
      'nav',
      { class: 'pager', 'aria-label': t('queue.pages') },
      h('button', { type: 'button', class: 'btn btn-ghost', disabled: filters.offset === 0, onclick: () => ((filters.offset = Math.max(0, filters.offset - PAGE_SIZE)), ctx.rerender()) }, t('queue.prev')),
      h('span', {}, t('queue.range', { from: fmt.num(q.total ? filters.offset + 1 : 0), to: fmt.num(Math.min(q.total, filters.offset + PAGE_SIZE)), total: fmt.num(q.total) })),
      h('button', { type: 'button', class: 'btn btn-ghost', disabled: filters.offset + PAGE_SIZE >= q.total, onclick: () => ((filters.offset += PAGE_SIZE), ctx.rerender()) }, t('queue.next')),
    );
    main.append(section(t('queue.messages'), h('div', { class: 'table-wrap', role: 'region', tabindex: '0', 'aria-label': t('queue.caption') }, tbl), pager));
  },
};

async function toggleDetails(item, toggle, row, ctx) {
  const { t, fmt } = ctx;
  const open = toggle.getAttribute('aria-expanded') === 'true';
  toggle.setAttribute('aria-expanded', String(!open));
  row.hidden = open;
  if (open) return;
  const cell = clear(row.firstChild);
  cell.append(t('loading'));
  try {
    const d = await api(`/queue/${seg(item.id)}`);
    clear(cell).append(
      h('p', {}, t('queue.detail', { client: d.client?.name ?? d.client?.address ?? '?', size: fmt.bytes(d.size), kind: d.kind ?? 'message' }), d.messageId ? [' ', h('code', {}, d.messageId)] : null),
      h('ul', { class: 'recipients' }, d.recipients.map((r) => h('li', {}, `${r.address} — ${t(`rstatus.${r.status}`, {}, r.status)} (${t('queue.attemptsN', { n: r.attempts })})`))),
      d.attempts?.length
        ? h('ol', { class: 'attempts' }, d.attempts.map((a) => h('li', {}, `${fmt.dateTime(a.at)} · ${a.domain}${a.mx ? ` (${a.mx})` : ''} · ${t(`outcome.${a.outcome}`, {}, a.outcome)} · `, h('code', {}, `${a.reply?.code ?? ''} ${a.reply?.enhanced ?? ''} ${a.reply?.text ?? ''}`.trim()))))
        : h('p', {}, t('queue.noAttempts')),
    );
  } catch (err) {
    clear(cell).append(ctx.errorText(err));
  }
}
