#pragma once
// The state a spindle::Thread shares with the OS thread it starts. Shared (not owned by the Thread object)
// because a daemon thread outlives its detached handle.

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <tuple>
#include <utility>

namespace spindle::detail {

class ThreadCore {
 public:
  ThreadCore() = default;
  ThreadCore(const ThreadCore&) = delete;
  ThreadCore& operator=(const ThreadCore&) = delete;
  virtual ~ThreadCore() = default;

  /// Runs the target once and destroys it (with its arguments) before returning or throwing, so whatever
  /// the target captured is released before join() returns.
  virtual void run() = 0;

  std::mutex mutex;                       // guards name and handle
  std::string name;                       // guarded by mutex
  std::thread handle;                     // guarded by mutex
  std::atomic<bool> start_called{false};  // start() was called (it may have failed)
  std::atomic<uint32_t> started{0};       // futex: 1 once the thread published its ids
  std::atomic<uint32_t> finished{0};      // futex: 1 once the target returned or threw
  std::atomic<int> native_id{0};
  std::atomic<std::uint64_t> ident{0};
  std::atomic<bool> daemon{false};
};

/// The target and its arguments, stored decayed (copied or moved in, as std::thread does).
template <class F, class... Args>
class ThreadTarget final : public ThreadCore {
 public:
  template <class G, class... A>
  explicit ThreadTarget(G&& fn, A&&... args) : target_(std::in_place, std::forward<G>(fn), std::forward<A>(args)...) {}

  void run() override {
    struct Reset {
      std::optional<std::tuple<F, Args...>>& t;
      ~Reset() { t.reset(); }
    } reset{target_};
    std::apply([](auto&... parts) { std::invoke(std::move(parts)...); }, *target_);
  }

 private:
  std::optional<std::tuple<F, Args...>> target_;
};

/// A thread with nothing to run (Python's `Thread()` without a target).
class EmptyThreadTarget final : public ThreadCore {
 public:
  void run() override {}
};

}  // namespace spindle::detail
