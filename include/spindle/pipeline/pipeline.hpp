#pragma once
/// @file
/// `spindle::pipeline`: a flow of items through stages, each on the model that fits its work — coroutines on
/// an event loop (`aio`), blocking calls on threads (`thread`), CPU work in worker processes (`process`) —
/// joined by bounded channels, so that backpressure reaches the source. Batch runs (`run()`) and streaming
/// runs (`start()`, `stop()`, `cancel()`, `wait()`), from plain code or from a coroutine (`run_async()`).
/// Python equivalent: SPDL's `PipelineBuilder().add_source(...).pipe(...).add_sink(...)`, or hand-written
/// asyncio stages joined by bounded `asyncio.Queue`s with thread and process executors.
///
/// ```cpp
/// namespace pl = spindle::pipeline;
/// pl::Pipeline p = pl::from(spindle::range(1'000'000))
///     .aio(fetch, {.concurrency = 64, .name = ...})      // T -> aio::Task<U>, up to 64 at once on the loop
///     .thread(parse, {.concurrency = 4})                 // T -> U, blocking, on 4 threads
///     .process(&score, {.concurrency = 2, .chunksize = 256})  // a function of this program, in 2 workers
///     .batch(100, std::chrono::milliseconds(50)).unbatch()
///     .sink(write);                                      // T -> void or T -> aio::Task<void>
/// pl::Report r = p.run();
/// ```

#include <chrono>
#include <concepts>
#include <cstddef>
#include <iterator>
#include <memory>
#include <optional>
#include <ranges>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "spindle/aio/queue.hpp"
#include "spindle/aio/task.hpp"
#include "spindle/pipeline/detail/graph.hpp"
#include "spindle/pipeline/options.hpp"
#include "spindle/pipeline/report.hpp"
#include "spindle/thread/queue.hpp"

namespace spindle::pipeline {

/// A built pipeline, ready to run once. Movable, not copyable; destroying a running pipeline cancels it and
/// waits for its threads.
///
/// **Thread safety:** `stop()`, `cancel()`, `metrics()`, `state()` and `done()` may be called from any thread
/// while another thread is in `run()`/`wait()`; start/run/wait from one thread at a time.
/// **Errors:** running it twice, or a moved-from pipeline: InvalidStateError. Under fail_fast the first
/// error of any stage cancels the run and is rethrown by `run()`/`wait()` (the stage's own exception, or
/// WorkerCrashed, or PipelineError for an exceeded failure budget).
/// **Cancellation:** `cancel()` wakes every waiter on every channel at once; an aio item is cancelled, a
/// process task is killed (owned pool), a thread stage's running call ends its current item (C++ cannot
/// interrupt a blocking call) and the stage stops there.
/// **Python equivalent:** SPDL's `Pipeline` (`with pipeline.auto_stop(): for x in pipeline: ...`).
class Pipeline {
 public:
  /// An empty pipeline (running it throws InvalidStateError).
  Pipeline() noexcept;
  /// Internal: adopts a built graph (Flow::sink / Flow::collect make pipelines).
  explicit Pipeline(std::unique_ptr<detail::Graph> graph);
  Pipeline(Pipeline&&) noexcept;
  Pipeline& operator=(Pipeline&&) noexcept;
  Pipeline(const Pipeline&) = delete;
  Pipeline& operator=(const Pipeline&) = delete;
  /// Cancels a running pipeline and waits for it (never throws).
  virtual ~Pipeline();

  /// Runs to completion and returns the final report; blocks. Throws the first error under fail_fast.
  /// Python: `for _ in pipeline: pass` / `asyncio.run(main())`.
  Report run();
  /// Starts the run in the background (its own threads and event loop) and returns at once. Python:
  /// SPDL `pipeline.start()`.
  void start();
  /// Graceful stop: the source takes no more input; what is inside drains to the sink. Idempotent. A queue
  /// source or an async generator waiting for input stops at once; a plain generator's running call (a
  /// blocking call on the source thread) finishes first. Python: SPDL `pipeline.stop()`.
  void stop() noexcept;
  /// Stops at once: every waiter wakes, in-flight items are dropped (see Cancellation). Idempotent. Python:
  /// `task.cancel()` of every stage.
  void cancel() noexcept;
  /// Waits for the end of a started run and returns its report; rethrows its error (fail_fast). Python:
  /// `await asyncio.gather(*stages)`.
  Report wait();
  /// Waits up to `timeout`; true if the run has ended (then wait() returns at once).
  bool wait_for(std::chrono::milliseconds timeout);
  /// From a coroutine: starts the run and suspends the calling task (not its loop's thread) until it ends;
  /// returns the report or throws its error. Cancelling the awaiting task cancels the run. Python:
  /// `await pipeline.run_async()` / `await asyncio.to_thread(pipeline.run)`.
  aio::Task<Report> run_async();
  /// A live snapshot (safe while it runs, from any thread). Python: SPDL's stats hooks.
  Report metrics() const;
  /// Where it is.
  State state() const noexcept;
  /// True once the run has ended (completed, cancelled or failed).
  bool done() const noexcept;

