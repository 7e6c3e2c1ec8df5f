"""CPython twin of demo 003-shared-progress (seed 003, exercise 1: shared progress under a Lock).

Ten downloads on threads update a shared progress counter under a Lock (the seed's code). Beside it,
four threads hammer `counter += 1` on a global without a lock, then with one: are updates lost?
"""

import threading
import time

from labkit import QUICK, emit, mt19937, say, timed

FILES = 10
THREADS = 4
INCREMENTS = 200_000 if QUICK else 1_000_000

progress = 0
counter = 0


def uniform_real(rng, a, b):
    """libstdc++'s uniform_real_distribution(a, b): generate_canonical from two 32-bit draws."""
    low, high = rng.getrandbits(32), rng.getrandbits(32)
    return a + (b - a) * min((low + high * 2.0**32) / 2.0**64, 1.0 - 2.0**-53)


def downloads(delays):
    lock = threading.Lock()
    seen = []

    def download(file_id):
        global progress
        time.sleep(delays[file_id])
        with lock:
            progress += 1
            seen.append(progress)
            say("  Downloaded", file_id, "progress:", progress)

    threads = [threading.Thread(target=download, args=(i,)) for i in range(FILES)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return seen == list(range(1, FILES + 1))


def hammer(add):
    """THREADS threads, started together, each call add() INCREMENTS times."""
    barrier = threading.Barrier(THREADS)

    def work():
        barrier.wait()  # start together, so that the increments really interleave
        for _ in range(INCREMENTS):
            add()

    threads = [threading.Thread(target=work) for _ in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def add_racy():
    global counter
    counter += 1  # read, add, write: three bytecodes, no lock


def main():
    global counter
    # The C++ demo's delays: std::mt19937(file_id), 0.1-0.5 s (a tenth with --quick). Drawn before
    # the threads start: seeding a Python MT19937 takes ~0.3 ms, enough to reorder quick downloads.
    scale = 0.1 if QUICK else 1.0
    delays = [uniform_real(mt19937(i), 0.1 * scale, 0.5 * scale) for i in range(FILES)]
    elapsed, in_order = timed(downloads, delays)
    counter = 0
    hammer(add_racy)
    racy = counter
    counter = 0
    lock = threading.Lock()

    def add_locked():
        global counter
        with lock:
            counter += 1

    hammer(add_locked)
    locked = counter
    expected = THREADS * INCREMENTS
    if locked != expected:
        raise SystemExit(f"the locked counter is {locked}, not {expected}")
    rows = {"10 downloads on threads, progress under a Lock": progress,
            "counter += 1 without a lock (4 threads)": racy,
            "counter += 1 under a Lock (4 threads)": locked}
    row_notes = {"10 downloads on threads, progress under a Lock": f"in {elapsed * 1000:.0f} ms"}
    if racy == expected:
        # Python promises nothing here; CPython 3.10+ happens to hand the GIL over only at calls and
        # loop back-edges, never between the read and the write of `counter += 1` on an int.
        row_notes["counter += 1 without a lock (4 threads)"] = (
            "no update lost: the GIL is handed over at calls and loop ends, not inside +=")
    else:
        row_notes["counter += 1 without a lock (4 threads)"] = f"lost {expected - racy} updates"
    facts = {"progress": progress, "progress_in_order": 1 if in_order else 0, "expected": expected,
             "racy": racy, "locked": locked, "download_s": elapsed}
    emit("003-shared-progress", rows, row_notes=row_notes, facts=facts)


if __name__ == "__main__":
    main()
