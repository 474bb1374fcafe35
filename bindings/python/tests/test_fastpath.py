"""bindings/python/tests/test_fastpath.py — a synchronous handle call from Python takes libplugbay's fast path (unless
PLUGBAY_FASTPATH=0), and so does an event of plugins; async calls and host providers go through plugbayd; both give the
same answers."""
import asyncio

import plugbay

PLUGINS = ["example/hello", "test/slow"]


def fast_channels(conn):
    return conn.status()["broker"]["fast_channels"]


def test_a_handle_call_takes_a_channel_unless_the_fast_path_is_off(conn, fastpath):
    assert fast_channels(conn) == 0
    assert conn.call("greet", "fast") == "Hello, fast!"
    assert fast_channels(conn) == (1 if fastpath else 0)
    for i in range(100):
        assert conn.call("slow.echo", i, b"\x00", {"i": [i]}) == [i, b"\x00", {"i": [i]}]
    assert fast_channels(conn) == (2 if fastpath else 0)


def test_errors_and_deadlines_are_the_same_on_either_path(conn):
    try:
        conn.call("slow.sleep", "x")
    except plugbay.WrongType as e:
        assert e.plugin == "test/slow"
    try:
        conn.call("slow.sleep", 5000, timeout=0.1)
    except plugbay.TimedOut as e:
        assert e.plugin == "test/slow"
    assert conn.call("slow.sleep", 1) == 1


def test_async_calls_go_through_plugbayd_and_an_event_takes_a_channel(broker, fastpath):
    with broker.connect("async-only") as conn:
        assert asyncio.run(conn.call_async("greet", "a")) == "Hello, a!"
        assert fast_channels(conn) == 0
        assert conn.call("app.started")[0]["plugin"] == "example/hello"
        assert fast_channels(conn) == (1 if fastpath else 0)
