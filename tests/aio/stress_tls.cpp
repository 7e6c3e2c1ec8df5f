// 1,000 TLS connections at once on loopback: every handshake completes, every connection echoes its own line
// while all the others are open, and the server saw no handshake fail. Both ends run on one loop, so this is
// 2,000 TLS endpoints (and descriptors) in one process.
// SPINDLE_TEST_ON_EACH_BACKEND: tests/CMakeLists.txt runs these on epoll and again on io_uring ("uring." names).

#include <gtest/gtest.h>
#include <sys/resource.h>

#include <string>
#include <vector>

#include "aio_echo.hpp"
#include "census.hpp"
#include "spindle/aio/gather.hpp"
#include "spindle/aio/locks.hpp"
#include "spindle/aio/run.hpp"
#include "spindle/aio/server.hpp"
#include "spindle/aio/ssl.hpp"
#include "spindle/aio/streams.hpp"
#include "tls_pki.hpp"

namespace aio = spindle::aio;
using spindle::test::TestPki;

namespace {

using TlsStress = spindle::test::LeakCheckedTest;

constexpr int kConnections = 1000;

using spindle::test::echo_lines;

struct Crowd {
  aio::SslContext client = aio::create_default_context(aio::Purpose::SERVER_AUTH, TestPki::get().ca_cert);
  int port = 0;
  int connected = 0;
  int echoed = 0;
  aio::Event all_connected;

  aio::Task<void> one(int i) {
    auto [r, w] = co_await aio::open_connection("127.0.0.1", port, {.ssl = &client, .server_hostname = "localhost"});
    if (++connected == kConnections) all_connected.set();
    co_await all_connected.wait();  // every connection is open (and secured) at once before any echoes
    const std::string line = "client " + std::to_string(i) + "\n";
    w.write(line);
    const std::string back = co_await r.readline();
    if (back == line) ++echoed;
    w.close();
    co_await w.wait_closed();
  }
};

aio::Task<void> thousand_connections() {
  aio::SslContext server_ctx(aio::SslProtocol::TLS_SERVER);
  server_ctx.load_cert_chain(TestPki::get().server_cert, TestPki::get().server_key);
  aio::Server server = co_await aio::start_server(echo_lines, "127.0.0.1", 0, {.backlog = 2048, .ssl = &server_ctx});
  Crowd crowd;
  crowd.port = server.port();
  std::vector<aio::Task<void>> clients;
  clients.reserve(kConnections);
  for (int i = 0; i < kConnections; ++i) clients.push_back(crowd.one(i));
  co_await aio::gather(std::move(clients));
  EXPECT_EQ(crowd.connected, kConnections);
  EXPECT_EQ(crowd.echoed, kConnections);
  EXPECT_EQ(server.accepted(), static_cast<std::size_t>(kConnections));
  EXPECT_EQ(server.tls_handshake_failures(), 0U);
  server.close();
  co_await server.wait_closed();
}

TEST_F(TlsStress, AThousandTlsConnectionsAtOnce) {
  // Two descriptors per connection in this one process: make sure the soft limit allows them.
  rlimit lim{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &lim), 0);
  const rlim_t need = 2 * kConnections + 256;
  if (lim.rlim_cur < need) {
    ASSERT_GE(lim.rlim_max, need) << "this machine's hard descriptor limit is below what the test needs";
    lim.rlim_cur = need;
    ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &lim), 0);
  }
  aio::run(thousand_connections());
}

}  // namespace
