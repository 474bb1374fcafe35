"""plugbay/_values.py — Python objects to bay_value trees and back, refusing what cannot cross with its path.

The walk itself is C (plugbay/_cross.c): these wrap its addresses in cffi pointers for the rest of the binding."""
from typing import Any

from . import _cross
from ._native import ffi, lib

Value = Any  # None | bool | int | float | str | bytes | list | tuple | dict[str, Value]


def to_bay(obj: Any, path: str) -> Any:
    """to_bay returns a new bay_value * (the caller frees it) for obj; raises TypeError or ValueError naming
    the path of the first value that cannot cross (MemoryError when libplugbay is out of memory)."""
    return ffi.cast("bay_value *", _cross.to_bay(obj, path))


def args_to_bay(args: Any) -> Any:
    """args_to_bay returns a new bay_value * array for a call's positional arguments, paths "args[i]"."""
    return to_bay(tuple(args), "args")


def from_bay(v: Any) -> Value:
    """from_bay returns the Python value of a borrowed bay_value *: bin → bytes, array → list, map → dict."""
    return _cross.from_bay(int(ffi.cast("uintptr_t", v)))


def take(v: Any) -> Value:
    """take returns the Python value of an owned bay_value * and frees it."""
    try:
        return from_bay(v)
    finally:
        lib.bay_value_free(v)
