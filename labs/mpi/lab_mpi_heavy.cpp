// The MPI row of the lab's 003-process-speedup: heavy(n) (sum of sqrt(i), i < n) TASKS times over the worker
// ranks of an MPI job, one local worker process per rank. `spindle lab` runs it under mpirun and reads what it
// prints on rank 0: the seconds from the first submit to the last result (the job's start-up excluded) and
// the number of worker ranks.
// Usage: mpirun -np RANKS lab_mpi_heavy N TASKS

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "spindle/mpi.hpp"

namespace {

double heavy(std::uint64_t n) {
  double total = 0;
  for (std::uint64_t i = 0; i < n; ++i) {
    total += std::sqrt(static_cast<double>(i));
    asm volatile("" : "+x"(total));
  }
  return total;
}

}  // namespace

int main(int argc, char** argv) {
  auto session = spindle::mpi::init(argc, argv, {.local_workers = 1});
  if (argc < 3) return 2;
  const std::uint64_t n = std::strtoull(argv[1], nullptr, 10);
  const int tasks = std::atoi(argv[2]);
  spindle::mpi::MpiPoolExecutor pool;
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<spindle::Future<double>> fs;
  for (int i = 0; i < tasks; ++i) fs.push_back(pool.submit<&heavy>(n));
  for (auto& f : fs) f.result();
  std::printf("%.6f %zu\n", std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(),
              pool.max_workers());
  return 0;
}
