// console/registry.js — the registry: each extension point, its kind, who declared it, its providers in load order
// (with the contexts each one serves), calls and calls no one served.

import { h, clear } from './dom.js';
import { number } from './i18n.js';

// providers returns extension point e's providers in load order, each {who, contexts (null: every context)}: from
// "provider_contexts" ([{plugin, contexts}]) when status has it, else from "providers" (names).
function providers(e) {
  if (Array.isArray(e.provider_contexts))
    return e.provider_contexts.map((p) => ({ who: p.plugin, contexts: Array.isArray(p.contexts) ? p.contexts : null }));
  return (e.providers || []).map((who) => ({ who, contexts: null }));
}

export function mountRegistry(ctx, view) {
  const t = ctx.t;
  const tbody = h('tbody');
  const empty = h('p', { class: 'muted', hidden: true, text: t('registry_none') });
  view.append(
    h('h2', { text: t('registry_title') }),
    h(
      'div',
      { class: 'table-wrap' },
      h(
        'table',
        { class: 'registry', 'data-testid': 'registry-table' },
        h('caption', { class: 'visually-hidden', text: t('registry_title') }),
        h('thead', {}, h('tr', {}, ['reg_name', 'reg_kind', 'reg_declared', 'reg_providers', 'reg_calls', 'reg_unserved'].map((c) => h('th', { scope: 'col', text: t(c) })))),
        tbody,
      ),
    ),
    empty,
  );
  let last = '';
  function update(status) {
    const eps = (status && status.extension_points) || [];
    const key = JSON.stringify(eps);
    if (key === last) return; /* unchanged: keep the rows (and whatever is selected in them) */
    last = key;
    clear(tbody);
    for (const e of eps)
      tbody.append(
        h(
          'tr',
          { 'data-testid': `ext-row-${e.name}` },
          h('th', { scope: 'row' }, h('code', { text: e.name })),
          h('td', {}, h('span', { class: `kind kind-${e.kind}`, text: e.kind })),
          h('td', { text: e.declared_by || '—' }),
          h(
            'td',
            {},
            providers(e).length
              ? h(
                  'ol',
                  { class: 'providers' },
                  providers(e).map((p) =>
                    h('li', {}, p.who, p.contexts ? h('span', { class: 'contexts', text: ` (${t('reg_contexts')}: ${p.contexts.join(', ')})` }) : null),
                  ),
                )
              : h('span', { class: 'muted', text: t('reg_no_provider') }),
          ),
          h('td', { class: 'num', text: number(e.calls) }),
          h('td', { class: 'num', text: number(e.unserved) }),
        ),
      );
    empty.hidden = eps.length > 0;
  }
  return { update };
}
