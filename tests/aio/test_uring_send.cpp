// The io_uring poller's completion send (IORING_OP_SEND from the poller's copy of the bytes), driven through the
// Poller interface: the bytes arrive whole and in order, a send waits for a reader that is behind, a forgotten
// send is cancelled (so the socket really closes) and reports nothing, an error comes back as -errno. Streams
// over a loop that sends this way run every stream, TLS and protocol test (the "uring_recv." CTest run).

#include <fcntl.h>
#include <gtest/gtest.h>
#include <liburing.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "../../src/aio/poller.hpp"
#include "census.hpp"
#include "scoped_env.hpp"
#include "spindle/aio/detail/io_backend.hpp"
#include "spindle/aio/event_loop.hpp"
#include "spindle/aio/future.hpp"
#include "spindle/aio/run.hpp"
#include "spindle/aio/streams.hpp"

namespace aio = spindle::aio;

namespace {

using spindle::aio::detail::Backend;
using spindle::aio::detail::Poller;
using spindle::aio::detail::PollEvent;

struct Sent {
  std::ptrdiff_t n = 0;
  std::string unsent;
};

class UringSend : public spindle::test::LeakCheckedTest {
 protected:
  void SetUp() override {
    Backend got = Backend::epoll;
    poller_ = spindle::aio::detail::make_uring_poller_or_epoll(&got, features_);
    if (got != Backend::io_uring || !poller_->completion_send()) {
      GTEST_SKIP() << "no io_uring completion send on this kernel";
    }
    int sv[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv), 0);
    a_ = sv[0];
    b_ = sv[1];
  }
  void TearDown() override {
    poller_.reset();
    if (a_ >= 0) ::close(a_);
    if (b_ >= 0) ::close(b_);
    spindle::test::LeakCheckedTest::TearDown();
  }
  /// Polls until `fd`'s send ends, bounded so that a lost completion fails instead of hanging; counts the sent
  /// events of other fds in `others`.
  std::optional<Sent> wait_sent(int fd, int rounds = 200) {
    for (int r = 0; r < rounds; ++r) {
      std::optional<Sent> mine = poll_once(fd, 50'000'000);
      if (mine) return mine;
    }
    return std::nullopt;
  }
  std::optional<Sent> poll_once(int fd, std::int64_t timeout_ns) {
    std::vector<PollEvent> out;
    poller_->poll(timeout_ns, out);
    std::optional<Sent> mine;
    for (const PollEvent& e : out) {
      if (!e.sent) continue;
      if (e.fd != fd) {
        ++others_;
        continue;
      }
      mine = Sent{e.n, e.n >= 0 ? std::string(e.data, e.unsent) : std::string()};
    }
    return mine;
  }
  /// Fills a_'s send buffer (and b_'s receive buffer): nothing more goes until b_ reads. Returns the bytes.
  std::size_t fill() {
    const std::string chunk(64 * 1024, 'f');
    std::size_t total = 0;
    for (std::size_t size = chunk.size(); size > 0; size /= 2) {  // then smaller ones: not a byte more fits
      for (;;) {
        const ssize_t n = ::send(a_, chunk.data(), size, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n <= 0) break;
        total += static_cast<std::size_t>(n);
      }
    }
    return total;
  }
  /// Reads `n` bytes from b_ (blocking with a bound), or fewer at EOF.
  std::string read_b(std::size_t n) {
    std::string got;
    std::vector<char> buf(64 * 1024);
    while (got.size() < n) {
      pollfd p{b_, POLLIN, 0};
      if (::poll(&p, 1, 5000) <= 0) break;
      const ssize_t r = ::recv(b_, buf.data(), std::min(buf.size(), n - got.size()), 0);
      if (r <= 0) break;
      got.append(buf.data(), static_cast<std::size_t>(r));
    }
    return got;
  }

  spindle::aio::detail::UringFeatures features_{.completion_send = true};
  std::unique_ptr<Poller> poller_;
  int a_ = -1;
  int b_ = -1;
  int others_ = 0;
};

/// Whether the peer of `fd` hangs up (POLLRDHUP) within 10 s, reading nothing.
bool peer_hangs_up(int fd) {
  pollfd p{fd, POLLRDHUP, 0};
  return ::poll(&p, 1, 10'000) == 1 && (p.revents & POLLRDHUP) != 0;
}

std::string pattern(std::size_t n, int seed) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i + static_cast<std::size_t>(seed)) % 251);
  return s;
}

