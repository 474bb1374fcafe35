"""plugbay/_conn.py — Connection: calls, async calls, streamed answers, providers, notices and broker commands over
one bay_conn."""
import asyncio
import atexit
import json
import concurrent.futures
import inspect
import queue
import sys
import threading
import time
import traceback
from typing import Any, Callable, Dict, Iterable, List, NamedTuple, Optional, Set, Tuple

from . import _cross, _errors
from ._errors import Error
from ._native import ffi, lib
from ._values import Value, args_to_bay, from_bay, take, to_bay

_KINDS = {"handle": lib.BAY_HANDLE, "event": lib.BAY_EVENT, "filter": lib.BAY_FILTER}
_WATCH_S = 0.05  # how often an async provider's coroutine is checked for its caller having stopped waiting
_open: "Set[Connection]" = set()  # open connections live until closed: their providers may serve on


class Notice(NamedTuple):
    """A registry change: what ("declared", "provider-added", "provider-removed", "provider-moved",
    "plugin-state"), the extension point's name, the plugin (or "host:NAME"), the new state and why ("" when
    a field does not apply)."""

    what: str
    name: str
    plugin: str
    state: str
    reason: str


def _text(s: str, what: str) -> bytes:
    if not isinstance(s, str):
        raise TypeError(f"{what} must be a str, got {type(s).__name__}")
    b = s.encode("utf-8")
    if b"\0" in b:
        raise ValueError(f"{what} cannot hold a NUL character")
    return b


def _error(rc: int, err: Any) -> Error:
    """_error turns a failed call's code and its bay_error into the plugbay.Error subclass of the code."""
    message = ffi.string(err.message).decode("utf-8", "replace") if err.code == rc else ""
    plugin = ffi.string(err.plugin).decode("utf-8", "replace") if err.code == rc else ""
    return _errors.make(rc, plugin, message or ffi.string(lib.bay_strerror(rc)).decode(),
                        ffi.string(lib.bay_errname(rc)).decode())


def _timeout_ms(timeout: Optional[float]) -> int:
    """_timeout_ms turns seconds (None: the library's default) into the milliseconds libplugbay takes."""
    if timeout is None:
        return 0
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout > 0:
        raise ValueError(f"timeout must be a positive number of seconds or None, got {timeout!r}")
    if timeout * 1000 > 2**31 - 1:
        raise ValueError(f"timeout {timeout!r} s is longer than libplugbay can wait (about 24 days)")
    return max(1, round(timeout * 1000))


class _Provider:
    """What a handler's user pointer leads back to: the Python function serving one extension point."""

    def __init__(self, conn: "Connection", name: str, fn: Callable[..., Any], contexts: Any,
                 loop: Optional[asyncio.AbstractEventLoop] = None) -> None:
        self.conn, self.name, self.fn, self.contexts, self.loop = conn, name, fn, contexts, loop

    def serve(self, args: Any, result: Any, err: Any) -> int:
        self.conn._dispatch_thread = threading.get_ident()
        try:
            value = self.fn(*from_bay(args))
        except BaseException as e:  # the caller gets it; nobody else could
            return _fail(err, *_failure(e))
        try:
            result[0] = to_bay(value, "result")
        except (TypeError, ValueError, MemoryError) as e:
            return _fail(err, lib.BAY_ETYPE, f"{self.name} returned a value plugbay cannot carry: {e}")
        return 0

    def start(self, args: Any, reply: Any) -> None:
        """start runs the coroutine fn(*args) on the provider's event loop; its outcome answers reply."""
        coro = None
        try:
            coro = self.fn(*from_bay(args))
            future = asyncio.run_coroutine_threadsafe(coro, self.loop)  # type: ignore[arg-type]
        except BaseException as e:  # a wrong number of arguments, or the loop is closed
            if inspect.iscoroutine(coro):
                coro.close()  # it never ran
            code, message = _failure(e)
            if isinstance(e, RuntimeError) and self.loop is not None and self.loop.is_closed():
                code, message = lib.BAY_EUNAVAIL, f"{self.name}: the event loop of its async provider is closed"
            _reply_error(reply, code, message)
            return
        future.add_done_callback(lambda f: self.finish(f, reply))
        try:
            self.loop.call_soon_threadsafe(self.watch, future, reply)  # type: ignore[union-attr]
        except RuntimeError:  # the loop closed just now: finish alone answers, if the coroutine ever ends
            pass

    def watch(self, future: "concurrent.futures.Future[Any]", reply: Any) -> None:
        """watch cancels the coroutine once its caller stopped waiting (a cancel, or the deadline), looking every
        50 ms on the loop, where finish runs too: a done future's reply is never looked at again."""
        if future.done():
            return
        if lib.bay_reply_cancelled(reply) != 0:
            future.cancel()
            return
        self.loop.call_later(_WATCH_S, self.watch, future, reply)  # type: ignore[union-attr]

    def finish(self, future: "concurrent.futures.Future[Any]", reply: Any) -> None:
        """finish answers reply with the outcome of the coroutine start ran."""
        if future.cancelled():
            _reply_error(reply, lib.BAY_ECANCELED, f"{self.name}: its coroutine was cancelled")
            return
        e = future.exception()
        if e is not None:
            _reply_error(reply, *_failure(e))
            return
        try:
            value = to_bay(future.result(), "result")
        except (TypeError, ValueError, MemoryError) as te:
            _reply_error(reply, lib.BAY_ETYPE, f"{self.name} returned a value plugbay cannot carry: {te}")
            return
        lib.bay_reply_value(reply, value)


