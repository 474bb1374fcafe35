// bindings/node/lib/index.js — plugbay for Node.js: a host's connection to plugbayd, over libplugbay's native addon.
'use strict';
const path = require('path');

const native = require(process.env.PLUGBAY_NODE_ADDON || path.join(__dirname, '..', 'build', 'Release', 'plugbay.node'));

// PlugbayError is what every failure of plugbay rejects with: .code is the
// symbolic name ('BAY_ENOENT'), .errno the number, .plugin who failed
// ('example/hello', 'host:NAME', or '').
class PlugbayError extends Error {
  constructor(code, message, plugin = '', errno = undefined) {
    super(message);
    this.name = 'PlugbayError';
    this.code = code;
    this.errno = errno === undefined ? (CODES[code] ?? 0) : errno;
    this.plugin = plugin;
  }
}

// The BAY_E codes of <plugbay/error.h>.
const CODES = Object.freeze({
  BAY_EINVAL: 1, BAY_ENOMEM: 2, BAY_EPROTO: 3, BAY_EVERSION: 4, BAY_ENOENT: 5, BAY_ENOPROVIDER: 6,
  BAY_ETIMEDOUT: 7, BAY_ECANCELED: 8, BAY_ECRASHED: 9, BAY_EUNAVAIL: 10, BAY_EPLUGIN: 11, BAY_ECONN: 12,
  BAY_EMANIFEST: 13, BAY_ESTATE: 14, BAY_EEXIST: 15, BAY_EPERM: 16, BAY_EBUSY: 17, BAY_ETYPE: 18,
  BAY_EIO: 19, BAY_EKIND: 20, BAY_EPENDING: 21, BAY_ENOSPC: 22,
});

native.setErrorFactory((errno, code, plugin, message) => new PlugbayError(code, message, plugin, errno));

function checkName(what, name) {
  if (typeof name !== 'string' || name === '')
    throw new TypeError(`${what}: the name must be a non-empty string, got ${typeof name}`);
}

function checkKind(kind) {
  if (kind !== 'handle' && kind !== 'event' && kind !== 'filter')
    throw new TypeError(`kind must be 'handle', 'event' or 'filter', got ${String(kind)}`);
  return kind;
}

function timeoutOf(opts) {
  const t = opts.timeout;
  if (t === undefined || t === null)
    return 0;
  if (!Number.isInteger(t) || t < 0 || t > 0x7fffffff)
    throw new RangeError(`timeout must be a whole number of milliseconds (0 = the default), got ${t}`);
  return t;
}

function contextOf(opts) {
  if (opts.context !== undefined && opts.context !== null && typeof opts.context !== 'string')
    throw new TypeError('context must be a string');
  return opts.context ?? undefined;
}

function sendTimeoutOf(opts) {
  const t = opts?.timeout;
  if (t === undefined || t === null)
    return -1;
  if (!Number.isInteger(t) || t < 0 || t > 0x7fffffff)
    throw new RangeError(`timeout must be a whole number of milliseconds (0: no wait), got ${t}`);
  return t;
}

// Stream is a call's answer read chunk by chunk (Connection.callStream, Connection.callUpload): an async
// iterator, for `for await`. Its reads go one after the other; each resolves {value: chunk, done: false}, then
// {done: true} at the stream's end, or rejects with the PlugbayError that ended it (after the chunks before it).
// An upload's stream also takes the call's input: send() each chunk, then end(), one after the other too.
// return() (a `break` out of `for await`) abandons a stream that still runs: plugbayd tells the provider to stop.
class Stream {
  #handle; // the native half: {started, next, cancel, close[, chunk, send, end]}; null when it failed to start
  #conn; // kept: the connection's native half lives while its stream does
  #name;
  #input; // an upload (callUpload): send() and end() take its input
  #tail; // settles (never rejects) once the reads asked for before have
  #sendTail; // settles (never rejects) once the sends and end asked for before have
  #error = null; // why the stream did not start, for the first read
  #startError = null; // the same, for every send and end
  #done = false;
  #signal = null;
  #onAbort = null;

