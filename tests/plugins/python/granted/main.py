"""tests/plugins/python/granted/main.py — python/granted: may import os, subprocess and socket, yet the audit hook refuses what its permissions do not allow."""
import os
import socket

import plugbay


def system():
    return os.system("id")


def start_program():
    import subprocess  # allowed by python.import:subprocess; its _posixsubprocess needs process.spawn
    return subprocess.run(["id"]).returncode


def connect():
    with socket.socket() as s:
        s.connect(("127.0.0.1", 9))


def fork():
    return os.fork()


def listdir(path):
    return sorted(os.listdir(path or plugbay.data_dir))


def remove(path):
    os.remove(path)


def read(path):
    with open(path) as f:
        return f.read()
