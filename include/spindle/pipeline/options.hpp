#pragma once
/// @file
/// Options of a pipeline and of its stages (designated initialisers): ordering, channel bounds, error
/// policies and failure budgets. Python equivalent: SPDL's `PipelineBuilder.pipe(op, concurrency=...,
/// output_order=...)` arguments, `asyncio.Queue(maxsize)` between hand-written stages.

#include <chrono>
#include <cstddef>
#include <functional>
#include <limits>
#include <string>

namespace spindle::process {
class ProcessPoolExecutor;
}

namespace spindle::pipeline {

struct DeadLetter;
struct Report;

/// In which order a stage with several workers lets its outputs go. Python: SPDL `output_order`.
enum class Order {
  /// Outputs leave in input order (the default, as `executor.map`): a worker that finishes early waits for its
  /// turn, so the reorder window is bounded by the stage's workers (TBB's tokens), never unbounded.
  ordered,
  /// Outputs leave as they complete (SPDL `output_order="completion"`, Tokio `buffer_unordered`).
  unordered,
};

/// What a stage does when its function throws on an item (after any retries). Python: SPDL's failure handling.
enum class OnError {
  /// Cancel the whole pipeline and rethrow the first error from run()/wait(), as `asyncio.TaskGroup`.
  fail_fast,
  /// Send the item and its error to the dead letters (Report::dead_letters) and go on.
  skip,
};

/// A stage's error policy: retries first (each after `backoff`, doubled every attempt), then `on_error`.
/// Build one with `fail_fast`, `skip` or `retry(...)`.
struct ErrorPolicy {
  /// What happens once the retries are spent.
  OnError on_error = OnError::fail_fast;
  /// Attempts after the first failure (0: none).
  std::size_t retries = 0;
  /// Wait before the first retry; doubled for each later one (0: retry at once).
  std::chrono::milliseconds backoff{0};
};

/// Cancel everything and rethrow (the default). Python: `asyncio.TaskGroup` semantics.
inline constexpr ErrorPolicy fail_fast{OnError::fail_fast, 0, std::chrono::milliseconds(0)};
/// Dead-letter the failing item and go on. Python: SPDL's `max_failures` with a per-item skip.
inline constexpr ErrorPolicy skip{OnError::skip, 0, std::chrono::milliseconds(0)};
/// Retry a failing item `times` more times (backoff doubling from `backoff`), then apply `then`. Python:
/// `tenacity.retry(stop=stop_after_attempt(times + 1), wait=wait_exponential(backoff))`.
constexpr ErrorPolicy retry(std::size_t times, std::chrono::milliseconds backoff = std::chrono::milliseconds(0),
                            OnError then = OnError::fail_fast) {
  return ErrorPolicy{then, times, backoff};
}

/// "No limit" for StageOptions::max_failures.
inline constexpr std::size_t unlimited = std::numeric_limits<std::size_t>::max();

/// Options of one stage (aio, thread, process, batch, sink). Fields that do not apply to a stage's kind must
/// stay at their defaults (`pool`, `chunksize` and `inflight` are for process stages only): otherwise
/// building the stage throws std::invalid_argument.
struct StageOptions {
  /// Items processed at once: coroutines for aio, threads for thread and sink, worker processes for a process
  /// stage that owns its pool. Must be >= 1. Python: SPDL `concurrency`.
  std::size_t concurrency = 1;
  /// The stage's name in metrics and errors; empty: "<kind><index>" (e.g. "thread2").
  std::string name = {};
  /// Output order when concurrency > 1 (process stages always keep input order). Python: SPDL `output_order`.
  Order order = Order::ordered;
  /// Bound of the stage's output channel, in items (>= 1): a full channel suspends/blocks this stage, which
  /// is how backpressure reaches the source. Python: `asyncio.Queue(maxsize=capacity)`.
  std::size_t capacity = 1000;
  /// A bound of the same channel in bytes as well (0: none), each item weighing ItemBytes<U> (sizeof, plus a
  /// container's elements): for items whose size varies (images, documents), where a count bounds nothing. An
  /// item bigger than the bound still passes alone. Python: GStreamer `queue max-size-bytes`.
  std::size_t capacity_bytes = 0;
  /// What to do when the function throws on an item. Python: SPDL's per-stage failure handling.
  ErrorPolicy errors = fail_fast;
  /// The pipeline fails (PipelineError) once this stage has dead-lettered more than this many items.
  /// Python: SPDL `max_failures`.
  std::size_t max_failures = unlimited;
  /// The pipeline fails once more than this fraction of the stage's items failed, counted after at least 100
  /// items (1.0: never).
  double max_failure_rate = 1.0;
  /// Process stages: items per task sent to a worker (>= 1). Python: `ProcessPoolExecutor.map(chunksize=)`.
  std::size_t chunksize = 256;
  /// Process stages: chunks in flight per worker (>= 1), so that a worker never waits for the next chunk.
  std::size_t inflight = 4;
  /// Process stages: run on this pool (borrowed; it must outlive the run) instead of a pool of
  /// `concurrency` workers the stage owns. Python: `pipe(op, executor=pool)`.
  process::ProcessPoolExecutor* pool = nullptr;
};

/// Options of the source (the first stage).
struct SourceOptions {
  /// The source's name in metrics; empty: "source".
  std::string name = {};
  /// Bound of the source's output channel, in items (>= 1).
  std::size_t capacity = 1000;
  /// Bound of the same channel in bytes (0: none); see StageOptions::capacity_bytes.
  std::size_t capacity_bytes = 0;
};

/// Options of a whole pipeline (`Flow::options(...)`).
struct PipelineOptions {
  /// The pipeline's name in reports.
  std::string name = "pipeline";
  /// Items moved per hand-off between threads (>= 1): channels move blocks of up to this many items under one
  /// lock, so that a wake-up (~25 µs across vCPUs) is paid per block, not per item.
  std::size_t block = 64;
  /// Dead letters kept in the Report (later ones are counted, not kept).
  std::size_t dead_letter_limit = 10000;
  /// Called for every dead letter, on the thread of the stage that failed (keep it short; it must not throw).
  std::function<void(const DeadLetter&)> on_dead_letter = nullptr;
  /// A live progress display every `progress` (zero: none): by default Report::progress_line() on stderr,
  /// refreshed in place, with a newline after the final one. Python: `tqdm` over the pipeline.
  std::chrono::milliseconds progress{0};
  /// What a progress tick does instead of the stderr line, on a thread of the pipeline's own; the last call
  /// gets the final report.
  std::function<void(const Report&)> on_progress = nullptr;
};

}  // namespace spindle::pipeline
