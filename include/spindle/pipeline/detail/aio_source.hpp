#pragma once
/// @file
/// Internal: a source that awaits an async generator (`gen() -> aio::Task<std::optional<T>>`) on the
/// pipeline's event loop. The generator task hands items to a loop-local queue; a pump task moves them to the
/// output channel in blocks (as an aio stage's output pump does), urgently when the generator is suspended
/// in I/O, so that a slow generator's items never wait for a full block.

#include <atomic>
#include <cstddef>
#include <exception>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "spindle/aio/event_loop.hpp"
#include "spindle/aio/future.hpp"
#include "spindle/aio/queue.hpp"
#include "spindle/aio/task.hpp"
#include "spindle/core/errors.hpp"
#include "spindle/pipeline/detail/graph.hpp"

namespace spindle::pipeline::detail {

template <class T, class Gen>
class AioSourceStage final : public StageBase {
 public:
  AioSourceStage(StageOptions o, Channel<T>* output, Gen gen)
      : StageBase("source", std::move(o), nullptr, output), out_(output), gen_(std::move(gen)) {}

  bool uses_loop() const noexcept override { return true; }

  std::size_t launch(Core& core) override {
    core_ = &core;
    aio::EventLoop* loop = &core.loop();
    const std::size_t k = std::max<std::size_t>(1, core.options().block);
    local_ = std::make_unique<aio::Queue<T>>(static_cast<long>(k));
    live.store(2, std::memory_order_relaxed);
    tasks_.push_back(loop->create_task(produce(), "pipeline-source"));
    tasks_.push_back(loop->create_task(pump(), "pipeline-source-out"));
    loop_.store(loop, std::memory_order_release);
    return 2;
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
  void stop() noexcept override {
    aio::EventLoop* loop = loop_.load(std::memory_order_acquire);
    if (loop == nullptr) return;
    try {
      // Only a generator waiting for input is interrupted: an item it already produced still goes out (the
      // produce loop sees stopping() before its next call).
      loop->call_soon_threadsafe([this] {
        if (in_gen_ && !tasks_.empty()) tasks_.front().cancel();
      });
    } catch (...) {
    }
  }
  void join() noexcept override { tasks_.clear(); }

 private:
  struct Exit {
    AioSourceStage* s;
    ~Exit() { s->worker_exited(*s->core_); }
  };

  aio::Task<void> produce() {
    Exit exit{this};
    Core& core = *core_;
    try {
      while (!core.cancelled() && !core.stopping()) {
        std::optional<T> x;
        const auto t0 = SteadyClock::now();
        in_gen_ = true;
        try {
          x = co_await gen_();
        } catch (...) {
          in_gen_ = false;
          // A source that throws ends the run; stop() and cancel() interrupt a waiting generator.
          if (!core.cancelled() && !core.stopping()) core.fail(std::current_exception());
          break;
        }
        in_gen_ = false;
        const auto dt = ns_since(t0);
        if (!x) break;
        counters.busy_ns.fetch_add(dt, std::memory_order_relaxed);
        counters.latency.record(dt);
        counters.in.fetch_add(1, std::memory_order_relaxed);
        co_await local_->put(std::move(*x));
      }
    } catch (...) {
      if (!core.cancelled()) core.fail(std::current_exception());
    }
    local_->shutdown(core.cancelled());
  }

  aio::Task<void> pump() {
    Exit exit{this};
    Core& core = *core_;
    const std::size_t k = std::max<std::size_t>(1, core.options().block);
    std::vector<T> block;
    try {
      while (!core.cancelled()) {
        bool end = false;
        try {
          block.push_back(co_await local_->get());
        } catch (const QueueShutDown&) {
          end = true;
        }
        if (end) break;
        while (block.size() < k && !local_->empty()) block.push_back(local_->get_nowait());
        const std::size_t count = block.size();
        std::size_t from = 0;
        while (true) {
          // Urgent when the generator waits in I/O or has ended: nothing more is about to come.
          const bool urgent = local_->empty() && (in_gen_ || local_->is_shut_down());
          from = out_->try_put(block, from, urgent);
          if (from == block.size()) break;
          const std::size_t need = out_->capacity_bytes() != 0 ? ItemBytes<T>{}(block[from]) : 0;
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
  }

  Channel<T>* out_;
  Gen gen_;
  Core* core_ = nullptr;
  std::atomic<aio::EventLoop*> loop_{nullptr};
  // Loop thread only:
  std::unique_ptr<aio::Queue<T>> local_;
  std::vector<aio::AnyTask> tasks_;
  bool in_gen_ = false;
};

}  // namespace spindle::pipeline::detail