 protected:
  /// The run's shared state (null when empty or moved from).
  std::unique_ptr<detail::Core> core_;
};

/// A pipeline ending in `collect()`: its sink keeps every item. Python: `list(pipeline)`.
template <class T>
class Collected : public Pipeline {
 public:
  /// Internal: adopts a built graph and the vector its sink fills.
  Collected(std::unique_ptr<detail::Graph> graph, std::shared_ptr<std::vector<T>> out)
      : Pipeline(std::move(graph)), out_(std::move(out)) {}
  /// The items collected, in arrival order (input order when every stage is ordered); moves them out.
  /// Throws InvalidStateError while the run is going on.
  std::vector<T> results() {
    if (!done()) throw InvalidStateError("pipeline: results() before the run ended");
    return std::move(*out_);
  }

 private:
  std::shared_ptr<std::vector<T>> out_;
};

/// A pipeline under construction whose items are `T` at this point. Each method adds a stage and returns the
/// flow of that stage's outputs; call them on the temporary (`from(x).aio(f).sink(g)`) or on `std::move(flow)`.
/// Stage functions are kept in the stage and called with the item as an lvalue (so that it survives for a
/// retry or a dead letter). **Errors:** invalid options (concurrency 0, capacity 0, chunksize 0, block 0, a
/// `pool` on a non-process stage) throw std::invalid_argument when the stage is added.
/// **Python equivalent:** SPDL's `PipelineBuilder`.
template <class T>
class Flow {
 public:
  /// The item type here.
  using value_type = T;
  /// Internal: continues `graph` whose last channel carries T.
  Flow(std::unique_ptr<detail::Graph> graph, detail::Channel<T>* tail) : graph_(std::move(graph)), tail_(tail) {}

  /// Sets the pipeline's options.
  Flow options(PipelineOptions o) &&;

  /// `fn(T&) -> aio::Task<U>`: a coroutine per item, up to `concurrency` at once, on the pipeline's event loop
  /// thread. Python: SPDL `pipe(async_fn, concurrency=N)`.
  template <class Fn>
  auto aio(Fn fn, StageOptions o = {}) &&;
  /// `fn(T&) -> U`: a blocking call per item on `concurrency` threads of its own. Python: SPDL
  /// `pipe(fn, executor=ThreadPoolExecutor(N))`.
  template <class Fn>
  auto thread(Fn fn, StageOptions o = {}) &&;
  /// `fn`: a function of this program (`&score`, or a captureless lambda) of one argument, run in worker
  /// processes on chunks of `chunksize` items (several chunks in flight per worker). A worker that dies
  /// fails only the items of its chunk (WorkerCrashed), which follow the error policy; a chunk whose
  /// function threw is re-run item by item so that only the failing item fails. Process stages keep input
  /// order. Python: SPDL `pipe(fn, executor=ProcessPoolExecutor(N))` with `chunksize`.
  template <class Fn>
  auto process(Fn fn, StageOptions o = {}) &&;
  /// Groups items into vectors of `n` (the last one may be shorter), or fewer when `max_wait` passes after a
  /// vector's first item. Python: SPDL `aggregate(n)` / `itertools.batched`.
  Flow<std::vector<T>> batch(std::size_t n, std::chrono::milliseconds max_wait = std::chrono::milliseconds::max(),
                             StageOptions o = {}) &&;
  /// Splits each vector back into its items (T must be a std::vector). Python: SPDL `disaggregate()`.
  auto unbatch(StageOptions o = {}) &&;
  /// Fan-out and merge: every item goes to each branch (a copy for each but the last, which gets the item
  /// itself); `branch(Flow<T>) -> Flow<U>` adds that branch's stages, and the branches' outputs merge into one
  /// flow of their common type, in the order they arrive. A full branch holds the others back: the slowest
  /// branch sets the pace, and no copy is ever buffered without bound. Python: one bounded `asyncio.Queue`
  /// per branch fed by a task that puts each item on every one, and a task per branch putting its results on
  /// one queue (Akka's `Broadcast` + `Merge`).
  template <class... Branch>
  auto fan_out(Branch... branches) &&;
  /// The same, with the options of the fan-out (its name; `capacity`: each branch's input channel and the
  /// merged output channel).
  template <class... Branch>
  auto fan_out(StageOptions o, Branch... branches) &&;
  /// Ends the pipeline with `fn(T&) -> void` (on `concurrency` threads) or `fn(T&) -> aio::Task<void>` (on
  /// the loop). Python: SPDL `add_sink` / a final `async for`.
  template <class Fn>
  Pipeline sink(Fn fn, StageOptions o = {}) &&;
  /// Ends the pipeline with a sink that keeps every item (`Collected::results()`). Python: `list(pipeline)`.
  Collected<T> collect(StageOptions o = {}) &&;

