"""CPython twin of demo 003-futures (seed 003, section 3: the futures abstraction).

submit() returns a Future; results are handled in one place, in submission order (result()) or in
completion order (as_completed). Then the abstraction's own cost: submit + result per tiny task.
"""

import time
from concurrent.futures import ThreadPoolExecutor, as_completed

from labkit import QUICK, emit, say, timed


def send(msg):
    return f"{msg} sent"


def wait_ms(ms):
    time.sleep(ms / 1000)
    return ms, time.perf_counter()  # when it finished, to check the order as_completed yields


def main():
    with ThreadPoolExecutor() as pool:
        answered = 0
        for f in [pool.submit(send, "email"), pool.submit(send, "sms")]:
            say(" ", f.result())
            answered += 1
        # Completion order: three waits of different lengths come back shortest first (on a loaded
        # machine a late-starting 20 ms wait may finish after the 40 ms one: checked by its stamp).
        waits = [pool.submit(wait_ms, ms) for ms in (60, 20, 40)]
        order = [f.result() for f in as_completed(waits)]
        first = order[0][0]
        first_is_earliest = first == min(order, key=lambda r: r[1])[0]
        n = 10_000 if QUICK else 100_000

        def tiny_tasks():
            fs = [pool.submit(int, i) for i in range(n)]  # int(i) is i: a task that does nothing
            return sum(f.result() for f in fs)

        seconds, total = timed(tiny_tasks)
    if total != n * (n - 1) // 2:
        raise SystemExit("wrong sum of futures")
    per_us = seconds / n * 1e6
    rows = {"futures answered (email, sms)": answered,
            "as_completed: first of 60/20/40 ms": first,
            "submit + result per tiny task": per_us}
    row_notes = {"as_completed: first of 60/20/40 ms":
                 "order: " + " ".join(str(ms) for ms, _ in order)}
    facts = {"answered": answered, "first_completed_ms": first,
             "first_completed_finished_first": 1 if first_is_earliest else 0,
             "per_future_us": per_us}
    emit("003-futures", rows, row_notes=row_notes, facts=facts)


if __name__ == "__main__":
    main()
