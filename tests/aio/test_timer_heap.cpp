// The event loop's timer heap against a model: random pushes, cancellations and expiries across many of its
// 1,024-entry blocks, checked for firing order (deadline, then scheduling order), for no stale entry ever
// firing, and for references given back.

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <optional>
#include <random>
#include <set>
#include <tuple>
#include <vector>

#include "spindle/aio/detail/core.hpp"

namespace detail = spindle::aio::detail;

namespace {

struct Fired {
  int id;
  std::int64_t when;
};

// A target that records when its timer fires; refs count the heap's references on it.
class Target final : public detail::Runnable {
 public:
  Target(int id, std::vector<Fired>* log) : id_(id), log_(log) {}
  void run() noexcept override {}
  void on_timer() noexcept override { log_->push_back({id_, armed_when}); }
  void ref() noexcept override { ++refs; }
  void unref() noexcept override { --refs; }
  void discard() noexcept override {}

  std::int64_t armed_when = 0;
  long refs = 0;

 private:
  int id_;
  std::vector<Fired>* log_;
};

TEST(TimerHeap, FiresLikeASortedModelAcrossBlocksWithCancellationsAndCompaction) {
  const unsigned seed = std::random_device{}();
  std::printf("seed %u\n", seed);
  SCOPED_TRACE(seed);
  std::mt19937_64 rng(seed);

  constexpr int kTargets = 6000;  // up to 6 blocks of live entries, and stale ones besides
  std::vector<Fired> log;
  std::deque<Target> targets;  // Runnables do not move
  for (int i = 0; i < kTargets; ++i) targets.emplace_back(i, &log);
  // The model: live timers ordered by (deadline, push order), and each target's live key.
  using Key = std::tuple<std::int64_t, std::uint64_t, int>;
  std::set<Key> model;
  std::vector<std::optional<Key>> live(kTargets);
  std::uint64_t pushes = 0;
  auto disarm = [&](int id) {
    if (auto& k = live[static_cast<std::size_t>(id)]) {
      model.erase(*k);
      k.reset();
    }
  };

  detail::TimerHeap heap;
  std::int64_t now = 0;
  std::size_t peak = 0;
  // Three phases: growth (mostly arming), churn, then drain (mostly cancelling and expiring).
  for (int step = 0; step < 60'000; ++step) {
    const int phase = step / 20'000;
    const unsigned arm_below = phase == 0 ? 90 : phase == 1 ? 50 : 15;
    const unsigned cancel_below = phase == 0 ? 95 : phase == 1 ? 85 : 70;
    const int id = static_cast<int>(rng() % kTargets);
    const unsigned op = static_cast<unsigned>(rng() % 100);
    Target& t = targets[static_cast<std::size_t>(id)];
    if (op < arm_below) {  // arm (cancelling a live timer first, as every caller does)
      if (live[static_cast<std::size_t>(id)]) heap.cancel(&t);
      disarm(id);
      // Coarse deadlines: many ties, which must fire in scheduling order.
      t.armed_when = now + static_cast<std::int64_t>(rng() % 3000);
      heap.push(t.armed_when, &t);
      const Key k{t.armed_when, pushes++, id};
      model.insert(k);
      live[static_cast<std::size_t>(id)] = k;
    } else if (op < cancel_below) {
      heap.cancel(&t);
      disarm(id);
    } else {                                                            // time passes
      now += static_cast<std::int64_t>(rng() % (phase == 0 ? 2 : 16));  // the growth phase: time crawls
      log.clear();
      heap.expire(now);
      std::size_t i = 0;
      while (!model.empty() && std::get<0>(*model.begin()) <= now) {
        const Key k = *model.begin();
        ASSERT_LT(i, log.size()) << "a due timer did not fire, at step " << step;
        ASSERT_EQ(log[i].id, std::get<2>(k)) << "firing " << i << " at step " << step;
        ASSERT_EQ(log[i].when, std::get<0>(k));
        disarm(std::get<2>(k));
        ++i;
      }
      ASSERT_EQ(log.size(), i) << "a timer fired that was not due or was cancelled, at step " << step;
    }
    ASSERT_EQ(heap.size(), model.size()) << "at step " << step;
    ASSERT_EQ(heap.next_deadline(), model.empty() ? INT64_MAX : std::get<0>(*model.begin()));
    peak = std::max(peak, model.size());
  }
  EXPECT_GT(peak, 3000U);  // the growth phase did span several blocks

  // Everything left fires at the end of time, in order; then no entry holds a reference.
  log.clear();
  heap.expire(INT64_MAX);
  ASSERT_EQ(log.size(), model.size());
  std::size_t i = 0;
  for (const Key& k : model) EXPECT_EQ(log[i++].id, std::get<2>(k));
  EXPECT_TRUE(heap.empty());
  for (const Target& t : targets) ASSERT_EQ(t.refs, 0);
}

TEST(TimerHeap, GrowsAndShrinksByBlocksAndClearGivesEveryReferenceBack) {
  std::vector<Fired> log;
  std::deque<Target> targets;  // Runnables do not move
  constexpr int kTargets = 5000;
  for (int i = 0; i < kTargets; ++i) targets.emplace_back(i, &log);

  detail::TimerHeap heap;
  // Descending deadlines: each push sifts to the top, across block boundaries.
  for (int i = 0; i < kTargets; ++i) heap.push(kTargets - i, &targets[static_cast<std::size_t>(i)]);
  EXPECT_EQ(heap.size(), static_cast<std::size_t>(kTargets));
  heap.expire(kTargets / 2);  // fires deadlines 1..2500, the last pushed first
  ASSERT_EQ(log.size(), static_cast<std::size_t>(kTargets / 2));
  for (std::size_t i = 0; i < log.size(); ++i) EXPECT_EQ(log[i].id, kTargets - 1 - static_cast<int>(i));
  EXPECT_EQ(heap.next_deadline(), kTargets / 2 + 1);

  heap.clear();  // loop close: nothing fires, every reference goes
  EXPECT_TRUE(heap.empty());
  EXPECT_EQ(heap.next_deadline(), INT64_MAX);
  EXPECT_EQ(log.size(), static_cast<std::size_t>(kTargets / 2));
  for (const Target& t : targets) ASSERT_EQ(t.refs, 0);

  // Usable again after clear.
  heap.push(7, &targets[0]);
  log.clear();
  heap.expire(7);
  ASSERT_EQ(log.size(), 1U);
  EXPECT_EQ(log[0].id, 0);
  EXPECT_EQ(targets[0].refs, 0);
}

}  // namespace
