"""tests/plugins/python/timer/main.py — python/timer: the broker calls tick every 20 ms; ticks says how often it has."""
import plugbay

count = 0
names = set()


def tick():
    global count
    count += 1
    names.add(plugbay.call_name())


def ticks():
    return {"count": count, "names": sorted(names)}
