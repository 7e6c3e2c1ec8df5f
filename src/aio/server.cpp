// start_server / start_unix_server: listening sockets, accept callbacks with EMFILE back-off, one task per
// connection.

#include "spindle/aio/server.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <stdexcept>
#include <unordered_map>

#include "spindle/aio/detail/io_wait.hpp"
#include "spindle/aio/event_loop.hpp"

namespace spindle::aio {
namespace detail {

struct ServerState : std::enable_shared_from_this<ServerState> {
  ServerState(ConnectionHandler h, ServerOptions o) : handler(std::move(h)), opts(o) {
    if (opts.ssl != nullptr) ssl = *opts.ssl;
    opts.ssl = nullptr;  // the copy above is what connections use
    if (ssl && !ssl->is_server())
      throw std::invalid_argument(
          "start_server: ssl must be a server context (SslContext(SslProtocol::TLS_SERVER) or "
          "create_default_context(Purpose::CLIENT_AUTH))");
  }
  ~ServerState() { close_listeners(); }
  ServerState(const ServerState&) = delete;
  ServerState& operator=(const ServerState&) = delete;

  EventLoop* loop = nullptr;  // set by listen: a server is created before it is bound to a loop
  LoopCore* core = nullptr;
  ConnectionHandler handler;
  ServerOptions opts;
  std::optional<SslContext> ssl;
  std::vector<int> listeners;
  std::string unix_path;
  bool unix_server = false;
  bool accepting = false;
  bool closed = false;
  std::size_t active = 0;
  std::size_t accepted = 0;
  std::size_t tls_failures = 0;
  std::size_t backoffs = 0;
  std::uint64_t next_id = 0;
  std::unordered_map<std::uint64_t, std::weak_ptr<StreamTransport>> conns;
  TimerHandle backoff;
  bool backing_off = false;
  WaitList serve_waiters;
  WaitList closed_waiters;

  bool loop_usable() const noexcept { return loop != nullptr && loop_alive(core) && !loop->is_closed(); }

  /// The first listen(): binds the server to the running loop.
  void attach() {
    if (closed) throw InvalidStateError("server is closed");
    if (loop != nullptr) throw InvalidStateError("server is already listening");
    if (!handler) throw std::invalid_argument("server: empty connection handler");
    EventLoop& l = EventLoop::get_running_loop();
    loop = &l;
    core = &l.core();
  }

  void start_accepting() {
    if (accepting || closed || backing_off) return;
    if (opts.max_connections != 0 && active >= opts.max_connections) return;
    for (int fd : listeners) loop->add_reader(fd, [this, fd] { on_accept(fd); });
    accepting = true;
  }
  void stop_accepting() noexcept {
    if (!accepting) return;
    accepting = false;
    if (!loop_usable()) return;
    for (int fd : listeners) loop->remove_reader(fd);
  }

