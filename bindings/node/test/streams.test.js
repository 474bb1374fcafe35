// bindings/node/test/streams.test.js — streamed answers: conform/c's conform.stream read with callStream and
// `for await` (chunks in order, gathered by a plain call, calls between reads, an error after chunks, a deadline,
// abandoning by break, return(), cancel(), an AbortSignal and the garbage collector, bad arguments), and the event
// loop while a read waits.
'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const v8 = require('v8');
const vm = require('vm');
const { connect, Stream, PlugbayError } = require('..');
const { Broker, waitFor, collect, stillAnswers } = require('./broker');

const CTX = 'conform/c';
let broker, conn, server;
before(async () => {
  broker = new Broker(['conform/c']);
  await broker.start();
  conn = await connect({ url: broker.url, name: 'node-streams' });
  server = await connect({ url: broker.url, name: 'node-late' });
  // js.late(ms) answers 'late' after ms: a provider that does not stream, whose one chunk is waited for.
  await server.provide('js.late', async (ms) => { await new Promise((r) => setTimeout(r, ms)); return 'late'; });
});
after(async () => {
  await server?.close();
  await conn?.close();
  await broker?.stop();
});

function stream(args, timeout = 20000) {
  return conn.callStream('conform.stream', args, { timeout, context: CTX });
}



test('chunks arrive in order, then the end, which stays the end', async () => {
  const s = stream([5, 0, 'last']);
  assert.ok(s instanceof Stream && !s.done);
  assert.deepEqual(await collect(s), [0, 1, 2, 3, 4, 'last']);
  assert.ok(s.done);
  assert.deepEqual(await s.next(), { value: undefined, done: true });
  assert.deepEqual(await collect(stream([3, 0])), [0, 1, 2], 'a nil last value is no chunk');
  assert.deepEqual(await collect(stream([0, 0])), []);
  // Reads asked for together are answered in order.
  const t = stream([3, 0]);
  assert.deepEqual(await Promise.all([t.next(), t.next(), t.next(), t.next()]),
    [{ value: 0, done: false }, { value: 1, done: false }, { value: 2, done: false }, { value: undefined, done: true }]);
});

test('binary chunks past several windows arrive whole and in order', async () => {
  let i = 0;
  for await (const chunk of stream([300, 4096], 60000)) {
    assert.ok(Buffer.isBuffer(chunk) && chunk.length === 4096, `chunk ${i}`);
    assert.ok(chunk.equals(Buffer.alloc(4096, i % 256)), `chunk ${i} out of order`);
    i++;
  }
  assert.equal(i, 300);
});

test('a plain call gathers what a stream gives chunk by chunk', async () => {
  assert.deepEqual(await conn.call('conform.stream', [4, 0, 'last'], { context: CTX }), [0, 1, 2, 3, 'last']);
  assert.deepEqual(await collect(stream([4, 0, 'last'])), [0, 1, 2, 3, 'last']);
  assert.deepEqual(await conn.call('conform.stream', [2, 3], { context: CTX }), [Buffer.from([0, 0, 0]), Buffer.from([1, 1, 1])]);
  assert.deepEqual(await collect(stream([2, 3])), [Buffer.from([0, 0, 0]), Buffer.from([1, 1, 1])]);
});

test('calls to the same plugin between a stream\'s reads answer', async () => {
  const echoed = [];
  for await (const chunk of stream([5, 0, 'last']))
    echoed.push(await conn.call('conform.echo', [chunk], { context: CTX, timeout: 20000 }));
  assert.deepEqual(echoed, [0, 1, 2, 3, 4, 'last']);
});

test('an error after chunks rejects after them, with code, plugin and message', async () => {
  const s = stream([2, 0, 'error']);
  const got = [];
  await assert.rejects(async () => {
    for await (const chunk of s)
      got.push(chunk);
  }, (e) => e instanceof PlugbayError && e.code === 'BAY_EIO' && e.errno === 19 && e.plugin === 'conform/c' &&
    /conform\/c failed after 2 chunks/.test(e.message));
  assert.deepEqual(got, [0, 1]);
  assert.ok(s.done);
  assert.deepEqual(await s.next(), { value: undefined, done: true });
  await assert.rejects(conn.call('conform.stream', [2, 0, 'error'], { context: CTX }), (e) => e.code === 'BAY_EIO');
});

test('a stream that never ends rejects with BAY_ETIMEDOUT at its deadline, and the plugin serves on', async () => {
  const t0 = Date.now();
  const got = [];
  await assert.rejects(async () => {
    for await (const chunk of stream([-1, 0], 800))
      got.push(chunk);
  }, (e) => e instanceof PlugbayError && e.code === 'BAY_ETIMEDOUT');
  const took = Date.now() - t0;
  assert.ok(got.length > 0 && got.every((c, i) => c === i), 'chunks in order before the deadline');
  assert.ok(took >= 700 && took < 10000, `the deadline of 800 ms cut the stream after ${took} ms`);
  await stillAnswers(conn, CTX);
});

test('break out of for await abandons the stream, and the plugin serves on', async () => {
  const s = stream([-1, 1024], 60000);
  let i = 0;
  for await (const chunk of s) {
    assert.ok(chunk.equals(Buffer.alloc(1024, i % 256)), `chunk ${i}`);
    if (++i === 200) // past several windows: credit flowed
      break;
  }
  assert.ok(s.done);
  assert.deepEqual(await s.next(), { value: undefined, done: true });
  await stillAnswers(conn, CTX);
});