def _failure(e: BaseException) -> Tuple[int, str]:
    """_failure says what a provider's exception answers: a plugbay.Error raised on purpose keeps its code
    and message; anything else is BAY_EPLUGIN "TYPE: message (at FILE:LINE in FUNCTION)"."""
    if isinstance(e, Error):
        return (e.errno if e.errno > 0 else lib.BAY_EPLUGIN), e.message
    return lib.BAY_EPLUGIN, (f"{type(e).__name__}: {e}{_where(e)}" if str(e) else f"{type(e).__name__}{_where(e)}")


def _reply_error(reply: Any, code: int, message: str) -> None:
    lib.bay_reply_error(reply, code, b"%s", ffi.new("char[]", message.encode("utf-8", "replace")))


def _fail(err: Any, code: int, message: str) -> int:
    """_fail fills a handler's bay_error with code and message (cut to fit) and returns code."""
    return int(lib.bay_error_set(err, code, ffi.NULL, b"%s", ffi.new("char[]", message.encode("utf-8", "replace"))))


def _where(e: BaseException) -> str:
    """_where says where in Python e was raised: " (at FILE:LINE in FUNCTION)"."""
    frames = traceback.extract_tb(e.__traceback__)
    if len(frames) < 2:  # only serve's own frame: fn itself was not called (a wrong number of arguments)
        return ""
    f = frames[-1]
    return f" (at {f.filename.rsplit('/', 1)[-1]}:{f.lineno} in {f.name})"


@ffi.def_extern()  # type: ignore[misc]
def _bay_py_handler(args: Any, result: Any, err: Any, user: Any) -> int:
    try:
        return int(ffi.from_handle(user).serve(args, result, err))
    except BaseException as e:  # a failure of serve itself (out of memory, ...): still an answer
        traceback.print_exc()
        return _fail(err, lib.BAY_EPLUGIN, f"the Python provider failed: {type(e).__name__}: {e}")


@ffi.def_extern()  # type: ignore[misc]
def _bay_py_async_handler(args: Any, reply: Any, user: Any) -> None:
    try:
        ffi.from_handle(user).start(args, reply)
    except BaseException as e:  # a failure of start itself (out of memory, ...): still an answer
        traceback.print_exc()
        _reply_error(reply, lib.BAY_EPLUGIN, f"the Python provider failed: {type(e).__name__}: {e}")


@ffi.def_extern()  # type: ignore[misc]
def _bay_py_notice(n: Any, user: Any) -> None:
    conn, fn = ffi.from_handle(user)
    conn._dispatch_thread = threading.get_ident()
    s = ffi.string
    notice = Notice(*(s(f).decode("utf-8", "replace") for f in (n.what, n.name, n.plugin, n.state, n.reason)))
    try:
        fn(notice)
    except BaseException:
        try:
            print(f"plugbay: the notice callback {fn!r} raised (the notice is dropped):", file=sys.stderr)
            traceback.print_exc()
        except BaseException:  # no stderr to tell (closed, or swapped away): the notice is dropped all the same
            pass


class _Pending:
    """One bay_pending: waited on by one thread, cancelled from the event loop, freed once."""

    def __init__(self, ptr: Any) -> None:
        self.ptr, self.lock = ptr, threading.Lock()

    def cancel(self) -> None:
        with self.lock:
            if self.ptr is not None:
                lib.bay_pending_cancel(self.ptr)

    def wait(self) -> Tuple[Value, Optional[Error]]:
        result, err = ffi.new("bay_value **"), ffi.new("bay_error *")
        rc = lib.bay_pending_wait(self.ptr, -1, result, err)  # cffi lets the GIL go while it waits
        with self.lock:
            lib.bay_pending_free(self.ptr)
            self.ptr = None
        return (take(result[0]), None) if rc == 0 else (None, _error(rc, err))


# What one bay_stream_next gives (Stream._next): a chunk, the end, the error that ended the stream, nothing yet
# (within the wait), or nothing any more (the stream was closed or had ended before).
_CHUNK, _END, _FAILED, _PENDING, _CLOSED = range(5)
_SLICE_MS = 100  # a blocking wait for a chunk, or for credit to send one, is cut in slices this long
_GRACE_S = 2.0  # how long past an upload's deadline send() waits for plugbayd to say how the call ended


