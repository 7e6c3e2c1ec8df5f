# Two threads hashing with hashlib: CPython releases the GIL while it hashes a large buffer, so the threads run
# in parallel. The advisor must say "threads already scale here", not "use processes".
import hashlib
import threading
import time

DATA = bytes(range(256)) * 4096 * 4  # 4 MiB


def work(seconds):
    end = time.monotonic() + seconds
    h = hashlib.sha256()
    while time.monotonic() < end:
        h.update(DATA)


threads = [threading.Thread(target=work, args=(1.0,)) for _ in range(2)]
for t in threads:
    t.start()
for t in threads:
    t.join()
