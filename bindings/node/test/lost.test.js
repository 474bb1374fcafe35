// bindings/node/test/lost.test.js — plugbayd going away: requests fail with BAY_ECONN, close still ends, nothing hangs.
'use strict';
const { test } = require('node:test');
const assert = require('node:assert/strict');
const { connect } = require('..');
const { Broker, waitFor } = require('./broker');

test('when plugbayd dies, calls reject with BAY_ECONN "lost" and close() still ends', async () => {
  const broker = new Broker(['example/hello', 'test/slow']);
  try {
    await broker.start();
    const conn = await connect({ url: broker.url, name: 'node-lost' });
    await conn.provide('js.one', () => 1);
    assert.equal(await conn.call('greet', ['x']), 'Hello, x!');
    const slow = conn.call('slow.sleep', [10000], { timeout: 20000, signal: new AbortController().signal });
    await waitFor(async () => (await conn.info('test/slow')).inflight > 0, 'the slow call to start');
    const slowFails = assert.rejects(slow, (e) => e.code === 'BAY_ECONN' && /lost/.test(e.message));
    broker.proc.kill('SIGKILL');
    await broker.exited;
    await slowFails;
    await assert.rejects(conn.call('greet', ['y']), (e) => e.code === 'BAY_ECONN' && /lost/.test(e.message));
    assert.throws(() => conn.callSync('greet', ['z']), (e) => e.code === 'BAY_ECONN');
    await conn.close();
  } finally {
    await broker.stop();
  }
});