TEST_F(UringSend, TheBytesArriveWholeAndInOrder) {
  std::string expected;
  for (int i = 0; i < 50; ++i) {
    const std::string part = pattern(static_cast<std::size_t>(1 + i * 97), i);  // short ones, in the string too
    poller_->send(a_, part);
    const auto s = wait_sent(a_);
    ASSERT_TRUE(s.has_value()) << "send " << i << " never completed";
    EXPECT_EQ(s->n, static_cast<std::ptrdiff_t>(part.size()));
    EXPECT_TRUE(s->unsent.empty());
    expected += part;
  }
  EXPECT_TRUE(read_b(expected.size()) == expected) << "the bytes came out changed or out of order";
  EXPECT_EQ(others_, 0);
}

TEST_F(UringSend, ASendWaitsForAReaderThatIsBehindThenCompletes) {
  const std::size_t filled = fill();
  ASSERT_GT(filled, 0u);
  const std::string part = pattern(48 * 1024, 7);
  poller_->send(a_, part);
  EXPECT_FALSE(poll_once(a_, 20'000'000).has_value()) << "a send into a full socket ended at once";
  std::string got;
  std::thread reader([&] { got = read_b(filled + part.size()); });
  const auto s = wait_sent(a_);
  reader.join();
  ASSERT_TRUE(s.has_value()) << "the send never completed after the peer read";
  EXPECT_EQ(s->n, static_cast<std::ptrdiff_t>(part.size())) << "MSG_WAITALL: a stream send takes all or fails";
  ASSERT_EQ(got.size(), filled + part.size());
  EXPECT_TRUE(got.compare(filled, part.size(), part) == 0) << "the send's bytes came out changed";
}

TEST_F(UringSend, AForgottenSendIsCancelledReportsNothingAndLetsTheSocketClose) {
  ASSERT_GT(fill(), 0u);
  poller_->send(a_, pattern(32 * 1024, 3));
  EXPECT_FALSE(poll_once(a_, 10'000'000).has_value());
  poller_->forget_send(a_);
  for (int i = 0; i < 5; ++i) EXPECT_FALSE(poll_once(a_, 10'000'000).has_value()) << "a forgotten send reported";
  ::close(a_);
  a_ = -1;
  // The cancelled request no longer holds the socket (the peer reads nothing first: a request still in the
  // kernel would go on once it did).
  EXPECT_TRUE(peer_hangs_up(b_)) << "the socket stayed open: the send still held it";
  EXPECT_EQ(others_, 0);
}

TEST_F(UringSend, ASendToAClosedPeerEndsWithItsErrno) {
  ::close(b_);
  b_ = -1;
  poller_->send(a_, "nobody reads this");
  const auto s = wait_sent(a_);
  ASSERT_TRUE(s.has_value());
  EXPECT_TRUE(s->n == -EPIPE || s->n == -ECONNRESET) << "got " << s->n;
}

TEST_F(UringSend, OneSendPerSocketAtATime) {
  ASSERT_GT(fill(), 0u);
  poller_->send(a_, "first");
  EXPECT_THROW(poller_->send(a_, "second"), std::logic_error);
  poller_->forget_send(a_);
  poll_once(a_, 0);
}

TEST(UringSendFactory, OffUnlessAskedFor) {
  Backend got = Backend::epoll;
  auto p = spindle::aio::detail::make_uring_poller_or_epoll(&got);
  EXPECT_FALSE(p->completion_send());
  EXPECT_THROW(p->send(0, "x"), std::logic_error);
  auto e = spindle::aio::detail::make_epoll_poller();
  EXPECT_FALSE(e->completion_send());
}

// ---- the registered-file table ----

/// Whether this kernel registers sparse file tables (Linux 5.19), checked on a ring of the test's own.
bool sparse_files_here() {
  io_uring ring{};
  if (io_uring_queue_init(4, &ring, 0) != 0) return false;
  const bool ok = io_uring_register_files_sparse(&ring, 8) == 0;
  io_uring_queue_exit(&ring);
  return ok;
}

class UringFixed : public UringSend {
 protected:
  UringFixed() { features_.fixed_after = 3; }
  void SetUp() override {
    UringSend::SetUp();
    if (IsSkipped()) return;
    if (!sparse_files_here()) GTEST_SKIP() << "no sparse registered-file tables on this kernel";
  }
  /// Sends `n` parts on a_, each awaited; returns their bytes.
  std::string send_parts(int n, int seed) {
    std::string all;
    for (int i = 0; i < n; ++i) {
      const std::string part = pattern(static_cast<std::size_t>(100 + i), seed + i);
      poller_->send(a_, part);
      const auto s = wait_sent(a_);
      EXPECT_TRUE(s.has_value() && s->n == static_cast<std::ptrdiff_t>(part.size())) << "send " << i;
      all += part;
    }
    return all;
  }
};

