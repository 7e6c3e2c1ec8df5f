// From one machine to an MPI job, one line changed: the process pool's program, with MpiPoolExecutor in
// place of ProcessPoolExecutor. Counts the primes below 2,000,000 in 20 ranges, one task per range.
//   mpirun -np 4 ./example_80_mpi_primes          (rank 0 runs main; ranks 1-3 run the tasks)
// Python: mpi4py.futures.MPIPoolExecutor, run with `mpiexec -n 4 python -m mpi4py.futures primes.py`.

#include <cstdio>
#include <vector>

#include "spindle/mpi.hpp"

bool is_prime(long n) {
  if (n < 2) return false;
  for (long d = 2; d * d <= n; ++d) {
    if (n % d == 0) return false;
  }
  return true;
}

long count_primes(long lo, long hi) {
  long n = 0;
  for (long x = lo; x < hi; ++x) n += is_prime(x) ? 1 : 0;
  return n;
}

int main(int argc, char** argv) {
  auto session = spindle::mpi::init(argc, argv);  // ranks 1..N-1 serve tasks here and never return
  spindle::mpi::MpiPoolExecutor pool;             // on one machine: spindle::process::ProcessPoolExecutor pool;
  std::vector<spindle::Future<long>> parts;
  for (long lo = 0; lo < 2'000'000; lo += 100'000) parts.push_back(pool.submit<&count_primes>(lo, lo + 100'000));
  long total = 0;
  for (auto& part : parts) total += part.result();
  std::printf("%ld primes below 2,000,000, counted on %zu ranks\n", total, pool.max_workers());
  return total == 148'933 ? 0 : 1;
}
