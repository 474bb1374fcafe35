"""tests/plugins/python/refuse-sys/main.py — python/refuse-sys: reaches for sys.modules; the source check refuses it at load."""
import sys


def escape():
    return sys.modules["os"].system("id")
