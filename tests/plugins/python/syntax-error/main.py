"""tests/plugins/python/syntax-error/main.py — python/syntax-error: line 5 does not parse."""


def ping()
    return "pong"
