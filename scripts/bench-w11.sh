#!/usr/bin/env bash
# W11 (docs/bench.md): MpiPoolExecutor against mpi4py.futures.MPIPoolExecutor on the same 4 ranks of this
# machine (rank 0 + 3 workers), interleaved (spindle, mpi4py, spindle, ...) for ROUNDS rounds, over shared memory and over TCP on
# loopback, with raw MPI's floor for the payload (bench_w11_floor); prints each figure's median, the spindle/mpi4py ratio
# and, for the payload, spindle's share of the floor.
# Usage: scripts/bench-w11.sh [BUILD_DIR (build/release)] [ROUNDS (3)] [TASKS (20000)]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build/release}
rounds=${2:-3}
tasks=${3:-20000}
prog="$build/bench/bench_w11_mpi_pool"
floor="$build/bench/bench_w11_floor"  # raw MPI moving the payload's bytes: the most any MPI pool could reach
for p in "$prog" "$floor"; do
  [ -x "$p" ] || { echo "bench-w11: build $p first (cmake --build $build --target ${p##*/})" >&2; exit 1; }
done
/usr/bin/python3 -c "import mpi4py.futures" 2>/dev/null ||
  { echo "bench-w11: mpi4py is missing: apt install python3-mpi4py (scripts/install-deps.sh)" >&2; exit 1; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for transport in shm tcp; do
  if [ "$transport" = shm ]; then
    mca=(--mca btl self,vader --mca btl_vader_single_copy_mechanism none)
  else
    mca=(--mca btl self,tcp --mca btl_tcp_if_include lo)
  fi
  run=(timeout -k 5 600 mpirun --oversubscribe -np 4 "${mca[@]}")
  for ((r = 1; r <= rounds; r++)); do
    "${run[@]}" "$prog" "$tasks" 2>/dev/null | grep '^{' | sed "s/^{/{\"transport\": \"$transport\", /" >>"$out"
    "${run[@]}" /usr/bin/python3 -m mpi4py.futures bench/peers/python/w11_mpi4py.py "$tasks" 2>/dev/null |
      grep '^{' | sed "s/^{/{\"transport\": \"$transport\", /" >>"$out"
    "${run[@]}" "$floor" 2>/dev/null | grep '^{' | sed "s/^{/{\"transport\": \"$transport\", /" >>"$out"
  done
done
/usr/bin/python3 - "$out" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
def med(impl, transport, variant, key):
    vals = [r[key] for r in rows if r["impl"] == impl and r["transport"] == transport and r["variant"] == variant]
    return statistics.median(vals) if vals else None
rounds = sum(1 for r in rows if r["impl"] == "spindle" and r["variant"] == "submit") // 2
print(f"W11, {rows[0]['ranks']} worker ranks (mpirun -np 4); medians of {rounds} interleaved rounds")
print("floor: raw MPI sending the payload's 10 MiB straight from one buffer, summed where received (bench_w11_floor)")
print(f"{'transport':9} {'variant':9} {'unit':10} {'spindle':>12} {'mpi4py':>12} {'ratio':>8} {'floor':>10} {'spindle/floor':>14}")
for transport in ("shm", "tcp"):
    for variant, key, unit in (("submit", "per_s", "tasks/s"), ("map-c100", "per_s", "tasks/s"),
                               ("payload", "MiB_per_s", "MiB/s")):
        s, m = med("spindle", transport, variant, key), med("mpi4py", transport, variant, key)
        f = med("mpi-floor", transport, variant, key)
        tail = f"{f:10.0f} {s / f:13.2f}" if f else ""
        print(f"{transport:9} {variant:9} {unit:10} {s:12.0f} {m:12.0f} {s / m:7.1f}x {tail}")
PY
