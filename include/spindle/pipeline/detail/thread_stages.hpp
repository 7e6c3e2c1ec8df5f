#pragma once
/// @file
/// Internal: the stages that run on threads of their own: sources, `thread` stages and thread sinks, batch
/// and unbatch.

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <mutex>
#include <optional>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "spindle/pipeline/detail/graph.hpp"
#include "spindle/pipeline/detail/policy.hpp"

namespace spindle::pipeline::detail {

/// A stage whose workers are threads it owns.
class ThreadedStage : public StageBase {
 public:
  using StageBase::StageBase;
  ~ThreadedStage() override { join(); }
  void join() noexcept override {
    for (auto& t : threads_)
      if (t.joinable()) t.join();
    threads_.clear();
  }

 protected:
  /// Starts `n` threads running `body(core)`; each ends with worker_exited().
  template <class Body>
  std::size_t spawn(Core& core, std::size_t n, Body body) {
    live.store(n, std::memory_order_relaxed);
    for (std::size_t i = 0; i < n; ++i) {
      threads_.emplace_back([this, &core, body] {
        try {
          body(core);
        } catch (...) {
          core.fail(std::current_exception());
        }
        worker_exited(core);
      });
    }
    return n;
  }
  /// Puts `outs` on `ch` (counting them out); false if the channel was cancelled. `urgent`: nothing more is
  /// coming soon, so a parked consumer must wake even for less than a block.
  template <class U>
  bool flush(Channel<U>& ch, std::vector<U>& outs, bool urgent = true) {
    const std::size_t k = outs.size();
    if (k == 0) return true;
    if (!ch.put(outs, &counters.put_wait_ns, urgent)) return false;
    counters.out.fetch_add(k, std::memory_order_relaxed);
    return true;
  }
  std::vector<std::thread> threads_;
};

/// The source: `pull(block, max)` appends up to `max` items and returns false once there are no more. It runs
/// on a thread of its own (never a pool thread: a blocking source cannot starve a pool, SPDL #1624).
template <class T, class Pull>
class SourceStage final : public ThreadedStage {
 public:
  SourceStage(StageOptions o, Channel<T>* output, Pull pull)
      : ThreadedStage("source", std::move(o), nullptr, output), out_(output), pull_(std::move(pull)) {}
  std::size_t launch(Core& core) override {
    return spawn(core, 1, [this](Core& c) { run(c); });
  }
  aio::EventLoop* foreign_loop() const noexcept override {
    if constexpr (requires(const Pull& p) { p.loop(); }) {
      return pull_.loop();
    } else {
      return nullptr;
    }
  }

 private:
  void run(Core& core) {
    const std::size_t k = std::min(core.options().block, out_->capacity());
    std::vector<T> block;
    bool more = true;
    while (more && !core.cancelled() && !core.stopping()) {
      const auto t0 = SteadyClock::now();
      try {
        more = pull_(block, k, core);
      } catch (...) {
        core.fail(std::current_exception());  // a source that throws ends the run, whatever the policy
        return;
      }
      const auto n = block.size();
      if (n != 0) {
        const auto dt = ns_since(t0);
        counters.busy_ns.fetch_add(dt, std::memory_order_relaxed);
        counters.latency.record(dt / n, n);
        counters.in.fetch_add(n, std::memory_order_relaxed);
      }
      if (!flush(*out_, block, !more || n < k)) return;
    }
  }
  Channel<T>* out_;
  Pull pull_;
};

/// A `thread` stage (Out = the function's result) or a thread sink (Out = void): `concurrency` threads take
/// blocks from the input, call the function on each item, and pass the results on in blocks. Ordered: a
/// block's results wait for the blocks before it (the window is one block per worker).
template <class In, class Out, class Fn>
class ThreadStage final : public ThreadedStage {
 public:
  using OutChannel = std::conditional_t<std::is_void_v<Out>, ChannelBase, Channel<Out>>;
  ThreadStage(const char* kind_name, StageOptions o, Channel<In>* input, OutChannel* output, Fn fn)
      : ThreadedStage(kind_name, std::move(o), input, output), in_(input), out_(output), fn_(std::move(fn)) {}
  std::size_t launch(Core& core) override {
    return spawn(core, options.concurrency, [this](Core& c) { work(c); });
  }
  void cancel() noexcept override {
    { std::lock_guard lock(turn_mu_); }
    turn_cv_.notify_all();
  }

 private:
  using OutVec = std::vector<std::conditional_t<std::is_void_v<Out>, char, Out>>;

