#pragma once
/// @file
/// Internal: a pipeline's stages and channels (the graph Flow builds), their counters, and the run state
/// stages report to (Core, implemented in src/pipeline/).

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <string>
#include <vector>

#include "spindle/core/future.hpp"
#include "spindle/pipeline/detail/channel.hpp"
#include "spindle/pipeline/options.hpp"
#include "spindle/pipeline/report.hpp"

namespace spindle::aio {
class EventLoop;
}

namespace spindle::pipeline::detail {

/// A fixed log-scale histogram of nanoseconds: 4 buckets per power of two (about 19% wide), lock-free.
class Histogram {
 public:
  static constexpr std::size_t kBuckets = 256;
  static std::size_t bucket_of(std::uint64_t ns) noexcept {
    if (ns < 4) return static_cast<std::size_t>(ns);
    const int lg = 63 - __builtin_clzll(ns);
    const auto sub = static_cast<std::size_t>((ns >> (lg - 2)) & 3);
    return std::min<std::size_t>(kBuckets - 1, static_cast<std::size_t>(lg) * 4 + sub);
  }
  /// The upper bound of bucket `b`, in ns.
  static double upper_of(std::size_t b) noexcept {
    if (b < 4) return static_cast<double>(b + 1);
    const std::size_t lg = b / 4, sub = b % 4;
    return static_cast<double>((std::uint64_t{4} + sub + 1) << (lg - 2));
  }
  void record(std::uint64_t ns, std::uint64_t count = 1) noexcept {
    buckets_[bucket_of(ns)].fetch_add(count, std::memory_order_relaxed);
  }
  LatencySummary summary() const noexcept;

 private:
  std::array<std::atomic<std::uint64_t>, kBuckets> buckets_{};
};

/// A stage's counters (relaxed atomics: metrics are read while the stage runs).
struct Counters {
  std::atomic<std::uint64_t> in{0}, out{0}, failed{0}, retried{0}, dead{0};
  std::atomic<std::uint64_t> busy_ns{0}, put_wait_ns{0}, get_wait_ns{0};
  Histogram latency;
};

class Core;

/// A stage of any kind. Flow builds them; Core launches, cancels and joins them.
class StageBase {
 public:
  StageBase(const char* kind_name, StageOptions opts, ChannelBase* input, ChannelBase* output)
      : kind(kind_name), options(std::move(opts)), in(input), out(output) {}
  StageBase(const StageBase&) = delete;
  StageBase& operator=(const StageBase&) = delete;
  virtual ~StageBase() = default;

  /// Starts the stage's workers (threads of its own, or tasks on `core.loop()` before the loop runs). Each
  /// worker calls worker_exited() when it ends; launch returns how many there are.
  virtual std::size_t launch(Core& core) = 0;
  /// Extra work for cancel() beyond waking the channels (any thread; must not block).
  virtual void cancel() noexcept {}
  /// Extra work for stop() (sources: end a wait for input; any thread; must not block).
  virtual void stop() noexcept {}
  /// Joins the stage's threads and frees what it owns (after every worker exited).
  virtual void join() noexcept {}
  /// True if the stage runs on the pipeline's event loop.
  virtual bool uses_loop() const noexcept { return false; }
  /// Closes what the stage writes to (a fan-out writes to several channels).
  virtual void close_outputs() noexcept {
    if (out != nullptr) out->close();
  }
  /// The event loop of another owner that the stage needs running (a source reading an aio::Queue), or null.
  virtual aio::EventLoop* foreign_loop() const noexcept { return nullptr; }

  /// A worker ended: the last one closes the output channel and tells the core.
  void worker_exited(Core& core) noexcept;

  const char* kind;
  StageOptions options;
  ChannelBase* in;   // null for the source
  ChannelBase* out;  // null for the sink; a fan-out's first branch
  Counters counters;
  std::atomic<std::size_t> live{0};
};

/// What Flow builds and Pipeline runs.
struct Graph {
  PipelineOptions options;
  std::vector<std::unique_ptr<ChannelBase>> channels;
  std::vector<std::unique_ptr<StageBase>> stages;

  template <class T>
  Channel<T>* add_channel(std::size_t capacity, std::size_t capacity_bytes = 0) {
    auto c = std::make_unique<Channel<T>>(capacity, capacity_bytes);
    Channel<T>* raw = c.get();
    channels.push_back(std::move(c));
    return raw;
  }
  /// Checks the options of a new stage of `kind` and names it.
  void check(StageOptions& o, const char* kind, bool process_stage) const;
  /// Moves `other`'s stages and channels in (merge()); a stage whose name is taken gets ".<k>" appended.
  void splice(Graph&& other, std::size_t k);
  /// The loop of another owner that a stage needs running (see StageBase::foreign_loop), or null.
  aio::EventLoop* foreign_loop() const noexcept;
};

/// The run's state, shared by the pipeline's control methods and its stages.
class Core {
 public:
  explicit Core(std::unique_ptr<Graph> graph);
  Core(const Core&) = delete;
  Core& operator=(const Core&) = delete;
  ~Core();

  // Control (Pipeline's methods).
  void start();
  void stop() noexcept;
  void cancel() noexcept;
  Report wait();
  bool wait_for(std::chrono::milliseconds timeout);
  Report metrics() const;
  State state() const noexcept { return state_.load(std::memory_order_acquire); }
  bool done() const noexcept;
  /// Completes when the run has ended (for run_async).
  Future<void> finished() const { return finished_; }

  /// The loop of another owner some stage needs running (a source reading an aio::Queue), or null.
  aio::EventLoop* foreign_loop() const noexcept { return graph_->foreign_loop(); }

  // For stages.
  bool cancelled() const noexcept { return cancelled_.load(std::memory_order_relaxed); }
  bool stopping() const noexcept { return stopping_.load(std::memory_order_relaxed); }
  const PipelineOptions& options() const noexcept { return graph_->options; }
  aio::EventLoop& loop() noexcept { return *loop_; }
  /// fail_fast: records the first error and cancels the run.
  void fail(std::exception_ptr e) noexcept;
  /// skip: records a dead letter and checks the stage's failure budget (failing the run when it is spent).
  void dead_letter(StageBase& stage, std::shared_ptr<const void> item, const std::type_info* type,
                   std::exception_ptr e) noexcept;
  /// Sleeps up to `d` unless the run is cancelled first; false if it was.
  bool sleep_for(std::chrono::nanoseconds d);
  /// A stage's last worker ended.
  void stage_finished() noexcept;

 private:
  void show_progress() noexcept;  // the progress thread's body

  struct Impl;
  std::unique_ptr<Graph> graph_;
  std::unique_ptr<Impl> impl_;
  std::unique_ptr<aio::EventLoop> loop_;
  std::atomic<State> state_{State::idle};
  std::atomic<bool> cancelled_{false};
  std::atomic<bool> stopping_{false};
  Promise<void> finished_promise_;
  Future<void> finished_;
};

}  // namespace spindle::pipeline::detail
