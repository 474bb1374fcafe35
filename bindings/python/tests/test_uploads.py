"""bindings/python/tests/test_uploads.py — streamed input: conform/c's conform.upload fed with call_upload and
call_upload_async (1,000 chunks past the window, input and answer both ways at once, a provider that answered early,
misuse: no input, ended twice, closed; abandoning, the deadline, back-pressure and send's timeout, a signal and
close() during a waiting send, cancelling a task waiting to send)."""
import asyncio
import gc
import os
import signal
import threading
import time

import pytest

import plugbay
from conftest import still_answers, wait_until

PLUGINS = ["conform/c"]
CTX = "conform/c"
# Through plugbayd, back-pressure is 64 chunks each way (windows); on a fast channel it is a 32 KiB ring each way,
# which holds 512 small chunks.
HELD = 1100 if os.environ.get("PLUGBAY_FASTPATH") != "0" else 200


def upload(conn, what, timeout=60):
    return conn.call_upload("conform.upload", what, timeout=timeout, context=CTX)



def fill(s, most=HELD):
    """fill sends ints 0, 1, ... to an echo upload nobody reads until a send finds no credit within 0.3 s (the
    provider waits for its echoes to be read, and its input window is full); returns how many went."""
    for i in range(most):
        try:
            s.send(i, timeout=0.3)
        except plugbay.Pending as e:
            assert e.code == "BAY_EPENDING" and "took no more input within 0.3 s" in e.message
            return i
    pytest.fail(f"{most} chunks went without back-pressure")


def test_a_thousand_chunks_past_the_window_are_summed(conn):
    with upload(conn, "sum") as s:
        assert isinstance(s, plugbay.Stream) and not s.closed
        for i in range(1000):  # the provider's credit comes back as it takes them: 64 at a time at most
            s.send(i)
        s.end()
        assert list(s) == [{"chunks": 1000, "sum": 499500, "bytes": 0}]
        assert s.closed
    with upload(conn, "sum") as s:
        for chunk in ("héllo", b"\x00" * 10, 5, -2):
            s.send(chunk)
        s.end()
        assert next(s) == {"chunks": 4, "sum": 3, "bytes": 16}  # "héllo" is 6 bytes of UTF-8
        with pytest.raises(StopIteration):
            next(s)


# An END sent before the provider took the call (held in plugbayd, or queued in its worker) is kept for it.
def test_an_upload_ended_without_input_answers(conn):
    for _ in range(10):
        with upload(conn, "sum", timeout=2) as s:
            s.end()  # no input at all
            assert list(s) == [{"chunks": 0, "sum": 0, "bytes": 0}]


def test_input_and_answer_go_both_ways_at_once(conn):
    with upload(conn, "echo") as s:  # one thread, turn by turn
        for i in range(300):
            s.send(i * 7)
            assert next(s) == i * 7, f"echo {i}"
        s.send(b"bytes")
        s.send({"a": [1, None]})
        assert [next(s), next(s)] == [b"bytes", {"a": [1, None]}]
        s.end()
        assert list(s) == []

    s = upload(conn, "echo")  # a thread sends while this one reads: both windows filled and emptied many times
    sent = threading.Event()
    failure = []

    def sender():
        try:
            for i in range(2000):
                s.send(i)
            s.end()
        except BaseException as e:  # the test fails with it below
            failure.append(e)
        sent.set()

    t = threading.Thread(target=sender)
    t.start()
    got = list(s)
    t.join()
    assert not failure, failure
    assert got == list(range(2000))


def test_input_to_a_provider_that_answered_early_is_refused_with_state_error(conn):
    s = upload(conn, "early", timeout=20)
    s.send(1)

    def refused():
        try:
            s.send(2)  # credit is left: sends go until the answer came back
        except plugbay.StateError as e:
            return e
        return None

    e = wait_until(refused, "a send refused once the provider answered")
    assert e.code == "BAY_ESTATE" and e.errno == 14
    assert "ended before its input did" in e.message
    assert list(s) == ["early"]  # the answer is read all the same
    with pytest.raises(plugbay.StateError, match="ended before its input did"):
        s.send(3)  # the stream is over and freed now
    s.end()  # nothing waits for input any more: nothing to do
    with pytest.raises(plugbay.InvalidArgument, match="had its input ended"):
        s.send(4)


