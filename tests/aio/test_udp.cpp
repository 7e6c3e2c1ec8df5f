// UDP endpoints: a round trip between a bound and a connected endpoint, cancel-safe recvfrom, ICMP errors.
// SPINDLE_TEST_ON_EACH_BACKEND: tests/CMakeLists.txt runs these on epoll and again on io_uring ("uring." names).

#include <gtest/gtest.h>

#include <string>

#include "census.hpp"
#include "spindle/aio/run.hpp"
#include "spindle/aio/timeout.hpp"
#include "spindle/aio/udp.hpp"

namespace aio = spindle::aio;
using namespace std::chrono_literals;

namespace {

using UdpTest = spindle::test::LeakCheckedTest;

TEST_F(UdpTest, EchoRoundTrip) {
  auto main = []() -> aio::Task<std::string> {
    auto creating = aio::create_datagram_endpoint({.local_host = "127.0.0.1"});
    aio::DatagramEndpoint server = co_await std::move(creating);
    const int port = server.sockname().port();
    EXPECT_NE(port, 0);
    auto echo = [&]() -> aio::Task<void> {
      aio::Datagram d = co_await server.recvfrom();
      auto replying = server.sendto("echo:" + d.data, d.addr);  // named: no temporaries in co_await (g++ 12)
      co_await std::move(replying);
    };
    auto echoing = aio::create_task(echo());
    auto connecting = aio::create_datagram_endpoint({.remote_host = "127.0.0.1", .remote_port = port});
    aio::DatagramEndpoint client = co_await std::move(connecting);
    auto sending = client.sendto("hi");
    co_await std::move(sending);
    aio::Datagram back = co_await client.recvfrom();
    co_await echoing;
    EXPECT_EQ(back.addr.port(), port);
    client.close();
    server.close();
    EXPECT_EQ(client.fileno(), -1);
    co_return back.data;
  };
  EXPECT_EQ(aio::run(main()), "echo:hi");
}

TEST_F(UdpTest, CancelledRecvfromLeavesNothingRegistered) {
  auto main = []() -> aio::Task<void> {
    auto creating = aio::create_datagram_endpoint({.local_host = "127.0.0.1"});
    aio::DatagramEndpoint ep = co_await std::move(creating);
    bool timed_out = false;
    try {
      auto receiving = aio::wait_for(ep.recvfrom(), 20ms);
      (void)co_await std::move(receiving);
    } catch (const spindle::TimeoutError&) {
      timed_out = true;
    }
    EXPECT_TRUE(timed_out);
    // The endpoint still works: send to ourselves.
    auto sending = ep.sendto("self", ep.sockname());
    co_await std::move(sending);
    aio::Datagram d = co_await ep.recvfrom();
    EXPECT_EQ(d.data, "self");
  };
  aio::run(main());
}

TEST_F(UdpTest, ConnectedEndpointSeesRefusal) {
  auto main = []() -> aio::Task<void> {
    auto creating = aio::create_datagram_endpoint({.local_host = "127.0.0.1"});
    aio::DatagramEndpoint gone = co_await std::move(creating);
    const int port = gone.sockname().port();
    gone.close();
    auto connecting = aio::create_datagram_endpoint({.remote_host = "127.0.0.1", .remote_port = port});
    aio::DatagramEndpoint c = co_await std::move(connecting);
    auto sending = c.sendto("anyone?");
    co_await std::move(sending);
    bool refused = false;
    try {
      auto receiving = aio::wait_for(c.recvfrom(), 2s);
      (void)co_await std::move(receiving);
    } catch (const std::system_error& e) {
      refused = e.code().value() == ECONNREFUSED;
    } catch (const spindle::TimeoutError&) {
      refused = true;  // an ICMP-less network stack: no error to see
    }
    EXPECT_TRUE(refused);
  };
  aio::run(main());
}

}  // namespace
