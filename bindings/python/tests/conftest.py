"""bindings/python/tests/conftest.py — starts a real plugbayd with copies of built plugins, as tests/e2e/harness.c does.

PLUGBAY_BUILD_DIR names the build folder (default: the tree's build/). Each test module gets its own plugbayd
in its own /tmp/plugbay-py.* folder, removed afterwards unless the tests failed (its log is kept then)."""
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Callable, Dict, Iterator, List

import pytest

import plugbay

SOURCE = Path(__file__).resolve().parents[3]
BUILD = Path(os.environ.get("PLUGBAY_BUILD_DIR") or SOURCE / "build").resolve()
WAIT_S = 20.0

# The plugins every suite gets: the examples in C, Lua and Python, and the test plugins the tests use.
PLUGINS = ["example/hello", "example/lua-hello", "example/py-hello", "test/slow", "lua/basic", "python/escapes"]


def wait_until(cond: Callable[[], object], what: str, timeout: float = WAIT_S) -> object:
    """wait_until polls cond (every 10 ms) until it returns something true, failing the test with what after
    timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        got = cond()
        if got:
            return got
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {timeout} s")
        time.sleep(0.01)



def still_answers(conn: plugbay.Connection) -> None:
    """still_answers checks that conform/c serves no call any more and answers the next one: an endless stream, or
    an upload, it was serving has stopped."""
    wait_until(lambda: conn.info("conform/c").get("inflight") == 0, "conform/c with no call in flight")
    assert conn.call("conform.echo", "still here", context="conform/c", timeout=20) == "still here"


def _broker_env() -> Dict[str, str]:
    """plugbayd's environment: ours, with the sanitizer options run-tests changed for Python given back."""
    env = dict(os.environ)
    if "PLUGBAY_TEST_ASAN_OPTIONS" in env:
        env["ASAN_OPTIONS"] = env.pop("PLUGBAY_TEST_ASAN_OPTIONS")
        env.pop("LD_PRELOAD", None)
    return env


def sleeping(pid: int) -> bool:
    """sleeping tells whether process pid's main thread is asleep in nanosleep or clock_nanosleep: a test
    plugin's worker serving slow.sleep (tests/plugins/test_plugin.h's nap), as harness.c's h_main_thread_sleeps."""
    try:
        with open(f"/proc/{pid}/task/{pid}/syscall") as f:
            return f.read().split()[0] in ("230", "35")
    except (OSError, IndexError):
        return False


async def until(cond: Callable[[], object], what: str, timeout: float = WAIT_S) -> None:
    """until is wait_until for a coroutine: it polls cond every 10 ms without blocking the event loop."""
    import asyncio

    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {timeout} s")
        await asyncio.sleep(0.01)


class Broker:
    """A plugbayd of the tests' own: url, the folders, the log, and helpers."""

    def __init__(self, ids: List[str]) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="plugbay-py."))
        self.plugins, self.state, self.log = self.dir / "plugins", self.dir / "state", self.dir / "plugbayd.log"
        self.url = f"ipc://{self.state}/plugbayd.sock"
        self.ids = ids
        for id in ids:
            src = next((root / id for root in (BUILD / "plugins", BUILD / "test-plugins") if (root / id).is_dir()),
                       None)
            if src is None:
                pytest.fail(f"plugin {id} was not built (looked in {BUILD}/plugins and {BUILD}/test-plugins)")
            shutil.copytree(src, self.plugins / id)
        self.proc = subprocess.Popen([str(BUILD / "bin" / "plugbayd"), "--plugins", str(self.plugins),
                                      "--state", str(self.state), "--log", str(self.log), "--heartbeat-ms", "500",
                                      "--hang-grace-ms", "1000", "--exit-with-parent", "--start-timeout-ms",
                                      "60000", "--autoinstall"], env=_broker_env())
        wait_until(self._answers, f"plugbayd at {self.url} answering (log {self.log})")
        with self.connect("wait") as c:
            for id in ids:
                wait_until(lambda: c.info(id).get("state") == "loaded", f"{id} loaded (log {self.log})")

    def _answers(self) -> bool:
        if self.proc.poll() is not None:
            pytest.fail(f"plugbayd exited early ({self.proc.returncode}); its log:\n{self.log_text()[-4000:]}")
        try:
            with plugbay.connect(self.url, name="probe") as c:
                c.status()
            return True
        except plugbay.Error:
            return False

    def connect(self, name: str = "pytest") -> plugbay.Connection:
        return plugbay.connect(self.url, name=name)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self, keep: bool) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(WAIT_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if keep:
            print(f"plugbayd's folder is kept: {self.dir}")
        else:
            shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def broker(request: pytest.FixtureRequest) -> Iterator[Broker]:
    b = Broker(getattr(request.module, "PLUGINS", PLUGINS))
    failed_before = request.session.testsfailed
    yield b
    b.stop(keep=request.session.testsfailed > failed_before)


@pytest.fixture
def conn(broker: Broker) -> Iterator[plugbay.Connection]:
    with broker.connect() as c:
        yield c


@pytest.fixture
def fastpath() -> bool:
    """Whether libplugbay's fast path is on in this run (PLUGBAY_FASTPATH=0 turns it off)."""
    return os.environ.get("PLUGBAY_FASTPATH") != "0"