def test_misuse_is_refused_with_clear_errors(conn):
    with conn.call_stream("conform.stream", 3, 0, timeout=20, context=CTX) as plain:
        with pytest.raises(plugbay.InvalidArgument, match="takes no input; start the call with call_upload"):
            plain.send(1)
        with pytest.raises(plugbay.InvalidArgument, match="takes no input"):
            plain.end()
        assert list(plain) == [0, 1, 2]  # the stream is unharmed

    with upload(conn, "sum", timeout=20) as s:
        s.send(1)
        s.end()
        with pytest.raises(plugbay.InvalidArgument, match="had its input ended") as e:
            s.end()
        assert e.value.code == "BAY_EINVAL"
        with pytest.raises(plugbay.InvalidArgument, match="had its input ended"):
            s.send(2)
        assert list(s) == [{"chunks": 1, "sum": 1, "bytes": 0}]
        with pytest.raises(plugbay.InvalidArgument):
            s.end()  # still, after the answer

    with upload(conn, "sum", timeout=20) as s:
        with pytest.raises(TypeError, match=r"chunk: a set cannot cross"):
            s.send({1})
        for bad in (-1, "1", True):
            with pytest.raises(ValueError, match="timeout must be a number of seconds"):
                s.send(1, timeout=bad)
        s.send(2)  # the refused ones left the upload going
        s.end()
        assert list(s) == [{"chunks": 1, "sum": 2, "bytes": 0}]

    s = upload(conn, "sum", timeout=20)
    s.close()
    with pytest.raises(plugbay.StateError, match="was closed"):
        s.send(1)
    s.end()  # closed: nothing waits for input
    assert list(s) == []
    with pytest.raises(plugbay.NotFound, match="no.such.upload"):
        with conn.call_upload("no.such.upload") as s:
            s.end()
            next(s)
    with pytest.raises(TypeError, match="name must be a str"):
        conn.call_upload(7)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="timeout must be a positive number"):
        conn.call_upload("conform.upload", "sum", timeout=0, context=CTX)


def test_an_abandoned_upload_stops_its_provider(conn):
    with upload(conn, "sum") as s:
        for i in range(10):
            s.send(i)
    assert s.closed  # left unended: the provider waits for input, then is cancelled
    still_answers(conn)

    s = upload(conn, "sum")
    s.send(1)
    del s
    gc.collect()
    still_answers(conn)


def test_an_upload_never_ended_times_out_at_its_deadline(conn):
    t0 = time.monotonic()
    s = upload(conn, "sum", timeout=0.8)
    s.send(1)  # and no end
    with pytest.raises(plugbay.TimedOut) as e:
        next(s)
    took = time.monotonic() - t0
    assert e.value.code == "BAY_ETIMEDOUT"
    assert 0.7 < took < 10, f"the deadline of 0.8 s ended the upload after {took:.2f} s"
    with pytest.raises(plugbay.StateError):
        s.send(2)
    still_answers(conn)


def test_back_pressure_a_send_waits_for_credit_then_goes_on(conn):
    with upload(conn, "echo") as s:
        n = fill(s)
        # The provider holds 64 echoes unread and waits to emit the next; its input window holds 64 more (or a
        # ring's worth).
        assert 64 < n < HELD, f"{n} chunks went before the provider's windows filled"
        assert [next(s) for _ in range(100)] == list(range(100))  # reading lets it take more
        for i in range(n, n + 50):
            s.send(i, timeout=10)
        s.end()
        assert list(s) == list(range(100, n + 50))


def test_a_send_without_timeout_waits_until_the_calls_deadline(conn):
    with upload(conn, "echo", timeout=1.5) as s:
        n = fill(s)
        t0 = time.monotonic()
        with pytest.raises(plugbay.StateError, match="ended before its input did") as e:
            s.send(n)
        took = time.monotonic() - t0
        assert 0.3 < took < 5, f"the send waited {took:.2f} s"
        assert "BAY_ESTATE" == e.value.code
        got = []
        with pytest.raises(plugbay.TimedOut):
            for chunk in s:
                got.append(chunk)
        assert got == list(range(len(got)))
    still_answers(conn)


