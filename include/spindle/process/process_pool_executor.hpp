#pragma once
/// @file
/// `ProcessPoolExecutor`: run named functions in worker processes and get core `Future`s back. A worker
/// that dies fails only the task it was running (`WorkerCrashed`), is replaced, and the pool goes on; a task
/// over `task_timeout` has its worker killed and fails with `TimeoutError`; a task's exception comes back as
/// `RemoteError`. Tiny tasks are pipelined to workers, yet no task waits behind a long one while a worker is
/// idle: unstarted tasks are taken back, exactly once, for the idle worker. Python equivalent:
/// `concurrent.futures.ProcessPoolExecutor` (which instead breaks the whole pool when one worker dies).

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <iterator>
#include <memory>
#include <optional>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "spindle/core/future.hpp"
#include "spindle/process/codec.hpp"
#include "spindle/process/registry.hpp"
#include "spindle/process/start_method.hpp"

namespace spindle::process {

/// Limits applied in each worker before any user code runs (setrlimit). Zero means "inherit".
struct WorkerLimits {
  /// RLIMIT_AS: address space in bytes; an allocation over it throws std::bad_alloc in the task (which comes
  /// back as RemoteError). Not usable under ASan, which reserves terabytes of shadow memory.
  std::size_t address_space = 0;
  /// RLIMIT_CPU: CPU seconds per worker process; over it the kernel sends SIGXCPU, the worker dies and its
  /// task fails with WorkerCrashed (signal SIGXCPU).
  std::chrono::seconds cpu{0};
};

/// Construction options of a ProcessPoolExecutor (use with designated initializers).
struct ProcessPoolOptions {
  /// Worker processes; 0 means the number of CPUs (Python's default).
  std::size_t max_workers = 0;
  /// How workers start; see StartMethod.
  StartMethod start_method = StartMethod::forkserver;
  /// Runs in each worker before its first task: `call<&setup>(args...)`. If it throws, the pool is broken:
  /// pending and later tasks fail with BrokenExecutor (as Python's BrokenProcessPool).
  std::optional<Call> initializer = std::nullopt;
  /// A worker exits after this many tasks and is replaced (0: never). Python: `max_tasks_per_child`.
  std::size_t max_tasks_per_child = 0;
  /// A task running longer than this has its worker killed (SIGTERM, then SIGKILL after `kill_grace`) and
  /// fails with TimeoutError; zero: no limit.
  std::chrono::milliseconds task_timeout{0};
  /// Time between SIGTERM and SIGKILL when a worker is killed for a timeout.
  std::chrono::milliseconds kill_grace{100};
  /// Largest frame (task arguments or result) accepted from or sent to a worker; a larger one is a
  /// ProtocolError before anything is allocated for it.
  std::size_t max_frame_bytes = std::size_t{64} << 20;
  /// Resource limits of each worker.
  WorkerLimits limits = {};
  /// Most tasks sent ahead to one worker. Deep pipelining is what makes tiny tasks cheap; a worker's queued
  /// tasks that never started are moved to another worker if it dies, and taken back for a worker that is
  /// idle when they wait behind a long-running task (no head-of-line blocking). The pool lowers the depth
  /// automatically for long tasks (so that load stays balanced).
  std::size_t max_inflight_per_worker = 64;
};

/// Options of ProcessPoolExecutor::map.
struct ProcessMapOptions {
  /// Items per task: larger chunks amortise the round trip. Python: `chunksize`.
  std::size_t chunksize = 1;
  /// At most this many chunks are in flight ahead of the consumer; zero submits all at once. Python 3.14:
  /// `buffersize`.
  std::size_t buffersize = 0;
  /// Deadline for all the results, measured from the call to map; none: wait as long as it takes. When it
  /// passes, map cancels the chunks still queued in the parent (those already sent to a worker run on) and
  /// throws TimeoutError. Python: `map(fn, *iterables, timeout=None)`.
  std::optional<std::chrono::nanoseconds> timeout = std::nullopt;
};

/// Counters of a pool's life (for tests and monitoring).
struct ProcessPoolStats {
  std::uint64_t submitted = 0;        ///< tasks accepted by submit
  std::uint64_t completed = 0;        ///< tasks that returned a value or raised (RemoteError)
  std::uint64_t crashed = 0;          ///< tasks failed with WorkerCrashed
  std::uint64_t timed_out = 0;        ///< tasks failed with TimeoutError
  std::uint64_t requeued = 0;         ///< queued-but-unstarted tasks moved off a dead worker
  std::uint64_t revoked = 0;          ///< unstarted tasks taken back from a live worker for an idle one
  std::uint64_t workers_started = 0;  ///< worker processes started, replacements included
  std::uint64_t workers_died = 0;     ///< workers that died while they had work (crash, kill, timeout)
};

namespace detail {

/// A task in the parent's ledger: what to send and how to complete its future.
class TaskBase {
 public:
  explicit TaskBase(Call c) noexcept : call(std::move(c)) {}
  TaskBase(const TaskBase&) = delete;
  TaskBase& operator=(const TaskBase&) = delete;
  virtual ~TaskBase() = default;
  /// Pending -> running; false if the future was cancelled (the task is then dropped).
  virtual bool start() noexcept = 0;
  /// Decodes the result payload into the future; a decoding error fails the future with ProtocolError.
  virtual void succeed(const char* data, std::size_t size, std::vector<int>* fds) noexcept = 0;
  /// Fails the future.
  virtual void fail(std::exception_ptr e) noexcept = 0;
  /// Cancels a task that never started.
  virtual void cancel() noexcept = 0;

