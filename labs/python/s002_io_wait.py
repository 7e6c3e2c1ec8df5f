"""CPython twin of demo 002-io-wait (seed 002, demo 1: "Threads help I/O wait"): 50 waits of 0.2 s
(0.02 s quick) serially, on a pool of 20 threads, and as 50 asyncio tasks on one thread (seed:
serial 10.008 s vs 20 threads 0.607 s).
"""

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor

from labkit import QUICK, emit, timed

TASKS = 50
WAIT = 0.02 if QUICK else 0.2


def io(_=None):
    time.sleep(WAIT)  # releases the GIL while it waits


async def all_async():
    await asyncio.gather(*(asyncio.sleep(WAIT) for _ in range(TASKS)))


def main():
    serial, _ = timed(lambda: [io() for _ in range(TASKS)])
    with ThreadPoolExecutor(20) as pool:
        threads, _ = timed(lambda: list(pool.map(io, range(TASKS))))
    async_s, _ = timed(asyncio.run, all_async())
    emit("002-io-wait",
         {"serial": serial, "threads (20)": threads, "async (50 tasks, one thread)": async_s},
         facts={"serial_s": serial, "threads_s": threads, "async_s": async_s})


if __name__ == "__main__":
    main()
