"""main.py — @ID@: greets people by name (@NAME@.greet) and answers the @NAME@.started event."""
import plugbay


def greet(name):
    """greet(name) returns "GREETING, NAME!", GREETING from the configuration ("Hello")."""
    if not isinstance(name, str):
        raise ValueError(f"@NAME@.greet: argument 1 must be a name, got {name!r}")
    return f"{plugbay.config.get('greeting', 'Hello')}, {name}!"


def started():
    """started() logs a line and answers which plugin heard it."""
    plugbay.log("the application started")
    return plugbay.id


def selftest():
    """selftest() holds the plugin's own assertions, in Python: tests.json calls it in the context "test", which no
    host's call is made in unless it asks, and a failed assert fails that case with its message."""
    assert greet("Ada") == "Hello, Ada!", "greet greets by name"
    try:
        greet(42)
    except ValueError as e:
        assert "must be a name" in str(e), "greet says why it refuses"
    else:
        assert False, "greet refuses what is not a name"
    assert started() == plugbay.id, "started answers the plugin's id"
