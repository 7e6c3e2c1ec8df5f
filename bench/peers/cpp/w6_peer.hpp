#pragma once
// What W6's native peers share (bench/peers/cpp/w6_*.cpp): the command line of `spindle bench W6`, the server
// thread, and the load generator spindle's W6 uses too (bench/echo_loadgen.hpp), so that only the server
// differs. A peer implements EchoServer; run_w6() does the rest and prints spindle's W6 line:
// `W6 peer=NAME conns=N requests=N per_s=N p50_us=... p99_us=... server_cpu_us_per_req=...`.

#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <future>
#include <optional>
#include <stdexcept>
#include <thread>

#include "echo_loadgen.hpp"
#include "peer_cli.hpp"

namespace peer {

/// An echo server under test: each connection reads up to 64 bytes and writes them back, as spindle's.
class EchoServer {
 public:
  virtual ~EchoServer() = default;
  /// Binds 127.0.0.1 on a free port and listens (backlog 512, as spindle's); returns the port.
  virtual int listen() = 0;
  /// Serves until stop(); on the server thread, whose CPU time is measured.
  virtual void run() = 0;
  /// Ends run() (any thread).
  virtual void stop() = 0;
};

/// Binds a non-blocking listening socket on 127.0.0.1, a free port, backlog 512 (as spindle's server) into
/// `fd`; returns the port. For the raw-epoll peers. Throws std::runtime_error with the kernel's message.
inline int listen_loopback(int& fd) {
  fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd, 512) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0)
    throw std::runtime_error(std::strerror(errno));
  return ntohs(a.sin_port);
}

/// The command line W6 and W6-TLS share: `connections`, and spindle's `backend` (accepted, ignored).
inline Cli echo_cli(int argc, char** argv, const char* workload) {
  return Cli(argc, argv, workload,
             {{.name = "connections", .value = 50, .quick = 50, .max = 10'000},
              {.name = "backend", .value = 0, .quick = 0, .ignored_choices = {"epoll", "io_uring"}}});
}

/// Listens, serves on a thread of its own, calls `drive(port, server_thread_clock)` and stops the server;
/// drive's result, or nothing (said on stderr) if the server could not listen.
template <class Drive>
auto serve_and_drive(const char* workload, const char* name, EchoServer& server, Drive&& drive)
    -> std::optional<decltype(drive(0, clockid_t{}))> {
  int port = 0;
  try {
    port = server.listen();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s %s: cannot listen: %s\n", workload, name, e.what());
    return std::nullopt;
  }
  std::promise<clockid_t> clock;
  std::thread serving([&] {
    clockid_t cid{};
    pthread_getcpuclockid(pthread_self(), &cid);
    clock.set_value(cid);
    server.run();
  });
  auto result = drive(port, clock.get_future().get());
  server.stop();
  serving.join();
  return result;
}

/// Parses W6's command line, serves on a thread of its own, drives it, prints the line; the exit status.
inline int run_w6(int argc, char** argv, const char* name, EchoServer& server) {
  const Cli cli = echo_cli(argc, argv, "W6");
  const int conns = static_cast<int>(cli["connections"]);
  const bool quick = cli.quick();
  const auto r = serve_and_drive("W6", name, server, [&](int port, clockid_t clock) {
    return echo_load::drive(port, conns, quick ? 0.2 : 1.0, quick ? 0.5 : 5.0, clock);
  });
  if (!r) return 1;
  Line line(cli, name);
  echo_load::add_figures(line, conns, *r).emit();
  if (!r->error.empty()) {
    std::fprintf(stderr, "W6 %s: %s\n", name, r->error.c_str());
    return 1;
  }
  return 0;
}

}  // namespace peer
