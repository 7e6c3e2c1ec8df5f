"""CPython twin of demo 002-hybrid-pipeline (seed 002: "Mixed pipeline -> Hybrid: async + threads +
processes; bounded queues between stages"). A slow local HTTP service (asyncio, in its own process,
on a port the kernel picks) answers each GET /record/<i> after 20 ms and counts each POST
/result/<i>/<score>. The hybrid run: fetch (asyncio, 32 at once) -> parse (2 threads) -> score (a
process pool, chunks of 4) -> write (asyncio, 16 at once), asyncio.Queue channels between the
stages, each stage's busy share measured as spindle's pipeline report does. The naive run: one
thread pool sized for the CPU work doing fetch + parse + score + write per record.

Scoring is cpu_task(15,000) per record: the C++ demo's 1,500,000 multiply-adds, divided by the ~100x
that CPython is slower, so that a record costs about as much CPU in both.
"""

import asyncio
import multiprocessing
import socket
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

from labkit import QUICK, cores, cpu_task, emit, timed

RECORDS = 120 if QUICK else 400
DELAY = 0.02  # the service's answer time per record
SCORE_WORK = 15_000  # the C++ demo's 1,500,000 / 100
CPU_WORKERS = max(2, cores())
CAPACITY = 1000  # spindle's default channel bound
DONE = None  # end of stream, passed down the channels


# The service: its own process and event loop, so that it never competes for the client's GIL.
def serve(port_out):
    async def main():
        results, quit_ = set(), asyncio.Event()

        async def handle(reader, writer):
            # Read the whole request: closing with unread bytes would reset the connection.
            line = (await reader.readuntil(b"\r\n\r\n")).decode().split("\r\n")[0]
            body = "ok"
            if line.startswith("GET /record/"):
                await asyncio.sleep(DELAY)  # the slow service
                body = f"id={int(line[12:].split()[0])}"
            elif line.startswith("POST /result/"):
                results.add(int(line[13:].split("/")[0]))
            elif line.startswith("GET /count"):
                body = str(len(results))
            elif line.startswith("GET /reset"):
                results.clear()
            elif line.startswith("GET /quit"):
                quit_.set()
            writer.write(f"HTTP/1.0 200 OK\r\nContent-Length: {len(body)}\r\n\r\n{body}".encode())
            await writer.drain()
            writer.close()
            await writer.wait_closed()

        server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=1024)
        port_out.send(server.sockets[0].getsockname()[1])
        await quit_.wait()
        server.close()
        await server.wait_closed()

    asyncio.run(main())


def request(port, text):
    """A blocking HTTP/1.0 exchange: the whole response."""
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(text.encode())
        chunks = []
        while chunk := s.recv(4096):
            chunks.append(chunk)
    return b"".join(chunks).decode()


def service_count(port):
    return int(request(port, "GET /count HTTP/1.0\r\n\r\n").split("\r\n\r\n", 1)[1])


# The stages' functions.
async def fetch_record(port, rid):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET /record/{rid} HTTP/1.0\r\n\r\n".encode())
    await writer.drain()
    resp = (await reader.read()).decode()  # until EOF: the service closes after its answer
    writer.close()
    await writer.wait_closed()
    return resp


def parse_record(resp):
    head, _, body = resp.partition("\r\n\r\n")
    if not head.startswith("HTTP/1.0 200") or not body.startswith("id="):
        raise RuntimeError("bad response")
    return int(body[3:])


def score_record(rid):
    """rid * 1000 + a score in [0, 1000): the sink can tell which record a result belongs to."""
    return rid * 1000 + cpu_task(SCORE_WORK + rid % 7) % 1000


def score_chunk(rids):
    return [score_record(r) for r in rids]


async def write_result(port, scored):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"POST /result/{scored // 1000}/{scored % 1000} HTTP/1.0\r\n\r\n".encode())
    await writer.drain()
    resp = (await reader.read()).decode()
    writer.close()
    await writer.wait_closed()
    if not resp.startswith("HTTP/1.0 200"):
        raise RuntimeError("write refused")