  Call call;
  std::uint64_t seq = 0;  ///< ordinal on the worker it was last sent to (the frame id)
  bool started = false;   ///< the future is running (the task left the parent's queue once)
};

template <class R>
class Task final : public TaskBase {
 public:
  explicit Task(Call c) : TaskBase(std::move(c)) {}
  Future<R> future() { return promise_.get_future(); }
  bool start() noexcept override {
    try {
      return promise_.set_running_or_notify_cancel();
    } catch (...) {
      return false;
    }
  }
  void succeed(const char* data, std::size_t size, std::vector<int>* fds) noexcept override {
    try {
      if constexpr (std::is_void_v<R>) {
        if (size != 0) throw ProtocolError("codec: a void task returned bytes");
        promise_.set_result();
      } else {
        promise_.set_result(decode<R>(data, size, fds));
      }
    } catch (...) {
      fail(std::current_exception());
    }
  }
  void fail(std::exception_ptr e) noexcept override {
    try {
      promise_.set_exception(std::move(e));
    } catch (...) {
    }
  }
  void cancel() noexcept override { promise_.get_future().cancel(); }

 private:
  Promise<R> promise_;
};

/// A task whose result stays encoded: the bytes a worker sent, for an executor that forwards them on (the MPI
/// worker ranks). A result that carries descriptors cannot be forwarded: it fails with ProtocolError.
class RawTask final : public TaskBase {
 public:
  explicit RawTask(Call c) : TaskBase(std::move(c)) {}
  Future<std::string> future() { return promise_.get_future(); }
  bool start() noexcept override {
    try {
      return promise_.set_running_or_notify_cancel();
    } catch (...) {
      return false;
    }
  }
  void succeed(const char* data, std::size_t size, std::vector<int>* fds) noexcept override {
    try {
      if (fds != nullptr && !fds->empty()) throw ProtocolError("a result carrying descriptors cannot be forwarded");
      promise_.set_result(std::string(data, size));
    } catch (...) {
      fail(std::current_exception());
    }
  }
  void fail(std::exception_ptr e) noexcept override {
    try {
      promise_.set_exception(std::move(e));
    } catch (...) {
    }
  }
  void cancel() noexcept override { promise_.get_future().cancel(); }

