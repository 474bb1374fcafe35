// bindings/node/test/values.test.js — every value kind crosses to C, Lua and Python plugins and back; values that cannot cross fail clearly.
'use strict';
const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { connect, PlugbayError } = require('..');
const { Broker } = require('./broker');

let broker, conn;
before(async () => {
  broker = new Broker(['example/hello', 'test/slow', 'lua/basic', 'python/escapes']);
  await broker.start();
  conn = await connect({ url: broker.url, name: 'node-values' });
});
after(async () => {
  await conn?.close();
  await broker?.stop();
});

const every = [
  null, true, false, 0, -1, 42, 2 ** 53, -(2 ** 53), 2.5, -0.125, 1e300, 2 ** 60 + 0.5,
  'text', '', 'ünïcødé ✓ 日本', Buffer.from([0, 1, 2, 255]), Buffer.alloc(0),
  [], [1, 'two', [3, [4]]], {}, { a: 1, nested: { list: [1, 2.5, 'x'], empty: {} } },
];

test('C plugin echoes every value kind unchanged', async () => {
  assert.deepEqual(await conn.call('slow.echo', every), every);
});

test('Lua plugin echoes every value kind unchanged', async () => {
  // Lua strings are bytes: its bridge sends one back as bin only when it is not UTF-8, so '' stays ''.
  for (const v of every.filter((x) => !(Buffer.isBuffer(x) && x.length === 0)))
    assert.deepEqual(await conn.call('lua.echo', [v]), v, `lua.echo(${String(v)})`);
});

test('Python plugin echoes every value kind unchanged', async () => {
  assert.deepEqual(await conn.call('py.echo', every), every);
});

test('integers beyond 2^53 come back as BigInt, BigInt in int64 goes as an int', async () => {
  const big = [2n ** 62n, -(2n ** 63n), 2n ** 63n - 1n];
  assert.deepEqual(await conn.call('slow.echo', big), big);
  assert.deepEqual(await conn.call('slow.echo', [5n]), [5]); // within 2^53: a number
  assert.deepEqual(await conn.call('slow.echo', [2n ** 53n + 1n]), [2n ** 53n + 1n]);
  await assert.rejects(conn.call('py.big'), (e) => e.code === 'BAY_ETYPE' && e.plugin === 'python/escapes' &&
    /beyond 64 bits/.test(e.message));
});

test('a Uint8Array and undefined cross as bin and nil; numbers past 2^53 as float', async () => {
  const [bin, nil, float] = await conn.call('slow.echo', [new Uint8Array([7, 8]), undefined, 2 ** 53 + 2]);
  assert.deepEqual(bin, Buffer.from([7, 8]));
  assert.equal(nil, null);
  assert.equal(float, 2 ** 53 + 2);
  assert.deepEqual(await conn.call('lua.types', [1, 1.5, 2 ** 53 * 4]), ['integer', 'float', 'float']);
});

test('a map key "__proto__" comes back as an own key', async () => {
  const v = JSON.parse('{"__proto__": 1, "b": 2}');
  const back = await conn.call('slow.echo', [v]);
  assert.equal(Object.getPrototypeOf(back[0]), Object.prototype);
  assert.deepEqual(Object.keys(back[0]), ['__proto__', 'b']);
});

test('values that cannot cross fail with an error naming their path, and the connection serves on', async () => {
  const cyclic = { a: [] };
  cyclic.a.push(cyclic);
  const cases = [
    [[() => 1], TypeError, /^args\[0\]: a function cannot cross/],
    [[{ s: Symbol('x') }], TypeError, /^args\[0\]\.s: a symbol cannot cross/],
    [[cyclic], TypeError, /^args\[0\]\.a\[0\]: a cycle/],
    [[1, [2n ** 64n]], RangeError, /^args\[1\]\[0\]: BigInt 18446744073709551616 does not fit a 64-bit signed int/],
    [[{ d: new Date(0) }], TypeError, /^args\[0\]\.d: a Date cannot cross/],
    [[new Map()], TypeError, /^args\[0\]: a Map cannot cross/],
    [[new Float64Array(2)], TypeError, /^args\[0\]: only a Buffer or Uint8Array/],
  ];
  for (const [args, type, message] of cases) {
    await assert.rejects(conn.call('slow.echo', args), (e) => e instanceof type && message.test(e.message));
    assert.throws(() => conn.callSync('slow.echo', args), (e) => e instanceof type && message.test(e.message));
  }
  await assert.rejects(conn.call('slow.echo', 'not an array'), TypeError);
  assert.deepEqual(await conn.call('slow.echo', [1]), [1]);
});

test('a plugin result that cannot cross fails in the plugin, not here', async () => {
  await assert.rejects(conn.call('lua.bad_result'), (e) => e instanceof PlugbayError && e.plugin === 'lua/basic');
  assert.deepEqual(await conn.call('lua.echo', ['still here']), 'still here');
});
