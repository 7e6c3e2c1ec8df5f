#pragma once
// W6-TLS's load generator (docs/bench.md), neither side's: spindle's W6-TLS and its native peers
// (bench/peers/cpp/w6_tls_*.cpp) each run their TLS echo server on a thread of their own and drive it with this
// same code, so that the figures differ only by the server. Plain OpenSSL and POSIX, no spindle header.
//
// Shape: first one connection after another (connect, full TLS 1.3 handshake with the certificate checked
// against `ca_file` for "localhost", one echo, close; no session resumption) for the handshake rate; then
// `conns` connections with one 64-byte request in flight each, as W6 (bench/echo_loadgen.hpp), for requests
// per second, latency and the server thread's CPU per request.

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "echo_loadgen.hpp"

namespace tls_load {

using echo_load::kMsg;

/// What a run measured. `error` is empty when every handshake, connection and reply worked.
struct Result {
  std::int64_t handshakes = 0;
  double handshakes_per_s = 0;
  double server_cpu_us_per_handshake = 0;
  echo_load::Result echo;  ///< the requests over established connections; its error is unused
  std::string error;
};

namespace detail {

inline int connect_loopback(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
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
inline SSL* tls_connect(SSL_CTX* ctx, int port, int& fd) {
  fd = connect_loopback(port);
  if (fd < 0) return nullptr;
  SSL* ssl = SSL_new(ctx);
  SSL_set_fd(ssl, fd);
  SSL_set1_host(ssl, "localhost");
  if (SSL_connect(ssl) != 1) {
    SSL_free(ssl);
    ::close(fd);
    fd = -1;
    return nullptr;
  }
  return ssl;
}

inline bool echo_once_blocking(SSL* ssl) {
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

inline bool send_request(Conn& c, int id) {
  c.next_request(id);
  for (;;) {  // one record into an empty socket buffer: one call in practice
    const int n = SSL_write(c.ssl, c.out, kMsg);
    if (n == static_cast<int>(kMsg)) return true;
    const int e = SSL_get_error(c.ssl, n);
    if (e != SSL_ERROR_WANT_WRITE && e != SSL_ERROR_WANT_READ) return false;
  }
}

}  // namespace detail

/// Drives the TLS echo server on 127.0.0.1:`port` (its serving thread's CPU clock `server_clock`), trusting
/// the CA certificate in `ca_file`: `handshake_s` of handshakes, then `warmup_s` and `measure_s` of requests.
inline Result drive(int port, int conns, double handshake_s, double warmup_s, double measure_s, clockid_t server_clock,
                    const std::string& ca_file) {
  using echo_load::now_ns;
  using echo_load::thread_cpu_s;
  // OpenSSL's socket BIO writes with write(): a write to a connection the other side already closed (a
  // client's close_notify, a server's session tickets after a handshake-only client left) must fail with EPIPE,
  // not end the program. Process-wide: the benchmark process is this load generator and one server.
  ::signal(SIGPIPE, SIG_IGN);
  Result result;
  SSL_CTX* cctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_min_proto_version(cctx, TLS1_3_VERSION);
  SSL_CTX_set_verify(cctx, SSL_VERIFY_PEER, nullptr);
  if (SSL_CTX_load_verify_locations(cctx, ca_file.c_str(), nullptr) != 1) {
    SSL_CTX_free(cctx);
    result.error = "cannot load the CA certificate " + ca_file;
    return result;
  }
  SSL_CTX_set_session_cache_mode(cctx, SSL_SESS_CACHE_OFF);  // every handshake a full one

  // 1. Handshakes, one connection after another.
  const double hs_cpu0 = thread_cpu_s(server_clock);
  const std::int64_t hs_t0 = now_ns();
  const std::int64_t hs_end = hs_t0 + static_cast<std::int64_t>(handshake_s * 1e9);
  while (now_ns() < hs_end) {
    int fd = -1;
    SSL* ssl = detail::tls_connect(cctx, port, fd);
    const bool ok = ssl != nullptr && detail::echo_once_blocking(ssl);
    if (ssl != nullptr) {
      if (ok) SSL_shutdown(ssl);
      SSL_free(ssl);
    }
    if (fd >= 0) ::close(fd);
    if (!ok) {
      result.error = "a handshake or its echo failed";
      break;
    }
    ++result.handshakes;
  }
  const double hs_wall = static_cast<double>(now_ns() - hs_t0) * 1e-9;
  const double hs_cpu = thread_cpu_s(server_clock) - hs_cpu0;
  result.handshakes_per_s = static_cast<double>(result.handshakes) / hs_wall;
  result.server_cpu_us_per_handshake =
      result.handshakes > 0 ? hs_cpu * 1e6 / static_cast<double>(result.handshakes) : 0.0;

  // 2. Requests over `conns` established connections.
  std::vector<detail::Conn> clients(static_cast<std::size_t>(conns));
  const int ep = ::epoll_create1(EPOLL_CLOEXEC);
  for (int i = 0; i < conns && result.error.empty(); ++i) {
    detail::Conn& c = clients[static_cast<std::size_t>(i)];
    c.ssl = detail::tls_connect(cctx, port, c.fd);
    if (c.ssl == nullptr) {
      result.error = "connection " + std::to_string(i) + " failed";
      break;
    }
    ::fcntl(c.fd, F_SETFL, ::fcntl(c.fd, F_GETFL) | O_NONBLOCK);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u32 = static_cast<std::uint32_t>(i);
    ::epoll_ctl(ep, EPOLL_CTL_ADD, c.fd, &ev);
  }
  echo_load::Tally tally;
  tally.lat_ns.reserve(2'000'000);
  echo_load::Window window(warmup_s, measure_s, server_clock);
  for (int i = 0; i < conns && result.error.empty(); ++i) {
    if (!detail::send_request(clients[static_cast<std::size_t>(i)], i)) result.error = "send failed";
  }
  epoll_event evs[64];
  while (result.error.empty() && window.tick()) {
    const int n = ::epoll_wait(ep, evs, 64, 100);
    for (int k = 0; k < n && result.error.empty(); ++k) {
      const int id = static_cast<int>(evs[k].data.u32);
      detail::Conn& c = clients[static_cast<std::size_t>(id)];
      for (;;) {  // SSL_read until it wants more: a record may carry the whole reply
        const int r = SSL_read(c.ssl, c.in + c.got, static_cast<int>(kMsg - c.got));
        if (r <= 0) {
          if (SSL_get_error(c.ssl, r) == SSL_ERROR_WANT_READ) break;
          result.error = "connection " + std::to_string(id) + " lost";
          break;
        }
        c.got += static_cast<std::size_t>(r);
        if (c.got < kMsg) continue;
        tally.reply(window, c.sent_ns, std::memcmp(c.in, c.out, kMsg) == 0);
        if (!detail::send_request(c, id)) result.error = "send failed";
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

  auto& e = result.echo;
  e.requests = tally.requests;
  e.per_s = wall > 0 ? static_cast<double>(e.requests) / wall : 0;
  e.p50_us = echo_load::percentile_us(tally.lat_ns, 0.50);
  e.p99_us = echo_load::percentile_us(tally.lat_ns, 0.99);
  e.server_cpu_us_per_req = e.requests > 0 ? server_cpu * 1e6 / static_cast<double>(e.requests) : 0;
  if (result.error.empty() && tally.bad != 0)
    result.error = std::to_string(tally.bad) + " replies differed from their request";
  if (result.error.empty() && (e.requests == 0 || result.handshakes == 0)) result.error = "nothing completed";
  return result;
}

/// Adds W6-TLS's figures to a measurement line (spindle's bench::Line or a peer's peer::Line), in its order.
template <class Line>
Line& add_figures(Line& line, int conns, const Result& r) {
  line.add("handshakes", r.handshakes)
      .add("handshakes_per_s", static_cast<std::int64_t>(r.handshakes_per_s))
      .add("server_cpu_us_per_handshake", r.server_cpu_us_per_handshake, 1);
  return echo_load::add_figures(line, conns, r.echo);
}

}  // namespace tls_load
