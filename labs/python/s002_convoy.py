"""CPython twin of demo 002-convoy (the GIL's convoy effect, seed 002's "GIL blocks CPU
parallelism"): an I/O thread's latency per operation (a 0.5 ms blocking wait, then a little
bytecode) alone, and next to a thread running pure-Python CPU work. time.sleep releases the GIL;
taking it back means waiting for the CPU thread to drop it at its next switch interval
(sys.getswitchinterval(), 5 ms by default).
"""

import sys
import threading
import time

from labkit import QUICK, emit

OPS = 40 if QUICK else 200
WAIT = 0.5e-3


def io_latency(neighbour):
    """Mean seconds per I/O operation, with or without a CPU-bound thread beside it."""
    stop = threading.Event()

    def cpu():
        total, j = 0, 0
        while not stop.is_set():  # pure Python: holds the GIL except at switch intervals
            for _ in range(1000):
                total += j * j
                j += 1

    worker = threading.Thread(target=cpu) if neighbour else None
    if worker:
        worker.start()
    start = time.perf_counter()
    for _ in range(OPS):
        time.sleep(WAIT)  # a blocking read: the GIL is dropped around it
        _ = sum(range(10))  # a little bytecode: needs the GIL back
    elapsed = time.perf_counter() - start
    stop.set()
    if worker:
        worker.join()
    return elapsed / OPS


def main():
    alone = io_latency(False)
    gil = io_latency(True)
    emit("002-convoy",
         {"I/O thread alone": alone * 1e3, "next to a CPU thread, GIL": gil * 1e3,
          "next to a CPU thread, native": None},
         row_notes={"next to a CPU thread, native":
                    "CPython 3.11 has the GIL: no free-threaded build"},
         notes=[f"CPython switch interval: {sys.getswitchinterval() * 1e3:g} ms"],
         facts={"alone_ms": alone * 1e3, "gil_ms": gil * 1e3,
                "switch_interval_ms": sys.getswitchinterval() * 1e3})


if __name__ == "__main__":
    main()
