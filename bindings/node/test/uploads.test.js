// bindings/node/test/uploads.test.js — streamed input: conform/c's conform.upload fed with callUpload (1,000 chunks
// past the window, input and answer both ways at once, a provider that answered early, misuse: no input, ended
// twice, abandoned; abandoning by return() and the garbage collector, the deadline, back-pressure and send's
// timeout, an AbortSignal), and the event loop while a send waits for credit.
'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const v8 = require('v8');
const vm = require('vm');
const { connect, Stream, PlugbayError } = require('..');
const { Broker, waitFor, collect, stillAnswers } = require('./broker');

const CTX = 'conform/c';
// Through plugbayd, back-pressure is 64 chunks each way (windows); on a fast channel it is a 32 KiB ring each way,
// which holds 512 small chunks.
const FAST = process.env.PLUGBAY_FASTPATH !== '0';
const HELD = FAST ? 1100 : 200;
let broker, conn;
before(async () => {
  broker = new Broker(['conform/c']);
  await broker.start();
  conn = await connect({ url: broker.url, name: 'node-uploads' });
});
after(async () => {
  await conn?.close();
  await broker?.stop();
});

function upload(what, timeout = 60000, opts = {}) {
  return conn.callUpload('conform.upload', [what], { timeout, context: CTX, ...opts });
}



// fill sends 0, 1, ... to an echo upload nobody reads until a send finds no credit within 300 ms (the provider
// waits for its echoes to be read, and its input window is full); resolves how many went.
async function fill(s, most = HELD) {
  for (let i = 0; i < most; i++) {
    try {
      await s.send(i, { timeout: 300 });
    } catch (e) {
      assert.ok(e instanceof PlugbayError && e.code === 'BAY_EPENDING', String(e));
      assert.match(e.message, /took no more input within 300 ms/);
      return i;
    }
  }
  throw new Error(`${most} chunks went without back-pressure`);
}

test('a thousand chunks past the window are summed', async () => {
  const s = upload('sum');
  assert.ok(s instanceof Stream && !s.done);
  for (let i = 0; i < 1000; i++) // the provider's credit comes back as it takes them: 64 at a time at most
    await s.send(i);
  await s.end();
  assert.deepEqual(await collect(s), [{ chunks: 1000, sum: 499500, bytes: 0 }]);
  assert.ok(s.done);

  // Sends asked for together go in order, the end after them.
  const t = upload('sum');
  const sent = [];
  for (const chunk of ['héllo', Buffer.alloc(10), 5, -2])
    sent.push(t.send(chunk));
  sent.push(t.end());
  assert.deepEqual(await Promise.all(sent), [undefined, undefined, undefined, undefined, undefined]);
  assert.deepEqual(await collect(t), [{ chunks: 4, sum: 3, bytes: 16 }], "'héllo' is 6 bytes of UTF-8");
});

test('input and answer go both ways at once', async () => {
  const s = upload('echo'); // turn by turn
  for (let i = 0; i < 300; i++) {
    await s.send(i * 7);
    assert.deepEqual(await s.next(), { value: i * 7, done: false }, `echo ${i}`);
  }
  await s.send(Buffer.from('bytes'));
  await s.send({ a: [1, null] });
  assert.deepEqual([(await s.next()).value, (await s.next()).value], [Buffer.from('bytes'), { a: [1, null] }]);
  await s.end();
  assert.deepEqual(await collect(s), []);

  // Sending and reading at once: both windows filled and emptied many times.
  const t = upload('echo');
  const sending = (async () => {
    for (let i = 0; i < 2000; i++)
      await t.send(i);
    await t.end();
  })();
  const got = await collect(t);
  await sending;
  assert.deepEqual(got, Array.from({ length: 2000 }, (_, i) => i));
});

test('input to a provider that answered early is refused with BAY_ESTATE', async () => {
  const s = upload('early', 20000);
  await s.send(1);
  const refused = await waitFor(async () => {
    try {
      await s.send(2); // credit is left: sends go until the answer came back
      return null;
    } catch (e) {
      return e;
    }
  }, 'a send refused once the provider answered');
  assert.ok(refused instanceof PlugbayError && refused.code === 'BAY_ESTATE' && refused.errno === 14, String(refused));
  assert.match(refused.message, /ended before its input did/);
  assert.deepEqual(await collect(s), ['early'], 'the answer is read all the same');
  await assert.rejects(s.send(3), (e) => e.code === 'BAY_ESTATE' && /ended before its input did/.test(e.message));
  await s.end(); // nothing waits for input any more: nothing to do
  await assert.rejects(s.send(4), (e) => e.code === 'BAY_EINVAL' && /had its input ended/.test(e.message));
});

