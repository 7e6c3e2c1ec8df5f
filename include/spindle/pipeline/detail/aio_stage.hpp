#pragma once
/// @file
/// Internal: an `aio` stage (or async sink) on the pipeline's event loop. An input pump moves blocks from the
/// input channel into a loop-local inbox; `concurrency` worker tasks each run the function on one item at a
/// time and leave results in a loop-local outbox; an output pump moves them to the output channel in blocks.
/// The user's callable lives in the stage and is called from plain statements (never a closure inside a
/// co_await expression: GCC PR c++/100611).

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <exception>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>
#include <vector>

#include "spindle/aio/event_loop.hpp"
#include "spindle/aio/future.hpp"
#include "spindle/aio/locks.hpp"
#include "spindle/aio/task.hpp"
#include "spindle/core/errors.hpp"
#include "spindle/pipeline/detail/graph.hpp"
#include "spindle/pipeline/detail/policy.hpp"

namespace spindle::pipeline::detail {

template <class In, class Out, class Fn>
class AioStage final : public StageBase {
 public:
  using OutChannel = std::conditional_t<std::is_void_v<Out>, ChannelBase, Channel<Out>>;
  using OutItem = std::conditional_t<std::is_void_v<Out>, char, Out>;
  AioStage(const char* kind_name, StageOptions o, Channel<In>* input, OutChannel* output, Fn fn)
      : StageBase(kind_name, std::move(o), input, output), in_(input), out_(output), fn_(std::move(fn)) {}

  bool uses_loop() const noexcept override { return true; }

  std::size_t launch(Core& core) override {
    core_ = &core;
    aio::EventLoop* loop = &core.loop();
    const std::size_t k = std::max<std::size_t>(1, core.options().block);
    const std::size_t n = options.concurrency;
    block_ = k;
    in_cap_ = std::max(k, n);
    workers_left_ = n;
    const std::size_t total = n + (std::is_void_v<Out> ? 1 : 2);
    live.store(total, std::memory_order_relaxed);
    tasks_.push_back(loop->create_task(pump_in(), "pipeline-in"));
    for (std::size_t i = 0; i < n; ++i) tasks_.push_back(loop->create_task(worker(), "pipeline-worker"));
    if constexpr (!std::is_void_v<Out>) tasks_.push_back(loop->create_task(pump_out(), "pipeline-out"));
    loop_.store(loop, std::memory_order_release);  // cancel() may come from a stage that already runs
    return total;
  }
  void cancel() noexcept override {
    aio::EventLoop* loop = loop_.load(std::memory_order_acquire);
    if (loop == nullptr) return;
    try {
      loop->call_soon_threadsafe([this] {
        for (auto& t : tasks_) t.cancel();
      });
    } catch (...) {
    }
  }
  void join() noexcept override { tasks_.clear(); }

 private:
  /// Ends a worker whatever way its coroutine leaves.
  struct Exit {
    AioStage* s;
    ~Exit() { s->worker_exited(*s->core_); }
  };

  // The three roles hand items over through loop-local buffers in blocks, not an aio::Queue per item: one
  // item costs a pop, the call and a push; a wake-up (an Event set) is paid per block.

  aio::Task<void> pump_in() {
    Exit exit{this};
    Core& core = *core_;
    std::vector<In> buf;
    try {
      while (!core.cancelled() && !workers_done_) {
        // Refill by blocks (half the inbox at least): taking a few items at a time would leave the input
        // channel almost full, and its parked producers wait for half of it to be free.
        while (inbox_.size() > in_cap_ / 2 && !workers_done_) {
          inbox_room_.clear();
          co_await inbox_room_.wait();
        }
        if (workers_done_) break;
        buf.clear();
        const std::size_t n = in_->try_get(buf, in_cap_ - inbox_.size());
        if (n == 0) {
          if (in_->ended()) break;
          Future<void> ready = in_->readable();
          const auto t0 = SteadyClock::now();
          co_await ready;
          counters.get_wait_ns.fetch_add(ns_since(t0), std::memory_order_relaxed);
          continue;
        }
        counters.in.fetch_add(n, std::memory_order_relaxed);
        for (auto& x : buf) inbox_.emplace_back(seq_in_++, std::move(x));
        inbox_ready_.set();
      }
    } catch (...) {
      if (!core.cancelled()) core.fail(std::current_exception());
    }
    in_ended_ = true;
    if (core.cancelled()) inbox_.clear();
    inbox_ready_.set();
  }

