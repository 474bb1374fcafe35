// console/registry.js — the registry: each extension point, its kind, who declared it, its providers in load order
// (with the contexts each one serves), calls and calls no one served.

import { h, clear } from './dom.js';
import { number } from './i18n.js';

// provider reads one entry of an extension point's providers: a name, or {plugin|name|owner, contexts}.
function provider(p) {
  if (typeof p === 'string') return { who: p, contexts: null };
  return { who: p.plugin ?? p.name ?? p.owner ?? '?', contexts: Array.isArray(p.contexts) ? p.contexts : null };
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
            (e.providers || []).length
              ? h(
                  'ol',
                  { class: 'providers' },
                  e.providers.map(provider).map((p) =>
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
