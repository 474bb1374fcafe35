// tests/console/console.test.js — the web console judged from outside: a real plugbayd --console with real plugins,
// logins made by the real `plugbay console`, plain HTTP requests for what the server must refuse, and Debian's
// chromium driven headless by playwright-core for what a person does in the console. Screenshots go to
// BAY_SCREENSHOTS. Run by tests/console/run-tests (ctest console_browser).
'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const { chromium } = require('playwright-core');
const { Broker, waitFor, canActAsOther, WAIT_MS, OTHER_UID } = require('./harness');

const BUILD = process.env.BAY_BUILD_DIR || path.join(__dirname, '..', '..', 'build');
const SHOTS = process.env.BAY_SCREENSHOTS || path.join(BUILD, 'tests', 'console', 'screenshots');
const CHROMIUM = process.env.BAY_CHROMIUM || '/usr/bin/chromium';
const FIXTURES = path.join(__dirname, 'fixtures');

// The plugins plugbayd starts with, installed through the CLI; test/packaged comes later, through the console.
const PLUGINS = [
  { from: path.join(BUILD, 'plugins', 'example', 'hello'), id: 'example/hello' }, // a setting with a pattern
  { from: path.join(BUILD, 'test-plugins', 'test', 'crash'), id: 'test/crash' }, // crash.now: SIGSEGV
  { from: path.join(BUILD, 'plugins', 'example', 'greeter-ui'), id: 'example/greeter-ui' }, // the example panel
  { from: path.join(FIXTURES, 'panel'), id: 'test/panel' }, // a panel calling its own panel.echo at once
  { from: path.join(FIXTURES, 'hostile-panel'), id: 'test/hostile-panel' }, // a panel reaching for what it may not
];

const CSP = "sandbox allow-scripts allow-forms; default-src 'none'; script-src 'self'; style-src 'self' " +
  "'unsafe-inline'; img-src 'self' data:; font-src 'self'; connect-src 'none'; form-action 'none'; base-uri 'none'; " +
  "frame-ancestors 'self'";

// An error's code as the console API answers it: the contract says EPERM, plugbay's own name is BAY_EPERM.
const EPERM = /^(BAY_)?EPERM$/;

let broker;
let browser;
let indexServer; // serves DIR/www, where DIR/www/index is the index plugbayd follows (test/indexed in it)
let admin; // {context, page}: the browser logged in as plugbayd's own user

before(async () => {
  if (!fs.existsSync(CHROMIUM))
    throw new Error(`${CHROMIUM} is missing: scripts/install-deps installs Debian's chromium`);
  fs.mkdirSync(SHOTS, { recursive: true });
  broker = new Broker(BUILD, PLUGINS);
  await broker.start(await publishIndex());
  for (const p of PLUGINS) await broker.must(['install', p.id, '--grant-all']);
  if (canActAsOther()) await broker.must(['host', 'add', 'watcher', '--uid', OTHER_UID, '--role', 'observer']);
  // Chromium refuses its own sandbox to root (crbug.com/638180: "Running as root without --no-sandbox is not
  // supported"); as any other user it keeps it. The page's iframe sandbox and CSP, what these tests judge, are
  // Blink's and hold either way.
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true,
    chromiumSandbox: process.getuid() !== 0 });
  admin = await login(await broker.loginUrl());
});

after(async () => {
  if (browser) await browser.close();
  if (indexServer) indexServer.close();
  if (broker) {
    const end = await broker.stop();
    if (end.code !== 0) console.error(`plugbayd ended with ${JSON.stringify(end)}; its log:\n${broker.logTail()}`);
    broker.cleanup();
    assert.deepEqual(end, { code: 0, signal: null }, 'plugbayd stops cleanly on SIGTERM');
  }
});

// publishIndex publishes fixtures/indexed to an index signed by a key of its own in the broker's folder, serves
// it on a free loopback port, and resolves to the options that make plugbayd follow it.
async function publishIndex() {
  const at = (...p) => path.join(broker.dir, ...p);
  for (const d of ['www/index', 'trusted']) fs.mkdirSync(at(d), { recursive: true });
  await broker.must(['keygen', '--out', at('owner'), '--comment', 'owner'], { offline: true });
  fs.renameSync(at('owner.pub'), at('trusted', 'owner.pub'));
  await broker.must(['pack', path.join(FIXTURES, 'indexed'), '-o', at('indexed.bayplug')], { offline: true });
  await broker.must(['publish', at('indexed.bayplug'), at('www', 'index'), '--key', at('owner')], { offline: true });
  indexServer = http.createServer((req, res) => {
    const file = at('www', path.normalize(decodeURIComponent(new URL(req.url, 'http://x').pathname)));
    fs.readFile(file, (err, data) => {
      res.writeHead(err ? 404 : 200);
      res.end(err ? '' : data);
    });
  });
  await new Promise((r) => indexServer.listen(0, '127.0.0.1', r));
  return ['--index', `http://127.0.0.1:${indexServer.address().port}/index`, '--trusted-keys', at('trusted')];
}

