"""CPython twin of demo 002-batch-vs-streaming (seed 002, section 5: "most real systems are
streaming systems pretending to be batch"). Items arrive one a millisecond; each needs 4 ms of
waiting work (a call to a service). Batch collects them all, then fans them out to 8 threads;
streaming hands each one, as it arrives, through a bounded queue (16) to 8 worker threads and on to
a sink. Same work; very different time to first result and items held.
"""

import queue
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from labkit import QUICK, emit

ITEMS = 100 if QUICK else 400
ARRIVE_EVERY, WORK, WORKERS, BOUND = 1e-3, 4e-3, 8, 16


def arrive(start, i):
    """Sleeps until item i arrives (start + i * 1 ms)."""
    delay = start + i * ARRIVE_EVERY - time.perf_counter()
    if delay > 0:
        time.sleep(delay)


def batch():
    """Gather everything, then fan out: (first result s, all results s, items held)."""
    start = time.perf_counter()
    items = []
    for i in range(ITEMS):
        arrive(start, i)
        items.append(i)
    held = len(items)
    first = []
    lock = threading.Lock()

    def work(_item):
        time.sleep(WORK)
        with lock:
            if not first:
                first.append(time.perf_counter() - start)

    with ThreadPoolExecutor(WORKERS) as pool:
        list(pool.map(work, items))
    return first[0], time.perf_counter() - start, held


def streaming():
    """Source -> bounded queue -> 8 workers -> bounded queue -> sink.

    Returns (first result s, all results s, peak items held, items done)."""
    start = time.perf_counter()
    inbox, outbox = queue.Queue(BOUND), queue.Queue(BOUND)
    peak = [0]

    def source():
        for i in range(ITEMS):
            arrive(start, i)
            inbox.put(i)  # blocks when 16 items wait: backpressure
            peak[0] = max(peak[0], inbox.qsize())
        for _ in range(WORKERS):
            inbox.put(None)  # one "done" per worker

    def worker():
        while (item := inbox.get()) is not None:
            time.sleep(WORK)
            outbox.put(item)
        outbox.put(None)

    threads = [threading.Thread(target=source)] + [threading.Thread(target=worker)
                                                    for _ in range(WORKERS)]
    for t in threads:
        t.start()
    first, done, finished = None, 0, 0
    while finished < WORKERS:  # the sink: sees each result as soon as it is ready
        if outbox.get() is None:
            finished += 1
            continue
        done += 1
        if first is None:
            first = time.perf_counter() - start
    total = time.perf_counter() - start
    for t in threads:
        t.join()
    return first, total, peak[0], done


def main():
    b_first, b_total, b_held = batch()
    s_first, s_total, s_held, s_done = streaming()
    if s_done != ITEMS:
        raise RuntimeError(f"streaming delivered {s_done} of {ITEMS} items")
    rows = {
        "batch: first result": b_first,
        "batch: all results": b_total,
        "batch: items held at once": b_held,
        "streaming: first result": s_first,
        "streaming: all results": s_total,
        "streaming: items held at once": s_held,
    }
    emit("002-batch-vs-streaming", rows,
         row_notes={"streaming: items held at once": "queue.Queue(16) between source and workers"},
         facts={"batch_first_s": b_first, "stream_first_s": s_first, "batch_peak": b_held,
                "stream_peak": s_held, "batch_total_s": b_total, "stream_total_s": s_total,
                "items": ITEMS, "stream_done": s_done})


if __name__ == "__main__":
    main()
