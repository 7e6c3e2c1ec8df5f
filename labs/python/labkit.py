"""Helpers shared by the lab's CPython twins (labs/python/s*.py).

Each twin runs the same workload as its C++ demo (labs/s*.cpp) in real CPython, and prints ONE JSON
object on stdout; everything a demo shows on its own (spinners, "Answer: 42") goes to stderr.
`spindle lab` runs the twin with this interpreter and puts each figure in the "CPython here" column
of the row of the same name.

Protocol (read by src/lab/python.cpp):
    python3 labs/python/s002_io_wait.py [--quick]
    stdout: {"demo": "002-io-wait", "python": "3.11.2",
             "rows": {"<variant, as the C++ row names it>": <number, or null: no such variant>},
             "row_notes": {"<variant>": "why it is null, or a remark"},
             "notes": ["a line printed under the table"], "facts": {"name": number},
             "series": {"<line name>": [[x, y], ...]}}   (optional: a line for the demo's chart)
"""

import json
import os
import platform
import random
import sys
import time

QUICK = "--quick" in sys.argv[1:]


def cpu_task(n=2_000_000):
    """The seeds' cpu_task: total += i * i for i < n (pure Python, holds the GIL)."""
    total = 0
    for i in range(n):
        total += i * i
    return total


def timed(fn, *args, **kwargs):
    """(seconds, result) of fn(*args, **kwargs) on the monotonic clock."""
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return time.perf_counter() - start, result


def cores():
    """Cores this process may use (as the C++ demos' cores())."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def process_cpu_s():
    """User + system CPU time of this process (all its threads), in seconds."""
    return time.process_time()


def mt19937(seed):
    """A random.Random in the state of C++'s std::mt19937(seed), seeded the same way, so that a twin draws
    the same random delays as its demo."""
    mt = [seed & 0xFFFFFFFF]
    for i in range(1, 624):
        mt.append((1812433253 * (mt[-1] ^ (mt[-1] >> 30)) + i) & 0xFFFFFFFF)
    rng = random.Random()
    rng.setstate((3, tuple(mt) + (624,), None))
    return rng


def say(*args):
    """A demo's own output: to stderr, so stdout stays one JSON object."""
    print(*args, file=sys.stderr, flush=True)


def emit(demo, rows, row_notes=None, notes=None, facts=None, series=None):
    """Prints the twin's result as the one JSON object on stdout."""
    out = {
        "demo": demo,
        "python": platform.python_version(),
        "rows": {k: (None if v is None else float(v)) for k, v in rows.items()},
        "row_notes": row_notes or {},
        "notes": notes or [],
        "facts": {k: float(v) for k, v in (facts or {}).items()},
        "series": {k: [[float(x), float(y)] for x, y in pts] for k, pts in (series or {}).items()},
    }
    sys.stdout.write(json.dumps(out) + "\n")
    sys.stdout.flush()