test('return() abandons a stream never read, and a read waiting for its chunk ends with done', async () => {
  const s = stream([-1, 0], 60000);
  assert.deepEqual(await s.return(), { value: undefined, done: true });
  await stillAnswers(conn, CTX);

  const late = conn.callStream('js.late', [3000], { timeout: 10000 });
  const waiting = late.next();
  await new Promise((r) => setTimeout(r, 200));
  const t0 = Date.now();
  await late.return();
  assert.deepEqual(await waiting, { value: undefined, done: true });
  assert.ok(Date.now() - t0 < 2000, `the waiting read ended ${Date.now() - t0} ms after return()`);
});

test('cancel() and an AbortSignal end the stream with BAY_ECANCELED after its chunks', async () => {
  const s = stream([-1, 0], 60000);
  assert.deepEqual(await s.next(), { value: 0, done: false });
  s.cancel();
  const got = [0];
  await assert.rejects(async () => {
    for await (const chunk of s)
      got.push(chunk);
  }, (e) => e instanceof PlugbayError && e.code === 'BAY_ECANCELED');
  assert.ok(got.every((c, i) => c === i));
  await stillAnswers(conn, CTX);

  const ac = new AbortController();
  const t = conn.callStream('conform.stream', [-1, 0], { timeout: 60000, context: CTX, signal: ac.signal });
  let n = 0;
  await assert.rejects(async () => {
    for await (const chunk of t) {
      assert.equal(chunk, n);
      if (++n === 10)
        ac.abort();
    }
  }, (e) => e.code === 'BAY_ECANCELED');
  await stillAnswers(conn, CTX);
  const aborted = conn.callStream('conform.stream', [1, 0], { context: CTX, signal: AbortSignal.abort() });
  await assert.rejects(aborted.next(), (e) => e.code === 'BAY_ECANCELED' && /before it started/.test(e.message));
});

test('a stream dropped unfinished is abandoned when the garbage collector takes it', async () => {
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc');
  const restarts = (await conn.info('conform/c')).restarts;
  let collected = false;
  const registry = new FinalizationRegistry(() => { collected = true; });
  await (async () => {
    const s = stream([-1, 0], 60000);
    registry.register(s, 'the stream');
    for (let i = 0; i < 100; i++)
      assert.deepEqual(await s.next(), { value: i, done: false });
  })();
  await waitFor(async () => {
    gc();
    await new Promise((r) => setTimeout(r, 20));
    return collected;
  }, 'the dropped stream to be collected');
  // Its native half is freed by a finalizer that runs after the collection. Until then the worker waits to write
  // the next chunk and serves no one, so an answer within the call's deadline shows the stream was stopped (the
  // call does not wait for the fast channel the stream holds: it goes through plugbayd meanwhile).
  await stillAnswers(conn, CTX);
  assert.equal((await conn.info('conform/c')).restarts, restarts, 'the worker stopped the stream itself');
});

test('wrong arguments: the plugin refuses them in the first read, the binding refuses its own at once', async () => {
  await assert.rejects(stream(['three', 0]).next(), (e) => e instanceof PlugbayError && e.code === 'BAY_ETYPE' &&
    e.plugin === 'conform/c' && /conform\.stream: argument 1 must be int, got str/.test(e.message));
  await assert.rejects(collect(stream([1, -1])), (e) => e.code === 'BAY_EINVAL' && /size must be 0 to 8 MiB/.test(e.message));
  await assert.rejects(conn.callStream('no.such.stream').next(), (e) => e.code === 'BAY_ENOENT' &&
    /no\.such\.stream/.test(e.message));
  assert.throws(() => conn.callStream('conform.stream', 3), TypeError);
  assert.throws(() => conn.callStream('conform.stream', [() => 1]), (e) => e instanceof TypeError &&
    /args\[0\]: a function cannot cross/.test(e.message));
  assert.throws(() => conn.callStream(''), TypeError);
  assert.throws(() => conn.callStream('conform.stream', [1, 0], { timeout: -1 }), RangeError);
  assert.throws(() => conn.callStream('conform.stream', [1, 0], { context: 5 }), TypeError);
});

test('the event loop runs while a read waits for its chunk', async () => {
  let ticks = 0;
  const timer = setInterval(() => ticks++, 5);
  try {
    assert.deepEqual(await collect(conn.callStream('js.late', [300])), ['late']);
  } finally {
    clearInterval(timer);
  }
  assert.ok(ticks >= 10, `only ${ticks} timer turns ran while the stream waited`);
});

test('closing the connection ends its streams with BAY_ECONN; a closed one refuses new ones', async () => {
  const other = await connect({ url: broker.url, name: 'node-stream-leaver' });
  const s = other.callStream('conform.stream', [-1, 0], { timeout: 60000, context: CTX });
  assert.deepEqual(await s.next(), { value: 0, done: false });
  await other.close();
  await assert.rejects(collect(s), (e) => e instanceof PlugbayError && e.code === 'BAY_ECONN');
  await assert.rejects(other.callStream('conform.stream', [1, 0], { context: CTX }).next(),
    (e) => e.code === 'BAY_ECONN' && /closed by close\(\)/.test(e.message));
  await stillAnswers(conn, CTX);
});
