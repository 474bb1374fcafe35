"""bindings/python/tests/test_async.py — call_async awaited, gathered, timed out, and cancelled (the plugin sees the cancel)."""
import asyncio
import time

import pytest

import plugbay
from conftest import sleeping, until


def test_call_async_is_awaited(conn):
    async def main():
        return await conn.call_async("greet", "async")

    assert asyncio.run(main()) == "Hello, async!"


def test_calls_run_side_by_side(conn):
    async def main():
        t0 = time.monotonic()
        got = await asyncio.gather(conn.call_async("py.sleep", 1.0, timeout=10),
                                   conn.call_async("slow.sleep", 1000, timeout=10),
                                   conn.call_async("slow.echo", b"\x00", [1]))
        return got, time.monotonic() - t0

    got, took = asyncio.run(main())
    assert got == ["woke", 1000, [b"\x00", [1]]]
    assert took < 1.8, f"two 1 s calls to two plugins took {took:.3f} s: not side by side"


def test_a_failing_async_call_raises_its_error(conn):
    async def main():
        await conn.call_async("lua.fail", "late")

    with pytest.raises(plugbay.PluginError) as e:
        asyncio.run(main())
    assert e.value.plugin == "lua/basic" and "boom: late" in e.value.message


def test_an_async_deadline_is_timed_out(conn):
    async def main():
        await conn.call_async("slow.sleep", 10000, timeout=0.2)

    with pytest.raises(plugbay.TimedOut):
        asyncio.run(main())


def test_cancelling_the_task_cancels_the_call_in_the_plugin(conn):
    worker = conn.info("test/slow")["pid"]

    async def main():
        task = asyncio.create_task(conn.call_async("slow.sleep", 10000, timeout=20))
        await until(lambda: sleeping(worker), "test/slow sleeping in slow.sleep")
        assert not task.done()
        t0 = time.monotonic()
        task.cancel()
        with pytest.raises(asyncio.CancelledError) as e:
            await task
        return e.value, time.monotonic() - t0

    cancelled, took = asyncio.run(main())
    assert took < 2
    outcome = cancelled.__cause__
    assert isinstance(outcome, plugbay.Cancelled), f"the call ended with {outcome!r}"
    assert outcome.plugin == "test/slow" and "cancelled" in outcome.message
    # The plugin stopped sleeping when it saw the cancel, so it serves the next call at once.
    t0 = time.monotonic()
    assert conn.call("slow.sleep", 1, timeout=1) == 1
    assert time.monotonic() - t0 < 1


def test_wait_for_cancels_the_call_when_it_times_out(conn):
    async def main():
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(conn.call_async("slow.sleep", 10000, timeout=20), 0.1)

    asyncio.run(main())
    assert conn.call("slow.sleep", 1, timeout=1) == 1


def test_an_async_call_on_a_closed_connection_raises_at_once(broker):
    conn = broker.connect("closed-async")
    conn.close()

    async def main():
        await conn.call_async("greet", "x")

    with pytest.raises(plugbay.Disconnected):
        asyncio.run(main())


def test_closing_ends_a_waiting_async_call_with_disconnected(broker):
    conn = broker.connect("closing-async")
    worker = conn.info("test/slow")["pid"]

    async def main():
        task = asyncio.create_task(conn.call_async("slow.sleep", 10000, timeout=20))
        await until(lambda: sleeping(worker), "test/slow sleeping in slow.sleep")
        await asyncio.get_running_loop().run_in_executor(None, conn.close)
        await task

    with pytest.raises((plugbay.Disconnected, plugbay.Cancelled)):
        asyncio.run(main())
