#pragma once
// An event loop's signal handlers (EventLoop::add_signal_handler). Internal to src/aio.

#include <csignal>
#include <functional>
#include <unordered_map>

#include "poller.hpp"
#include "spindle/aio/event_loop.hpp"

namespace spindle::aio::detail {

/// The signals one loop handles: a C handler writes the signal number into a pipe the loop reads (asyncio's
/// set_wakeup_fd), and the loop queues the callbacks of the signals read. One loop per process at a time.
class SignalSet {
 public:
  SignalSet() = default;
  SignalSet(const SignalSet&) = delete;
  SignalSet& operator=(const SignalSet&) = delete;

  /// Runs `fn` on `loop` when `sig` arrives, replacing a previous handler of `sig`. Throws
  /// std::invalid_argument for a signal that cannot be handled, InvalidStateError if another loop handles
  /// signals, std::system_error if the pipe or sigaction fails.
  void add(int sig, std::function<void()> fn, LoopCore* loop, Poller& poller);
  /// Restores `sig`'s previous disposition; closes the pipe with the last handler. False if none was set.
  bool remove(int sig, Poller* poller);
  /// Removes every handler (loop close).
  void remove_all(Poller* poller);
  /// Closes the pipe if it is still open (loop close, after remove_all).
  void close_pipe() noexcept;
  /// If `fd` is the signal pipe: reads it and queues the handlers of the signals that arrived; true.
  bool dispatch(int fd) noexcept;

 private:
  int read_ = -1;
  int write_ = -1;
  struct Sig {
    CallbackBase* cb = nullptr;
    struct sigaction old {};
  };
  std::unordered_map<int, Sig> sigs_;
};

}  // namespace spindle::aio::detail
