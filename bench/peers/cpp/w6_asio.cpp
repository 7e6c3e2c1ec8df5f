// W6's Asio peer (bench/workloads/w6_tcp_echo.cpp, docs/bench.md): Asio's own C++20 coroutine echo server
// (its examples' echo_server.cpp, with a 64-byte buffer as spindle's server reads), one io_context on one
// thread (concurrency hint 1: no locking), each connection a coroutine spawned on accept, TCP_NODELAY set.

#include "asio_peer.hpp"  // first: it sets up Asio's coroutine support for clang

#include <asio/awaitable.hpp>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include <exception>

#include "w6_peer.hpp"

namespace {

using asio::ip::tcp;

asio::awaitable<void> session(tcp::socket socket) {
  char data[echo_load::kMsg];
  try {
    for (;;) {
      const std::size_t n = co_await socket.async_read_some(asio::buffer(data), asio::use_awaitable);
      co_await asio::async_write(socket, asio::buffer(data, n), asio::use_awaitable);
    }
  } catch (const std::exception&) {
    // The client closed: the normal end of a run.
  }
}

asio::awaitable<void> accept_loop(tcp::acceptor& acceptor) {
  for (;;) {
    tcp::socket socket = co_await acceptor.async_accept(asio::use_awaitable);
    socket.set_option(tcp::no_delay(true));
    asio::co_spawn(acceptor.get_executor(), session(std::move(socket)), asio::detached);
  }
}

class AsioEcho final : public peer::EchoServer {
 public:
  int listen() override {
    const int port = peer::asio_listen_loopback(acceptor_);
    asio::co_spawn(io_, accept_loop(acceptor_), asio::detached);
    return port;
  }
  void run() override { io_.run(); }
  void stop() override { io_.stop(); }

 private:
  asio::io_context io_{1};
  tcp::acceptor acceptor_{io_};
};

}  // namespace

int main(int argc, char** argv) {
  AsioEcho server;
  return peer::run_w6(argc, argv, "asio", server);
}
