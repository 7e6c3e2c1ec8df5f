// W6-TLS's Asio peer (bench/workloads/w6_tls_echo.cpp, docs/bench.md): W6's Asio echo server (w6_asio.cpp) with
// each connection wrapped in `asio::ssl::stream` (OpenSSL through memory BIOs, as spindle's transport), a
// TLS 1.3 server context with the certificate spindle's side uses, one io_context on one thread, each connection
// a C++20 coroutine that shakes hands, then reads up to 64 bytes and writes them back.

#include "asio_peer.hpp"  // first: it sets up Asio's coroutine support for clang

#include <asio/awaitable.hpp>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/ssl.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include <exception>

#include "w6_tls_peer.hpp"

namespace {

using asio::ip::tcp;

asio::awaitable<void> session(asio::ssl::stream<tcp::socket> stream) {
  char data[echo_load::kMsg];
  try {
    co_await stream.async_handshake(asio::ssl::stream_base::server, asio::use_awaitable);
    for (;;) {
      const std::size_t n = co_await stream.async_read_some(asio::buffer(data), asio::use_awaitable);
      co_await asio::async_write(stream, asio::buffer(data, n), asio::use_awaitable);
    }
  } catch (const std::exception&) {
    // The client closed (or ended a handshake-only connection): the normal end of a connection.
  }
}

asio::awaitable<void> accept_loop(tcp::acceptor& acceptor, asio::ssl::context& ctx) {
  for (;;) {
    tcp::socket socket = co_await acceptor.async_accept(asio::use_awaitable);
    socket.set_option(tcp::no_delay(true));
    asio::co_spawn(acceptor.get_executor(), session(asio::ssl::stream<tcp::socket>(std::move(socket), ctx)),
                   asio::detached);
  }
}

class AsioTlsEcho final : public peer::EchoServer {
 public:
  AsioTlsEcho() {
    ctx_.use_certificate_chain_file(peer::tls_pki().server_cert);
    ctx_.use_private_key_file(peer::tls_pki().server_key, asio::ssl::context::pem);
  }
  int listen() override {
    const int port = peer::asio_listen_loopback(acceptor_);
    asio::co_spawn(io_, accept_loop(acceptor_, ctx_), asio::detached);
    return port;
  }
  void run() override { io_.run(); }
  void stop() override { io_.stop(); }

 private:
  asio::io_context io_{1};
  asio::ssl::context ctx_{asio::ssl::context::tlsv13_server};
  tcp::acceptor acceptor_{io_};
};

}  // namespace

int main(int argc, char** argv) {
  AsioTlsEcho server;
  return peer::run_w6_tls(argc, argv, "asio", server);
}
