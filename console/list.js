// console/list.js — every plugin with its state, version, language, publisher, restarts, errors and the last
// failure's reason; rows updated in place as status answers come.

import { h, setText } from './dom.js';

// stateBadge sets el to show state s (a class per state for its colour).
export function stateBadge(el, s) {
  setText(el, s);
  el.className = `state state-${s}`;
}

// publisher is who publishes a plugin, as its info says.
export function publisher(info) {
  return (info && (info.publisher || info.author)) || '—';
}

export function mountList(ctx, view) {
  const tbody = h('tbody');
  const empty = h('p', { class: 'muted', hidden: true, text: ctx.t('plugins_none') });
  const cols = ['col_plugin', 'col_state', 'col_version', 'col_language', 'col_publisher', 'col_restarts', 'col_errors', 'col_reason'];
  const filter = h('input', { type: 'search', id: 'plugin-filter', 'data-testid': 'plugin-filter', placeholder: ctx.t('filter_placeholder'), autocomplete: 'off' });
  filter.addEventListener('input', () => last && update(last));
  view.append(
    h('div', { class: 'title-row' }, h('h2', { text: ctx.t('plugins_title') }), h('div', { class: 'filter' }, h('label', { for: 'plugin-filter', class: 'visually-hidden', text: ctx.t('filter_label') }), filter)),
    h(
      'div',
      { class: 'table-wrap' },
      h(
        'table',
        { class: 'plugins', 'data-testid': 'plugin-table' },
        h('caption', { class: 'visually-hidden', text: ctx.t('plugins_title') }),
        h('thead', {}, h('tr', {}, cols.map((c) => h('th', { scope: 'col', text: ctx.t(c) })))),
        tbody,
      ),
    ),
    empty,
  );
  const rows = new Map();

  function row(id) {
    const cells = {
      name: h('a', { href: `#/plugin/${encodeURIComponent(id)}`, 'data-testid': `plugin-link-${id}` }),
      id: h('span', { class: 'plugin-id', text: id }),
      state: h('span', { 'data-testid': `plugin-state-${id}` }),
      version: h('td', { 'data-testid': `plugin-version-${id}` }),
      language: h('td'),
      publisher: h('td'),
      restarts: h('td', { class: 'num', 'data-testid': `plugin-restarts-${id}` }),
      errors: h('td', { class: 'num', 'data-testid': `plugin-errors-${id}` }),
      reason: h('td', { class: 'reason', 'data-testid': `plugin-reason-${id}` }),
    };
    const tr = h(
      'tr',
      { 'data-testid': `plugin-row-${id}` },
      h('th', { scope: 'row' }, cells.name, cells.id),
      h('td', {}, cells.state),
      cells.version,
      cells.language,
      cells.publisher,
      cells.restarts,
      cells.errors,
      cells.reason,
    );
    return { tr, cells };
  }

  // update shows the plugins of status (and what ctx.infos knows of them).
  let last = null;
  function update(status) {
    last = status;
    const words = filter.value.trim().toLowerCase().split(/\s+/).filter(Boolean);
    const all = (status && status.plugins) || [];
    const plugins = all.filter((p) => {
      const text = [p.id, p.name, p.state, p.language, publisher(ctx.infos.get(p.id))].join(' ').toLowerCase();
      return words.every((w) => text.includes(w));
    });
    const seen = new Set();
    plugins.forEach((p, i) => {
      seen.add(p.id);
      let r = rows.get(p.id);
      if (!r) rows.set(p.id, (r = row(p.id)));
      if (tbody.children[i] !== r.tr) tbody.insertBefore(r.tr, tbody.children[i] || null);
      const info = ctx.infos.get(p.id);
      setText(r.cells.name, p.name || p.id);
      stateBadge(r.cells.state, p.state);
      setText(r.cells.version, p.version || '—');
      setText(r.cells.language, p.language || '—');
      setText(r.cells.publisher, publisher(info));
      setText(r.cells.restarts, p.restarts ?? 0);
      setText(r.cells.errors, p.errors ?? 0);
      setText(r.cells.reason, ctx.lastFailure(p));
    });
    for (const [id, r] of rows)
      if (!seen.has(id)) {
        r.tr.remove();
        rows.delete(id);
      }
    empty.textContent = ctx.t(all.length ? 'plugins_none_match' : 'plugins_none');
    empty.hidden = plugins.length > 0;
  }
  return { update };
}
