#!/usr/bin/env python3
"""W10's Python peer: the hybrid pipelines of docs/bench.md written by hand the way a Python programmer would,
with asyncio, concurrent.futures and bounded asyncio.Queues (capacity 1,000 between every pair of stages).

  a: source -> aio stage (i+1) -> thread stage, 2 workers (i*2) -> sink (sum)
  b: source -> aio stage (i+1) -> process stage, 2 workers (i*2, chunked) -> aio stage (identity) -> sink (sum)

Prints one line in spindle bench's format: W10 peer=python variant=... items=... seconds=... per_s=... p99_us=...
maxrss_kb=... The sum is checked; a wrong one exits 1.
"""
import argparse
import asyncio
import concurrent.futures
import resource
import sys
import time

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
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variant", choices=["a", "b"], required=True)
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--capacity", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--chunksize", type=int, default=256)
    args = parser.parse_args()
    if args.items < 1 or args.capacity < 1 or args.workers < 1 or args.chunksize < 1:
        parser.error("items, capacity, workers and chunksize must be positive")
    total, expected, seconds, latencies = asyncio.run(
        run(args.variant, args.items, args.capacity, args.workers, args.chunksize))
    if total != expected:
        print(f"W10 python variant {args.variant}: sum {total} != {expected}", file=sys.stderr)
        return 1
    latencies.sort()
    p99_us = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] / 1000
    maxrss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"W10 peer=python variant=python-{args.variant} items={args.items} seconds={seconds:.4f} "
          f"per_s={args.items / seconds:.0f} p99_us={p99_us:.1f} maxrss_kb={maxrss_kb}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
