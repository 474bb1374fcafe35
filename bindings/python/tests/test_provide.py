"""bindings/python/tests/test_provide.py — a Python provider serves other hosts, the CLI and plugins; its exceptions reach the caller."""
import asyncio
import json
import subprocess
import threading

import pytest

import plugbay
from conftest import BUILD, _broker_env, wait_until


def cli(broker, *args):
    """cli runs build/bin/plugbay against the tests' plugbayd."""
    return subprocess.run([str(BUILD / "bin" / "plugbay"), "--broker", broker.url, *args], capture_output=True,
                          text=True, timeout=30, env=_broker_env())


@pytest.fixture
def provider(broker):
    with broker.connect("pyprov") as c:
        yield c


def test_a_python_provider_serves_another_connection(provider, conn):
    provider.provide("py.add", lambda a, b: a + b)
    provider.provide("py.shape", lambda v: {"type": type(v).__name__, "value": v})
    assert conn.call("py.add", 2, 40) == 42
    for v in (None, True, 7, 2.5, "s", b"\x00b", [1, [2]], {"k": {}}):
        assert conn.call("py.shape", v) == {"type": type(v).__name__, "value": v}


def test_a_python_provider_runs_on_another_thread_than_the_callers(provider, conn):
    provider.provide("py.thread", lambda: threading.get_ident())
    assert conn.call("py.thread") != threading.get_ident()


def test_a_python_provider_is_called_by_the_cli(broker, provider):
    provider.provide("py.cli", lambda name: f"hi {name} from Python")
    out = cli(broker, "call", "py.cli", '["cli"]')
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == "hi cli from Python"


def test_a_python_provider_is_called_by_a_lua_plugin(provider, conn):
    provider.provide("py.twice", lambda x: x * 2)
    assert conn.call("lua.via", "py.twice", 21) == 42


def test_an_exception_in_the_provider_is_a_plugin_error_with_its_type_and_message(provider, conn):
    def fails(n):
        raise KeyError(f"no item {n}")

    provider.provide("py.raises", fails)
    with pytest.raises(plugbay.PluginError) as e:
        conn.call("py.raises", 3)
    assert e.value.code == "BAY_EPLUGIN" and e.value.plugin == "host:pyprov"
    assert e.value.message.startswith("KeyError: 'no item 3' (at test_provide.py:")
    assert conn.call("greet", "on") == "Hello, on!"


def test_an_exception_reaches_the_cli_with_its_message(broker, provider):
    provider.provide("py.cli_fails", lambda: 1 / 0)
    out = cli(broker, "call", "py.cli_fails", "[]")
    assert out.returncode == 1
    assert "host:pyprov: ZeroDivisionError: division by zero" in out.stderr and "BAY_EPLUGIN" in out.stderr


def test_a_plugbay_error_raised_by_the_provider_keeps_its_code(provider, conn):
    def refuses(x):
        raise plugbay.WrongType(f"py.refuses: argument 1 must be str, got {type(x).__name__}")

    provider.provide("py.refuses", refuses)
    with pytest.raises(plugbay.WrongType) as e:
        conn.call("py.refuses", 1)
    assert e.value.message == "py.refuses: argument 1 must be str, got int" and e.value.plugin == "host:pyprov"


def test_wrong_arguments_and_results_that_cannot_cross_are_reported(provider, conn):
    provider.provide("py.one", lambda a: a)
    provider.provide("py.set", lambda: {1, 2})
    with pytest.raises(plugbay.PluginError, match="TypeError: .*positional argument"):
        conn.call("py.one", 1, 2)
    with pytest.raises(plugbay.WrongType, match=r"py.set returned a value plugbay cannot carry: result: a set"):
        conn.call("py.set")


def test_an_event_provider_answers_beside_the_plugins(provider, conn):
    provider.provide("app.started", lambda: "python host here", kind="event")
    answers = conn.call("app.started", timeout=10)
    assert {"plugin": "host:pyprov", "value": "python host here"} in answers


