"""bindings/python/tests/test_values.py — values that cannot cross are refused with their path; the connection works on."""
import pytest

import plugbay


def a_function():
    pass


def cycle():
    items = [1]
    items.append({"back": items})
    return items


@pytest.mark.parametrize("args, error, text", [
    ((1, {2, 3}), TypeError, "args[1]: a set cannot cross to plugbay"),
    ((1, {"x": {4}}), TypeError, "args[1]['x']: a set cannot cross to plugbay"),
    (([a_function],), TypeError, "args[0][0]: a function cannot cross to plugbay"),
    ((lambda: 1,), TypeError, "args[0]: a function cannot cross to plugbay"),
    ((object(),), TypeError, "args[0]: an object of type object cannot cross to plugbay"),
    ((cycle(),), ValueError, "args[0][1]['back']: a cycle"),
    ((2**63,), ValueError, "args[0]: the int 9223372036854775808 is beyond the 64 bits"),
    ((-(2**63) - 1,), ValueError, "args[0]: the int -9223372036854775809 is beyond the 64 bits"),
    (({1: "one"},), TypeError, "args[0]: the key 1 is a int; plugbay map keys are str"),
    (({"a": {("t",): 1}},), TypeError, "args[0]['a']: the key ('t',) is a tuple"),
])
def test_a_value_that_cannot_cross_is_refused_with_its_path(conn, args, error, text):
    with pytest.raises(error) as e:
        conn.call("slow.echo", *args)
    assert text in str(e.value)
    assert conn.call("slow.echo", 1) == [1], "the connection works on"


def nested(levels):
    v = 1
    for _ in range(levels):
        v = [v]
    return v


def test_values_nested_as_deep_as_a_frame_carries_cross_and_deeper_ones_are_refused(conn):
    # slow.echo answers its arguments' array: nested(22) comes back 24 levels deep, the deepest a result may be.
    assert conn.call("slow.echo", nested(22)) == [nested(22)]
    with pytest.raises(plugbay.WrongType, match="nest deeper than 24 levels"):
        conn.call("slow.echo", nested(30))
    with pytest.raises(ValueError, match=r"args\[0\](\[0\]){30}: nested deeper than 31 levels"):
        conn.call("slow.echo", nested(31))
    assert conn.call("slow.echo", 1) == [1], "the connection works on"


def test_a_value_seen_twice_but_not_inside_itself_crosses(conn):
    shared = [1, 2]
    assert conn.call("slow.echo", shared, {"again": shared}) == [[1, 2], {"again": [1, 2]}]


def test_bytearray_and_memoryview_cross_as_bytes(conn):
    assert conn.call("slow.echo", bytearray(b"ab"), memoryview(b"cd")) == [b"ab", b"cd"]


def test_a_strided_memoryview_crosses_as_its_bytes_in_order(conn):
    assert conn.call("slow.echo", memoryview(b"abcdef")[::2]) == [b"ace"]


def test_subclasses_cross_as_their_base_and_bool_stays_bool(conn):
    class Count(int):
        pass

    class Name(str):
        pass

    class Bag(dict):
        pass

    assert conn.call("slow.echo", Count(7), Name("n"), Bag(k=[True, 1, 1.5, None])) == \
        [7, "n", {"k": [True, 1, 1.5, None]}]
    assert conn.call("slow.echo", True)[0] is True


def test_lone_surrogates_cross_as_the_bytes_they_escape(conn):
    name = b"caf\xe9.txt".decode("utf-8", "surrogateescape")  # as os.fsdecode gives an undecodable file name
    assert conn.call("slow.echo", name, {name: 1}) == [name, {name: 1}]


def test_a_map_key_with_nul_and_a_builtin_callable_are_refused_with_their_path(conn):
    with pytest.raises(ValueError, match=r"args\[0\]\['a\\x00b'\]: a map key cannot hold a NUL"):
        conn.call("slow.echo", {"a\0b": 1})
    with pytest.raises(TypeError, match=r"args\[1\]: a callable builtin_function_or_method cannot cross"):
        conn.call("slow.echo", 1, len)
    assert conn.call("slow.echo", 1) == [1], "the connection works on"


def test_a_bad_command_argument_is_refused_with_its_path(conn):
    with pytest.raises(TypeError, match=r"args\['id'\]: a set"):
        conn.command("info", id={"x"})
    assert conn.info("example/hello")["id"] == "example/hello"


def test_a_name_must_be_a_str(conn):
    with pytest.raises(TypeError, match="name must be a str"):
        conn.call(b"greet")
    with pytest.raises(ValueError, match="NUL"):
        conn.call("gr\0eet")
    assert isinstance(conn.call("greet", "x"), str)
