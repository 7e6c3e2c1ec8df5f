// Probe: what a registered (fixed) file saves an io_uring request, and what entering and removing one costs; the
// figures behind SPINDLE_AIO_URING_FIXED's default (docs/performance-history.md, "W6 on io_uring: registered files").
// Batches of 32 sends of 64 bytes on a Unix socket pair per io_uring_enter, the fd named plainly or by its slot,
// alternated over 11 rounds, in a process with a second thread (as a server with a loop thread: its file table
// is shared, so each plain request takes and drops a reference on the file). Prints each round and the medians.
//
//   build/release/bench/bench_uring_fixed_files

#include <liburing.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
constexpr unsigned kBatch = 32;
constexpr std::size_t kBytes = 64;

double ns_since(Clock::time_point t0, int n) {
  return std::chrono::duration<double, std::nano>(Clock::now() - t0).count() / n;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main() {
  std::atomic<bool> stop{false};
  std::thread idle([&] {
    while (!stop.load()) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  });
  io_uring ring{};
  int sv[2];
  if (io_uring_queue_init(64, &ring, 0) != 0 || ::socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0 ||
      io_uring_register_files_sparse(&ring, 16) != 0 || io_uring_register_files_update(&ring, 0, &sv[0], 1) != 1) {
    std::fprintf(stderr, "no io_uring with sparse registered files here (Linux 5.19)\n");
    stop = true;
    idle.join();
    return 1;
  }
  char one[kBytes] = {};
  static char batch[kBatch * kBytes];
  // ns per send, the fd named plainly or by slot 0.
  const auto sends = [&](bool fixed, int n) {
    const auto t0 = Clock::now();
    for (int i = 0; i < n; i += static_cast<int>(kBatch)) {
      for (unsigned k = 0; k < kBatch; ++k) {
        io_uring_sqe* sqe = io_uring_get_sqe(&ring);
        io_uring_prep_send(sqe, fixed ? 0 : sv[0], one, kBytes, MSG_NOSIGNAL);
        if (fixed) sqe->flags |= IOSQE_FIXED_FILE;
      }
      io_uring_submit_and_wait(&ring, kBatch);
      unsigned head = 0;
      unsigned seen = 0;
      io_uring_cqe* cqe = nullptr;
      io_uring_for_each_cqe(&ring, head, cqe) {
        if (cqe->res != static_cast<int>(kBytes)) std::fprintf(stderr, "a send returned %d\n", cqe->res);
        ++seen;
      }
      io_uring_cq_advance(&ring, seen);
      std::size_t got = 0;
      while (got < sizeof batch) {
        const ssize_t r = ::recv(sv[1], batch, sizeof batch - got, 0);
        if (r <= 0) break;
        got += static_cast<std::size_t>(r);
      }
    }
    return ns_since(t0, n);
  };
  // ns to enter a socket in slot 1 and remove it again.
  const auto enter_remove = [&](int n) {
    int none = -1;
    const auto t0 = Clock::now();
    for (int i = 0; i < n; ++i) {
      io_uring_register_files_update(&ring, 1, &sv[0], 1);
      io_uring_register_files_update(&ring, 1, &none, 1);
    }
    return ns_since(t0, n);
  };
  sends(false, 32'000);
  sends(true, 32'000);
  std::vector<double> plain, fixed, churn;
  for (int round = 0; round < 11; ++round) {
    plain.push_back(sends(false, 96'000));
    fixed.push_back(sends(true, 96'000));
    churn.push_back(enter_remove(20'000));
    std::printf("round %2d: plain fd %6.1f ns/send, registered %6.1f ns/send, enter+remove %7.1f ns\n", round,
                plain.back(), fixed.back(), churn.back());
  }
  const double p = median(plain);
  const double f = median(fixed);
  const double c = median(churn);
  std::printf(
      "medians: plain fd %.1f ns/send, registered %.1f ns/send (saves %.1f ns, %.1f%%); enter+remove %.0f ns, "
      "paid back after %.0f sends\n",
      p, f, p - f, 100.0 * (p - f) / p, c, p > f ? c / (p - f) : 0.0);
  stop = true;
  idle.join();
  io_uring_queue_exit(&ring);
  ::close(sv[0]);
  ::close(sv[1]);
  return 0;
}
