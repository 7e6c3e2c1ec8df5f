# One Python thread computing for about a second: CPU-bound; processes would use the other cores.
import time

end = time.perf_counter() + 1.0
x = 0
while time.perf_counter() < end:
    for i in range(1000):
        x += i * i
