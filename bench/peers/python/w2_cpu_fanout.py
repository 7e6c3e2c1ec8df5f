#!/usr/bin/env python3
"""W2's Python peer: CPU-bound fan-out (bench/workloads/w2_cpu_fanout.cpp, docs/bench.md).

`tasks` (8) tasks, each the pure-Python loop `s += i*i` for i < `iterations` (2,000,000), its result taken
modulo 2**64 as the C++ uint64_t sum wraps (there is no optimiser to hold off, so no barrier). Modes, as the
C++ workload's: `serial` (the tasks one after another; always run, it is the baseline of `speedup`),
`threads2` (concurrent.futures.ThreadPoolExecutor(2): the GIL keeps it serial) and `processes2`
(concurrent.futures.ProcessPoolExecutor(2), the platform's default start method); the time includes starting
and stopping the pool. Prints per mode
`W2 peer=python mode=... tasks=8 iterations=2000000 seconds=... speedup=...` (speedup = serial / this mode).

Not scaled: the default size takes under a second a mode in CPython here, so seconds are comparable with the C++
line. The C++ `W2-x100` (200,000,000 iterations) has no peer of its own: `--arg iterations=200000000` runs that
size here (printed as W2), but CPython takes minutes a mode at it.
"""
import concurrent.futures
import sys
import time

import peerkit


def w2_task(iterations):
    s = 0
    for i in range(iterations):
        s += i * i
    return s & peerkit.MASK64


def run_serial(tasks, iterations):
    t0 = time.perf_counter()
    total = 0
    for _ in range(tasks):
        total += w2_task(iterations)
    return time.perf_counter() - t0, total & peerkit.MASK64


def run_pool(executor_class, tasks, iterations):
    t0 = time.perf_counter()
    with executor_class(max_workers=2) as pool:
        futures = [pool.submit(w2_task, iterations) for _ in range(tasks)]
        total = sum(f.result() for f in futures)
    return time.perf_counter() - t0, total & peerkit.MASK64


def main():
    options = peerkit.parse("W2", {"tasks": peerkit.Count(8, max=1_000_000),
                                   "iterations": peerkit.Count(2_000_000, quick=200_000, max=1_000_000_000_000)},
                            variants=["serial", "threads2", "processes2"])
    tasks, iterations = options["tasks"], options["iterations"]
    n = iterations
    expected = (tasks * ((n - 1) * n * (2 * n - 1) // 6)) & peerkit.MASK64  # sum of i*i for i < n, per task
    serial, serial_total = run_serial(tasks, iterations)
    rc = 0

    def report(mode, seconds, total):
        nonlocal rc
        (peerkit.Line(options).add("mode", mode).add("tasks", tasks).add("iterations", iterations)
         .add("seconds", seconds).add("speedup", serial / seconds, 2).emit())
        if not peerkit.check(f"W2 {mode}", total, expected):
            rc = 1

    if options.selected("serial"):
        report("serial", serial, serial_total)
    elif not peerkit.check("W2 serial", serial_total, expected):
        rc = 1
    if options.selected("threads2"):
        report("threads2", *run_pool(concurrent.futures.ThreadPoolExecutor, tasks, iterations))
    if options.selected("processes2"):
        report("processes2", *run_pool(concurrent.futures.ProcessPoolExecutor, tasks, iterations))
    return rc


if __name__ == "__main__":
    sys.exit(main())
