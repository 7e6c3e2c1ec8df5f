// The io_uring poller, driven directly through the Poller interface: level-triggered readiness, interest
// changes, wake-ups from another thread, timeouts, many fds; the same checks run on the epoll poller so both
// backends are held to one contract. Its completion receive (multishot recv into provided buffers): bytes in
// order, pause and resume, forgetting a socket, more data than buffers. Then the loop's choice of backend:
// LoopOptions::backend, else SPINDLE_AIO_BACKEND, and a loop asked for io_uring really runs on a ring.

#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <functional>
#include <latch>
#include <map>
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
#include "spindle/aio/run.hpp"

namespace aio = spindle::aio;
using aio::detail::Backend;
using aio::detail::Poller;
using aio::detail::PollEvent;

namespace {

struct Pipe {
  int r = -1;
  int w = -1;
  Pipe() {
    int p[2];
    if (::pipe2(p, O_CLOEXEC | O_NONBLOCK) == 0) {
      r = p[0];
      w = p[1];
    }
  }
  ~Pipe() {
    ::close(r);
    ::close(w);
  }
  Pipe(const Pipe&) = delete;
  Pipe& operator=(const Pipe&) = delete;
};

std::unique_ptr<Poller> make(Backend which, Backend* got) {
  if (which == Backend::epoll) {
    *got = Backend::epoll;
    return aio::detail::make_epoll_poller();
  }
  return aio::detail::make_uring_poller_or_epoll(got);
}

class PollerContract : public spindle::test::LeakCheckedTestWithParam<Backend> {
 protected:
  void SetUp() override {
    poller_ = make(GetParam(), &got_);
    if (GetParam() == Backend::io_uring && got_ != Backend::io_uring) {
      std::fprintf(stderr, "io_uring unavailable here: the factory fell back to epoll\n");
    }
  }
  void TearDown() override {
    poller_.reset();
    spindle::test::LeakCheckedTestWithParam<Backend>::TearDown();
  }
  std::vector<PollEvent> poll(std::int64_t timeout_ns) {
    std::vector<PollEvent> out;
    poller_->poll(timeout_ns, out);
    return out;
  }
  std::unique_ptr<Poller> poller_;
  Backend got_ = Backend::epoll;
};

TEST_P(PollerContract, ReadinessIsLevelTriggered) {
  Pipe p;
  poller_->update(p.r, true, false);
  EXPECT_TRUE(poll(0).empty());
  ASSERT_EQ(::write(p.w, "x", 1), 1);
  auto ev = poll(-1);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_EQ(ev[0].fd, p.r);
  EXPECT_TRUE(ev[0].readable);
  EXPECT_FALSE(ev[0].writable);
  // Not drained: reported again.
  ev = poll(-1);
  ASSERT_EQ(ev.size(), 1u);
  char c;
  ASSERT_EQ(::read(p.r, &c, 1), 1);
  EXPECT_TRUE(poll(0).empty());
  poller_->update(p.r, false, false);
}

TEST_P(PollerContract, InterestChangesAndRemoval) {
  Pipe p;
  poller_->update(p.w, false, true);
  auto ev = poll(-1);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_TRUE(ev[0].writable);
  poller_->update(p.w, false, false);
  EXPECT_TRUE(poll(0).empty());
  ASSERT_EQ(::write(p.w, "y", 1), 1);
  poller_->update(p.r, true, false);
  poller_->update(p.r, false, false);  // removed before it was ever waited on
  EXPECT_TRUE(poll(0).empty());
  poller_->update(p.r, true, false);
  ev = poll(-1);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_TRUE(ev[0].readable);
  poller_->update(p.r, false, false);
}

TEST_P(PollerContract, HangUpIsReported) {
  Pipe p;
  poller_->update(p.r, true, false);
  ::close(p.w);
  p.w = -1;
  auto ev = poll(-1);
  ASSERT_EQ(ev.size(), 1u);
  EXPECT_TRUE(ev[0].readable);  // EOF is readable
  poller_->update(p.r, false, false);
}

TEST_P(PollerContract, WakeFromAnotherThreadEndsAWait) {
  std::latch waiting(1);
  std::thread t([&] {
    waiting.wait();
    poller_->wake();
  });
  waiting.count_down();
  EXPECT_TRUE(poll(-1).empty());  // returns (no event) because of the wake-up
  t.join();
}

TEST_P(PollerContract, TimeoutReturnsWithoutEvents) { EXPECT_TRUE(poll(2'000'000).empty()); }

TEST_P(PollerContract, ManyFds) {
  constexpr int n = 300;
  std::vector<std::unique_ptr<Pipe>> pipes;
  for (int i = 0; i < n; ++i) {
    pipes.push_back(std::make_unique<Pipe>());
    poller_->update(pipes.back()->r, true, false);
  }
  for (int i = 0; i < n; i += 3) ASSERT_EQ(::write(pipes[static_cast<std::size_t>(i)]->w, "z", 1), 1);
  std::vector<bool> seen(static_cast<std::size_t>(n), false);
  int distinct = 0;
  for (int round = 0; round < 50 && distinct < n / 3; ++round) {
    for (const PollEvent& e : poll(-1)) {
      for (int i = 0; i < n; ++i) {
        if (pipes[static_cast<std::size_t>(i)]->r == e.fd && !seen[static_cast<std::size_t>(i)]) {
          seen[static_cast<std::size_t>(i)] = true;
          ++distinct;
          EXPECT_EQ(i % 3, 0);
        }
      }
    }
  }
  EXPECT_EQ(distinct, n / 3);
  for (auto& p : pipes) poller_->update(p->r, false, false);
}

INSTANTIATE_TEST_SUITE_P(Backends, PollerContract, ::testing::Values(Backend::epoll, Backend::io_uring),
                         [](const ::testing::TestParamInfo<Backend>& i) {
                           return std::string(i.param == Backend::epoll ? "epoll" : "io_uring");
                         });

// ---- completion receive ----

struct SockPair {
  int a = -1;
  int b = -1;
  SockPair() {
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) == 0) {
      a = sv[0];
      b = sv[1];
    }
  }
  ~SockPair() {
    if (a >= 0) ::close(a);
    if (b >= 0) ::close(b);
  }
  SockPair(const SockPair&) = delete;
  SockPair& operator=(const SockPair&) = delete;
};

