#pragma once
/// @file
/// Stream I/O for spindle::aio: `StreamReader`, `StreamWriter`, `open_connection`, `open_unix_connection`.
/// Python equivalent: `asyncio.StreamReader`, `asyncio.StreamWriter`, `asyncio.open_connection`.
///
/// Design (docs/async-io.md): one transport per connection owns a non-blocking, close-on-exec fd and keeps a
/// persistent, level-triggered reader registered with the loop: readiness reads straight into the reader's
/// buffer (one recv per readiness), so `read()` of buffered data costs no system call. Reading pauses when the
/// buffer holds more than 2 x limit bytes and nobody waits. Writes go straight to the socket (MSG_NOSIGNAL:
/// never SIGPIPE); only what the kernel refuses is buffered and flushed on EPOLLOUT.

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "spindle/aio/net.hpp"
#include "spindle/aio/ssl.hpp"
#include "spindle/aio/task.hpp"

namespace spindle::aio {

namespace detail {
class StreamTransport;
}

/// Default bound on a TLS handshake (Python: `ssl_handshake_timeout`, 60 s).
inline constexpr std::chrono::nanoseconds kDefaultSslHandshakeTimeout = std::chrono::seconds(60);
/// Default bound on flushing a TLS connection's close_notify and last data (Python: `ssl_shutdown_timeout`, 30 s).
inline constexpr std::chrono::nanoseconds kDefaultSslShutdownTimeout = std::chrono::seconds(30);

/// Options of StreamWriter::start_tls (designated initializers). Trivially destructible, like every options
/// struct of spindle::aio: g++ 12 destroys a braced temporary twice when it has a destructor and sits in a
/// co_await expression (`co_await w.start_tls(ctx, {...})`), so the strings are views, copied by the call.
struct StartTlsOptions {
  std::string_view server_hostname = {};  ///< the name a client checks the certificate against and sends as SNI
  std::chrono::nanoseconds ssl_handshake_timeout = kDefaultSslHandshakeTimeout;  ///< zero: no bound
  std::chrono::nanoseconds ssl_shutdown_timeout = kDefaultSslShutdownTimeout;    ///< zero: no bound
};

/// Default limit of readline()/readuntil() (Python: `asyncio.streams._DEFAULT_LIMIT`, 64 KiB).
inline constexpr std::size_t kDefaultStreamLimit = 64 * 1024;

/// Reads from a connection (or a pipe).
///
/// **Thread safety:** the loop's thread only; one read operation at a time (a second concurrent read throws
/// InvalidStateError, as asyncio's RuntimeError). **Errors:** a connection error (reset by peer, ...) is
/// std::system_error once the buffered bytes are consumed; readline()/readuntil() throw LimitOverrunError and
/// readexactly() IncompleteReadError (see each). **Cancellation:** every read is cancel-safe: bytes are only
/// taken from the buffer when the read completes, so a cancelled read (e.g. under wait_for) loses nothing and
/// the connection stays usable. **Python equivalent:** `asyncio.StreamReader`.
class StreamReader {
 public:
  /// An empty reader (valid() is false).
  StreamReader() noexcept = default;
  /// Internal: a reader over `t`.
  explicit StreamReader(std::shared_ptr<detail::StreamTransport> t) noexcept : t_(std::move(t)) {}

  /// Up to `n` bytes (n < 0: everything until EOF); empty at EOF. Python: `await reader.read(n=-1)`.
  Task<std::string> read(std::ptrdiff_t n = -1);
  /// One line including '\n' (at EOF: the partial last line, or empty). **Errors:** LimitOverrunError when the
  /// line is longer than the limit; the offending bytes (through the separator if it has arrived, else all
  /// that is buffered) are discarded so the connection stays usable, as asyncio does (a server usually closes
  /// it). Python: `await reader.readline()`.
  Task<std::string> readline();
  /// Data up to and including `separator`. **Errors:** LimitOverrunError if the separator is not within
  /// `limit` bytes (the data stays buffered); IncompleteReadError (with the partial data, which is consumed) at
  /// EOF. Python: `await reader.readuntil(separator=b'\n')`.
  Task<std::string> readuntil(std::string separator = "\n");
  /// Exactly `n` bytes. **Errors:** IncompleteReadError with the partial data at EOF.
  /// Python: `await reader.readexactly(n)`.
  Task<std::string> readexactly(std::size_t n);
  /// True when the buffer is empty and EOF was seen. Python: `at_eof()`.
  bool at_eof() const noexcept;
  /// The limit of readline()/readuntil().
  std::size_t limit() const noexcept;
  /// Bytes received and not yet read (at most about 2 x limit + 64 KiB while nobody reads: reading pauses).
  std::size_t buffered() const noexcept;
  /// True if this reader refers to a stream.
  bool valid() const noexcept { return t_ != nullptr; }

