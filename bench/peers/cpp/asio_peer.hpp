#pragma once
// What the Asio echo servers of W6 and W6-TLS (bench/peers/cpp/w6_asio.cpp, w6_tls_asio.cpp) share.

#if defined(__clang__) && !defined(ASIO_HAS_CO_AWAIT) && defined(__cpp_impl_coroutine)
#define ASIO_HAS_CO_AWAIT 1
#endif

#include <asio/ip/tcp.hpp>

namespace peer {

/// Opens `acceptor` on 127.0.0.1, a free port, backlog 512 (as spindle's server); returns the port.
inline int asio_listen_loopback(asio::ip::tcp::acceptor& acceptor) {
  const asio::ip::tcp::endpoint at(asio::ip::make_address("127.0.0.1"), 0);
  acceptor.open(at.protocol());
  acceptor.set_option(asio::ip::tcp::acceptor::reuse_address(true));
  acceptor.bind(at);
  acceptor.listen(512);
  return acceptor.local_endpoint().port();
}

}  // namespace peer
