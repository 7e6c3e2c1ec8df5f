// W11 (docs/bench.md): MpiPoolExecutor over 4 ranks of one machine (rank 0 + 3 workers), run by
// scripts/bench-w11.sh under `mpirun -np 4` beside mpi4py.futures.MPIPoolExecutor on the same ranks:
//   submit    20,000 tasks x + 1, a future each
//   map-c100  the same through map(chunksize=100)
//   payload   20 tasks, each handed 10 MiB (the bytes 0..255 repeated), returning the sum of its 64-bit words
// Prints one JSON line per variant on rank 0. Each worker rank runs one local worker process, as mpi4py runs
// one worker per rank. Usage: mpirun -np 4 bench_w11_mpi_pool [TASKS] [DEPTH (0: adaptive)]

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <numeric>
#include <string>
#include <vector>

#include "spindle/mpi.hpp"

namespace {

long tiny(long x) { return x + 1; }

std::uint64_t word_sum(std::vector<std::uint64_t> words) {
  std::uint64_t sum = 0;
  for (auto w : words) sum += w;
  return sum;
}

double since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void line(const char* variant, std::size_t ranks, long tasks, double seconds, const std::string& extra) {
  std::printf("{\"impl\": \"spindle\", \"variant\": \"%s\", \"ranks\": %zu, \"tasks\": %ld, \"seconds\": %.6f%s}\n",
              variant, ranks, tasks, seconds, extra.c_str());
}

std::string rate(long tasks, double seconds) {
  char buf[96];
  std::snprintf(buf, sizeof buf, ", \"per_s\": %.1f, \"us_per_task\": %.3f", tasks / seconds, seconds * 1e6 / tasks);
  return buf;
}

}  // namespace

int main(int argc, char** argv) {
  const std::size_t depth = argc > 2 ? std::strtoul(argv[2], nullptr, 10) : 0;
  auto session = spindle::mpi::init(argc, argv, {.local_workers = 1, .inflight_per_rank = depth});
  const long tasks = argc > 1 ? std::atol(argv[1]) : 20'000;
  spindle::mpi::MpiPoolExecutor pool;
  std::vector<long> xs(static_cast<std::size_t>(tasks));
  std::iota(xs.begin(), xs.end(), 0L);
  pool.map<&tiny>(std::vector<long>(xs.begin(), xs.begin() + 1000), {.chunksize = 10});  // warm-up

  auto t0 = std::chrono::steady_clock::now();
  std::vector<spindle::Future<long>> fs;
  fs.reserve(xs.size());
  for (long x : xs) fs.push_back(pool.submit<&tiny>(x));
  long sum = 0;
  for (auto& f : fs) sum += f.result();
  const double submit_s = since(t0);

  t0 = std::chrono::steady_clock::now();
  const auto mapped = pool.map<&tiny>(xs, {.chunksize = 100});
  const double map_s = since(t0);

  const int payloads = 20;
  std::vector<std::uint64_t> words(10 * 1024 * 1024 / 8);
  for (std::size_t i = 0; i < words.size() * 8; ++i) reinterpret_cast<unsigned char*>(words.data())[i] = i & 0xff;
  const std::uint64_t expected_sum = word_sum(words);
  t0 = std::chrono::steady_clock::now();
  std::vector<spindle::Future<std::uint64_t>> ps;
  for (int i = 0; i < payloads; ++i) ps.push_back(pool.submit<&word_sum>(words));
  for (auto& p : ps) {
    if (p.result() != expected_sum) return 1;
  }
  const double payload_s = since(t0);

  const long expected = tasks * (tasks + 1) / 2;
  if (sum != expected || std::accumulate(mapped.begin(), mapped.end(), 0L) != expected) return 1;
  const std::size_t ranks = pool.max_workers();
  line("submit", ranks, tasks, submit_s, rate(tasks, submit_s));
  line("map-c100", ranks, tasks, map_s, rate(tasks, map_s));
  char mib[64];
  std::snprintf(mib, sizeof mib, ", \"MiB_per_s\": %.1f", payloads * 10.0 / payload_s);
  line("payload", ranks, payloads, payload_s, mib);
  return 0;
}
