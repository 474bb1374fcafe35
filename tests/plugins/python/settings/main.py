"""tests/plugins/python/settings/main.py — python/settings: reads its settings through plugbay and keeps what on_settings saw."""
import plugbay

on_uninstall = None  # no hook: None is allowed where a function would be

seen = {}  # "heard": what the last on_settings got: [settings, changed, "dict list" when of those types]


def greeting():
    return plugbay.setting("greeting")


def setting(key):
    return plugbay.setting(key)


def all_settings():
    return plugbay.settings()


def heard():
    return seen.get("heard")


def on_settings(settings, changed):
    kinds = " ".join(["dict" if isinstance(settings, dict) else "not a dict",
                      "list" if isinstance(changed, list) else "not a list"])
    seen["heard"] = [settings, changed, kinds]
    if settings["greeting"] == "Boom":
        raise ValueError("cannot greet with Boom")
