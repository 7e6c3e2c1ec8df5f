// W6 (docs/bench.md): TCP echo on 127.0.0.1. The server is the benchmark: a spindle::aio coroutine echo server
// (each connection a task: read up to 64 bytes, write them back, drain) on its own thread. The built-in load
// generator is single-threaded (epoll, 50 connections or --arg connections=N, TCP_NODELAY, one 64-byte
// request in flight each; 1 s warm-up, 5 s measured). Server CPU is the server thread's CLOCK_THREAD_CPUTIME_ID over
// the measured window.
// `--arg serve=PORT` serves on PORT until SIGINT/SIGTERM for an outside load generator.

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

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
#include "spindle/aio/event_loop.hpp"
#include "spindle/aio/locks.hpp"
#include "spindle/aio/server.hpp"
#include "spindle/aio/streams.hpp"
#include "workload.hpp"

namespace spindle::bench {
namespace {

using echo::kMsg;
using echo::now_ns;

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

struct Client {
  int fd = -1;
  unsigned char out[kMsg];
  unsigned char in[kMsg];
  std::size_t got = 0;
  std::uint64_t seq = 0;
  std::int64_t sent_ns = 0;
};

void fill(Client& c, int id) {
  std::memset(c.out, 'a' + id % 26, kMsg);
  std::memcpy(c.out, &c.seq, sizeof c.seq);
  std::memcpy(c.out + sizeof c.seq, &id, sizeof id);
}

bool send_request(Client& c, int id) {
  ++c.seq;
  fill(c, id);
  c.got = 0;
  c.sent_ns = now_ns();
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

  std::vector<Client> clients(conns);
  const int ep = ::epoll_create1(EPOLL_CLOEXEC);
  int rc = 0;
  for (int i = 0; i < conns; ++i) {
    Client& c = clients[static_cast<std::size_t>(i)];
    c.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<std::uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(c.fd, reinterpret_cast<sockaddr*>(&a), sizeof a) < 0) {
      std::perror("W6 connect");
      rc = 1;
    }
    const int one = 1;
    ::setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u32 = static_cast<std::uint32_t>(i);
    ::epoll_ctl(ep, EPOLL_CTL_ADD, c.fd, &ev);
  }

  std::vector<std::uint32_t> lat_ns;
  lat_ns.reserve(options.quick ? 200'000 : 2'000'000);
  std::int64_t requests = 0;
  std::int64_t bad = 0;
  echo::Window window(warmup_s, measure_s, sclock);
  for (int i = 0; i < conns && rc == 0; ++i) {
    if (!send_request(clients[static_cast<std::size_t>(i)], i)) rc = 1;
  }
  epoll_event evs[64];
  while (rc == 0 && window.tick()) {
    const int n = ::epoll_wait(ep, evs, 64, 100);
    for (int k = 0; k < n; ++k) {
      const int id = static_cast<int>(evs[k].data.u32);
      Client& c = clients[static_cast<std::size_t>(id)];
      const ssize_t r = ::recv(c.fd, c.in + c.got, kMsg - c.got, 0);
      if (r <= 0) {
        if (r < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        std::fprintf(stderr, "W6: connection %d lost\n", id);
        rc = 1;
        break;
      }
      c.got += static_cast<std::size_t>(r);
      if (c.got < kMsg) continue;
      const std::int64_t done = now_ns();
      if (std::memcmp(c.in, c.out, kMsg) != 0) ++bad;
      if (window.measuring()) {
        ++requests;
        lat_ns.push_back(static_cast<std::uint32_t>(std::min<std::int64_t>(done - c.sent_ns, UINT32_MAX)));
      }
      if (!send_request(c, id)) rc = 1;
    }
  }
  const double server_cpu = window.server_cpu_s();
  const double wall = window.wall_s();
  // Drain the last in-flight replies, then close; the server closes its side and stops.
  for (auto& c : clients) ::close(c.fd);
  ::close(ep);
  server.request_stop();
  server_thread.join();

  auto pct = [&lat_ns](double p) { return echo::percentile_us(lat_ns, p); };
  const double per_req_us = requests > 0 ? server_cpu * 1e6 / static_cast<double>(requests) : 0;
  Line("W6")
      .add("peer", server.loop.backend() == aio::Backend::io_uring ? "spindle-aio-uring" : "spindle-aio")
      .add("conns", conns)
      .add("requests", requests)
      .add("per_s", static_cast<std::int64_t>(static_cast<double>(requests) / wall))
      .add("p50_us", pct(0.50), 1)
      .add("p99_us", pct(0.99), 1)
      .add("server_cpu_us_per_req", per_req_us, 2)
      .emit(options);
  std::fflush(stdout);
  if (bad != 0) {
    std::fprintf(stderr, "W6: %lld replies differed from their request\n", static_cast<long long>(bad));
    return 1;
  }
  if (requests == 0) {
    std::fprintf(stderr, "W6: no request completed\n");
    return 1;
  }
  return rc;
}

const Register reg({.id = "W6",
                    .summary = "TCP echo on 127.0.0.1, 50 conns, one 64-byte request in flight each (aio server)",
                    .variants = {},
                    .params = {echo::connections_param(),
                               echo::backend_param(),
                               {.name = "serve",
                                .help = "serve on this port (0: any) until SIGINT, no load generator",
                                .kind = Param::Kind::port}},
                    .run = run_w6});

}  // namespace
}  // namespace spindle::bench
