#pragma once
/// @file
/// Callback-style connections: `Protocol`, `Transport`, `create_connection`, `create_server`. Python equivalent:
/// `asyncio.Protocol`, `asyncio.Transport`, `loop.create_connection(protocol_factory, ...)`,
/// `loop.create_server(protocol_factory, ...)`. The same connections as the streams (streams.hpp), for code that
/// wants to be called with each chunk of data rather than to await it; TLS, Happy Eyeballs and the server's
/// limits work the same.

#include <concepts>
#include <cstddef>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "spindle/aio/server.hpp"
#include "spindle/aio/streams.hpp"

namespace spindle::aio {

class Transport;

/// What a connection calls. Every callback runs on the loop's thread, never re-entered; an exception thrown from
/// one goes to the loop's exception handler and closes the connection (asyncio's fatal error).
/// **Python equivalent:** `asyncio.Protocol`.
class Protocol {
 public:
  virtual ~Protocol() = default;
  /// The connection is up (and secured, with TLS); keep `transport` to write. Python: `connection_made`.
  virtual void connection_made(Transport& transport) { (void)transport; }
  /// Bytes arrived (only valid during the call). Python: `data_received(data)`.
  virtual void data_received(std::string_view data) { (void)data; }
  /// The peer half-closed. Return true to keep writing (the transport stays open), false to close it.
  /// Python: `eof_received()`.
  virtual bool eof_received() { return false; }
  /// The connection is closed: null after a clean close, else the error. Called once, after connection_made,
  /// in a later loop step. Python: `connection_lost(exc)`.
  virtual void connection_lost(std::exception_ptr error) { (void)error; }
  /// The write buffer went over the high-water mark: stop producing. Python: `pause_writing()`.
  virtual void pause_writing() {}
  /// It drained to the low-water mark: produce again. Python: `resume_writing()`.
  virtual void resume_writing() {}
};

/// A connection as the protocol sees it. Copies share the connection.
///
/// **Thread safety:** the loop's thread only. **Errors:** write() after close() throws InvalidStateError;
/// write() on a failed connection does nothing (the protocol's connection_lost has the error).
/// **Python equivalent:** `asyncio.Transport`.
class Transport {
 public:
  /// An empty transport.
  Transport() noexcept = default;
  /// Internal.
  explicit Transport(std::shared_ptr<detail::StreamTransport> t) noexcept : t_(std::move(t)) {}

  /// Sends `data` (buffered when the kernel refuses). Python: `write(data)`.
  void write(std::string_view data);
  /// Half-closes once the buffer is flushed. Python: `write_eof()`.
  void write_eof();
  /// False for TLS, which has no half-close. Python: `can_write_eof()`.
  bool can_write_eof() const noexcept;
  /// Closes once the buffer is flushed; connection_lost(null) follows. Python: `close()`.
  void close();
  /// Closes now, dropping buffered data. Python: `abort()`.
  void abort() noexcept;
  /// Python: `is_closing()`.
  bool is_closing() const noexcept;
  /// Stops data_received calls until resume_reading (the peer's sends then block: backpressure).
  /// Python: `pause_reading()`.
  void pause_reading();
  /// Python: `resume_reading()`.
  void resume_reading();
  /// Python: `is_reading()`.
  bool is_reading() const noexcept;
  /// Python: `get_write_buffer_size()`.
  std::size_t get_write_buffer_size() const noexcept;
  /// The marks of pause_writing/resume_writing (high 0: 64 KiB / 16 KiB). Python: `set_write_buffer_limits`.
  void set_write_buffer_limits(std::size_t high, std::optional<std::size_t> low = std::nullopt);
  /// "peername" / "sockname". Python: `get_extra_info(name)`.
  std::optional<SockAddr> get_extra_info(std::string_view name) const;
  /// What the TLS handshake agreed on; empty for a plain connection. Python: `get_extra_info('ssl_object')`.
  std::optional<SslInfo> ssl_info() const;
  /// True if this transport refers to a connection.
  bool valid() const noexcept { return t_ != nullptr; }

 private:
  std::shared_ptr<detail::StreamTransport> t_;
};

/// Makes one protocol per connection. Python: the `protocol_factory` callable.
using ProtocolFactory = std::function<std::shared_ptr<Protocol>()>;

namespace detail {
/// Hands a connected transport to `protocol` (connection_made runs now) and returns the Transport.
Transport attach_protocol(const std::shared_ptr<StreamTransport>& t, std::shared_ptr<Protocol> protocol);
Task<std::pair<Transport, std::shared_ptr<Protocol>>> create_connection(ProtocolFactory factory, std::string host,
                                                                        int port, ConnectOptions options);
ConnectionHandler protocol_handler(ProtocolFactory factory);
/// The factory's own protocol type back from create_connection.
template <class P>
Task<std::pair<Transport, std::shared_ptr<P>>> downcast_protocol(
    Task<std::pair<Transport, std::shared_ptr<Protocol>>> connecting) {
  auto [transport, protocol] = co_await std::move(connecting);
  co_return std::pair<Transport, std::shared_ptr<P>>(std::move(transport), std::static_pointer_cast<P>(protocol));
}
}  // namespace detail

/// Connects as open_connection does (TLS, Happy Eyeballs, timeouts: the same options) and hands the connection
/// to a protocol from `factory`: `auto [transport, protocol] = co_await create_connection(factory, host, port)`,
/// with `protocol` of the factory's type. On a g++ with PR c++/100611 a temporary lambda that captures by value
/// something with a destructor is refused at compile time, as by start_server: name the factory first.
/// **Errors:** as open_connection; std::invalid_argument if the factory returns null. Python:
/// `transport, protocol = await loop.create_connection(protocol_factory, host, port, ssl=...)`.
// clang-format off: clang-format 14 mangles requires-clauses
template <class F>
requires std::is_convertible_v < std::invoke_result_t < std::decay_t<F>
& >, std::shared_ptr < Protocol >>
         auto create_connection(F&& factory, std::string host, int port, ConnectOptions options = {}) {
  // clang-format on
  detail::reject_temporary_closure_on_gcc_pr100611<F>();
  using P = typename std::invoke_result_t<std::decay_t<F>&>::element_type;
  // Not a coroutine itself: the factory is copied into a std::function by this call.
  return detail::downcast_protocol<P>(
      detail::create_connection(ProtocolFactory(std::forward<F>(factory)), std::move(host), port, options));
}

/// A server whose connections each get a protocol from `factory` (after the TLS handshake, with `ssl`); the
/// Server is the same as start_server's (close, wait_closed, close_clients, limits). The same compile-time check
/// as create_connection. Python: `await loop.create_server(protocol_factory, host, port, ssl=...)`.
// clang-format off
template <class F>
  requires std::constructible_from<ProtocolFactory, F&&>
Task<Server> create_server(F&& factory, std::string host, int port, ServerOptions options = {}) {
  // clang-format on
  detail::reject_temporary_closure_on_gcc_pr100611<F>();
  return start_server(detail::protocol_handler(ProtocolFactory(std::forward<F>(factory))), std::move(host), port,
                      options);
}

}  // namespace spindle::aio
