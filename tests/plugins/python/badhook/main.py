"""tests/plugins/python/badhook/main.py — python/badhook: on_update is a str, not a function, so it never loads."""

on_update = "2.0"


def ping():
    return "pong"
