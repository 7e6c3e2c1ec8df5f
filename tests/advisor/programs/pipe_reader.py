# Reads a pipe whose writer (a child process) sends a line every 0.2 s: it waits on the pipe, I/O-bound.
import subprocess

child = subprocess.Popen(
    ["/bin/sh", "-c", "for i in 1 2 3 4 5; do sleep 0.2; echo line $i; done"], stdout=subprocess.PIPE
)
lines = child.stdout.read().splitlines()
child.wait()
assert len(lines) == 5
