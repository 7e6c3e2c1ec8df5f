# Each step waits 10 ms, then computes about 10 ms, a hundred times over: waiting and computing interleaved
# finely (mixed, not in phases): threads overlap the waits.
import time

x = 0
for _ in range(60):
    time.sleep(0.01)
    end = time.perf_counter() + 0.01
    while time.perf_counter() < end:
        for i in range(200):
            x += i * i
