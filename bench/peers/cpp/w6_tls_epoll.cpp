// W6-TLS's raw floor (bench/workloads/w6_tls_echo.cpp, docs/bench.md): W6's raw-epoll echo server (w6_epoll.cpp)
// with OpenSSL reading and writing the sockets itself (SSL_set_fd, non-blocking, read-ahead on), a TLS 1.3
// server context with the certificate spindle's side uses and OpenSSL's defaults otherwise. One thread,
// level-triggered epoll; a connection shakes hands, then each readable turn reads what the socket holds once and
// writes back each record's bytes. No library beyond OpenSSL, no allocation per request: what any event loop adds to
// TLS is measured against this.

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/ssl.h>
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

#include "w6_tls_peer.hpp"

namespace {

class EpollTlsEcho final : public peer::EchoServer {
 public:
  EpollTlsEcho() : ctx_(SSL_CTX_new(TLS_server_method())) {
    if (ctx_ == nullptr) throw std::runtime_error("SSL_CTX_new failed");
    SSL_CTX_set_min_proto_version(ctx_, TLS1_3_VERSION);
    SSL_CTX_set_read_ahead(ctx_, 1);  // one read() per readable turn, not a header's and then a body's
    if (SSL_CTX_use_certificate_chain_file(ctx_, peer::tls_pki().server_cert.c_str()) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx_, peer::tls_pki().server_key.c_str(), SSL_FILETYPE_PEM) != 1)
      throw std::runtime_error("cannot load the server certificate");
  }
  ~EpollTlsEcho() override {
    for (auto& c : conns_) drop(c);
    for (int fd : {listener_, ep_, wake_})
      if (fd >= 0) ::close(fd);
    SSL_CTX_free(ctx_);
  }
  EpollTlsEcho(const EpollTlsEcho&) = delete;
  EpollTlsEcho& operator=(const EpollTlsEcho&) = delete;

  int listen() override {
    const int port = peer::listen_loopback(listener_);
    ep_ = ::epoll_create1(EPOLL_CLOEXEC);
    wake_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    watch(EPOLL_CTL_ADD, listener_, EPOLLIN);
    watch(EPOLL_CTL_ADD, wake_, EPOLLIN);
    return port;
  }

  void run() override {
    epoll_event evs[64];
    for (;;) {
      const int n = ::epoll_wait(ep_, evs, 64, -1);
      for (int k = 0; k < n; ++k) {
        const int fd = evs[k].data.fd;
        if (fd == wake_) return;
        if (fd == listener_) {
          accept_all();
        } else {
          serve(conns_[static_cast<std::size_t>(fd)]);
        }
      }
    }
  }

  void stop() override {
    const std::uint64_t one = 1;
    [[maybe_unused]] const ssize_t w = ::write(wake_, &one, sizeof one);
  }

 private:
  struct Conn {
    int fd = -1;
    SSL* ssl = nullptr;
    bool established = false;
  };

  void watch(int op, int fd, std::uint32_t events) {
    epoll_event ev{};
    ev.events = events;
    ev.data.fd = fd;
    ::epoll_ctl(ep_, op, fd, &ev);
  }

  void accept_all() {
    for (;;) {
      const int c = ::accept4(listener_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (c < 0) return;
      const int one = 1;
      ::setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      if (conns_.size() <= static_cast<std::size_t>(c)) conns_.resize(static_cast<std::size_t>(c) + 1);
      Conn& conn = conns_[static_cast<std::size_t>(c)];
      conn.fd = c;
      conn.ssl = SSL_new(ctx_);
      conn.established = false;
      SSL_set_fd(conn.ssl, c);
      SSL_set_accept_state(conn.ssl);
      watch(EPOLL_CTL_ADD, c, EPOLLIN);
    }
  }

  // The handshake's next step, then (once established) every record the socket holds, echoed.
  void serve(Conn& c) {
    if (c.fd < 0) return;
    if (!c.established) {
      const int r = SSL_do_handshake(c.ssl);
      if (r != 1) {
        const int e = SSL_get_error(c.ssl, r);
        if (e == SSL_ERROR_WANT_READ) {
          watch(EPOLL_CTL_MOD, c.fd, EPOLLIN);
        } else if (e == SSL_ERROR_WANT_WRITE) {
          watch(EPOLL_CTL_MOD, c.fd, EPOLLIN | EPOLLOUT);
        } else {
          drop(c);
        }
        return;
      }
      c.established = true;
      watch(EPOLL_CTL_MOD, c.fd, EPOLLIN);
    }
    // Records OpenSSL has read ahead are served here: epoll reports only what the socket still holds.
    char buf[echo_load::kMsg];
    do {
      const int n = SSL_read(c.ssl, buf, sizeof buf);
      if (n <= 0) {
        if (SSL_get_error(c.ssl, n) != SSL_ERROR_WANT_READ) drop(c);
        return;
      }
      if (!write_all(c, buf, n)) {
        drop(c);
        return;
      }
    } while (SSL_has_pending(c.ssl) == 1);
  }

  // A reply of at most 64 bytes into a socket whose previous reply was read: it fits; a full buffer (a client
  // that stopped reading) is retried, as a blocking write would wait (as w6_epoll.cpp).
  static bool write_all(Conn& c, const char* p, int n) {
    for (;;) {
      const int w = SSL_write(c.ssl, p, n);
      if (w == n) return true;
      const int e = SSL_get_error(c.ssl, w);
      if (e != SSL_ERROR_WANT_WRITE && e != SSL_ERROR_WANT_READ) return false;
    }
  }

  void drop(Conn& c) {
    if (c.fd < 0) return;
    ::epoll_ctl(ep_, EPOLL_CTL_DEL, c.fd, nullptr);
    SSL_free(c.ssl);
    ::close(c.fd);
    c = Conn{};
  }

  SSL_CTX* ctx_;
  std::vector<Conn> conns_;  // by descriptor
  int listener_ = -1;
  int ep_ = -1;
  int wake_ = -1;
};

}  // namespace

int main(int argc, char** argv) {
  EpollTlsEcho server;
  return peer::run_w6_tls(argc, argv, "openssl-epoll", server);
}