// login opens a browser context of its own at login link url; resolves to {context, page} once the console shows
// who is signed in.
async function login(url) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  context.setDefaultTimeout(WAIT_MS);
  const page = await context.newPage();
  page.on('console', (m) => {
    if (m.type() === 'error') console.error(`[browser] ${m.text()}`);
  });
  await page.goto(url);
  assert.equal(new URL(page.url()).pathname, '/', 'the login link leads to the console');
  await page.getByTestId('session-who').filter({ hasNotText: '…' }).waitFor();
  return { context, page };
}

// painted resolves once frame (a page or a panel's frame) drew two frames: what it shows is on screen.
function painted(frame) {
  return frame.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
}

// shot saves a screenshot of page as NAME.png and says where. A panel's frame, when given, is scrolled into view and
// painted first: Chromium draws a cross-origin frame (a sandboxed panel) only once it has been on screen.
async function shot(t, page, name, frame = null) {
  if (frame) {
    await (await frame.frameElement()).scrollIntoViewIfNeeded();
    await painted(frame);
  }
  const file = path.join(SHOTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  t.diagnostic(`screenshot: ${file}`);
}

// step runs fn; when it fails, keeps a screenshot of page and plugbayd's log tail before failing.
async function step(t, page, name, fn) {
  try {
    await fn();
  } catch (e) {
    await shot(t, page, `failed-${name}`).catch(() => {});
    console.error(`plugbayd's log:\n${broker.logTail()}`);
    throw e;
  }
}

// open shows the console's view at hash in page.
async function open(page, hash) {
  await page.evaluate((h) => {
    location.hash = h;
  }, hash);
}

// text waits until the element of testid (in page or a frame) holds text matching re; returns its text.
async function text(where, testid, re) {
  const el = where.getByTestId(testid);
  let last = '';
  await waitFor(`${testid} to say ${re}`, async () => re.test((last = (await el.textContent()) || '')), WAIT_MS,
    () => JSON.stringify(last));
  return last;
}

// panel returns the frame of the panel iframe of testid in page once its document (and its deferred scripts) loaded.
async function panel(page, testid) {
  const frame = await (await page.getByTestId(testid).elementHandle()).contentFrame();
  await frame.waitForLoadState('load');
  return frame;
}

// ---- refused without a browser -------------------------------------------------------------------------------

test('without a session every path but /login is refused with 401, saying how to get one', async () => {
  for (const [method, p] of [['GET', '/'], ['GET', '/api/session'], ['POST', '/api/command/list'],
    ['POST', '/api/command/disable'], ['GET', '/api/events'], ['GET', '/assets/app.js']]) {
    const r = await broker.request(method, p, { headers: { 'Content-Type': 'application/json' },
      body: method === 'POST' ? '{"id": "example/hello"}' : null });
    assert.equal(r.status, 401, `${method} ${p} without a cookie: ${r.text}`);
    assert.match(r.text, /plugbay console/, `${method} ${p}: says to run plugbay console`);
  }
  const real = await broker.session(await broker.loginUrl());
  const name = real.cookie.split('=')[0];
  const forged = await broker.request('GET', '/api/session', { headers: { Cookie: `${name}=${'0'.repeat(64)}` } });
  assert.equal(forged.status, 401, 'a made-up session cookie');
  assert.equal((await broker.plugin('example/hello')).state, 'loaded', 'nothing was disabled');
});

test('a login token works once; a bad one and a used one get 401', async () => {
  const url = new URL(await broker.loginUrl());
  const first = await broker.request('GET', url.pathname + url.search);
  assert.equal(first.status, 303, first.text);
  assert.equal(first.headers.location, '/');
  const cookie = [].concat(first.headers['set-cookie'])[0];
  assert.match(cookie, /^bay_session\w*=[^;]+/);
  for (const attr of ['HttpOnly', 'SameSite=Strict', 'Path=/', 'Max-Age=28800'])
    assert.ok(cookie.split(/;\s*/).includes(attr), `the cookie has ${attr}: ${cookie}`);
  const again = await broker.request('GET', url.pathname + url.search);
  assert.equal(again.status, 401, 'the same token a second time');
  assert.equal(again.headers['set-cookie'], undefined);
  const bad = await broker.request('GET', '/login?token=not-a-token');
  assert.equal(bad.status, 401);
  const none = await broker.request('GET', '/login');
  assert.equal(none.status, 401);
});

test('a request naming another Host (DNS rebinding) is refused with 421, even with a session', async () => {
  const s = await broker.session(await broker.loginUrl());
  for (const host of [`evil.example:${broker.port}`, 'evil.example', `127.0.0.1:${broker.port + 1}`]) {
    const r = await broker.request('GET', '/api/session', { headers: { Host: host, Cookie: s.cookie } });
    assert.equal(r.status, 421, `Host: ${host}`);
  }
  const login = new URL(await broker.loginUrl());
  const r = await broker.request('GET', login.pathname + login.search,
    { headers: { Host: `evil.example:${broker.port}` } });
  assert.equal(r.status, 421, 'a login through another Host');
  assert.equal(r.headers['set-cookie'], undefined);
});

test('a state-changing request without the CSRF token, or with a forged one, is refused with 403', async () => {
  const s = await broker.session(await broker.loginUrl());
  assert.equal(s.role, 'admin');
  assert.match(s.who, new RegExp(`\\buid ${process.getuid()}\\b`));
  assert.ok(s.csrf && s.csrf.length >= 16, `a CSRF token: ${s.csrf}`);
  for (const csrf of [null, '', 'forged', `${s.csrf}x`]) {
    const r = await broker.command(s, 'disable', { id: 'example/hello' }, { csrf });
    assert.equal(r.status, 403, `X-CSRF-Token ${JSON.stringify(csrf)}: ${r.text}`);
    assert.ok(r.json && r.json.error, `a JSON error: ${r.text}`);
  }
  const evil = await broker.request('POST', '/api/command/disable', { body: '{"id": "example/hello"}',
    headers: { Cookie: s.cookie, 'Content-Type': 'application/json', 'X-CSRF-Token': s.csrf,
      Origin: 'http://evil.example' } });
  assert.equal(evil.status, 403, `the right token from another Origin: ${evil.text}`);
  const other = await broker.session(await broker.loginUrl());
  const crossed = await broker.command(s, 'disable', { id: 'example/hello' }, { csrf: other.csrf });
  assert.equal(crossed.status, 403, 'another session\'s CSRF token');
  assert.equal((await broker.plugin('example/hello')).state, 'loaded', 'nothing was disabled');
  const ok = await broker.command(s, 'list', {});
  assert.equal(ok.status, 200, ok.text);
  assert.ok(Array.isArray(ok.json.result), ok.text);
});

test('an observer\'s session sees, and is refused an admin action with 403 and the broker\'s message', async (t) => {
  if (!canActAsOther()) return t.skip('acting as a second local user needs root and /usr/bin/setpriv');
  const s = await broker.session(await broker.loginUrl({ asOther: true }));
  assert.equal(s.role, 'observer');
  assert.match(s.who, new RegExp(`\\buid ${OTHER_UID}\\b`));
  const seen = await broker.command(s, 'status', {});
  assert.equal(seen.status, 200, seen.text);
  const r = await broker.command(s, 'disable', { id: 'example/hello' });
  assert.equal(r.status, 403, r.text);
  assert.match(r.json.error.code, EPERM);
  assert.match(r.json.error.message, /role observer\) may not run disable: it needs role admin/);
  assert.equal((await broker.plugin('example/hello')).state, 'loaded', 'nothing was disabled');
});

