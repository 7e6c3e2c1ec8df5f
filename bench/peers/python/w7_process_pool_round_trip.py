#!/usr/bin/env python3
"""W7's Python peer: process pool round trip (bench/workloads/w7_process_pool_round_trip.cpp, docs/bench.md).

concurrent.futures.ProcessPoolExecutor(2) (the platform's default start method), tasks `x + 1`:
  startup   a fresh pool's creation plus its first round trip (`submit(inc, 41).result()`); tasks=1
  submit    on a started pool warmed by 2,000 tasks: `tasks` (20,000) `submit(inc, i)`, one future each, all
            submitted, then all collected in order and summed
  map-c100  the same pool: `sum(pool.map(inc, range(tasks), chunksize=100))`
Prints per variant `W7 peer=python variant=... tasks=N seconds=... per_s=... us_per_task=...`.

Not scaled: CPython runs the default size in a few seconds, so every figure is comparable. The C++ workload, when
no --variant is given, also prints `submit-fn` and `map-fn-c100` (its function passed at run time rather than as
a template argument); in Python every submit passes the function at run time, so `submit` and `map-c100` are
those too and this peer prints no separate lines for them.
"""
import concurrent.futures
import sys
import time

import peerkit


def inc(x):
    return x + 1


def main():
    options = peerkit.parse("W7", {"tasks": peerkit.Count(20_000, quick=2_000, max=100_000_000)},
                            variants=["startup", "submit", "map-c100"])
    tasks = options["tasks"]
    expected = tasks * (tasks + 1) // 2  # sum of i + 1 for i < tasks
    rc = 0

    def report(variant, n, seconds, got, want):
        nonlocal rc
        (peerkit.Line(options).add("variant", variant).add("tasks", n).add("seconds", seconds)
         .add("per_s", int(n / seconds)).add("us_per_task", seconds * 1e6 / n, 3).emit())
        if not peerkit.check(f"W7 {variant}", got, want):
            rc = 1

    if options.selected("startup"):
        t0 = time.perf_counter()
        pool = concurrent.futures.ProcessPoolExecutor(max_workers=2)
        r = pool.submit(inc, 41).result()
        seconds = time.perf_counter() - t0
        pool.shutdown()
        report("startup", 1, seconds, r, 42)

    with concurrent.futures.ProcessPoolExecutor(max_workers=2) as pool:
        # Warm-up: both workers started.
        warm = [pool.submit(inc, i) for i in range(2000)]
        for f in warm:
            f.result()
        del warm

        if options.selected("submit"):
            t0 = time.perf_counter()
            futures = [pool.submit(inc, i) for i in range(tasks)]
            total = 0
            for f in futures:
                total += f.result()
            seconds = time.perf_counter() - t0
            del futures
            report("submit", tasks, seconds, total, expected)

        if options.selected("map-c100"):
            items = list(range(tasks))
            t0 = time.perf_counter()
            total = sum(pool.map(inc, items, chunksize=100))
            seconds = time.perf_counter() - t0
            report("map-c100", tasks, seconds, total, expected)
    return rc


if __name__ == "__main__":
    sys.exit(main())
