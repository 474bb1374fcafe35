"""tests/plugins/python/refuse-import/main.py — python/refuse-import: tries __import__('os').system('id'); the source check refuses it at load."""


def escape():
    return __import__("os").system("id")
