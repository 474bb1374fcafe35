// bindings/node/index.d.ts — TypeScript declarations of the plugbay package (lib/index.js).

/** A value that crosses a call: nil, bool, int64, double, string, bytes, array, map with string keys. */
export type Value =
  | null
  | undefined
  | boolean
  | number
  | bigint
  | string
  | Buffer
  | Uint8Array
  | Value[]
  | { [key: string]: Value };

/** A value as it comes back: nil is null, ints beyond 2^53 are BigInt, bytes are a Buffer. */
export type Result = null | boolean | number | bigint | string | Buffer | Result[] | { [key: string]: Result };

/** The symbolic names of <plugbay/error.h>. */
export type ErrorCode =
  | 'BAY_EINVAL' | 'BAY_ENOMEM' | 'BAY_EPROTO' | 'BAY_EVERSION' | 'BAY_ENOENT' | 'BAY_ENOPROVIDER'
  | 'BAY_ETIMEDOUT' | 'BAY_ECANCELED' | 'BAY_ECRASHED' | 'BAY_EUNAVAIL' | 'BAY_EPLUGIN' | 'BAY_ECONN'
  | 'BAY_EMANIFEST' | 'BAY_ESTATE' | 'BAY_EEXIST' | 'BAY_EPERM' | 'BAY_EBUSY' | 'BAY_ETYPE' | 'BAY_EIO'
  | 'BAY_EKIND' | 'BAY_EPENDING' | 'BAY_ENOSPC';

/** Every failure plugbay reports: `.code` names it, `.errno` is its number, `.plugin` says who failed. */
export class PlugbayError extends Error {
  constructor(code: ErrorCode, message: string, plugin?: string, errno?: number);
  readonly name: 'PlugbayError';
  /** 'BAY_ENOENT', 'BAY_EPLUGIN', ... */
  code: ErrorCode;
  /** The number of the code (5 for BAY_ENOENT). */
  errno: number;
  /** The plugin id ('example/hello'), 'host:NAME' for a host provider, or ''. */
  plugin: string;
}

/** The numbers of the codes. */
export const CODES: Readonly<Record<ErrorCode, number>>;

export interface ConnectOptions {
  /** 'ipc:///path/plugbayd.sock' or 'tls+tcp://host:port'; default $PLUGBAY_BROKER, else the well-known places. */
  url?: string;
  /** This host's name: the broker and callers see it as 'host:NAME'. Default 'node'. */
  name?: string;
}

export interface CallOptions {
  /** Deadline in ms from now; 0 or absent: 5000. */
  timeout?: number;
  /** Only providers accepting this context (or every context) see the call. */
  context?: string;
  /** Aborting it cancels the call; the plugin sees the cancel and the call rejects with BAY_ECANCELED. */
  signal?: AbortSignal;
}

export type Kind = 'handle' | 'event' | 'filter';

export interface ProvideOptions {
  /** 'handle' (default): the first provider answers; 'event': every provider does; 'filter': every
   * provider in turn, each given the arguments the one before passed on (see docs/host-api.md#filters). */
  kind?: Kind;
  /** The contexts this provider accepts; absent: all. */
  contexts?: string[];
}

/** A registry change. Fields that do not apply are ''. */
export interface Notice {
  what: 'declared' | 'provider-added' | 'provider-removed' | 'provider-moved' | 'plugin-state';
  name: string;
  plugin: string;
  state: string;
  reason: string;
}

export type Provider = (...args: Result[]) => Value | Promise<Value>;

export interface SendOptions {
  /** How long to wait for the provider's credit, in ms (0: not at all); absent: until the call's deadline. */
  timeout?: number;
}

/** A call's answer read chunk by chunk (Connection.callStream, Connection.callUpload): an async iterator, for
 * `for await`. An upload's stream (callUpload) also takes the call's input: send() each chunk, then end(). */
