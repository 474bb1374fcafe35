// console/app.js — the console's start: the session, the header, the views by location (#/, #/plugin/ID,
// #/install, #/registry), status polled every 2 s and refreshed on the broker's notices, errors in the banner.

import * as api from './api.js';
import { clear, setText } from './dom.js';
import { t, loadStrings, chosen } from './i18n.js';
import { mountList } from './list.js';
import { mountDetail } from './detail.js';
import { mountInstall } from './install.js';
import { mountRegistry } from './registry.js';

const POLL_MS = 2000;
const $ = (id) => document.getElementById(id);

let status = null;
let statusAt = 0;
let current = null; /* the view shown: {update(status), notice?, log?, unmount?} */
let polling = null;

// showError shows e (an ApiError, or {code, message}) in the banner: the broker's own message.
function showError(e) {
  const banner = $('error-banner');
  const code = e && e.code ? `${e.code}: ` : '';
  setText($('error-text'), `${code}${(e && e.message) || String(e)}`);
  banner.hidden = false;
  if (e && e.status === 401) setText($('error-text'), `${code}${e.message} — ${t('login_again')}`);
}

// notify says in the status line that something was done.
function notify(text) {
  setText($('notice'), text);
}

// confirmAsk asks a yes/no question in the page's dialog; resolves to true for yes.
function confirmAsk(text) {
  const dialog = $('confirm');
  setText($('confirm-text'), text);
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => resolve(dialog.returnValue === 'yes'), { once: true });
    dialog.returnValue = '';
    dialog.showModal();
  });
}

// adminOnly marks button b, for an observer, as one plugbayd will refuse: dimmed and titled, yet it still sends, so
// that the broker's own refusal is what the observer reads.
function adminOnly(b) {
  if (ctx.isAdmin) return;
  b.classList.add('needs-admin');
  b.title = t('needs_admin');
}

// refresh asks for status and hands it to the header and the view. One request at a time.
let asking = null;
async function refresh() {
  if (asking) return asking;
  asking = (async () => {
    try {
      status = await api.command('status', { locale: chosen.locale });
      statusAt = Date.now();
      header();
      if (current) current.update(status);
      for (const p of status.plugins || []) {
        const info = ctx.infos.get(p.id);
        if (!info || info.version !== p.version || info.state !== p.state) fetchInfo(p.id);
      }
    } catch (e) {
      showError(e);
      if (e.status === 401) stopPolling();
    } finally {
      asking = null;
    }
  })();
  return asking;
}

// fetchInfo asks for a plugin's info (what status lacks: publisher, permissions) for the list.
const fetching = new Set();
async function fetchInfo(id) {
  if (fetching.has(id)) return;
  fetching.add(id);
  try {
    ctx.infos.set(id, await api.command('info', { id, locale: chosen.locale }));
    if (current && status) current.update(status);
  } catch {
    /* the list shows what status has; the detail view says why info failed */
  } finally {
    fetching.delete(id);
  }
}

function stopPolling() {
  clearInterval(polling);
  polling = null;
}

// What every view gets.
const ctx = {
  t,
  api,
  locale: chosen.locale,
  isAdmin: false,
  infos: new Map(),
  failures: new Map(), /* plugin id -> the reason of its last failure seen in a notice since the console opened */
  lastFailure: (p) => p.last_failure || p.reason || ctx.failures.get(p.id) || '',
  showError,
  notify,
  refresh,
  confirm: confirmAsk,
  adminOnly,
  plugin: (id) => (status && (status.plugins || []).find((p) => p.id === id)) || null,
};

function header() {
  if (!status || !status.broker) return;
  const b = status.broker;
  const up = (b.uptime_ms || 0) + (Date.now() - statusAt);
  setText($('broker-version'), b.version);
  setText($('broker-uptime'), duration(up));
}

// duration writes ms as "3 d 4 h", "2 h 5 min", "4 min 10 s" or "12 s".
function duration(ms) {
  const s = Math.floor(ms / 1000);
  const d = Math.floor(s / 86400), hh = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
  if (d) return `${d} d ${hh} h`;
  if (hh) return `${hh} h ${m} min`;
  if (m) return `${m} min ${s % 60} s`;
  return `${s} s`;
}

// route shows the view the location names.
function route() {
  if (current && current.unmount) current.unmount();
  $('error-banner').hidden = true; /* what went wrong there is not about the view shown next */
  setText($('notice'), '');
  const view = clear($('view'));
  const hash = location.hash.replace(/^#/, '') || '/';
  let nav = 'plugins';
  if (hash.startsWith('/plugin/')) {
    current = mountDetail(ctx, view, decodeURIComponent(hash.slice('/plugin/'.length)));
  } else if (hash === '/install') {
    current = mountInstall(ctx, view);
    nav = 'install';
  } else if (hash === '/registry') {
    current = mountRegistry(ctx, view);
    nav = 'registry';
  } else {
    current = mountList(ctx, view);
  }
  for (const a of document.querySelectorAll('[data-nav]')) {
    if (a.dataset.nav === nav) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  if (status) current.update(status);
  const heading = view.querySelector('h2');
  if (heading && document.activeElement !== document.body) {
    heading.tabIndex = -1;
    heading.focus();
  }
}

// translate fills every element with data-i18n with its string.
function translate() {
  for (const el of document.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  for (const el of document.querySelectorAll('[data-i18n-label]')) el.setAttribute('aria-label', t(el.dataset.i18nLabel));
  document.title = t('title');
}

let noticeTimer = null;
function live() {
  api.events({
    notice(n) {
      if (n.plugin) ctx.infos.delete(n.plugin);
      if (n.what === 'plugin-state' && n.state === 'failed' && n.message) ctx.failures.set(n.plugin, n.message);
      if (current && current.notice) current.notice(n);
      clearTimeout(noticeTimer);
      noticeTimer = setTimeout(refresh, 150);
    },
    log(ev) {
      if (current && current.log) current.log(ev);
    },
    state(s) {
      const el = $('live');
      setText(el, t(s === 'live' ? 'live_on' : 'live_off'));
      el.className = `live live-${s}`;
    },
  });
}

async function start() {
  await loadStrings();
  translate();
  document.querySelector('.skip').addEventListener('click', (e) => {
    e.preventDefault(); /* "#view" is no view: focus the content without routing */
    $('view').focus();
  });
  $('error-close').addEventListener('click', () => {
    $('error-banner').hidden = true;
  });
  let s;
  try {
    s = await api.session();
  } catch (e) {
    showError(e);
    return;
  }
  ctx.isAdmin = s.role === 'admin';
  setText($('who'), s.who);
  setText($('role'), t(`role_${s.role}`));
  $('role').className = `role role-${s.role}`;
  document.body.classList.toggle('observer', !ctx.isAdmin);
  window.addEventListener('hashchange', route);
  route();
  await refresh();
  live();
  polling = setInterval(refresh, POLL_MS);
  setInterval(header, 1000);
}

start();
