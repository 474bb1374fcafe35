// bindings/node/test/calls.test.js — calls, errors, deadlines, AbortSignal cancel, commands and the fast path.
'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { connect, PlugbayError } = require('..');
const { Broker, waitFor } = require('./broker');

const FAST = process.env.PLUGBAY_FASTPATH !== '0';
let broker, conn;
before(async () => {
  broker = new Broker(['example/hello', 'example/py-hello', 'test/slow', 'lua/basic', 'python/escapes', 'test/ctx', 'test/crash']);
  await broker.start();
  conn = await connect({ url: broker.url, name: 'node-calls' });
});
after(async () => {
  await conn?.close();
  await broker?.stop();
});

test('C, Lua and Python plugins answer', async () => {
  assert.equal(await conn.call('greet', ['world']), 'Hello, world!');
  assert.equal(conn.callSync('greet', ['sync']), 'Hello, sync!');
  assert.equal(await conn.call('lua.ping'), 'pong');
  assert.match(await conn.call('py.greet', ['node']), /node/);
});

test('an event gathers one answer per provider', async () => {
  const answers = await conn.call('app.started', [], { timeout: 5000 });
  assert.ok(Array.isArray(answers));
  assert.deepEqual(answers.map((a) => a.plugin).slice(0, 2), ['example/hello', 'example/py-hello']);
});

test('errors reject with a PlugbayError carrying code, plugin and message', async () => {
  await assert.rejects(conn.call('no.such.point'), (e) => e instanceof PlugbayError && e.code === 'BAY_ENOENT' &&
    e.errno === 5 && e.plugin === '' && /no\.such\.point/.test(e.message));
  await assert.rejects(conn.call('lua.fail', ['x']), (e) => e.code === 'BAY_EPLUGIN' && e.plugin === 'lua/basic' &&
    /boom: x/.test(e.message));
  await assert.rejects(conn.call('py.fail'), (e) => e.code === 'BAY_EPLUGIN' && e.plugin === 'python/escapes' &&
    /ValueError: n must not be negative, got -1/.test(e.message));
  await assert.rejects(conn.call('slow.sleep', ['not a number']), (e) => e.code === 'BAY_ETYPE' && e.plugin === 'test/slow');
  assert.throws(() => conn.callSync('no.such.point'), (e) => e instanceof PlugbayError && e.code === 'BAY_ENOENT');
});

test('a context limits the providers', async () => {
  assert.ok(await conn.call('ctx.who', [], { context: 'fr' }));
  await assert.rejects(conn.call('ctx.who', [], { context: 'de' }), (e) => e.code === 'BAY_ENOPROVIDER');
});

test('a deadline that passes rejects with BAY_ETIMEDOUT naming the plugin, and the plugin serves on', async () => {
  const t0 = Date.now();
  await assert.rejects(conn.call('slow.sleep', [5000], { timeout: 200 }), (e) => e.code === 'BAY_ETIMEDOUT' &&
    e.plugin === 'test/slow');
  assert.ok(Date.now() - t0 < 3000, `took ${Date.now() - t0} ms`);
  assert.equal(await conn.call('slow.sleep', [1], { timeout: 3000 }), 1);
  await assert.rejects(conn.call('greet', [], { timeout: -1 }), RangeError);
});

test('an AbortSignal cancels the call, the cancel reaches the plugin and the broker serves on', async () => {
  const ac = new AbortController();
  const t0 = Date.now();
  const p = conn.call('slow.sleep', [10000], { signal: ac.signal, timeout: 20000 });
  // Abort once plugbayd has given the call to test/slow (its info counts calls in flight), not after a fixed sleep.
  await waitFor(async () => (await conn.info('test/slow')).inflight > 0, 'the call to start');
  ac.abort();
  await assert.rejects(p, (e) => e instanceof PlugbayError && e.code === 'BAY_ECANCELED' && e.plugin === 'test/slow');
  assert.ok(Date.now() - t0 < 3000, `cancel took ${Date.now() - t0} ms`);
  // The plugin saw the cancel and stopped sleeping: its one worker thread answers at once.
  assert.equal(await conn.call('slow.sleep', [1], { timeout: 1000 }), 1);
  assert.equal(await conn.call('greet', ['after'], { signal: new AbortController().signal }), 'Hello, after!');
  const aborted = AbortSignal.abort();
  await assert.rejects(conn.call('greet', ['x'], { signal: aborted }), (e) => e.code === 'BAY_ECANCELED');
});

