// The sock_* calls: the system call first, a one-shot readiness wait (IoWait) only on EAGAIN.

#include "spindle/aio/sock.hpp"

#include <fcntl.h>
#include <sys/socket.h>

#include <cerrno>
#include <stdexcept>
#include <system_error>

#include "spindle/aio/detail/io_wait.hpp"

namespace spindle::aio {
namespace {

void require_nonblocking(int fd, const char* call) {
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0) detail::throw_errno(call);
  if ((flags & O_NONBLOCK) == 0) throw std::invalid_argument(std::string(call) + ": the socket must be non-blocking");
}

bool would_block(int e) noexcept { return e == EAGAIN || e == EWOULDBLOCK; }

}  // namespace

Task<std::size_t> sock_recv_into(int fd, std::span<char> buffer) {
  require_nonblocking(fd, "sock_recv_into");
  for (;;) {
    const ssize_t r = ::recv(fd, buffer.data(), buffer.size(), 0);
    if (r >= 0) co_return static_cast<std::size_t>(r);
    if (errno == EINTR) continue;
    if (!would_block(errno)) detail::throw_errno("sock_recv");
    co_await detail::IoWait(fd, false);
  }
}

Task<std::string> sock_recv(int fd, std::size_t n) {
  require_nonblocking(fd, "sock_recv");
  std::string out(n, '\0');
  for (;;) {
    const ssize_t r = ::recv(fd, out.data(), n, 0);
    if (r >= 0) {
      out.resize(static_cast<std::size_t>(r));
      co_return out;
    }
    if (errno == EINTR) continue;
    if (!would_block(errno)) detail::throw_errno("sock_recv");
    co_await detail::IoWait(fd, false);
  }
}

Task<void> sock_sendall(int fd, std::string data) {
  require_nonblocking(fd, "sock_sendall");
  std::size_t off = 0;
  while (off < data.size()) {
    const ssize_t r = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (r >= 0) {
      off += static_cast<std::size_t>(r);
      continue;
    }
    if (errno == EINTR) continue;
    if (!would_block(errno)) detail::throw_errno("sock_sendall");
    co_await detail::IoWait(fd, true);
  }
}

Task<void> sock_connect(int fd, SockAddr address) {
  require_nonblocking(fd, "sock_connect");
  if (::connect(fd, address.raw(), address.len) == 0) co_return;
  if (errno != EINPROGRESS && errno != EINTR) {
    throw std::system_error(errno, std::generic_category(), "connect to " + address.to_string());
  }
  co_await detail::IoWait(fd, true);
  int err = 0;
  socklen_t len = sizeof err;
  if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) detail::throw_errno("getsockopt(SO_ERROR)");
  if (err != 0) throw std::system_error(err, std::generic_category(), "connect to " + address.to_string());
}

Task<std::pair<int, SockAddr>> sock_accept(int fd) {
  require_nonblocking(fd, "sock_accept");
  for (;;) {
    SockAddr peer;
    peer.len = sizeof peer.storage;
    const int c = ::accept4(fd, reinterpret_cast<sockaddr*>(&peer.storage), &peer.len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (c >= 0) co_return std::pair<int, SockAddr>(c, peer);
    if (errno == EINTR || errno == ECONNABORTED) continue;
    if (!would_block(errno)) detail::throw_errno("sock_accept");
    co_await detail::IoWait(fd, false);
  }
}

Task<std::pair<std::string, SockAddr>> sock_recvfrom(int fd, std::size_t n) {
  require_nonblocking(fd, "sock_recvfrom");
  std::string out(n, '\0');
  for (;;) {
    SockAddr from;
    from.len = sizeof from.storage;
    const ssize_t r = ::recvfrom(fd, out.data(), n, 0, reinterpret_cast<sockaddr*>(&from.storage), &from.len);
    if (r >= 0) {
      out.resize(static_cast<std::size_t>(r));
      co_return std::pair<std::string, SockAddr>(std::move(out), from);
    }
    if (errno == EINTR) continue;
    if (!would_block(errno)) detail::throw_errno("sock_recvfrom");
    co_await detail::IoWait(fd, false);
  }
}

Task<std::size_t> sock_sendto(int fd, std::string data, SockAddr address) {
  require_nonblocking(fd, "sock_sendto");
  for (;;) {
    const ssize_t r = ::sendto(fd, data.data(), data.size(), MSG_NOSIGNAL, address.raw(), address.len);
    if (r >= 0) co_return static_cast<std::size_t>(r);
    if (errno == EINTR) continue;
    if (!would_block(errno)) detail::throw_errno("sock_sendto");
    co_await detail::IoWait(fd, true);
  }
}

}  // namespace spindle::aio