class Stream:
    """An answer read chunk by chunk (Connection.call_stream, Connection.call_upload): iterate it for the chunks
    in order; the iteration ends at the stream's end, or raises the plugbay.Error that ended it after the chunks
    before it. An upload's stream also takes the call's input: send() each chunk, then end(). A context manager;
    close() (or garbage collection) abandons a stream that still runs: the provider is told to stop. Usable from
    any thread: read by one at a time, sent to by one at a time (the two may overlap)."""

    def __init__(self, ptr: Any, name: str, takes_input: bool = False, deadline: Optional[float] = None) -> None:
        self._ptr = ptr  # the bay_stream *, None once freed
        self.name = name
        self._lock = threading.Lock()  # guards _ptr and the flags below
        # A thread is in bay_stream_next (_reading) or in bay_stream_send / bay_stream_send_end (_sending); the
        # stream is freed by the last of them to leave once it is _over: its end or its error was read, or
        # close() came (_closing).
        self._reading = self._sending = False
        self._over = self._closing = False
        self._input = takes_input  # an upload: send() and end() take its input
        self._ended = False  # end() sent the input's end
        self._deadline = deadline  # time.monotonic() of the call's deadline, for an upload's send()
        self._chunk, self._err = ffi.new("bay_value **"), ffi.new("bay_error *")  # the reader's
        self._send_err = ffi.new("bay_error *")  # the sender's

    def __repr__(self) -> str:
        return f"<plugbay.Stream {'upload ' if self._input else ''}of {self.name!r}{' closed' if self.closed else ''}>"

    def __enter__(self) -> "Stream":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __iter__(self) -> "Stream":
        return self

    def __next__(self) -> Value:
        kind, got = self._wait()
        if kind == _CHUNK:
            return got
        if kind == _FAILED:
            raise got
        raise StopIteration

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # an interpreter shutting down: nothing left to tell
            pass

    @property
    def closed(self) -> bool:
        """True once the stream ended (its end or its error was read) or was closed."""
        return self._ptr is None or self._over

    def cancel(self) -> None:
        """Asks plugbayd to stop the stream: the provider is told, and the iteration raises plugbay.Cancelled
        after the chunks already received."""
        with self._lock:
            if self._ptr is not None and not self._over:
                lib.bay_stream_cancel(self._ptr)

    def close(self) -> None:
        """Abandons the stream if it still runs (the provider is told to stop) and frees it; the iteration then
        ends, and an upload's send() raises plugbay.StateError. Closing again does nothing."""
        with self._lock:
            if self._ptr is None or self._over:
                return
            self._over = self._closing = True
            ptr = self._release_locked()
            if ptr is None:  # a thread waits in it: it frees it when its wait returns, at once since it is cancelled
                lib.bay_stream_cancel(self._ptr)
                return
        lib.bay_stream_free(ptr)

    def _release_locked(self) -> Any:
        """_release_locked takes the stream's pointer for the caller to free once it is over and no thread is in
        it (else None); lock held."""
        ptr = self._ptr
        if ptr is None or not self._over or self._reading or self._sending:
            return None
        self._ptr = None
        return ptr

    def _next(self, wait_ms: int) -> Tuple[int, Any]:
        """_next is one bay_stream_next waiting up to wait_ms (cffi lets the GIL go): (_CHUNK, value), (_END,
        None), (_FAILED, error), (_PENDING, None) or (_CLOSED, None). The stream is freed once it ended."""
        with self._lock:
            ptr = self._ptr
            if ptr is None or self._over:
                return _CLOSED, None
            if self._reading:
                raise RuntimeError(f"the stream of {self.name} is being read by another thread or task already")
            self._reading = True
        # An exception on the way (KeyboardInterrupt right after the wait) leaves outcome None: the stream goes
        # on, and a chunk not yet taken is dropped.
        outcome: Optional[Tuple[int, Any]] = None
        try:
            rc = lib.bay_stream_next(ptr, wait_ms, self._chunk, self._err)
            chunk, self._chunk[0] = self._chunk[0], ffi.NULL
            if rc == 0 and chunk != ffi.NULL:
                outcome = (_CHUNK, take(chunk))
            elif rc == 0:
                outcome = (_END, None)
            elif rc == lib.BAY_EPENDING:
                outcome = (_PENDING, None)
            else:
                outcome = (_FAILED, _error(rc, self._err))
        finally:
            if self._chunk[0] != ffi.NULL:
                lib.bay_value_free(self._chunk[0])
                self._chunk[0] = ffi.NULL
            with self._lock:
                self._reading = False
                if self._closing and outcome is not None:  # close() came during the wait: the reading ends
                    outcome = (_CLOSED, None)
                if outcome is not None and outcome[0] in (_END, _FAILED):
                    self._over = True
                ptr = self._release_locked()
            if ptr is not None:
                lib.bay_stream_free(ptr)
        assert outcome is not None  # an exception went past the finally otherwise
        return outcome

    def _wait(self) -> Tuple[int, Any]:
        """_wait waits for the next outcome in slices of _SLICE_MS (the stream's deadline ends it in time)."""
        while True:
            kind, got = self._next(_SLICE_MS)
            if kind != _PENDING:
                return kind, got

    # Input (call_upload).

    def _check_input(self, what: str) -> None:
        if not self._input:
            raise _errors.InvalidArgument(f"{what}: the stream of {self.name} takes no input; start the call with "
                                          "call_upload")

    def _enter_input(self, what: str) -> Any:
        """_enter_input marks this thread as the upload's sender and returns the stream's pointer, or None when
        the call is over (its answer ended, or close() came); raises when the stream takes no input, its input
        ended, or another thread sends."""
        self._check_input(what)
        with self._lock:
            if self._ended:
                raise _errors.InvalidArgument(f"{what}: the upload of {self.name} had its input ended (end())")
            if self._ptr is None or self._over:
                return None
            if self._sending:
                raise RuntimeError(f"{what}: the upload of {self.name} is being sent to by another thread or task "
                                   "already")
            self._sending = True
            return self._ptr

    def _leave_input(self) -> None:
        with self._lock:
            self._sending = False
            ptr = self._release_locked()
        if ptr is not None:
            lib.bay_stream_free(ptr)

    def _over_error(self) -> Error:
        if self._closing:
            return _errors.StateError(f"send: the upload of {self.name} was closed (close()); its input is refused")
        return _errors.StateError(f"call \"{self.name}\" ended before its input did (its answer was read)")

    def _send_once(self, chunk: Any, wait_ms: int) -> int:
        """_send_once is one bay_stream_send waiting up to wait_ms for credit (cffi lets the GIL go): 0 when the
        chunk went, BAY_EPENDING when the wait ended first; raises the call's error otherwise."""
        ptr = self._enter_input("send")
        if ptr is None:
            raise self._over_error()
        try:
            rc = lib.bay_stream_send(ptr, chunk, wait_ms, self._send_err)
            error = _error(rc, self._send_err) if rc not in (0, lib.BAY_EPENDING) else None
        finally:
            self._leave_input()
        if error is not None:
            raise error
        return int(rc)

    def _send_wait(self, chunk: Any, timeout: Optional[float]) -> None:
        """_send_wait sends chunk (a bay_value *, borrowed), waiting for credit up to timeout seconds (None: the
        call's deadline) in slices of _SLICE_MS, so KeyboardInterrupt and close() get in."""
        now = time.monotonic()
        if timeout is not None:
            until = now + timeout
        elif self._deadline is not None:
            until = self._deadline + _GRACE_S  # plugbayd answers the call at its deadline: ESTATE says how
        else:
            until = float("inf")
        while True:
            t0 = time.monotonic()
            left_ms = (until - t0) * 1000
            wait_ms = int(max(0, min(_SLICE_MS, left_ms)))
            if self._send_once(chunk, wait_ms) == 0:
                return
            if left_ms <= _SLICE_MS:
                raise self._pending_error(timeout)

    def _pending_error(self, timeout: Optional[float]) -> Error:
        within = f"within {timeout:g} s" if timeout is not None else "before the call's deadline"
        return _errors.Pending(f"call \"{self.name}\" took no more input {within}: its provider has not taken the "
                               f"{lib.BAY_STREAM_WINDOW} chunks before; send it again later")

    def send(self, value: Value, timeout: Optional[float] = None) -> None:
        """Sends value as the next chunk of an upload's input (Connection.call_upload), waiting while the
        provider has not taken the BAY_STREAM_WINDOW (64) chunks before (back-pressure): up to timeout seconds
        (None: until the call's deadline; 0: not at all), then raises plugbay.Pending, the chunk not sent (send
        it again later). Raises plugbay.StateError when the call already ended (the iteration says how) or the
        stream was closed, plugbay.InvalidArgument on a stream without input or after end(), TypeError or
        ValueError for a value that cannot cross. The wait releases the GIL in slices of 100 ms."""
        _check_send_timeout(timeout)
        self._check_input("send")  # before converting: the stream's own error comes first
        chunk = to_bay(value, "chunk")
        try:
            self._send_wait(chunk, timeout)
        finally:
            lib.bay_value_free(chunk)

    def end(self) -> None:
        """Ends an upload's input (bay_stream_send_end): the provider takes its end. Once only: again raises
        plugbay.InvalidArgument, as on a stream without input. Once the call is over (its answer ended, or the
        stream was closed) nothing waits for input any more: end() then does nothing."""
        ptr = self._enter_input("end")
        if ptr is None:
            self._ended = True
            return
        err = ffi.new("bay_error *")
        try:
            rc = lib.bay_stream_send_end(ptr, err)
            if rc == 0 or rc == lib.BAY_EINVAL:
                self._ended = True
        finally:
            self._leave_input()
        if rc != 0:
            raise _error(rc, err)


