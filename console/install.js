// console/install.js — install or update from a package file, as `plugbay install FILE` / `plugbay update FILE` do:
// read what the package is and asks, ask consent, send it in package.put parts, then install.package or
// update.package. And from the indexes plugbayd follows (index.list, install.index): what they offer, searched,
// each installed with the permissions ticked.

import { h, clear } from './dom.js';
import { consentBox } from './consent.js';
import * as pkg from './package.js';
import { number } from './i18n.js';

export function mountInstall(ctx, view) {
  const t = ctx.t;
  const mode = { value: 'install' };
  const file = h('input', { type: 'file', id: 'install-file', accept: '.bayplug,application/gzip', 'data-testid': 'install-file' });
  const modes = ['install', 'update'].map((m) =>
    h(
      'label',
      { class: 'field-check' },
      h('input', { type: 'radio', name: 'install-mode', value: m, checked: m === 'install', 'data-testid': `install-mode-${m}` }),
      t(`install_mode_${m}`),
    ),
  );
  const about = h('div', { class: 'package-about', 'aria-live': 'polite' });
  const progress = h('progress', { max: '1', value: '0', hidden: true, 'data-testid': 'install-progress' });
  const result = h('p', { role: 'status', 'data-testid': 'install-result' });
  const indexes = h('div');
  const search = h('input', { type: 'search', id: 'index-search', 'data-testid': 'index-search' });
  const offers = h('div', { 'data-testid': 'index-offers' });
  const picked = h('div', { class: 'package-about', 'aria-live': 'polite' });
  const indexResult = h('p', { role: 'status', 'data-testid': 'index-result' });
  let readSeen = false; /* an index was read: the offers were asked for */
  let chosen = null; /* {bytes, sha, facts, consent} */

  view.append(
    h('h2', { text: t('install_title') }),
    h(
      'section',
      { class: 'card' },
      h('h3', { text: t('install_from_file') }),
      h('fieldset', { class: 'modes' }, h('legend', { text: t('install_mode') }), modes),
      h('div', { class: 'field' }, h('label', { for: 'install-file', text: t('install_file_label') }), file),
      about,
      progress,
      result,
    ),
    h(
      'section',
      { class: 'card' },
      h('h3', { text: t('index_title') }),
      indexes,
      h('div', { class: 'field' }, h('label', { for: 'index-search', text: t('index_search') }), search),
      offers,
      picked,
      indexResult,
    ),
  );

  let searching = null;
  search.addEventListener('input', () => {
    clearTimeout(searching);
    searching = setTimeout(listOffers, 250);
  });

  for (const m of modes) m.querySelector('input').addEventListener('change', (e) => {
    mode.value = e.target.value;
    if (chosen) showPackage();
  });

  file.addEventListener('change', async () => {
    clear(about);
    result.textContent = '';
    chosen = null;
    const f = file.files && file.files[0];
    if (!f) return;
    try {
      const bytes = await f.arrayBuffer();
      const [sha, facts] = await Promise.all([pkg.sha256(bytes), pkg.read(bytes)]);
      chosen = { bytes, sha, facts, name: f.name };
      showPackage();
    } catch (e) {
      ctx.showError({ code: 'EINVAL', message: `${f.name}: ${e.message}` });
    }
  });

  // showPackage shows what the chosen package is, its permissions for consent and the confirm button.
  function showPackage() {
    const { facts, sha, bytes, name } = chosen;
    const update = mode.value === 'update';
    chosen.consent = consentBox(ctx, facts.asked, t(update ? 'consent_intro_update' : 'consent_intro', { id: facts.id }));
    const confirm = h('button', { type: 'button', class: 'primary', 'data-testid': 'install-confirm', text: t(update ? 'update_confirm' : 'install_confirm') });
    ctx.adminOnly(confirm);
    confirm.addEventListener('click', () => go(confirm));
    clear(about).append(
      h(
        'dl',
        { class: 'facts' },
        [
          [t('fact_id'), facts.id],
          [t('fact_version'), facts.version],
          [t('fact_file'), `${name} (${number(bytes.byteLength)} B)`],
          [t('fact_signed'), facts.signed ? t('signed_yes') : t('signed_no')],
          ['SHA-256', sha],
        ].map(([k, v]) => h('div', {}, h('dt', { text: k }), h('dd', { class: k === 'SHA-256' ? 'mono' : '', text: v }))),
      ),
      chosen.consent.el,
      confirm,
    );
  }

  // go sends the chosen package and has plugbayd install or update to it.
  async function go(button) {
    const { bytes, sha, facts, consent } = chosen;
    const name = mode.value === 'update' ? 'update.package' : 'install.package';
    button.disabled = true;
    progress.hidden = false;
    progress.value = 0;
    result.textContent = t('install_sending');
    try {
      await pkg.send(ctx.api.upload, bytes, sha, (sent, total) => {
        progress.value = sent / total;
      });
      result.textContent = t('install_checking');
      const done = await ctx.api.command(name, { sha256: sha, ...consent.grants() }); /* {"id", "state"} */
      result.textContent = t(mode.value === 'update' ? 'update_done' : 'install_done', { id: (done && done.id) || facts.id });
      ctx.notify(result.textContent);
      await ctx.refresh();
    } catch (e) {
      result.textContent = '';
      ctx.showError(e);
    } finally {
      button.disabled = false;
      progress.hidden = true;
    }
  }

  // listOffers shows what the followed indexes offer (index.list), narrowed by the search.
  async function listOffers() {
    let list;
    try {
      list = await ctx.api.command('index.list', search.value ? { query: search.value } : {});
    } catch (e) {
      clear(offers);
      if (e.code !== 'BAY_ENOENT') ctx.showError(e); /* no index followed: the list above says so */
      return;
    }
    clear(offers);
    if (!list.length) return offers.append(h('p', { class: 'muted', text: t('index_nothing') }));
    offers.append(
      h(
        'table',
        { class: 'offers' },
        h('thead', {}, h('tr', {}, [t('fact_id'), t('fact_version'), t('index_brief'), t('index_publisher'), ''].map((c) => h('th', { text: c })))),
        h('tbody', {}, list.map(offerRow)),
      ),
    );
  }

  // offerRow is one plugin an index offers: installed already (and outdated), or a button to install it.
  function offerRow(o) {
    const state = o.installed
      ? h('span', { class: 'muted', 'data-testid': `index-installed-${o.id}`, text: t(o.outdated ? 'index_outdated' : 'index_installed', { version: o.installed }) })
      : h('button', { type: 'button', 'data-testid': `index-install-${o.id}`, text: t('index_install') });
    if (!o.installed) state.addEventListener('click', () => pick(o));
    return h(
      'tr',
      { 'data-testid': `index-offer-${o.id}` },
      h('td', {}, h('code', { text: o.id })),
      h('td', { text: o.version }),
      h('td', { text: o.brief || o.name || '' }),
      h('td', { class: o.verified ? 'good' : '', text: o.publisher }),
      h('td', {}, state),
    );
  }

  // pick shows what offer o asks for consent, and the button that has plugbayd install it.
  function pick(o) {
    indexResult.textContent = '';
    const consent = consentBox(ctx, o.permissions || [], t('consent_intro', { id: o.id }));
    const confirm = h('button', { type: 'button', class: 'primary', 'data-testid': 'index-confirm', text: t('install_confirm') });
    ctx.adminOnly(confirm);
    confirm.addEventListener('click', async () => {
      confirm.disabled = true;
      indexResult.textContent = t('index_downloading', { id: o.id });
      try {
        const done = await ctx.api.command('install.index', { id: o.id, version: o.version, ...consent.grants() });
        indexResult.textContent = t('install_done', { id: (done && done.id) || o.id });
        ctx.notify(indexResult.textContent);
        clear(picked);
        await ctx.refresh();
        await listOffers();
      } catch (e) {
        indexResult.textContent = '';
        ctx.showError(e);
      } finally {
        confirm.disabled = false;
      }
    });
    const deps = Object.entries(o.dependencies || {}).map(([id, range]) => `${id} ${range}`).join(', ');
    clear(picked).append(
      h(
        'dl',
        { class: 'facts' },
        [
          [t('fact_id'), o.id],
          [t('fact_version'), o.version],
          [t('index_publisher'), o.publisher],
          [t('index_from'), o.index],
          ...(deps ? [[t('index_needs'), deps]] : []),
        ].map(([k, v]) => h('div', {}, h('dt', { text: k }), h('dd', { text: v }))),
      ),
      consent.el,
      confirm,
    );
  }

  function update(status) {
    const list = (status && status.broker && status.broker.indexes) || [];
    clear(indexes);
    if (!list.length) return indexes.append(h('p', { class: 'muted', text: t('index_none') }));
    indexes.append(
      h(
        'ul',
        { class: 'index-list' },
        list.map((ix) =>
          h(
            'li',
            {},
            h('code', { text: ix.url }),
            ' — ',
            ix.error ? h('span', { class: 'bad', text: ix.error }) : t(ix.read_ms === null || ix.read_ms === undefined ? 'index_unread' : 'index_read'),
          ),
        ),
      ),
    );
    const read = list.some((ix) => ix.read_ms !== null && ix.read_ms !== undefined);
    if (read && !readSeen) listOffers();
    readSeen = read;
  }
  return { update };
}