class UringRecv : public spindle::test::LeakCheckedTest {
 protected:
  struct Got {
    std::string bytes;
    std::optional<std::ptrdiff_t> end;  // 0: EOF, < 0: -errno
    int after_end = 0;                  // events reported after the end: must stay 0
  };
  void SetUp() override {
    Backend got = Backend::epoll;
    poller_ = aio::detail::make_uring_poller_or_epoll(&got, {.completion_recv = true});
    if (got != Backend::io_uring || !poller_->completion_recv()) {
      GTEST_SKIP() << "no io_uring completion receive on this kernel";
    }
  }
  void TearDown() override {
    poller_.reset();
    spindle::test::LeakCheckedTest::TearDown();
  }
  /// One poll (at most `timeout_ns`): adds each fd's received bytes and end to `got`; other events are ignored.
  void poll_into(std::map<int, Got>& got, std::int64_t timeout_ns) {
    std::vector<PollEvent> out;
    poller_->poll(timeout_ns, out);
    for (const PollEvent& e : out) {
      if (!e.received) continue;
      Got& g = got[e.fd];
      if (g.end) {
        ++g.after_end;
      } else if (e.n > 0) {
        g.bytes.append(e.data, static_cast<std::size_t>(e.n));
      } else {
        g.end = e.n;
      }
    }
  }
  /// Polls until `done()`, bounded so that a lost completion fails the test instead of hanging it.
  void pump(std::map<int, Got>& got, const std::function<bool()>& done) {
    for (int round = 0; round < 2000 && !done(); ++round) poll_into(got, 50'000'000);
  }
  std::unique_ptr<Poller> poller_;
};

