// W6-TLS (docs/bench.md): W6's echo over TLS 1.3 on 127.0.0.1. The server is the benchmark: the same
// spindle::aio coroutine echo server as W6, with `ServerOptions::ssl`, on its own thread. The load generator
// (bench/tls_loadgen.hpp, shared with the native peers of `--compare`) is plain OpenSSL on one thread, not
// spindle: first one connection after another (connect, handshake, one echo, close) for the handshake rate;
// then 50 connections (or --arg connections=N) with one 64-byte request in flight each, as W6, for requests per
// second, latency and the server thread's CPU per request. The certificate (EC P-256, a CA and a leaf for
// localhost) is made at start (tests/support/tls_pki.hpp).

#include <pthread.h>

#include <cstdio>
#include <ctime>
#include <exception>
#include <future>
#include <thread>

#include "echo_common.hpp"
#include "spindle/aio/event_loop.hpp"
#include "spindle/aio/locks.hpp"
#include "spindle/aio/server.hpp"
#include "spindle/aio/ssl.hpp"
#include "spindle/aio/streams.hpp"
#include "tls_loadgen.hpp"
#include "tls_pki.hpp"
#include "workload.hpp"

namespace spindle::bench {
namespace {

struct TlsEchoServer {
  explicit TlsEchoServer(aio::Backend backend) : loop({.backend = backend}) {
    ctx.load_cert_chain(test::TestPki::get().server_cert, test::TestPki::get().server_key);
  }
  aio::EventLoop loop;
  aio::SslContext ctx{aio::SslProtocol::TLS_SERVER};
  aio::Event stop;
  std::promise<int> bound;
  std::size_t failures = 0;

  aio::Task<void> main() {
    aio::ConnectionHandler handler = echo::serve;
    auto starting = aio::start_server(std::move(handler), "127.0.0.1", 0, {.backlog = 512, .ssl = &ctx});
    aio::Server server;
    try {
      server = co_await std::move(starting);
    } catch (...) {
      bound.set_exception(std::current_exception());
      throw;
    }
    bound.set_value(server.port());
    co_await stop.wait();
    failures = server.tls_handshake_failures();
    server.close_clients();
    co_await server.wait_closed();
  }
};

int run_w6_tls(const Options& options) {
  const aio::Backend backend = echo::backend_of(options);
  const int conns = static_cast<int>(options.count("connections"));
  const double handshake_s = options.quick ? 0.3 : 2.0;
  const double warmup_s = options.quick ? 0.2 : 1.0;
  const double measure_s = options.quick ? 0.5 : 5.0;

  TlsEchoServer server(backend);
  auto main = server.loop.create_task(server.main());
  std::promise<clockid_t> server_clock;
  std::thread server_thread([&] {
    clockid_t cid{};
    pthread_getcpuclockid(pthread_self(), &cid);
    server_clock.set_value(cid);
    try {
      server.loop.run_until_complete(main);
    } catch (...) {
    }
  });
  const clockid_t sclock = server_clock.get_future().get();
  int port = 0;
  try {
    port = server.bound.get_future().get();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "W6-TLS: server failed to start: %s\n", e.what());
    server_thread.join();
    return 1;
  }
  auto stop_server = [&] {
    server.loop.call_soon_threadsafe([&server] { server.stop.set(); });
    server_thread.join();
  };

  // The load generator the W6-TLS peers use too (bench/tls_loadgen.hpp): only the server differs.
  const tls_load::Result r =
      tls_load::drive(port, conns, handshake_s, warmup_s, measure_s, sclock, test::TestPki::get().ca_cert);
  stop_server();
  Line line("W6-TLS");
  line.add("peer", server.loop.backend() == aio::Backend::io_uring ? "spindle-aio-uring" : "spindle-aio");
  tls_load::add_figures(line, conns, r).emit(options);
  std::fflush(stdout);
  if (!r.error.empty() || server.failures != 0) {
    std::fprintf(stderr, "W6-TLS: %s%s%zu handshakes failed on the server\n", r.error.c_str(),
                 r.error.empty() ? "" : "; ", server.failures);
    return 1;
  }
  return 0;
}

const Register register_w6_tls(
    {.id = "W6-TLS",
     .summary = "W6 over TLS 1.3: handshakes/s (one after another), then 50 conns of 64-byte echo",
     .variants = {},
     .params = {echo::connections_param(), echo::backend_param()},
     .run = run_w6_tls,
     .compare = {"server_cpu_us_per_handshake", "handshakes_per_s", "server_cpu_us_per_req", "per_s", "p99_us"},
     .peers = {native_peer("asio", "w6_tls_asio", "libasio-dev and libssl-dev"),
               native_peer("openssl-epoll", "w6_tls_epoll", "nothing beyond libssl-dev")}});

}  // namespace
}  // namespace spindle::bench
