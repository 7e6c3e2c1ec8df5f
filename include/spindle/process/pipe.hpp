#pragma once
/// @file
/// `Pipe<T>()`: two connected `Connection<T>` ends. Each `send` is one SOCK_SEQPACKET message (the codec's
/// bytes), so a message is never torn or merged; a message over the connection's bound is a ProtocolError,
/// rejected before it is allocated. Python: `multiprocessing.Pipe(duplex)`.

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "spindle/process/codec.hpp"

namespace spindle::process {

namespace detail {
/// One end: a descriptor and the message bound.
class ConnectionCore {
 public:
  ConnectionCore(int fd, std::size_t max_bytes) noexcept : fd_(fd), max_(max_bytes) {}
  ConnectionCore(const ConnectionCore&) = delete;
  ConnectionCore& operator=(const ConnectionCore&) = delete;
  ~ConnectionCore();
  void send(const std::string& bytes);
  /// False on timeout; throws EOFError-like spindle::Error at EOF.
  bool recv(std::string& bytes, std::optional<std::chrono::nanoseconds> timeout);
  bool poll(std::chrono::nanoseconds timeout) const;
  int fd() const noexcept { return fd_; }
  std::size_t max() const noexcept { return max_; }
  void close() noexcept;

 private:
  int fd_;
  std::size_t max_;
};
/// Both ends of a new socket pair.
std::pair<std::shared_ptr<ConnectionCore>, std::shared_ptr<ConnectionCore>> make_pipe(bool duplex, std::size_t max);
std::shared_ptr<ConnectionCore> adopt_connection(int fd, std::size_t max);
}  // namespace detail

/// One end of a Pipe. Copies share the end.
///
/// **Thread safety:** one sender and one receiver at a time per end. **Errors:** `recv` throws
/// spindle::Error ("EOF") when the other end is closed and drained, ProtocolError for an oversize or
/// malformed message; `send` throws std::system_error if the peer is gone.
/// **Python equivalent:** `multiprocessing.connection.Connection`.
template <class T>
class Connection {
 public:
  Connection() = default;
  explicit Connection(std::shared_ptr<detail::ConnectionCore> core) noexcept : core_(std::move(core)) {}
  /// Python: `send(obj)`.
  void send(const T& value) { core_->send(encode(value)); }
  /// Python: `recv()`.
  T recv() {
    std::string bytes;
    core_->recv(bytes, std::nullopt);
    return decode<T>(bytes);
  }
  /// True if a message (or EOF) is ready within `timeout`. Python: `poll(timeout)`.
  bool poll(std::chrono::nanoseconds timeout = std::chrono::nanoseconds::zero()) const { return core_->poll(timeout); }
  /// Closes this end. Python: `close()`.
  void close() noexcept { core_->close(); }

  /// Codec: by handle.
  template <class A>
  void save(A& ar) const {
    ar(ar.add_fd(core_->fd()), static_cast<std::uint64_t>(core_->max()));
  }
  /// Codec: by handle.
  template <class A>
  void load(A& ar) {
    std::uint32_t index = 0;
    std::uint64_t max = 0;
    ar(index, max);
    core_ = detail::adopt_connection(ar.take_fd(index), static_cast<std::size_t>(max));
  }

 private:
  std::shared_ptr<detail::ConnectionCore> core_;
};

/// A connected pair. With `duplex == false` the first end only receives and the second only sends.
/// Python: `multiprocessing.Pipe(duplex=True)`.
template <class T>
std::pair<Connection<T>, Connection<T>> Pipe(bool duplex = true, std::size_t max_message_bytes = std::size_t{1} << 20) {
  auto [a, b] = detail::make_pipe(duplex, max_message_bytes);
  return {Connection<T>(std::move(a)), Connection<T>(std::move(b))};
}

}  // namespace spindle::process
