#pragma once
/// @file
/// TCP and Unix-domain servers: `start_server`, `start_unix_server`, `Server`. Python equivalent:
/// `asyncio.start_server`, `asyncio.start_unix_server`, `asyncio.Server`.

#include <concepts>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "spindle/aio/net.hpp"
#include "spindle/aio/streams.hpp"
#include "spindle/aio/task.hpp"

namespace spindle::aio {

namespace detail {
struct ServerState;
}

/// What a server runs for each connection, as its own task. The server closes the writer (flushing it) when
/// the handler returns or throws; an exception other than CancelledError goes to the loop's exception handler
/// and costs only that connection. Python: the `client_connected_cb` coroutine.
using ConnectionHandler = std::function<Task<void>(StreamReader, StreamWriter)>;

/// Options of start_server (designated initializers).
struct ServerOptions {
  int backlog = 100;                        ///< listen() backlog (Python's default)
  std::size_t limit = kDefaultStreamLimit;  ///< each connection's reader limit
  /// At most this many connections at once (0: no limit): accepting pauses at the limit and resumes when one
  /// ends; the kernel's backlog holds the rest.
  std::size_t max_connections = 0;
  bool reuse_address = true;  ///< SO_REUSEADDR (Python's default on POSIX)
  bool nodelay = true;        ///< TCP_NODELAY on accepted TCP connections
  /// TLS: each connection's handshake runs (with this server context) before the handler sees it; one that
  /// fails or times out costs only its connection (counted by Server::tls_handshake_failures()).
  /// Python: `start_server(..., ssl=ctx)`.
  /// (A pointer, so that the options stay trivially destructible, as ConnectOptions; the server copies the
  /// context when it is created.)
  const SslContext* ssl = nullptr;
  /// Bound on each connection's TLS handshake (zero: none): a peer that stalls is cut. Python:
  /// `ssl_handshake_timeout=`.
  std::chrono::nanoseconds ssl_handshake_timeout = kDefaultSslHandshakeTimeout;
  /// Bound on flushing close_notify and the last data when a TLS connection closes (zero: none).
  /// Python: `ssl_shutdown_timeout=`.
  std::chrono::nanoseconds ssl_shutdown_timeout = kDefaultSslShutdownTimeout;
};

static_assert(std::is_trivially_destructible_v<ServerOptions>,
              "g++ 12 would destroy a braced temporary of these twice inside co_await");

/// A listening server. Accepting runs as loop callbacks (no task): up to `backlog` accept4() calls per
/// readiness, every socket non-blocking and close-on-exec. When accept fails for lack of descriptors
/// (EMFILE/ENFILE/ENOBUFS/ENOMEM), the server stops accepting for 100 ms and then retries, as asyncio does:
/// connections already served are unaffected.
///
/// **Thread safety:** the loop's thread only. **Errors:** start_server throws std::system_error (EADDRINUSE,
/// ...) or GaiError. **Cancellation:** cancelling serve_forever() closes the server; wait_closed() may be
/// cancelled freely. **Python equivalent:** `asyncio.Server` (3.12 semantics: wait_closed waits for the
/// connections' handlers).
class Server {
 public:
  /// An empty server.
  Server() noexcept = default;
  /// Internal.
  explicit Server(std::shared_ptr<detail::ServerState> s) noexcept : s_(std::move(s)) {}
  /// A server that will run `handler` for each connection, not yet listening: listen() binds it. The two-step
  /// form of start_server -- the handler is stored by a call that awaits nothing -- safe for any capturing
  /// lambda on every compiler (see README.md, "Compilers"). Python: `loop.create_server(cb, start_serving=False)`.
  explicit Server(ConnectionHandler handler, ServerOptions options = {});

  /// Listens on `host`:`port` (as start_server) and starts accepting. **Errors:** InvalidStateError if this
  /// server already listens or was closed; std::system_error / GaiError as start_server. Python:
  /// `await server.start_serving()` after binding.
  Task<void> listen(std::string host, int port);
  /// Listens on the Unix-domain socket `path` (as start_unix_server) and starts accepting.
  Task<void> listen_unix(std::string path);

  /// Stops listening (closes the listening sockets); connections go on. Idempotent. Python: `close()`.
  void close();
  /// Closes the server and every connection now (no flush). Python 3.13: `close_clients()` + `abort_clients()`.
  void close_clients();
  /// Waits until the server is closed and every connection handler has finished. Python: `wait_closed()`.
  Task<void> wait_closed();
  /// Serves until cancelled (or close()); closes the server on the way out. Python: `serve_forever()`.
  Task<void> serve_forever();
  /// Python: `is_serving()`.
  bool is_serving() const noexcept;
  /// The bound addresses (the real port when 0 was asked for). Python: `[s.getsockname() for s in sockets]`.
  std::vector<SockAddr> sockets() const;
  /// The port of the first listening socket (0 for a Unix server).
  int port() const;
  /// Connections being served now.
  std::size_t active_connections() const noexcept;
  /// Connections accepted so far.
  std::size_t accepted() const noexcept;
  /// accept() failures that made the server back off (EMFILE and friends).
  std::size_t accept_backoffs() const noexcept;
  /// Connections dropped because their TLS handshake failed or timed out (asyncio logs these in debug mode).
  std::size_t tls_handshake_failures() const noexcept;

 private:
  std::shared_ptr<detail::ServerState> s_;
};

namespace detail {
Task<Server> start_server(ConnectionHandler handler, std::string host, int port, ServerOptions options);
Task<Server> start_unix_server(ConnectionHandler handler, std::string path, ServerOptions options);
}  // namespace detail

/// Listens on `host`:`port` (port 0: a free port; host "" : every interface, IPv4 and IPv6; names resolved off
/// the loop thread) and runs `handler` for each connection. On a g++ with PR c++/100611 (SPINDLE_GCC_PR100611)
/// a temporary lambda that captures by value something with a destructor is refused at compile time, because
/// that compiler destroys it twice inside the co_await: name the handler first, capture by reference, or use
/// `Server(handler)` + `listen()`. Python: `await asyncio.start_server(cb, host, port)`.
// clang-format off: clang-format 14 mangles requires-clauses
template <class H>
requires std::constructible_from<ConnectionHandler, H&&> Task<Server> start_server(H&& handler, std::string host,
                                                                                   int port,
                                                                                   ServerOptions options = {}) {
  // clang-format on
  detail::reject_temporary_closure_on_gcc_pr100611<H>();
  return detail::start_server(ConnectionHandler(std::forward<H>(handler)), std::move(host), port, options);
}
/// Listens on the Unix-domain socket `path` (an existing socket file there is replaced; the file is removed on
/// close). The same compile-time check as start_server. Python: `await asyncio.start_unix_server(cb, path)`.
// clang-format off: clang-format 14 mangles requires-clauses
template <class H>
requires std::constructible_from<ConnectionHandler, H&&> Task<Server> start_unix_server(H&& handler, std::string path,
                                                                                        ServerOptions options = {}) {
  // clang-format on
  detail::reject_temporary_closure_on_gcc_pr100611<H>();
  return detail::start_unix_server(ConnectionHandler(std::forward<H>(handler)), std::move(path), options);
}

}  // namespace spindle::aio
