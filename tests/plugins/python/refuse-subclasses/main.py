"""tests/plugins/python/refuse-subclasses/main.py — python/refuse-subclasses: tries ().__class__.__bases__[0].__subclasses__(); the source check refuses it at load."""


def escape():
    return ().__class__.__bases__[0].__subclasses__()
