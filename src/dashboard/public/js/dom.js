// Tiny DOM helpers: build elements without innerHTML (no injection, CSP-friendly).

/**
 * h('button', {class: 'btn', onclick: fn, 'aria-label': '…'}, 'text', child…)
 * Attributes starting with "on" become listeners; `false`/null/undefined attributes are skipped;
 * `hidden: true` etc. become boolean attributes.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === false || v === null || v === undefined) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'value' && 'value' in el) el.value = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

/** A page heading that receives focus after navigation (screen readers announce the new page). */
export function pageTitle(text) {
  return h('h1', { id: 'page-title', tabindex: '-1' }, text);
}

/**
 * A table in a scrollable, focusable region (keyboard users can scroll wide tables on a phone).
 * columns: [{label, numeric?}], rows: arrays of cells (strings or nodes).
 */
export function table({ caption, columns, rows, id, emptyText }) {
  const thead = h('thead', {}, h('tr', {}, columns.map((c) => h('th', { scope: 'col', class: c.numeric ? 'num' : null }, c.label))));
  const tbody = h('tbody');
  for (const r of rows) tbody.append(h('tr', {}, r.map((cell, i) => (i === 0 && columns[0].rowHeader ? h('th', { scope: 'row' }, cell) : h('td', { class: columns[i]?.numeric ? 'num' : null }, cell)))));
  if (!rows.length && emptyText) tbody.append(h('tr', {}, h('td', { colspan: columns.length, class: 'empty' }, emptyText)));
  const t = h('table', { id }, caption ? h('caption', {}, caption) : null, thead, tbody);
  return h('div', { class: 'table-wrap', role: 'region', tabindex: '0', 'aria-label': caption ?? '' }, t);
}

/** A status badge: the word carries the meaning, the colour only repeats it. */
export function badge(kind, text) {
  return h('span', { class: `badge badge-${kind}` }, text);
}

export function section(title, ...children) {
  const id = `s-${Math.random().toString(36).slice(2, 8)}`;
  return h('section', { class: 'panel', 'aria-labelledby': id }, h('h2', { id }, title), ...children);
}

/** Only http(s) links are rendered (an API value must never become a javascript: URL). */
export function safeHref(url) {
  try {
    const u = new URL(url, location.origin);
    return u.protocol === 'https:' || u.protocol === 'http:' ? u.href : null;
  } catch {
    return null;
  }
}