test('panel.call reaches the panel\'s own plugin only', async () => {
  const s = await broker.session(await broker.loginUrl());
  const own = await broker.command(s, 'panel.call', { id: 'test/panel', name: 'panel.echo', args: ['x'] });
  assert.equal(own.status, 200, own.text);
  assert.equal(own.json.result, 'echo: x');
  const calls = (await broker.plugin('test/panel')).calls;
  for (const name of ['panel.echo', 'greet', 'crash.now']) {
    const r = await broker.command(s, 'panel.call', { id: 'test/hostile-panel', name, args: ['x'] });
    assert.equal(r.status, 403, `${name} through test/hostile-panel: ${r.text}`);
    assert.match(r.json.error.code, EPERM);
  }
  if (canActAsOther()) {
    const o = await broker.session(await broker.loginUrl({ asOther: true }));
    const r = await broker.command(o, 'panel.call', { id: 'test/panel', name: 'panel.echo', args: ['x'] });
    assert.equal(r.status, 403, `an observer's panel.call: ${r.text}`);
    assert.match(r.json.error.code, EPERM);
  }
  assert.equal((await broker.plugin('test/panel')).calls, calls, 'test/panel was not called');
  assert.equal((await broker.plugin('test/crash')).restarts, 0, 'test/crash was not called');
});

