"""CPython twin of demo 001-spinners (seed 001, "Concurrency Models in Python"): a spinner animates
while slow() waits 3 s (0.3 s quick): a thread stopped by an Event, a process stopped by a
multiprocessing Event, a coroutine stopped by cancel(); then the critical mistake, time.sleep()
inside a coroutine, which freezes the spinner while asyncio's debug mode names the task that blocked
the loop.
"""

import asyncio
import itertools
import logging
import multiprocessing
import sys
import threading
import time

from labkit import QUICK, emit, say

SLOW = 0.3 if QUICK else 3.0
# Frames are drawn only on a terminal, as the C++ demo does, and always counted.
ANIMATE = sys.stderr.isatty()


class Spin:
    """Draws (on a terminal) and counts the spinner's frames; on stderr: stdout is the result."""

    def __init__(self):
        self.frames = 0
        self.chars = itertools.cycle(r"\|/-")

    def frame(self):
        if ANIMATE:
            print(f"\r{next(self.chars)} thinking!", end="", file=sys.stderr, flush=True)
        self.frames += 1

    def clear(self):
        if ANIMATE:
            print("\r           \r", end="", file=sys.stderr, flush=True)


# 1. Thread + Event (the seed's first version).
def spin_thread(spin, done):
    while True:
        spin.frame()
        if done.wait(0.1):  # the timeout is the frame rate
            break
    spin.clear()


def thread_spinner():
    done, spin = threading.Event(), Spin()
    spinner = threading.Thread(target=spin_thread, args=(spin, done))
    spinner.start()
    time.sleep(SLOW)  # slow(): blocks this thread only, and releases the GIL
    result = 42
    done.set()
    spinner.join()
    return result, spin.frames


# 2. Process + multiprocessing Event; the child reports its frame count through a shared int.
def spin_process(done, frames):
    spin = Spin()
    while True:
        spin.frame()
        frames.value = spin.frames
        if done.wait(0.1):
            break
    spin.clear()


def process_spinner():
    done, frames = multiprocessing.Event(), multiprocessing.Value("i", 0)
    spinner = multiprocessing.Process(target=spin_process, args=(done, frames), name="spinner")
    spinner.start()
    time.sleep(SLOW)  # slow() in the parent, the spinner in another process
    done.set()
    spinner.join()
    if spinner.exitcode != 0:
        raise RuntimeError("the spinner process failed")
    return 42, frames.value


# 3. Coroutine + cancel(), and 4. the same with a blocking sleep in slow().
async def spin_coro(spin):
    while True:
        spin.frame()
        try:
            await asyncio.sleep(0.1)
        except asyncio.CancelledError:
            break
    spin.clear()


async def slow_coro(blocking):
    if blocking:
        time.sleep(SLOW)  # WRONG: freezes the whole event loop
    else:
        await asyncio.sleep(SLOW)  # right: yields to the loop while waiting
    return 42


async def supervisor(spin, blocking):
    if blocking:
        # Debug mode reports any step slower than this (as the C++ demo's slow_callback_duration).
        asyncio.get_running_loop().slow_callback_duration = SLOW / 3
    spinner = asyncio.create_task(spin_coro(spin), name="spinner")
    await asyncio.sleep(0)  # let the spinner draw its first frame
    result = await asyncio.create_task(slow_coro(blocking), name="slow")
    spinner.cancel()
    await spinner
    return result


class Reports(logging.Handler):
    """Collects asyncio's debug-mode 'Executing <Task ...> took X seconds' warnings."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.lines = []

    def emit(self, record):
        line = record.getMessage()
        if line.startswith("Executing "):
            self.lines.append(line)


def main():
    frames, seconds, facts = {}, {}, {}
    t0 = time.perf_counter()
    answer, frames["thread"] = thread_spinner()
    seconds["thread"] = time.perf_counter() - t0
    say(f"Answer: {answer}")
    facts["thread_answer"] = answer

    t0 = time.perf_counter()
    answer, frames["process"] = process_spinner()
    seconds["process"] = time.perf_counter() - t0
    say(f"Answer: {answer}")
    facts["process_answer"] = answer

    spin = Spin()
    t0 = time.perf_counter()
    answer = asyncio.run(supervisor(spin, blocking=False))
    seconds["coro"], frames["coro"] = time.perf_counter() - t0, spin.frames
    say(f"Answer: {answer}")
    facts["coro_answer"] = answer

    # The mistake, under debug mode: capture asyncio's logger instead of letting it print.
    log, reports = logging.getLogger("asyncio"), Reports()
    log.addHandler(reports)
    propagate, log.propagate = log.propagate, False
    spin = Spin()
    try:
        t0 = time.perf_counter()
        answer = asyncio.run(supervisor(spin, blocking=True), debug=True)
        seconds["frozen"], frames["frozen"] = time.perf_counter() - t0, spin.frames
    finally:
        log.removeHandler(reports)
        log.propagate = propagate
    say(f"Answer: {answer}")
    facts["blocked_answer"] = answer

    rows = {
        "thread + Event: frames drawn": frames["thread"],
        "process + interprocess Event: frames drawn": frames["process"],
        "coroutine + cancel(): frames drawn": frames["coro"],
        "coroutine, blocking sleep: frames drawn": frames["frozen"],
        "debug-mode reports of the blocked loop": len(reports.lines),
    }
    row_notes = {
        "thread + Event: frames drawn": f"in {seconds['thread'] * 1000:.0f} ms",
        "process + interprocess Event: frames drawn": f"in {seconds['process'] * 1000:.0f} ms",
        "coroutine + cancel(): frames drawn": f"in {seconds['coro'] * 1000:.0f} ms",
        "coroutine, blocking sleep: frames drawn":
            f"the loop was frozen for {seconds['frozen'] * 1000:.0f} ms",
    }
    facts["debug_reports"] = len(reports.lines)
    facts["debug_names_slow"] = int(bool(reports.lines) and "name='slow'" in reports.lines[0])
    notes = [f"asyncio debug mode: {reports.lines[0]}"] if reports.lines else []
    emit("001-spinners", rows, row_notes=row_notes, notes=notes, facts=facts)


if __name__ == "__main__":
    main()
