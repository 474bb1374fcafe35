// console/api.js — plugbayd's console API: the session, broker commands (JSON and binary), the event stream.

// An error the console API answered: code (EPERM, ...), the broker's message, the plugin it is about.
export class ApiError extends Error {
  constructor(status, code, message, plugin = null) {
    super(message);
    this.status = status;
    this.code = code;
    this.plugin = plugin;
  }
}

let csrf = null;

// errorOf reads the error of a failed response r: {"error": {code, message, plugin}}, else its text (an HTML page).
async function errorOf(r) {
  const text = await r.text().catch(() => '');
  let body = null;
  try {
    body = JSON.parse(text);
  } catch {
    /* an HTML or text page: its text is the message */
  }
  const e = body && body.error;
  if (e && typeof e === 'object') return new ApiError(r.status, e.code || `HTTP ${r.status}`, e.message || '', e.plugin ?? null);
  const plain = text.replace(/<[^>]*>/g, ' ').replace(/\s+/g, ' ').trim();
  return new ApiError(r.status, `HTTP ${r.status}`, plain || r.statusText);
}

async function answer(r) {
  if (!r.ok) throw await errorOf(r);
  const body = await r.json();
  return body.result;
}

// session returns {role, who, csrf, expires_ms} and keeps the CSRF token for commands.
export async function session() {
  const r = await fetch('/api/session', { credentials: 'same-origin', cache: 'no-store' });
  if (!r.ok) throw await errorOf(r);
  const s = await r.json();
  csrf = s.csrf;
  return s;
}

// post sends broker command name (query: its ?args=, or '') with body of type, and answers as answer does.
async function post(name, query, type, body) {
  const r = await fetch(`/api/command/${encodeURIComponent(name)}${query}`, {
    method: 'POST',
    credentials: 'same-origin',
    cache: 'no-store',
    headers: { 'Content-Type': type, 'X-CSRF-Token': csrf || '' },
    body,
  });
  return answer(r);
}

// command runs broker command name with args; resolves to its result, rejects with an ApiError.
export function command(name, args = {}) {
  return post(name, '', 'application/json', JSON.stringify(args));
}

// upload runs broker command name with args and bytes (an ArrayBuffer or a view) as its binary "data".
export function upload(name, args, bytes) {
  return post(name, `?args=${encodeURIComponent(JSON.stringify(args))}`, 'application/octet-stream', bytes);
}

// events opens the event stream: on.notice(data), on.log(data), on.state("live"|"down") as the connection goes.
export function events(on) {
  const es = new EventSource('/api/events', { withCredentials: true });
  const parsed = (fn) => (e) => {
    let data;
    try {
      data = JSON.parse(e.data);
    } catch {
      return;
    }
    fn(data);
  };
  es.addEventListener('notice', parsed(on.notice));
  es.addEventListener('log', parsed(on.log));
  es.addEventListener('open', () => on.state('live'));
  es.addEventListener('error', () => on.state('down'));
  return es;
}