async def hybrid(port):
    """The pipeline: returns (seconds, {stage: busy share 0..1 as spindle computes it}, results)."""
    loop = asyncio.get_running_loop()
    start = time.perf_counter()
    # Start the worker processes now, before any thread exists (fork with live threads is unsafe);
    # their start-up stays inside the timing, as in the C++ pipeline (its process stage owns its
    # pool).
    procs = ProcessPoolExecutor(CPU_WORKERS)
    procs.submit(int).result()  # a no-op task: under fork, the first one launches every worker
    threads = ThreadPoolExecutor(2)
    names = ["source", "fetch (aio)", "parse (threads)", "score (processes)", "write (aio)"]
    conc = dict(zip(names, [1, 32, 2, CPU_WORKERS, 16]))
    busy = dict.fromkeys(names, 0.0)
    chans = [asyncio.Queue(CAPACITY) for _ in range(4)]
    written = []

    async def source():
        for rid in range(RECORDS):
            t0 = time.perf_counter()
            item = rid  # producing the item (a range: next to nothing)
            busy["source"] += time.perf_counter() - t0
            await chans[0].put(item)
        await chans[0].put(DONE)

    async def stage(name, workers, inq, outq, fn, chunk=1, self_timed=False):
        """`workers` coroutines applying `fn` (an awaitable of up to `chunk` items, a list of
        results) to what arrives on `inq`; DONE is passed on to siblings, then downstream. The
        stage's busy time is the time in `fn`, unless `fn` counts its own (`self_timed`)."""
        async def worker():
            while True:
                items = [await inq.get()]
                while len(items) < chunk and not inq.empty() and items[-1] is not DONE:
                    items.append(inq.get_nowait())
                finished = items[-1] is DONE
                items = [x for x in items if x is not DONE]
                if items:
                    t0 = time.perf_counter()
                    outs = await fn(items)
                    if not self_timed:
                        busy[name] += time.perf_counter() - t0
                    for out in outs:
                        if outq is not None:
                            await outq.put(out)
                if finished:
                    await inq.put(DONE)  # for the other workers of this stage
                    return

        await asyncio.gather(*(worker() for _ in range(workers)))
        if outq is not None:
            await outq.put(DONE)

    async def fetch(items):
        return [await fetch_record(port, items[0])]

    async def parse(items):
        # Timed on its thread, as spindle's thread stages do: not the hops to and from the loop.
        dt, rid = await loop.run_in_executor(threads, timed, parse_record, items[0])
        busy["parse (threads)"] += dt
        return [rid]

    async def score(items):  # a chunk of up to 4 records per task sent to a worker
        return await loop.run_in_executor(procs, score_chunk, items)

    async def write(items):
        written.append(items[0])
        await write_result(port, items[0])
        return []

    try:
        await asyncio.gather(
            source(),
            stage("fetch (aio)", 32, chans[0], chans[1], fetch),
            stage("parse (threads)", 2, chans[1], chans[2], parse, self_timed=True),
            # spindle keeps 4 chunks in flight per worker, so that a worker never waits for the next
            stage("score (processes)", 4 * CPU_WORKERS, chans[2], chans[3], score, chunk=4),
            stage("write (aio)", 16, chans[3], None, write))
    finally:
        threads.shutdown()
        procs.shutdown()
    elapsed = time.perf_counter() - start
    shares = {n: min(1.0, busy[n] / (elapsed * conc[n])) for n in names}
    return elapsed, shares, len(written)


def naive(port):
    """One thread pool sized for the CPU work, doing everything for a record in one task."""
    def one(rid):
        resp = request(port, f"GET /record/{rid} HTTP/1.0\r\n\r\n")
        scored = score_record(parse_record(resp))  # in a thread: holds the GIL
        ack = request(port, f"POST /result/{scored // 1000}/{scored % 1000} HTTP/1.0\r\n\r\n")
        return ack.startswith("HTTP/1.0 200")

    with ThreadPoolExecutor(CPU_WORKERS) as pool:
        return sum(pool.map(one, range(RECORDS)))


def main():
    port_in, port_out = multiprocessing.Pipe(duplex=False)
    service = multiprocessing.Process(target=serve, args=(port_out,), name="record-service")
    service.start()
    try:
        if not port_in.poll(10):
            raise RuntimeError("the record service did not start")
        port = port_in.recv()
        hybrid_s, shares, hybrid_written = asyncio.run(hybrid(port))
        hybrid_results = service_count(port)
        request(port, "GET /reset HTTP/1.0\r\n\r\n")
        naive_s, naive_ok = timed(naive, port)
        naive_results = service_count(port)
    finally:
        if service.is_alive():
            try:
                request(port, "GET /quit HTTP/1.0\r\n\r\n")
            except (OSError, NameError):
                service.terminate()
        service.join(10)
        if service.is_alive():
            service.kill()
            service.join()
    if hybrid_results != RECORDS or naive_results != RECORDS:
        raise RuntimeError(f"results received: hybrid {hybrid_results}, naive {naive_results}, "
                           f"of {RECORDS}")

    rows = {"hybrid pipeline: all records": hybrid_s,
            f"naive: one thread pool of {CPU_WORKERS}": naive_s}
    rows.update({f"busy: {name}": 100 * share for name, share in shares.items()})
    bottleneck = max(shares, key=shares.get)  # spindle's rule once the channels have drained
    emit("002-hybrid-pipeline", rows,
         row_notes={f"busy: {bottleneck}": "the bottleneck",
                    "hybrid pipeline: all records":
                        f"asyncio x32 -> threads x2 -> processes x{CPU_WORKERS} -> asyncio x16"},
         notes=[f"CPython: {RECORDS} records, score = cpu_task({SCORE_WORK:,}) per record "
                "(C++: 100x the work); the service runs in its own process"],
         facts={"records": RECORDS, "hybrid_s": hybrid_s, "naive_s": naive_s,
                "hybrid_written": hybrid_written, "hybrid_results": hybrid_results,
                "naive_ok": naive_ok, "naive_results": naive_results})


if __name__ == "__main__":
    main()
