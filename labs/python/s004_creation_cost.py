"""CPython twin of demo 004-creation-cost (seed 004: what an execution unit costs to create).

A coroutine task (create + run to completion), a thread (start + join), a raw os.fork() (fork, exit,
wait: the OS cost under every process model) and a multiprocessing.Process via the forkserver.
"""

import asyncio
import multiprocessing
import os
import threading
from multiprocessing import forkserver

from labkit import QUICK, emit, timed

N_THREADS = 200 if QUICK else 2000
N_PROCS = 50 if QUICK else 300
N_MP = 20 if QUICK else 100
N_TASKS = 10_000 if QUICK else 100_000


def noop():
    pass


async def nothing(i):
    return i


async def many_tasks(n):
    total = 0
    for i in range(n):
        total += await asyncio.create_task(nothing(i))
    return total


def start_join_thread():
    t = threading.Thread(target=noop)
    t.start()
    t.join()


def fork_exit_wait():
    pid = os.fork()
    if pid == 0:
        os._exit(0)  # the child does nothing: only the creation is measured
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit("a forked child failed")


def mean_and_min(fn, n):
    """(mean, min) of n creations, each timed on its own: the mean is what a program pays, the
    minimum the intrinsic cost (on a loaded machine every start waits for a core)."""
    each = [timed(fn)[0] for _ in range(n)]
    return sum(each) / n, min(each)


def main():
    thread_s, thread_min_s = mean_and_min(start_join_thread, N_THREADS)
    proc_s, proc_min_s = mean_and_min(fork_exit_wait, N_PROCS)

    def mp_process(ctx):
        p = ctx.Process(target=noop)
        p.start()
        p.join()
        if p.exitcode != 0:
            raise SystemExit("a multiprocessing.Process failed")

    # spindle's Process starts its children from a forkserver: so does this one. The server itself
    # starts once, before the clock; each child then re-imports this script (multiprocessing does).
    forkserver.ensure_running()
    mp_s, _ = mean_and_min(lambda: mp_process(multiprocessing.get_context("forkserver")), N_MP)
    # For comparison (a fact), CPython 3.11's default on Linux: a plain fork of this interpreter.
    mp_fork_s, _ = mean_and_min(lambda: mp_process(multiprocessing.get_context("fork")), N_MP)
    task_total, total = timed(asyncio.run, many_tasks(N_TASKS))
    if total != N_TASKS * (N_TASKS - 1) // 2:
        raise SystemExit("wrong task sum")
    task_s = task_total / N_TASKS
    rows = {
        "coroutine task: create + run": task_s * 1e6,
        "thread: start + join": thread_s * 1e6,
        "process: fork + exit + wait": proc_s * 1e6,
        "spindle::process::Process: start + join": mp_s * 1e6,
        "thread: fastest start + join": thread_min_s * 1e6,
        "process: fastest fork + exit + wait": proc_min_s * 1e6,
    }
    row_notes = {"process: fork + exit + wait": "os.fork() from the interpreter",
                 "spindle::process::Process: start + join":
                     "multiprocessing.Process, forkserver (each child re-imports the script)"}
    facts = {"task_us": task_s * 1e6, "thread_us": thread_s * 1e6, "process_us": proc_s * 1e6,
             "mp_process_us": mp_s * 1e6, "mp_fork_process_us": mp_fork_s * 1e6,
             "thread_min_us": thread_min_s * 1e6,
             "process_min_us": proc_min_s * 1e6}
    emit("004-creation-cost", rows, row_notes=row_notes, facts=facts)


if __name__ == "__main__":
    main()
