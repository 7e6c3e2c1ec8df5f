"""CPython twin of demo 004-context-switches (seed 004: how the OS schedules threads).

An I/O-bound thread gives the CPU up voluntarily at every wait; CPU-bound threads (one more than the
cores) are preempted: involuntary switches. Counted per thread by getrusage(RUSAGE_THREAD). In
CPython the CPU-bound threads also wait for the GIL, and each such wait is a voluntary switch.
"""

import resource
import threading
import time

from labkit import QUICK, cores, emit

SPAN_S = 0.2 if QUICK else 1.0


def switches():
    """(voluntary, involuntary) context switches of the calling thread so far."""
    u = resource.getrusage(resource.RUSAGE_THREAD)
    return u.ru_nvcsw, u.ru_nivcsw


def io_bound(out):
    a = switches()
    end = time.monotonic() + SPAN_S
    while time.monotonic() < end:
        time.sleep(0.001)  # an I/O-bound loop: wait, wake, wait
    b = switches()
    out.append((b[0] - a[0], b[1] - a[1]))


def cpu_bound(out):
    a = switches()
    end = time.monotonic() + SPAN_S
    total = 0
    while time.monotonic() < end:
        for i in range(10_000):
            total += i * i
    b = switches()
    out.append((b[0] - a[0], b[1] - a[1]))


def main():
    cpu_threads = cores() + 1  # more runnable threads than cores: the scheduler must preempt
    io, cpu = [], []
    threads = [threading.Thread(target=io_bound, args=(io,))]
    threads += [threading.Thread(target=cpu_bound, args=(cpu,)) for _ in range(cpu_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    cpu_vol = sum(v for v, _ in cpu) / cpu_threads
    cpu_invol = sum(i for _, i in cpu) / cpu_threads
    rows = {"I/O-bound thread: voluntary": io[0][0],
            "I/O-bound thread: involuntary": io[0][1],
            "CPU-bound thread: voluntary": cpu_vol,
            "CPU-bound thread: involuntary": cpu_invol}
    row_notes = {"I/O-bound thread: voluntary": "each wake-up then waits for the GIL (up to 5 ms)",
                 "CPU-bound thread: voluntary": f"mean of {cpu_threads}; waits for the GIL"}
    facts = {"io_voluntary": io[0][0], "io_involuntary": io[0][1],
             "cpu_voluntary": cpu_vol, "cpu_involuntary": cpu_invol}
    emit("004-context-switches", rows, row_notes=row_notes, facts=facts)


if __name__ == "__main__":
    main()
