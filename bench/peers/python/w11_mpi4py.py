"""W11's peer: mpi4py.futures.MPIPoolExecutor (Debian python3-mpi4py) on the same ranks as spindle's
bench/mpi/w11_mpi_pool.cpp, the same work and the same JSON line. Run by scripts/bench-w11.sh as
`mpirun -np 5 python3 -m mpi4py.futures w11_mpi4py.py [TASKS]` (rank 0 runs this, ranks 1-4 serve)."""

import json
import sys
import time

from mpi4py import MPI
from mpi4py.futures import MPIPoolExecutor


def tiny(x):
    return x + 1


def echo(payload):
    return payload


def main():
    tasks = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    trips = 5
    with MPIPoolExecutor() as pool:
        list(pool.map(tiny, range(1000), chunksize=10))  # warm-up: every worker up
        t0 = time.perf_counter()
        futures = [pool.submit(tiny, i) for i in range(tasks)]
        total = sum(f.result() for f in futures)
        submit_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        mapped = sum(pool.map(tiny, range(tasks), chunksize=100))
        map_s = time.perf_counter() - t0
        payload = bytes(10 * 1024 * 1024)  # 10 MiB: pickled as one buffer, mpi4py's best case
        pool.submit(echo, payload).result()
        t0 = time.perf_counter()
        for _ in range(trips):
            assert len(pool.submit(echo, payload).result()) == len(payload)
        trip_s = (time.perf_counter() - t0) / trips
        workers = MPI.COMM_WORLD.Get_size() - 1
    expected = tasks * (tasks + 1) // 2
    assert total == expected and mapped == expected
    print(json.dumps({"impl": "mpi4py", "ranks": workers, "tasks": tasks,
                      "submit_tasks_s": round(tasks / submit_s, 1),
                      "map_tasks_s": round(tasks / map_s, 1),
                      "roundtrip_mib_s": round(10 / trip_s, 1)}))


if __name__ == "__main__":
    main()
