"""CPython twin of demo 004-memory (seed 004: threads share memory, processes are isolated).

A thread and a child process (multiprocessing, fork context) each add 1000 to a global counter; the
parent sees the thread's updates and none of the child's: it works on its own copy of everything.
"""

import multiprocessing
import threading

from labkit import emit

counter = 0  # deliberately a global: the shared state in question


def add_1000():
    global counter
    for _ in range(1000):
        counter += 1


def child(conn):
    add_1000()
    conn.send(counter)  # the only way back to the parent: a pipe
    conn.close()


def main():
    t = threading.Thread(target=add_1000)
    t.start()
    t.join()  # joined before the parent reads: no race
    after_thread = counter
    # fork, as the C++ demo: the child starts with a copy of the counter as it was then (1000).
    ctx = multiprocessing.get_context("fork")
    receiver, sender = ctx.Pipe(duplex=False)
    p = ctx.Process(target=child, args=(sender,))
    p.start()
    sender.close()
    child_saw = receiver.recv()
    receiver.close()
    p.join()
    if p.exitcode != 0:
        raise SystemExit(f"the child exited with {p.exitcode}")
    after_process = counter
    rows = {"counter after a thread added 1000": after_thread,
            "the child's own counter after it added 1000": child_saw,
            "parent's counter after the child added 1000": after_process}
    row_notes = {"the child's own counter after it added 1000":
                 "multiprocessing.Process, fork context"}
    facts = {"after_thread": after_thread, "child_saw": child_saw, "after_process": after_process}
    emit("004-memory", rows, row_notes=row_notes, facts=facts)


if __name__ == "__main__":
    main()
