#pragma once
/// @file
/// Socket-level calls on a non-blocking fd the caller owns: `sock_recv`, `sock_recv_into`, `sock_sendall`,
/// `sock_connect`, `sock_accept`, `sock_recvfrom`, `sock_sendto`. Python equivalent: `loop.sock_recv(sock, n)`
/// and its siblings. Each call tries the system call first and waits for readiness (a one-shot reader or writer
/// on the running loop) only when the kernel says EAGAIN, so nothing stays registered between calls.

#include <cstddef>
#include <span>
#include <string>
#include <utility>

#include "spindle/aio/net.hpp"
#include "spindle/aio/task.hpp"

namespace spindle::aio {

/// Up to `n` bytes from `fd`; empty at EOF. **Errors:** std::invalid_argument for a blocking fd (Python's
/// ValueError), std::system_error. **Cancellation:** nothing is read by a cancelled call.
/// Python: `await loop.sock_recv(sock, n)`.
Task<std::string> sock_recv(int fd, std::size_t n);
/// Reads into `buffer` (which must stay valid until the call completes); the byte count, 0 at EOF.
/// Python: `await loop.sock_recv_into(sock, buf)`.
Task<std::size_t> sock_recv_into(int fd, std::span<char> buffer);
/// Sends all of `data` (MSG_NOSIGNAL: never SIGPIPE). **Cancellation:** part of the data may have been sent, as in
/// Python. Python: `await loop.sock_sendall(sock, data)`.
Task<void> sock_sendall(int fd, std::string data);
/// Connects `fd` to `address`. **Errors:** std::system_error (ECONNREFUSED, ...).
/// Python: `await loop.sock_connect(sock, address)`.
Task<void> sock_connect(int fd, SockAddr address);
/// Accepts a connection: a new non-blocking, close-on-exec fd (the caller owns it) and the peer's address.
/// Python: `conn, address = await loop.sock_accept(sock)`.
Task<std::pair<int, SockAddr>> sock_accept(int fd);
/// One datagram of up to `n` bytes and its sender. Python (3.11): `await loop.sock_recvfrom(sock, n)`.
Task<std::pair<std::string, SockAddr>> sock_recvfrom(int fd, std::size_t n);
/// Sends one datagram to `address`; the bytes sent. Python (3.11): `await loop.sock_sendto(sock, data, address)`.
Task<std::size_t> sock_sendto(int fd, std::string data, SockAddr address);

}  // namespace spindle::aio
