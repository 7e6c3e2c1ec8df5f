#!/usr/bin/env python3
"""W8's Python peer: process pool payload (bench/workloads/w8_process_pool_payload.cpp, docs/bench.md).

concurrent.futures.ProcessPoolExecutor(2) (the platform's default start method); a `mib` (10) MiB buffer of the
bytes 0..255 repeated; `tasks` (50) tasks each return the sum, modulo 2**64, of the buffer's little-endian uint64
words (`sum(memoryview(buf).cast("Q"))`), all submitted, then all collected. Variants, as the C++ workload's:
  copy    `submit(sum_copy, payload)` with the bytes object: pickled and sent through the pool's pipe every time
  shared  one multiprocessing.shared_memory.SharedMemory created (and filled) once; `submit(sum_shared, name)`:
          the task attaches by name, sums the words in place, detaches
Each variant is warmed by one task first, as in the C++. Prints per variant
`W8 peer=python variant=... tasks=N seconds=... MiB_per_s=...` (MiB handed to the tasks per second).

Not scaled: CPython runs the default size in a few seconds, so every figure is comparable.
"""
import array
import concurrent.futures
import sys
import time
from multiprocessing import resource_tracker, shared_memory

import peerkit


def sum_words(buf):
    """The sum modulo 2**64 of `buf`'s little-endian uint64 words."""
    words = memoryview(buf).cast("Q")  # native order
    if sys.byteorder != "little":
        words = array.array("Q", words)
        words.byteswap()
    total = sum(words)
    if isinstance(words, memoryview):
        words.release()  # before the caller closes a SharedMemory under it
    return total & peerkit.MASK64


def sum_copy(payload):
    return sum_words(payload)


def sum_shared(name):
    shm = shared_memory.SharedMemory(name=name)
    try:
        return sum_words(shm.buf)
    finally:
        shm.close()


def main():
    options = peerkit.parse("W8", {"tasks": peerkit.Count(50, quick=6, max=1_000_000),
                                   "mib": peerkit.Count(10, max=4096)},
                            variants=["copy", "shared"])
    tasks, size = options["tasks"], options["mib"] << 20
    payload = bytes(range(256)) * (size // 256)
    # Independent of sum_words: each aligned 8-byte word holds the bytes 8k..8k+7 (mod 256) for one of 32 values of
    # k; the buffer holds size/256 copies of the 32 words.
    one = sum(int.from_bytes(bytes((8 * k + j) & 0xff for j in range(8)), "little") for k in range(32))
    want = (one * (size // 256) * tasks) & peerkit.MASK64
    mib = tasks * size / (1024 * 1024)
    # The workers must share this process's resource tracker (so that attaching by name in a worker does not start
    # a tracker of its own that would unlink the segment and warn of a leak at exit): start it before the pool.
    resource_tracker.ensure_running()
    rc = 0

    def run(variant, fn, arg):
        nonlocal rc
        pool.submit(fn, arg).result()  # warm-up
        t0 = time.perf_counter()
        futures = [pool.submit(fn, arg) for _ in range(tasks)]
        total = 0
        for f in futures:
            total += f.result()
        seconds = time.perf_counter() - t0
        (peerkit.Line(options).add("variant", variant).add("tasks", tasks).add("seconds", seconds)
         .add("MiB_per_s", mib / seconds, 1).emit())
        if not peerkit.check(f"W8 {variant}", total & peerkit.MASK64, want):
            rc = 1

    with concurrent.futures.ProcessPoolExecutor(max_workers=2) as pool:
        if options.selected("copy"):
            run("copy", sum_copy, payload)
        if options.selected("shared"):
            shm = shared_memory.SharedMemory(create=True, size=size)
            try:
                shm.buf[:size] = payload
                run("shared", sum_shared, shm.name)
            finally:
                shm.close()
                shm.unlink()
    return rc


if __name__ == "__main__":
    sys.exit(main())
