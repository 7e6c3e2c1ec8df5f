#pragma once
// What W6 and W6-TLS share: the aio echo handler under test, the clocks, and the latency percentiles.

#include <pthread.h>

#include <algorithm>
#include <cstdint>
#include <ctime>
#include <exception>
#include <string>
#include <vector>

#include "spindle/aio/event_loop.hpp"
#include "spindle/aio/streams.hpp"
#include "workload.hpp"

namespace spindle::bench::echo {

/// The request and reply size.
constexpr std::size_t kMsg = 64;

/// The server under test: each connection a task reading up to kMsg bytes and writing them back.
inline aio::Task<void> serve(aio::StreamReader r, aio::StreamWriter w) {
  try {
    for (;;) {
      std::string data = co_await r.read(static_cast<std::ptrdiff_t>(kMsg));
      if (data.empty()) break;
      w.write(data);
      co_await w.drain();
    }
  } catch (const std::exception&) {
    // The load generator closed with a request in flight (a reset): the normal end of a run.
  }
}

/// CLOCK_MONOTONIC in nanoseconds.
inline std::int64_t now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

/// A thread's CPU clock in seconds (the server thread's, through pthread_getcpuclockid).
inline double thread_cpu_s(clockid_t clock) {
  timespec ts{};
  clock_gettime(clock, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

/// The p-th percentile (0..1) of latencies in ns, in µs; sorts `lat_ns`.
inline double percentile_us(std::vector<std::uint32_t>& lat_ns, double p) {
  if (lat_ns.empty()) return 0;
  std::sort(lat_ns.begin(), lat_ns.end());
  const auto i = static_cast<std::size_t>(p * static_cast<double>(lat_ns.size() - 1));
  return static_cast<double>(lat_ns[i]) / 1000.0;
}

/// The warm-up, then the measured window, with the server thread's CPU over it: call tick() once per turn of
/// the load generator's loop; requests completed while measuring() count.
class Window {
 public:
  Window(double warmup_s, double measure_s, clockid_t server)
      : server_(server),
        t_measure_(now_ns() + static_cast<std::int64_t>(warmup_s * 1e9)),
        t_end_(t_measure_ + static_cast<std::int64_t>(measure_s * 1e9)) {}
  /// False once the window is over.
  bool tick() {
    const std::int64_t now = now_ns();
    if (!measuring_ && now >= t_measure_) {
      measuring_ = true;
      cpu0_ = thread_cpu_s(server_);
      wall0_ = now;
    }
    return now < t_end_;
  }
  bool measuring() const noexcept { return measuring_; }
  /// The server's CPU seconds and the wall seconds since the window opened (call once, at the end).
  double server_cpu_s() const { return thread_cpu_s(server_) - cpu0_; }
  double wall_s() const { return static_cast<double>(now_ns() - wall0_) * 1e-9; }

 private:
  clockid_t server_;
  std::int64_t t_measure_;
  std::int64_t t_end_;
  bool measuring_ = false;
  double cpu0_ = 0;
  std::int64_t wall0_ = 0;
};

/// `--arg connections=N` (default 50, one request in flight each).
inline Param connections_param() {
  return {
      .name = "connections", .help = "client connections, one request in flight each", .value = "50", .max = 10'000};
}

/// `--arg backend=epoll|io_uring`: the server loop's poller.
inline Param backend_param() {
  return {.name = "backend",
          .help = "the server loop's poller: epoll or io_uring",
          .value = "epoll",
          .kind = Param::Kind::choice,
          .choices = {"epoll", "io_uring"}};
}

/// The server loop's backend as `--arg backend` asks.
inline aio::Backend backend_of(const Options& options) {
  return options.text("backend") == "io_uring" ? aio::Backend::io_uring : aio::Backend::epoll;
}

}  // namespace spindle::bench::echo
