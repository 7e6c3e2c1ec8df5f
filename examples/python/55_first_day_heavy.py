# The seed's heavy(n) on a process pool (the C++ twin: examples/55_first_day_heavy.cpp).
import math
from concurrent.futures import ProcessPoolExecutor


def heavy(n):
    return sum(math.sqrt(i) for i in range(n))


if __name__ == "__main__":
    with ProcessPoolExecutor() as pool:
        results = pool.map(heavy, [1_000_000] * 4)
        print(list(results))
