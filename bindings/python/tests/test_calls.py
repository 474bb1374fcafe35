"""bindings/python/tests/test_calls.py — calls into C, Lua and Python plugins: results, values of every kind, events."""
import math

import pytest

import plugbay

# Every kind of value, as sent and as it comes back (a tuple comes back a list).
SENT = [None, True, False, 0, -(2**63), 2**63 - 1, 1.5, -0.25, math.inf, "", "héllo\x00wörld", b"", b"a\x00b\xff",
        [], [1, [2, [3]]], (4, 5), {}, {"k": {"nested": [None, {"deep": b"\x01"}]}, "é": 1.0}]
BACK = [list(v) if isinstance(v, tuple) else v for v in SENT]


def test_a_c_plugin_answers_greet(conn):
    assert conn.call("greet", "world") == "Hello, world!"


def test_a_lua_plugin_and_a_python_plugin_answer(conn):
    assert conn.call("lua.greet", "world").endswith("world!")
    assert conn.call("py.greet", "world").endswith("world!")


def test_values_of_every_kind_cross_to_a_c_plugin_and_back(conn):
    assert conn.call("slow.echo", *SENT) == BACK


def test_values_of_every_kind_cross_to_a_python_plugin_and_back(conn):
    assert conn.call("py.echo", *SENT) == BACK


def test_values_cross_to_a_lua_plugin_and_back(conn):
    # Lua has one string type: a binary comes back a str; the rest is kept, int and float apart.
    sent = [v for v in SENT if not isinstance(v, bytes) and v != {} and v != []]
    sent = [v for v in sent if not (isinstance(v, dict) and "k" in v)]
    for v in sent:
        back = conn.call("lua.echo", v)
        assert back == (list(v) if isinstance(v, tuple) else v)
        assert type(back) is (list if isinstance(v, tuple) else type(v))
    assert conn.call("lua.types", 1, 1.0, "s", True) == ["integer", "float", "string", "boolean"]


def test_no_arguments_and_a_nil_result(conn):
    assert conn.call("slow.echo") == []
    assert conn.call("lua.echo", None) is None


def test_an_event_gathers_every_provider_in_load_order(conn):
    answers = conn.call("app.started", timeout=10)
    plugins = [a["plugin"] for a in answers]
    assert plugins[:3] == ["example/hello", "example/lua-hello", "example/py-hello"]
    assert all("value" in a or "error" in a for a in answers)


def test_a_declared_name_with_no_provider_is_no_provider(conn):
    conn.declare("py.nobody", "handle")
    conn.declare("py.nobody", "handle")  # again, the same kind: fine
    try:
        conn.call("py.nobody")
    except plugbay.NoProvider as e:
        assert e.code == "BAY_ENOPROVIDER" and "py.nobody" in e.message
    else:
        raise AssertionError("a call with no provider succeeded")


def test_declaring_the_other_kind_is_a_kind_conflict(conn):
    conn.declare("py.kinded", "event")
    try:
        conn.declare("py.kinded", "handle")
    except plugbay.KindConflict as e:
        assert e.code == "BAY_EKIND"
    else:
        raise AssertionError("declared both kinds")


def test_typed_declarations_have_their_values_checked_by_plugbayd(broker, conn):
    with broker.connect("pytyped") as prov:
        prov.declare("py.typed", types={"args": {"type": "array", "prefixItems": [{"type": "integer"}]},
                                        "result": {"type": "string"}})
        prov.provide("py.typed", lambda n: "ok" if n > 0 else n)
        assert conn.call("py.typed", 1) == "ok"
        with pytest.raises(plugbay.WrongType, match=r"the arguments do not fit the types host:pytyped declared: at "
                                                    r"\[0\]: expected integer, got str"):
            conn.call("py.typed", "one")
        with pytest.raises(plugbay.WrongType, match=r"host:pytyped answered a result .* expected string, got int"):
            conn.call("py.typed", -1)
        with pytest.raises(plugbay.WrongType, match=r"otherwise than host:pytyped did: at /result/type"):
            conn.declare("py.typed", types={"args": {"type": "array", "prefixItems": [{"type": "integer"}]},
                                            "result": {"type": "integer"}})
        with pytest.raises(plugbay.InvalidArgument, match=r"unknown keyword \"tpye\""):
            conn.declare("py.badtypes", types={"args": {"tpye": "array"}})
        with pytest.raises(TypeError):
            conn.declare("py.badtypes", types="not a dict")  # type: ignore[arg-type]


def test_commands_answer(conn):
    assert conn.info("example/hello")["state"] == "loaded"
    ids = [p["id"] for p in conn.list()["plugins"]] if isinstance(conn.list(), dict) else \
        [p["id"] for p in conn.list()]
    assert "example/hello" in ids
    assert isinstance(conn.status(), dict)
    assert conn.command("info", id="lua/basic")["language"] == "lua"
