#include "floors.hpp"

#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <thread>
#include <vector>

#include "measure.hpp"

namespace spindle::bench {
namespace {

double median_of(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

double memcpy_gbps() {
  constexpr std::size_t bytes = 10u << 20;
  std::vector<char> from(bytes, 1), to(bytes, 0);
  std::memcpy(to.data(), from.data(), bytes);  // warm: both buffers' pages are mapped and cached where they fit
  std::vector<double> rates;
  for (int rep = 0; rep < 5; ++rep) {
    constexpr int copies = 10;
    const double t0 = now_s();
    for (int i = 0; i < copies; ++i) {
      std::memcpy(to.data(), from.data(), bytes);
      char* p = to.data();
      do_not_optimize(p);
    }
    rates.push_back(static_cast<double>(copies * bytes) / (now_s() - t0) / 1e9);
  }
  return median_of(rates);
}

double wake_rtt_us() {
  constexpr int rounds = 2000;
  std::vector<double> rtts;
  for (int rep = 0; rep < 3; ++rep) {
    std::atomic<int> turn{0};  // 2i: the main thread's move in round i; 2i+1: the other thread's
    std::thread other([&] {
      for (int i = 0; i < rounds; ++i) {
        turn.wait(2 * i);  // until the ping
        turn.store(2 * i + 2);
        turn.notify_one();
      }
    });
    const double t0 = now_s();
    for (int i = 0; i < rounds; ++i) {
      turn.store(2 * i + 1);
      turn.notify_one();
      turn.wait(2 * i + 1);  // until the answer
    }
    const double t1 = now_s();
    other.join();
    rtts.push_back((t1 - t0) * 1e6 / rounds);
  }
  return median_of(rtts);
}

double fork_wait_us() {
  constexpr int forks = 30;
  const double t0 = now_s();
  for (int i = 0; i < forks; ++i) {
    const pid_t pid = ::fork();
    if (pid == 0) ::_exit(0);
    if (pid < 0) return 0;
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0) {
    }
  }
  return (now_s() - t0) * 1e6 / forks;
}

// Fresh memory is what W3's frames and W8's blobs and vectors are made of; on some VMs (a hypervisor that
// shadows page tables) its first touch costs 10 µs a page instead of a fraction of one.
double page_touch_us() {
  constexpr std::size_t bytes = 16u << 20;
  constexpr std::size_t page = 4096;
  constexpr auto pages = static_cast<double>(std::size_t{bytes / page});
  std::vector<double> costs;
  for (int rep = 0; rep < 3; ++rep) {
    void* m = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) return 0;
    ::madvise(m, bytes, MADV_NOHUGEPAGE);  // 4 KiB pages, as a malloc'd buffer mostly gets
    volatile char* p = static_cast<char*>(m);
    const double t0 = now_s();
    for (std::size_t i = 0; i < bytes; i += page) p[i] = 1;
    costs.push_back((now_s() - t0) * 1e6 / pages);
    ::munmap(m, bytes);
  }
  return median_of(costs);
}

}  // namespace

Floors measure_floors() { return Floors{memcpy_gbps(), wake_rtt_us(), fork_wait_us(), page_touch_us()}; }

}  // namespace spindle::bench
