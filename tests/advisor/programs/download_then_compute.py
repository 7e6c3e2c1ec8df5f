# First a download (a 0.6 s wait), then the parse (0.6 s of computation): a run in two phases, which a hybrid
# pipeline would overlap.
import time

time.sleep(0.6)
end = time.perf_counter() + 0.6
x = 0
while time.perf_counter() < end:
    for i in range(1000):
        x += i * i
