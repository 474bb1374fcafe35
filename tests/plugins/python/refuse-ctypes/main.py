"""tests/plugins/python/refuse-ctypes/main.py — python/refuse-ctypes: imports ctypes to reach native code; the source check refuses it at load."""


def escape():
    import ctypes
    return ctypes.CDLL(None).system(b"id")
