// The loop itself: callbacks, readers and writers on pipes, misuse, wake-ups from other threads.
// SPINDLE_TEST_ON_EACH_BACKEND: tests/CMakeLists.txt runs these on epoll and again on io_uring ("uring." names).

#include <gtest/gtest.h>
#include <fcntl.h>
#include <unistd.h>

#include <string>
#include <thread>
#include <vector>

#include "census.hpp"
#include "spindle/aio.hpp"

using namespace std::chrono_literals;
namespace aio = spindle::aio;

namespace {

class Loop : public spindle::test::LeakCheckedTest {};

TEST_F(Loop, CallLaterRunsInDeadlineOrderAndCancelledTimersNever) {
  aio::EventLoop loop({.clock = std::make_shared<aio::VirtualClock>()});
  std::vector<int> order;
  loop.call_later(30ms, [&] { order.push_back(3); });
  auto cancelled = loop.call_later(20ms, [&] { order.push_back(99); });
  loop.call_later(10ms, [&] { order.push_back(1); });
  loop.call_at(loop.time() + 10ms, [&] { order.push_back(2); });  // same deadline: scheduling order
  loop.call_later(40ms, [&] { loop.stop(); });
  cancelled.cancel();
  EXPECT_TRUE(cancelled.cancelled());
  loop.run_forever();
  loop.close();
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));
}

TEST_F(Loop, ManyCancelledTimersAreCompactedAndNoneFires) {
  aio::EventLoop loop({.clock = std::make_shared<aio::VirtualClock>()});
  int fired = 0;
  std::vector<aio::TimerHandle> hs;
  for (int i = 0; i < 1000; ++i) hs.push_back(loop.call_later(std::chrono::milliseconds(i + 1), [&] { ++fired; }));
  for (int i = 0; i < 1000; i += 2) hs[static_cast<std::size_t>(i)].cancel();
  loop.call_later(2s, [&] { loop.stop(); });
  loop.run_forever();
  loop.close();
  EXPECT_EQ(fired, 500);
}

TEST_F(Loop, CallSoonRunsInFifoOrder) {
  aio::EventLoop loop;
  std::string s;
  loop.call_soon([&] { s += "a"; });
  loop.call_soon([&] { s += "b"; });
  loop.call_soon([&] { loop.stop(); });
  loop.run_forever();
  loop.close();
  EXPECT_EQ(s, "ab");
}

TEST_F(Loop, ReaderIsCalledWhenThePipeIsReadable) {
  aio::EventLoop loop;
  int fds[2];
  ASSERT_EQ(pipe2(fds, O_NONBLOCK | O_CLOEXEC), 0);
  std::string got;
  loop.add_reader(fds[0], [&] {
    char buf[16];
    const ssize_t n = read(fds[0], buf, sizeof buf);
    if (n > 0) got.append(buf, static_cast<std::size_t>(n));
    if (got == "hello") loop.stop();
  });
  std::thread writer([&] { ASSERT_EQ(write(fds[1], "hello", 5), 5); });
  loop.run_forever();
  writer.join();
  EXPECT_TRUE(loop.remove_reader(fds[0]));
  EXPECT_FALSE(loop.remove_reader(fds[0]));
  loop.close();
  close(fds[0]);
  close(fds[1]);
  EXPECT_EQ(got, "hello");
}

TEST_F(Loop, WriterIsCalledWhenWritable) {
  aio::EventLoop loop;
  int fds[2];
  ASSERT_EQ(pipe2(fds, O_NONBLOCK | O_CLOEXEC), 0);
  int calls = 0;
  loop.add_writer(fds[1], [&] {
    ++calls;
    loop.remove_writer(fds[1]);
    loop.stop();
  });
  loop.run_forever();
  loop.close();
  close(fds[0]);
  close(fds[1]);
  EXPECT_EQ(calls, 1);
}

TEST_F(Loop, MisuseIsReported) {
  aio::EventLoop loop;
  loop.close();
  EXPECT_THROW(loop.run_forever(), spindle::InvalidStateError);
  EXPECT_THROW(loop.call_soon([] {}), spindle::InvalidStateError);
  EXPECT_THROW(aio::EventLoop::get_running_loop(), spindle::InvalidStateError);
  auto t = []() -> aio::Task<int> { co_return 1; }();
  EXPECT_THROW(aio::create_task(std::move(t)), spindle::InvalidStateError);  // no running loop
}

TEST_F(Loop, RunUntilCompleteOnALoopWithLeftoversThenRunCleansUp) {
  int cancelled = 0;
  auto bg = [&]() -> aio::Task<void> {
    try {
      co_await aio::sleep(1h);
    } catch (const spindle::CancelledError&) {
      ++cancelled;
      throw;
    }
  };
  auto main = [&]() -> aio::Task<int> {
    aio::create_task(bg());
    aio::create_task(bg());
    EXPECT_EQ(aio::all_tasks().size(), 3u);
    co_await aio::yield_now();  // the background tasks start and sleep
    co_return 1;
  };
  EXPECT_EQ(aio::run(main(), {.clock = std::make_shared<aio::VirtualClock>(), .handle_sigint = false}), 1);
  EXPECT_EQ(cancelled, 2);  // run() cancels what is left and lets it clean up
}

}  // namespace