def _check_send_timeout(timeout: Optional[float]) -> None:
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float))
                                or not timeout >= 0):
        raise ValueError(f"timeout must be a number of seconds ≥ 0 or None, got {timeout!r}")


def _read_stream(stream: Stream, requests: "queue.SimpleQueue[Any]", loop: asyncio.AbstractEventLoop) -> None:
    """_read_stream is an AsyncStream's reader thread: for each future asked for, it waits for the stream's next
    outcome and hands it to the loop; it ends with the stream, or when None is asked for."""
    while True:
        done = requests.get()
        if done is None:
            break
        outcome = stream._wait()
        try:
            loop.call_soon_threadsafe(_settle, done, outcome)
        except RuntimeError:  # the loop is closed: nobody waits any more
            stream.close()
            break
        if outcome[0] != _CHUNK:
            break


def _send_stream(stream: Stream, requests: "queue.SimpleQueue[Any]", loop: asyncio.AbstractEventLoop) -> None:
    """_send_stream is an AsyncStream's sender thread: for each (future, chunk, timeout) asked for, it sends the
    chunk (a bay_value *, freed here), waiting for credit, and hands the outcome (None or the exception) to the
    loop; it ends when None is asked for."""
    while True:
        request = requests.get()
        if request is None:
            break
        done, chunk, timeout = request
        outcome: Optional[BaseException] = None
        try:
            stream._send_wait(chunk, timeout)
        except BaseException as e:  # the sending task raises it
            outcome = e
        finally:
            lib.bay_value_free(chunk)
        try:
            loop.call_soon_threadsafe(_settle, done, outcome)
        except RuntimeError:  # the loop is closed: nobody waits any more
            stream.close()
            break


