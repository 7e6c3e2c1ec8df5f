// Helper program for the advisor tests: `advisor_helper cpu THREADS SECONDS` keeps THREADS threads
// computing for SECONDS of wall time each (a parallel CPU-bound program when THREADS > 1).

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

int main(int argc, char** argv) {
  if (argc != 4 || std::strcmp(argv[1], "cpu") != 0) {
    std::fprintf(stderr, "usage: advisor_helper cpu THREADS SECONDS\n");
    return 2;
  }
  const int threads = std::atoi(argv[2]);
  const auto span = std::chrono::duration<double>(std::atof(argv[3]));
  std::atomic<unsigned long long> sink{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      const auto end = std::chrono::steady_clock::now() + span;
      unsigned long long total = 0;
      while (std::chrono::steady_clock::now() < end) {
        for (unsigned long long i = 0; i < 100000; ++i) total += i * i;
      }
      sink += total;
    });
  }
  for (auto& t : pool) t.join();
  return sink.load() == 0 ? 1 : 0;
}
