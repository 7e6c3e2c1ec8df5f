// UDP endpoints: direct sendto/recvfrom, readiness waits only on EAGAIN.

#include "spindle/aio/udp.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "spindle/aio/detail/io_wait.hpp"

namespace spindle::aio {
namespace detail {

struct UdpState {
  int fd = -1;
  ~UdpState() { close(); }
  void close() noexcept {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
};

}  // namespace detail

namespace {
int live_fd(const std::shared_ptr<detail::UdpState>& s) {
  if (!s || s->fd < 0) throw InvalidStateError("datagram endpoint is closed");
  return s->fd;
}
}  // namespace

Task<void> DatagramEndpoint::sendto(std::string data, std::optional<SockAddr> addr) {
  auto s = s_;
  for (;;) {
    const int fd = live_fd(s);
    const ssize_t n = addr ? ::sendto(fd, data.data(), data.size(), MSG_NOSIGNAL, addr->raw(), addr->len)
                           : ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n >= 0) co_return;
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) detail::throw_errno("sendto");
    co_await detail::IoWait(fd, true);
  }
}

Task<Datagram> DatagramEndpoint::recvfrom(std::size_t max_size) {
  auto s = s_;
  Datagram d;
  d.data.resize(max_size);
  for (;;) {
    const int fd = live_fd(s);
    d.addr.len = sizeof d.addr.storage;
    const ssize_t n =
        ::recvfrom(fd, d.data.data(), max_size, 0, reinterpret_cast<sockaddr*>(&d.addr.storage), &d.addr.len);
    if (n >= 0) {
      d.data.resize(static_cast<std::size_t>(n));
      co_return d;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) detail::throw_errno("recvfrom");
    co_await detail::IoWait(fd, false);
  }
}

SockAddr DatagramEndpoint::sockname() const {
  SockAddr a;
  a.len = sizeof a.storage;
  if (::getsockname(live_fd(s_), reinterpret_cast<sockaddr*>(&a.storage), &a.len) < 0)
    detail::throw_errno("getsockname");
  return a;
}

void DatagramEndpoint::close() noexcept {
  if (s_) s_->close();
}

int DatagramEndpoint::fileno() const noexcept { return s_ ? s_->fd : -1; }

Task<DatagramEndpoint> create_datagram_endpoint(DatagramOptions o) {
  std::optional<AddrInfo> remote;
  std::optional<AddrInfo> local;
  if (!o.remote_host.empty()) {
    auto resolving = getaddrinfo(o.remote_host, o.remote_port, SOCK_DGRAM, false);
    std::vector<AddrInfo> r = co_await std::move(resolving);
    remote = r.front();
  }
  if (!o.local_host.empty() || !remote) {
    const std::string host = o.local_host.empty() ? "0.0.0.0" : o.local_host;
    auto resolving = getaddrinfo(host, o.local_port, SOCK_DGRAM, true);
    std::vector<AddrInfo> l = co_await std::move(resolving);
    local = l.front();
    if (remote) {
      for (const AddrInfo& ai : l) {
        if (ai.family == remote->family) local = ai;
      }
    }
  }
  const int family = remote ? remote->family : local->family;
  auto s = std::make_shared<detail::UdpState>();
  s->fd = detail::make_socket(family, SOCK_DGRAM);
  const int one = 1;
  if (o.reuse_port) ::setsockopt(s->fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  if (o.allow_broadcast) ::setsockopt(s->fd, SOL_SOCKET, SO_BROADCAST, &one, sizeof one);
  if (local && ::bind(s->fd, local->addr.raw(), local->addr.len) < 0) {
    throw std::system_error(errno, std::generic_category(), "bind " + local->addr.to_string());
  }
  if (remote && ::connect(s->fd, remote->addr.raw(), remote->addr.len) < 0) detail::throw_errno("connect");
  co_return DatagramEndpoint(std::move(s));
}

}  // namespace spindle::aio
