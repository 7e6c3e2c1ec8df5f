// Cancellation racing completion, many times: every future ends in exactly one terminal state and every
// callback runs exactly once.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "census.hpp"
#include "spindle/core/future.hpp"

namespace {

class FutureStress : public spindle::test::LeakCheckedTest {};

TEST_F(FutureStress, CancelRacesSetResult100k) {
  constexpr int kRounds = 100'000;
  std::vector<spindle::Promise<int>> promises(kRounds);
  std::vector<spindle::Future<int>> futures;
  futures.reserve(kRounds);
  std::atomic<int> callbacks{0};
  for (auto& p : promises) {
    futures.push_back(p.get_future());
    futures.back().add_done_callback([&](const spindle::Future<int>&) { callbacks.fetch_add(1); });
  }
  std::atomic<int> set_ok{0};
  std::atomic<int> cancel_ok{0};
  std::thread producer([&] {
    for (auto& p : promises) {
      try {
        p.set_result(1);
        set_ok.fetch_add(1);
      } catch (const spindle::InvalidStateError&) {
      }
    }
  });
  std::thread canceller([&] {
    for (auto& f : futures)
      if (f.cancel()) cancel_ok.fetch_add(1);
  });
  producer.join();
  canceller.join();
  EXPECT_EQ(set_ok.load() + cancel_ok.load(), kRounds) << "each future settled exactly once";
  EXPECT_EQ(callbacks.load(), kRounds);
  int cancelled = 0;
  for (auto& f : futures) {
    ASSERT_TRUE(f.done());
    if (f.cancelled()) {
      ++cancelled;
      EXPECT_THROW(f.result(), spindle::CancelledError);
    } else {
      EXPECT_EQ(f.result(), 1);
    }
  }
  EXPECT_EQ(cancelled, cancel_ok.load());
  futures.clear();
  promises.clear();
}

TEST_F(FutureStress, ManyWaitersOneProducer) {
  for (int round = 0; round < 200; ++round) {
    spindle::Promise<int> p;
    auto f = p.get_future();
    std::atomic<int> woke{0};
    std::vector<std::thread> waiters;
    for (int i = 0; i < 4; ++i)
      waiters.emplace_back([&, f] {
        if (f.result() == round) woke.fetch_add(1);
      });
    p.set_result(round);
    for (auto& t : waiters) t.join();
    EXPECT_EQ(woke.load(), 4);
  }
}

}  // namespace
