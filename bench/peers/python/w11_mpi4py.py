"""W11's peer: mpi4py.futures.MPIPoolExecutor (Debian python3-mpi4py) on the same ranks as spindle's
bench/mpi/w11_mpi_pool.cpp, the same work, the same JSON lines. Run by scripts/bench-w11.sh as
`mpirun -np 4 python3 -m mpi4py.futures w11_mpi4py.py [TASKS]` (rank 0 runs this, ranks 1-3 serve)."""

import json
import sys
import time

from mpi4py import MPI
from mpi4py.futures import MPIPoolExecutor


def tiny(x):
    return x + 1


def word_sum(payload):
    return sum(memoryview(payload).cast("Q")) % 2**64


def line(variant, ranks, tasks, seconds, **extra):
    print(json.dumps({"impl": "mpi4py", "variant": variant, "ranks": ranks, "tasks": tasks,
                      "seconds": round(seconds, 6), **extra}))


def main():
    tasks = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    ranks = MPI.COMM_WORLD.Get_size() - 1
    with MPIPoolExecutor() as pool:
        list(pool.map(tiny, range(1000), chunksize=10))  # warm-up: every worker up
        t0 = time.perf_counter()
        futures = [pool.submit(tiny, i) for i in range(tasks)]
        total = sum(f.result() for f in futures)
        submit_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        mapped = sum(pool.map(tiny, range(tasks), chunksize=100))
        map_s = time.perf_counter() - t0
        payload = bytes(range(256)) * (10 * 1024 * 1024 // 256)  # 10 MiB, one buffer when pickled
        expected_sum = word_sum(payload)
        t0 = time.perf_counter()
        sums = [f.result() for f in [pool.submit(word_sum, payload) for _ in range(20)]]
        payload_s = time.perf_counter() - t0
    expected = tasks * (tasks + 1) // 2
    assert total == expected and mapped == expected and all(s == expected_sum for s in sums)
    for variant, seconds in (("submit", submit_s), ("map-c100", map_s)):
        line(variant, ranks, tasks, seconds, per_s=round(tasks / seconds, 1),
             us_per_task=round(seconds * 1e6 / tasks, 3))
    line("payload", ranks, 20, payload_s, MiB_per_s=round(200 / payload_s, 1))


if __name__ == "__main__":
    main()
