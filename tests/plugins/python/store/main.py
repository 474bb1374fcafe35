"""tests/plugins/python/store/main.py — python/store: plugbay.store and its SQL as a plugin uses them, and hooks that note themselves in memory and in the store."""
import plugbay
from plugbay.store import sql as run_sql

ran = []  # the hooks this worker ran, "on_update(0.1.0)" with its argument


def put(key, value):
    plugbay.store.put(key, value)


def get(key, default=None):
    return plugbay.store.get(key, default)


def delete(key):
    plugbay.store.delete(key)


def put_set(key):
    plugbay.store.put(key, {"ok": [1, {2}]})


def keys(prefix=""):
    return plugbay.store.keys(prefix)


def sql(statement, params=None):
    return run_sql(statement, params)


def sql_caught(statement):
    """Runs statement and answers what StoreError said, or None when it ran."""
    try:
        plugbay.store.sql(statement)
    except plugbay.StoreError as e:
        return {"name": e.name, "code": e.code, "plugin": e.plugin, "message": str(e),
                "call_error": isinstance(e, plugbay.CallError)}
    return None


def hooks():
    return {"ran": " ".join(ran), "kept": plugbay.store.get("hooks")}


def note(hook):
    ran.append(hook)
    plugbay.store.put("hooks", " ".join(filter(None, [plugbay.store.get("hooks"), hook])))


def on_install():
    note("on_install")


def on_update(from_version):
    note(f"on_update({from_version})")
    if plugbay.setting("fail_update"):
        raise RuntimeError(f"cannot migrate from {from_version}: told to fail")


def on_uninstall():
    note("on_uninstall")
    plugbay.log(f"on_uninstall ran after {plugbay.store.get('hooks')}")
