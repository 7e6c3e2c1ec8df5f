"""CPython twin of demo 002-blocking-loop (seed 002, demo 3: "Blocking kills async"): 50 tasks wait
0.2 s each (0.02 s quick) on one asyncio event loop: with `await asyncio.sleep` they overlap (seed:
0.201 s); with a blocking time.sleep they run one after another (seed: 10.011 s).
"""

import asyncio
import time

from labkit import QUICK, emit, timed

TASKS = 50
WAIT = 0.02 if QUICK else 0.2


async def waiter(blocking):
    if blocking:
        time.sleep(WAIT)  # the mistake: the whole loop stops
    else:
        await asyncio.sleep(WAIT)


async def fan_out(blocking):
    await asyncio.gather(*(waiter(blocking) for _ in range(TASKS)))


def main():
    awaited, _ = timed(asyncio.run, fan_out(False))
    blocked, _ = timed(asyncio.run, fan_out(True))
    emit("002-blocking-loop",
         {"await sleep (50 tasks)": awaited, "blocking sleep (50 tasks)": blocked},
         facts={"await_s": awaited, "blocking_s": blocked, "tasks": TASKS, "wait_s": WAIT})


if __name__ == "__main__":
    main()