  void on_accept(int lfd) {
    const int rounds = opts.backlog > 0 ? opts.backlog : 1;
    for (int i = 0; i < rounds && accepting; ++i) {
      SockAddr peer;
      peer.len = sizeof peer.storage;
      const int c = ::accept4(lfd, reinterpret_cast<sockaddr*>(&peer.storage), &peer.len, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (c < 0) {
        const int e = errno;
        if (e == EAGAIN || e == EWOULDBLOCK) return;
        if (e == EINTR || e == ECONNABORTED || e == EPROTO) continue;
        if (e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM) {
          // Out of descriptors: stop accepting for a while (the listener would stay readable and spin the loop).
          ++backoffs;
          stop_accepting();
          backing_off = true;
          backoff = loop->call_later(std::chrono::milliseconds(100), [this] {
            backing_off = false;
            start_accepting();
          });
          return;
        }
        loop->call_exception_handler(
            ExceptionContext{"accept4 failed",
                             std::make_exception_ptr(std::system_error(e, std::generic_category(), "accept4")),
                             {},
                             {}});
        return;
      }
      if (!unix_server && opts.nodelay) {
        const int one = 1;
        ::setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      }
      std::shared_ptr<StreamTransport> t;
      try {
        t = make_stream_transport(c, true, true, true, opts.limit);
      } catch (...) {
        continue;  // make_stream_transport closed the fd; one connection lost, the server goes on
      }
      const std::uint64_t id = ++next_id;
      conns.emplace(id, t);
      ++active;
      ++accepted;
      loop->create_task(run_connection(shared_from_this(), std::move(t), id), "aio-connection");
      if (opts.max_connections != 0 && active >= opts.max_connections) stop_accepting();
    }
  }

  static Task<void> run_connection(std::shared_ptr<ServerState> s, std::shared_ptr<StreamTransport> t,
                                   std::uint64_t id) {
    std::exception_ptr err;
    bool secured = true;
    if (s->ssl) {
      // The handshake runs in this connection's task, so a peer that stalls or speaks plain text costs only
      // this connection; start_tls aborts the transport when it fails.
      try {
        Task<void> handshake = start_tls(t, *s->ssl, {}, s->opts.ssl_handshake_timeout, s->opts.ssl_shutdown_timeout);
        co_await std::move(handshake);
      } catch (const CancelledError&) {
        err = std::current_exception();
        secured = false;
      } catch (...) {
        ++s->tls_failures;
        secured = false;
      }
    }
    if (secured) {
      try {
        Task<void> served = s->handler(StreamReader(t), StreamWriter(t));  // a named local: see streams.cpp
        co_await std::move(served);
      } catch (...) {
        err = std::current_exception();
      }
    }
    close_transport(*t);
    // The connection counts until its fd is closed (a flush to a slow peer included): wait_closed() then
    // means every descriptor is released, and close_clients() can still abort it.
    bool cancelled = false;
    try {
      StreamWriter closing(t);
      Task<void> closed = closing.wait_closed();
      co_await std::move(closed);
    } catch (...) {
      cancelled = true;
      if (!err) err = std::current_exception();
    }
    if (cancelled) abort_transport(*t);
    t.reset();
    s->connection_done(id);
    if (err) {
      try {
        std::rethrow_exception(err);
      } catch (const CancelledError&) {
        throw;
      } catch (...) {
        s->loop->call_exception_handler(ExceptionContext{"Unhandled exception in client_connected_cb", err, {}, {}});
      }
    }
  }

  void connection_done(std::uint64_t id) noexcept {
    conns.erase(id);
    --active;
    if (!closed) {
      try {
        start_accepting();
      } catch (...) {
      }
    }
    if (closed && active == 0) closed_waiters.wake_all();
  }

  void close_listeners() noexcept {
    stop_accepting();
    backoff.cancel();
    for (int fd : listeners) ::close(fd);
    listeners.clear();
    if (unix_server && !unix_path.empty()) {
      ::unlink(unix_path.c_str());
      unix_path.clear();
    }
  }

  void close() noexcept {
    if (closed) return;
    closed = true;
    close_listeners();
    serve_waiters.wake_all();
    if (active == 0) closed_waiters.wake_all();
  }

  void listen_on(const SockAddr& addr) {
    FdGuard g(make_socket(addr.family(), SOCK_STREAM));
    const int one = 1;
    if (addr.family() != AF_UNIX && opts.reuse_address)
      ::setsockopt(g.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (addr.family() == AF_INET6) ::setsockopt(g.get(), IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (::bind(g.get(), addr.raw(), addr.len) < 0) {
      throw std::system_error(errno, std::generic_category(), "bind " + addr.to_string());
    }
    if (::listen(g.get(), opts.backlog) < 0) throw_errno("listen");
    listeners.push_back(g.release());
  }
};

}  // namespace detail

void Server::close() {
  if (s_) s_->close();
}

void Server::close_clients() {
  if (!s_) return;
  s_->close();
  auto conns = s_->conns;  // aborting may end handlers later, never re-entrantly; copy anyway
  for (auto& [id, w] : conns) {
    if (auto t = w.lock()) detail::abort_transport(*t);
  }
}

Task<void> Server::wait_closed() {
  if (!s_) co_return;
  auto s = s_;
  while (!(s->closed && s->active == 0)) co_await detail::ListWait(s->closed_waiters);
}

Task<void> Server::serve_forever() {
  if (!s_) throw InvalidStateError("empty server");
  auto s = s_;
  if (s->closed) throw InvalidStateError("server is closed");
  try {
    while (!s->closed) co_await detail::ListWait(s->serve_waiters);
  } catch (...) {
    s->close();
    throw;
  }
}

bool Server::is_serving() const noexcept { return s_ && !s_->closed && s_->loop != nullptr; }

std::vector<SockAddr> Server::sockets() const {
  std::vector<SockAddr> out;
  if (!s_) return out;
  for (int fd : s_->listeners) {
    SockAddr a;
    a.len = sizeof a.storage;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&a.storage), &a.len) == 0) out.push_back(a);
  }
  return out;
}

int Server::port() const {
  const auto s = sockets();
  return s.empty() ? 0 : s.front().port();
}

std::size_t Server::active_connections() const noexcept { return s_ ? s_->active : 0; }
std::size_t Server::accepted() const noexcept { return s_ ? s_->accepted : 0; }
std::size_t Server::accept_backoffs() const noexcept { return s_ ? s_->backoffs : 0; }
std::size_t Server::tls_handshake_failures() const noexcept { return s_ ? s_->tls_failures : 0; }

Server::Server(ConnectionHandler handler, ServerOptions options)
    : s_(std::make_shared<detail::ServerState>(std::move(handler), options)) {}

Task<void> Server::listen(std::string host, int port) {
  if (!s_) throw InvalidStateError("empty server");
  auto s = s_;
  s->attach();
  const std::vector<AddrInfo> infos = co_await getaddrinfo(host, port, SOCK_STREAM, true);
  if (s->closed) co_return;  // closed while the name was resolved
  int bound_port = port;
  for (const AddrInfo& ai : infos) {
    SockAddr a = ai.addr;
    if (bound_port != port) {  // port 0 and several addresses: the same port on all of them
      if (a.family() == AF_INET)
        reinterpret_cast<sockaddr_in*>(&a.storage)->sin_port = htons(static_cast<std::uint16_t>(bound_port));
      if (a.family() == AF_INET6)
        reinterpret_cast<sockaddr_in6*>(&a.storage)->sin6_port = htons(static_cast<std::uint16_t>(bound_port));
    }
    s->listen_on(a);
    if (bound_port == 0) bound_port = Server(s).port();
  }
  s->start_accepting();
}

Task<void> Server::listen_unix(std::string path) {
  if (!s_) throw InvalidStateError("empty server");
  auto s = s_;
  s->attach();
  const SockAddr addr = SockAddr::unix_path(path);
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) ::unlink(path.c_str());  // a stale socket file
  s->unix_server = true;
  s->listen_on(addr);
  s->unix_path = path;
  s->start_accepting();
  co_return;
}

namespace detail {

namespace {

Task<Server> listen_tcp(Server server, std::string host, int port) {
  Task<void> listening = server.listen(std::move(host), port);  // a named local: see streams.cpp
  co_await std::move(listening);
  co_return server;
}

Task<Server> listen_unix(Server server, std::string path) {
  Task<void> listening = server.listen_unix(std::move(path));
  co_await std::move(listening);
  co_return server;
}

}  // namespace

// Not coroutines: the server (and its copy of options.ssl) is made by the call itself, so nothing the options
// point to is read later, when the task runs.
Task<Server> start_server(ConnectionHandler handler, std::string host, int port, ServerOptions options) {
  return listen_tcp(Server(std::move(handler), options), std::move(host), port);
}

Task<Server> start_unix_server(ConnectionHandler handler, std::string path, ServerOptions options) {
  return listen_unix(Server(std::move(handler), options), std::move(path));
}

}  // namespace detail

}  // namespace spindle::aio
