"""CPython twin of demo 002-thread-overhead (seed 002, demo 5: diminishing returns of more threads).

The same batch of mixed tasks (a wait, then a little computing) on ThreadPoolExecutors of 1, 2, 4,
... threads. The waits overlap on any number of threads; the computing parts hold the GIL, so they
run one at a time however many threads there are: the speed-up stops at (wait + compute) / compute,
whatever the cores.
"""

import time
from concurrent.futures import ThreadPoolExecutor

from labkit import QUICK, cpu_task, emit, timed

TASKS = 128 if QUICK else 512
WAIT_S = 0.004 if QUICK else 0.010
MAX_THREADS = 64 if QUICK else 128
# The C++ task computes cpu_task(600_000), ~0.4 ms of native code. The same step count takes ~25 ms
# in CPython (60x slower), which would turn "mostly waiting" into "mostly computing" (and the batch
# would run for minutes); 10_000 steps keep the C++ task's shape: ~0.4 ms of computing per wait.
WORK = 10_000


def task():
    time.sleep(WAIT_S)  # releases the GIL: the waits overlap
    return cpu_task(WORK)  # holds the GIL: the computing parts do not


def batch(pool):
    for f in [pool.submit(task) for _ in range(TASKS)]:
        f.result()


def main():
    cpu_one = min(timed(cpu_task, WORK)[0] for _ in range(20))
    rows, facts, points = {}, {}, []
    base = previous = 0.0
    flat_at = 0
    n = 1
    while n <= MAX_THREADS:
        with ThreadPoolExecutor(max_workers=n) as pool:
            seconds, _ = timed(batch, pool)
        if n == 1:
            base = seconds
        speedup = base / seconds
        rows[f"{n} thread" + ("s" if n > 1 else "")] = speedup
        facts[f"speedup_{n}"] = speedup
        points.append((n, speedup))
        if n > 1 and flat_at == 0 and speedup < previous * 1.25:
            flat_at = n
        previous = speedup
        n *= 2
    facts["flattens_at"] = flat_at
    facts["cpu_one_us"] = cpu_one * 1e6
    cap = (WAIT_S + cpu_one) / cpu_one
    notes = [
        f"{TASKS} tasks, each {WAIT_S * 1000:.0f} ms waiting + cpu_task({WORK:_}) "
        f"~{cpu_one * 1e6:.0f} us computing under the GIL: speed-up capped at ~{cap:.1f}x",
        f"the speed-up flattens at {flat_at} threads" if flat_at
        else "the speed-up kept growing up to the largest pool tried",
    ]
    emit("002-thread-overhead", rows, notes=notes, facts=facts,
         series={"CPython speed-up": points})


if __name__ == "__main__":
    main()