 private:
  std::shared_ptr<detail::StreamTransport> t_;
};

/// Writes to a connection (or a pipe).
///
/// **Thread safety:** the loop's thread only. **Errors:** write() after close() throws InvalidStateError;
/// write() to a connection that failed does nothing (Python too) and drain() then throws the error
/// (std::system_error, e.g. EPIPE/ECONNRESET). **Cancellation:** a cancelled drain() or wait_closed() leaves the
/// data buffered and the connection as it was. **Python equivalent:** `asyncio.StreamWriter`.
class StreamWriter {
 public:
  /// An empty writer.
  StreamWriter() noexcept = default;
  /// Internal: a writer over `t`.
  explicit StreamWriter(std::shared_ptr<detail::StreamTransport> t) noexcept : t_(std::move(t)) {}

  /// Sends `data`: straight to the socket when nothing is buffered; the rest is buffered and flushed when the
  /// socket is writable. Python: `writer.write(data)`.
  void write(std::string_view data);
  /// write() of each piece. Python: `writer.writelines(data)`.
  void writelines(const std::vector<std::string>& pieces);
  /// Half-closes the connection (SHUT_WR) once the buffer is flushed. Python: `write_eof()`.
  void write_eof();
  /// Suspends while more than the high-water mark (64 KiB) is buffered, until it drops to the low-water mark
  /// (16 KiB): the backpressure a fast producer needs. Python: `await writer.drain()`.
  Task<void> drain();
  /// Closes once the buffer is flushed (the reader then sees EOF). Idempotent. Python: `writer.close()`.
  void close();
  /// Python: `is_closing()`.
  bool is_closing() const noexcept;
  /// Waits until the fd is closed. Python: `await writer.wait_closed()`.
  Task<void> wait_closed();
  /// Bytes waiting in the write buffer. Python: `transport.get_write_buffer_size()`.
  std::size_t write_buffer_size() const noexcept;
  /// Sets the marks (high 0: the defaults 64 KiB / 16 KiB; low defaults to high / 4).
  /// Python: `transport.set_write_buffer_limits(high, low)`.
  void set_write_buffer_limits(std::size_t high, std::optional<std::size_t> low = std::nullopt);
  /// "peername" / "sockname" (SockAddr), "socket" / "fd" (int). Empty optional for anything else or a pipe.
  /// Python: `writer.get_extra_info(name)`.
  std::optional<SockAddr> get_extra_info(std::string_view name) const;
  /// Upgrades this connection to TLS (STARTTLS): the side is the context's (a server context answers the
  /// handshake); bytes received and not yet read are taken as the peer's first TLS bytes. Returns once the
  /// handshake is done; the same reader and writer then carry plaintext over TLS. **Errors:** SslError (the
  /// handshake failed), TimeoutError (it took longer than `ssl_handshake_timeout`); either way the connection is
  /// closed. InvalidStateError if the stream is already TLS, closing, or a pipe. Python (3.11):
  /// `await writer.start_tls(sslcontext, server_hostname=, ssl_handshake_timeout=)`.
  Task<void> start_tls(SslContext context, StartTlsOptions options = {});
  /// What the TLS handshake agreed on; empty for a plain stream. Python: `writer.get_extra_info('ssl_object')`,
  /// `('cipher')`, `('peercert')`.
  std::optional<SslInfo> ssl_info() const;
  /// The underlying fd (-1 once closed).
  int fileno() const noexcept;
  /// True if this writer refers to a stream.
  bool valid() const noexcept { return t_ != nullptr; }
  /// Internal: the transport.
  const std::shared_ptr<detail::StreamTransport>& transport() const noexcept { return t_; }