std::string pattern(std::size_t n) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>(i % 251);
  return s;
}

TEST_F(UringRecv, BytesArriveInOrderThenTheEof) {
  SockPair p;
  ASSERT_GE(p.a, 0);
  const std::string sent = pattern(1 << 20);
  ASSERT_EQ(::fcntl(p.b, F_SETFL, 0), 0);  // the writer blocks while the receiver catches up
  std::thread writer([&] {
    std::size_t off = 0;
    while (off < sent.size()) {
      const ssize_t n = ::send(p.b, sent.data() + off, sent.size() - off, MSG_NOSIGNAL);
      if (n <= 0) break;
      off += static_cast<std::size_t>(n);
    }
    ::shutdown(p.b, SHUT_WR);
  });
  poller_->start_recv(p.a);
  std::map<int, Got> got;
  pump(got, [&] { return got[p.a].end.has_value(); });
  writer.join();
  poll_into(got, 0);
  EXPECT_EQ(got[p.a].bytes.size(), sent.size());
  EXPECT_TRUE(got[p.a].bytes == sent) << "the bytes came back out of order or changed";
  EXPECT_EQ(got[p.a].end, std::optional<std::ptrdiff_t>(0));
  EXPECT_EQ(got[p.a].after_end, 0);
  poller_->forget_recv(p.a);
}

TEST_F(UringRecv, AStoppedReceiveTakesNothingNewAndResumingLosesNothing) {
  SockPair p;
  ASSERT_GE(p.a, 0);
  std::map<int, Got> got;
  poller_->start_recv(p.a);
  ASSERT_EQ(::send(p.b, "1", 1, MSG_NOSIGNAL), 1);
  pump(got, [&] { return got[p.a].bytes.size() == 1; });
  poller_->stop_recv(p.a);
  for (int i = 0; i < 3; ++i) poll_into(got, 0);  // the cancellation goes in and completes
  ASSERT_EQ(::send(p.b, "2", 1, MSG_NOSIGNAL), 1);
  poll_into(got, 20'000'000);
  EXPECT_EQ(got[p.a].bytes, "1") << "a stopped receive still took new bytes";
  poller_->start_recv(p.a);
  ASSERT_EQ(::send(p.b, "3", 1, MSG_NOSIGNAL), 1);
  ::shutdown(p.b, SHUT_WR);
  pump(got, [&] { return got[p.a].end.has_value(); });
  EXPECT_EQ(got[p.a].bytes, "123");
  EXPECT_EQ(got[p.a].end, std::optional<std::ptrdiff_t>(0));
  poller_->forget_recv(p.a);
}

TEST_F(UringRecv, AForgottenSocketReportsNothingAndItsNumberCanBeReused) {
  auto first = std::make_unique<SockPair>();
  ASSERT_GE(first->a, 0);
  const int number = first->a;
  poller_->start_recv(first->a);
  poller_->forget_recv(first->a);
  ASSERT_EQ(::send(first->b, "x", 1, MSG_NOSIGNAL), 1);
  std::map<int, Got> got;
  for (int i = 0; i < 3; ++i) poll_into(got, 10'000'000);
  EXPECT_TRUE(got.empty()) << "a forgotten socket's bytes were reported";
  first.reset();  // both ends closed: the next pair may get the same numbers
  SockPair second;
  ASSERT_GE(second.a, 0);
  poller_->start_recv(second.a);
  ASSERT_EQ(::send(second.b, "y", 1, MSG_NOSIGNAL), 1);
  pump(got, [&] { return got[second.a].bytes.size() == 1; });
  EXPECT_EQ(got[second.a].bytes, "y");
  if (second.a != number) {
    EXPECT_EQ(got.count(number), 0u);
  }
  EXPECT_EQ(got.size(), 1u);
  poller_->forget_recv(second.a);
}

