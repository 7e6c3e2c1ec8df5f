#pragma once
/// @file
/// What a pipeline reports, live (`Pipeline::metrics()`) and at the end (`run()`, `wait()`): per-stage
/// counters, channel depths, busy time, backpressure and starvation, latency percentiles, the bottleneck and
/// the dead letters. Python equivalent: SPDL's `PipelineStats` / per-stage `TaskStatsHook` reports.

#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <string>
#include <typeinfo>
#include <vector>

#include "spindle/core/errors.hpp"

namespace spindle::pipeline {

/// Where a pipeline is in its life. Python: no equivalent (asyncio tasks have done()/cancelled()).
enum class State {
  idle,       ///< built, not started
  running,    ///< started, items flowing
  stopping,   ///< stop() called: the source takes no more, what is inside drains
  completed,  ///< every item went through (the source ended or stop() drained it)
  cancelled,  ///< cancel() ended it at once
  failed,     ///< a stage failed (fail_fast) or a failure budget was exceeded
};

/// A state's name ("running"...).
const char* to_string(State s) noexcept;

/// The error a failed pipeline throws when its cause is not a stage's own exception (a failure budget
/// exceeded, bad use). Python: `RuntimeError` from SPDL when `max_failures` is exceeded.
class PipelineError : public Error {
 public:
  using Error::Error;
};

/// Latency percentiles of one stage's items (time from the start to the end of the stage's function on an
/// item), in microseconds, from a fixed log-scale histogram (a bucket's precision: about 19%). Thread and
/// process stages time blocks (each item gets its block's mean); aio stages time one item in 8 (a clock read
/// costs as much as a tiny item), so `count` is the items measured, not all items.
struct LatencySummary {
  std::uint64_t count = 0;  ///< items measured
  double p50_us = 0;        ///< median
  double p95_us = 0;        ///< 95th percentile
  double p99_us = 0;        ///< 99th percentile
  double max_us = 0;        ///< upper bound of the highest bucket hit
};

/// One stage's metrics (the source and the sink are stages too).
struct StageMetrics {
  std::string name;                 ///< the stage's name
  std::string kind;                 ///< source, aio, thread, process, batch, unbatch, fan_out, merge, sink
  std::size_t concurrency = 1;      ///< its workers
  std::uint64_t items_in = 0;       ///< items taken from its input channel (the source: items produced)
  std::uint64_t items_out = 0;      ///< items put on its output channel (the sink: items consumed)
  std::uint64_t failed = 0;         ///< failed attempts (a retried item counts once per failure)
  std::uint64_t retried = 0;        ///< retries made
  std::uint64_t dead_lettered = 0;  ///< items sent to the dead letters
  std::size_t depth = 0;            ///< items in its output channel now (0 for the sink)
  std::size_t peak_depth = 0;       ///< most items its output channel ever held (<= capacity)
  std::size_t capacity = 0;         ///< its output channel's bound (0 for the sink)
  std::size_t depth_bytes = 0;      ///< bytes in its output channel now (counted with a byte bound only)
  std::size_t peak_bytes = 0;       ///< most bytes its output channel ever held (with a byte bound)
  std::size_t capacity_bytes = 0;   ///< its output channel's byte bound (0: none)
  double busy = 0;                  ///< fraction of worker time spent in the stage's function (0..1)
  double blocked_put_s = 0;         ///< worker-seconds blocked on a full output channel (backpressure)
  double waiting_get_s = 0;         ///< worker-seconds waiting on an empty input channel (starved)
  std::size_t blocked_now = 0;      ///< its workers waiting for room in its output channel at this moment
  double items_per_s = 0;           ///< items_out over the run's elapsed time
  LatencySummary latency;           ///< per-item latency in the stage's function
};

/// An item a stage gave up on (OnError::skip) with its error. Python: SPDL's failure log entry.
struct DeadLetter {
  std::string stage;                     ///< the stage that failed it
  std::shared_ptr<const void> item;      ///< the item (a copy), or null when its type cannot be copied
  const std::type_info* type = nullptr;  ///< the item's type
  std::exception_ptr error;              ///< what the stage's function threw (or WorkerCrashed)
  std::string what;                      ///< the error's message

  /// The item as a `T`, or null if it is not one.
  template <class T>
  const T* item_as() const noexcept {
    return item && type != nullptr && *type == typeid(T) ? static_cast<const T*>(item.get()) : nullptr;
  }
};

/// A snapshot of a pipeline: live from `metrics()`, final from `run()` / `wait()`.
struct Report {
  std::string name;                      ///< PipelineOptions::name
  State state = State::idle;             ///< where it is (or how it ended)
  double elapsed_s = 0;                  ///< since start()
  std::vector<StageMetrics> stages;      ///< in the order added (source first; merged flows after the first)
  std::string bottleneck;                ///< the stage that limits throughput (see bottleneck_stage())
  std::vector<DeadLetter> dead_letters;  ///< items skipped, up to PipelineOptions::dead_letter_limit
  std::uint64_t dead_letter_count = 0;   ///< all items skipped (kept or not)
  std::string error;                     ///< the failure's message when state == failed

  /// Items the sink consumed.
  std::uint64_t items_done() const noexcept;
  /// The report as JSON (nlohmann-json): every field above, dead letters as {stage, what}. Python:
  /// `json.dumps(stats)`.
  std::string to_json() const;
  /// A multi-line table: one line per stage. Python: SPDL's periodic stats log.
  std::string str() const;
  /// One line for a terminal progress display: state, items done, items/s, the bottleneck.
  std::string progress_line() const;
};

}  // namespace spindle::pipeline
