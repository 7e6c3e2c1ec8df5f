// The io_uring poller, driven directly through the Poller interface (the loop builds its own epoll poller):
// level-triggered readiness, interest changes, wake-ups from another thread, timeouts, many fds; the same
// checks run on the epoll poller so both backends are held to one contract.

#include <gtest/gtest.h>
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <latch>
#include <thread>
#include <vector>

#include "../../src/aio/poller.hpp"
#include "census.hpp"
#include "spindle/aio/detail/io_backend.hpp"

namespace aio = spindle::aio;
using aio::detail::Backend;
using aio::detail::PollEvent;
using aio::detail::Poller;

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

TEST(UringFactory, SaysWhichBackendItMade) {
  Backend got = Backend::epoll;
  auto p = aio::detail::make_uring_poller_or_epoll(&got);
  ASSERT_NE(p, nullptr);
  std::fprintf(stderr, "backend: %s\n", got == Backend::io_uring ? "io_uring" : "epoll (fallback)");
}

}  // namespace