TEST_F(UringRecv, MoreDataThanTheBuffersHoldArrivesWhole) {
  SockPair p;
  ASSERT_GE(p.a, 0);
  // As much as the socket takes before anyone receives (the ring's buffers hold 4 MiB: with root's larger
  // send buffer, more than that is waiting, so a receive runs out of buffers and is re-armed).
  const int big = 16 << 20;
  if (::setsockopt(p.b, SOL_SOCKET, SO_SNDBUFFORCE, &big, sizeof big) != 0) {
    ::setsockopt(p.b, SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
  }
  const std::string chunk = pattern(64 * 1024);
  std::string sent;
  for (;;) {
    const ssize_t n = ::send(p.b, chunk.data(), chunk.size(), MSG_NOSIGNAL);
    if (n <= 0) break;
    sent.append(chunk, 0, static_cast<std::size_t>(n));
  }
  ASSERT_FALSE(sent.empty());
  ::shutdown(p.b, SHUT_WR);
  poller_->start_recv(p.a);
  std::map<int, Got> got;
  pump(got, [&] { return got[p.a].end.has_value(); });
  EXPECT_EQ(got[p.a].bytes.size(), sent.size());
  EXPECT_TRUE(got[p.a].bytes == sent);
  EXPECT_EQ(got[p.a].end, std::optional<std::ptrdiff_t>(0));
  poller_->forget_recv(p.a);
}

// Linux requeues a multishot receive after 32 buffers in a row and the requeued one misses an EOF that is already
// there; the poller re-arms such receives. 40 buffers' worth of data, then the EOF, all queued before the receive.
TEST_F(UringRecv, AnEofBehindALongRunOfQueuedDataIsReported) {
  SockPair p;
  ASSERT_GE(p.a, 0);
  const std::string sent = pattern(40 * 4096);
  std::size_t off = 0;
  while (off < sent.size()) {
    const ssize_t n = ::send(p.b, sent.data() + off, sent.size() - off, MSG_NOSIGNAL);
    ASSERT_GT(n, 0);
    off += static_cast<std::size_t>(n);
  }
  ::shutdown(p.b, SHUT_WR);
  poller_->start_recv(p.a);
  std::map<int, Got> got;
  pump(got, [&] { return got[p.a].end.has_value(); });
  EXPECT_TRUE(got[p.a].bytes == sent);
  EXPECT_EQ(got[p.a].end, std::optional<std::ptrdiff_t>(0)) << "the EOF behind the data was never reported";
  poller_->forget_recv(p.a);
}

TEST_F(UringRecv, ManySocketsEachGetTheirOwnBytes) {
  constexpr int n = 200;
  std::vector<std::unique_ptr<SockPair>> pairs;
  for (int i = 0; i < n; ++i) {
    pairs.push_back(std::make_unique<SockPair>());
    ASSERT_GE(pairs.back()->a, 0);
    poller_->start_recv(pairs.back()->a);
  }
  std::map<int, Got> got;
  poll_into(got, 0);  // armed before the bytes come
  for (int i = 0; i < n; ++i) {
    const std::string msg = std::to_string(i);
    ASSERT_EQ(::send(pairs[static_cast<std::size_t>(i)]->b, msg.data(), msg.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(msg.size()));
  }
  auto complete = [&] {
    for (int i = 0; i < n; ++i) {
      if (got[pairs[static_cast<std::size_t>(i)]->a].bytes.size() < std::to_string(i).size()) return false;
    }
    return true;
  };
  pump(got, complete);
  for (int i = 0; i < n; ++i) EXPECT_EQ(got[pairs[static_cast<std::size_t>(i)]->a].bytes, std::to_string(i));
  for (auto& p : pairs) poller_->forget_recv(p->a);
}

TEST(UringFactory, SaysWhichBackendItMade) {
  Backend got = Backend::epoll;
  auto p = aio::detail::make_uring_poller_or_epoll(&got);
  ASSERT_NE(p, nullptr);
  std::fprintf(stderr, "backend: %s\n", got == Backend::io_uring ? "io_uring" : "epoll (fallback)");
}

bool has_io_uring_fd() {
  bool found = false;
  DIR* d = ::opendir("/proc/self/fd");
  if (d == nullptr) return false;
  while (dirent* e = ::readdir(d)) {
    char target[256] = {};
    const std::string path = std::string("/proc/self/fd/") + e->d_name;
    const ssize_t n = ::readlink(path.c_str(), target, sizeof target - 1);
    if (n > 0 && std::string(target, static_cast<std::size_t>(n)).find("io_uring") != std::string::npos) found = true;
  }
  ::closedir(d);
  return found;
}

using spindle::test::ScopedEnv;

using LoopBackend = spindle::test::LeakCheckedTest;

// What io_uring gives here, asked of the factory directly rather than of a loop: io_uring, or epoll where it
// cannot be set up.
Backend uring_here() {
  Backend got = Backend::epoll;
  aio::detail::make_uring_poller_or_epoll(&got);
  return got;
}

Backend backend_of(aio::LoopOptions options = {}) {
  aio::EventLoop loop(std::move(options));
  return loop.backend();
}

// A loop asked for io_uring runs on a ring (its fd is open while the loop runs, closed with the loop) and
// backend() says so; where io_uring cannot be set up the loop says epoll, and has no ring.
TEST_F(LoopBackend, ALoopAskedForIoUringRunsOnARing) {
  bool during = false;
  Backend ran = Backend::epoll;
  auto main = [&]() -> aio::Task<void> {
    during = has_io_uring_fd();
    ran = aio::EventLoop::get_running_loop().backend();
    co_return;
  };
  aio::run(main(), {.backend = Backend::io_uring});
  EXPECT_EQ(ran, uring_here());
  EXPECT_EQ(during, ran == Backend::io_uring);
  EXPECT_FALSE(has_io_uring_fd());
  std::fprintf(stderr, "backend: %s\n", ran == Backend::io_uring ? "io_uring" : "epoll (fallback)");
}

// Unset options read SPINDLE_AIO_BACKEND (absent or empty: epoll); an explicit option wins over it.
TEST_F(LoopBackend, TheEnvironmentChoosesWhenTheOptionsDoNot) {
  ScopedEnv env("SPINDLE_AIO_BACKEND");
  env.unset();
  const Backend uring = uring_here();
  EXPECT_EQ(backend_of(), Backend::epoll);
  env.set("");
  EXPECT_EQ(backend_of(), Backend::epoll);
  env.set("epoll");
  EXPECT_EQ(backend_of(), Backend::epoll);
  EXPECT_EQ(backend_of({.backend = Backend::io_uring}), uring);
  env.set("io_uring");
  EXPECT_EQ(backend_of(), uring);
  EXPECT_EQ(backend_of({.backend = Backend::epoll}), Backend::epoll);
  env.set("uring");
  EXPECT_EQ(backend_of(), uring);
  bool ran = false;
  auto main = [&]() -> aio::Task<void> {
    ran = aio::EventLoop::get_running_loop().backend() == uring;
    co_return;
  };
  aio::run(main());  // run() leaves the choice to the environment too
  EXPECT_TRUE(ran);
}

// A misspelt backend is an error that names the variable, not a silent epoll; a loop whose options choose
// does not read it.
TEST_F(LoopBackend, AMisspeltBackendInTheEnvironmentIsAClearError) {
  ScopedEnv env("SPINDLE_AIO_BACKEND");
  for (const char* bad : {"iouring", "EPOLL", "io_uring ", "1"}) {
    env.set(bad);
    try {
      aio::EventLoop loop;
      ADD_FAILURE() << "SPINDLE_AIO_BACKEND='" << bad << "' was accepted";
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find("SPINDLE_AIO_BACKEND"), std::string::npos) << e.what();
    }
  }
  EXPECT_EQ(backend_of({.backend = Backend::epoll}), Backend::epoll);
  auto main = []() -> aio::Task<void> { co_return; };
  EXPECT_THROW(aio::run(main()), std::invalid_argument);
}

}  // namespace
