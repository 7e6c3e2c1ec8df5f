#!/usr/bin/env python3
"""W4's Python peer: coroutine switch and spawn+await (bench/workloads/w4_coroutine_switch_spawn.cpp,
docs/bench.md).

`switch`: one asyncio event loop, two tasks each `await asyncio.sleep(0)` (asyncio's yield to the loop) `yields`
(500,000) times; prints `W4 peer=python test=switch switches=2*yields seconds=... ns_per_switch=...`.
`spawn`: after 1,000 warm-up rounds, `tasks` (1,000,000) times `await asyncio.create_task(leaf(i))` where leaf
returns `i & 0xff`, summed; prints `W4 peer=python test=spawn tasks=N seconds=... ns_per_task=...`.
Each test runs in its own asyncio.run, as the C++ runs each in its own aio::run.

Not scaled: CPython runs the default sizes in a few seconds (a spawn ~5 us), so every figure is comparable.
"""
import asyncio
import sys
import time

import peerkit


async def yielder(n):
    k = 0
    for _ in range(n):
        await asyncio.sleep(0)
        k += 1
    return k


async def switch_main(n):
    t0 = time.perf_counter()
    a = asyncio.create_task(yielder(n))
    b = asyncio.create_task(yielder(n))
    r = await a + await b
    return r, time.perf_counter() - t0


async def leaf(i):
    return i & 0xff


async def spawn_main(n):
    for i in range(1000):  # warm-up, as the C++ warms its frame pool
        await asyncio.create_task(leaf(i))
    t0 = time.perf_counter()
    total = 0
    for i in range(n):
        total += await asyncio.create_task(leaf(i))
    return total, time.perf_counter() - t0


def main():
    options = peerkit.parse("W4", {"yields": peerkit.Count(500_000, quick=20_000),
                                   "tasks": peerkit.Count(1_000_000, quick=50_000)},
                            variants=["switch", "spawn"])
    rc = 0
    if options.selected("switch"):
        per_task = options["yields"]
        r, seconds = asyncio.run(switch_main(per_task))
        (peerkit.Line(options).add("test", "switch").add("switches", 2 * per_task).add("seconds", seconds)
         .add("ns_per_switch", seconds * 1e9 / (2 * per_task), 1).emit())
        if r != 2 * per_task:
            print(f"W4 switch: wrong count {r}", file=sys.stderr)
            rc = 1
    if options.selected("spawn"):
        n = options["tasks"]
        total, seconds = asyncio.run(spawn_main(n))
        (peerkit.Line(options).add("test", "spawn").add("tasks", n).add("seconds", seconds)
         .add("ns_per_task", seconds * 1e9 / n, 1).emit())
        if not peerkit.check("W4 spawn", total, sum(i & 0xff for i in range(n))):
            rc = 1
    return rc


if __name__ == "__main__":
    sys.exit(main())
