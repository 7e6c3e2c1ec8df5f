#!/usr/bin/env python3
"""W3's Python peer: async sleep fan-out (bench/workloads/w3_async_sleep_fanout.cpp, docs/bench.md).

One asyncio event loop; `tasks` (100,000) tasks created with asyncio.create_task as fast as possible, each
`await asyncio.sleep(0.2)` and returning `i & 1`, then gathered with asyncio.gather; the time runs from before
the first task to all done. overhead_s = seconds - 0.2. Memory: base_rss_kb is ru_maxrss read just before
asyncio.run, maxrss_kb the peak after it, bytes_per_task = (maxrss_kb - base_rss_kb) * 1024 / tasks. Prints
`W3 peer=python tasks=N seconds=... overhead_s=... maxrss_kb=... base_rss_kb=... bytes_per_task=...`.

Not scaled (overhead_s is not a per-task figure): CPython runs the default size in a few seconds.
"""
import asyncio
import sys
import time

import peerkit


async def sleeper(i):
    await asyncio.sleep(0.2)
    return i & 1


async def fan_out(n):
    t0 = time.perf_counter()
    tasks = [asyncio.create_task(sleeper(i)) for i in range(n)]
    results = await asyncio.gather(*tasks)
    seconds = time.perf_counter() - t0
    return sum(results), seconds


def main():
    options = peerkit.parse("W3", {"tasks": peerkit.Count(100_000, quick=10_000, max=100_000_000)})
    n = options["tasks"]
    base_rss = peerkit.maxrss_kb()
    total, seconds = asyncio.run(fan_out(n))
    peak = peerkit.maxrss_kb()
    (peerkit.Line(options).add("tasks", n).add("seconds", seconds).add("overhead_s", seconds - 0.2)
     .add("maxrss_kb", peak).add("base_rss_kb", base_rss)
     .add("bytes_per_task", (peak - base_rss) * 1024.0 / n, 1).emit())
    return 0 if peerkit.check("W3", total, n // 2) else 1


if __name__ == "__main__":
    sys.exit(main())