test('panel files are served under their capability with the strict CSP, and nothing else is', async () => {
  const s = await broker.session(await broker.loginUrl());
  const r = await broker.command(s, 'panels', {});
  assert.equal(r.status, 200, r.text);
  const panel = r.json.result.find((p) => p.plugin === 'test/panel');
  assert.ok(panel && panel.url, `test/panel's panel: ${r.text}`);
  const url = new URL(panel.url, broker.origin);
  assert.equal(url.origin, broker.origin, `the console serves the panel: ${panel.url}`);
  const m = url.pathname.match(/^\/p\/([^/]+)\/index\.html$/);
  assert.ok(m, `the url is /p/CAP/index.html: ${panel.url}`);
  const page = await broker.request('GET', url.pathname); // no cookie: a sandboxed iframe sends none
  assert.equal(page.status, 200);
  assert.equal(page.headers['content-security-policy'], CSP);
  assert.equal(page.headers['x-content-type-options'], 'nosniff');
  assert.equal(page.headers['referrer-policy'], 'no-referrer');
  assert.match(page.headers['content-type'], /^text\/html/);
  const js = await broker.request('GET', `/p/${m[1]}/panel.js`);
  assert.equal(js.status, 200);
  assert.match(js.headers['content-type'], /javascript/);
  // The panel's page is an opaque origin: its own files are cross-origin requests, which CORP same-origin blocks.
  assert.notEqual(js.headers['cross-origin-resource-policy'], 'same-origin', 'the panel may load its script');
  for (const p of [`/p/${m[1]}/../main.lua`, `/p/${m[1]}/%2e%2e/main.lua`, `/p/${m[1]}/../plugin.json`,
    `/p/${m[1]}x/index.html`, '/p/not-a-capability/index.html', `/p/${m[1]}/missing.html`]) {
    const other = await broker.request('GET', p);
    assert.notEqual(other.status, 200, `${p}: ${other.text.slice(0, 200)}`);
    assert.doesNotMatch(other.text, /panel_echo|"provides"/, `${p} shows no file outside the panel's folder`);
  }
});

// ---- in the browser --------------------------------------------------------------------------------------------

test('the console installs a package file chosen in the browser, after showing what it asks', async (t) => {
  const { page } = admin;
  const file = path.join(broker.dir, 'test-packaged-1.0.0.bayplug');
  await broker.must(['pack', path.join(FIXTURES, 'packaged'), '-o', file], { offline: true });
  await step(t, page, 'install', async () => {
    await open(page, '#/install');
    const [chooser] = await Promise.all([page.waitForEvent('filechooser'), page.getByTestId('install-file').click()]);
    await chooser.setFiles(file);
    await page.getByTestId('install-consent').waitFor();
    await shot(t, page, 'install-consent');
    // What is granted is what was shown, by name: never "grant_all", which would also grant whatever the package
    // asks for beyond what the page read from it.
    const [request] = await Promise.all([
      page.waitForRequest((r) => r.url().endsWith('/api/command/install.package')),
      page.getByTestId('install-confirm').click(),
    ]);
    const args = JSON.parse(request.postData());
    assert.equal(args.grant_all, undefined, `install.package sent grant_all: ${request.postData()}`);
    assert.ok(Array.isArray(args.grant) && args.grant.length > 0, `install.package grants by name: ${request.postData()}`);
    await text(page, 'install-result', /test\/packaged/);
    await broker.waitState('test/packaged', 'loaded');
    assert.equal((await broker.must(['call', 'packaged.hello', '[]'])).trim(), '"hello from a package"');
    await open(page, '#/');
    await text(page, 'plugin-state-test/packaged', /^loaded$/);
    await shot(t, page, 'installed');
  });
});

