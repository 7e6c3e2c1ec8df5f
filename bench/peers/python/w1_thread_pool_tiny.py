#!/usr/bin/env python3
"""W1's Python peer: thread pool, tiny tasks (bench/workloads/w1_thread_pool_tiny.cpp, docs/bench.md).

A concurrent.futures.ThreadPoolExecutor(2), started and warmed by 20,000 tasks; the main thread submits `tasks`
tasks, each returning `i & 0xff`, keeps one future per task, then waits for each result in submission order and
sums them. As in the C++ workload the measured section runs twice: `heap=cold` (the first pass) and `heap=warm`
(the second, reusing the memory the first freed). Prints per pass
`W1 peer=python heap=... tasks=N workers=2 seconds=... per_s=... ns_per_task=...`.

Scaled: CPython's submit + Future cost about 10 us a task here, so the C++ default of 1,000,000 tasks a pass
took 24 s for the two passes; this peer runs at most 200,000 a pass (a larger count, the default or one given with
--arg, runs as 200,000 and the line ends in `scaled_from=<the count asked for>`). per_s and ns_per_task stay
comparable; seconds does not.
"""
import concurrent.futures
import sys
import time

import peerkit


def tiny(i):
    return i & 0xff


def main():
    options = peerkit.parse("W1", {"tasks": peerkit.Count(1_000_000, quick=20_000, max=100_000_000,
                                                          cap=200_000)})
    tasks = options["tasks"]
    workers = 2
    expected = sum(i & 0xff for i in range(tasks))
    rc = 0
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        # Warm-up: both workers started.
        warm = [pool.submit(lambda i=i: i & 1) for i in range(20_000)]
        for f in warm:
            f.result()
        del warm
        for heap in ("cold", "warm"):
            t0 = time.perf_counter()
            futures = [pool.submit(tiny, i) for i in range(tasks)]
            total = 0
            for f in futures:
                total += f.result()
            seconds = time.perf_counter() - t0
            del futures
            (peerkit.Line(options).add("heap", heap).add("tasks", tasks).add("workers", workers)
             .add("seconds", seconds).add("per_s", int(tasks / seconds))
             .add("ns_per_task", seconds * 1e9 / tasks, 1).scaled("tasks").emit())
            if not peerkit.check("W1", total, expected):
                rc = 1
    return rc


if __name__ == "__main__":
    sys.exit(main())
