// bindings/node/test/provide.test.js — JavaScript providers called by other hosts, plugins and the CLI; notices; close.
'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const path = require('path');
const { execFile } = require('child_process');
const { connect, PlugbayError } = require('..');
const { Broker, waitFor } = require('./broker');

let broker, server, client;
before(async () => {
  broker = new Broker(['example/hello', 'lua/basic', 'python/escapes']);
  await broker.start();
  server = await connect({ url: broker.url, name: 'node-server' });
  client = await connect({ url: broker.url, name: 'node-client' });
});
after(async () => {
  await client?.close();
  await server?.close();
  await broker?.stop();
});

test('a JavaScript provider serves another connection, with every value kind', async () => {
  await server.provide('js.echo', (...args) => args);
  await server.provide('js.add', async (a, b) => { await new Promise((r) => setImmediate(r)); return a + b; });
  const v = [null, true, 7, 2.5, 'ü', Buffer.from([1, 2]), [1, [2]], { k: { j: 2n ** 62n } }];
  assert.deepEqual(await client.call('js.echo', v), v);
  assert.equal(await client.call('js.add', [40, 2]), 42);
});

test('a plugin calls a JavaScript provider (Lua, granted call:*); one not granted is refused', async () => {
  assert.equal(await client.call('lua.via', ['js.add', 20, 22]), 42);
  assert.equal((await client.call('py.call', ['js.add', 1, 1])).name, 'BAY_EPERM');
});

test('the plugbay CLI calls a JavaScript provider', async () => {
  const r = await broker.cli('call', 'js.add', '[2, 3]');
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), '5');
});

test('a throwing provider gives the caller BAY_EPLUGIN with the error name and message', async () => {
  await server.provide('js.throw', () => { throw new RangeError('too big: 7'); });
  await server.provide('js.reject', async () => { throw new TypeError('bad thing'); });
  await server.provide('js.code', () => { throw new PlugbayError('BAY_ETYPE', 'js.code: argument 1 must be int'); });
  await server.provide('js.badresult', () => () => 1);
  await assert.rejects(client.call('js.throw'), (e) => e instanceof PlugbayError && e.code === 'BAY_EPLUGIN' &&
    e.plugin === 'host:node-server' && e.message === 'RangeError: too big: 7');
  await assert.rejects(client.call('js.reject'), (e) => e.code === 'BAY_EPLUGIN' && e.message === 'TypeError: bad thing');
  await assert.rejects(client.call('js.code'), (e) => e.code === 'BAY_ETYPE' && /argument 1 must be int/.test(e.message));
  await assert.rejects(client.call('js.badresult'), (e) => e.code === 'BAY_EPLUGIN' &&
    /TypeError: result: a function cannot cross/.test(e.message));
  const r = await broker.cli('call', 'js.throw', '[]');
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /RangeError: too big: 7/);
  assert.equal(await client.call('js.add', [1, 1]), 2);
});

test('an event provider and contexts', async () => {
  await server.provide('js.ev', (x) => x * 2, { kind: 'event' });
  assert.deepEqual(await client.call('js.ev', [21]), [{ plugin: 'host:node-server', value: 42 }]);
  await server.provide('js.fr', () => 'bonjour', { contexts: ['fr'] });
  assert.equal(await client.call('js.fr', [], { context: 'fr' }), 'bonjour');
  await assert.rejects(client.call('js.fr', [], { context: 'de' }), (e) => e.code === 'BAY_ENOPROVIDER');
  await assert.rejects(server.provide('js.ev', () => 1), (e) => e.code === 'BAY_EEXIST');
  await assert.rejects(server.provide('js.x', 'not a function'), TypeError);
});

test('a filter provider passes the arguments on, unchanged, or refuses', async () => {
  await server.provide('js.redact', (text, ...rest) => {
    if (text === 'secret') throw new PlugbayError('BAY_EPERM', 'js.redact: secrets do not pass');
    return text === 'plain' ? null : [text.replaceAll('x', '*'), ...rest];
  }, { kind: 'filter' });
  assert.deepEqual(await client.call('js.redact', ['xyx', 1]), ['*y*', 1]);
  assert.deepEqual(await client.call('js.redact', ['plain', 2]), ['plain', 2]);
  await assert.rejects(client.call('js.redact', ['secret']), (e) => e.code === 'BAY_EPERM' &&
    e.plugin === 'host:node-server' && e.message === 'js.redact: secrets do not pass');
  await server.provide('js.notargs', () => 'a str', { kind: 'filter' });
  await assert.rejects(client.call('js.notargs', [1]), (e) => e.code === 'BAY_ETYPE' &&
    /filter js.notargs: host:node-server answered a str/.test(e.message));
  await assert.rejects(client.declare('js.redact', 'handle'), (e) => e.code === 'BAY_EKIND');
  await assert.rejects(server.provide('js.k', () => 1, { kind: 'filters' }), TypeError);
});

test('providers whose promises wait overlap: a later call is answered while an earlier one waits', async () => {
  let release;
  const gate = new Promise((resolve) => { release = resolve; });
  await server.provide('js.gate', async (x) => { if (x === 'first') await gate; return x; });
  const first = client.call('js.gate', ['first'], { timeout: 10000 });
  assert.equal(await client.call('js.gate', ['second'], { timeout: 3000 }), 'second');
  release();
  assert.equal(await first, 'first');
});

