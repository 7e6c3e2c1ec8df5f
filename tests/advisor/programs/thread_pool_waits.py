# A thread pool whose tasks wait (time.sleep stands in for a blocking download): I/O-bound, threads.
import time
from concurrent.futures import ThreadPoolExecutor


def fetch(i):
    time.sleep(0.1)
    return i


with ThreadPoolExecutor(max_workers=8) as pool:
    assert sum(pool.map(fetch, range(80))) == sum(range(80))
