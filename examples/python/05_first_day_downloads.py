# 50 downloads on a thread pool, then the same with asyncio.gather (the C++ twin: examples/05_first_day_downloads.cpp).
import asyncio
import time
from concurrent.futures import ThreadPoolExecutor


def download(i):
    time.sleep(0.1)  # a network call's wait
    return i


async def adownload(i):
    await asyncio.sleep(0.1)
    return i


async def main():
    return await asyncio.gather(*(adownload(i) for i in range(50)))


with ThreadPoolExecutor(max_workers=50) as pool:
    print(sum(pool.map(download, range(50))))
print(sum(asyncio.run(main())))
