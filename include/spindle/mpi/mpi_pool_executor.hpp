#pragma once
/// @file
/// `MpiPoolExecutor`: the ProcessPoolExecutor's API across the ranks of an MPI job. Change the type, keep the
/// code: `submit<&fn>(args...)`, `map<&fn>(items, {.chunksize})`, `shutdown(wait, cancel_futures)`, the same
/// function registry and codec. Each worker rank runs its tasks in a local ProcessPoolExecutor, so a task that
/// crashes fails only its own future (WorkerCrashed), as on one machine. Python: `mpi4py.futures.MPIPoolExecutor`.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "spindle/core/errors.hpp"
#include "spindle/core/future.hpp"
#include "spindle/mpi/detail/service.hpp"
#include "spindle/mpi/errors.hpp"
#include "spindle/mpi/init.hpp"
#include "spindle/process/process_pool_executor.hpp"

namespace spindle::mpi {

/// Options of an MpiPoolExecutor.
struct MpiPoolOptions {
  /// Worker ranks this executor uses (ranks 1..max_workers); 0: all of them (world size - 1). Python:
  /// `MPIPoolExecutor(max_workers)`.
  std::size_t max_workers = 0;
};

/// A pool whose workers are the ranks of an MPI job (see the file comment).
///
/// **Thread safety:** every member may be called from any thread; futures complete on rank 0's MPI service
/// thread (done-callbacks run there). **Errors:** the constructor throws MpiError without init() or without
/// a worker rank, std::invalid_argument for more workers than ranks; `submit` throws ShutdownError after
/// shutdown, BrokenExecutor after a lost rank, std::invalid_argument for arguments that carry descriptors
/// (SharedMemory cannot cross nodes); a future fails with RemoteError (the task threw), WorkerCrashed (its
/// worker process died: the rank lives on) or RankLost (its rank stopped answering).
/// **Cancellation:** a task can be cancelled while it waits on rank 0; once sent to a rank it runs.
/// **Python equivalent:** `mpi4py.futures.MPIPoolExecutor`.
class MpiPoolExecutor {
 public:
  /// Opens an executor over the job's worker ranks.
  explicit MpiPoolExecutor(MpiPoolOptions options = {});
  MpiPoolExecutor(const MpiPoolExecutor&) = delete;
  MpiPoolExecutor& operator=(const MpiPoolExecutor&) = delete;
  /// `shutdown(wait=true)`.
  ~MpiPoolExecutor();

  /// Runs `F(args...)` on a worker rank. Python: `submit(fn, *args)`.
  // clang-format off: clang-format 14 mangles requires-clauses
  template <auto F, class... A>
  requires process::detail::NamedFunction<F>
  auto submit(A&&... args) {
    // clang-format on
    using R = typename process::detail::Signature<decltype(F)>::result;
    return submit_call<R>(process::call<F>(std::forward<A>(args)...));
  }

  /// A Call made with `process::call<&fn>(args...)`, with its result type given.
  template <class R>
  Future<R> submit_call(process::Call c) {
    check_open();
    if (!c.fds.empty())
      throw std::invalid_argument("MpiPoolExecutor: arguments that carry descriptors cannot cross ranks");
    auto task = std::make_unique<process::detail::Task<R>>(std::move(c));
    Future<R> f = task->future();
    detail::enqueue(id_, std::move(task));
    return f;
  }

  /// Runs `fn(args...)` on a worker rank, as Python spells it: `pool.submit(heavy, 4)`. `fn` is a function of
  /// this program (every rank runs the same binary) or a captureless lambda; anything else does not compile.
  /// Python: `submit(fn, *args)`.
  template <class Fn, class... A>
  auto submit(Fn&& fn, A&&... args) {
    if constexpr (process::detail::FunctionPointer<std::decay_t<Fn>>) {
      using P = typename process::detail::Signature<std::decay_t<Fn>>::pointer;
      using R = typename process::detail::Signature<P>::result;
      return submit_call<R>(process::call(static_cast<P>(fn), std::forward<A>(args)...));
    } else if constexpr (process::detail::ConvertibleLambda<Fn>) {
      return submit(+fn, std::forward<A>(args)...);
    } else {
      process::detail::reject_callable<Fn>();
      return process::detail::NotSendable{};  // only the static_assert above is reported
    }
  }

  /// `F` over `items`, `chunksize` items per task, results in order. Python: `map(fn, iterable, chunksize=)`.
  // clang-format off
  template <auto F, class Range>
  requires process::detail::NamedFunction<F>
  auto map(const Range& items, const process::ProcessMapOptions& options = {}) {
    // clang-format on
    using In = std::tuple_element_t<0, typename process::detail::Signature<decltype(F)>::args>;
    using R = typename process::detail::Signature<decltype(F)>::result;
    return process::detail::map_chunks<In, R>(items, options, [this](std::vector<In>& batch) {
      return submit<&process::detail::MapChunk<F, In, R>::run>(batch);
    });
  }

  /// `map<&fn>` as Python spells it: `pool.map(heavy, items, {.chunksize = 100})`, for a function passed at
  /// run time (see `submit(fn, args...)`).
  template <class Fn, class Range>
  auto map(Fn&& fn, const Range& items, const process::ProcessMapOptions& options = {}) {
    if constexpr (process::detail::FunctionPointer<std::decay_t<Fn>>) {
      using P = typename process::detail::Signature<std::decay_t<Fn>>::pointer;
      using In = std::tuple_element_t<0, typename process::detail::Signature<P>::args>;
      using R = typename process::detail::Signature<P>::result;
      static_assert(std::tuple_size_v<typename process::detail::Signature<P>::args> == 1,
                    "map needs a one-argument function");
      const auto address = reinterpret_cast<std::uintptr_t>(static_cast<P>(fn));
      process::detail::locate_function(address);  // a function no rank can find fails here, before sending
      return process::detail::map_chunks<In, R>(items, options, [this, address](std::vector<In>& batch) {
        return submit_call<std::vector<R>>(
            process::detail::pointer_call<process::detail::PointerMapChunk<P>>(address, batch));
      });
    } else if constexpr (process::detail::ConvertibleLambda<Fn>) {
      return map(+fn, items, options);
    } else {
      process::detail::reject_callable<Fn>();
      return process::detail::NotSendable{};
    }
  }

  /// Stops accepting work. `wait`: block until every task ran. `cancel_futures`: cancel the tasks still
  /// waiting on rank 0. Idempotent. Python: `shutdown(wait, cancel_futures)`.
  void shutdown(bool wait = true, bool cancel_futures = false);

  /// The number of worker ranks this executor uses.
  std::size_t max_workers() const noexcept { return workers_; }

 private:
  void check_open() const {
    if (closed_.load(std::memory_order_acquire)) throw ShutdownError();
  }

  std::size_t workers_ = 0;
  int id_ = -1;
  std::atomic<bool> closed_{false};
};

}  // namespace spindle::mpi
