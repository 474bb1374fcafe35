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