  /// Internal: gives up the graph (merge() splices it into another).
  std::unique_ptr<detail::Graph> release_graph() && { return std::move(graph_); }
  /// Internal: the channel carrying this flow's items.
  detail::Channel<T>* tail() const noexcept { return tail_; }

 private:
  template <class>
  friend class Flow;
  std::unique_ptr<detail::Graph> graph_;
  detail::Channel<T>* tail_;
};

namespace detail {
template <class X>
struct AsyncGeneratorResult : std::false_type {};
template <class X>
struct AsyncGeneratorResult<aio::Task<std::optional<X>>> : std::true_type {
  using item = X;
};
/// `gen() -> std::optional<T>`.
template <class Gen>
concept Generator = std::invocable<Gen&> && requires(Gen& g) {
  g().has_value();
};
/// `gen() -> aio::Task<std::optional<T>>`.
template <class Gen>
concept AsyncGenerator = std::invocable<Gen&> && AsyncGeneratorResult<std::invoke_result_t<Gen&>>::value;
}  // namespace detail

/// Items from a range or container (copied in; a container passed as an rvalue is moved in), read on a
/// source thread of the pipeline's own. Python: `PipelineBuilder().add_source(iterable)`.
template <std::ranges::input_range R>
auto from(R&& range, SourceOptions o = {});
/// Items from `gen()`, a function returning `std::optional<T>`, called on a dedicated source thread (never a
/// pool thread: a blocking source cannot starve a pool, SPDL #1624) until it returns nullopt. Python:
/// `add_source(generator())`.
template <detail::Generator Gen>
auto from(Gen gen, SourceOptions o = {});
/// Items from an async generator: `gen()` returns `aio::Task<std::optional<T>>` and is awaited on the
/// pipeline's event loop until it yields nullopt (so it may await I/O: read a TCP stream's lines, poll a
/// service). Python: `add_source(async_generator())`.
template <detail::AsyncGenerator Gen>
auto from(Gen gen, SourceOptions o = {});
/// Items from a thread queue until it is shut down (`q.shutdown()`); the queue must outlive the run. stop()
/// and cancel() end it even while the queue is empty. Python: a source reading `queue.Queue` until
/// `ShutDown`.
template <class T>
Flow<T> from(Queue<T>& queue, SourceOptions o = {});
/// Items from an asyncio-style queue of `loop` until it is shut down (`q.shutdown()`); each item taken counts as
/// done (`task_done()`), so a producer's `co_await q.join()` returns once the pipeline holds them. The queue and its
/// loop must outlive the run, and the loop must keep running: start the pipeline with `co_await p.run_async()` (or
/// start()) from a coroutine on that loop — run() there would block the loop the source needs (it throws
/// InvalidStateError instead of hanging). stop() and cancel() end it even while the queue is empty. Python:
/// a source stage doing `while True: yield await queue.get()` until `QueueShutDown`.
template <class T, class Store>
Flow<T> from(aio::BasicQueue<T, Store>& queue, aio::EventLoop& loop, SourceOptions o = {});
/// The same, with the loop running on this thread (call it from a coroutine on the queue's loop); throws
/// InvalidStateError where no loop runs.
template <class T, class Store>
Flow<T> from(aio::BasicQueue<T, Store>& queue, SourceOptions o = {});
/// The lines of a TCP stream: connects to `host:port` on the pipeline's event loop and yields each line
/// (without its `\n` or `\r\n`) until the peer closes the connection. A line longer than `limit` bytes fails
/// the run (aio::LimitOverrunError); so does a refused connection. Python: `reader, _ = await
/// asyncio.open_connection(host, port)` and `async for line in reader`.
Flow<std::string> lines(std::string host, int port, SourceOptions o = {}, std::size_t limit = 1 << 16);

/// Merges several flows (each from a source of its own) into one flow of their common type, in the order
/// their items arrive; each keeps its own stages and bounds. The pipeline takes the options set on the first
/// flow (set them after merge). Python: several producer tasks putting on one bounded `asyncio.Queue`.
template <class T, class... Rest>
auto merge(Flow<T> first, Rest... rest);

}  // namespace spindle::pipeline

#include "spindle/pipeline/detail/flow_impl.hpp"
