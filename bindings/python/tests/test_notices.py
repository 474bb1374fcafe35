"""bindings/python/tests/test_notices.py — subscribe delivers registry changes as plugbay.Notice; None stops them."""
import queue

import plugbay
from conftest import wait_until


def test_subscribe_receives_a_notice_of_a_new_provider(broker, conn):
    got = queue.Queue()
    conn.subscribe(got.put)
    with broker.connect("announcer") as other:
        other.provide("py.announced", lambda: 1)
        notice = wait_until(lambda: _find(got, lambda n: n.what == "provider-added" and n.name == "py.announced"),
                            "a provider-added notice for py.announced")
    assert isinstance(notice, plugbay.Notice) and notice.plugin == "host:announcer"


def test_a_reload_is_heard_as_plugin_states(conn):
    got = queue.Queue()
    conn.subscribe(got.put)
    conn.reload("lua/basic")
    wait_until(lambda: _find(got, lambda n: n.what == "plugin-state" and n.plugin == "lua/basic"
                             and n.state == "loaded"), "lua/basic loaded again")


def test_a_callback_that_raises_does_not_stop_the_notices(broker, conn, capfd):
    got = queue.Queue()

    def picky(n):
        if n.name == "py.first":
            raise RuntimeError("picky callback")
        got.put(n)

    conn.subscribe(picky)
    with broker.connect("announcer2") as other:
        other.provide("py.first", lambda: 1)
        other.provide("py.second", lambda: 2)
        wait_until(lambda: _find(got, lambda n: n.name == "py.second"), "the notice after the one that raised")
        conn.subscribe(None)  # before announcer2 goes: its provider-removed notices would raise after the test
    assert "picky callback" in capfd.readouterr().err


def test_unsubscribing_stops_the_notices(broker, conn):
    got = queue.Queue()
    conn.subscribe(got.put)
    conn.subscribe(None)
    with broker.connect("announcer3") as other:
        other.provide("py.unheard", lambda: 1)
        conn.declare("py.marker")  # the broker has answered this after sending any notice of py.unheard
    assert not _find(got, lambda n: n.name == "py.unheard")


def _find(q, pred):
    while True:
        try:
            n = q.get_nowait()
        except queue.Empty:
            return None
        if pred(n):
            return n
