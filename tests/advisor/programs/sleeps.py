# A program that only waits (time.sleep): I/O-bound in the seeds' sense (waiting, not computing).
import time

for _ in range(10):
    time.sleep(0.1)