def test_a_signal_handlers_exception_interrupts_a_waiting_send_and_the_upload_goes_on(conn):
    class Alarm(Exception):
        pass

    def ring(signum, frame):
        raise Alarm()

    with upload(conn, "echo") as s:
        n = fill(s)
        before = signal.signal(signal.SIGALRM, ring)
        try:
            signal.setitimer(signal.ITIMER_REAL, 0.2)
            t0 = time.monotonic()
            with pytest.raises(Alarm):
                s.send(n, timeout=10)
            assert time.monotonic() - t0 < 1.0, "the wait was not cut in slices"
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, before)
        assert [next(s) for _ in range(n)] == list(range(n))  # the upload went on
        s.send(n)
        s.end()
        assert list(s) == [n]


def test_close_from_another_thread_ends_a_waiting_send(conn):
    s = upload(conn, "echo")
    n = fill(s)
    threading.Timer(0.2, s.close).start()
    t0 = time.monotonic()
    with pytest.raises(plugbay.StateError):
        s.send(n, timeout=10)
    assert time.monotonic() - t0 < 2 and s.closed
    assert list(s) == []
    still_answers(conn)


# asyncio


def test_async_sum_and_echo_both_ways_and_the_loop_runs_while_a_send_waits(conn):
    async def main():
        async with conn.call_upload_async("conform.upload", "sum", timeout=60, context=CTX) as s:
            assert isinstance(s, plugbay.AsyncStream)
            for i in range(1000):
                await s.send(i)
            await s.end()
            summed = [chunk async for chunk in s]

        ticks = 0

        async def tick():
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        async with conn.call_upload_async("conform.upload", "echo", timeout=60, context=CTX) as s:
            async def send():
                for i in range(1000):
                    await s.send(i)  # waits for credit while the reader below sleeps
                await s.end()

            ticker = asyncio.create_task(tick())
            sender = asyncio.create_task(send())
            await asyncio.sleep(0.5)  # nobody reads: the sender waits, the loop runs
            waited_ticks = ticks
            echoed = [chunk async for chunk in s]
            await sender
            ticker.cancel()
        return summed, echoed, waited_ticks

    summed, echoed, ticks = asyncio.run(main())
    assert summed == [{"chunks": 1000, "sum": 499500, "bytes": 0}]
    assert echoed == list(range(1000))
    assert ticks >= 10, f"the event loop ran {ticks} times while a send waited"


def test_async_errors_early_misuse_and_timeout(conn):
    async def main():
        s = conn.call_upload_async("conform.upload", "early", timeout=20, context=CTX)
        await s.send(1)
        assert [chunk async for chunk in s] == ["early"]
        with pytest.raises(plugbay.StateError, match="ended before its input did"):
            await s.send(2)
        plain = conn.call_stream_async("conform.stream", 1, 0, timeout=20, context=CTX)
        with pytest.raises(plugbay.InvalidArgument, match="takes no input"):
            await plain.send(1)
        plain.close()
        async with conn.call_upload_async("conform.upload", "echo", timeout=60, context=CTX) as s:
            n = 0
            with pytest.raises(plugbay.Pending):
                while n < HELD:
                    await s.send(n, timeout=0.3)
                    n += 1
            assert 64 < n < HELD
            with pytest.raises(plugbay.Pending):
                await s.send(n, timeout=0)
            await s.end()
            with pytest.raises(plugbay.InvalidArgument):
                await s.end()
            assert [chunk async for chunk in s] == list(range(n))

    asyncio.run(main())
    still_answers(conn)


def test_cancelling_a_task_waiting_to_send_cancels_the_upload(conn):
    async def main():
        s = conn.call_upload_async("conform.upload", "echo", timeout=20, context=CTX)
        n = 0
        while True:
            try:
                await s.send(n, timeout=0.3)
            except plugbay.Pending:
                break
            n += 1
        task = asyncio.create_task(s.send(n))
        await asyncio.sleep(0.2)
        t0 = time.monotonic()
        task.cancel()
        with pytest.raises(asyncio.CancelledError) as e:
            await task
        return e.value, time.monotonic() - t0, s

    cancelled, took, s = asyncio.run(main())
    assert took < 2, f"the cancel took {took:.2f} s"
    assert isinstance(cancelled.__cause__, plugbay.StateError), f"the send ended with {cancelled.__cause__!r}"
    assert s.closed
    still_answers(conn)
