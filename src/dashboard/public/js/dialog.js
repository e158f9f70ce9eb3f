// Confirmation in a modal <dialog>: focus is trapped by the browser while open, Escape cancels,
// and focus goes back to the element that opened it.
import { h } from './dom.js';

/** Resolves false when cancelled; true, or {checked} when a checkbox option is given. */
export function confirmDialog({ title, text, confirm, t, checkbox, danger = false }) {
  return new Promise((resolve) => {
    const opener = document.activeElement;
    const titleId = `d-${Math.random().toString(36).slice(2, 8)}`;
    const box = checkbox ? h('input', { type: 'checkbox', id: `${titleId}-cb` }) : null;
    const ok = h('button', { type: 'submit', value: 'ok', class: danger ? 'btn btn-danger' : 'btn' }, confirm);
    const dlg = h(
      'dialog',
      { class: 'dialog', 'aria-labelledby': titleId },
      h(
        'form',
        { method: 'dialog' },
        h('h2', { id: titleId }, title),
        h('p', {}, text),
        box ? h('p', {}, box, ' ', h('label', { for: `${titleId}-cb` }, checkbox)) : null,
        h('div', { class: 'dialog-actions' }, h('button', { type: 'submit', value: 'cancel', class: 'btn btn-ghost' }, t('cancel')), ok),
      ),
    );
    dlg.addEventListener('close', () => {
      const confirmed = dlg.returnValue === 'ok';
      dlg.remove();
      if (opener instanceof HTMLElement && opener.isConnected) opener.focus();
      resolve(!confirmed ? false : box ? { checked: box.checked } : true);
    });
    document.body.append(dlg);
    dlg.showModal();
    ok.focus();
  });
}
