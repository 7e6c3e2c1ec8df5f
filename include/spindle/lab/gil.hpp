#pragma once
/// @file
/// `Gil`: an emulation of CPython's global interpreter lock (the "new GIL" of CPython 3.2+), so that the lab
/// can show what Python threads do to CPU-bound work, and the convoy effect, next to free-threaded C++.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>

namespace spindle::lab {

/// What a thread under the GIL is doing, for the lab's state charts.
enum class GilState {
  running,          ///< holds the GIL (runs bytecode)
  waiting_for_gil,  ///< wants the GIL and waits for it
  released,         ///< let it go (a blocking wait, or its work is done)
};

/// CPython's GIL: one lock that a thread must hold to "run bytecode".
///
/// A thread that waits for the lock longer than the switch interval (5 ms by default, Python's
/// `sys.getswitchinterval()`) sets a drop request (CPython's `eval_breaker`); the holder notices it at its
/// next "bytecode boundary" — a call to `tick()` that CPU loops make every few iterations — drops the lock
/// and, as CPython's FORCE_SWITCHING does, waits until another thread has taken it, so that it cannot grab
/// it straight back. Blocking waits run inside a `Gil::Released` scope, as CPython releases the GIL around
/// I/O and `time.sleep`. A thread that re-acquires after a wait must itself wait for the holder's next
/// switch interval: that is the convoy effect.
///
/// **Thread safety:** all members may be called from any thread; `tick()` and `release()` only by the holder.
/// **Errors:** none (misuse — releasing a lock one does not hold — is undefined, as in CPython's C API).
/// **Python equivalent:** the GIL itself; `sys.setswitchinterval(interval)`.
class Gil {
 public:
  /// A GIL with Python's default switch interval.
  explicit Gil(std::chrono::microseconds switch_interval = std::chrono::milliseconds(5));
  Gil(const Gil&) = delete;
  Gil& operator=(const Gil&) = delete;

  /// Takes the lock, asking the holder to drop it after each switch interval spent waiting.
  /// Python: `take_gil()` (a thread "attaching" to the interpreter).
  void acquire();
  /// Drops the lock, handing it to a waiter if one asked. Python: `drop_gil()`.
  void release();
  /// A bytecode boundary: if a waiter asked for the lock, hand it over and take it back afterwards.
  /// Cheap (one relaxed load) when nobody asked. Python: the eval loop's `eval_breaker` check.
  void tick() {
    if (drop_request_.load(std::memory_order_relaxed)) yield_to_waiter();
  }

  /// Calls `observer(state)` on the thread whose state changes, at every change from now on (a tracing aid
  /// with no Python equivalent). Set it before threads use the GIL; it must be cheap and must not throw.
  void set_observer(std::function<void(GilState)> observer) { observer_ = std::move(observer); }

  /// How many times the lock changed hands.
  std::uint64_t switches() const noexcept { return switches_.load(std::memory_order_relaxed); }
  /// How many drop requests waiters made.
  std::uint64_t drop_requests() const noexcept { return requests_.load(std::memory_order_relaxed); }

  /// Holds the GIL for a scope (a Python thread running bytecode). Python: `PyGILState_Ensure/Release`.
  class Held {
   public:
    explicit Held(Gil& gil) : gil_(gil) { gil_.acquire(); }
    ~Held() { gil_.release(); }
    Held(const Held&) = delete;
    Held& operator=(const Held&) = delete;

   private:
    Gil& gil_;
  };

  /// Releases the GIL for a scope: wrap blocking waits in it. Python: `Py_BEGIN/END_ALLOW_THREADS`.
  class Released {
   public:
    explicit Released(Gil& gil) : gil_(gil) { gil_.release(); }
    ~Released() { gil_.acquire(); }
    Released(const Released&) = delete;
    Released& operator=(const Released&) = delete;

   private:
    Gil& gil_;
  };

 private:
  void yield_to_waiter();
  void notify(GilState state) const {
    if (observer_) observer_(state);
  }

  const std::chrono::microseconds interval_;
  std::mutex mutex_;
  std::condition_variable cond_;         // signalled when the lock is dropped
  std::condition_variable switch_cond_;  // signalled when the lock is taken (FORCE_SWITCHING)
  bool locked_ = false;
  std::thread::id holder_;
  std::uint64_t switch_number_ = 0;  // incremented on every acquisition
  std::atomic<bool> drop_request_{false};
  std::atomic<std::uint64_t> switches_{0};
  std::atomic<std::uint64_t> requests_{0};
  std::function<void(GilState)> observer_;
};

}  // namespace spindle::lab