def _settle(done: "asyncio.Future[Any]", outcome: Any) -> None:
    if not done.done():
        done.set_result(outcome)


class AsyncStream:
    """Stream for asyncio (Connection.call_stream_async, Connection.call_upload_async): `async for chunk in
    stream`, an async context manager; an upload's input with `await send(value)` and `await end()`. A chunk
    already received is taken at once, and a chunk the provider has credit for is sent at once; waiting for
    either is done by a thread of the stream's own (a reader, a sender), so the event loop never blocks.
    Cancelling a task waiting for a chunk, or to send one, cancels the stream (the provider is told) and
    closes it."""

    def __init__(self, stream: Stream) -> None:
        self._stream = stream
        self._requests: "Optional[queue.SimpleQueue[Any]]" = None  # to the reader thread, once it runs
        self._sends: "Optional[queue.SimpleQueue[Any]]" = None  # to the sender thread, once it runs
        self._waiting = False
        self._sending = False

    @property
    def name(self) -> str:
        return self._stream.name

    @property
    def closed(self) -> bool:
        return self._stream.closed

    def __repr__(self) -> str:
        return f"<plugbay.AsyncStream of {self.name!r}{' closed' if self.closed else ''}>"

    def __aiter__(self) -> "AsyncStream":
        return self

    async def __aenter__(self) -> "AsyncStream":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass

    async def __anext__(self) -> Value:
        if self._waiting:
            raise RuntimeError(f"anext(): the stream of {self.name} is already awaited by another task")
        kind, got = self._stream._next(0)  # a chunk already there is taken without a thread
        if kind == _PENDING:
            kind, got = await self._wait()
        if kind == _CHUNK:
            return got
        if kind == _FAILED:
            raise got
        raise StopAsyncIteration

    async def _wait(self) -> Tuple[int, Any]:
        loop = asyncio.get_running_loop()
        done: "asyncio.Future[Tuple[int, Any]]" = loop.create_future()
        if self._requests is None:
            self._requests = queue.SimpleQueue()
            threading.Thread(target=_read_stream, args=(self._stream, self._requests, loop),
                             name=f"plugbay stream {self.name}", daemon=True).start()
        self._waiting = True
        try:
            self._requests.put(done)
            try:
                return await asyncio.shield(done)
            except asyncio.CancelledError as cancelled:
                self._stream.cancel()
                kind, got = await asyncio.shield(done)  # it ends soon: the provider was told
                self.close()
                raise asyncio.CancelledError(*cancelled.args) from (got if kind == _FAILED else None)
        finally:
            self._waiting = False

    async def send(self, value: Value, timeout: Optional[float] = None) -> None:
        """Stream.send for asyncio: sent at once while the provider has credit for it; otherwise a sender thread
        of the stream's own waits for credit, and the event loop runs meanwhile. Sends go one after the other:
        await each. Cancelling the awaiting task cancels the stream and closes it (the chunk may have gone)."""
        if self._sending:
            raise RuntimeError(f"send(): the upload of {self.name} is already being sent to by another task")
        _check_send_timeout(timeout)
        self._stream._check_input("send")
        chunk = to_bay(value, "chunk")
        try:
            sent = self._stream._send_once(chunk, 0) == 0  # credit there: sent without a thread
        except BaseException:
            lib.bay_value_free(chunk)
            raise
        if sent or timeout == 0:
            lib.bay_value_free(chunk)
            if not sent:
                raise self._stream._pending_error(timeout)
            return
        loop = asyncio.get_running_loop()
        done: "asyncio.Future[Optional[BaseException]]" = loop.create_future()
        if self._sends is None:
            self._sends = queue.SimpleQueue()
            threading.Thread(target=_send_stream, args=(self._stream, self._sends, loop),
                             name=f"plugbay upload {self.name}", daemon=True).start()
        self._sending = True
        try:
            self._sends.put((done, chunk, timeout))  # the sender thread frees chunk
            try:
                error = await asyncio.shield(done)
            except asyncio.CancelledError as cancelled:
                self._stream.cancel()
                error = await asyncio.shield(done)  # it ends soon: the provider was told
                self.close()
                raise asyncio.CancelledError(*cancelled.args) from error
        finally:
            self._sending = False
        if error is not None:
            raise error

    async def end(self) -> None:
        """Stream.end for asyncio (it never waits)."""
        if self._sending:
            raise RuntimeError(f"end(): the upload of {self.name} is being sent to by another task; await its "
                               "send() first")
        self._stream.end()

    def cancel(self) -> None:
        """Asks plugbayd to stop the stream, as Stream.cancel."""
        self._stream.cancel()

    def close(self) -> None:
        """Abandons the stream if it still runs and frees it, as Stream.close; never waits."""
        self._stream.close()
        if self._requests is not None:
            self._requests.put(None)
        if self._sends is not None:
            self._sends.put(None)

    async def aclose(self) -> None:
        """close() as a coroutine, as an async generator has it."""
        self.close()


