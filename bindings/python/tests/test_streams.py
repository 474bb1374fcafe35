"""bindings/python/tests/test_streams.py — streamed answers: conform/c's conform.stream read with call_stream and
call_stream_async (chunks in order, gathered by a plain call, an error after chunks, a deadline, abandoning, cancel,
bad arguments), and the waits (other threads run, a signal's exception gets in, close from another thread)."""
import asyncio
import gc
import signal
import threading
import time

import pytest

import plugbay
from conftest import still_answers, wait_until

PLUGINS = ["conform/c"]
CTX = "conform/c"


def stream(conn, *args, timeout=20):
    return conn.call_stream("conform.stream", *args, timeout=timeout, context=CTX)



def test_chunks_arrive_in_order_then_the_end(conn):
    with stream(conn, 5, 0, "last") as s:
        assert isinstance(s, plugbay.Stream) and not s.closed
        assert list(s) == [0, 1, 2, 3, 4, "last"]
        assert s.closed  # freed at its end
        with pytest.raises(StopIteration):
            next(s)  # the end stays the end
    assert list(stream(conn, 3, 0)) == [0, 1, 2]  # a nil last value is no chunk
    assert list(stream(conn, 0, 0)) == []


def test_binary_chunks_past_several_windows_arrive_whole_and_in_order(conn):
    n = 0
    for i, chunk in enumerate(stream(conn, 300, 4096, timeout=60)):
        assert chunk == bytes([i % 256]) * 4096, f"chunk {i}"
        n += 1
    assert n == 300


def test_a_plain_call_gathers_what_a_stream_gives_chunk_by_chunk(conn):
    assert conn.call("conform.stream", 4, 0, "last", context=CTX) == [0, 1, 2, 3, "last"]
    assert list(stream(conn, 4, 0, "last")) == [0, 1, 2, 3, "last"]
    assert conn.call("conform.stream", 2, 3, context=CTX) == [b"\x00\x00\x00", b"\x01\x01\x01"]
    assert list(stream(conn, 2, 3)) == [b"\x00\x00\x00", b"\x01\x01\x01"]


def test_an_error_after_chunks_is_raised_after_them(conn):
    got = []
    s = stream(conn, 2, 0, "error")
    with pytest.raises(plugbay.IOFailure) as e:
        for chunk in s:
            got.append(chunk)
    assert got == [0, 1]
    assert (e.value.code, e.value.errno, e.value.plugin) == ("BAY_EIO", 19, "conform/c")
    assert "conform/c failed after 2 chunks" in e.value.message
    assert s.closed
    with pytest.raises(StopIteration):
        next(s)  # as a generator after its exception
    with pytest.raises(plugbay.IOFailure):
        conn.call("conform.stream", 2, 0, "error", context=CTX)  # a plain call gets the error alone


def test_a_stream_that_never_ends_is_timed_out_at_its_deadline(conn):
    t0 = time.monotonic()
    got = []
    with pytest.raises(plugbay.TimedOut) as e:
        for chunk in stream(conn, -1, 0, timeout=0.8):
            got.append(chunk)
    took = time.monotonic() - t0
    assert e.value.code == "BAY_ETIMEDOUT"
    assert got and got == list(range(len(got))), "chunks in order before the deadline"
    assert 0.7 < took < 10, f"the deadline of 0.8 s cut the stream after {took:.2f} s"
    still_answers(conn)


def test_leaving_the_with_block_abandons_the_stream_and_the_plugin_serves_on(conn):
    with stream(conn, -1, 1024, timeout=60) as s:
        for i, chunk in enumerate(s):
            assert chunk == bytes([i % 256]) * 1024
            if i == 199:  # past several windows: credit flowed
                break
    assert s.closed
    assert list(s) == []  # a closed stream's iteration ends
    s.close()  # again: nothing
    still_answers(conn)


def test_a_stream_dropped_unfinished_is_abandoned_when_collected(conn):
    s = stream(conn, -1, 0, timeout=60)
    assert [next(s) for _ in range(100)] == list(range(100))
    del s
    gc.collect()
    still_answers(conn)


def test_a_stream_never_read_is_abandoned_by_close(conn):
    s = stream(conn, -1, 0, timeout=60)
    s.close()
    assert s.closed and list(s) == []
    still_answers(conn)


def test_cancel_ends_the_stream_with_cancelled_after_its_chunks(conn):
    s = stream(conn, -1, 0, timeout=60)
    assert next(s) == 0
    s.cancel()
    got = [0]
    with pytest.raises(plugbay.Cancelled) as e:
        for chunk in s:
            got.append(chunk)
    assert got == list(range(len(got)))
    assert e.value.code == "BAY_ECANCELED"
    still_answers(conn)


def test_wrong_arguments_are_refused_with_a_clear_error(conn):
    with pytest.raises(plugbay.WrongType) as e:
        next(stream(conn, "three", 0))
    assert e.value.plugin == "conform/c"
    assert "conform.stream: argument 1 must be int, got str" in e.value.message
    with pytest.raises(plugbay.InvalidArgument, match="size must be 0 to 8 MiB"):
        list(stream(conn, 1, -1))
    with pytest.raises(plugbay.NotFound, match="no.such.stream"):
        next(conn.call_stream("no.such.stream"))
    # Refused by the binding before anything is sent:
    with pytest.raises(TypeError, match=r"args\[0\]: a set cannot cross"):
        conn.call_stream("conform.stream", {1}, context=CTX)
    with pytest.raises(TypeError, match="name must be a str"):
        conn.call_stream(7)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="timeout must be a positive number"):
        conn.call_stream("conform.stream", 1, 0, timeout=-1, context=CTX)
    with pytest.raises(TypeError, match="context must be a str"):
        conn.call_stream("conform.stream", 1, 0, context=5)  # type: ignore[arg-type]


