"""CPython twin of demo 002-cpu-bound (seed 002, demo 2: "Threads don't speed up CPU-bound Python"):
8 CPU-bound tasks serially, on 8 threads under the real GIL, and on a pool of 8 processes (seed, 32
cores: threads 11.545 s vs processes 1.212 s).

The C++ demo runs n = 3e8 per task (4e7 quick); CPython is 10-100x slower, so here n is a tenth of
that: 3e7 (4e6 quick), the size that puts CPython's serial and threaded times near the seed's 11.5
s.
"""

import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

from labkit import QUICK, cores, cpu_task, emit, process_cpu_s, timed

TASKS = 8
N = 4_000_000 if QUICK else 30_000_000
EXPECTED = (N - 1) * N * (2 * N - 1) // 6


def check(sums):
    if any(s != EXPECTED for s in sums):
        raise RuntimeError("cpu_task computed a wrong sum")


def usage_of(fn):
    """(wall s, cores used = process CPU / wall) of fn()."""
    cpu0 = process_cpu_s()
    wall, _ = timed(fn)
    return wall, (process_cpu_s() - cpu0) / wall


def main():
    cpu0 = time.thread_time()
    serial, _ = timed(lambda: check([cpu_task(N) for _ in range(TASKS)]))
    serial_cpu = time.thread_time() - cpu0
    with ThreadPoolExecutor(TASKS) as pool:
        gil_s, gil_cores = usage_of(lambda: check(pool.map(cpu_task, [N] * TASKS)))

    def processes():
        # The pool's start-up is inside the timing, as in the seed's `with ProcessPoolExecutor()`.
        with ProcessPoolExecutor(TASKS) as pool:
            check(pool.map(cpu_task, [N] * TASKS))

    proc_s, _ = timed(processes)
    no_free = "CPython 3.11 has the GIL: no free-threaded build"
    emit("002-cpu-bound",
         {"serial": serial,
          "threads (8) under the GIL": gil_s,
          "native threads (8), free threading": None,
          "threads under the GIL: cores used": gil_cores,
          "native threads: cores used": None,
          "processes (8)": proc_s},
         row_notes={"native threads (8), free threading": no_free,
                    "native threads: cores used": no_free,
                    "processes (8)": "pool start-up included"},
         notes=[f"CPython cpu_task: n = {N:,} per task (C++ runs 10x the work)"],
         facts={"serial_s": serial, "serial_cpu_s": serial_cpu, "gil_threads_s": gil_s,
                "gil_cores_used": gil_cores, "processes_s": proc_s, "cores": cores()})


if __name__ == "__main__":
    main()
