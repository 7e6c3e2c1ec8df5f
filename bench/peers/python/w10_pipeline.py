#!/usr/bin/env python3
"""W10's Python peer: the hybrid pipelines of docs/bench.md written by hand the way a Python programmer would,
with asyncio, concurrent.futures and bounded asyncio.Queues (capacity 1,000 between every pair of stages).

  a: source -> aio stage (i+1) -> thread stage, 2 workers (i*2) -> sink (sum)
  b: source -> aio stage (i+1) -> process stage, 2 workers (i*2, chunked) -> aio stage (identity) -> sink (sum)

Takes `spindle bench W10`'s command line (peerkit: --arg items=N, --variant a|b, --quick) and prints one line per
variant in spindle bench's format: W10 peer=python variant=a items=... seconds=... per_s=... p99_us=...
maxrss_kb=... The sum is checked; a wrong one exits 1. For `spindle bench --compare` the items are capped at
200,000 (flow a runs about 20k items/s here), said with scaled_from=; `spindle bench W10`, which runs this script
for its python-* variants at the full size, passes --uncapped.
"""
import asyncio
import concurrent.futures
import sys
import time

import peerkit

DONE = object()


def double(x):
    return x * 2


def double_chunk(chunk):
    return [x * 2 for x in chunk]


async def inc(x):
    return x + 1


async def source(n, out):
    now = time.perf_counter_ns
    for i in range(n):
        await out.put((i, now()))
    await out.put(DONE)


async def aio_stage(inp, out, fn):
    while True:
        item = await inp.get()
        if item is DONE:
            await out.put(DONE)
            return
        x, t = item
        await out.put((await fn(x), t))


async def thread_stage(inp, out, pool, workers):
    loop = asyncio.get_running_loop()
    finished = 0

    async def worker():
        nonlocal finished
        while True:
            item = await inp.get()
            if item is DONE:
                await inp.put(DONE)  # let the sibling see it too
                return
            x, t = item
            await out.put((await loop.run_in_executor(pool, double, x), t))

    await asyncio.gather(*(worker() for _ in range(workers)))
    await out.put(DONE)


async def process_stage(inp, out, pool, workers, chunksize):
    """Chunks across the process hop, as any sensible hand-written version would: one round trip per chunk."""
    loop = asyncio.get_running_loop()
    chunks = asyncio.Queue(maxsize=workers * 2)

    async def chunker():
        batch = []
        while True:
            item = await inp.get()
            if item is DONE:
                if batch:
                    await chunks.put(batch)
                for _ in range(workers):
                    await chunks.put(DONE)
                return
            batch.append(item)
            if len(batch) == chunksize:
                await chunks.put(batch)
                batch = []

    async def worker():
        while True:
            batch = await chunks.get()
            if batch is DONE:
                return
            results = await loop.run_in_executor(pool, double_chunk, [x for x, _ in batch])
            for r, (_, t) in zip(results, batch):
                await out.put((r, t))

    await asyncio.gather(chunker(), *(worker() for _ in range(workers)))
    await out.put(DONE)


async def identity(x):
    return x


async def sink(inp, latencies):
    total = 0
    now = time.perf_counter_ns
    while True:
        item = await inp.get()
        if item is DONE:
            return total
        x, t = item
        total += x
        latencies.append(now() - t)


async def run(variant, n, capacity, workers, chunksize):
    latencies = []
    queues = [asyncio.Queue(maxsize=capacity) for _ in range(4)]
    start = time.perf_counter()
    if variant == "a":
        with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
            total, *_ = await asyncio.gather(
                sink(queues[2], latencies), source(n, queues[0]), aio_stage(queues[0], queues[1], inc),
                thread_stage(queues[1], queues[2], pool, workers))
        expected = sum((i + 1) * 2 for i in range(n))
    else:
        with concurrent.futures.ProcessPoolExecutor(max_workers=workers) as pool:
            # Start and warm the workers outside the measured section, as spindle's variant does.
            pool.submit(double, 1).result()
            start = time.perf_counter()
            total, *_ = await asyncio.gather(
                sink(queues[3], latencies), source(n, queues[0]), aio_stage(queues[0], queues[1], inc),
                process_stage(queues[1], queues[2], pool, workers, chunksize),
                aio_stage(queues[2], queues[3], identity))
        expected = sum((i + 1) * 2 for i in range(n))
    seconds = time.perf_counter() - start
    return total, expected, seconds, latencies


def main():
    argv = sys.argv[1:]
    uncapped = "--uncapped" in argv
    argv = [a for a in argv if a != "--uncapped"]
    options = peerkit.parse("W10", {
        "items": peerkit.Count(1_000_000, quick=20_000, max=1_000_000_000, cap=None if uncapped else 200_000),
        "mem_items": peerkit.Count(10_000_000, quick=200_000, max=1_000_000_000),  # spindle's memory check: unused
        "report": peerkit.Choice("no", ("no", "yes")),  # spindle's per-stage table: nothing to print here
    }, variants=("a", "b"), argv=argv)
    n = options["items"]
    rc = 0
    for variant in ("a", "b"):
        if not options.selected(variant):
            continue
        total, expected, seconds, latencies = asyncio.run(run(variant, n, 1000, 2, 256))
        if not peerkit.check(f"W10 python variant {variant}", total, expected):
            rc = 1
            continue
        latencies.sort()
        p99_us = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] / 1000
        peerkit.Line(options).add("variant", variant).add("items", n).add("seconds", seconds) \
            .add("per_s", round(n / seconds)).add("p99_us", p99_us, 1).add("maxrss_kb", peerkit.maxrss_kb()) \
            .scaled("items").emit()
    return rc


if __name__ == "__main__":
    sys.exit(main())
