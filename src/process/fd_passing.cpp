// Descriptor passing over unix sockets (see fd_passing.hpp): the only sendmsg/recvmsg with SCM_RIGHTS.

#include "fd_passing.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace spindle::process::detail {

long send_fds(int sock, std::span<const iovec> iov, std::span<const int> fds, int flags) {
  if (fds.size() > kMaxFdsPerMessage) {
    errno = EINVAL;
    return -1;
  }
  msghdr msg{};
  msg.msg_iov = const_cast<iovec*>(iov.data());
  msg.msg_iovlen = iov.size();
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFdsPerMessage)];
  if (!fds.empty()) {
    msg.msg_control = control;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
  }
  for (;;) {
    const ssize_t n = ::sendmsg(sock, &msg, flags | MSG_NOSIGNAL);
    if (n >= 0 || errno != EINTR) return n;
  }
}

long recv_fds(int sock, std::span<const iovec> iov, ReceivedFds& out, int flags, std::size_t max_fds) {
  out.count = 0;
  if (max_fds > kMaxFdsPerMessage) max_fds = kMaxFdsPerMessage;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFdsPerMessage)];
  msghdr msg{};
  msg.msg_iov = const_cast<iovec*>(iov.data());
  msg.msg_iovlen = iov.size();
  if (max_fds > 0) {
    msg.msg_control = control;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * max_fds);
  }
  ssize_t n;
  do {
    n = ::recvmsg(sock, &msg, flags | MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return -1;
  bool bad = (msg.msg_flags & MSG_CTRUNC) != 0;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) {
      bad = true;  // credentials and the like: never asked for
      continue;
    }
    const std::size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (std::size_t i = 0; i < count; ++i) {
      int v;
      std::memcpy(&v, CMSG_DATA(c) + i * sizeof(int), sizeof v);
      if (out.count < max_fds) out.fd[out.count++] = v;
      else ::close(v);  // cannot happen with a control buffer of max_fds, but never leak one
    }
  }
  if (bad) {
    for (std::size_t i = 0; i < out.count; ++i) ::close(out.fd[i]);
    out.count = 0;
    errno = EPROTO;
    return -1;
  }
  return n;
}

bool send_all(int fd, const char* data, std::size_t size, const std::vector<int>& fds) {
  bool first = true;
  while (size > 0 || (first && !fds.empty())) {
    const iovec iov{const_cast<char*>(data), size};
    const long n = send_fds(fd, {&iov, 1}, first ? fds : std::span<const int>{}, 0);
    if (n < 0) {
      if (errno == EAGAIN) {
        pollfd p{fd, POLLOUT, 0};
        ::poll(&p, 1, -1);
        continue;
      }
      return false;
    }
    first = false;
    data += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

long recv_some(int fd, char* buf, std::size_t size, std::deque<int>& fds) {
  const iovec iov{buf, size};
  ReceivedFds got;
  const long n = recv_fds(fd, {&iov, 1}, got);
  for (std::size_t i = 0; i < got.count; ++i) fds.push_back(got.fd[i]);
  return n;
}

}  // namespace spindle::process::detail