def test_a_filter_provider_passes_the_arguments_on_or_refuses(provider, conn):
    def redact(text, *rest):
        if text == "secret":
            raise plugbay.PermissionDenied("py.redact: secrets do not pass")
        return None if text == "plain" else [text.replace("x", "*"), *rest]

    provider.provide("py.redact", redact, kind="filter")
    assert conn.call("py.redact", "xyx", 1) == ["*y*", 1]
    assert conn.call("py.redact", "plain", 2) == ["plain", 2]  # None: passed on unchanged
    with pytest.raises(plugbay.PermissionDenied) as e:
        conn.call("py.redact", "secret")
    assert e.value.message == "py.redact: secrets do not pass" and e.value.plugin == "host:pyprov"
    provider.provide("py.notargs", lambda *a: "a str", kind="filter")
    with pytest.raises(plugbay.WrongType, match=r"filter py.notargs: host:pyprov answered a str"):
        conn.call("py.notargs", 1)


def test_contexts_limit_the_calls_a_provider_sees(provider, conn):
    provider.provide("py.ctx", lambda: "ui only", contexts=["ui"])
    assert conn.call("py.ctx", context="ui") == "ui only"
    with pytest.raises(plugbay.NoProvider):
        conn.call("py.ctx", context="batch")


def test_providing_a_name_twice_is_already_exists(provider):
    provider.provide("py.once", lambda: 1)
    with pytest.raises(plugbay.AlreadyExists):
        provider.provide("py.once", lambda: 2)
    with pytest.raises(ValueError, match="kind"):
        provider.provide("py.kind", lambda: 1, kind="stream")


def test_closing_from_a_provider_is_refused_not_a_deadlock(provider, conn):
    seen = []

    def closes():
        try:
            provider.close()
        except RuntimeError as e:
            seen.append(str(e))
        return "still open"

    provider.provide("py.closes", closes)
    assert conn.call("py.closes") == "still open"
    assert "from a provider or notice callback" in seen[0]


def test_closing_withdraws_the_provider(broker, conn):
    other = broker.connect("short-lived")
    other.provide("py.gone", lambda: "here")
    assert conn.call("py.gone") == "here"
    other.close()
    wait_until(lambda: _fails(conn, "py.gone"), "py.gone withdrawn after close")


def _fails(conn, name):
    try:
        conn.call(name)
    except (plugbay.NotFound, plugbay.NoProvider):
        return True
    return False


def test_an_async_def_provider_runs_on_its_loop_and_calls_overlap_while_it_awaits(provider, conn):
    async def main():
        gate = asyncio.Event()

        async def gated(x):
            if x == "first":
                await gate.wait()
            return x

        async def refuse(x):
            raise plugbay.PermissionDenied(f"no {x}")

        provider.provide("py.gated", gated)
        provider.provide("py.refuse", refuse)
        first = asyncio.ensure_future(conn.call_async("py.gated", "first", timeout=10))
        assert await conn.call_async("py.gated", "second", timeout=5) == "second"  # first still awaits
        gate.set()
        assert await first == "first"
        with pytest.raises(plugbay.PermissionDenied) as e:
            await conn.call_async("py.refuse", "way")
        assert e.value.message == "no way" and e.value.plugin == "host:pyprov"
        with pytest.raises(plugbay.PluginError, match="TypeError: .*positional argument"):
            await conn.call_async("py.gated", 1, 2)

    asyncio.run(main())


def test_an_async_def_provider_is_cancelled_when_its_caller_stops_waiting(provider, conn):
    async def main():
        seen = []

        async def forever():
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                seen.append("cancelled")
                raise

        provider.provide("py.forever", forever)
        with pytest.raises(plugbay.TimedOut):
            await conn.call_async("py.forever", timeout=0.3)
        for _ in range(200):  # the deadline reaches the provider's reply, then its coroutine: well within 10 s
            if seen:
                break
            await asyncio.sleep(0.05)
        assert seen == ["cancelled"]
        assert await conn.call_async("greet", "after") == "Hello, after!"

    asyncio.run(main())


def test_an_async_def_provider_needs_a_loop_and_one_that_ended_is_unavailable(provider, conn):
    async def one():
        return 1

    with pytest.raises(ValueError, match="event loop"):
        provider.provide("py.noloop", one)

    async def main():
        provider.provide("py.ended", one)
        return await conn.call_async("py.ended")

    assert asyncio.run(main()) == 1
    with pytest.raises(plugbay.Unavailable, match="event loop of its async provider is closed"):
        conn.call("py.ended")
    assert conn.call("greet", "still") == "Hello, still!"
