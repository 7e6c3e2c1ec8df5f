// W11 (docs/bench.md): MpiPoolExecutor over the ranks of one machine. Run by scripts/bench-w11.sh under
// `mpirun -np 5` (rank 0 + 4 worker ranks), beside mpi4py.futures.MPIPoolExecutor on the same ranks:
//   W11a  20,000 tiny tasks: tasks/s with submit (a future each) and with map(chunksize=100)
//   W11b  a 10 MiB argument sent to a rank and returned: MiB/s of payload per round trip
// Prints one JSON line on rank 0. Each worker rank runs one local worker process, as mpi4py runs one worker
// per rank.

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <numeric>
#include <string>
#include <vector>

#include "spindle/mpi.hpp"

namespace {

long tiny(long x) { return x + 1; }
std::vector<double> echo(std::vector<double> v) { return v; }

double since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  const std::size_t depth = argc > 2 ? std::strtoul(argv[2], nullptr, 10) : 0;  // 0: the default
  auto session = spindle::mpi::init(argc, argv, {.local_workers = 1, .inflight_per_rank = depth});
  const long tasks = argc > 1 ? std::atol(argv[1]) : 20'000;
  const int trips = 5;
  spindle::mpi::MpiPoolExecutor pool;
  {  // warm-up: every rank's worker started, the code paths touched
    std::vector<long> xs(1000);
    std::iota(xs.begin(), xs.end(), 0L);
    pool.map<&tiny>(xs, {.chunksize = 10});
  }
  auto t0 = std::chrono::steady_clock::now();
  std::vector<spindle::Future<long>> fs;
  fs.reserve(static_cast<std::size_t>(tasks));
  for (long i = 0; i < tasks; ++i) fs.push_back(pool.submit<&tiny>(i));
  long sum = 0;
  for (auto& f : fs) sum += f.result();
  const double submit_s = since(t0);

  std::vector<long> xs(static_cast<std::size_t>(tasks));
  std::iota(xs.begin(), xs.end(), 0L);
  t0 = std::chrono::steady_clock::now();
  const auto mapped = pool.map<&tiny>(xs, {.chunksize = 100});
  const double map_s = since(t0);

  std::vector<double> payload(10 * 1024 * 1024 / sizeof(double), 1.5);
  pool.submit<&echo>(payload).result();  // warm-up
  t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < trips; ++i) {
    if (pool.submit<&echo>(payload).result().size() != payload.size()) return 1;
  }
  const double trip_s = since(t0) / trips;
  const long expected = tasks * (tasks + 1) / 2;
  if (sum != expected || std::accumulate(mapped.begin(), mapped.end(), 0L) != expected) return 1;
  std::printf("{\"impl\": \"spindle\", \"ranks\": %zu, \"tasks\": %ld, \"submit_tasks_s\": %.1f, "
              "\"map_tasks_s\": %.1f, \"roundtrip_mib_s\": %.1f}\n",
              pool.max_workers(), tasks, tasks / submit_s, tasks / map_s, 10.0 / trip_s);
  return 0;
}
