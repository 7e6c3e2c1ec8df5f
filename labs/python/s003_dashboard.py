"""CPython twin of demo 003-dashboard (seed 003, section 2: the async dashboard).

asyncio.gather of three fetches (0.5-1.5 s each, a tenth with --quick): the total is about the
slowest, not the sum. The same on three threads, and serially, for comparison.
"""

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor

from labkit import QUICK, emit, mt19937, say, timed

NAMES = ("profile", "orders", "notifications")


def uniform_int(rng, lo, hi):
    """libstdc++'s uniform_int_distribution(lo, hi) on 32-bit draws (Lemire's method)."""
    span = hi - lo + 1
    product = rng.getrandbits(32) * span
    if product & 0xFFFFFFFF < span:
        threshold = (1 << 32) % span
        while product & 0xFFFFFFFF < threshold:
            product = rng.getrandbits(32) * span
    return lo + (product >> 32)


async def fetch(name, delay):
    await asyncio.sleep(delay)
    return f"{name} ready"


async def dashboard(parts):
    return await asyncio.gather(*(fetch(name, d) for name, d in parts))


def main():
    # The C++ demo's own delays: std::mt19937(3), 500-1500 ms, integer ms / 10 with --quick.
    rng = mt19937(3)
    scale = 10 if QUICK else 1
    parts = [(name, (uniform_int(rng, 500, 1500) // scale) / 1000) for name in NAMES]
    async_s, results = timed(asyncio.run, dashboard(parts))
    say(" ", results)
    with ThreadPoolExecutor(max_workers=3) as pool:
        def on_threads():
            for f in [pool.submit(time.sleep, d) for _, d in parts]:
                f.result()

        threads_s, _ = timed(on_threads)
    serial_s, _ = timed(lambda: [time.sleep(d) for _, d in parts])
    rows = {"serial": serial_s, "threads (3)": threads_s, "async gather": async_s}
    facts = {"serial_s": serial_s, "threads_s": threads_s, "async_s": async_s,
             "slowest_s": max(d for _, d in parts), "sum_s": sum(d for _, d in parts),
             "results": len(results)}
    emit("003-dashboard", rows, facts=facts)


if __name__ == "__main__":
    main()
