"""tests/plugins/python/manager/main.py — python/manager: plugbay.timer (a timer set in on_load, others set, moved and removed when told, their ticks counted) and plugbay.plugins (test/* listed, loaded, unloaded and reloaded, and itself)."""
import plugbay
from plugbay.plugins import list as list_plugins
from plugbay.timer import remove as remove_timer

counts = {"a": 0, "b": 0}  # the ticks of tick_a and tick_b in this worker


def on_load():
    plugbay.timer.set("boot", 20, "tick_a")


def tick_a():
    counts["a"] += 1


def tick_b():
    counts["b"] += 1


def ticks():
    return counts


def caught(fn, *args):
    """Answers {"ok": fn(*args)}, or what the plugbay.CallError it raised says and which subclass it is."""
    try:
        return {"ok": fn(*args)}
    except plugbay.CallError as e:
        subclass = [name for name in ("TimerError", "ManageError") if isinstance(e, getattr(plugbay, name))]
        return {"raised": subclass[0] if subclass else "CallError", "name": e.name, "code": e.code, "plugin": e.plugin, "message": str(e)}


def timer_set(name, interval_ms, function):
    return caught(plugbay.timer.set, name, interval_ms, function)


def timer_remove(name):
    return caught(remove_timer, name)


def timers():
    return caught(plugbay.timer.list)


def plugins():
    return caught(list_plugins)


def manage(what, plugin_id):
    commands = {"load": plugbay.plugins.load, "unload": plugbay.plugins.unload, "reload": plugbay.plugins.reload}
    return caught(commands[what], plugin_id)
