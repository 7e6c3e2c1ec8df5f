"""CPython twin of demo 000-io-cpu (seed 000, "Concurrency models"): one io_task (sleep 0.2 s) and
one cpu_task, then four of each sequentially, on 4 threads, on 4 processes and with asyncio.

The C++ demo runs cpu_task with n = 2e8 (3e7 quick) because C++ is ~100x faster than CPython; here n
is the seed's own 2e6 (3e5 quick, the same quick/full ratio), so the CPython and C++ figures are the
same order of magnitude.
"""

import asyncio
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

from labkit import QUICK, cores, cpu_task, emit, process_cpu_s, timed

IO_WAIT = 0.05 if QUICK else 0.2
N = 300_000 if QUICK else 2_000_000


def io_task(_=None):
    time.sleep(IO_WAIT)


def io_task_span(_=None):
    """(start, end) of one wait on the monotonic clock, which all the machine's processes share."""
    start = time.monotonic()
    io_task()
    return start, time.monotonic()


def most_at_once(spans):
    """The most waits in progress at once: proof that the waits overlapped, whatever the load."""
    events = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans])  # ends sort first
    most = now = 0
    for _, step in events:
        now += step
        most = max(most, now)
    return most


async def io_async(spans, i):
    start = time.monotonic()
    await asyncio.sleep(IO_WAIT)
    spans[i] = (start, time.monotonic())


async def four_async(spans):
    await asyncio.gather(*(io_async(spans, i) for i in range(4)))


def main():
    rows, facts = {}, {}
    rows["one io_task"], _ = timed(io_task)
    rows["one cpu_task"], check = timed(cpu_task, N)
    if check != (N - 1) * N * (2 * N - 1) // 6:
        raise RuntimeError("cpu_task computed a wrong sum")
    rows["4 io_tasks sequentially"], _ = timed(lambda: [io_task() for _ in range(4)])

    with ThreadPoolExecutor(4) as pool:
        rows["4 io_tasks, 4 threads"], spans = timed(lambda: list(pool.map(io_task_span, range(4))))
        facts["io_threads_overlap"] = most_at_once(spans)
        cpu0 = time.thread_time()
        rows["4 cpu_tasks sequentially"], _ = timed(lambda: [cpu_task(N) for _ in range(4)])
        facts["cpu_seq_cpu_s"] = time.thread_time() - cpu0
        # The real GIL: four threads take turns on one core.
        cpu0 = process_cpu_s()
        wall, _ = timed(lambda: list(pool.map(cpu_task, [N] * 4)))
        rows["4 cpu_tasks, threads under a GIL"] = wall
        facts["cpu_gil_cores_used"] = (process_cpu_s() - cpu0) / wall

    with ProcessPoolExecutor(4) as pool:
        list(pool.map(abs, range(4)))  # warm the pool: worker start-up is excluded, as in C++
        wall, spans = timed(lambda: list(pool.map(io_task_span, range(4))))
        rows["4 io_tasks, 4 processes"] = wall
        facts["io_procs_overlap"] = most_at_once(spans)
        rows["4 cpu_tasks, 4 processes"], sums = timed(lambda: list(pool.map(cpu_task, [N] * 4)))
        if any(s != check for s in sums):
            raise RuntimeError("wrong sum from a process")

    spans = [None] * 4
    rows["4 io_tasks, async"], _ = timed(asyncio.run, four_async(spans))
    facts["io_async_overlap"] = most_at_once(spans)

    rows["4 cpu_tasks, native threads"] = None
    facts["cores"] = cores()
    emit("000-io-cpu", rows,
         row_notes={"4 cpu_tasks, native threads":
                    "CPython 3.11 has the GIL: no free-threaded build",
                    "one cpu_task": f"n = {N:,} (C++ runs 100x the work)"},
         notes=[f"CPython cpu_task: n = {N:,} (full mode: the seed's 2,000,000; --quick: 300,000)"],
         facts=facts)


if __name__ == "__main__":
    main()
