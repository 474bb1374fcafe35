"""bindings/python/tests/test_threads.py — one connection shared by threads, providers calling out, closing under a waiting call."""
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

import plugbay
from conftest import sleeping, wait_until


def test_threads_share_a_connection(conn):
    def work(i):
        return [conn.call("slow.echo", i, j) for j in range(50)]

    with ThreadPoolExecutor(8) as pool:
        got = list(pool.map(work, range(8)))
    assert got == [[[i, j] for j in range(50)] for i in range(8)]


def test_a_waiting_call_lets_other_python_threads_run(conn):
    ticks = []
    stop = threading.Event()

    def ticker():
        while not stop.is_set():
            ticks.append(time.monotonic())
            time.sleep(0.01)

    t = threading.Thread(target=ticker)
    t.start()
    try:
        assert conn.call("slow.sleep", 300, timeout=5) == 300
    finally:
        stop.set()
        t.join()
    assert len(ticks) >= 5, "the GIL was held while the call waited"


def test_a_provider_may_call_plugins_through_its_own_connection(broker, conn):
    with broker.connect("relay") as relay:
        relay.provide("py.relay", lambda name: relay.call("greet", name).upper())
        assert conn.call("py.relay", "x") == "HELLO, X!"


def test_closing_ends_a_call_waiting_in_another_thread_with_disconnected(broker):
    conn = broker.connect("closed-under")
    worker = conn.info("test/slow")["pid"]
    outcome = []

    def waits():
        try:
            conn.call("slow.sleep", 3000, timeout=20)
        except plugbay.Error as e:
            outcome.append(e)

    t = threading.Thread(target=waits)
    t.start()
    wait_until(lambda: sleeping(worker), "test/slow sleeping in slow.sleep")
    t0 = time.monotonic()
    conn.close()
    t.join(10)
    assert not t.is_alive() and time.monotonic() - t0 < 2
    assert isinstance(outcome[0], (plugbay.Disconnected, plugbay.Cancelled)), outcome
