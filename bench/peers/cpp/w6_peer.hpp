#pragma once
// What W6's native peers share (bench/peers/cpp/w6_*.cpp): the command line of `spindle bench W6`, the server
// thread, and the load generator spindle's W6 uses too (bench/echo_loadgen.hpp), so that only the server
// differs. A peer implements EchoServer; run_w6() does the rest and prints spindle's W6 line:
// `W6 peer=NAME conns=N requests=N per_s=N p50_us=... p99_us=... server_cpu_us_per_req=...`.

#include <pthread.h>

#include <cstdint>
#include <cstdio>
#include <exception>
#include <future>
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

/// Parses W6's command line, serves on a thread of its own, drives it, prints the line; the exit status.
inline int run_w6(int argc, char** argv, const char* name, EchoServer& server) {
  const Cli cli(argc, argv, "W6",
                {{.name = "connections", .value = 50, .quick = 50, .max = 10'000},
                 {.name = "backend", .value = 0, .quick = 0, .ignored_choices = {"epoll", "io_uring"}}});
  const int conns = static_cast<int>(cli["connections"]);
  int port = 0;
  try {
    port = server.listen();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "W6 %s: cannot listen: %s\n", name, e.what());
    return 1;
  }
  std::promise<clockid_t> clock;
  std::thread serving([&] {
    clockid_t cid{};
    pthread_getcpuclockid(pthread_self(), &cid);
    clock.set_value(cid);
    server.run();
  });
  const bool quick = cli.quick();
  const echo_load::Result r =
      echo_load::drive(port, conns, quick ? 0.2 : 1.0, quick ? 0.5 : 5.0, clock.get_future().get());
  server.stop();
  serving.join();
  Line line(cli, name);
  echo_load::add_figures(line, conns, r).emit();
  if (!r.error.empty()) {
    std::fprintf(stderr, "W6 %s: %s\n", name, r.error.c_str());
    return 1;
  }
  return 0;
}

}  // namespace peer
