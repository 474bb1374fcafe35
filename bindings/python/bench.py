#!/usr/bin/env python3
"""bindings/python/bench.py — the call latency of example/hello's greet from Python, beside C's in the same run.

Usage (in the venv run-tests makes, or any with plugbay installed): python bench.py [BUILD] [--calls N]
Starts its own plugbayd with example/hello (as the tests do), then on each path — the fast path, and through
plugbayd (PLUGBAY_FASTPATH=0) — times N calls from build/bin/plugbay-latency (C) and N from Python, C first,
then Python, then C again (the C figure is the better of its two runs), and prints p50 and p99 with Python's
overhead. Absolute times drift between runs on these machines; the figures beside each other do not."""
import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
# Import the installed plugbay, not its sources beside this script; the tests' folder gives conftest.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE] + [str(HERE / "tests")]

WARMUP = 300


def python_latency(url, calls):
    import plugbay

    with plugbay.connect(url, name="bench-python") as conn:
        for _ in range(WARMUP):
            conn.call("greet", "bench")
        t = []
        clock = time.perf_counter_ns
        for _ in range(calls):
            t0 = clock()
            conn.call("greet", "bench")
            t.append((clock() - t0) / 1e3)
    t.sort()
    return {"calls": calls, "p50_us": t[calls // 2], "p99_us": t[int(calls * 0.99)], "mean_us": sum(t) / calls}


def c_latency(build, url, calls):
    out = subprocess.run([str(build / "bin" / "plugbay-latency"), url, "greet", '["bench"]', str(calls)],
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("build", nargs="?", default=str(HERE.parents[1] / "build"))
    ap.add_argument("--calls", type=int, default=5000)
    opts = ap.parse_args()
    build = Path(opts.build).resolve()
    os.environ["PLUGBAY_BUILD_DIR"] = str(build)
    import conftest  # the tests' own plugbayd starter

    broker = conftest.Broker(["example/hello"])
    rows = []
    try:
        for path, env in (("fast path", None), ("through plugbayd", "0")):
            if env is None:
                os.environ.pop("PLUGBAY_FASTPATH", None)
            else:
                os.environ["PLUGBAY_FASTPATH"] = env
            c1 = c_latency(build, broker.url, opts.calls)
            py = python_latency(broker.url, opts.calls)
            c2 = c_latency(build, broker.url, opts.calls)
            c = min(c1, c2, key=lambda s: s["p50_us"])
            rows.append((path, c, py))
    finally:
        broker.stop(keep=False)
    print(f"greet of example/hello, {opts.calls} calls after {WARMUP} warm-up, µs per call (Python {sys.version.split()[0]})")
    print(f"{'path':<18}{'C p50':>9}{'Python p50':>12}{'overhead':>10}{'C p99':>9}{'Python p99':>12}")
    for path, c, py in rows:
        print(f"{path:<18}{c['p50_us']:>9.2f}{py['p50_us']:>12.2f}{py['p50_us'] - c['p50_us']:>+10.2f}"
              f"{c['p99_us']:>9.2f}{py['p99_us']:>12.2f}")
    print(json.dumps({"python_bench": [{"path": p, "c": c, "python": py} for p, c, py in rows]}))


if __name__ == "__main__":
    main()
