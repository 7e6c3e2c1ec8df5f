// W6-TLS (docs/bench.md): W6's echo over TLS 1.3 on 127.0.0.1. The server is the benchmark: the same
// spindle::aio coroutine echo server as W6, with `ServerOptions::ssl`, on its own thread. The load generator is
// plain OpenSSL on one thread, not spindle: first one connection after another (connect, handshake, one echo,
// close) for the handshake rate; then 50 connections (or --arg connections=N) with one 64-byte request in
// flight each, as W6, for requests per second, latency and the server thread's CPU per request. The
// certificate (EC P-256, a CA and a leaf for localhost) is made at start (tests/support/tls_pki.hpp).

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
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
#include "spindle/aio/event_loop.hpp"
#include "spindle/aio/locks.hpp"
#include "spindle/aio/server.hpp"
#include "spindle/aio/ssl.hpp"
#include "spindle/aio/streams.hpp"
#include "tls_pki.hpp"
#include "workload.hpp"

namespace spindle::bench {
namespace {

using echo::kMsg;
using echo::now_ns;
using echo::thread_cpu_s;

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

int connect_loopback(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) < 0) {
    ::close(fd);
    return -1;
  }
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

/// A blocking TLS client connection (the handshake done, hostname checked), or nullptr.
SSL* tls_connect(SSL_CTX* ctx, int port, int& fd) {
  fd = connect_loopback(port);
  if (fd < 0) return nullptr;
  SSL* ssl = SSL_new(ctx);
  SSL_set_fd(ssl, fd);
  SSL_set1_host(ssl, "localhost");
  if (SSL_connect(ssl) != 1) {
    SSL_free(ssl);
    ::close(fd);
    return nullptr;
  }
  return ssl;
}

bool echo_once_blocking(SSL* ssl) {
  unsigned char out[kMsg];
  unsigned char in[kMsg];
  std::memset(out, 'h', kMsg);
  if (SSL_write(ssl, out, kMsg) != static_cast<int>(kMsg)) return false;
  std::size_t got = 0;
  while (got < kMsg) {
    const int n = SSL_read(ssl, in + got, static_cast<int>(kMsg - got));
    if (n <= 0) return false;
    got += static_cast<std::size_t>(n);
  }
  return std::memcmp(in, out, kMsg) == 0;
}

struct Conn : echo_load::Client {
  SSL* ssl = nullptr;
};

bool send_request(Conn& c, int id) {
  c.next_request(id);
  for (;;) {  // one record into an empty socket buffer: one call in practice
    const int n = SSL_write(c.ssl, c.out, kMsg);
    if (n == static_cast<int>(kMsg)) return true;
    const int e = SSL_get_error(c.ssl, n);
    if (e != SSL_ERROR_WANT_WRITE && e != SSL_ERROR_WANT_READ) return false;
  }
}

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

  SSL_CTX* cctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_min_proto_version(cctx, TLS1_3_VERSION);
  SSL_CTX_set_verify(cctx, SSL_VERIFY_PEER, nullptr);
  SSL_CTX_load_verify_locations(cctx, test::TestPki::get().ca_cert.c_str(), nullptr);
  SSL_CTX_set_session_cache_mode(cctx, SSL_SESS_CACHE_OFF);  // every handshake a full one
  int rc = 0;

  // 1. Handshakes, one connection after another.
  std::int64_t handshakes = 0;
  const double hs_cpu0 = thread_cpu_s(sclock);
  const std::int64_t hs_t0 = now_ns();
  const std::int64_t hs_end = hs_t0 + static_cast<std::int64_t>(handshake_s * 1e9);
  while (now_ns() < hs_end) {
    int fd = -1;
    SSL* ssl = tls_connect(cctx, port, fd);
    if (ssl == nullptr || !echo_once_blocking(ssl)) {
      std::fprintf(stderr, "W6-TLS: a handshake or its echo failed\n");
      if (ssl != nullptr) SSL_free(ssl);
      if (fd >= 0) ::close(fd);
      rc = 1;
      break;
    }
    SSL_shutdown(ssl);
    SSL_free(ssl);
    ::close(fd);
    ++handshakes;
  }
  const double hs_wall = static_cast<double>(now_ns() - hs_t0) * 1e-9;
  const double hs_cpu = thread_cpu_s(sclock) - hs_cpu0;

