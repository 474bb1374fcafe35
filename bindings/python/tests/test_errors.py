"""bindings/python/tests/test_errors.py — each plugbay failure raises its plugbay.Error subclass with code, plugin and message."""
import time

import pytest

import plugbay


def test_an_unknown_name_is_not_found(conn):
    with pytest.raises(plugbay.NotFound) as e:
        conn.call("no.such.thing")
    assert e.value.code == "BAY_ENOENT" and e.value.errno == 5 and e.value.plugin == ""
    assert "no.such.thing" in e.value.message
    assert isinstance(e.value, plugbay.Error)


def test_a_lua_error_is_a_plugin_error_naming_the_plugin(conn):
    with pytest.raises(plugbay.PluginError) as e:
        conn.call("lua.fail", "x")
    assert (e.value.code, e.value.plugin) == ("BAY_EPLUGIN", "lua/basic")
    assert "boom: x" in e.value.message
    assert str(e.value).startswith("BAY_EPLUGIN from lua/basic: ")


def test_a_python_plugins_exception_is_a_plugin_error_with_its_type_and_message(conn):
    with pytest.raises(plugbay.PluginError) as e:
        conn.call("py.fail")
    assert e.value.plugin == "python/escapes"
    assert "ValueError: n must not be negative, got -1" in e.value.message


def test_a_wrong_argument_is_wrong_type(conn):
    with pytest.raises(plugbay.WrongType) as e:
        conn.call("slow.sleep", "soon")
    assert (e.value.code, e.value.plugin) == ("BAY_ETYPE", "test/slow")
    assert "argument 1 must be int" in e.value.message


def test_a_plugin_result_that_cannot_cross_is_wrong_type(conn):
    with pytest.raises(plugbay.WrongType) as e:
        conn.call("py.big")
    assert e.value.plugin == "python/escapes" and "64 bits" in e.value.message


def test_a_deadline_that_passes_is_timed_out_and_the_broker_serves_on(conn):
    t0 = time.monotonic()
    with pytest.raises(plugbay.TimedOut) as e:
        conn.call("slow.sleep", 10000, timeout=0.2)
    assert time.monotonic() - t0 < 3
    assert (e.value.code, e.value.plugin) == ("BAY_ETIMEDOUT", "test/slow")
    assert "slow.sleep" in e.value.message
    assert conn.call("slow.sleep", 1, timeout=5) == 1


def test_a_bad_timeout_is_refused_before_anything_is_sent(conn):
    for bad in (0, -1, "1", True):
        with pytest.raises(ValueError, match="timeout"):
            conn.call("greet", "x", timeout=bad)


def test_an_unknown_command_is_not_found(conn):
    with pytest.raises(plugbay.NotFound):
        conn.command("no-such-command")


def test_info_on_an_unknown_plugin_is_not_found(conn):
    with pytest.raises(plugbay.NotFound) as e:
        conn.info("no/such")
    assert "no/such" in e.value.message


def test_every_code_has_its_class():
    names = {cls.code for cls in plugbay.Error.__subclasses__()}
    assert {"BAY_EINVAL", "BAY_ENOENT", "BAY_ETIMEDOUT", "BAY_ECANCELED", "BAY_EPLUGIN", "BAY_ECONN",
            "BAY_ETYPE", "BAY_ENOSPC"} <= names
    assert len(names) == 22
