"""CPython twin of demo 003-process-speedup (seed 003, exercise 3: the speed-up of CPU-heavy work).

heavy(n) = sum of sqrt(i) for i < n, four times: serially, on four threads (which the GIL runs one
at a time) and on a ProcessPoolExecutor (one interpreter, one GIL, per process).
"""

import math
import os
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

from labkit import QUICK, cores, emit, process_cpu_s, timed

# The seed's n is 1_000_000; the C++ demo runs 100x that (100_000_000, 20_000_000 with --quick) to
# take as long as CPython does. Here: the seed's n, and a fifth of it with --quick, as in C++.
N = 200_000 if QUICK else 1_000_000
TASKS = 4


def heavy(n):
    return sum(math.sqrt(i) for i in range(n))  # the seed's code


def run_all(pool):
    return [f.result() for f in [pool.submit(heavy, N) for _ in range(TASKS)]]


def main():
    serial_s, expected = timed(lambda: [heavy(N) for _ in range(TASKS)])
    with ThreadPoolExecutor(max_workers=TASKS) as pool:
        cpu0 = process_cpu_s()
        gil_s, got_threads = timed(run_all, pool)
        gil_cores = (process_cpu_s() - cpu0) / gil_s
    workers = os.cpu_count()  # ProcessPoolExecutor()'s default, as in the seed
    with ProcessPoolExecutor() as pool:
        # Start the workers before the clock, as the C++ pool is built before its clock starts (with
        # the fork start method, the first submit starts them all).
        pool.submit(int).result()
        procs_s, got_procs = timed(run_all, pool)
    if got_threads != expected or got_procs != expected:
        raise SystemExit("heavy() gave different results on threads or processes")
    k = min(TASKS, cores())
    no_free_threading = "CPython 3.11 has the GIL: no threads without it"
    rows = {
        "serial (4 x heavy)": serial_s,
        "threads under the GIL: speed-up": serial_s / gil_s,
        "native threads: speed-up": None,
        "threads under the GIL: cores used": gil_cores,
        "native threads: cores used": None,
        "processes: speed-up": serial_s / procs_s,
    }
    row_notes = {
        "threads under the GIL: speed-up": "real GIL, 4 threads",
        "native threads: speed-up": no_free_threading,
        "native threads: cores used": no_free_threading,
        "processes: speed-up": f"ProcessPoolExecutor(), {workers} workers",
    }
    facts = {"serial_s": serial_s, "gil_s": gil_s, "gil_cores_used": gil_cores,
             "gil_speedup": serial_s / gil_s, "process_speedup": serial_s / procs_s, "cores": k}
    notes = [f"heavy({N:_}) x {TASKS}: the seed's n (C++ runs 100x more steps in the same time)"]
    emit("003-process-speedup", rows, row_notes=row_notes, notes=notes, facts=facts)


if __name__ == "__main__":
    main()
