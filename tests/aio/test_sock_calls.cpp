// The sock_* calls on non-blocking fds the test owns: accept + connect + sendall of more than the socket buffers
// hold + recv_into to EOF; recv after a cancelled recv loses nothing; UDP recvfrom/sendto; a blocking fd and a
// refused connection are clear errors.
// SPINDLE_TEST_ON_EACH_BACKEND: tests/CMakeLists.txt runs these on epoll and again on io_uring ("uring." names).

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <string>
#include <system_error>

#include "census.hpp"
#include "spindle/aio/gather.hpp"
#include "spindle/aio/run.hpp"
#include "spindle/aio/sock.hpp"
#include "spindle/aio/timeout.hpp"

namespace aio = spindle::aio;
using namespace std::chrono_literals;

namespace {

using SockCalls = spindle::test::LeakCheckedTest;

/// A listening non-blocking TCP socket on 127.0.0.1 and its address.
std::pair<int, aio::SockAddr> listener() {
  const int fd = aio::detail::make_socket(AF_INET, SOCK_STREAM);
  aio::SockAddr a = aio::SockAddr::from_numeric("127.0.0.1", 0);
  EXPECT_EQ(::bind(fd, a.raw(), a.len), 0);
  EXPECT_EQ(::listen(fd, 16), 0);
  a.len = sizeof a.storage;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a.storage), &a.len);
  return {fd, a};
}

aio::Task<std::size_t> receive_all(int fd) {
  std::array<char, 16384> buf{};
  std::size_t total = 0;
  std::size_t sum = 0;
  for (;;) {
    const std::size_t n = co_await aio::sock_recv_into(fd, buf);
    if (n == 0) break;
    for (std::size_t i = 0; i < n; ++i) sum += static_cast<unsigned char>(buf[i]);
    total += n;
  }
  EXPECT_EQ(sum, total * static_cast<unsigned char>('q'));
  co_return total;
}

aio::Task<void> send_then_close(int fd, std::size_t bytes) {
  co_await aio::sock_sendall(fd, std::string(bytes, 'q'));
  ::shutdown(fd, SHUT_WR);
}

aio::Task<void> round_trip() {
  auto [lfd, addr] = listener();
  const int client = aio::detail::make_socket(AF_INET, SOCK_STREAM);
  auto accepting = aio::sock_accept(lfd);
  co_await aio::sock_connect(client, addr);
  auto [conn, peer] = co_await std::move(accepting);
  EXPECT_GE(conn, 0);
  EXPECT_EQ(peer.family(), AF_INET);
  const std::size_t bytes = 8 << 20;  // more than the kernel buffers: sendall must wait for writability
  auto [received, done] = co_await aio::gather(receive_all(conn), send_then_close(client, bytes));
  (void)done;
  EXPECT_EQ(received, bytes);
  ::close(conn);
  ::close(client);
  ::close(lfd);
}

TEST_F(SockCalls, AcceptConnectSendallAndRecvIntoToEof) { aio::run(round_trip()); }

aio::Task<void> cancelled_recv_loses_nothing() {
  int sv[2];
  EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
  bool timed_out = false;
  try {
    std::string nothing = co_await aio::wait_for(aio::sock_recv(sv[0], 100), 20ms);
    (void)nothing;
  } catch (const spindle::TimeoutError&) {
    timed_out = true;
  }
  EXPECT_TRUE(timed_out);
  co_await aio::sock_sendall(sv[1], "after");
  EXPECT_EQ(co_await aio::sock_recv(sv[0], 100), "after");  // the cancelled wait left nothing registered
  ::close(sv[1]);
  EXPECT_EQ(co_await aio::sock_recv(sv[0], 100), "");  // EOF
  ::close(sv[0]);
}

TEST_F(SockCalls, ACancelledRecvLosesNothingAndEofIsEmpty) { aio::run(cancelled_recv_loses_nothing()); }

aio::Task<void> datagrams() {
  const int a = aio::detail::make_socket(AF_INET, SOCK_DGRAM);
  const int b = aio::detail::make_socket(AF_INET, SOCK_DGRAM);
  aio::SockAddr any = aio::SockAddr::from_numeric("127.0.0.1", 0);
  EXPECT_EQ(::bind(a, any.raw(), any.len), 0);
  aio::SockAddr addr_a;
  addr_a.len = sizeof addr_a.storage;
  ::getsockname(a, reinterpret_cast<sockaddr*>(&addr_a.storage), &addr_a.len);
  auto receiving = aio::sock_recvfrom(a, 1500);
  EXPECT_EQ(co_await aio::sock_sendto(b, "ping", addr_a), 4U);
  auto [data, from] = co_await std::move(receiving);
  EXPECT_EQ(data, "ping");
  EXPECT_EQ(from.family(), AF_INET);
  ::close(a);
  ::close(b);
}

TEST_F(SockCalls, DatagramsWithRecvfromAndSendto) { aio::run(datagrams()); }

aio::Task<void> clear_errors() {
  const int blocking = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  EXPECT_THROW(co_await aio::sock_recv(blocking, 10), std::invalid_argument);  // Python: ValueError
  ::close(blocking);
  auto [lfd, addr] = listener();
  ::close(lfd);  // nobody listens there any more
  const int client = aio::detail::make_socket(AF_INET, SOCK_STREAM);
  bool refused = false;
  try {
    co_await aio::sock_connect(client, addr);
  } catch (const std::system_error& e) {
    refused = e.code().value() == ECONNREFUSED;
  }
  EXPECT_TRUE(refused);
  ::close(client);
}

TEST_F(SockCalls, ABlockingSocketAndARefusedConnectionAreClearErrors) { aio::run(clear_errors()); }

}  // namespace