def test_a_closed_connection_refuses_a_stream_and_ends_one_it_had(broker, conn):
    other = broker.connect("stream-leaver")
    s = other.call_stream("conform.stream", -1, 0, timeout=60, context=CTX)
    assert next(s) == 0
    other.close()
    with pytest.raises(plugbay.Disconnected):
        for _ in s:  # the chunks received before the close, then the end of the connection
            pass
    with pytest.raises(plugbay.Disconnected):
        other.call_stream("conform.stream", 1, 0, context=CTX)
    still_answers(conn)


@pytest.fixture
def late(broker):
    """A host provider, py.late(seconds), that answers "late" after sleeping: a stream that waits for its chunk."""
    with broker.connect("py-late") as c:
        c.provide("py.late", lambda seconds: time.sleep(seconds) or "late")
        yield c


def test_a_wait_for_a_chunk_lets_other_threads_run(conn, late):
    ticks = []
    stop = threading.Event()

    def ticker():
        while not stop.is_set():
            ticks.append(time.monotonic())
            time.sleep(0.01)

    t = threading.Thread(target=ticker)
    t.start()
    try:
        assert list(conn.call_stream("py.late", 0.4)) == ["late"]  # a provider that does not stream: one chunk
    finally:
        stop.set()
        t.join()
    assert len(ticks) >= 5, "the GIL was held while the stream waited"


def test_a_signal_handlers_exception_interrupts_a_wait_and_the_stream_goes_on(conn, late):
    class Alarm(Exception):
        pass

    def ring(signum, frame):
        raise Alarm()

    before = signal.signal(signal.SIGALRM, ring)
    try:
        s = conn.call_stream("py.late", 1.5, timeout=10)
        signal.setitimer(signal.ITIMER_REAL, 0.2)
        t0 = time.monotonic()
        with pytest.raises(Alarm):
            next(s)
        assert time.monotonic() - t0 < 1.0, "the wait was not cut in slices"
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, before)
    assert list(s) == ["late"]  # the interrupted wait left the stream running


def test_close_from_another_thread_ends_a_waiting_iteration(conn, late):
    s = conn.call_stream("py.late", 1.5, timeout=10)
    threading.Timer(0.2, s.close).start()
    t0 = time.monotonic()
    assert list(s) == []
    assert time.monotonic() - t0 < 1.2 and s.closed


# asyncio


def test_async_for_reads_the_chunks_in_order_and_the_loop_runs_meanwhile(conn, late):
    async def main():
        got = [chunk async for chunk in conn.call_stream_async("conform.stream", 5, 2, "last", context=CTX)]
        ticks = 0

        async def tick():
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        ticker = asyncio.create_task(tick())
        async with conn.call_stream_async("py.late", 0.4) as s:
            waited = [chunk async for chunk in s]
        ticker.cancel()
        return got, waited, ticks

    got, waited, ticks = asyncio.run(main())
    assert got == [b"\x00\x00", b"\x01\x01", b"\x02\x02", b"\x03\x03", b"\x04\x04", "last"]
    assert waited == ["late"]
    assert ticks >= 10, f"the event loop ran {ticks} times while the stream waited"


def test_async_errors_after_chunks_and_deadlines(conn):
    async def main():
        got = []
        with pytest.raises(plugbay.IOFailure) as e:
            async for chunk in conn.call_stream_async("conform.stream", 3, 0, "error", timeout=20, context=CTX):
                got.append(chunk)
        assert got == [0, 1, 2] and e.value.plugin == "conform/c"
        assert "conform/c failed after 3 chunks" in e.value.message
        n = 0
        with pytest.raises(plugbay.TimedOut):
            async for chunk in conn.call_stream_async("conform.stream", -1, 0, timeout=0.5, context=CTX):
                assert chunk == n
                n += 1
        assert n > 0
        with pytest.raises(plugbay.WrongType, match="argument 2 must be int, got float"):
            await conn.call_stream_async("conform.stream", 1, 0.5, context=CTX).__anext__()

    asyncio.run(main())
    still_answers(conn)


def test_async_break_abandons_the_stream(conn):
    async def main():
        async with conn.call_stream_async("conform.stream", -1, 1024, timeout=60, context=CTX) as s:
            i = 0
            async for chunk in s:
                assert chunk == bytes([i % 256]) * 1024
                i += 1
                if i == 200:
                    break
        assert s.closed

    asyncio.run(main())
    still_answers(conn)


def test_cancelling_a_task_waiting_for_a_chunk_cancels_the_stream(conn, late):
    async def main():
        s = conn.call_stream_async("py.late", 3, timeout=20)
        task = asyncio.create_task(s.__anext__())
        await asyncio.sleep(0.2)
        t0 = time.monotonic()
        task.cancel()
        with pytest.raises(asyncio.CancelledError) as e:
            await task
        return e.value, time.monotonic() - t0, s

    cancelled, took, s = asyncio.run(main())
    assert took < 2, f"the cancel took {took:.2f} s"
    assert isinstance(cancelled.__cause__, plugbay.Cancelled), f"the stream ended with {cancelled.__cause__!r}"
    assert s.closed