test('misuse is refused with clear errors', async () => {
  const plain = conn.callStream('conform.stream', [3, 0], { timeout: 20000, context: CTX });
  await assert.rejects(plain.send(1), (e) => e instanceof PlugbayError && e.code === 'BAY_EINVAL' &&
    /takes no input; start the call with callUpload/.test(e.message));
  await assert.rejects(plain.end(), (e) => e.code === 'BAY_EINVAL');
  assert.deepEqual(await collect(plain), [0, 1, 2], 'the stream is unharmed');

  const s = upload('sum', 20000);
  await s.send(1);
  await s.end();
  await assert.rejects(s.end(), (e) => e instanceof PlugbayError && e.code === 'BAY_EINVAL' &&
    /had its input ended/.test(e.message));
  await assert.rejects(s.send(2), (e) => e.code === 'BAY_EINVAL');
  assert.deepEqual(await collect(s), [{ chunks: 1, sum: 1, bytes: 0 }]);
  await assert.rejects(s.end(), (e) => e.code === 'BAY_EINVAL', 'still, after the answer');

  const t = upload('sum', 20000);
  await assert.rejects(t.send(() => 1), (e) => e instanceof TypeError && /chunk: a function cannot cross/.test(e.message));
  for (const timeout of [-1, 1.5, '1'])
    await assert.rejects(t.send(1, { timeout }), RangeError);
  await t.send(2); // the refused ones left the upload going
  await t.end();
  assert.deepEqual(await collect(t), [{ chunks: 1, sum: 2, bytes: 0 }]);

  const u = upload('sum', 20000);
  await u.return();
  await assert.rejects(u.send(1), (e) => e.code === 'BAY_ESTATE' && /was abandoned/.test(e.message));
  await u.end(); // abandoned: nothing waits for input
  assert.deepEqual(await u.next(), { value: undefined, done: true });

  const none = conn.callUpload('no.such.upload');
  await assert.rejects(none.next(), (e) => e.code === 'BAY_ENOENT' && /no\.such\.upload/.test(e.message));
  assert.throws(() => conn.callUpload('conform.upload', 'sum'), TypeError);
  assert.throws(() => conn.callUpload(''), TypeError);
  assert.throws(() => conn.callUpload('conform.upload', ['sum'], { timeout: -1 }), RangeError);
});

test('an abandoned upload stops its provider', async () => {
  const s = upload('sum');
  for (let i = 0; i < 10; i++)
    await s.send(i);
  await s.return(); // left unended: the provider waits for input, then is cancelled
  assert.ok(s.done);
  await stillAnswers(conn, CTX);

  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc');
  await (async () => {
    const t = upload('sum');
    await t.send(1);
  })();
  await waitFor(async () => {
    gc();
    await new Promise((r) => setTimeout(r, 20));
    return (await conn.info('conform/c')).inflight === 0;
  }, 'the collected upload to be abandoned');
  await stillAnswers(conn, CTX);
});

test('an upload never ended rejects with BAY_ETIMEDOUT at its deadline', async () => {
  const t0 = Date.now();
  const s = upload('sum', 800);
  await s.send(1); // and no end
  await assert.rejects(s.next(), (e) => e instanceof PlugbayError && e.code === 'BAY_ETIMEDOUT');
  const took = Date.now() - t0;
  assert.ok(took >= 700 && took < 10000, `the deadline of 800 ms ended the upload after ${took} ms`);
  await assert.rejects(s.send(2), (e) => e.code === 'BAY_ESTATE');
  await stillAnswers(conn, CTX);
});