test('the console installs a plugin from the index plugbayd follows, after showing what it asks', async (t) => {
  const { page } = admin;
  await step(t, page, 'install-index', async () => {
    await open(page, '#/install');
    await page.getByTestId('index-offer-test/indexed').waitFor();
    await page.getByTestId('index-search').fill('no such plugin');
    await page.getByTestId('index-offer-test/indexed').waitFor({ state: 'detached' });
    await page.getByTestId('index-search').fill('INDEXED');
    await page.getByTestId('index-install-test/indexed').click();
    await page.getByTestId('consent-call:greet').waitFor();
    await shot(t, page, 'install-index-consent');
    await page.getByTestId('index-confirm').click();
    await text(page, 'index-result', /test\/indexed/);
    await broker.waitState('test/indexed', 'loaded');
    assert.equal((await broker.must(['call', 'indexed.hello', '[]'])).trim(), '"hello from an index"');
    await text(page, 'index-installed-test/indexed', /1\.0\.0/);
    await shot(t, page, 'installed-from-index');
  });
});

test('the console changes a setting and keeps it, its log line shows live, a bad value gets the broker\'s refusal',
  async (t) => {
  const { page } = admin;
  await step(t, page, 'settings', async () => {
    await open(page, `#/plugin/${encodeURIComponent('example/hello')}`);
    const field = page.getByTestId('setting-greeting');
    await field.fill('Howdy');
    await page.getByTestId('settings-save').click();
    await text(page, 'settings-done', /\S/);
    assert.equal((await broker.must(['call', 'greet', '["console"]'])).trim(), '"Howdy, console!"');
    await text(page, 'logs', /setting greeting is now "Howdy"/); // the plugin's log, live
    await page.reload();
    await page.getByTestId('session-who').filter({ hasNotText: '…' }).waitFor();
    await waitFor('the kept greeting in the form', async () => (await field.inputValue()) === 'Howdy');

    const cli = await broker.cli(['config', 'example/hello', 'greeting=howdy']);
    assert.equal(cli.status, 1);
    const message = cli.stderr.replace(/^plugbay: /, '').replace(/ \(BAY_E[A-Z]+\)\n$/, '');
    await field.fill('howdy');
    await page.getByTestId('settings-save').click();
    const shown = await text(page, 'settings-error', /\S/);
    assert.ok(shown.includes(message), `the form shows the broker's message "${message}": "${shown}"`);
    await shot(t, page, 'settings-refused');
    assert.equal((await broker.must(['call', 'greet', '["console"]'])).trim(), '"Howdy, console!"', 'kept');
  });
});

test('the console disables a plugin and shows its state', async (t) => {
  const { page } = admin;
  await step(t, page, 'disable', async () => {
    await open(page, `#/plugin/${encodeURIComponent('test/packaged')}`);
    await text(page, 'detail-state', /^loaded$/);
    await page.getByTestId('action-disable').click();
    await text(page, 'detail-state', /^disabled$/);
    assert.equal((await broker.plugin('test/packaged')).state, 'disabled');
    assert.equal((await broker.cli(['call', 'packaged.hello', '[]'])).status, 1, 'its handle is gone');
    await shot(t, page, 'disabled');
  });
});

test('a plugin\'s panel calls its own plugin and shows the answer', async (t) => {
  const { page } = admin;
  await step(t, page, 'panel', async () => {
    await open(page, `#/plugin/${encodeURIComponent('test/panel')}`);
    const frame = await panel(page, 'panel-test/panel-main');
    await waitFor('the panel to show panel.echo\'s answer',
      async () => (await frame.locator('#answer').textContent()) === 'echo: from the panel');
    await shot(t, page, 'panel', frame);
  });
});

test('the example panel greets the name typed in it, through its own plugin', async (t) => {
  const { page } = admin;
  await step(t, page, 'greeter-panel', async () => {
    await open(page, `#/plugin/${encodeURIComponent('example/greeter-ui')}`);
    const frame = await panel(page, 'panel-example/greeter-ui-main');
    await frame.locator('#who').fill('Ada');
    await frame.locator('#greet').click();
    await waitFor('the panel to show the greeting',
      async () => (await frame.locator('#answer').textContent()) === 'Hello, Ada!');
    await shot(t, page, 'greeter-panel', frame);
  });
  assert.equal((await broker.plugin('example/greeter-ui')).calls, 1);
});