 private:
  Promise<std::string> promise_;
};

class PoolCore;

/// The task map() submits per chunk: F over each element. A static member of a class template rather than a
/// function template: clang 14 names a function template specialisation `&map_chunk` in __PRETTY_FUNCTION__
/// (no template arguments), which gave every map chunk function the same registry id (the worker then ran
/// the first one registered), whereas it spells out a class template's arguments.
template <auto F, class In, class R>
struct MapChunk {
  static std::vector<R> run(std::vector<In> items) {
    std::vector<R> out;
    out.reserve(items.size());
    for (auto& x : items) out.push_back(F(std::move(x)));
    return out;
  }
};

/// What submit/map return for a callable that cannot be sent (after their static_assert), so that the
/// compiler reports that one line and not a `void` variable after it.
struct NotSendable {};

/// A lambda without captures (not generic): it converts to a function pointer with unary `+`.
// clang-format off: clang-format 14 mangles requires-clauses
template <class Fn>
concept ConvertibleLambda = requires(Fn&& fn) {
  // clang-format on
  { +fn } -> FunctionPointer;
};

/// map's body, shared by the executors that map over processes (this pool, spindle::mpi's): `submit_chunk(batch)`
/// submits one chunk and returns its Future<std::vector<R>>; at most `buffersize` chunks are in flight.
template <class In, class R, class Range, class SubmitChunk>
std::vector<R> map_chunks(const Range& items, const ProcessMapOptions& options, SubmitChunk submit_chunk) {
  const std::size_t chunk = options.chunksize ? options.chunksize : 1;
  // Measured from the call, as Python's map does; saturated so that a huge timeout means "no deadline".
  const auto start = std::chrono::steady_clock::now();
  const auto deadline = !options.timeout ? std::chrono::steady_clock::time_point::max()
                        : *options.timeout >= std::chrono::steady_clock::time_point::max() - start
                            ? std::chrono::steady_clock::time_point::max()
                            : start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(*options.timeout);
  std::vector<R> out;
  std::deque<Future<std::vector<R>>> inflight;
  // On any error (a chunk failed, the deadline passed, submit threw): Python's map cancels what is left.
  struct CancelRest {
    std::deque<Future<std::vector<R>>>& fs;
    ~CancelRest() {
      for (auto& f : fs) f.cancel();
    }
  } cancel_rest{inflight};
  auto collect = [&] {
    if (!inflight.front().wait_until(deadline)) throw TimeoutError("map: results not in before the timeout");
    auto part = std::move(inflight.front()).result();
    inflight.pop_front();
    for (auto& r : part) out.push_back(std::move(r));
  };
  std::vector<In> batch;
  batch.reserve(chunk);
  auto flush = [&] {
    if (batch.empty()) return;
    if (options.buffersize && inflight.size() >= options.buffersize) collect();
    inflight.push_back(submit_chunk(batch));
    batch.clear();
  };
  for (const auto& item : items) {
    batch.push_back(static_cast<In>(item));
    if (batch.size() == chunk) flush();
  }
  flush();
  while (!inflight.empty()) collect();
  return out;
}

}  // namespace detail

/// A pool of worker processes. See the file comment.
///
/// **Thread safety:** every member may be called from any thread. Futures complete on the pool's manager
/// thread (done-callbacks run there).
/// **Errors:** `submit` throws ShutdownError after shutdown and BrokenExecutor once the pool is broken (an
/// initializer failed); a future fails with RemoteError (the task threw), WorkerCrashed (its worker died
/// while running it), TimeoutError (`task_timeout`), ProtocolError (a worker broke the protocol),
/// SpawnError (no worker could be started, e.g. out of descriptors: only the waiting tasks fail, and the next
/// submit tries again) or BrokenExecutor.
/// **Cancellation:** `future.cancel()` succeeds while the task is queued in the parent; once sent to a worker
/// its future is running (as in Python, where a task in the call queue is running) and it runs to completion
/// (or is killed by `shutdown(kill_running=true)` / a timeout). A task sent to a worker but not started
/// there may be taken back and run by another, idle worker: it still runs exactly once. `map` with a
/// `timeout` cancels its queued chunks when the deadline passes; `shutdown(cancel_futures=true)` cancels
/// everything still queued in the parent.
/// **Python equivalent:** `concurrent.futures.ProcessPoolExecutor`.
class ProcessPoolExecutor {
 public:
  /// Starts the pool's workers (forkserver by default) and its manager thread.
  explicit ProcessPoolExecutor(ProcessPoolOptions options = {});
  /// A pool of `max_workers` with the other options at their defaults.
  explicit ProcessPoolExecutor(std::size_t max_workers)
      : ProcessPoolExecutor(ProcessPoolOptions{.max_workers = max_workers}) {}
  ProcessPoolExecutor(const ProcessPoolExecutor&) = delete;
  ProcessPoolExecutor& operator=(const ProcessPoolExecutor&) = delete;
  /// `shutdown(wait=true)`.
  ~ProcessPoolExecutor();

