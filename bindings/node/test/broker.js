// bindings/node/test/broker.js — starts a real plugbayd for the tests, with copies of built plugins, as tests/e2e/harness.c does.
'use strict';
const fs = require('fs');
const assert = require('node:assert/strict');
const os = require('os');
const path = require('path');
const { spawn, execFile } = require('child_process');
const { connect } = require('..');

const TREE = path.resolve(__dirname, '..', '..', '..');
const BUILD = process.env.PLUGBAY_BUILD_DIR || path.join(TREE, 'build');
const BIN = path.join(BUILD, 'bin');
const ROOTS = [path.join(BUILD, 'test-plugins'), path.join(BUILD, 'plugins')];
const WAIT_MS = 30000;

// waitFor polls cond (may be async) until it returns a truthy value or ms pass; no fixed sleeps.
async function waitFor(cond, what, ms = WAIT_MS) {
  const until = Date.now() + ms;
  let last;
  for (let delay = 5; ; delay = Math.min(delay * 2, 100)) {
    try {
      const v = await cond();
      if (v)
        return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > until)
      throw new Error(`waited ${ms} ms for ${what}${last ? `; last error: ${last.message}` : ''}`);
    await new Promise((r) => setTimeout(r, delay));
  }
}

function copyPlugin(plugins, id) {
  for (const root of ROOTS) {
    const src = path.join(root, id);
    if (!fs.existsSync(src))
      continue;
    const dst = path.join(plugins, id);
    fs.mkdirSync(dst, { recursive: true });
    for (const f of fs.readdirSync(src))
      if (f !== 'plugin.json')
        fs.cpSync(path.join(src, f), path.join(dst, f), { recursive: true });
    fs.copyFileSync(path.join(src, 'plugin.json'), path.join(dst, 'plugin.json')); // last: a whole plugin is found
    return;
  }
  throw new Error(`plugin ${id} was not built (looked in ${ROOTS.join(' and ')}); run scripts/build`);
}

// Broker is one plugbayd in a temporary folder, with the plugins ids copied in and installed.
class Broker {
  constructor(ids) {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'plugbay-node.'));
    this.plugins = path.join(this.dir, 'plugins');
    this.state = path.join(this.dir, 'state');
    this.log = path.join(this.dir, 'plugbayd.log');
    this.url = `ipc://${this.state}/plugbayd.sock`;
    this.ids = ids;
    fs.mkdirSync(this.plugins, { recursive: true });
    for (const id of ids)
      copyPlugin(this.plugins, id);
  }

  // start runs plugbayd and waits until every plugin is loaded.
  async start() {
    this.proc = spawn(path.join(BIN, 'plugbayd'), ['--plugins', this.plugins, '--state', this.state, '--log', this.log,
      '--heartbeat-ms', '500', '--hang-grace-ms', '1000', '--exit-with-parent', '--start-timeout-ms', '60000',
      '--autoinstall'], { stdio: 'ignore' });
    this.exited = new Promise((resolve) => this.proc.on('exit', (code, sig) => resolve({ code, sig })));
    const c = await waitFor(() => connect({ url: this.url, name: 'wait' }), 'plugbayd to answer');
    try {
      await waitFor(async () => {
        const list = await c.list();
        const loaded = new Set(list.filter((p) => p.state === 'loaded').map((p) => p.id));
        return this.ids.every((id) => loaded.has(id));
      }, `plugins ${this.ids.join(', ')} to load`);
    } finally {
      await c.close();
    }
  }

  // cli runs build/bin/plugbay against this broker and resolves {code, stdout, stderr}.
  cli(...args) {
    return new Promise((resolve) => {
      execFile(path.join(BIN, 'plugbay'), ['--broker', this.url, ...args], { env: { ...process.env, PLUGBAY_FASTPATH: '0' } },
        (err, stdout, stderr) => resolve({ code: err ? err.code : 0, stdout, stderr }));
    });
  }

  logTail() {
    try {
      return fs.readFileSync(this.log, 'utf8').split('\n').slice(-40).join('\n');
    } catch {
      return '';
    }
  }

  async stop() {
    if (this.proc && this.proc.exitCode === null && this.proc.signalCode === null) {
      this.proc.kill('SIGTERM');
      await this.exited;
    }
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

// collect reads stream s to its end and returns its chunks.
async function collect(s) {
  const got = [];
  for await (const chunk of s)
    got.push(chunk);
  return got;
}

// stillAnswers checks that conform/c serves no call any more and answers conn's next one in context ctx: an endless
// stream, or an upload, it was serving has stopped.
async function stillAnswers(conn, ctx) {
  await waitFor(async () => (await conn.info('conform/c')).inflight === 0, 'conform/c with no call in flight');
  assert.equal(await conn.call('conform.echo', ['still here'], { context: ctx, timeout: 20000 }), 'still here');
}

module.exports = { Broker, waitFor, collect, stillAnswers, BIN, TREE };