  void work(Core& core) {
    const std::size_t n_workers = options.concurrency;
    const std::size_t k = std::max<std::size_t>(1, core.options().block);
    const std::size_t share = std::max<std::size_t>(1, (k + n_workers - 1) / n_workers);
    const bool ordered = !std::is_void_v<Out> && n_workers > 1 && options.order == Order::ordered;
    std::vector<In> items;
    OutVec outs;
    while (!core.cancelled()) {
      items.clear();
      std::uint64_t seq = 0;
      // Take this worker's share of what is there, so that slow items spread over the workers.
      const std::size_t want = std::clamp<std::size_t>((in_->depth() + n_workers - 1) / n_workers, 1, k);
      std::size_t n = in_->try_get(items, want, &seq);
      if (n == 0) {
        if constexpr (!std::is_void_v<Out>) {
          if (!ordered && !flush(*out_, outs)) return;  // flush before waiting: never hold items back
        }
        n = in_->get(items, share, &counters.get_wait_ns, &seq);
        if (n == 0) {
          if (in_->ended()) break;
          continue;
        }
      }
      counters.in.fetch_add(n, std::memory_order_relaxed);
      const auto t0 = SteadyClock::now();
      std::uint64_t consumed = 0;  // a sink's items, counted once per block
      for (auto& x : items) {
        if constexpr (std::is_void_v<Out>) {
          if (attempt(*this, core, x, [&] { fn_(x); })) ++consumed;
        } else {
          attempt(*this, core, x, [&] { outs.push_back(fn_(x)); });
        }
        if (core.cancelled()) break;
      }
      if (consumed != 0) counters.out.fetch_add(consumed, std::memory_order_relaxed);
      if (core.cancelled()) return;
      const auto dt = ns_since(t0);
      counters.busy_ns.fetch_add(dt, std::memory_order_relaxed);
      counters.latency.record(dt / n, n);
      if constexpr (!std::is_void_v<Out>) {
        if (ordered) {
          std::unique_lock lock(turn_mu_);
          turn_cv_.wait(lock, [&] { return next_ == seq || core.cancelled(); });
          if (core.cancelled()) return;
          const bool ok = flush(*out_, outs, in_->depth() == 0);  // in turn: the blocks before this one are out
          next_ = seq + n;
          lock.unlock();
          turn_cv_.notify_all();
          if (!ok) return;
        } else if (outs.size() >= k && !flush(*out_, outs, false)) {
          return;
        }
      }
    }
    if constexpr (!std::is_void_v<Out>) {
      if (!core.cancelled()) flush(*out_, outs);
    }
  }

  Channel<In>* in_;
  OutChannel* out_;
  Fn fn_;
  std::mutex turn_mu_;
  std::condition_variable turn_cv_;
  std::uint64_t next_ = 0;
};

/// `batch(n, max_wait)`: one thread groups items into vectors.
template <class T>
class BatchStage final : public ThreadedStage {
 public:
  BatchStage(StageOptions o, Channel<T>* input, Channel<std::vector<T>>* output, std::size_t n,
             std::chrono::milliseconds max_wait)
      : ThreadedStage("batch", std::move(o), input, output), in_(input), out_(output), n_(n), max_wait_(max_wait) {}
  std::size_t launch(Core& core) override {
    return spawn(core, 1, [this](Core& c) { work(c); });
  }

 private:
  void work(Core& core) {
    std::vector<T> cur;
    std::vector<std::vector<T>> outs;
    auto deadline = SteadyClock::time_point::max();
    auto emit = [&] {
      if (cur.empty()) return true;
      outs.push_back(std::move(cur));
      cur = {};
      deadline = SteadyClock::time_point::max();
      return flush(*out_, outs);
    };
    while (!core.cancelled()) {
      const bool first = cur.empty();
      const std::size_t n = in_->get(cur, n_ - cur.size(), &counters.get_wait_ns, nullptr, deadline);
      if (n == 0) {
        if (in_->ended()) break;
        if (!emit()) return;  // max_wait passed
        continue;
      }
      counters.in.fetch_add(n, std::memory_order_relaxed);
      if (first && max_wait_ != std::chrono::milliseconds::max()) {
        const auto now = SteadyClock::now();
        deadline =
            max_wait_ >= std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::time_point::max() - now)
                ? SteadyClock::time_point::max()
                : now + max_wait_;
      }
      if (cur.size() >= n_ && !emit()) return;
    }
    if (!core.cancelled()) emit();
  }
  Channel<T>* in_;
  Channel<std::vector<T>>* out_;
  std::size_t n_;
  std::chrono::milliseconds max_wait_;
};

/// `unbatch()`: one thread splits vectors into their items.
template <class T>
class UnbatchStage final : public ThreadedStage {
 public:
  UnbatchStage(StageOptions o, Channel<std::vector<T>>* input, Channel<T>* output)
      : ThreadedStage("unbatch", std::move(o), input, output), in_(input), out_(output) {}
  std::size_t launch(Core& core) override {
    return spawn(core, 1, [this](Core& c) { work(c); });
  }

 private:
  void work(Core& core) {
    const std::size_t k = std::max<std::size_t>(1, core.options().block);
    std::vector<std::vector<T>> items;
    std::vector<T> outs;
    while (!core.cancelled()) {
      items.clear();
      std::size_t n = in_->try_get(items, k);
      if (n == 0) {
        if (!flush(*out_, outs)) return;
        n = in_->get(items, k, &counters.get_wait_ns);
        if (n == 0) {
          if (in_->ended()) break;
          continue;
        }
      }
      counters.in.fetch_add(n, std::memory_order_relaxed);
      for (auto& v : items)
        for (auto& x : v) outs.push_back(std::move(x));
      if (outs.size() >= k && !flush(*out_, outs, false)) return;
    }
    if (!core.cancelled()) flush(*out_, outs);
  }
  Channel<std::vector<T>>* in_;
  Channel<T>* out_;
};

}  // namespace spindle::pipeline::detail
