# Four threads computing in pure Python: the GIL lets one run at a time (lock-capped): processes would help.
import threading
import time


def work():
    end = time.perf_counter() + 0.8
    x = 0
    while time.perf_counter() < end:
        for i in range(1000):
            x += i * i


threads = [threading.Thread(target=work) for _ in range(4)]
for t in threads:
    t.start()
for t in threads:
    t.join()
