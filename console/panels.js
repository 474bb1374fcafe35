// console/panels.js — plugins' own panels: each in a sandboxed iframe, and the postMessage relay (docs/console.md):
// a panel's call goes to the broker as panel.call for the plugin the console made its iframe for, never one a
// message names; messages from any other window are ignored.

import { h } from './dom.js';

// The panel windows the console made, each with the plugin it belongs to. One listener serves them all.
const owners = new Map();
let listening = false;

// reply posts msg to the panel window w. A sandboxed panel's origin is opaque ("null"): "*" is the only target.
function reply(w, msg) {
  w.postMessage(msg, '*');
}

function failed(w, id, e) {
  reply(w, { bay: 'error', id, error: { code: e.code || 'EIO', message: e.message || String(e) } });
}

// relay answers one message of a panel of plugin: a call (panel.call) or a messages request (messages).
async function relay(ctx, w, plugin, msg) {
  const id = msg.id;
  try {
    if (msg.bay === 'call') {
      if (typeof msg.name !== 'string' || (msg.args !== undefined && !Array.isArray(msg.args)))
        return failed(w, id, { code: 'EINVAL', message: 'a panel call is {"bay": "call", "id": N, "name": "EXT.POINT", "args": [...]}' });
      const result = await ctx.api.command('panel.call', { id: plugin, name: msg.name, args: msg.args ?? [] });
      reply(w, { bay: 'result', id, result });
    } else if (msg.bay === 'messages') {
      const result = await ctx.api.command('messages', { id: plugin, locale: ctx.locale });
      reply(w, { bay: 'result', id, result: (result && result.messages) || {} });
    }
  } catch (e) {
    failed(w, id, e);
  }
}

function listen(ctx) {
  if (listening) return;
  listening = true;
  window.addEventListener('message', (event) => {
    const plugin = event.source ? owners.get(event.source) : undefined;
    const msg = event.data;
    if (plugin === undefined || !msg || typeof msg !== 'object') return;
    relay(ctx, event.source, plugin, msg);
  });
}

// samePlace returns the path of a panel's URL ("/p/CAP/FILE"), which the console's own origin serves: a URL the
// broker wrote with another host name for the same console (127.0.0.1 for localhost) would miss the Host check and
// the panel's frame-ancestors.
function samePlace(url) {
  const u = new URL(url, location.href);
  return u.pathname + u.search;
}

// mountPanels shows the panels of plugin (the panels command's answer) in box; returns a function removing them.
export function mountPanels(ctx, box, plugin, panels) {
  listen(ctx);
  const frames = [];
  for (const p of panels) {
    if (p.plugin !== plugin) continue; /* the command was asked for this plugin's only */
    const title = p.title || p.panel;
    if (!p.url) {
      box.append(h('p', { class: 'muted', text: ctx.t('panel_no_url', { title }) }));
      continue;
    }
    const frame = h('iframe', {
      sandbox: 'allow-scripts allow-forms',
      src: samePlace(p.url),
      title,
      class: 'panel-frame',
      referrerpolicy: 'no-referrer',
      'data-testid': `panel-${plugin}-${p.panel}`,
    });
    box.append(h('section', { class: 'panel', 'aria-label': title }, h('h3', { text: title }), frame));
    owners.set(frame.contentWindow, plugin);
    frames.push(frame);
  }
  return () => {
    for (const f of frames) {
      owners.delete(f.contentWindow);
      f.remove();
    }
  };
}
