#!/usr/bin/env python3
"""W5's Python peer: async bounded queue (bench/workloads/w5_async_bounded_queue.cpp, docs/bench.md).

One asyncio event loop, one asyncio.Queue(maxsize=100); a consumer task gets `items` (1,000,000) items and sums
them while a producer task puts 0..N-1 (the consumer is created first, as in the C++); the time runs from before
the tasks are created to both done. Prints `W5 peer=python items=N seconds=... per_s=... ns_per_item=...`.

Not scaled: CPython runs the default size in about a second, so every figure is comparable.
"""
import asyncio
import sys
import time

import peerkit


async def producer(q, n):
    for i in range(n):
        await q.put(i)


async def consumer(q, n):
    total = 0
    for _ in range(n):
        total += await q.get()
    return total


async def w5_main(n):
    q = asyncio.Queue(maxsize=100)
    t0 = time.perf_counter()
    c = asyncio.create_task(consumer(q, n))
    p = asyncio.create_task(producer(q, n))
    await p
    total = await c
    return total, time.perf_counter() - t0


def main():
    options = peerkit.parse("W5", {"items": peerkit.Count(1_000_000, quick=50_000)})
    n = options["items"]
    total, seconds = asyncio.run(w5_main(n))
    (peerkit.Line(options).add("items", n).add("seconds", seconds).add("per_s", int(n / seconds))
     .add("ns_per_item", seconds * 1e9 / n, 1).emit())
    return 0 if peerkit.check("W5", total, n * (n - 1) // 2) else 1


if __name__ == "__main__":
    sys.exit(main())