class Connection:
    """A connection to plugbayd (plugbay.connect). Usable from several threads and as a context manager;
    close() it (or leave the with block) when done."""

    def __init__(self, url: Optional[str], name: str) -> None:
        self.name = name
        self._ptr: Any = None
        self._keep: List[Any] = []  # handles and contexts libplugbay points at, alive until the end
        self._dispatch_thread: Optional[int] = None
        out, err = ffi.new("bay_conn **"), ffi.new("bay_error *")
        rc = lib.bay_connect(ffi.NULL if not url else _text(url, "url"), _text(name, "name"), out, err)
        if rc != 0:
            raise _error(rc, err)
        self._ptr = out[0]
        self._addr = int(ffi.cast("uintptr_t", self._ptr))  # for plugbay._cross, which takes pointers as ints
        _open.add(self)

    def __enter__(self) -> "Connection":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<plugbay.Connection {self.name!r}{' closed' if self._ptr is None else ''}>"

    @property
    def closed(self) -> bool:
        return self._ptr is None

    def _c(self) -> Any:
        ptr = self._ptr
        if ptr is None:
            raise _errors.Disconnected(f"this connection (host:{self.name}) is closed; connect again with "
                                       "plugbay.connect()")
        return ptr

    def close(self) -> None:
        """Says goodbye to plugbayd, withdraws what this host provides; calls still waiting end with
        plugbay.Disconnected. Closing again does nothing. Never from a provider or notice callback (it waits
        for them): that raises RuntimeError."""
        if self._ptr is None:
            return
        if threading.get_ident() == self._dispatch_thread:
            raise RuntimeError("Connection.close() called from a provider or notice callback, which close() "
                               "would wait for; close it from another thread")
        ptr, self._ptr = self._ptr, None
        _open.discard(self)
        lib.bay_close(ptr)

    def _send(self, start: Any, out_type: str, name: str, args: Iterable[Value], timeout: Optional[float],
              context: Optional[str]) -> Any:
        """_send runs start (bay_call_async, bay_call_stream or bay_call_upload) with the call's name, arguments and
        options, and returns what it stored through its out pointer, or raises the call's error."""
        name_b = _text(name, "name")
        ctx = ffi.new("char[]", _text(context, "context")) if context is not None else ffi.NULL
        opts = ffi.new("bay_call_opts *", {"timeout_ms": _timeout_ms(timeout), "context": ctx})
        bay_args = args_to_bay(args)
        out, err = ffi.new(out_type), ffi.new("bay_error *")
        try:
            rc = start(self._c(), name_b, bay_args, opts, out, err)
        finally:
            lib.bay_value_free(bay_args)
        if rc != 0:
            raise _error(rc, err)
        return out[0]

    def call(self, name: str, *args: Value, timeout: Optional[float] = None,
             context: Optional[str] = None) -> Value:
        """Calls extension point name with args and returns its result (for an event: a list of
        {"plugin", "value"} or {"plugin", "error"} dicts). timeout is in seconds (None: 5 s); context limits
        the call to the providers that accept it. Raises a plugbay.Error subclass on failure."""
        self._c()
        return _cross.call(self._addr, _text(name, "name"), args, _timeout_ms(timeout),
                           None if context is None else _text(context, "context"), _errors.make)

    async def call_async(self, name: str, *args: Value, timeout: Optional[float] = None,
                         context: Optional[str] = None) -> Value:
        """call as an asyncio awaitable. Cancelling the awaiting task cancels the call in the plugin too:
        asyncio.CancelledError is raised once the call has ended, chained from the call's own outcome
        (plugbay.Cancelled, or what ended it first)."""
        loop = asyncio.get_running_loop()
        pending = _Pending(self._send(lib.bay_call_async, "bay_pending **", name, args, timeout, context))
        done: "asyncio.Future[Tuple[Value, Optional[Error]]]" = loop.create_future()

        def settle(outcome: Tuple[Value, Optional[Error]]) -> None:
            if not done.done():
                done.set_result(outcome)

        def waiter() -> None:
            outcome = pending.wait()
            try:
                loop.call_soon_threadsafe(settle, outcome)
            except RuntimeError:  # the loop is closed: nobody waits any more
                pass

        threading.Thread(target=waiter, name=f"plugbay call {name}", daemon=True).start()
        try:
            value, error = await asyncio.shield(done)
        except asyncio.CancelledError as cancelled:
            pending.cancel()
            value, error = await asyncio.shield(done)  # the call ends soon: the plugin was told
            raise asyncio.CancelledError(*cancelled.args) from error
        if error is not None:
            raise error
        return value

    def call_stream(self, name: str, *args: Value, timeout: Optional[float] = None,
                    context: Optional[str] = None) -> Stream:
        """Calls handle name with args and returns its answer as a Stream: iterate it for the chunks the provider
        streams, in order (a provider that does not stream gives its result as one chunk, none when it is None).
        timeout (seconds, None: 5 s) is the deadline of the whole stream. The call starts now; its failures
        (an unknown name, no provider, the provider's error after its chunks, the deadline) are raised by the
        iteration. Close the stream (a with block) to abandon it early."""
        return Stream(self._send(lib.bay_call_stream, "bay_stream **", name, args, timeout, context), name)

    def call_stream_async(self, name: str, *args: Value, timeout: Optional[float] = None,
                          context: Optional[str] = None) -> AsyncStream:
        """call_stream for asyncio: an AsyncStream to read with `async for` (and `async with`); waiting for a
        chunk never blocks the event loop."""
        return AsyncStream(self.call_stream(name, *args, timeout=timeout, context=context))

    def call_upload(self, name: str, *args: Value, timeout: Optional[float] = None,
                    context: Optional[str] = None) -> Stream:
        """Calls handle name with args and streams its input: returns a Stream to send() each chunk of input to,
        then end(), and to iterate for the answer as call_stream's (during the upload or after it). The provider
        takes the input chunk by chunk (bay_call_receive). timeout (seconds, None: 5 s) is the deadline of the
        whole call, input included: an input never ended times out. Close the stream (a with block) to abandon
        the call."""
        start = time.monotonic()
        ptr = self._send(lib.bay_call_upload, "bay_stream **", name, args, timeout, context)
        deadline = start + (_timeout_ms(timeout) or lib.BAY_DEFAULT_TIMEOUT_MS) / 1000
        return Stream(ptr, name, takes_input=True, deadline=deadline)

    def call_upload_async(self, name: str, *args: Value, timeout: Optional[float] = None,
                          context: Optional[str] = None) -> AsyncStream:
        """call_upload for asyncio: an AsyncStream to `await send(value)` and `await end()` its input, and to read
        its answer with `async for`; neither wait blocks the event loop."""
        return AsyncStream(self.call_upload(name, *args, timeout=timeout, context=context))

    def declare(self, name: str, kind: str = "handle", types: Optional[Dict[str, Any]] = None) -> None:
        """Declares extension point name as a "handle" (one provider answers), an "event" (all do) or a
        "filter" (all do in turn, each given the arguments the one before passed on). types, a dict
        {"args": SCHEMA, "result": SCHEMA, "input": SCHEMA} (each optional), also declares their shape, which
        plugbayd checks on every call (docs/types.md)."""
        err = ffi.new("bay_error *")
        if types is None:
            rc = lib.bay_declare(self._c(), _text(name, "name"), _kind(kind), err)
        else:
            if not isinstance(types, dict):
                raise TypeError("types must be a dict {\"args\": SCHEMA, \"result\": SCHEMA, \"input\": SCHEMA}, "
                                f"got {type(types).__name__}")
            rc = lib.bay_declare_typed(self._c(), _text(name, "name"), _kind(kind),
                                       _text(json.dumps(types), "types"), err)
        if rc != 0:
            raise _error(rc, err)

    def provide(self, name: str, fn: Callable[..., Any], kind: str = "handle",
                contexts: Optional[Iterable[str]] = None) -> None:
        """Serves extension point name with fn(*args) -> value, called on libplugbay's dispatch thread, one
        call at a time. An exception fn raises reaches the caller as plugbay.PluginError "TYPE: message" (a
        plugbay.Error it raises, with its own code). contexts: the contexts it accepts (None: all).
        An `async def` fn runs on the event loop provide is called from, and answers when it returns: calls
        overlap while their coroutines await."""
        if not callable(fn):
            raise TypeError(f"provide({name!r}): fn must be callable, got {type(fn).__name__}")
        loop: Optional[asyncio.AbstractEventLoop] = None
        if inspect.iscoroutinefunction(fn):
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                raise ValueError(f"provide({name!r}): an async def provider runs on an event loop; call provide "
                                 "from a coroutine running on the loop that is to run it") from None
        c_contexts: Any = ffi.NULL
        kept: List[Any] = []
        if contexts is not None:
            if isinstance(contexts, str):
                raise TypeError("contexts must be a list of str, not a str")
            kept = [ffi.new("char[]", _text(ctx, "a context")) for ctx in contexts]
            c_contexts = ffi.new("const char *[]", kept + [ffi.NULL])
        provider = _Provider(self, name, fn, (kept, c_contexts), loop)
        handle = ffi.new_handle(provider)
        err = ffi.new("bay_error *")
        if loop is None:
            rc = lib.bay_provide(self._c(), _text(name, "name"), _kind(kind), c_contexts, lib._bay_py_handler,
                                 handle, err)
        else:
            rc = lib.bay_provide_async(self._c(), _text(name, "name"), _kind(kind), c_contexts,
                                       lib._bay_py_async_handler, handle, err)
        if rc != 0:
            raise _error(rc, err)
        self._keep.append(handle)

    def subscribe(self, fn: Optional[Callable[[Notice], None]]) -> None:
        """Delivers every later registry change to fn(notice) on libplugbay's dispatch thread; None stops it.
        An exception fn raises is printed to stderr and the notice dropped."""
        err = ffi.new("bay_error *")
        if fn is None:
            rc = lib.bay_subscribe(self._c(), ffi.NULL, ffi.NULL, err)
        else:
            if not callable(fn):
                raise TypeError(f"subscribe: fn must be callable, got {type(fn).__name__}")
            handle = ffi.new_handle((self, fn))
            rc = lib.bay_subscribe(self._c(), lib._bay_py_notice, handle, err)
            if rc == 0:
                self._keep.append(handle)
        if rc != 0:
            raise _error(rc, err)

    def command(self, name: str, args: Optional[Dict[str, Value]] = None, *, timeout: Optional[float] = None,
                **kwargs: Value) -> Value:
        """Runs broker command name (docs/cli.md: "list", "info", "install", "uninstall", "enable", "disable",
        "load", "unload", "reload", "order", "status", "config", ...) with args and keyword arguments as its
        map; returns the reply. timeout in seconds (None: 30 s)."""
        merged = dict(args or {}, **kwargs)
        bay_args = to_bay(merged, "args")
        result, err = ffi.new("bay_value **"), ffi.new("bay_error *")
        try:
            rc = lib.bay_command(self._c(), _text(name, "command"), bay_args, _timeout_ms(timeout), result, err)
        finally:
            lib.bay_value_free(bay_args)
        if rc != 0:
            raise _error(rc, err)
        return take(result[0])

    def status(self) -> Value:
        """plugbayd's status (docs/cli.md#status)."""
        return self.command("status")

    def list(self) -> Value:
        """The installed plugins (docs/cli.md#list)."""
        return self.command("list")

    def info(self, id: str) -> Value:
        """One plugin's manifest, state and providers (docs/cli.md#info-id)."""
        return self.command("info", id=id)

    def install(self, id: str, grant: Optional[List[str]] = None, grant_all: bool = False) -> Value:
        """Installs a plugin found in plugbayd's plugins folder, granting the permissions named."""
        extra: Dict[str, Value] = {"grant": list(grant)} if grant is not None else {}
        if grant_all:
            extra["grant_all"] = True
        return self.command("install", id=id, **extra)

    def uninstall(self, id: str) -> Value:
        return self.command("uninstall", id=id)

    def enable(self, id: str) -> Value:
        return self.command("enable", id=id)

    def disable(self, id: str) -> Value:
        return self.command("disable", id=id)

    def load(self, id: str) -> Value:
        return self.command("load", id=id)

    def unload(self, id: str) -> Value:
        return self.command("unload", id=id)

    def reload(self, id: str) -> Value:
        return self.command("reload", id=id)


def _kind(kind: str) -> int:
    try:
        return int(_KINDS[kind])
    except (KeyError, TypeError):
        raise ValueError(f"kind must be \"handle\", \"event\" or \"filter\", got {kind!r}") from None


def connect(url: Optional[str] = None, name: str = "python") -> Connection:
    """Connects to plugbayd at url (None: $PLUGBAY_BROKER, else the user's own plugbayd, else the system's)
    as host:NAME. Raises plugbay.Disconnected (BAY_ECONN) when nobody listens there."""
    return Connection(url, name)


@atexit.register
def _close_all() -> None:
    """Closes what is still open before the interpreter goes, so no callback runs into a dying Python."""
    for conn in list(_open):
        try:
            conn.close()
        except RuntimeError:
            pass
