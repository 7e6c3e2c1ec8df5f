// A large array handed to worker processes without a copy: a SharedArray travels as a handle (a memfd
// passed with SCM_RIGHTS) and every worker maps the same pages. Python: a NumPy array over
// multiprocessing.shared_memory.SharedMemory, attached by name in each task.

#include <cstdint>
#include <cstdio>
#include <numeric>
#include <vector>

#include "spindle/process.hpp"

namespace sp = spindle::process;

// Sums one slice; the array arrives as a handle, not as 64 MiB of bytes.
std::uint64_t sum_slice(sp::SharedArray<std::uint32_t> a, std::size_t begin, std::size_t end) {
  std::uint64_t s = 0;
  for (std::size_t i = begin; i < end; ++i) s += a[i];
  return s;
}

// Writes into the shared array: the parent sees the change, since it is the same memory.
void fill_slice(sp::SharedArray<std::uint32_t> a, std::size_t begin, std::size_t end) {
  for (std::size_t i = begin; i < end; ++i) a[i] = static_cast<std::uint32_t>(i % 1000);
}

int main() {
  constexpr std::size_t n = std::size_t{16} << 20;  // 64 MiB of uint32
  sp::SharedArray<std::uint32_t> array(n);
  sp::ProcessPoolExecutor pool(2);
  const std::size_t half = n / 2;
  pool.submit<&fill_slice>(array, 0, half).result();
  pool.submit<&fill_slice>(array, half, n).result();
  auto a = pool.submit<&sum_slice>(array, 0, half);
  auto b = pool.submit<&sum_slice>(array, half, n);
  const std::uint64_t total = a.result() + b.result();
  const std::uint64_t here = std::accumulate(array.begin(), array.end(), std::uint64_t{0});
  std::printf("sum computed by the workers: %llu, by the parent over the same memory: %llu\n",
              static_cast<unsigned long long>(total), static_cast<unsigned long long>(here));
  return total == here && here != 0 ? 0 : 1;
}
