"""tests/plugins/python/refuse-eval/main.py — python/refuse-eval: tries eval("1"); the source check refuses it at load."""


def escape():
    return eval("1")