TEST_F(UringFixed, ASocketIsEnteredAtItsThirdSendAndItsBytesStayWholeAndInOrder) {
  std::string expected = send_parts(2, 0);
  EXPECT_EQ(poller_->fixed_files(), 0u) << "entered before its third send";
  expected += send_parts(10, 2);
  EXPECT_EQ(poller_->fixed_files(), 1u) << "not entered at its third send";
  EXPECT_TRUE(read_b(expected.size()) == expected) << "the bytes came out changed or out of order";
  EXPECT_EQ(others_, 0);
}

TEST_F(UringFixed, AnEnteredSocketReportsReadinessThroughItsSlot) {
  send_parts(3, 0);
  ASSERT_EQ(poller_->fixed_files(), 1u);
  poller_->update(a_, true, false);
  ASSERT_EQ(::send(b_, "ping", 4, MSG_NOSIGNAL), 4);
  bool readable = false;
  for (int r = 0; r < 200 && !readable; ++r) {  // bounded: a poll armed on the wrong file fails, never hangs
    std::vector<PollEvent> out;
    poller_->poll(50'000'000, out);
    for (const PollEvent& e : out) readable = readable || (e.fd == a_ && e.readable);
  }
  EXPECT_TRUE(readable);
  poller_->update(a_, false, false);
}

TEST_F(UringFixed, AForgottenSocketLeavesTheTableSoItReallyCloses) {
  const std::string sent = send_parts(5, 0);
  ASSERT_EQ(poller_->fixed_files(), 1u);
  poller_->forget_send(a_);
  EXPECT_EQ(poller_->fixed_files(), 0u);
  ::close(a_);
  a_ = -1;
  EXPECT_EQ(read_b(sent.size()), sent);
  EXPECT_TRUE(peer_hangs_up(b_)) << "the socket stayed open: the table still held it";
}

TEST_F(UringFixed, AReusedFdNumberIsEnteredAfreshAndSendsToItsOwnSocket) {
  const std::string first = send_parts(4, 0);
  ASSERT_EQ(poller_->fixed_files(), 1u);
  poller_->forget_send(a_);
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv), 0);
  ASSERT_EQ(::dup2(sv[0], a_), a_);  // the old socket closes; the number now names the new one
  ::close(sv[0]);
  const int old_peer = b_;
  b_ = sv[1];
  const std::string second = send_parts(4, 50);  // entered again at its third send: a slot of its own
  EXPECT_EQ(poller_->fixed_files(), 1u);
  EXPECT_EQ(read_b(second.size()), second) << "the new socket's bytes went astray";
  std::string old;
  std::vector<char> buf(4096);
  for (ssize_t r; (r = ::recv(old_peer, buf.data(), buf.size(), MSG_DONTWAIT)) > 0;)
    old.append(buf.data(), static_cast<std::size_t>(r));
  EXPECT_EQ(old, first) << "bytes for the new socket reached the old one";
  EXPECT_TRUE(peer_hangs_up(old_peer)) << "the old socket stayed open";
  ::close(old_peer);
}

TEST(UringFixedEnv, TheEnvironmentSetsWhenASocketIsEntered) {
  spindle::test::ScopedEnv env("SPINDLE_AIO_URING_FIXED");
  env.unset();
  EXPECT_EQ(spindle::aio::detail::uring_fixed_after(), 0u) << "off unless asked for";
  env.set("0");
  EXPECT_EQ(spindle::aio::detail::uring_fixed_after(), 0u);
  env.set("1");
  EXPECT_EQ(spindle::aio::detail::uring_fixed_after(), 1u);
  env.set("16");
  EXPECT_EQ(spindle::aio::detail::uring_fixed_after(), 16u);
  env.set("many");
  EXPECT_EQ(spindle::aio::detail::uring_fixed_after(), 0u) << "not a count: off, as unset";
}

// ---- a loop's streams ----

using LoopSend = spindle::test::LeakCheckedTest;

bool uring_sends_here() {
  Backend got = Backend::epoll;
  auto p = spindle::aio::detail::make_uring_poller_or_epoll(&got, {.completion_send = true});
  return got == Backend::io_uring && p->completion_send();
}

