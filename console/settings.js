// console/settings.js — a plugin's settings as a form built from its declarations (the config command), saved as
// config {"id", "set": {KEY: value}}; the broker's refusal shows beside the form.

import { h, clear } from './dom.js';

// input builds the control for declaration s (config's answer: key, type, enum, minimum, maximum, pattern, secret,
// value, set) with id.
function input(ctx, s, id) {
  const common = { id, name: s.key, 'data-testid': `setting-${s.key}`, 'aria-describedby': `${id}-help` };
  if (s.type === 'boolean') return h('input', { ...common, type: 'checkbox', checked: s.value === true });
  if (Array.isArray(s.enum))
    return h(
      'select',
      common,
      s.enum.map((v) => h('option', { value: JSON.stringify(v), selected: v === s.value, text: String(v) })),
    );
  if (s.secret)
    return h('input', {
      ...common,
      type: 'password',
      autocomplete: 'new-password',
      placeholder: s.set ? ctx.t('secret_set') : ctx.t('secret_unset'),
    });
  if (s.type === 'integer' || s.type === 'number')
    return h('input', {
      ...common,
      type: 'number',
      step: s.type === 'integer' ? '1' : 'any',
      min: s.minimum,
      max: s.maximum,
      value: s.value ?? '',
    });
  return h('input', { ...common, type: 'text', value: s.value ?? '', spellcheck: 'false' });
}

// read returns [kind, value] for control el of declaration s: ["set", typed value], ["set_text", text the broker
// reads as the type (so that it says what is wrong)], or null when unchanged (a secret left empty stays).
function read(s, el) {
  if (s.type === 'boolean') return el.checked === (s.value === true) ? null : ['set', el.checked];
  if (Array.isArray(s.enum)) {
    const v = JSON.parse(el.value);
    return v === s.value ? null : ['set', v];
  }
  if (s.secret) return el.value === '' ? null : [s.type === 'string' ? 'set' : 'set_text', el.value];
  if (s.type === 'integer' || s.type === 'number') {
    const raw = el.value.trim(); /* "" too when what was typed is no number: the broker says what it takes */
    const n = Number(raw);
    if (raw !== '' && Number.isFinite(n)) return n === s.value ? null : ['set', n];
    return ['set_text', raw];
  }
  return el.value === s.value ? null : ['set', el.value];
}

// mountSettings fills box with plugin id's settings form; returns a refresh function.
export function mountSettings(ctx, box, id) {
  const error = h('p', { class: 'form-error', role: 'alert', 'data-testid': 'settings-error', hidden: true });
  const done = h('p', { class: 'form-done', role: 'status', 'data-testid': 'settings-done' });
  async function load() {
    let answer;
    try {
      answer = await ctx.api.command('config', { id, locale: ctx.locale });
    } catch (e) {
      clear(box).append(h('p', { class: 'muted', text: e.message }));
      return;
    }
    build(answer.settings || []);
  }
  function build(settings) {
    clear(box);
    if (!settings.length) {
      box.append(h('p', { class: 'muted', text: ctx.t('settings_none') }));
      return;
    }
    const controls = new Map();
    const rows = settings.map((s) => {
      const fid = `setting-field-${s.key}`;
      const el = input(ctx, s, fid);
      controls.set(s.key, el);
      const help = [s.description, s.set ? null : ctx.t('setting_default')].filter(Boolean).join(' · ');
      const label = h('label', { for: fid, text: s.label || s.key });
      const reset = s.set
        ? h('button', { type: 'button', class: 'ghost small', 'data-testid': `setting-reset-${s.key}`, text: ctx.t('setting_reset'), 'aria-label': ctx.t('setting_reset_label', { key: s.label || s.key }) })
        : null;
      if (reset) {
        ctx.adminOnly(reset);
        reset.addEventListener('click', () => send({ id, reset: [s.key] }, reset));
      }
      return h(
        'div',
        { class: `field field-${s.type === 'boolean' ? 'check' : 'text'}` },
        s.type === 'boolean' ? [el, label, reset] : [label, h('div', { class: 'field-row' }, el, reset)],
        h('p', { id: `${fid}-help`, class: 'help', text: help }),
      );
    });
    const save = h('button', { type: 'submit', class: 'primary', 'data-testid': 'settings-save', text: ctx.t('settings_save') });
    ctx.adminOnly(save);
    const form = h('form', { class: 'settings-form', novalidate: true }, rows, h('div', { class: 'form-actions' }, save, done), error);
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const args = { id };
      for (const s of settings) {
        const change = read(s, controls.get(s.key));
        if (change) (args[change[0]] ??= {})[s.key] = change[1];
      }
      if (!args.set && !args.set_text) {
        error.hidden = true;
        done.textContent = ctx.t('settings_unchanged');
        return;
      }
      send(args, save);
    });
    box.append(form);
  }
  // send sends config args (a change) from button, then shows the settings as the broker answers them, or why not.
  async function send(args, button) {
    error.hidden = true;
    done.textContent = '';
    button.disabled = true;
    try {
      const answer = await ctx.api.command('config', { ...args, locale: ctx.locale });
      build(answer.settings || []);
      done.textContent = ctx.t('settings_saved');
    } catch (e) {
      error.textContent = e.message;
      error.hidden = false;
    } finally {
      button.disabled = false;
    }
  }
  load();
  return load;
}
