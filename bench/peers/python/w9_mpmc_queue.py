#!/usr/bin/env python3
"""W9's Python peer: thread MPMC bounded queue (bench/workloads/w9_mpmc_queue.cpp, docs/bench.md).

One queue.Queue(maxsize=1024); 2 producer threads (producer p puts p, p+2, p+4, ... below `items`) and 2 consumer
threads, each getting items/2 items and summing them; all 4 and the main thread meet at a threading.Barrier,
then the time runs from the barrier to the last thread joined. The total must be 0 + 1 + ... + items-1. Prints
`W9 peer=python items=N seconds=... per_s=... ns_per_item=...`.

Not scaled: queue.Queue moves about a million items a second here (the GIL lets one thread fill or drain a
run of items before it switches), so the default 10,000,000 items take ~11 s and every figure is comparable.
"""
import queue
import sys
import threading
import time

import peerkit


def main():
    options = peerkit.parse("W9", {"items": peerkit.Count(10_000_000, quick=200_000, multiple_of=2)})
    items = options["items"]
    producers = consumers = 2
    q = queue.Queue(maxsize=1024)
    start = threading.Barrier(producers + consumers + 1)
    sums = [0] * consumers

    def producer(p):
        start.wait()
        for v in range(p, items, producers):
            q.put(v)

    def consumer(c):
        start.wait()
        total = 0
        for _ in range(items // consumers):
            total += q.get()
        sums[c] = total

    threads = [threading.Thread(target=producer, args=(p,)) for p in range(producers)]
    threads += [threading.Thread(target=consumer, args=(c,)) for c in range(consumers)]
    for t in threads:
        t.start()
    start.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - t0

    (peerkit.Line(options).add("items", items).add("seconds", seconds).add("per_s", int(items / seconds))
     .add("ns_per_item", seconds * 1e9 / items, 1).emit())
    return 0 if peerkit.check("W9", sum(sums), items * (items - 1) // 2) else 1


if __name__ == "__main__":
    sys.exit(main())
