// tests/console/harness.js — a real plugbayd serving its console, with chosen plugins in a temporary folder, the real
// plugbay CLI (as plugbayd's own user or as another local user), plain HTTP requests to the console and waiting on
// conditions: what tests/e2e/harness.c does for the C tests, for the console's browser tests.
'use strict';
const fs = require('node:fs');
const http = require('node:http');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { execFile, spawn } = require('node:child_process');

// Generous deadline for anything the tests wait on; conditions, never fixed sleeps.
const WAIT_MS = 20000;

const SETPRIV = '/usr/bin/setpriv';
const OTHER_UID = '65534'; // nobody: the second local user, as tests/e2e/test_roles.c

// waitFor polls cond (sync or async) every 50 ms until it returns a truthy value (returned) or ms pass (throws,
// naming what was awaited and, if given, what last was seen).
async function waitFor(what, cond, ms = WAIT_MS, seen = () => '') {
  const end = Date.now() + ms;
  for (;;) {
    const v = await cond();
    if (v) return v;
    if (Date.now() > end) throw new Error(`waited ${ms} ms for ${what}; last seen: ${await seen()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

// freePort returns a loopback TCP port nobody listens on now.
function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

// copyPlugin copies plugin folder from to plugins/id, its plugin.json last (a watching plugbayd finds it whole).
function copyPlugin(from, plugins, id) {
  const to = path.join(plugins, id);
  fs.cpSync(from, to, { recursive: true, filter: (src) => src !== path.join(from, 'plugin.json') });
  fs.copyFileSync(path.join(from, 'plugin.json'), path.join(to, 'plugin.json'));
}

// canActAsOther tells whether this process may run programs as the second local user (root and setpriv).
function canActAsOther() {
  return process.getuid() === 0 && fs.existsSync(SETPRIV);
}

class Broker {
  // build: the build folder (bin/ with plugbayd and plugbay). plugins: [{from: folder, id}].
  constructor(build, plugins) {
    this.bin = path.join(build, 'bin');
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'plugbay-console.'));
    this.plugins = path.join(this.dir, 'plugins');
    this.state = path.join(this.dir, 'state');
    this.log = path.join(this.dir, 'plugbayd.log');
    // The socket where another local user can reach it, as tests/e2e/test_roles.c: the folder searchable,
    // plugbay/ readable.
    const pub = path.join(this.dir, 'plugbay');
    fs.chmodSync(this.dir, 0o711);
    fs.mkdirSync(pub, { mode: 0o755 });
    fs.chmodSync(pub, 0o755);
    this.url = `ipc://${pub}/plugbayd.sock`;
    fs.mkdirSync(this.plugins, { recursive: true });
    for (const p of plugins) copyPlugin(p.from, this.plugins, p.id);
    this.proc = null;
  }

  // start starts plugbayd with its console on a free loopback port (plugins wait for `install`), and extra
  // options, and waits until both the broker and the console answer.
  async start(extra = []) {
    this.port = await freePort();
    this.host = `127.0.0.1:${this.port}`;
    this.origin = `http://${this.host}`;
    const args = ['--plugins', this.plugins, '--state', this.state, '--listen', this.url, '--log', this.log,
      '--heartbeat-ms', '500', '--hang-grace-ms', '1000', '--exit-with-parent', '--start-timeout-ms', '60000',
      '--console', this.host, ...extra];
    this.proc = spawn(path.join(this.bin, 'plugbayd'), args, { stdio: ['ignore', 'inherit', 'inherit'] });
    this.exited = new Promise((resolve) => this.proc.on('exit', (code, signal) => resolve({ code, signal })));
    this.proc.on('exit', () => {
      this.proc = null;
    });
    await waitFor('plugbayd to answer status', async () => {
      if (!this.proc) throw new Error(`plugbayd exited early; its log:\n${this.logTail()}`);
      return (await this.cli(['status'])).status === 0;
    });
    await waitFor('the console to answer', async () => {
      try {
        return (await this.request('GET', '/api/session')).status === 401;
      } catch {
        return false;
      }
    });
  }

  // stop stops plugbayd with SIGTERM and returns how it ended ({code, signal}).
  async stop() {
    if (!this.proc) return { code: 0, signal: null };
    this.proc.kill('SIGTERM');
    return this.exited;
  }

  // cleanup removes the temporary folder (kept when BAY_KEEP_TEST_DIRS is set).
  cleanup() {
    if (!process.env.BAY_KEEP_TEST_DIRS) fs.rmSync(this.dir, { recursive: true, force: true });
  }

  // logTail returns the last 40 lines of plugbayd's log.
  logTail() {
    try {
      return fs.readFileSync(this.log, 'utf8').split('\n').slice(-41).join('\n');
    } catch {
      return '(no log)';
    }
  }

  // cli runs plugbay --broker URL with args (without --broker when offline: pack), as plugbayd's own user or
  // (asOther) the second local user: {status, stdout, stderr}.
  cli(args, { asOther = false, offline = false } = {}) {
    let file = path.join(this.bin, 'plugbay');
    let argv = offline ? args : ['--broker', this.url, ...args];
    if (asOther) {
      argv = [`--reuid=${OTHER_UID}`, `--regid=${OTHER_UID}`, '--clear-groups', file, ...argv];
      file = SETPRIV;
    }
    return new Promise((resolve) => {
      execFile(file, argv, { timeout: WAIT_MS, env: { ...process.env, HOME: os.tmpdir() } }, (err, stdout, stderr) => {
        resolve({ status: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
      });
    });
  }

  // must runs cli and throws with its output unless it exits 0; returns its stdout.
  async must(args, opts) {
    const r = await this.cli(args, opts);
    if (r.status !== 0) throw new Error(`plugbay ${args.join(' ')} exited ${r.status}: ${r.stderr}${r.stdout}`);
    return r.stdout;
  }

  // plugin returns plugin id's entry of `plugbay --json status` (undefined when not there).
  async plugin(id) {
    const s = JSON.parse(await this.must(['--json', 'status']));
    return (s.plugins || []).find((p) => p.id === id);
  }

  // waitState waits until plugin id is in state.
  async waitState(id, state) {
    let last;
    await waitFor(`${id} to be ${state}`, async () => (last = await this.plugin(id)) && last.state === state,
      WAIT_MS, () => JSON.stringify(last));
  }

  // loginUrl runs `plugbay console` (as plugbayd's own user, or asOther) and returns the login link it prints.
  async loginUrl(opts) {
    const out = await this.must(['console'], opts);
    const m = out.match(/https?:\/\/\S+\/login\?token=[^\s'"]+/);
    if (!m) throw new Error(`plugbay console printed no login link: ${out}`);
    return m[0];
  }

  // request sends method path to the console (plain HTTP, nothing added but what headers say; Host the console's
  // own unless headers name another) and returns {status, headers, text, json}.
  request(method, urlPath, { headers = {}, body = null } = {}) {
    const length = body === null ? {} : { 'Content-Length': Buffer.byteLength(body) }; // not chunked: as browsers send
    return new Promise((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: this.port, method, path: urlPath,
        headers: { Host: this.host, ...length, ...headers }, agent: false }, (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json = null;
          try {
            json = JSON.parse(text);
          } catch {
            /* not JSON: an HTML page */
          }
          resolve({ status: res.statusCode, headers: res.headers, text, json });
        });
      });
      req.on('error', reject);
      req.setTimeout(WAIT_MS, () => req.destroy(new Error(`${method} ${urlPath}: no answer in ${WAIT_MS} ms`)));
      if (body !== null) req.write(body);
      req.end();
    });
  }

  // session exchanges login link url for a session: {cookie: "bay_session=S", csrf, role, setCookie}.
  async session(url) {
    const u = new URL(url);
    const r = await this.request('GET', u.pathname + u.search);
    if (r.status !== 303) throw new Error(`GET ${u.pathname}: ${r.status} ${r.text}`);
    const setCookie = [].concat(r.headers['set-cookie'] || [])[0] || '';
    const cookie = setCookie.split(';')[0];
    const s = await this.request('GET', '/api/session', { headers: { Cookie: cookie } });
    if (s.status !== 200) throw new Error(`GET /api/session: ${s.status} ${s.text}`);
    return { cookie, setCookie, ...s.json };
  }

  // command posts broker command name with args as session s (csrf: the token to send; s's own by default).
  command(s, name, args = {}, { csrf = s.csrf } = {}) {
    const headers = { Cookie: s.cookie, 'Content-Type': 'application/json' };
    if (csrf !== null) headers['X-CSRF-Token'] = csrf;
    return this.request('POST', `/api/command/${name}`, { headers, body: JSON.stringify(args) });
  }
}

module.exports = { Broker, waitFor, canActAsOther, WAIT_MS, OTHER_UID };
