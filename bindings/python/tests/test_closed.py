"""bindings/python/tests/test_closed.py — a closed connection, or none at all, is a clear error and never a crash."""
import pytest

import plugbay


def test_every_method_of_a_closed_connection_raises_disconnected(broker):
    conn = broker.connect("closing")
    conn.close()
    conn.close()  # again: nothing
    assert conn.closed
    for use in (lambda: conn.call("greet", "x"), lambda: conn.declare("x.y"), lambda: conn.status(),
                lambda: conn.provide("x.z", print), lambda: conn.subscribe(print)):
        with pytest.raises(plugbay.Disconnected, match="is closed; connect again") as e:
            use()
        assert e.value.code == "BAY_ECONN"


def test_the_with_block_closes_the_connection(broker):
    with broker.connect("scoped") as conn:
        assert conn.call("greet", "x") == "Hello, x!"
    assert conn.closed
    with pytest.raises(plugbay.Disconnected):
        conn.call("greet", "x")


def test_no_plugbayd_at_the_url_is_disconnected_saying_where(tmp_path):
    url = f"ipc://{tmp_path}/nobody.sock"
    with pytest.raises(plugbay.Disconnected) as e:
        plugbay.connect(url, name="lonely")
    assert url in e.value.message


def test_a_call_waiting_when_plugbayd_goes_ends_disconnected():
    import conftest
    b = conftest.Broker(["test/slow"])
    try:
        with b.connect("orphan") as conn:
            assert conn.call("slow.echo", 1) == [1]
            b.proc.kill()
            b.proc.wait()
            with pytest.raises(plugbay.Disconnected):
                conn.call("slow.sleep", 3000, timeout=10)
            with pytest.raises(plugbay.Disconnected):
                conn.call("slow.echo", 2)
    finally:
        b.stop(keep=False)
