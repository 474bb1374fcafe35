// console/i18n.js — the console's own strings: the locale chosen from navigator.languages (fallback en) and t().

const AVAILABLE = ['en', 'fr'];
let strings = {};
let fallback = {};

// The console's language ("fr"), and the locale passed to the broker's commands ("fr_FR").
export const chosen = choose(navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language || 'en']);

// choose returns the first of tags whose language the console has, else en.
function choose(tags) {
  for (const tag of tags) {
    const lang = String(tag).split('-')[0].toLowerCase();
    if (AVAILABLE.includes(lang)) return { lang, locale: String(tag).replace('-', '_') };
  }
  return { lang: 'en', locale: 'en' };
}

async function load(lang) {
  const r = await fetch(`/assets/i18n/${lang}.json`, { credentials: 'same-origin' });
  if (!r.ok) throw new Error(`/assets/i18n/${lang}.json: HTTP ${r.status}`);
  return r.json();
}

// loadStrings fetches the chosen language's strings, and English for what it lacks.
export async function loadStrings() {
  fallback = await load('en');
  strings = chosen.lang === 'en' ? fallback : await load(chosen.lang).catch(() => fallback);
  document.documentElement.lang = chosen.lang;
}

// t returns the string key with each {name} replaced by vars.name.
export function t(key, vars = {}) {
  const s = strings[key] ?? fallback[key] ?? key;
  return s.replace(/\{(\w+)\}/g, (m, name) => (name in vars ? String(vars[name]) : m));
}

// number formats n in the console's language.
export function number(n, opts) {
  if (typeof n !== 'number') return '—';
  try {
    return new Intl.NumberFormat(chosen.locale.replace('_', '-'), opts).format(n);
  } catch {
    return new Intl.NumberFormat(chosen.lang, opts).format(n); /* a locale tag Intl does not take */
  }
}