test('back-pressure: a send waits for credit on a pool thread while the event loop runs', async () => {
  const s = upload('echo');
  const n = await fill(s);
  // The provider holds 64 echoes unread and waits to emit the next; its input window holds 64 more (or a ring's worth).
  assert.ok(n > 64 && n < HELD, `${n} chunks went before the provider's windows filled`);
  await assert.rejects(s.send(n, { timeout: 0 }), (e) => e.code === 'BAY_EPENDING');
  let ticks = 0;
  const timer = setInterval(() => ticks++, 5);
  const waiting = s.send(n); // waits for credit on a pool thread
  await new Promise((r) => setTimeout(r, 300));
  clearInterval(timer);
  assert.ok(ticks >= 10, `only ${ticks} timer turns ran while the send waited`);
  for (let i = 0; i < 100; i++) // reading lets the provider take more
    assert.deepEqual(await s.next(), { value: i, done: false });
  await waiting;
  for (let i = n + 1; i < n + 50; i++)
    await s.send(i, { timeout: 10000 });
  await s.end();
  assert.deepEqual(await collect(s), Array.from({ length: n + 50 - 100 }, (_, i) => i + 100));
});

test('a send without timeout waits until the call\'s deadline', async () => {
  const s = upload('echo', 1500);
  const n = await fill(s);
  const t0 = Date.now();
  await assert.rejects(s.send(n), (e) => e instanceof PlugbayError && e.code === 'BAY_ESTATE' &&
    /ended before its input did/.test(e.message));
  const took = Date.now() - t0;
  assert.ok(took > 300 && took < 5000, `the send waited ${took} ms`);
  const got = [];
  await assert.rejects(async () => {
    for await (const chunk of s)
      got.push(chunk);
  }, (e) => e.code === 'BAY_ETIMEDOUT');
  assert.ok(got.every((c, i) => c === i));
  await stillAnswers(conn, CTX);
});

test('return(), cancel() or an AbortSignal end a waiting send', async () => {
  const s = upload('echo');
  const n = await fill(s);
  const waiting = s.send(n);
  const queued = s.send(n + 1);
  await new Promise((r) => setTimeout(r, 200));
  const t0 = Date.now();
  await s.return();
  await assert.rejects(waiting, (e) => e.code === 'BAY_ESTATE');
  await assert.rejects(queued, (e) => e.code === 'BAY_ESTATE' && /was abandoned/.test(e.message));
  assert.ok(Date.now() - t0 < 2000, `the waiting send ended ${Date.now() - t0} ms after return()`);
  await stillAnswers(conn, CTX);

  const ac = new AbortController();
  const t = upload('echo', 60000, { signal: ac.signal });
  const m = await fill(t);
  const aborted = t.send(m);
  setTimeout(() => ac.abort(), 200);
  await assert.rejects(aborted, (e) => e.code === 'BAY_ESTATE' && /cancel/i.test(e.message));
  const got = [];
  await assert.rejects(async () => {
    for await (const chunk of t)
      got.push(chunk);
  }, (e) => e.code === 'BAY_ECANCELED');
  assert.ok(got.every((c, i) => c === i));
  await stillAnswers(conn, CTX);

  const before = conn.callUpload('conform.upload', ['sum'], { context: CTX, signal: AbortSignal.abort() });
  await assert.rejects(before.send(1), (e) => e.code === 'BAY_ECANCELED' && /before it started/.test(e.message));
  await assert.rejects(before.next(), (e) => e.code === 'BAY_ECANCELED');
});

test('closing the connection ends its uploads; a closed one refuses new ones', async () => {
  const other = await connect({ url: broker.url, name: 'node-upload-leaver' });
  const s = other.callUpload('conform.upload', ['echo'], { timeout: 60000, context: CTX });
  await s.send(1);
  assert.deepEqual(await s.next(), { value: 1, done: false });
  await other.close();
  await assert.rejects(collect(s), (e) => e instanceof PlugbayError && e.code === 'BAY_ECONN');
  await assert.rejects(other.callUpload('conform.upload', ['sum'], { context: CTX }).send(1),
    (e) => e.code === 'BAY_ECONN' && /closed by close\(\)/.test(e.message));
  await stillAnswers(conn, CTX);
});

// An END sent before the provider took the call (held in plugbayd, or queued in its worker) is kept for it.
test('an upload ended without input answers', async () => {
  for (let i = 0; i < 10; i++) {
    const s = upload('sum', 2000);
    await s.end(); // no input at all
    assert.deepEqual(await collect(s), [{ chunks: 0, sum: 0, bytes: 0 }]);
  }
});
