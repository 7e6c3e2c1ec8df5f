#pragma once
/// @file
/// `Process`: run one named function in a new process. Python equivalent: `multiprocessing.Process`.

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <utility>

#include "spindle/process/registry.hpp"
#include "spindle/process/start_method.hpp"

namespace spindle::process {

/// Names a function as a Process target: `Process p(target<&spin>, args...)`.
template <auto F>
  requires detail::NamedFunction<F>
struct Target {};
/// The tag value for `F`.
template <auto F>
  requires detail::NamedFunction<F>
inline constexpr Target<F> target{};

/// Options of a Process.
struct ProcessOptions {
  /// Shown in messages and as the process's comm name (`ps`, 15 characters). Python: `name`.
  std::string name = {};
  /// A daemon process is killed when its Process object is destroyed and when this program exits; a
  /// non-daemon one is joined by the destructor. Either way it gets PR_SET_PDEATHSIG (via the forkserver), so
  /// it never outlives this program. Python: `daemon`.
  bool daemon = false;
  /// How the process starts.
  StartMethod start_method = StartMethod::forkserver;
};

/// A child process running `F(args...)`; it exits with 0 when F returns, 1 when F throws (the exception is
/// printed to stderr, as Python prints a traceback), or whatever F passes to `exit`.
///
/// **Thread safety:** not synchronised; use one Process object from one thread at a time.
/// **Errors:** `start` throws std::system_error if the process cannot be started and InvalidStateError if it
/// was already started. **Python equivalent:** `multiprocessing.Process(target=f, args=(...))`.
class Process {
 public:
  /// A process that will run `F(args...)` once started.
  template <auto F, class... A>
  explicit Process(Target<F>, A&&... args) : Process(call<F>(std::forward<A>(args)...), ProcessOptions{}) {}
  /// The same, with options.
  template <auto F, class... A>
  Process(ProcessOptions options, Target<F>, A&&... args)
      : Process(call<F>(std::forward<A>(args)...), std::move(options)) {}
  /// A process that will run `fn(args...)`, `fn` a function of this program passed at run time (see
  /// `call(fn, args...)`). Python: `Process(target=fn, args=(...))`.
  template <class Fn, class... A>
    requires detail::FunctionPointer<std::decay_t<Fn>>
  explicit Process(Fn&& fn, A&&... args)
      : Process(call(static_cast<std::decay_t<Fn>>(fn), std::forward<A>(args)...), ProcessOptions{}) {}
  /// A lambda or function object is a compile-time error (see the message).
  template <class Fn, class... A>
    requires(!std::is_same_v<std::decay_t<Fn>, Call> && !std::is_same_v<std::decay_t<Fn>, ProcessOptions> &&
             !detail::FunctionPointer<std::decay_t<Fn>>)
  explicit Process(Fn&&, A&&...) {
    detail::reject_callable<Fn>();
  }
  /// A process for a prepared call.
  Process(Call target, ProcessOptions options);
  Process(Process&& other) noexcept;
  Process& operator=(Process&&) = delete;
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;
  /// Daemon: kills and reaps. Otherwise: joins.
  ~Process();

  /// Starts the process. Python: `start()`.
  void start();
  /// Waits for the process to end. Python: `join()`.
  void join();
  /// Waits at most `timeout`; true if it ended. Python: `join(timeout)`.
  bool join(std::chrono::milliseconds timeout);
  /// True between start() and the end of the process. Python: `is_alive()`.
  bool is_alive();
  /// The process id, 0 before start. Python: `pid`.
  pid_t pid() const noexcept { return pid_ > 0 ? pid_ : 0; }
  /// The exit code once ended: the code it exited with, or minus the signal that killed it; nullopt while
  /// running or before start. Python: `exitcode`.
  std::optional<int> exitcode() const noexcept { return exitcode_; }
  /// Sends SIGTERM. Python: `terminate()`.
  void terminate() noexcept;
  /// Sends SIGKILL. Python: `kill()`.
  void kill() noexcept;
  /// The name. Python: `name`.
  const std::string& name() const noexcept { return options_.name; }
  /// Whether this is a daemon process. Python: `daemon`.
  bool daemon() const noexcept { return options_.daemon; }

 private:
  void reap();
  Call target_;
  ProcessOptions options_;
  pid_t pid_ = -1;
  int fd_ = -1;
  bool via_server_ = false;
  std::optional<int> exitcode_;
};

}  // namespace spindle::process