 private:
  std::shared_ptr<detail::StreamTransport> t_;
};

/// A reader/writer pair (structured binding: `auto [r, w] = co_await open_connection(...)`).
struct StreamPair {
  StreamReader reader;  ///< the read side
  StreamWriter writer;  ///< the write side
};

/// Options of open_connection (designated initializers).
struct ConnectOptions {
  std::size_t limit = kDefaultStreamLimit;  ///< readline()/readuntil() limit
  /// Bound on resolution plus connect (plus the TLS handshake with `ssl`; zero: none); TimeoutError on expiry,
  /// nothing leaked.
  std::chrono::nanoseconds timeout = std::chrono::nanoseconds::zero();
  bool nodelay = true;  ///< TCP_NODELAY (asyncio sets it on every TCP stream since 3.7)
  /// Happy Eyeballs (RFC 8305): for a name with several addresses, start the next attempt this long after the
  /// previous one (or as soon as it fails) instead of waiting for it; the first to connect wins, the others are
  /// cancelled and closed. Zero: one address after another. RFC 8305 recommends 250 ms.
  /// Python: `happy_eyeballs_delay=`.
  std::chrono::nanoseconds happy_eyeballs_delay = std::chrono::nanoseconds::zero();
  /// Reorder the addresses by family: this many of the first family, then alternate; 0: as resolved; -1 (Python's
  /// None): 1 with happy_eyeballs_delay, else 0. Python: `interleave=`.
  int interleave = -1;
  /// TLS: connect, then handshake with this client context (Python: `ssl=ctx`; a `create_default_context()` for
  /// Python's `ssl=True`). A pointer, so that these options stay trivially destructible (see StartTlsOptions):
  /// the call copies the context (which shares its settings), so it need not outlive the call.
  const SslContext* ssl = nullptr;
  /// The name the certificate must carry and SNI sends; empty: `host`. Python: `server_hostname=`.
  std::string_view server_hostname = {};
  /// Bound on the TLS handshake (zero: none); TimeoutError on expiry. Python: `ssl_handshake_timeout=`.
  std::chrono::nanoseconds ssl_handshake_timeout = kDefaultSslHandshakeTimeout;
  /// Bound on flushing close_notify when the writer closes (zero: none); the connection is then cut.
  /// Python: `ssl_shutdown_timeout=`.
  std::chrono::nanoseconds ssl_shutdown_timeout = kDefaultSslShutdownTimeout;
};

static_assert(std::is_trivially_destructible_v<StartTlsOptions> && std::is_trivially_destructible_v<ConnectOptions>,
              "g++ 12 would destroy a braced temporary of these twice inside co_await");

/// Connects to `host`:`port` (IPv4 or IPv6; names resolved off the loop thread), trying each address in turn;
/// with `options.ssl`, then does the TLS handshake (the streams carry plaintext over TLS).
/// **Errors:** GaiError, std::system_error (ECONNREFUSED, ...) of the last attempt, TimeoutError; with TLS,
/// SslError (a certificate that does not verify names why) and TimeoutError (ssl_handshake_timeout).
/// **Cancellation:** the half-open socket is closed, nothing stays registered.
/// **Python equivalent:** `await asyncio.open_connection(host, port, limit=...)`.
Task<StreamPair> open_connection(std::string host, int port, ConnectOptions options = {});
/// As open_connection, over a Unix-domain socket at `path`. Python: `asyncio.open_unix_connection(path)`.
Task<StreamPair> open_unix_connection(std::string path, ConnectOptions options = {});

namespace detail {
/// Wraps a connected (or pipe) fd, which the transport then owns. `is_socket` picks send/recv (MSG_NOSIGNAL)
/// over write/read; `readable`/`writable` say which sides exist (a pipe has one).
std::shared_ptr<StreamTransport> make_stream_transport(int fd, bool is_socket, bool readable, bool writable,
                                                       std::size_t limit);
/// Starts TLS on `t` and waits for the handshake (start_tls, open_connection with ssl, a TLS server); on failure
/// the transport is aborted and the error rethrown.
Task<void> start_tls(std::shared_ptr<StreamTransport> t, SslContext context, std::string server_hostname,
                     std::chrono::nanoseconds handshake_timeout, std::chrono::nanoseconds shutdown_timeout);
/// Happy Eyeballs over `addresses` (in this order): a connected, non-blocking fd the caller owns.
/// **Errors:** the last attempt's error when every attempt failed; GaiError for no address.
Task<int> staggered_connect(std::vector<SockAddr> addresses, std::chrono::nanoseconds delay);
/// Python's _interleave_addrinfos: `first_family_count` addresses of the first family, then one of each family in
/// turn (0: unchanged).
std::vector<SockAddr> interleave_families(std::vector<SockAddr> addresses, std::size_t first_family_count);
/// Closes the transport now (no flush), e.g. when a server drops a connection.
void abort_transport(StreamTransport& t) noexcept;
/// StreamWriter::close() on the transport (flush, then close).
void close_transport(StreamTransport& t);
}  // namespace detail

}  // namespace spindle::aio