test('a typed declaration has its values checked by plugbayd', async () => {
  await server.declare('js.typed', 'handle', {
    types: { args: { type: 'array', prefixItems: [{ type: 'integer' }] }, result: { type: 'string' } },
  });
  await server.provide('js.typed', (n) => (n > 0 ? 'ok' : n));
  assert.equal(await client.call('js.typed', [1]), 'ok');
  await assert.rejects(client.call('js.typed', ['one']), (e) => e.code === 'BAY_ETYPE' &&
    /the arguments do not fit the types host:node-server declared: at \[0\]: expected integer, got str/.test(e.message));
  await assert.rejects(client.call('js.typed', [-1]), (e) => e.code === 'BAY_ETYPE' &&
    /host:node-server answered a result .* expected string, got int/.test(e.message));
  await assert.rejects(client.declare('js.typed', 'handle', { types: { result: { type: 'integer' } } }),
    (e) => e.code === 'BAY_ETYPE' && /otherwise than host:node-server did/.test(e.message));
  await assert.rejects(client.declare('js.bad', 'handle', { types: { args: { tpye: 'array' } } }),
    (e) => e.code === 'BAY_EINVAL' && /unknown keyword "tpye"/.test(e.message));
  await assert.rejects(client.declare('js.bad', 'handle', { types: 'x' }), TypeError);
});

test('subscribe gets a notice', async () => {
  const notices = [];
  const unsubscribe = await client.subscribe((n) => notices.push(n));
  await server.provide('js.noticed', () => 1);
  await waitFor(() => notices.some((n) => n.what === 'provider-added' && n.name === 'js.noticed' &&
    n.plugin === 'host:node-server'), 'the provider-added notice');
  unsubscribe();
});

test('a closed connection rejects clearly, and its provider is withdrawn', async () => {
  const c = await connect({ url: broker.url, name: 'node-closing' });
  await c.provide('js.gone', () => 1);
  assert.equal(await client.call('js.gone'), 1);
  await c.close();
  await c.close(); // twice is fine
  assert.equal(c.closed, true);
  await assert.rejects(c.call('greet', ['x']), (e) => e instanceof PlugbayError && e.code === 'BAY_ECONN' &&
    /closed by close\(\)/.test(e.message));
  assert.throws(() => c.callSync('greet', ['x']), (e) => e.code === 'BAY_ECONN');
  await assert.rejects(c.status(), (e) => e.code === 'BAY_ECONN');
  await assert.rejects(c.provide('js.again', () => 1), (e) => e.code === 'BAY_ECONN');
  await assert.rejects(client.call('js.gone'), (e) => e.code === 'BAY_ENOPROVIDER' || e.code === 'BAY_ENOENT');
});

test('close waits for a call in flight, which ends normally', async () => {
  const c = await connect({ url: broker.url, name: 'node-inflight' });
  const p = c.call('js.add', [1, 2]);
  await c.close();
  assert.equal(await p, 3);
});

test('connecting to no broker fails with BAY_ECONN', async () => {
  await assert.rejects(connect({ url: 'ipc:///nonexistent/plugbayd.sock' }), (e) => e instanceof PlugbayError &&
    e.code === 'BAY_ECONN' && /cannot connect to plugbayd/.test(e.message));
  await assert.rejects(connect({ url: 5 }), TypeError);
});

// child runs a script in a node process of its own and resolves its exit code and output, or fails after ms.
function child(script, ms = 20000) {
  return new Promise((resolve, reject) => {
    const p = execFile(process.execPath, ['-e', script], { timeout: ms, env: { ...process.env, URL: broker.url } },
      (err, stdout, stderr) => (err && err.killed ? reject(new Error(`the node process did not end within ${ms} ms: ${stderr}`))
        : resolve({ code: err ? err.code : 0, stdout, stderr })));
    return p;
  });
}

const lib = JSON.stringify(path.resolve(__dirname, '..'));

test('a closed connection does not keep the event loop alive (nor an idle open one)', async () => {
  let r = await child(`const { connect } = require(${lib});
    (async () => { const c = await connect({ url: process.env.URL }); await c.provide('js.tmp', () => 1);
      await c.subscribe(() => {}); console.log(await c.call('greet', ['child'])); await c.close(); })();`);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), 'Hello, child!');
  r = await child(`const { connect } = require(${lib});
    (async () => { const c = await connect({ url: process.env.URL }); console.log(await c.call('greet', ['idle'])); })();`);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), 'Hello, idle!');
  r = await child(`const { connect } = require(${lib});
    (async () => { const c = await connect({ url: process.env.URL });
      const off = await c.subscribe(() => {}); off();
      await c.provide('greet', () => 1, { kind: 'event' }).catch((e) => console.log(e.code)); })();`);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), 'BAY_EKIND', 'a refused provide and an unsubscribed listener let the process end');
});

test('a providing connection keeps the process serving until closed', async () => {
  const script = `const { connect } = require(${lib});
    (async () => { const c = await connect({ url: process.env.URL, name: 'node-child' });
      await c.provide('js.ping', () => 'pong');
      process.stdin.on('end', () => c.close()).resume(); })();`;
  let ended = null;
  const proc = execFile(process.execPath, ['-e', script], { timeout: 20000, env: { ...process.env, URL: broker.url } },
    (err, stdout, stderr) => (ended = { code: err ? err.code ?? err.signal : 0, stderr }));
  await waitFor(async () => {
    if (ended)
      throw new Error(`the child ended before it served: ${ended.stderr}`);
    return (await client.call('js.ping').catch(() => null)) === 'pong';
  }, 'the child to serve');
  assert.equal(ended, null, 'the child still serves');
  proc.stdin.end();
  await waitFor(() => ended, 'the child to end once closed');
  assert.equal(ended.code, 0, ended.stderr);
});
