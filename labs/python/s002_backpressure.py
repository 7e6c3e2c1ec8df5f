"""CPython twin of demo 002-backpressure (seed 002, demo 4: "Backpressure (bounded queue vs
unbounded queue)"): a producer puts one 4 KiB message every 50 us, a consumer spends 200 us on each,
through an unbounded queue.Queue and through one bounded to 200: peak backlog, its memory, p95/p99
latency (seed: unbounded backlog 3600 vs bounded 200). Also the backlog against time, sampled as the
C++ demo does: after each put (the producer's trace) and each get (the consumer's), merged by time.
"""

import queue
import threading
import time

from labkit import QUICK, emit

ITEMS = 1000 if QUICK else 4000
BOUND = 200
EVERY, COST = 50e-6, 200e-6  # produce every 50 us; consume in 200 us
PAYLOAD = 4096  # bytes per message: what the backlog costs in memory


def pump(maxsize):
    """Runs ITEMS messages through a queue.Queue(maxsize): (peak, p95, p99, [(t, backlog), ...])."""
    q = queue.Queue(maxsize)
    latencies, backlog, drained = [], [], []
    # The messages are made before the clock starts: the producer's only work is the put, so it
    # stays ahead of the consumer (as in the C++ demo).
    payloads = [bytearray(PAYLOAD) for _ in range(ITEMS)]

    def consume():
        for _ in range(ITEMS):
            made, _payload = q.get()
            drained.append((time.perf_counter() - start, q.qsize()))
            time.sleep(COST)  # the work per message
            latencies.append(time.perf_counter() - made)

    start = time.perf_counter()
    consumer = threading.Thread(target=consume)
    consumer.start()
    peak = 0
    for i in range(ITEMS):
        delay = start + i * EVERY - time.perf_counter()  # sleep_until(start + i * every)
        if delay > 0:
            time.sleep(delay)
        q.put((time.perf_counter(), payloads[i]))  # blocks when the bounded queue is full
        size = q.qsize()
        peak = max(peak, size)
        backlog.append((time.perf_counter() - start, size))
    consumer.join()
    backlog = sorted(backlog + drained)  # rises while the producer is ahead, drains after it stops
    latencies.sort()
    n = len(latencies)
    return peak, latencies[n * 95 // 100], latencies[n * 99 // 100], backlog


def main():
    u_peak, u_p95, u_p99, u_series = pump(0)
    b_peak, b_p95, b_p99, b_series = pump(BOUND)
    kib = PAYLOAD / 1024
    rows = {
        "unbounded: peak backlog": u_peak,
        "bounded (200): peak backlog": b_peak,
        "unbounded: backlog memory": u_peak * kib,
        "bounded (200): backlog memory": b_peak * kib,
        "unbounded: p95 latency": u_p95 * 1e3,
        "unbounded: p99 latency": u_p99 * 1e3,
        "bounded (200): p95 latency": b_p95 * 1e3,
        "bounded (200): p99 latency": b_p99 * 1e3,
    }
    emit("002-backpressure", rows,
         notes=[f"CPython: queue.Queue, one 4 KiB message every 50 us, 200 us per message, "
                f"{ITEMS} messages"],
         facts={"unbounded_peak": u_peak, "bounded_peak": b_peak, "bound": BOUND,
                "unbounded_p99_ms": u_p99 * 1e3, "bounded_p99_ms": b_p99 * 1e3},
         series={"CPython unbounded": u_series, "CPython bounded": b_series})


if __name__ == "__main__":
    main()
