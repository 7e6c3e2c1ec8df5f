// W6's libuv peer (bench/workloads/w6_tcp_echo.cpp, docs/bench.md): libuv's echo server as its own examples
// write it, made as fast as its API allows: one loop, each connection a uv_tcp_t with TCP_NODELAY reading into
// a 64-byte buffer of its own, the reply sent with uv_try_write (no request allocated) and, if the socket
// cannot take it all at once, the rest with uv_write.

#include <uv.h>

#include <cstring>
#include <stdexcept>

#include "w6_peer.hpp"

namespace {

struct Conn {
  uv_tcp_t tcp;
  char buf[echo_load::kMsg];
};

struct WriteRest {
  uv_write_t req;
  char data[echo_load::kMsg];
};

void free_conn(uv_handle_t* h) { delete static_cast<Conn*>(h->data); }

void on_written(uv_write_t* req, int) { delete reinterpret_cast<WriteRest*>(req); }

void on_alloc(uv_handle_t* h, std::size_t, uv_buf_t* buf) {
  auto* c = static_cast<Conn*>(h->data);
  *buf = uv_buf_init(c->buf, sizeof c->buf);
}

void on_read(uv_stream_t* s, ssize_t n, const uv_buf_t* buf) {
  if (n < 0) {
    uv_close(reinterpret_cast<uv_handle_t*>(s), free_conn);
    return;
  }
  if (n == 0) return;
  uv_buf_t out = uv_buf_init(buf->base, static_cast<unsigned>(n));
  const int w = uv_try_write(s, &out, 1);
  if (w == n) return;
  const int done = w < 0 ? 0 : w;
  auto* rest = new WriteRest;
  std::memcpy(rest->data, buf->base + done, static_cast<std::size_t>(n - done));
  uv_buf_t b = uv_buf_init(rest->data, static_cast<unsigned>(n - done));
  if (uv_write(&rest->req, s, &b, 1, on_written) != 0) delete rest;
}

void on_connection(uv_stream_t* server, int status) {
  if (status < 0) return;
  auto* c = new Conn;
  uv_tcp_init(server->loop, &c->tcp);
  c->tcp.data = c;
  if (uv_accept(server, reinterpret_cast<uv_stream_t*>(&c->tcp)) != 0) {
    uv_close(reinterpret_cast<uv_handle_t*>(&c->tcp), free_conn);
    return;
  }
  uv_tcp_nodelay(&c->tcp, 1);
  uv_read_start(reinterpret_cast<uv_stream_t*>(&c->tcp), on_alloc, on_read);
}

void close_any(uv_handle_t* h, void*) {
  if (!uv_is_closing(h)) uv_close(h, h->type == UV_TCP && h->data != nullptr ? free_conn : nullptr);
}

void on_stop(uv_async_t* a) { uv_walk(a->loop, close_any, nullptr); }

class LibuvEcho final : public peer::EchoServer {
 public:
  int listen() override {
    uv_loop_init(&loop_);
    uv_tcp_init(&loop_, &server_);
    server_.data = nullptr;
    uv_async_init(&loop_, &stopper_, on_stop);
    stopper_.data = nullptr;
    sockaddr_in a{};
    uv_ip4_addr("127.0.0.1", 0, &a);
    if (int e = uv_tcp_bind(&server_, reinterpret_cast<const sockaddr*>(&a), 0); e != 0)
      throw std::runtime_error(uv_strerror(e));
    if (int e = uv_listen(reinterpret_cast<uv_stream_t*>(&server_), 512, on_connection); e != 0)
      throw std::runtime_error(uv_strerror(e));
    int len = sizeof a;
    uv_tcp_getsockname(&server_, reinterpret_cast<sockaddr*>(&a), &len);
    return ntohs(a.sin_port);
  }
  void run() override {
    uv_run(&loop_, UV_RUN_DEFAULT);  // returns once on_stop has closed every handle
    uv_loop_close(&loop_);
  }
  void stop() override { uv_async_send(&stopper_); }

 private:
  uv_loop_t loop_{};
  uv_tcp_t server_{};
  uv_async_t stopper_{};
};

}  // namespace

int main(int argc, char** argv) {
  LibuvEcho server;
  return peer::run_w6(argc, argv, "libuv", server);
}