  constructor(conn, name, handle, error, signal, input = false) {
    this.#conn = conn;
    this.#name = name;
    this.#handle = handle;
    this.#input = input;
    if (handle === null) {
      this.#error = this.#startError = error;
      this.#tail = Promise.resolve();
    } else {
      this.#tail = handle.started.then(() => {}, (e) => { this.#error = this.#startError = e; });
    }
    this.#sendTail = this.#tail;
    if (signal && handle !== null) {
      this.#signal = signal;
      this.#onAbort = () => this.cancel();
      signal.addEventListener('abort', this.#onAbort, { once: true });
    }
  }

  get name() { return this.#name; }
  // done is true once the stream ended (its end or its error was read) or was abandoned with return().
  get done() { return this.#done; }

  [Symbol.asyncIterator]() { return this; }

  next() {
    const read = this.#tail.then(() => this.#read());
    this.#tail = read.then(() => {}, () => {});
    return read;
  }

  #read() {
    if (this.#error !== null) {
      const e = this.#error;
      this.#error = null;
      this.#finish();
      throw e;
    }
    if (this.#done)
      return { value: undefined, done: true };
    return this.#handle.next().then((r) => {
      if (r.done)
        this.#finish();
      return r;
    }, (e) => {
      this.#finish();
      throw e;
    });
  }

  // return() abandons the stream if it still runs (bay_stream_free: the provider is told to stop); later
  // reads are {done: true}. A read waiting meanwhile resolves {done: true} too.
  return(value) {
    this.#finish();
    return Promise.resolve({ value, done: true });
  }

  // send(value, {timeout}) sends value as the next chunk of an upload's input: at once while the provider has
  // credit for it, else a pool thread waits while it has not taken the BAY_STREAM_WINDOW (64) chunks before,
  // up to timeout ms (absent: the call's deadline; 0: no wait), then rejects with BAY_EPENDING (not sent). The
  // value is converted now; sends (and end) asked for together go one after the other, in order. Rejects with
  // BAY_ESTATE once the call ended (the reads say how) or was abandoned, BAY_EINVAL on a stream without input
  // or after end(), a TypeError for a value that cannot cross.
  send(value, opts = {}) {
    let timeout, chunk;
    try {
      this.#checkInput('send');
      timeout = sendTimeoutOf(opts);
      chunk = this.#handle?.chunk(value);
    } catch (e) {
      return Promise.reject(e);
    }
    return this.#queue(() => this.#handle.send(chunk, timeout));
  }

  // end() ends an upload's input, after the sends asked for before it: the provider takes its end. Once only
  // (again: BAY_EINVAL); once the call is over nothing waits for input, and it does nothing.
  end() {
    try {
      this.#checkInput('end');
    } catch (e) {
      return Promise.reject(e);
    }
    return this.#queue(() => this.#handle.end());
  }

  #checkInput(what) {
    if (!this.#input)
      throw new PlugbayError('BAY_EINVAL',
        `${what}: the stream of "${this.#name}" takes no input; start the call with callUpload`);
  }

  // #queue runs op (a native send or end) once the start and the sends and end before it have settled; the
  // promise resolves undefined.
  #queue(op) {
    const sent = this.#sendTail.then(() => {
      if (this.#startError !== null)
        throw this.#startError;
      return op();
    }).then(() => undefined);
    this.#sendTail = sent.then(() => {}, () => {});
    return sent;
  }

  // cancel() asks plugbayd to stop the stream: the provider is told, and the reads reject with BAY_ECANCELED
  // after the chunks already received.
  cancel() {
    if (!this.#done)
      this.#handle?.cancel();
  }

  #finish() {
    if (this.#done)
      return;
    this.#done = true;
    this.#handle?.close();
    if (this.#signal !== null)
      this.#signal.removeEventListener('abort', this.#onAbort);
  }
}

// Connection is one host's connection to plugbayd; make it with connect().
class Connection {
  #native;
  #url;
  #name;
  #closed = false;
  #listeners = new Set();
  #subscribed = false;
  #subscribing = Promise.resolve(); // native subscribe and unsubscribe, one after the other

  constructor(nat, url, name) {
    this.#native = nat;
    this.#url = url;
    this.#name = name;
  }

  get url() { return this.#url; }
  get name() { return this.#name; }
  get closed() { return this.#closed; }

  #closedError(what) {
    return new PlugbayError('BAY_ECONN',
      `${what}: the connection to plugbayd at ${this.#url || '(default)'} was closed by close(); connect again`);
  }

  // #run calls fn and turns its synchronous throw (a bad argument) into a rejection.
  #run(what, fn) {
    if (this.#closed)
      return Promise.reject(this.#closedError(what));
    try {
      return fn();
    } catch (e) {
      return Promise.reject(e);
    }
  }

  // call(name, args, {timeout, context, signal}) calls an extension point.
  // Without a signal it uses bay_call (and so the fast path when it applies);
  // with one, bay_call_async, and aborting the signal cancels the call.
  call(name, args = [], opts = {}) {
    return this.#run(`call "${name}"`, () => {
      checkName('call', name);
      if (!Array.isArray(args))
        throw new TypeError(`call "${name}": args must be an array, got ${typeof args}`);
      const timeout = timeoutOf(opts), context = contextOf(opts), signal = opts.signal;
      if (signal === undefined || signal === null)
        return this.#native.call(name, args, timeout, context);
      if (signal.aborted)
        return Promise.reject(new PlugbayError('BAY_ECANCELED', `call "${name}" was cancelled before it started`));
      const { promise, cancel } = this.#native.callAsync(name, args, timeout, context);
      signal.addEventListener('abort', cancel, { once: true });
      return promise.finally(() => signal.removeEventListener('abort', cancel));
    });
  }

  // callSync(name, args, {timeout, context}) calls on the JavaScript thread
  // itself and blocks it until the answer: for short calls where every
  // microsecond counts (a fast-path call takes about as long as from C).
  callSync(name, args = [], opts = {}) {
    if (this.#closed)
      throw this.#closedError(`call "${name}"`);
    checkName('callSync', name);
    if (!Array.isArray(args))
      throw new TypeError(`call "${name}": args must be an array, got ${typeof args}`);
    return this.#native.callSync(name, args, timeoutOf(opts), contextOf(opts));
  }

  // callStream(name, args, {timeout, context, signal}) calls a handle and returns its answer as a Stream, read
  // with `for await`; the deadline covers the whole stream, aborting the signal cancels it. The call starts at
  // once; its failures reject the reads. Bad arguments throw here (TypeError, RangeError).
  callStream(name, args = [], opts = {}) {
    return this.#openStream('callStream', name, args, opts, false);
  }

  // callUpload(name, args, {timeout, context, signal}) calls a handle whose input this host streams: it returns
  // a Stream to send(value) each chunk to, then end(), and to read the answer from with `for await`, during the
  // upload or after it. The deadline covers the whole call, input included; aborting the signal cancels it.
  callUpload(name, args = [], opts = {}) {
    return this.#openStream('callUpload', name, args, opts, true);
  }

  // #openStream starts fn's stream (upload: its input is streamed too); a closed connection or an aborted
  // signal gives a Stream whose reads reject.
  #openStream(fn, name, args, opts, upload) {
    checkName(fn, name);
    if (!Array.isArray(args))
      throw new TypeError(`${fn} "${name}": args must be an array, got ${typeof args}`);
    const timeout = timeoutOf(opts), context = contextOf(opts), signal = opts.signal ?? null;
    if (this.#closed)
      return new Stream(this, name, null, this.#closedError(`${fn} "${name}"`), null, upload);
    if (signal?.aborted)
      return new Stream(this, name, null,
        new PlugbayError('BAY_ECANCELED', `${fn} "${name}" was cancelled before it started`), null, upload);
    const native = upload ? this.#native.callUpload(name, args, timeout, context)
                          : this.#native.callStream(name, args, timeout, context);
    return new Stream(this, name, native, null, signal, upload);
  }

  // declare(name, kind, {types}) declares an extension point ('handle', 'event' or 'filter'); types,
  // {args: SCHEMA, result: SCHEMA, input: SCHEMA}, also declares their shape, which plugbayd checks (docs/types.md).
  declare(name, kind = 'handle', opts = {}) {
    return this.#run(`declare "${name}"`, () => {
      checkName('declare', name);
      const types = opts?.types;
      if (types !== undefined && (types === null || typeof types !== 'object' || Array.isArray(types)))
        throw new TypeError(`declare "${name}": types must be an object {args, result, input}, got ${typeof types}`);
      return this.#native.declare(name, checkKind(kind), types === undefined ? null : JSON.stringify(types));
    });
  }

  // provide(name, fn, {kind, contexts}) serves name with fn(...args), which may be async.
  provide(name, fn, opts = {}) {
    return this.#run(`provide "${name}"`, () => {
      checkName('provide', name);
      if (typeof fn !== 'function')
        throw new TypeError(`provide "${name}": the provider must be a function`);
      const kind = checkKind(opts.kind ?? 'handle');
      let contexts = null;
      if (opts.contexts !== undefined && opts.contexts !== null) {
        if (!Array.isArray(opts.contexts) || !opts.contexts.every((c) => typeof c === 'string'))
          throw new TypeError(`provide "${name}": contexts must be an array of strings`);
        contexts = opts.contexts;
      }
      return this.#native.provide(name, kind, contexts, fn);
    });
  }

  // subscribe(fn) calls fn(notice) for every later registry change; it
  // resolves to a function that unsubscribes fn (the last one unsubscribes
  // the connection, which then no longer keeps the process alive).
  async subscribe(fn) {
    if (typeof fn !== 'function')
      throw new TypeError('subscribe: the listener must be a function');
    if (this.#closed)
      throw this.#closedError('subscribe');
    this.#listeners.add(fn);
    try {
      await this.#sync();
    } catch (e) {
      this.#listeners.delete(fn);
      throw e;
    }
    return () => {
      if (this.#listeners.delete(fn) && this.#listeners.size === 0 && !this.#closed)
        this.#sync().catch(() => {}); // only a closed connection refuses, and it is unsubscribed then
    };
  }

  // #sync subscribes the connection when it has listeners and unsubscribes it
  // when it has none, one change after the other.
  #sync() {
    this.#subscribing = this.#subscribing.catch(() => {}).then(() => {
      const want = this.#listeners.size > 0;
      if (want === this.#subscribed || this.#closed)
        return undefined;
      return this.#native.subscribe(want ? (notice) => this.#notify(notice) : null).then(() => {
        this.#subscribed = want;
      });
    });
    return this.#subscribing;
  }

  #notify(notice) {
    for (const l of this.#listeners) {
      try {
        l(notice);
      } catch (e) {
        queueMicrotask(() => { throw e; }); // as an EventEmitter listener's: uncaught, not swallowed
      }
    }
  }

  // command(name, args, {timeout}) runs a broker command (docs/cli.md).
  command(name, args = null, opts = {}) {
    return this.#run(`command "${name}"`, () => {
      checkName('command', name);
      return this.#native.command(name, args, timeoutOf(opts));
    });
  }

  status() { return this.command('status'); }
  list() { return this.command('list'); }
  info(id) { return this.command('info', { id }); }
  install(id, { grant } = {}) { return this.command('install', grant ? { id, grant } : { id }); }
  uninstall(id) { return this.command('uninstall', { id }); }
  enable(id) { return this.command('enable', { id }); }
  disable(id) { return this.command('disable', { id }); }
  load(id) { return this.command('load', { id }); }
  unload(id) { return this.command('unload', { id }); }
  reload(id) { return this.command('reload', { id }); }
  config(id, change = {}) { return this.command('config', { id, ...change }); }

  // close() says goodbye to plugbayd once the calls in flight have ended;
  // later requests reject with BAY_ECONN. Closing twice is fine.
  close() {
    if (this.#closed)
      return Promise.resolve();
    this.#closed = true;
    this.#listeners.clear();
    return this.#native.close();
  }
}

// connect({url, name}) connects to plugbayd at url (default: $PLUGBAY_BROKER,
// else the well-known places) as host NAME.
async function connect({ url, name = 'node' } = {}) {
  if (url !== undefined && url !== null && typeof url !== 'string')
    throw new TypeError('connect: url must be a string');
  checkName('connect', name);
  const nat = new native.Connection();
  try {
    await nat.open(url ?? undefined, name);
  } catch (e) {
    nat.close();
    throw e;
  }
  return new Connection(nat, url ?? '', name);
}

module.exports = { connect, Connection, Stream, PlugbayError, CODES };
