#pragma once
/// @file
/// Internal: a `process` stage. A submitter thread sends chunks of items to a ProcessPoolExecutor through the
/// pool's map machinery (one task per chunk, several chunks in flight per worker); a collector thread takes
/// the results in submission order and puts them on the output channel. A chunk whose worker died fails its
/// items with WorkerCrashed under the stage's policy (a retry re-runs them one by one); a chunk whose function
/// threw is re-run item by item, so that only the failing item fails.

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "spindle/core/errors.hpp"
#include "spindle/core/future.hpp"
#include "spindle/pipeline/detail/policy.hpp"
#include "spindle/pipeline/detail/thread_stages.hpp"
#include "spindle/process/process_pool_executor.hpp"

namespace spindle::pipeline::detail {

/// P: the function's pointer type, `R (*)(In)`.
template <class T, class P>
class ProcessStage final : public ThreadedStage {
 public:
  using In = std::tuple_element_t<0, typename process::detail::Signature<P>::args>;
  using R = typename process::detail::Signature<P>::result;

  ProcessStage(StageOptions o, Channel<T>* input, Channel<R>* output, std::uintptr_t fn)
      : ThreadedStage("process", std::move(o), input, output), in_(input), out_(output), fn_(fn) {}

  std::size_t launch(Core& core) override {
    pool_ = options.pool;
    if (pool_ == nullptr) {
      owned_ = std::make_unique<process::ProcessPoolExecutor>(
          process::ProcessPoolOptions{.max_workers = options.concurrency});
      pool_ = owned_.get();
    }
    max_inflight_ = std::max<std::size_t>(1, pool_->max_workers() * options.inflight);
    live.store(2, std::memory_order_relaxed);
    threads_.emplace_back([this, &core] { guarded(core, &ProcessStage::submitter); });
    threads_.emplace_back([this, &core] { guarded(core, &ProcessStage::collector); });
    return 2;
  }
  void cancel() noexcept override {
    { std::lock_guard lock(mu_); }
    cv_.notify_all();
  }
  void join() noexcept override {
    ThreadedStage::join();
    owned_.reset();  // shutdown(wait): its workers are gone when this returns
  }

 private:
  struct Job {
    Future<std::vector<R>> future;
    std::vector<In> items;
    SteadyClock::time_point sent;
  };

  void guarded(Core& core, void (ProcessStage::*body)(Core&)) {
    try {
      (this->*body)(core);
    } catch (...) {
      if (!core.cancelled()) core.fail(std::current_exception());
    }
    {
      std::lock_guard lock(mu_);
      if (body == &ProcessStage::submitter) submit_done_ = true;
    }
    cv_.notify_all();
    if (core.cancelled()) abandon();
    worker_exited(core);
  }

  Future<std::vector<R>> send(const std::vector<In>& items) {
    return pool_->template submit_call<std::vector<R>>(
        process::detail::pointer_call<process::detail::PointerMapChunk<P>>(fn_, items));
  }

  void submitter(Core& core) {
    const std::size_t chunk = options.chunksize;
    std::vector<T> got;
    while (!core.cancelled()) {
      got.clear();
      std::size_t n = in_->get(got, chunk, &counters.get_wait_ns);
      if (n == 0) {
        if (in_->ended()) break;
        continue;
      }
      while (got.size() < chunk && in_->try_get(got, chunk - got.size()) > 0) {
      }
      counters.in.fetch_add(got.size(), std::memory_order_relaxed);
      std::vector<In> items;
      items.reserve(got.size());
      for (auto& x : got) items.push_back(static_cast<In>(std::move(x)));
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [&] { return inflight_.size() < max_inflight_ || core.cancelled(); });
      }
      if (core.cancelled()) break;
      Job job{send(items), std::move(items), SteadyClock::now()};
      {
        std::lock_guard lock(mu_);
        inflight_.push_back(std::move(job));
      }
      cv_.notify_all();
    }
  }

  /// Waits for `f` unless the run is cancelled first (then false).
  static bool await(Core& core, const Future<std::vector<R>>& f) {
    while (!f.wait_for(std::chrono::milliseconds(20)))
      if (core.cancelled()) return false;
    return true;
  }

  void collector(Core& core) {
    std::vector<R> outs;
    while (true) {
      Job job;
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [&] { return !inflight_.empty() || submit_done_ || core.cancelled(); });
        if (core.cancelled() || inflight_.empty()) return;
        job = Job{inflight_.front().future, {}, inflight_.front().sent};
      }
      if (!await(core, job.future)) return;
      {
        std::lock_guard lock(mu_);
        if (inflight_.empty()) return;  // abandoned (cancel)
        job.items = std::move(inflight_.front().items);
        inflight_.pop_front();
      }
      cv_.notify_all();
      const auto n = job.items.size();
      const auto dt = ns_since(job.sent);
      counters.busy_ns.fetch_add(dt, std::memory_order_relaxed);
      counters.latency.record(dt / std::max<std::size_t>(n, 1), n);
      std::exception_ptr error;
      bool crashed = false;
      try {
        outs = std::move(job.future).result();
      } catch (const WorkerCrashed&) {
        error = std::current_exception();
        crashed = true;
      } catch (...) {
        error = std::current_exception();
      }
      if (error) {
        if (core.cancelled()) return;
        outs.clear();
        for (auto& item : job.items) {
          // A crashed chunk's items have failed once already; a chunk that threw is re-run item by item.
          const bool ok = attempt(
              *this, core, item,
              [&] {
                std::vector<In> one{item};
                auto f = send(one);
                if (!await(core, f)) throw CancelledError();
                auto r = std::move(f).result();
                for (auto& x : r) outs.push_back(std::move(x));
              },
              crashed ? error : nullptr);
          if (!ok && core.cancelled()) return;
        }
      }
      if (!flush(*out_, outs)) return;
    }
  }

  /// On cancel: stop what is queued and kill what runs (an owned pool), or cancel our queued chunks.
  void abandon() noexcept {
    std::deque<Job> jobs;
    {
      std::lock_guard lock(mu_);
      if (killed_) return;
      killed_ = true;
      jobs.swap(inflight_);
    }
    for (auto& j : jobs) j.future.cancel();
    if (owned_) {
      try {
        owned_->shutdown(false, true, true);
      } catch (...) {
      }
    }
  }

  Channel<T>* in_;
  Channel<R>* out_;
  std::uintptr_t fn_;
  process::ProcessPoolExecutor* pool_ = nullptr;
  std::unique_ptr<process::ProcessPoolExecutor> owned_;
  std::size_t max_inflight_ = 1;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> inflight_;
  bool submit_done_ = false;
  bool killed_ = false;
};

}  // namespace spindle::pipeline::detail
