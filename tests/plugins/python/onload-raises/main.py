"""tests/plugins/python/onload-raises/main.py — python/onload-raises: its on_load raises, so it never loads."""


def license_key():
    raise RuntimeError("missing license key")


def on_load():
    license_key()


def ping():
    return "pong"
