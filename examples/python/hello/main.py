"""examples/python/hello/main.py — example/py-hello: greets people (py.greet) and answers the app.started event."""
import json
import os.path

import plugbay
import words

greeted = 0  # people greeted, kept in the data folder from one load to the next
started = 0  # how often app.started reached this plugin since it loaded


def tally_file():
    return os.path.join(plugbay.data_dir, "greeted.json")


def on_load():
    global greeted
    try:
        with open(tally_file()) as f:
            greeted = json.load(f)
    except FileNotFoundError:
        greeted = 0
    plugbay.log(f"loaded; {greeted} people greeted so far")


def on_unload():
    with open(tally_file(), "w") as f:
        json.dump(greeted, f)


def py_greet(names):
    """py.greet(name or [names]) returns "Hello, NAME!" with the configured greeting."""
    global greeted
    text = words.greeting(plugbay.config.get("greeting", "Hello"), names)
    greeted += 1 if isinstance(names, str) else len(names)
    return text


def app_started():
    """app.started returns which plugin answered, how often it has, and how many people it greeted."""
    global started
    started += 1
    plugbay.log(f"app.started reached {plugbay.id} ({started} so far)")
    return {"plugin": plugbay.id, "language": "python", "count": started, "greeted": greeted}
