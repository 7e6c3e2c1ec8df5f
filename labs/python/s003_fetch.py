"""CPython twin of demo 003-fetch (seed 003, exercise 2: hundreds of URLs, not hundreds of threads).

A slow local HTTP server (127.0.0.1, a port the kernel picks) answers each GET 100 ms after reading
it. We fetch 100 URLs (500 in full mode): serially (a slice), on 20 threads, on one thread per URL,
and with asyncio on one thread; and we measure the memory each concurrent request costs. The server
runs in a child process, so that it does not share our GIL nor our memory figures.
"""

import asyncio
import math
import multiprocessing
import resource
import socket
import threading
from concurrent.futures import ThreadPoolExecutor

from labkit import QUICK, emit, say, timed

DELAY_S = 0.1
REPLY = b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok"
PAGE_KIB = resource.getpagesize() // 1024


def memory_kib():
    """(resident, virtual) size of this process now, in KiB."""
    with open("/proc/self/statm") as f:
        vm, rss = f.read().split()[:2]
    return int(rss) * PAGE_KIB, int(vm) * PAGE_KIB


def serve(listener):
    """The server process: each connection's request is answered DELAY_S after it was read."""
    async def answer(reader, writer):
        try:
            await reader.read(1024)
            await asyncio.sleep(DELAY_S)  # the "network latency"
            writer.write(REPLY)
            await writer.drain()
        finally:
            writer.close()

    async def serve_forever():
        server = await asyncio.start_server(answer, sock=listener, backlog=1024)
        await server.serve_forever()

    asyncio.run(serve_forever())


def fetch(port, i):
    """A blocking GET of /item/<i>; True if the answer was a 200."""
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(f"GET /item/{i} HTTP/1.0\r\n\r\n".encode())
        resp = b""
        while chunk := s.recv(256):
            resp += chunk
    return resp.startswith(b"HTTP/1.0 200")


async def fetch_async(port, i, progress):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET /item/{i} HTTP/1.0\r\n\r\n".encode())
    await writer.drain()
    progress["sent"] += 1
    if progress["sent"] == progress["urls"]:  # all in flight: the server holds each for 100 ms
        progress["rss"] = memory_kib()[0]
    resp = await reader.read()  # until EOF: the server closes after its reply
    writer.close()
    await writer.wait_closed()
    return resp.startswith(b"HTTP/1.0 200")


async def fetch_all_async(port, urls):
    """(requests answered 200, resident KiB when all were in flight). The C++ demo samples at 60 ms;
    CPython may take longer than that to open them all, so we sample when the last one is sent."""
    progress = {"urls": urls, "sent": 0, "rss": 0}
    ok = await asyncio.gather(*(fetch_async(port, i, progress) for i in range(urls)))
    return sum(ok), progress["rss"]


def on_threads(port, urls, threads):
    """(seconds, ok, resident KiB, virtual KiB, threads): what memory grew by when the last request
    started, and how many pool threads then held the requests (CPython starts threads so slowly that
    early ones may finish and take later requests before the pool has grown to `threads`)."""
    rss0, vm0 = memory_kib()
    alive0 = threading.active_count()
    lock, started, peak = threading.Lock(), [0], [rss0, vm0, 0]

    def one(i):
        with lock:
            started[0] += 1
            if started[0] == min(urls, threads):
                peak[:] = [*memory_kib(), threading.active_count() - alive0]
        return fetch(port, i)

    def run():
        with ThreadPoolExecutor(max_workers=threads) as pool:
            return sum(pool.map(one, range(urls)))

    seconds, ok = timed(run)
    return seconds, ok, max(0, peak[0] - rss0), max(0, peak[1] - vm0), max(1, peak[2])


def main():
    # Each request in flight holds two descriptors (ours and the server's): raise the soft limit.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        soft = hard if hard != resource.RLIM_INFINITY else max(soft, 100_000)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    fit = ((100_000 if soft == resource.RLIM_INFINITY else min(soft, 100_000)) - 128) // 2
    urls = min(100 if QUICK else 500, fit)
    serial_urls = 5 if QUICK else 20  # serial would take urls x 0.1 s: a slice of it is measured

    listener = socket.create_server(("127.0.0.1", 0), backlog=1024)
    port = listener.getsockname()[1]
    server = multiprocessing.get_context("fork").Process(target=serve, args=(listener,),
                                                         daemon=True)
    server.start()
    listener.close()  # the child has its own copy
    try:
        serial_s, serial_ok = timed(lambda: sum(fetch(port, i) for i in range(serial_urls)))
        t20 = on_threads(port, urls, 20)
        tall = on_threads(port, urls, urls)
        rss0, _ = memory_kib()
        async_s, (async_ok, async_peak) = timed(asyncio.run, fetch_all_async(port, urls))
        async_rss = max(0, async_peak - rss0)
    finally:
        server.terminate()
        server.join()
    if serial_ok != serial_urls or t20[1] != urls or tall[1] != urls or async_ok != urls:
        raise SystemExit(f"failed requests: serial {serial_ok}/{serial_urls}, 20 threads "
                         f"{t20[1]}, {urls} threads {tall[1]}, async {async_ok} of {urls}")
    say(f"  {urls} URLs: 20 threads {t20[0]:.3f} s, {urls} threads {tall[0]:.3f} s "
        f"({tall[4]} started), async {async_s:.3f} s")
    # Memory per request: divided by the threads that held requests at the sample, not by `urls`.
    rows = {
        f"serial (first {serial_urls} URLs only)": serial_s,
        "20 threads": t20[0],
        f"{urls} threads": tall[0],
        f"async ({urls} tasks, one thread)": async_s,
        f"{urls} threads: resident memory per request": tall[2] / tall[4],
        f"{urls} threads: address space per request": tall[3] / tall[4],
        "async: resident memory per request": async_rss / urls,
    }
    row_notes = {}
    if tall[4] < urls:
        row_notes[f"{urls} threads"] = (f"only {tall[4]} threads had started when the last request "
                                        "did: finished ones took the rest")
    facts = {"urls": urls, "ok_serial": serial_ok, "ok_20": t20[1], "ok_all": tall[1],
             "ok_async": async_ok, "serial_per_url_s": serial_s / serial_urls,
             "threads20_s": t20[0], "threads_all_s": tall[0], "async_s": async_s,
             "threads_at_peak": tall[4], "rss_kib_per_request": tall[2] / tall[4],
             "vm_kib_per_request": tall[3] / tall[4], "async_rss_kib_per_request": async_rss / urls}
    notes = [f"all {urls} serially would take ~{math.floor(serial_s / serial_urls * urls)} s; "
             "the server is a child process (asyncio), answering each GET after 100 ms"]
    emit("003-fetch", rows, row_notes=row_notes, notes=notes, facts=facts)


if __name__ == "__main__":
    main()
