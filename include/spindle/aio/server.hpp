#pragma once
/// @file
/// TCP and Unix-domain servers: `start_server`, `start_unix_server`, `Server`. Python equivalent:
/// `asyncio.start_server`, `asyncio.start_unix_server`, `asyncio.Server`.

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
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
};

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

 private:
  std::shared_ptr<detail::ServerState> s_;
};

/// Listens on `host`:`port` (port 0: a free port; host "" : every interface, IPv4 and IPv6; names resolved off
/// the loop thread) and runs `handler` for each connection. Python: `await asyncio.start_server(cb, host, port)`.
Task<Server> start_server(ConnectionHandler handler, std::string host, int port, ServerOptions options = {});
/// Listens on the Unix-domain socket `path` (an existing socket file there is replaced; the file is removed on
/// close). Python: `await asyncio.start_unix_server(cb, path)`.
Task<Server> start_unix_server(ConnectionHandler handler, std::string path, ServerOptions options = {});

}  // namespace spindle::aio
