# A program that forks worker processes (multiprocessing.Pool of 2) that compute: CPU-bound, already on
# processes.
import multiprocessing
import time


def work(_):
    end = time.perf_counter() + 0.8
    x = 0
    while time.perf_counter() < end:
        for i in range(1000):
            x += i * i
    return 1


if __name__ == "__main__":
    with multiprocessing.Pool(2) as pool:
        assert sum(pool.map(work, range(2))) == 2
