"""sdk/conformance/python/main.py — conform/python: the conformance plugin in Python (echo, fail, type, filter, stream, upload), as sdk/conformance/cases.json calls it."""
import plugbay

# The names conform.type gives, by the Python type a value arrives as.
TYPE_NAMES = {type(None): "NoneType", bool: "bool", int: "int", float: "float", str: "str", bytes: "bytes",
              list: "list", dict: "dict"}


def conform_echo(v=None):
    """conform.echo(v) returns v as Python got it."""
    return v


def conform_fail(code, message):
    """conform.fail(code, message) ends the call with code (a name or a number) and message."""
    plugbay.fail(code, message)


def conform_bad_key():
    """conform.bad_key() returns a dict with a key that is not a str, which no value can hold."""
    return {1: 2}


def conform_type(v=None):
    """conform.type(v) names v's Python type."""
    return TYPE_NAMES.get(type(v), "another type")


def conform_filter(*args):
    """conform.filter(what, ...) provides the filter conform.filter: "refuse:python" refuses with BAY_EPERM,
    "bad:python" answers a str (which is not the arguments), "keep:python" passes the arguments on as they came
    (None); anything else passes them on with "python" added at the end."""
    what = args[0] if args else None
    if what == "refuse:python":
        plugbay.fail("BAY_EPERM", f"conform/python refused {what}")
    if what == "bad:python":
        return "not the arguments"
    if what == "keep:python":
        return None
    return [*args, "python"]


def conform_stream(n, size, end=None):
    """conform.stream(n, size, end) streams n chunks (n < 0: until the call is stopped), as a generator: chunk i
    (from 0) is i when size is 0, else bytes of size bytes, each i % 256. end "error" then fails with BAY_EIO,
    "last" returns "last" (the last chunk); anything else returns None."""
    if type(n) is not int or type(size) is not int:
        plugbay.fail("BAY_ETYPE", "conform.stream: n and size must be ints")
    if size < 0 or size > 8 * 1024 * 1024:
        plugbay.fail("BAY_EINVAL", "conform.stream: size must be 0 to 8 MiB")
    i = 0
    while n < 0 or i < n:
        yield bytes([i % 256]) * size if size else i
        i += 1
    if end == "error":
        plugbay.fail("BAY_EIO", f"conform/python failed after {n} chunks")
    if end == "last":
        return "last"


def conform_upload(what=None):
    """conform.upload(what) takes the input its caller streams with plugbay.inputs(): "sum" returns {"chunks": n,
    "sum": the ints added up, "bytes": the strs' and bytes' bytes} once the input ended; "echo" streams each chunk
    back as it comes; "early" returns "early" after the first chunk, leaving the rest. A stop ends the call in
    plugbay.inputs()."""
    n = total = size = 0
    for chunk in plugbay.inputs():
        n += 1
        if type(chunk) is int:
            total += chunk
        elif type(chunk) is bytes:
            size += len(chunk)
        elif type(chunk) is str:
            size += len(chunk.encode("utf-8", "surrogateescape"))
        if what == "echo":
            plugbay.emit(chunk)
        elif what == "early":
            return "early"
    if what != "echo":
        return {"chunks": n, "sum": total, "bytes": size}
    return None
