#!/usr/bin/env node
// bindings/node/bench.js — call latency of example/hello's greet from Node.js beside the C figure of the same run,
// on the fast path and through plugbayd: one call at a time and 100 at once, and what a promise, a turn of the event
// loop and the hand-off to a pool thread and back cost by themselves. Usage: node bench.js [CALLS [ROUNDS]]
// [--results FILE] (after run-tests or build-addon.js); --results adds the figures to FILE as its "node_host" entry.
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const { execFileSync } = require('child_process');
const { Broker } = require('./test/broker');

const args = process.argv.slice(2);
const at = args.indexOf('--results'); // a JSON file (scripts/bench's bench/results.json) to add the figures to
const RESULTS = at >= 0 ? args.splice(at, 2)[1] : null;
const CALLS = Number(args[0] || 5000);
const ROUNDS = Number(args[1] || 7);
const BURST = 100;
const TREE = path.resolve(__dirname, '..', '..');
const BUILD = process.env.PLUGBAY_BUILD_DIR || path.join(TREE, 'build');

function stats(t) {
  t.sort((a, b) => a - b);
  return { p50: t[Math.floor(t.length / 2)], p99: t[Math.floor(t.length * 99 / 100)] };
}

// measure runs one call n times (a tenth more first, as warm-up) and gives p50/p99 in µs.
async function measure(n, once) {
  const t = [];
  for (let i = -Math.floor(n / 10); i < n; i++) {
    const t0 = process.hrtime.bigint();
    await once();
    if (i >= 0)
      t.push(Number(process.hrtime.bigint() - t0) / 1e3);
  }
  return stats(t);
}

// measureBurst runs n calls in bursts of BURST at once (Promise.all) and gives p50/p99 of a burst's time per call.
async function measureBurst(n, once) {
  const s = await measure(Math.max(10, Math.floor(n / BURST)), () => Promise.all(Array.from({ length: BURST }, once)));
  return { p50: s.p50 / BURST, p99: s.p99 / BURST };
}

function measureSync(n, once) {
  const t = [];
  for (let i = -Math.floor(n / 10); i < n; i++) {
    const t0 = process.hrtime.bigint();
    once();
    if (i >= 0)
      t.push(Number(process.hrtime.bigint() - t0) / 1e3);
  }
  return stats(t);
}

// cHost builds bench/c-host.c against the tree's libplugbay into dir and returns its path.
function cHost(dir) {
  const exe = path.join(dir, 'c-host');
  execFileSync('cc', ['-O2', '-o', exe, path.join(__dirname, 'bench', 'c-host.c'), `-I${path.join(TREE, 'include')}`,
    `-L${path.join(BUILD, 'lib')}`, `-Wl,-rpath,${path.join(BUILD, 'lib')}`, '-lplugbay']);
  return exe;
}

function cFigure(exe, url, fast, n) {
  const out = execFileSync(exe, [url, 'greet', 'bench', String(n)],
    { env: { ...process.env, PLUGBAY_FASTPATH: fast ? '1' : '0' }, encoding: 'utf8' });
  const [p50, p99] = out.trim().split(' ').map(Number);
  return { p50, p99 };
}

// The rows shown with their overhead over C's.
const OVER_C = { 'Node callSync': true, 'Node await call': true, 'Node 100 at once': true };

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

// Each figure is measured ROUNDS times, the hosts taking turns, and the median of the rounds' p50 (and p99) is
// printed with the best round's p50: on a shared machine a round can be slowed by others' work.
async function main() {
  const { connect } = require('.');
  const broker = new Broker(['example/hello']);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'plugbay-node-bench.'));
  await broker.start();
  const rows = [];
  try {
    const exe = cHost(dir);
    for (const fast of [true, false]) {
      process.env.PLUGBAY_FASTPATH = fast ? '1' : '0'; // libplugbay reads it at bay_connect
      const conn = await connect({ url: broker.url, name: 'bench-node' });
      const n = fast ? CALLS : Math.max(100, Math.floor(CALLS / 10));
      const got = { 'C bay_call': [], 'Node callSync': [], 'Node await call': [], 'Node 100 at once': [] };
      if (fast)
        Object.assign(got, { 'await resolved': [], 'setImmediate': [], 'hand-off': [] });
      for (let r = 0; r < ROUNDS; r++) {
        got['C bay_call'].push(cFigure(exe, broker.url, fast, n));
        got['Node callSync'].push(measureSync(n, () => conn.callSync('greet', ['bench'])));
        got['Node await call'].push(await measure(n, () => conn.call('greet', ['bench'])));
        got['Node 100 at once'].push(await measureBurst(n, () => conn.call('greet', ['bench'])));
        if (!fast)
          continue;
        // The parts of an await call that are not the call: a promise already resolved, a turn of the event loop,
        // and a pool thread's round trip (a call libplugbay refuses at once, its timeout being past what it takes;
        // the PlugbayError it rejects with is counted too).
        got['await resolved'].push(await measure(n, () => Promise.resolve()));
        got['setImmediate'].push(await measure(n, () => new Promise((resolve) => setImmediate(resolve))));
        got['hand-off'].push(await measure(n, () => conn.call('greet', [], { timeout: 0x7fffffff }).catch(() => {})));
      }
      for (const [host, list] of Object.entries(got))
        rows.push([fast ? 'fast path' : 'through plugbayd', host, n, {
          p50: median(list.map((s) => s.p50)), p99: median(list.map((s) => s.p99)),
          best: Math.min(...list.map((s) => s.p50)),
        }]);
      await conn.close();
    }
  } finally {
    await broker.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  console.log(`greet("bench") of example/hello, µs per call: median over ${ROUNDS} rounds of each round's p50 and p99, ` +
    `and the best round's p50 (load average ${os.loadavg()[0].toFixed(1)} on ${os.cpus().length} CPUs); ` +
    `"100 at once": a Promise.all of ${BURST} calls, its time divided by ${BURST}`);
  console.log('path               host             calls/round    p50      p99   best p50   p50 over C  best over C');
  const c = {};
  for (const [p, host, n, s] of rows) {
    if (host.startsWith('C'))
      c[p] = s;
    const d = (x) => `${x >= 0 ? '+' : ''}${x.toFixed(2)}`;
    const over = !(host in OVER_C) ? '' : `${d(s.p50 - c[p].p50).padStart(10)}  ${d(s.best - c[p].best).padStart(10)}`;
    console.log(`${p.padEnd(18)} ${host.padEnd(16)} ${String(n).padStart(8)} ${s.p50.toFixed(2).padStart(9)} ` +
      `${s.p99.toFixed(2).padStart(8)} ${s.best.toFixed(2).padStart(9)}  ${over}`);
  }
  if (RESULTS) {
    const results = fs.existsSync(RESULTS) ? JSON.parse(fs.readFileSync(RESULTS, 'utf8')) : {};
    results.node_host = {
      load_average: os.loadavg()[0],
      rows: rows.map(([p, host, n, s]) => ({ path: p, host, calls: n, p50_us: s.p50, p99_us: s.p99, best_p50_us: s.best,
        ...(host in OVER_C ? { p50_over_c_us: s.p50 - c[p].p50, best_over_c_us: s.best - c[p].best } : {}) })),
    };
    fs.writeFileSync(RESULTS, JSON.stringify(results, null, 2) + '\n');
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