test('AbortSignal.timeout cancels too', async () => {
  await assert.rejects(conn.call('slow.sleep', [10000], { signal: AbortSignal.timeout(100) }),
    (e) => e.code === 'BAY_ECANCELED');
  assert.equal(await conn.call('slow.sleep', [1], { timeout: 1000 }), 1);
});

test('a plugin that crashes during a call gives BAY_ECRASHED naming it and the signal, and comes back', async () => {
  await assert.rejects(conn.call('crash.now'), (e) => e.code === 'BAY_ECRASHED' && e.plugin === 'test/crash' &&
    /SIGSEGV/.test(e.message));
  assert.equal(await waitFor(() => conn.call('crash.ping').catch(() => null), 'test/crash to be restarted'), 'pong');
});

test('uninstall and install again, consent given as grants', async () => {
  await conn.uninstall('test/ctx');
  await assert.rejects(conn.call('ctx.who', [], { context: 'fr' }), (e) => e.code === 'BAY_ENOENT' || e.code === 'BAY_ENOPROVIDER');
  await assert.rejects(conn.install('test/ctx'), (e) => e.code === 'BAY_EPERM' && /provide:ctx\.who/.test(e.message));
  await conn.install('test/ctx', { grant: ['provide:ctx.who'] });
  await waitFor(async () => (await conn.info('test/ctx')).state === 'loaded', 'test/ctx to load');
  assert.ok(await conn.call('ctx.who', [], { context: 'fr' }));
});

test('many calls at once all answer, more than the pool has threads', async () => {
  const names = Array.from({ length: 600 }, (_, i) => `n${i}`); // more than the 256 threads a connection runs
  const got = await Promise.all(names.map((n) => conn.call('greet', [n])));
  assert.deepEqual(got, names.map((n) => `Hello, ${n}!`));
});

test('commands: status, list, info, reload, generic command', async () => {
  const status = await conn.status();
  assert.equal(typeof status.broker, 'object');
  const list = await conn.list();
  assert.ok(list.some((p) => p.id === 'example/hello' && p.state === 'loaded'));
  assert.equal((await conn.info('example/hello')).id, 'example/hello');
  const r = await conn.reload('example/hello');
  assert.equal(r.id, 'example/hello');
  await waitFor(async () => (await conn.info('example/hello')).state === 'loaded', 'hello to load again');
  assert.equal(await conn.call('greet', ['again']), 'Hello, again!');
  await assert.rejects(conn.command('no-such-command'), (e) => e.code === 'BAY_ENOENT');
  await assert.rejects(conn.info('no/such'), (e) => e instanceof PlugbayError && e.code === 'BAY_ENOENT');
});

test(`the fast path is ${FAST ? 'used' : 'off'} (PLUGBAY_FASTPATH=${process.env.PLUGBAY_FASTPATH ?? ''})`, async () => {
  const c = await connect({ url: broker.url, name: 'node-fast' });
  try {
    for (let i = 0; i < 10; i++)
      assert.equal(await c.call('slow.echo', [i]).then((v) => v[0]), i);
    const channels = (await c.status()).broker.fast_channels;
    if (FAST)
      assert.ok(channels > 0, `fast_channels ${channels}`);
    else
      assert.equal(channels, 0);
  } finally {
    await c.close();
  }
});
