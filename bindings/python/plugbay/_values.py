"""plugbay/_values.py — Python objects to bay_value trees and back, refusing what cannot cross with its path."""
from typing import Any, Dict, Set

from ._native import ffi, lib

INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1
# How deep arguments may nest, the argument array counting as one: a frame holds them one level down, and
# plugbay's msgpack decoder stops at 32 (include/plugbay/value.h, bay_value_unpack).
MAX_DEPTH = 31

Value = Any  # None | bool | int | float | str | bytes | list | tuple | dict[str, Value]


def _what(obj: Any) -> str:
    """_what names an object that cannot cross ("a set", "a function", "an object of type Foo")."""
    if isinstance(obj, (set, frozenset)):
        return "a set"
    if callable(obj):
        return "a function" if hasattr(obj, "__code__") or type(obj).__name__.endswith("function") else \
            f"a callable {type(obj).__name__}"
    return f"an object of type {type(obj).__name__}"


def _new(v: Any, path: str) -> Any:
    if v == ffi.NULL:
        raise MemoryError(f"{path}: libplugbay is out of memory")
    return v


def to_bay(obj: Any, path: str) -> Any:
    """to_bay returns a new bay_value * (the caller frees it) for obj; raises TypeError or ValueError naming
    the path of the first value that cannot cross."""
    return _to_bay(obj, path, set())


def _to_bay(obj: Any, path: str, seen: Set[int]) -> Any:
    if obj is None:
        return _new(lib.bay_nil(), path)
    if isinstance(obj, bool):
        return _new(lib.bay_bool(obj), path)
    if isinstance(obj, int):
        if not INT64_MIN <= obj <= INT64_MAX:
            raise ValueError(f"{path}: the int {obj} is beyond the 64 bits a plugbay int holds "
                             f"({INT64_MIN} to {INT64_MAX}); send it as a str or a float")
        return _new(lib.bay_int(obj), path)
    if isinstance(obj, float):
        return _new(lib.bay_float(obj), path)
    if isinstance(obj, str):
        data = obj.encode("utf-8", "surrogateescape")
        return _new(lib.bay_strn(data, len(data)), path)
    if isinstance(obj, (bytes, bytearray, memoryview)):
        data = bytes(obj)
        return _new(lib.bay_bin(data, len(data)), path)
    if isinstance(obj, (list, tuple, dict)):
        if id(obj) in seen:
            raise ValueError(f"{path}: a cycle (this {type(obj).__name__} contains itself) cannot cross to plugbay")
        if len(seen) >= MAX_DEPTH:
            raise ValueError(f"{path}: nested deeper than {MAX_DEPTH} levels, more than a plugbay frame carries")
        seen.add(id(obj))
        try:
            return _container(obj, path, seen)
        finally:
            seen.discard(id(obj))
    raise TypeError(f"{path}: {_what(obj)} cannot cross to plugbay (it carries None, bool, int, float, str, "
                    "bytes, list, tuple and dict with str keys)")


def _container(obj: Any, path: str, seen: Set[int]) -> Any:
    if isinstance(obj, dict):
        out = _new(lib.bay_map(), path)
        try:
            for k, v in obj.items():
                if not isinstance(k, str):
                    raise TypeError(f"{path}: the key {k!r} is a {type(k).__name__}; plugbay map keys are str")
                item_path = f"{path}[{k!r}]"
                key = k.encode("utf-8", "surrogateescape")
                if b"\0" in key:
                    raise ValueError(f"{item_path}: a map key cannot hold a NUL character")
                if lib.bay_map_set(out, key, _to_bay(v, item_path, seen)) != 0:
                    raise MemoryError(f"{item_path}: libplugbay is out of memory")
        except BaseException:
            lib.bay_value_free(out)
            raise
        return out
    out = _new(lib.bay_array(), path)
    try:
        for i, v in enumerate(obj):
            if lib.bay_array_push(out, _to_bay(v, f"{path}[{i}]", seen)) != 0:
                raise MemoryError(f"{path}[{i}]: libplugbay is out of memory")
    except BaseException:
        lib.bay_value_free(out)
        raise
    return out


def args_to_bay(args: Any) -> Any:
    """args_to_bay returns a new bay_value * array for a call's positional arguments, paths "args[i]"."""
    return to_bay(list(args), "args")


def from_bay(v: Any) -> Value:
    """from_bay returns the Python value of a borrowed bay_value *: bin → bytes, array → list, map → dict."""
    t = lib.bay_value_type(v)
    if t == lib.BAY_NIL:
        return None
    if t == lib.BAY_BOOL:
        return bool(lib.bay_value_bool(v))
    if t == lib.BAY_INT:
        return int(lib.bay_value_int(v))
    if t == lib.BAY_FLOAT:
        return float(lib.bay_value_float(v))
    if t in (lib.BAY_STR, lib.BAY_BIN):
        n = ffi.new("size_t *")
        p = lib.bay_value_str(v, n)
        data = ffi.unpack(p, n[0])
        return data.decode("utf-8", "surrogateescape") if t == lib.BAY_STR else data
    if t == lib.BAY_ARRAY:
        return [from_bay(lib.bay_array_get(v, i)) for i in range(lib.bay_value_len(v))]
    out: Dict[str, Value] = {}
    item = ffi.new("const bay_value **")
    for i in range(lib.bay_value_len(v)):
        key = lib.bay_map_entry(v, i, item)
        out[ffi.string(key).decode("utf-8", "surrogateescape")] = from_bay(item[0])
    return out


def take(v: Any) -> Value:
    """take returns the Python value of an owned bay_value * and frees it."""
    try:
        return from_bay(v)
    finally:
        lib.bay_value_free(v)