test('a hostile panel reaches neither another plugin nor the console\'s API, document or cookie', async (t) => {
  const { page } = admin;
  const calls = (await broker.plugin('test/panel')).calls;
  await step(t, page, 'hostile-panel', async () => {
    await open(page, `#/plugin/${encodeURIComponent('test/hostile-panel')}`);
    const frame = await panel(page, 'panel-test/hostile-panel-main');
    const got = {};
    for (const id of ['other', 'other-named', 'api', 'session', 'parent', 'cookie'])
      await waitFor(`the hostile panel's ${id} to end`, async () =>
        (got[id] = await frame.locator(`#${id}`).textContent()) !== 'trying', WAIT_MS, () => got[id]);
    await shot(t, page, 'hostile-panel', frame);
    assert.match(got.other, /^refused: (BAY_)?EPERM: /, 'another plugin\'s handle');
    assert.match(got['other-named'], /^refused: (BAY_)?EPERM: /, 'another plugin\'s handle, naming it');
    assert.match(got.api, /^refused: TypeError/, 'the console\'s API');
    assert.match(got.session, /^refused: TypeError/, 'the console\'s session');
    assert.equal(got.parent, 'refused: SecurityError', 'the console\'s document');
    assert.equal(got.cookie, 'refused: SecurityError', 'the cookie');
  });
  assert.equal((await broker.plugin('test/panel')).calls, calls, 'test/panel was not called');
  assert.equal((await broker.plugin('example/hello')).state, 'loaded');
});

test('a crashing plugin\'s restart appears in the console without a reload', async (t) => {
  const { page } = admin;
  await step(t, page, 'crash', async () => {
    await open(page, '#/');
    await text(page, 'plugin-restarts-test/crash', /^0$/);
    const events = await broker.session(await broker.loginUrl());
    const stream = noticeAbout(events, 'test/crash');
    const r = await broker.cli(['call', 'crash.now', '[]']);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /test\/crash failed during crash\.now: its worker was killed by signal 11 \(SIGSEGV\)/);
    await text(page, 'plugin-restarts-test/crash', /^1$/);
    await text(page, 'plugin-state-test/crash', /^loaded$/);
    await shot(t, page, 'crash-restarted');
    const notice = await stream;
    assert.equal(notice.plugin, 'test/crash', JSON.stringify(notice));
    assert.equal((await broker.plugin('test/crash')).restarts, 1);
  });
});

// noticeAbout reads session s's /api/events until a notice about plugin id comes; resolves to its data.
function noticeAbout(s, id) {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port: broker.port, path: '/api/events', agent: false,
      headers: { Host: broker.host, Cookie: s.cookie, Accept: 'text/event-stream' } }, (res) => {
      if (res.statusCode !== 200) return reject(new Error(`/api/events: ${res.statusCode}`));
      assert.match(res.headers['content-type'], /^text\/event-stream/);
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => {
        buf += chunk;
        for (let end; (end = buf.indexOf('\n\n')) >= 0; buf = buf.slice(end + 2)) {
          const ev = buf.slice(0, end);
          const data = ev.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trim()).join('\n');
          if (!/^event: notice$/m.test(ev) || !data) continue;
          const n = JSON.parse(data);
          if (n.plugin === id) {
            req.destroy();
            resolve(n);
          }
        }
      });
    });
    req.on('error', reject);
    req.setTimeout(WAIT_MS, () => req.destroy(new Error(`no notice about ${id} on /api/events in ${WAIT_MS} ms`)));
  });
}

test('an observer in the browser is refused an admin action and sees the broker\'s message', async (t) => {
  if (!canActAsOther()) return t.skip('acting as a second local user needs root and /usr/bin/setpriv');
  const { context, page } = await login(await broker.loginUrl({ asOther: true }));
  try {
    await step(t, page, 'observer', async () => {
      await text(page, 'session-who', new RegExp(`uid ${OTHER_UID}`));
      await open(page, `#/plugin/${encodeURIComponent('example/hello')}`);
      await text(page, 'detail-state', /^loaded$/);
      await page.getByTestId('action-disable').click({ force: true });
      const shown = await text(page, 'error-text', /may not run disable/);
      assert.match(shown, /\bEPERM|BAY_EPERM/);
      assert.match(shown, /role observer\) may not run disable: it needs role admin/);
      await shot(t, page, 'observer-refused');
      assert.equal((await broker.plugin('example/hello')).state, 'loaded', 'nothing was disabled');
    });
  } finally {
    await context.close();
  }
});