TEST_F(LoopSend, IoUringLoopsSendByCompletionUnlessTheEnvironmentSaysNo) {
  spindle::test::ScopedEnv env("SPINDLE_AIO_URING_SEND");
  env.unset();
  const bool here = uring_sends_here();
  {
    aio::EventLoop loop({.backend = Backend::io_uring});
    EXPECT_EQ(loop.completion_send(), here);
  }
  env.set("0");
  {
    aio::EventLoop loop({.backend = Backend::io_uring});
    EXPECT_FALSE(loop.completion_send());
  }
  env.unset();
  aio::EventLoop epoll({.backend = Backend::epoll});
  EXPECT_FALSE(epoll.completion_send());
}

/// Reads `fd` (blocking, each wait bounded) until EOF or an error; `ended` says whether it saw the end.
std::string read_to_end(int fd, bool& ended) {
  std::string got;
  std::vector<char> buf(64 * 1024);
  ended = false;
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 10'000) <= 0) return got;  // a send the loop lost: the test fails, it does not hang
    const ssize_t r = ::recv(fd, buf.data(), buf.size(), 0);
    if (r <= 0) {
      ended = true;
      return got;
    }
    got.append(buf.data(), static_cast<std::size_t>(r));
  }
}

aio::Task<bool> write_all_then_close(int fd, const std::vector<std::string>* parts) {
  aio::StreamWriter w(aio::detail::make_stream_transport(fd, true, true, true, 0));
  const bool completion = aio::EventLoop::get_running_loop().completion_send();
  for (std::size_t i = 0; i < parts->size(); ++i) {
    w.write((*parts)[i]);  // not awaited: most are made while a send is in flight, and queue behind it
    // Now and then the loop goes idle, polls, and goes on with what queued (any delay does; none is timed).
    if (i % 20 == 19) co_await aio::sleep(std::chrono::milliseconds(1));
  }
  w.close();
  co_await w.wait_closed();
  co_return completion;
}

TEST_F(LoopSend, WritesMadeWhileASendIsInFlightKeepTheirOrderAndCloseFlushesThem) {
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  ASSERT_EQ(::fcntl(sv[0], F_SETFL, O_NONBLOCK), 0);
  std::vector<std::string> parts;
  std::string all;
  for (int i = 0; i < 400; ++i) {
    // Small writes, and one larger than a completion send takes (it starts with a send() of its own).
    parts.push_back(pattern(i == 200 ? 300'000 : static_cast<std::size_t>(1 + (i * 131) % 3000), i));
    all += parts.back();
  }
  std::string got;
  bool ended = false;
  std::thread reader([&] { got = read_to_end(sv[1], ended); });
  const bool completion = aio::run(write_all_then_close(sv[0], &parts), {.backend = Backend::io_uring});
  reader.join();
  ::close(sv[1]);
  EXPECT_EQ(completion, uring_sends_here());
  EXPECT_TRUE(ended) << "close() did not end the stream";
  ASSERT_EQ(got.size(), all.size());
  EXPECT_TRUE(got == all) << "the bytes came out changed or out of order";
}

aio::Task<bool> abort_a_blocked_send(int fd, int peer) {
  auto t = aio::detail::make_stream_transport(fd, true, true, true, 0);
  aio::StreamWriter w(t);
  w.write(pattern(1000, 1));  // the peer reads nothing and its buffer is full: this send waits in the kernel
  co_await aio::sleep(std::chrono::milliseconds(10));  // the idle loop submits it: any delay does, none is timed
  aio::detail::abort_transport(*t);
  // While the loop still runs (closing it cancels every send anyway): a send left in the kernel would hold the
  // socket open, and send its bytes once the peer reads.
  co_return co_await aio::to_thread(&peer_hangs_up, peer);
}

TEST_F(LoopSend, AbortEndsASendThePeerDoesNotReadAndTheSocketCloses) {
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv), 0);
  const std::string chunk(64 * 1024, 'f');
  std::size_t queued = 0;
  for (std::size_t size = chunk.size(); size > 0; size /= 2) {  // full: not a byte more fits
    ssize_t n;
    while ((n = ::send(sv[0], chunk.data(), size, MSG_NOSIGNAL)) > 0) queued += static_cast<std::size_t>(n);
  }
  ASSERT_EQ(::fcntl(sv[1], F_SETFL, 0), 0);
  const bool hung_up = aio::run(abort_a_blocked_send(sv[0], sv[1]), {.backend = Backend::io_uring});
  EXPECT_TRUE(hung_up) << "the socket stayed open after abort()";
  bool ended = false;
  EXPECT_EQ(read_to_end(sv[1], ended).size(), queued) << "the aborted write's bytes went out after all";
  EXPECT_TRUE(ended);
  ::close(sv[1]);
}

}  // namespace