  // 2. Requests over `conns` established connections.
  std::vector<Conn> clients(static_cast<std::size_t>(conns));
  const int ep = ::epoll_create1(EPOLL_CLOEXEC);
  for (int i = 0; i < conns && rc == 0; ++i) {
    Conn& c = clients[static_cast<std::size_t>(i)];
    c.ssl = tls_connect(cctx, port, c.fd);
    if (c.ssl == nullptr) {
      std::fprintf(stderr, "W6-TLS: connection %d failed\n", i);
      rc = 1;
      break;
    }
    ::fcntl(c.fd, F_SETFL, ::fcntl(c.fd, F_GETFL) | O_NONBLOCK);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u32 = static_cast<std::uint32_t>(i);
    ::epoll_ctl(ep, EPOLL_CTL_ADD, c.fd, &ev);
  }
  echo_load::Tally tally;
  tally.lat_ns.reserve(options.quick ? 200'000 : 2'000'000);
  echo::Window window(warmup_s, measure_s, sclock);
  for (int i = 0; i < conns && rc == 0; ++i) {
    if (!send_request(clients[static_cast<std::size_t>(i)], i)) rc = 1;
  }
  epoll_event evs[64];
  while (rc == 0 && window.tick()) {
    const int n = ::epoll_wait(ep, evs, 64, 100);
    for (int k = 0; k < n && rc == 0; ++k) {
      const int id = static_cast<int>(evs[k].data.u32);
      Conn& c = clients[static_cast<std::size_t>(id)];
      for (;;) {  // SSL_read until it wants more: a record may carry the whole reply
        const int r = SSL_read(c.ssl, c.in + c.got, static_cast<int>(kMsg - c.got));
        if (r <= 0) {
          const int e = SSL_get_error(c.ssl, r);
          if (e == SSL_ERROR_WANT_READ) break;
          std::fprintf(stderr, "W6-TLS: connection %d lost\n", id);
          rc = 1;
          break;
        }
        c.got += static_cast<std::size_t>(r);
        if (c.got < kMsg) continue;
        tally.reply(window, c.sent_ns, std::memcmp(c.in, c.out, kMsg) == 0);
        if (!send_request(c, id)) rc = 1;
        break;
      }
    }
  }
  const double server_cpu = window.server_cpu_s();
  const double wall = window.wall_s();
  for (auto& c : clients) {
    if (c.ssl != nullptr) SSL_free(c.ssl);
    if (c.fd >= 0) ::close(c.fd);
  }
  ::close(ep);
  SSL_CTX_free(cctx);
  stop_server();

  const std::int64_t requests = tally.requests;
  const std::int64_t bad = tally.bad;
  auto pct = [&tally](double p) { return echo::percentile_us(tally.lat_ns, p); };
  Line("W6-TLS")
      .add("peer", server.loop.backend() == aio::Backend::io_uring ? "spindle-aio-uring" : "spindle-aio")
      .add("handshakes", handshakes)
      .add("handshakes_per_s", static_cast<std::int64_t>(static_cast<double>(handshakes) / hs_wall))
      .add("server_cpu_us_per_handshake", handshakes > 0 ? hs_cpu * 1e6 / static_cast<double>(handshakes) : 0.0, 1)
      .add("conns", conns)
      .add("requests", requests)
      .add("per_s", static_cast<std::int64_t>(requests > 0 ? static_cast<double>(requests) / wall : 0.0))
      .add("p50_us", pct(0.50), 1)
      .add("p99_us", pct(0.99), 1)
      .add("server_cpu_us_per_req", requests > 0 ? server_cpu * 1e6 / static_cast<double>(requests) : 0.0, 2)
      .emit(options);
  std::fflush(stdout);
  if (bad != 0 || server.failures != 0) {
    std::fprintf(stderr, "W6-TLS: %lld replies differed, %zu handshakes failed on the server\n",
                 static_cast<long long>(bad), server.failures);
    return 1;
  }
  if (requests == 0 || handshakes == 0) {
    std::fprintf(stderr, "W6-TLS: nothing completed\n");
    return 1;
  }
  return rc;
}

const Register reg({.id = "W6-TLS",
                    .summary = "W6 over TLS 1.3: handshakes/s (one after another), then 50 conns of 64-byte echo",
                    .variants = {},
                    .params = {echo::connections_param(), echo::backend_param()},
                    .run = run_w6_tls});

}  // namespace
}  // namespace spindle::bench
