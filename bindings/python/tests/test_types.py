"""bindings/python/tests/test_types.py — the installed package's type hints hold under mypy --strict, and a host using it checks."""
from pathlib import Path

import pytest

import plugbay
from conftest import SOURCE


def test_the_package_and_the_example_host_type_check():
    api = pytest.importorskip("mypy.api")
    site = Path(plugbay.__file__).parent.parent
    out, err, status = api.run(["--strict", "--no-incremental", "--cache-dir", "/dev/null", "-p", "plugbay"])
    assert status == 0, out + err
    assert (site / "plugbay" / "py.typed").exists()
    out, err, status = api.run(["--no-incremental", "--cache-dir", "/dev/null",
                                str(SOURCE / "examples" / "python-host" / "host.py")])
    assert status == 0, out + err
