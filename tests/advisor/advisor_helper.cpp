// Helper program for the advisor tests: `advisor_helper cpu THREADS SECONDS` keeps THREADS threads
// computing for SECONDS of wall time each (a parallel CPU-bound program when THREADS > 1);
// `advisor_helper block THREADS SECONDS` keeps THREADS threads blocked in a pipe read for SECONDS (many
// blocking calls in flight at once), then writes to wake them; `advisor_helper phases THREADS SECONDS` sleeps
// for SECONDS (a download), then computes on THREADS threads for SECONDS (the parse): a run in two phases.

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

int main(int argc, char** argv) {
  if (argc != 4 ||
      (std::strcmp(argv[1], "cpu") != 0 && std::strcmp(argv[1], "block") != 0 && std::strcmp(argv[1], "phases") != 0)) {
    std::fprintf(stderr, "usage: advisor_helper cpu|block|phases THREADS SECONDS\n");
    return 2;
  }
  const int threads = std::atoi(argv[2]);
  const auto span = std::chrono::duration<double>(std::atof(argv[3]));
  std::vector<std::thread> pool;
  if (std::strcmp(argv[1], "block") == 0) {
    int fds[2];
    if (::pipe(fds) != 0) return 1;
    for (int t = 0; t < threads; ++t) {
      pool.emplace_back([fd = fds[0]] {
        char c;
        (void)::read(fd, &c, 1);  // blocked in a call: one wait in flight per thread
      });
    }
    std::this_thread::sleep_for(span);
    const std::vector<char> wake(static_cast<std::size_t>(threads), 'x');
    if (::write(fds[1], wake.data(), wake.size()) != static_cast<ssize_t>(wake.size())) return 1;
    for (auto& t : pool) t.join();
    return 0;
  }
  if (std::strcmp(argv[1], "phases") == 0) std::this_thread::sleep_for(span);  // first wait, then compute
  std::atomic<unsigned long long> sink{0};
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
