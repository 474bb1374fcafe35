#!/usr/bin/env python3
"""examples/python-host/host.py — a small plugbay host in Python: every part of the host API once.

Usage: python host.py [URL]   (no URL: $PLUGBAY_BROKER, else the user's own plugbayd, else the system's)
Needs the plugbay package (bindings/python; docs/host-python.md says how to install it) and a plugbayd
serving example/hello."""
import asyncio
import sys

import plugbay


def host_log(message):
    """host.log(message): print the message, return True. Runs on libplugbay's dispatch thread."""
    if not isinstance(message, str):
        raise plugbay.WrongType(f"host.log: argument 1 must be a str, got {type(message).__name__}")
    print(f"[python-host] {message}")
    return True


def on_notice(n):
    print(f"notice: {n.what} name={n.name} plugin={n.plugin} state={n.state}")


async def greet_twice(conn):
    """Two calls at once, and a third cancelled: the plugin sees the cancel."""
    both = await asyncio.gather(conn.call_async("greet", "async"), conn.call_async("greet", "again"))
    print("async greet ->", both)
    task = asyncio.create_task(conn.call_async("greet", "late"))
    await asyncio.sleep(0)  # the call starts
    task.cancel()
    try:
        print("cancelled greet still answered ->", await task)
    except asyncio.CancelledError as e:
        # BAY_ECANCELED from example/hello: ...; or no cause when greet answered before the cancel reached it
        print("cancelled greet ->", e.__cause__ or "answered before the cancel reached the plugin")


def main():
    url = sys.argv[1] if len(sys.argv) > 1 else None
    try:
        conn = plugbay.connect(url, name="python-host")
    except plugbay.Error as e:
        print(f"connect: {e}", file=sys.stderr)  # BAY_ECONN: cannot connect to plugbayd at ...
        return 1
    with conn:
        conn.subscribe(on_notice)
        conn.declare("greet", "handle")
        conn.declare("app.started", "event")
        conn.provide("host.log", host_log)

        print("greet ->", conn.call("greet", "world"))  # a handle: the first provider answers
        for answer in conn.call("app.started", timeout=2):  # an event: every provider, in load order
            print("app.started:", answer["plugin"], answer.get("error", {}).get("message", "answered"))
        print("host.log ->", conn.call("host.log", "a Python host serves too"))

        try:
            conn.call("no.such.thing")
        except plugbay.NotFound as e:
            print(f"no.such.thing -> {e.code}: {e.message}")
        try:
            conn.call("greet", {1, 2})
        except TypeError as e:
            print("a set ->", e)

        asyncio.run(greet_twice(conn))
        print("example/hello is", conn.info("example/hello")["state"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
