// W6's raw-epoll peer: the floor of an echo server on this machine (bench/workloads/w6_tcp_echo.cpp,
// docs/bench.md). One thread, level-triggered epoll, non-blocking sockets with TCP_NODELAY (as asyncio's and
// spindle's transports set it); a readable connection gets one recv of up to 64 bytes and a send of what it
// read. No library, no allocation per request: what any event loop adds is measured against this.

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "w6_peer.hpp"

namespace {

class EpollEcho final : public peer::EchoServer {
 public:
  ~EpollEcho() override {
    for (int fd : {listener_, ep_, wake_})
      if (fd >= 0) ::close(fd);
  }

  int listen() override {
    const int port = peer::listen_loopback(listener_);
    ep_ = ::epoll_create1(EPOLL_CLOEXEC);
    wake_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    add(listener_);
    add(wake_);
    return port;
  }

  void run() override {
    epoll_event evs[64];
    char buf[echo_load::kMsg];
    std::vector<int> conns;
    for (;;) {
      const int n = ::epoll_wait(ep_, evs, 64, -1);
      for (int k = 0; k < n; ++k) {
        const int fd = evs[k].data.fd;
        if (fd == wake_) {
          for (int c : conns)
            if (c >= 0) ::close(c);
          return;
        }
        if (fd == listener_) {
          for (;;) {
            const int c = ::accept4(listener_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
            if (c < 0) break;
            const int one = 1;
            ::setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            add(c);
            conns.push_back(c);
          }
          continue;
        }
        const ssize_t r = ::recv(fd, buf, sizeof buf, 0);
        if (r < 0 && (errno == EAGAIN || errno == EINTR)) continue;
        if (r <= 0 || !send_all(fd, buf, static_cast<std::size_t>(r))) {
          ::epoll_ctl(ep_, EPOLL_CTL_DEL, fd, nullptr);
          ::close(fd);
          for (int& c : conns)
            if (c == fd) c = -1;
        }
      }
    }
  }

  void stop() override {
    const std::uint64_t one = 1;
    [[maybe_unused]] const ssize_t w = ::write(wake_, &one, sizeof one);
  }

 private:
  void add(int fd) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    ::epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &ev);
  }
  // A reply of at most 64 bytes into a socket whose previous reply was read: it fits; a full buffer (a client
  // that stopped reading) is retried, as a blocking write would wait.
  static bool send_all(int fd, const char* p, std::size_t n) {
    while (n > 0) {
      const ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);
      if (w < 0) {
        if (errno == EAGAIN || errno == EINTR) continue;
        return false;
      }
      p += w;
      n -= static_cast<std::size_t>(w);
    }
    return true;
  }

  int listener_ = -1;
  int ep_ = -1;
  int wake_ = -1;
};

}  // namespace

int main(int argc, char** argv) {
  EpollEcho server;
  return peer::run_w6(argc, argv, "epoll", server);
}