  aio::Task<void> worker() {
    Exit exit{this};
    Core& core = *core_;
    const bool ordered = !std::is_void_v<Out> && options.concurrency > 1 && options.order == Order::ordered;
    aio::Event turn;
    try {
      while (!core.cancelled()) {
        while (inbox_.empty() && !in_ended_) {
          inbox_ready_.clear();
          co_await inbox_ready_.wait();
        }
        if (inbox_.empty()) break;  // the input ended
        std::pair<std::uint64_t, In> item = std::move(inbox_.front());
        inbox_.pop_front();
        if (inbox_.size() <= in_cap_ / 2) inbox_room_.set();
        In& x = item.second;
        std::optional<OutItem> result;
        bool ok = false;
        std::exception_ptr error;
        auto backoff = options.errors.backoff;
        for (std::size_t a = 0;; ++a) {
          // One item in kSample is timed (busy time scaled up): a clock read costs as much as a tiny item.
          const bool timed = (ticks_++ % kSample) == 0;
          const auto t0 = timed ? SteadyClock::now() : SteadyClock::time_point{};
          ++in_fn_;
          try {
            if constexpr (std::is_void_v<Out>) {
              co_await fn_(x);
            } else {
              result.emplace(co_await fn_(x));
            }
            ok = true;
          } catch (...) {
            error = std::current_exception();
          }
          --in_fn_;
          if (timed) {
            const auto dt = ns_since(t0);
            counters.busy_ns.fetch_add(dt * kSample, std::memory_order_relaxed);
            counters.latency.record(dt);
          }
          if (ok || core.cancelled()) break;
          counters.failed.fetch_add(1, std::memory_order_relaxed);
          if (a >= options.errors.retries) {
            give_up(*this, core, x, error);
            break;
          }
          counters.retried.fetch_add(1, std::memory_order_relaxed);
          if (backoff.count() > 0) co_await aio::sleep(backoff);
          backoff *= 2;
        }
        if (core.cancelled()) break;
        const std::uint64_t seq = item.first;
        if (ordered && next_out_ != seq) {  // wait for the items before this one (the window: one per worker)
          turn.clear();
          waiting_.emplace_back(seq, &turn);
          co_await turn.wait();
        }
        if (ok) {
          if constexpr (std::is_void_v<Out>) {
            counters.out.fetch_add(1, std::memory_order_relaxed);
          } else {
            while (outbox_.size() >= block_ && !out_done_) {
              outbox_room_.clear();
              co_await outbox_room_.wait();
            }
            if (out_done_) break;  // the output was cancelled: nothing more can leave
            outbox_.push_back(std::move(*result));
            // Wake the output pump for a full block, or at once when no more results are coming soon (the
            // input is empty, or other items are suspended in fn: I/O, whose results may take any time).
            if (outbox_.size() >= block_ || inbox_.empty() || in_fn_ > 0) outbox_ready_.set();
          }
        }
        if (ordered) {
          next_out_ = seq + 1;
          for (std::size_t w = 0; w < waiting_.size(); ++w) {  // at most one entry per worker: a scan is cheap
            if (waiting_[w].first == next_out_) {
              waiting_[w].second->set();
              waiting_[w] = waiting_.back();
              waiting_.pop_back();
              break;
            }
          }
        }
      }
    } catch (...) {
      if (!core.cancelled()) core.fail(std::current_exception());
    }
    if (--workers_left_ == 0) {
      workers_done_ = true;
      inbox_room_.set();
      outbox_ready_.set();
    }
  }

  aio::Task<void> pump_out() {
    Exit exit{this};
    Core& core = *core_;
    std::vector<OutItem> block;
    try {
      while (!core.cancelled()) {
        while (outbox_.empty() && !workers_done_) {
          outbox_ready_.clear();
          co_await outbox_ready_.wait();
        }
        if (outbox_.empty()) break;  // every worker ended
        block.swap(outbox_);
        outbox_room_.set();
        const std::size_t count = block.size();
        std::size_t from = 0;
        while (true) {
          // Urgent unless more output is surely coming at once: a parked consumer then waits for a fuller
          // block (a wake-up costs ~25 us). An item suspended in fn (I/O) may take any time: urgent.
          const bool urgent = outbox_.empty() && (in_fn_ > 0 || (inbox_.empty() && in_->depth() == 0));
          from = out_->try_put(block, from, urgent);
          if (from == block.size()) break;
          const std::size_t need = out_->capacity_bytes() != 0 ? ItemBytes<Out>{}(block[from]) : 0;
          Future<void> room = out_->writable(need);
          const auto t0 = SteadyClock::now();
          co_await room;
          counters.put_wait_ns.fetch_add(ns_since(t0), std::memory_order_relaxed);
        }
        block.clear();
        if (out_->cancelled()) break;
        counters.out.fetch_add(count, std::memory_order_relaxed);
      }
    } catch (...) {
      if (!core.cancelled()) core.fail(std::current_exception());
    }
    out_done_ = true;
    outbox_room_.set();
  }

  Channel<In>* in_;
  OutChannel* out_;
  Fn fn_;
  Core* core_ = nullptr;
  std::atomic<aio::EventLoop*> loop_{nullptr};
  // Loop thread only:
  std::size_t block_ = 1;                           // results per output block
  std::size_t in_cap_ = 1;                          // bound of inbox_
  std::deque<std::pair<std::uint64_t, In>> inbox_;  // taken from the input, with their sequence numbers
  bool in_ended_ = false;                           // pump_in is done: nothing more comes into inbox_
  aio::Event inbox_ready_;                          // inbox_ has items, or in_ended_
  aio::Event inbox_room_;                           // inbox_ is half empty, or every worker ended
  std::vector<OutItem> outbox_;                     // results waiting for pump_out, in output order
  bool workers_done_ = false;
  bool out_done_ = false;    // pump_out ended: results have nowhere to go
  aio::Event outbox_ready_;  // a block of results is there, or they should leave now, or workers_done_
  aio::Event outbox_room_;   // outbox_ was emptied, or out_done_
  std::vector<aio::AnyTask> tasks_;
  std::size_t workers_left_ = 0;
  std::size_t in_fn_ = 0;
  std::uint64_t ticks_ = 0;
  static constexpr std::uint64_t kSample = 8;  // workers inside fn (suspended there, when pump_out runs)
  std::uint64_t seq_in_ = 0;
  std::uint64_t next_out_ = 0;
  std::vector<std::pair<std::uint64_t, aio::Event*>> waiting_;  // workers waiting for their turn (ordered)
};

}  // namespace spindle::pipeline::detail
