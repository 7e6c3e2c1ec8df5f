#pragma once
/// @file
/// UDP endpoints: `create_datagram_endpoint`, `DatagramEndpoint` with awaitable `sendto` / `recvfrom`.
/// Python equivalent: `loop.create_datagram_endpoint` (with awaitables in place of a protocol's callbacks;
/// like `loop.sock_sendto` / `loop.sock_recvfrom`).

#include <cstddef>
#include <memory>
#include <optional>
#include <string>

#include "spindle/aio/net.hpp"
#include "spindle/aio/task.hpp"

namespace spindle::aio {

/// One received datagram.
struct Datagram {
  std::string data;  ///< the payload (truncated to the buffer size asked for)
  SockAddr addr;     ///< the sender
};

namespace detail {
struct UdpState;
}

/// A UDP socket (non-blocking, close-on-exec). Each call tries the socket first and waits for readiness only
/// when it would block.
///
/// **Thread safety:** the loop's thread only; at most one pending recvfrom and one pending sendto per endpoint
/// (a second waiter would replace the first's readiness registration). **Errors:** std::system_error (ECONNREFUSED
/// after an ICMP error on a connected endpoint, EMSGSIZE, ...). **Cancellation:** a cancelled recvfrom/sendto has
/// received or sent nothing; its readiness registration is removed. **Python equivalent:** `asyncio.DatagramTransport`
/// (`sendto`) plus `loop.sock_recvfrom`.
class DatagramEndpoint {
 public:
  /// An empty endpoint.
  DatagramEndpoint() noexcept = default;
  /// Internal.
  explicit DatagramEndpoint(std::shared_ptr<detail::UdpState> s) noexcept : s_(std::move(s)) {}

  /// Sends one datagram to `addr` (or to the connected remote when empty). Python: `transport.sendto(data, addr)`.
  Task<void> sendto(std::string data, std::optional<SockAddr> addr = std::nullopt);
  /// Receives one datagram of at most `max_size` bytes. Python: `await loop.sock_recvfrom(sock, bufsize)`.
  Task<Datagram> recvfrom(std::size_t max_size = 65536);
  /// The local address (the real port when 0 was asked for). Python: `get_extra_info("sockname")`.
  SockAddr sockname() const;
  /// Closes the socket. Idempotent. Python: `transport.close()`.
  void close() noexcept;
  /// The fd (-1 once closed).
  int fileno() const noexcept;

 private:
  std::shared_ptr<detail::UdpState> s_;
};

/// Options of create_datagram_endpoint (designated initializers).
struct DatagramOptions {
  std::string local_host = {};   ///< bind address ("" with remote: none; "" without remote: 0.0.0.0)
  int local_port = 0;            ///< bind port (0: any)
  std::string remote_host = {};  ///< connect to this address ("": not connected)
  int remote_port = 0;           ///< connect port
  bool reuse_port = false;       ///< SO_REUSEPORT
  bool allow_broadcast = false;  ///< SO_BROADCAST
};

/// Creates a UDP endpoint, bound and/or connected (names resolved off the loop thread).
/// **Errors:** GaiError, std::system_error. Python: `await loop.create_datagram_endpoint(..., local_addr=,
/// remote_addr=)`.
Task<DatagramEndpoint> create_datagram_endpoint(DatagramOptions options);

}  // namespace spindle::aio
