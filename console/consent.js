// console/consent.js — the permissions a plugin asks for, shown for consent before it is installed or updated:
// each one a checkbox, all ticked; the broker gets "grant": [those ticked], as `plugbay install --grant PERM` passes
// them — never "grant_all": what is granted is what was shown, so a package that asks for more than the page read
// from it gets none of the rest (plugbayd refuses a grant it does not ask for, and grants nothing unlisted).

import { h } from './dom.js';

// consentBox returns {el, grants()} for the permissions asked (strings); grants() is the args to add.
export function consentBox(ctx, asked, intro) {
  const boxes = asked.map((perm, i) => {
    const id = `consent-${i}`;
    const box = h('input', { type: 'checkbox', id, checked: true, value: perm, 'data-testid': `consent-${perm}` });
    return { perm, box, row: h('li', { class: 'field-check' }, box, h('label', { for: id }, h('code', { text: perm }))) };
  });
  const el = h(
    'fieldset',
    { class: 'consent', 'data-testid': 'install-consent' },
    h('legend', { text: intro }),
    asked.length
      ? [h('p', { class: 'help', text: ctx.t('consent_help') }), h('ul', { class: 'consent-list' }, boxes.map((b) => b.row))]
      : h('p', { class: 'muted', text: ctx.t('consent_nothing') }),
  );
  function grants() {
    const chosen = boxes.filter((b) => b.box.checked).map((b) => b.perm);
    return chosen.length ? { grant: chosen } : {};
  }
  return { el, grants };
}
