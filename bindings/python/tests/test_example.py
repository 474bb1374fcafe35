"""bindings/python/tests/test_example.py — examples/python-host/host.py runs against a real plugbayd as the docs show."""
import subprocess
import sys

from conftest import SOURCE

PLUGINS = ["example/hello", "example/audit"]


def test_the_example_host_runs(broker):
    out = subprocess.run([sys.executable, str(SOURCE / "examples" / "python-host" / "host.py"), broker.url],
                         capture_output=True, text=True, timeout=60)  # Python's environment, sanitizers preloaded or not
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert "greet -> Hello, world!" in lines
    assert "app.started: example/hello answered" in lines
    assert "[python-host] a Python host serves too" in lines and "host.log -> True" in lines
    assert any(line.startswith("no.such.thing -> BAY_ENOENT: ") for line in lines)
    assert "a set -> args[0]: a set cannot cross to plugbay (it carries None, bool, int, float, str, bytes, list, " \
           "tuple and dict with str keys)" in lines
    assert "async greet -> ['Hello, async!', 'Hello, again!']" in lines
    assert "example/hello is loaded" in lines
