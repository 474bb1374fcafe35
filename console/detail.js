// console/detail.js — one plugin: what it is and does now, its permissions, the admin's actions, its settings,
// charts of its calls, its log lines (live) and its own panels.

import { h, clear, setText } from './dom.js';
import { stateBadge, publisher } from './list.js';
import { consentBox } from './consent.js';
import { mountSettings } from './settings.js';
import { mountPanels } from './panels.js';
import { lineChart } from './chart.js';
import { number } from './i18n.js';

const LOG_KEEP = 1000;
const STATS_EVERY_MS = 5000;

// matches tells whether permission granted (which may end in *) covers wanted, as the broker's permission_match.
function matches(granted, wanted) {
  return granted.endsWith('*') ? wanted.startsWith(granted.slice(0, -1)) : granted === wanted;
}

function section(title, ...body) {
  return h('section', { class: 'card' }, h('h3', { text: title }), body);
}

// site returns a link to url when it is an http(s) address (a manifest's "site"), else url as text.
function site(url) {
  if (typeof url !== 'string' || !/^https?:\/\//i.test(url)) return url;
  return h('a', { href: url, rel: 'noopener noreferrer external', target: '_blank', text: url });
}

// ms writes a time in µs: "850 µs" under a millisecond, else "12.5 ms".
const ms = (v) => {
  if (typeof v !== 'number') return '—';
  return v < 1000 ? `${number(v, { maximumFractionDigits: 0 })} µs` : `${number(v / 1000, { maximumFractionDigits: 2 })} ms`;
};
const kib = (v) => (typeof v === 'number' ? `${number(v / 1024, { maximumFractionDigits: 1 })} MiB` : '—');

export function mountDetail(ctx, view, id) {
  const t = ctx.t;
  const state = h('span', { 'data-testid': 'detail-state' });
  const title = h('h2', {}, h('span', { class: 'detail-name' }), ' ', state);
  const brief = h('p', { class: 'lead' });
  const description = h('p', { class: 'description' });
  const facts = h('dl', { class: 'facts' });
  const factCells = {};
  const perms = h('div');
  const actions = h('div', { class: 'actions', role: 'group', 'aria-label': t('actions_title') });
  const settingsBox = h('div');
  const charts = h('div', { class: 'charts' });
  const logs = h('ol', { class: 'logs', 'data-testid': 'logs', role: 'log', 'aria-live': 'off', tabindex: '0', 'aria-label': t('logs_title') });
  const panelsBox = h('div', { class: 'panels' });
  let info = ctx.infos.get(id) || null;
  let gone = false;
  let stopPanels = () => {};

  view.append(
    h('p', { class: 'back' }, h('a', { href: '#/', text: `← ${t('nav_plugins')}` })),
    title,
    brief,
    description,
    h('div', { class: 'detail-grid' }, section(t('facts_title'), facts), h('div', {}, section(t('actions_title'), actions), section(t('permissions_title'), perms))),
    section(t('settings_title'), settingsBox),
    section(t('stats_title'), charts),
    section(t('logs_title'), logs),
    section(t('panels_title'), panelsBox),
  );

  const FACTS = [
    ['version', (p) => p.version],
    ['language', (p) => p.language],
    ['publisher', () => publisher(info)],
    ['license', () => info && info.license],
    ['site', () => info && site(info.site)],
    ['restarts', (p) => p.restarts, 'detail-restarts'],
    ['errors', (p) => p.errors, 'detail-errors'],
    ['calls', (p) => p.calls],
    ['latency', (p) => `p50 ${ms(p.p50_us)} · p99 ${ms(p.p99_us)}`],
    ['cpu', (p) => (typeof p.cpu_ms === 'number' ? `${number(p.cpu_ms)} ms` : '—')],
    ['memory', (p) => kib(p.pss_kb)],
    ['pid', (p) => p.pid || '—'],
    ['order', (p) => (p.order_by ? `${p.order} (${p.order_by})` : p.order)],
    ['dependencies', () => info && Object.entries(info.dependencies || {}).map(([k, v]) => `${k} ${v}`).join(', ')],
    ['used_by', () => info && info.used_by],
    ['reason', (p) => ctx.lastFailure(p), 'detail-reason'],
  ];
  for (const [key, , testid] of FACTS) {
    factCells[key] = h('dd', { 'data-testid': testid });
    facts.append(h('div', {}, h('dt', { text: t(`fact_${key}`) }), factCells[key]));
  }

  // showPlugin shows p (status's entry for this plugin, or info).
  function showPlugin(p) {
    setText(title.firstChild, p.name || id);
    stateBadge(state, p.state);
    setText(brief, (info && info.brief) || id);
    setText(description, info && info.description !== info.brief ? info.description : '');
    for (const [key, get] of FACTS) {
      const v = get(p);
      if (v instanceof Node) {
        if (!v.isEqualNode(factCells[key].firstChild)) factCells[key].replaceChildren(v);
      } else setText(factCells[key], v === null || v === undefined || v === '' ? '—' : v);
    }
    showActions(p.state);
  }

  function showPermissions() {
    clear(perms);
    if (!info) return;
    const granted = info.granted || [];
    const asked = info.requested || [];
    if (!asked.length) return perms.append(h('p', { class: 'muted', text: t('permissions_none') }));
    perms.append(
      h(
        'ul',
        { class: 'perm-list', 'data-testid': 'permissions' },
        asked.map((perm) => {
          const yes = granted.some((g) => matches(g, perm));
          return h(
            'li',
            { class: yes ? 'perm perm-granted' : 'perm perm-denied' },
            h('code', { text: perm }),
            ' ',
            h('span', { class: 'perm-mark', text: info.granted ? (yes ? t('perm_granted') : t('perm_not_granted')) : t('perm_not_installed') }),
          );
        }),
      ),
    );
  }

  // run runs action name on this plugin (after confirm, when asked), showing the broker's answer.
  async function run(name, button, extra = {}, confirmText = null) {
    if (confirmText && !(await ctx.confirm(confirmText))) return;
    for (const b of actions.querySelectorAll('button')) b.disabled = true;
    button.setAttribute('aria-busy', 'true');
    try {
      await ctx.api.command(name, { id, ...extra });
      ctx.notify(t(`done_${name}`, { id }));
    } catch (e) {
      ctx.showError(e);
    } finally {
      button.removeAttribute('aria-busy');
      if (!gone) {
        await ctx.refresh();
        await loadInfo();
        shownFor = null;
        showActions((ctx.plugin(id) || info || {}).state);
      }
    }
  }

  const ACTIONS = [
    ['enable', (s) => s !== 'available' && s !== 'loaded'],
    ['disable', (s) => s !== 'available' && s !== 'disabled'],
    ['reload', (s) => s !== 'available' && s !== 'disabled'],
    ['rollback', (s) => s !== 'available', true],
    ['uninstall', (s) => s !== 'available', true],
  ];
  let shownFor = null;

  // showActions lays out the actions for state s: install (with consent) for a plugin not installed, else the rest.
  function showActions(s) {
    const installed = s !== 'available';
    if (shownFor !== null && (shownFor !== 'available') === installed) {
      for (const b of actions.querySelectorAll('button[data-action]')) {
        const rule = ACTIONS.find((a) => a[0] === b.dataset.action);
        if (rule && !b.hasAttribute('aria-busy')) b.disabled = !rule[1](s);
      }
      shownFor = s;
      return;
    }
    shownFor = s;
    clear(actions);
    if (!ctx.isAdmin) actions.append(h('p', { class: 'help', id: 'observer-note', text: t('observer_note') }));
    if (!installed) {
      const consent = consentBox(ctx, (info && info.requested) || [], t('consent_intro', { id }));
      const b = h('button', { type: 'button', class: 'primary', 'data-testid': 'action-install', 'data-action': 'install', text: t('action_install') });
      b.addEventListener('click', () => run('install', b, consent.grants()));
      actions.append(consent.el, b);
    } else {
      for (const [name, ok, confirm] of ACTIONS) {
        const b = h('button', {
          type: 'button',
          class: name === 'uninstall' ? 'danger' : '',
          'data-testid': `action-${name}`,
          'data-action': name,
          disabled: !ok(s),
          text: t(`action_${name}`),
        });
        b.addEventListener('click', () => run(name, b, {}, confirm ? t(`confirm_${name}`, { id }) : null));
        actions.append(b);
      }
    }
    for (const b of actions.querySelectorAll('button')) ctx.adminOnly(b);
  }

  async function loadInfo() {
    try {
      info = await ctx.api.command('info', { id, locale: ctx.locale });
    } catch (e) {
      if (!gone) ctx.showError(e);
      return;
    }
    if (gone) return;
    ctx.infos.set(id, info);
    shownFor = null;
    showPlugin(ctx.plugin(id) || info);
    showPermissions();
  }

  function addLog(line) {
    const atEnd = logs.scrollTop + logs.clientHeight >= logs.scrollHeight - 4;
    logs.append(h('li', { text: line }));
    while (logs.childElementCount > LOG_KEEP) logs.firstElementChild.remove();
    if (atEnd) logs.scrollTop = logs.scrollHeight;
  }

  async function loadLogs() {
    try {
      const answer = await ctx.api.command('logs', { id, lines: 200 });
      for (const line of answer.lines || []) addLog(line);
    } catch (e) {
      logs.append(h('li', { class: 'muted', text: e.message }));
    }
  }

  async function loadStats() {
    let s;
    try {
      s = await ctx.api.command('stats', { id, since: 600 });
    } catch (e) {
      clear(charts).append(h('p', { class: 'muted', text: e.message }));
      return;
    }
    if (gone) return;
    const slots = s.slots || [];
    const times = slots.map((x) => x.t);
    const col = (k, sampledOnly) => slots.map((x) => (sampledOnly && !x.sampled ? null : x[k]));
    const empty = t('stats_empty');
    clear(charts).append(
      lineChart({ title: t('chart_calls'), times, empty, testid: 'chart-calls', format: (v) => number(v),
        series: [{ label: t('series_calls'), cls: 's1', values: col('calls') }, { label: t('series_errors'), cls: 's2', values: col('errors') }] }),
      lineChart({ title: t('chart_latency'), times, empty, testid: 'chart-latency', format: ms,
        series: [{ label: 'p50', cls: 's1', values: col('p50_us') }, { label: 'p99', cls: 's3', values: col('p99_us') }] }),
      lineChart({ title: t('chart_cpu'), times, empty, testid: 'chart-cpu', format: (v) => `${number(v)} ms`,
        series: [{ label: t('series_cpu'), cls: 's1', values: col('cpu_ms', true) }] }),
      lineChart({ title: t('chart_memory'), times, empty, testid: 'chart-memory', format: kib,
        series: [{ label: 'PSS', cls: 's4', values: col('pss_kb', true) }] }),
    );
  }

  async function loadPanels() {
    let list = [];
    try {
      list = await ctx.api.command('panels', { id, locale: ctx.locale });
    } catch (e) {
      panelsBox.append(h('p', { class: 'muted', text: e.message }));
      return;
    }
    if (gone) return;
    const mine = (list || []).filter((p) => p.plugin === id);
    if (!mine.length) panelsBox.append(h('p', { class: 'muted', text: t('panels_none') }));
    else stopPanels = mountPanels(ctx, panelsBox, id, mine);
  }

  if (info) showPlugin(ctx.plugin(id) || info);
  loadInfo();
  const reloadSettings = mountSettings(ctx, settingsBox, id);
  loadLogs();
  loadStats();
  loadPanels();
  const statsTimer = setInterval(loadStats, STATS_EVERY_MS);

  return {
    update(status) {
      const p = (status.plugins || []).find((x) => x.id === id);
      if (p) showPlugin(p);
    },
    notice(n) {
      if (n.plugin === id) {
        loadInfo();
        if (n.what === 'plugin-state' && n.state === 'loaded') reloadSettings();
      }
    },
    log(ev) {
      if (ev.plugin === id) addLog(ev.line);
    },
    unmount() {
      gone = true;
      clearInterval(statsTimer);
      stopPanels();
    },
  };
}
