// W6 (docs/bench.md): TCP echo on 127.0.0.1. The server is the benchmark: a spindle::aio coroutine echo server
// (each connection a task: read up to 64 bytes, write them back, drain) on its own thread. The load generator
// (bench/echo_loadgen.hpp, shared with the native peers of `--compare`) is single-threaded (epoll, 50
// connections or --arg connections=N, TCP_NODELAY, one 64-byte request in flight each; 1 s warm-up, 5 s
// measured). Server CPU is the server thread's CLOCK_THREAD_CPUTIME_ID over the measured window.
// `--arg serve=PORT` serves on PORT until SIGINT/SIGTERM for an outside load generator.

#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <future>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "echo_common.hpp"
#include "echo_loadgen.hpp"
#include "spindle/aio/event_loop.hpp"
#include "spindle/aio/locks.hpp"
#include "spindle/aio/server.hpp"
#include "spindle/aio/streams.hpp"
#include "workload.hpp"

namespace spindle::bench {
namespace {

/// The server side: serves on `port` until `stop` is set (from any thread through call_soon_threadsafe).
struct EchoServer {
  explicit EchoServer(aio::Backend backend) : loop({.backend = backend}) {}
  aio::EventLoop loop;
  aio::Event stop;
  std::promise<int> bound;

  aio::Task<void> main(int port) {
    aio::ConnectionHandler handler = echo::serve;
    auto starting = aio::start_server(std::move(handler), "127.0.0.1", port, {.backlog = 512});
    aio::Server server;
    try {
      server = co_await std::move(starting);
    } catch (...) {
      bound.set_exception(std::current_exception());  // e.g. EADDRINUSE: the waiting threads learn it
      throw;
    }
    bound.set_value(server.port());
    co_await stop.wait();
    server.close_clients();
    co_await server.wait_closed();
  }
  void request_stop() {
    loop.call_soon_threadsafe([this] { stop.set(); });
  }
};

int serve_forever(int port, aio::Backend backend, const Options& options) {
  EchoServer s(backend);
  s.loop.add_signal_handler(SIGINT, [&s] { s.stop.set(); });
  s.loop.add_signal_handler(SIGTERM, [&s] { s.stop.set(); });
  auto main = s.loop.create_task(s.main(port));
  std::thread announce([&s, &options] {
    try {
      const int p = s.bound.get_future().get();
      Line("W6").add("serving", "127.0.0.1").add("port", p).emit(options);
      std::fflush(stdout);
    } catch (...) {  // start_server failed: run_until_complete reports it
    }
  });
  int rc = 0;
  try {
    s.loop.run_until_complete(main);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "W6: %s\n", e.what());
    rc = 1;
  }
  announce.join();
  return rc;
}

int run_w6(const Options& options) {
  // --arg backend=io_uring runs the server loop on io_uring (falling back to epoll where it is unavailable).
  const aio::Backend backend = echo::backend_of(options);
  if (!options.text("serve").empty()) return serve_forever(std::stoi(options.text("serve")), backend, options);
  const int conns = static_cast<int>(options.count("connections"));
  const double warmup_s = options.quick ? 0.2 : 1.0;
  const double measure_s = options.quick ? 0.5 : 5.0;

  EchoServer server(backend);
  auto main = server.loop.create_task(server.main(0));
  std::promise<clockid_t> server_clock;
  std::thread server_thread([&] {
    clockid_t cid{};
    pthread_getcpuclockid(pthread_self(), &cid);
    server_clock.set_value(cid);
    try {
      server.loop.run_until_complete(main);
    } catch (...) {  // reported through `bound` to the main thread
    }
  });
  const clockid_t sclock = server_clock.get_future().get();
  int port = 0;
  try {
    port = server.bound.get_future().get();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "W6: server failed to start: %s\n", e.what());
    server_thread.join();
    return 1;
  }

  // The load generator every W6 peer uses too (bench/echo_loadgen.hpp): only the server differs.
  const echo_load::Result r = echo_load::drive(port, conns, warmup_s, measure_s, sclock);
  server.request_stop();
  server_thread.join();
  Line line("W6");
  line.add("peer", server.loop.backend() == aio::Backend::io_uring ? "spindle-aio-uring" : "spindle-aio");
  echo_load::add_figures(line, conns, r).emit(options);
  std::fflush(stdout);
  if (!r.error.empty()) {
    std::fprintf(stderr, "W6: %s\n", r.error.c_str());
    return 1;
  }
  return 0;
}

const Register register_w6(
    {.id = "W6",
     .summary = "TCP echo on 127.0.0.1, 50 conns, one 64-byte request in flight each (aio server)",
     .variants = {},
     .params = {echo::connections_param(),
                echo::backend_param(),
                {.name = "serve",
                 .help = "serve on this port (0: any) until SIGINT, no load generator",
                 .kind = Param::Kind::port}},
     .run = run_w6,
     .compare = {"server_cpu_us_per_req", "per_s", "p99_us"},
     .peers = {native_peer("libuv", "w6_libuv", "libuv1-dev"), native_peer("asio", "w6_asio", "libasio-dev"),
               native_peer("epoll", "w6_epoll", "nothing")}});

}  // namespace
}  // namespace spindle::bench
