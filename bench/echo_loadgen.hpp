#pragma once
// W6's load generator (docs/bench.md), neither side's: spindle's W6 and its native peers
// (bench/peers/cpp/w6_*.cpp) each run their echo server on a thread of their own and drive it with this same
// code, so that the figures differ only by the server. POSIX only, no spindle header.
//
// Shape: `conns` TCP connections to 127.0.0.1:port, TCP_NODELAY, each with one 64-byte request in flight
// (a sequence number and the connection's id, so that a reply that is not its request's echo is counted as
// bad); one thread, epoll; a warm-up, then the measured window, over which the server thread's CPU time is
// read from its clock (pthread_getcpuclockid).

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <string>
#include <vector>

namespace echo_load {

/// The request and reply size.
constexpr std::size_t kMsg = 64;

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

/// The replies' bookkeeping (W6 and W6-TLS): each completed request's check and, inside the window, its
/// latency.
struct Tally {
  std::vector<std::uint32_t> lat_ns;
  std::int64_t requests = 0;
  std::int64_t bad = 0;
  /// A reply to the request sent at `sent_ns` came in whole; `matches`: it echoed the request.
  void reply(const Window& window, std::int64_t sent_ns, bool matches) {
    const std::int64_t done = now_ns();
    if (!matches) ++bad;
    if (window.measuring()) {
      ++requests;
      lat_ns.push_back(static_cast<std::uint32_t>(std::min<std::int64_t>(done - sent_ns, UINT32_MAX)));
    }
  }
};

/// One client connection with its request in flight (W6-TLS's adds its SSL object).
struct Client {
  int fd = -1;
  unsigned char out[kMsg];
  unsigned char in[kMsg];
  std::size_t got = 0;
  std::uint64_t seq = 0;
  std::int64_t sent_ns = 0;
  /// Fills the next request: its sequence number and the connection's id over a letter of its own.
  void next_request(int id) {
    ++seq;
    std::memset(out, 'a' + id % 26, kMsg);
    std::memcpy(out, &seq, sizeof seq);
    std::memcpy(out + sizeof seq, &id, sizeof id);
    got = 0;
    sent_ns = now_ns();
  }
};

/// What a run measured. `error` is empty when every connection worked and every reply matched.
struct Result {
  std::int64_t requests = 0;  ///< completed inside the measured window
  double per_s = 0;
  double p50_us = 0;
  double p99_us = 0;
  double server_cpu_us_per_req = 0;
  std::string error;
};

/// Drives the echo server on 127.0.0.1:`port` (its serving thread's CPU clock `server_clock`).
inline Result drive(int port, int conns, double warmup_s, double measure_s, clockid_t server_clock) {
  const auto send_request = [](Client& c, int id) {
    c.next_request(id);
    std::size_t off = 0;
    while (off < kMsg) {  // 64 bytes into an empty socket buffer: one call in practice
      const ssize_t n = ::send(c.fd, c.out + off, kMsg - off, MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EINTR || errno == EAGAIN) continue;
        return false;
      }
      off += static_cast<std::size_t>(n);
    }
    return true;
  };

  Result result;
  std::vector<Client> clients(static_cast<std::size_t>(conns));
  const int ep = ::epoll_create1(EPOLL_CLOEXEC);
  for (int i = 0; i < conns && result.error.empty(); ++i) {
    Client& c = clients[static_cast<std::size_t>(i)];
    c.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<std::uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (c.fd < 0 || ::connect(c.fd, reinterpret_cast<sockaddr*>(&a), sizeof a) < 0) {
      result.error = "connect: " + std::string(std::strerror(errno));
      break;
    }
    const int one = 1;
    ::setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u32 = static_cast<std::uint32_t>(i);
    ::epoll_ctl(ep, EPOLL_CTL_ADD, c.fd, &ev);
  }

  Tally tally;
  tally.lat_ns.reserve(2'000'000);
  Window window(warmup_s, measure_s, server_clock);
  for (int i = 0; i < conns && result.error.empty(); ++i) {
    if (!send_request(clients[static_cast<std::size_t>(i)], i)) result.error = "send failed";
  }
  epoll_event evs[64];
  while (result.error.empty() && window.tick()) {
    const int n = ::epoll_wait(ep, evs, 64, 100);
    for (int k = 0; k < n; ++k) {
      const int id = static_cast<int>(evs[k].data.u32);
      Client& c = clients[static_cast<std::size_t>(id)];
      const ssize_t r = ::recv(c.fd, c.in + c.got, kMsg - c.got, 0);
      if (r <= 0) {
        if (r < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        result.error = "connection " + std::to_string(id) + " lost";
        break;
      }
      c.got += static_cast<std::size_t>(r);
      if (c.got < kMsg) continue;
      tally.reply(window, c.sent_ns, std::memcmp(c.in, c.out, kMsg) == 0);
      if (!send_request(c, id)) result.error = "send failed";
    }
  }
  const double server_cpu = window.server_cpu_s();
  const double wall = window.wall_s();
  for (auto& c : clients)
    if (c.fd >= 0) ::close(c.fd);
  ::close(ep);
  result.requests = tally.requests;
  result.per_s = wall > 0 ? static_cast<double>(result.requests) / wall : 0;
  result.p50_us = percentile_us(tally.lat_ns, 0.50);
  result.p99_us = percentile_us(tally.lat_ns, 0.99);
  result.server_cpu_us_per_req = result.requests > 0 ? server_cpu * 1e6 / static_cast<double>(result.requests) : 0;
  if (result.error.empty() && tally.bad != 0)
    result.error = std::to_string(tally.bad) + " replies differed from their request";
  if (result.error.empty() && result.requests == 0) result.error = "no request completed";
  return result;
}

/// Adds W6's figures to a measurement line (spindle's bench::Line or a peer's peer::Line), in W6's order.
template <class Line>
Line& add_figures(Line& line, int conns, const Result& r) {
  return line.add("conns", conns)
      .add("requests", r.requests)
      .add("per_s", static_cast<std::int64_t>(r.per_s))
      .add("p50_us", r.p50_us, 1)
      .add("p99_us", r.p99_us, 1)
      .add("server_cpu_us_per_req", r.server_cpu_us_per_req, 2);
}

}  // namespace echo_load
