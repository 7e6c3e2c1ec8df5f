// The io_uring poller, driven directly through the Poller interface: level-triggered readiness, interest
// changes, wake-ups from another thread, timeouts, many fds; the same checks run on the epoll poller so both
// backends are held to one contract. Then the loop's choice of backend: LoopOptions::backend, else
// SPINDLE_AIO_BACKEND, and a loop asked for io_uring really runs on a ring.

#include <gtest/gtest.h>
#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <latch>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "../../src/aio/poller.hpp"
#include "census.hpp"
#include "spindle/aio/detail/io_backend.hpp"
#include "spindle/aio/event_loop.hpp"
#include "spindle/aio/run.hpp"

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

/// Sets (or unsets) an environment variable for one test and restores it after. Tests run one at a time and
/// the census checks that no thread of a previous test is left to read the environment meanwhile.
class ScopedEnv {
 public:
  explicit ScopedEnv(const char* name) : name_(name) {
    if (const char* v = std::getenv(name)) old_ = v;
  }
  ~ScopedEnv() {
    if (old_) {
      ::setenv(name_, old_->c_str(), 1);
    } else {
      ::unsetenv(name_);
    }
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;
  void set(const char* value) { ::setenv(name_, value, 1); }
  void unset() { ::unsetenv(name_); }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

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
