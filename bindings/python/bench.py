#!/usr/bin/env python3
"""bindings/python/bench.py — the call latency of example/hello's greet from Python, beside C's in the same run.

Usage (in the venv run-tests makes, or any with plugbay installed):
    python bench.py [BUILD] [--calls N] [--rounds R] [--results FILE]
Starts its own plugbayd with example/hello (as the tests do), then on each path — the fast path, and through
plugbayd (PLUGBAY_FASTPATH=0) — runs ROUNDS rounds of N calls from build/bin/plugbay-latency (C) and N from
Python, one after the other, and prints the best round's p50 and p99 of each beside the other with Python's
overhead (the best round, since other work on the machine only ever adds). It also times what Python adds
without any I/O: converting the arguments and the result of one greet call."""
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

    with plugbay.connect(url, name="bench-python") as conn:  # a new connection: PLUGBAY_FASTPATH is read here
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


def conversion_us(calls):
    """conversion_us times one call's conversions alone: ("bench",) to a bay_value and a str result back."""
    from plugbay._native import lib
    from plugbay._values import args_to_bay, take

    result = lib.bay_strn(b"Hello, bench!", 13)
    best = float("inf")
    for _ in range(5):
        t0 = time.perf_counter_ns()
        for _ in range(calls):
            lib.bay_value_free(args_to_bay(("bench",)))
            from_str = take(lib.bay_strn(b"Hello, bench!", 13))
        best = min(best, (time.perf_counter_ns() - t0) / 1e3 / calls)
    lib.bay_value_free(result)
    assert from_str == "Hello, bench!"
    return best


def best(runs):
    return min(runs, key=lambda s: s["p50_us"])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("build", nargs="?", default=str(HERE.parents[1] / "build"))
    ap.add_argument("--calls", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--results", help="a JSON file (scripts/bench's bench/results.json) to add the figures to, "
                                      "as its \"python_host\" entry")
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
            cs, pys = [], []
            for _ in range(opts.rounds):
                cs.append(c_latency(build, broker.url, opts.calls))
                pys.append(python_latency(broker.url, opts.calls))
            rows.append((path, best(cs), best(pys)))
    finally:
        broker.stop(keep=False)
    convert = conversion_us(opts.calls)
    print(f"greet of example/hello, best of {opts.rounds} rounds of {opts.calls} calls after {WARMUP} warm-up, "
          f"µs per call (Python {sys.version.split()[0]}, load average {os.getloadavg()[0]:.1f})")
    print(f"{'path':<18}{'C p50':>9}{'Python p50':>12}{'overhead':>10}{'C p99':>9}{'Python p99':>12}")
    for path, c, py in rows:
        print(f"{path:<18}{c['p50_us']:>9.2f}{py['p50_us']:>12.2f}{py['p50_us'] - c['p50_us']:>+10.2f}"
              f"{c['p99_us']:>9.2f}{py['p99_us']:>12.2f}")
    print(f"Python's conversions alone (args and result of one greet, no I/O): {convert:.2f} µs")
    figures = {"rows": [{"path": p, "c": c, "python": py, "overhead_p50_us": py["p50_us"] - c["p50_us"]}
                        for p, c, py in rows],
               "conversion_us": convert, "load_average": os.getloadavg()[0]}
    print(json.dumps({"python_host": figures}))
    if opts.results:
        path = Path(opts.results)
        results = json.loads(path.read_text()) if path.exists() else {}
        results["python_host"] = figures
        path.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
