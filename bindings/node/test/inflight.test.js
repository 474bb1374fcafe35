// bindings/node/test/inflight.test.js — calls in flight: many at once with mixed outcomes, one at a time, an abort
// among many, close with calls pending, and the event loop running while a call waits.
'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { connect, PlugbayError } = require('..');
const { Broker, waitFor } = require('./broker');

let broker, conn;
before(async () => {
  broker = new Broker(['example/hello', 'lua/basic', 'test/slow']);
  await broker.start();
  conn = await connect({ url: broker.url, name: 'node-inflight' });
});
after(async () => {
  await conn?.close();
  await broker?.stop();
});

test('1000 calls in flight each settle with their own outcome: values and the right errors', async () => {
  const calls = Array.from({ length: 1000 }, (_, i) =>
    i % 10 === 3 ? { name: 'lua.fail', args: [`x${i}`], code: 'BAY_EPLUGIN', plugin: 'lua/basic', message: `boom: x${i}` }
      : i % 10 === 7 ? { name: `no.such.${i}`, args: [], code: 'BAY_ENOENT', plugin: '', message: `no.such.${i}` }
        : { name: 'greet', args: [`n${i}`], value: `Hello, n${i}!` });
  const got = await Promise.allSettled(calls.map((c) => conn.call(c.name, c.args)));
  got.forEach((g, i) => {
    const want = calls[i];
    if (want.value !== undefined) {
      assert.equal(g.status, 'fulfilled', `call ${i}: ${g.reason}`);
      assert.equal(g.value, want.value);
    } else {
      assert.equal(g.status, 'rejected', `call ${i} should have failed`);
      assert.ok(g.reason instanceof PlugbayError, `call ${i}: ${g.reason}`);
      assert.equal(g.reason.code, want.code, `call ${i}: ${g.reason.message}`);
      assert.equal(g.reason.plugin, want.plugin);
      assert.ok(g.reason.message.includes(want.message), `call ${i}: ${g.reason.message}`);
    }
  });
});

test('lone calls one after another settle right, values and errors alike', async () => {
  // One at a time, a fast-path call may be settled on the JavaScript thread before call() returns.
  for (let i = 0; i < 200; i++) {
    if (i % 3 === 2)
      await assert.rejects(conn.call('slow.sleep', [`x${i}`]), (e) => e instanceof PlugbayError &&
        e.code === 'BAY_ETYPE' && e.plugin === 'test/slow');
    else
      assert.equal(await conn.call('greet', [`l${i}`]), `Hello, l${i}!`);
  }
});

test('the event loop runs while a call waits for its answer', async () => {
  let answered = false;
  const p = conn.call('slow.sleep', [300], { timeout: 5000 }).then((v) => { answered = true; return v; });
  let ticks = 0;
  while (!answered && ticks < 1000) { // timers fire many times during the 300 ms sleep
    await new Promise((resolve) => setTimeout(resolve, 5));
    ticks++;
  }
  assert.equal(await p, 300);
  assert.ok(ticks >= 10, `only ${ticks} timer turns ran during the call`);
});

test('an abort among many calls in flight cancels that call only', async () => {
  const ac = new AbortController();
  const slow = conn.call('slow.sleep', [10000], { signal: ac.signal, timeout: 20000 });
  const others = Array.from({ length: 200 }, (_, i) => conn.call('greet', [`a${i}`]));
  await waitFor(async () => (await conn.info('test/slow')).inflight > 0, 'the slow call to start');
  ac.abort();
  await assert.rejects(slow, (e) => e instanceof PlugbayError && e.code === 'BAY_ECANCELED' && e.plugin === 'test/slow');
  assert.deepEqual(await Promise.all(others), others.map((_, i) => `Hello, a${i}!`));
  assert.equal(await conn.call('slow.sleep', [1], { timeout: 2000 }), 1, 'the plugin saw the cancel and serves on');
});

test('close with calls pending: calls without a signal end normally, a call with one rejects with BAY_ECONN', async () => {
  const c = await connect({ url: broker.url, name: 'node-closing' });
  const plain = Array.from({ length: 50 }, (_, i) => c.call('greet', [`c${i}`]));
  const slow = c.call('slow.sleep', [10000], { signal: new AbortController().signal, timeout: 20000 });
  await waitFor(async () => (await conn.info('test/slow')).inflight > 0, 'the slow call to start');
  const slowFails = assert.rejects(slow, (e) => e instanceof PlugbayError && e.code === 'BAY_ECONN' &&
    /closed by bay_close/.test(e.message));
  const t0 = Date.now();
  await c.close();
  await slowFails;
  assert.ok(Date.now() - t0 < 5000, `close took ${Date.now() - t0} ms`);
  assert.deepEqual(await Promise.all(plain), plain.map((_, i) => `Hello, c${i}!`));
  await assert.rejects(c.call('greet', ['late']), (e) => e.code === 'BAY_ECONN');
  // plugbayd cancelled the closed host's call at the plugin: its worker answers the next call at once.
  assert.equal(await conn.call('slow.sleep', [1], { timeout: 3000 }), 1);
});