  /// Runs `F(args...)` in a worker. F must be a named function (`&fn`); its arguments and result go through
  /// the codec. Python: `submit(fn, *args)`.
  // clang-format off: clang-format 14 mangles requires-clauses
  template <auto F, class... A>
  requires detail::NamedFunction<F>
  auto submit(A&&... args) {
    // clang-format on
    using R = typename detail::Signature<decltype(F)>::result;
    // Large arrays of numbers go as shared-memory blobs: the task keeps the Call until its result is in.
    auto task = std::make_unique<detail::Task<R>>(detail::make_call<F>(true, std::forward<A>(args)...));
    Future<R> f = task->future();
    submit_task(std::move(task));
    return f;
  }
  /// A Call made with `call<&fn>(args...)`, with the result type given explicitly.
  template <class R>
  Future<R> submit_call(Call c) {
    auto task = std::make_unique<detail::Task<R>>(std::move(c));
    Future<R> f = task->future();
    submit_task(std::move(task));
    return f;
  }
  /// Runs a packed call and returns its result still encoded, for executors that forward results (the MPI
  /// worker ranks relay them to rank 0, which decodes them). No Python equivalent (pickled bytes in, out).
  Future<std::string> submit_encoded(Call c) {
    auto task = std::make_unique<detail::RawTask>(std::move(c));
    Future<std::string> f = task->future();
    submit_task(std::move(task));
    return f;
  }
  /// Runs `fn(args...)` in a worker, as Python spells it: `pool.submit(heavy, 4)`. `fn` is a function of this
  /// program (a named free function, or a captureless lambda, converted to its function pointer); it travels
  /// as its place in the program, which the worker checks is a function start (see registry.hpp). Throws
  /// std::invalid_argument if no worker could find fn (e.g. a stripped binary). A lambda with captures or a
  /// function object is a compile-time error. Python: `submit(fn, *args)`.
  template <class Fn, class... A>
  auto submit(Fn&& fn, A&&... args) {
    if constexpr (detail::FunctionPointer<std::decay_t<Fn>>) {
      using P = typename detail::Signature<std::decay_t<Fn>>::pointer;
      using R = typename detail::Signature<P>::result;
      auto task = std::make_unique<detail::Task<R>>(call(static_cast<P>(fn), std::forward<A>(args)...));
      Future<R> f = task->future();
      submit_task(std::move(task));
      return f;
    } else if constexpr (detail::ConvertibleLambda<Fn>) {
      return submit(+fn, std::forward<A>(args)...);
    } else {
      detail::reject_callable<Fn>();
      return detail::NotSendable{};  // only the static_assert above is reported
    }
  }

  /// Applies `F` to every item of `items`, `chunksize` items per task, and returns the results in order.
  /// Blocks until all are done. If a chunk fails, or `options.timeout` passes first (TimeoutError), the
  /// chunks still queued in the parent are cancelled (running ones run on) and the error is thrown: the
  /// first failure in order. Python: `list(map(fn, items, chunksize=..., timeout=...))`.
  // clang-format off: clang-format 14 mangles requires-clauses
  template <auto F, class Range>
  requires detail::NamedFunction<F>
  auto map(const Range& items, ProcessMapOptions options = {}) {
    // clang-format on
    using In = std::tuple_element_t<0, typename detail::Signature<decltype(F)>::args>;
    using R = typename detail::Signature<decltype(F)>::result;
    static_assert(!std::is_void_v<R>, "map needs a function that returns a value");
    return detail::map_chunks<In, R>(
        items, options, [this](std::vector<In>& batch) { return submit<&detail::MapChunk<F, In, R>::run>(batch); });
  }

  /// `map<&fn>` as Python spells it: `pool.map(heavy, items, {.chunksize = 100})`, for a function of this
  /// program passed at run time (see `submit(fn, args...)`).
  template <class Fn, class Range>
  auto map(Fn&& fn, const Range& items, ProcessMapOptions options = {}) {
    if constexpr (detail::FunctionPointer<std::decay_t<Fn>>) {
      using P = typename detail::Signature<std::decay_t<Fn>>::pointer;
      using In = std::tuple_element_t<0, typename detail::Signature<P>::args>;
      using R = typename detail::Signature<P>::result;
      static_assert(std::tuple_size_v<typename detail::Signature<P>::args> == 1, "map needs a one-argument function");
      static_assert(!std::is_void_v<R>, "map needs a function that returns a value");
      const auto address = reinterpret_cast<std::uintptr_t>(static_cast<P>(fn));
      detail::locate_function(address);  // a function no worker can find fails here, before anything is sent
      return detail::map_chunks<In, R>(items, options, [this, address](std::vector<In>& batch) {
        return submit_call<std::vector<R>>(detail::pointer_call<detail::PointerMapChunk<P>>(address, batch));
      });
    } else if constexpr (detail::ConvertibleLambda<Fn>) {
      return map(+fn, items, std::move(options));
    } else {
      detail::reject_callable<Fn>();
      return detail::NotSendable{};
    }
  }

  /// Stops accepting work. `wait`: block until queued tasks ran and workers exited. `cancel_futures`: cancel
  /// tasks still queued in the parent. `kill_running`: SIGKILL the workers now; their running tasks fail with
  /// CancelledError and queued tasks are cancelled (returns within ~1 s even if every worker is stuck).
  /// Idempotent. Python: `shutdown(wait, cancel_futures)` (+ 3.14's `kill_workers()`).
  void shutdown(bool wait = true, bool cancel_futures = false, bool kill_running = false);

  /// Counters so far.
  ProcessPoolStats stats() const;
  /// Pids of the live workers (tests: kill one).
  std::vector<pid_t> worker_pids() const;
  /// The number of worker processes.
  std::size_t max_workers() const noexcept;

 private:
  void submit_task(std::unique_ptr<detail::TaskBase> task);
  std::unique_ptr<detail::PoolCore> core_;
};

}  // namespace spindle::process