export class Stream implements AsyncIterableIterator<Result> {
  private constructor();
  /** The extension point called. */
  readonly name: string;
  /** True once the stream ended (its end or its error was read) or was abandoned with return(). */
  readonly done: boolean;
  [Symbol.asyncIterator](): Stream;
  /** The next chunk, in order, then {done: true} at the stream's end; rejects with the PlugbayError that
   * ended the stream (the provider's, BAY_ETIMEDOUT at its deadline, BAY_ECANCELED, BAY_ECONN) after the
   * chunks before it. Reads asked for together are answered one after the other. */
  next(): Promise<IteratorResult<Result, undefined>>;
  /** Abandons the stream if it still runs (the provider is told to stop): `break` out of `for await` calls
   * it. A read waiting meanwhile, and every later one, resolves {done: true}. */
  return<R = undefined>(value?: R): Promise<IteratorReturnResult<R>>;
  /** Asks plugbayd to stop the stream: the provider is told, and the reads reject with BAY_ECANCELED after
   * the chunks already received. */
  cancel(): void;
  /** Sends value (converted now) as the next chunk of an upload's input: at once while the provider has credit
   * for it, else waiting on a pool thread while it has not taken the 64 chunks before (on a fast channel: while
   * the ring to its worker is full), up to opts.timeout ms
   * (absent: the call's deadline), then rejects with BAY_EPENDING, the chunk not sent. Sends and end() asked for
   * together go one after the other, in order. Rejects with BAY_ESTATE once the call ended (the reads say how)
   * or was abandoned, BAY_EINVAL on a stream without input (callStream's) or after end(), a TypeError for a
   * value that cannot cross. */
  send(value: Value, opts?: SendOptions): Promise<void>;
  /** Ends an upload's input, after the sends asked for before it. Once only: again rejects with BAY_EINVAL (as
   * on a stream without input); once the call is over it does nothing. */
  end(): Promise<void>;
}

export class Connection {
  readonly url: string;
  readonly name: string;
  readonly closed: boolean;
  /** Calls an extension point; an event's result is one {plugin, value} or {plugin, error} map per provider. */
  call(name: string, args?: Value[], opts?: CallOptions): Promise<Result>;
  /** Calls on the JavaScript thread itself, blocking it until the answer: for short fast-path calls. */
  callSync(name: string, args?: Value[], opts?: Omit<CallOptions, 'signal'>): Result;
  /** Calls a handle and reads its answer as a stream of chunks (a provider that does not stream gives its
   * result as one chunk); the timeout covers the whole stream, aborting the signal cancels it. The call starts
   * at once and its failures reject the reads; bad arguments throw a TypeError or RangeError here. */
  callStream(name: string, args?: Value[], opts?: CallOptions): Stream;
  /** Calls a handle whose input this host streams: send() each chunk to the Stream, then end(), and read the
   * answer from it with `for await`, during the upload or after it. The timeout covers the whole call, input
   * included (an input never ended times out); aborting the signal cancels it. Bad arguments throw here. */
  callUpload(name: string, args?: Value[], opts?: CallOptions): Stream;
  declare(name: string, kind?: Kind, opts?: { types?: { args?: object; result?: object } }): Promise<null>;
  /** Serves name with fn(...args) on the event loop; a throw reaches the caller as BAY_EPLUGIN "Name: message". */
  provide(name: string, fn: Provider, opts?: ProvideOptions): Promise<null>;
  /** Calls fn for every later registry change; resolves to a function that removes fn. */
  subscribe(fn: (notice: Notice) => void): Promise<() => void>;
  /** Runs a broker command (docs/cli.md). */
  command(name: string, args?: { [key: string]: Value } | null, opts?: { timeout?: number }): Promise<Result>;
  status(): Promise<any>;
  list(): Promise<any[]>;
  info(id: string): Promise<any>;
  install(id: string, opts?: { grant?: string[] }): Promise<any>;
  uninstall(id: string): Promise<any>;
  enable(id: string): Promise<any>;
  disable(id: string): Promise<any>;
  load(id: string): Promise<any>;
  unload(id: string): Promise<any>;
  reload(id: string): Promise<any>;
  config(id: string, change?: { key?: string; set?: { [key: string]: Value }; set_text?: { [key: string]: string }; reset?: string[] }): Promise<any>;
  /** Lets the requests made before it end, says goodbye to plugbayd; later requests reject with BAY_ECONN. */
  close(): Promise<void>;
}

export function connect(opts?: ConnectOptions): Promise<Connection>;
