#pragma once
/// @file
/// Child processes with async pipes: `create_subprocess_exec`, `create_subprocess_shell`, `Process`.
/// Python equivalent: `asyncio.create_subprocess_exec` / `_shell` and `asyncio.subprocess.Process`.
///
/// Children are started with posix_spawn (glibc: clone(CLONE_VM|CLONE_VFORK) + exec, nothing but
/// async-signal-safe work in between); every descriptor spindle creates is close-on-exec, so a child inherits
/// only its 0/1/2. The child's signal mask is emptied and every signal reset to its default. Each child is
/// watched through a pidfd (pidfd_open) registered with the loop and reaped as soon as it exits, whether or not
/// anyone awaits wait(): no zombies.

#include <csignal>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "spindle/aio/streams.hpp"
#include "spindle/aio/task.hpp"

namespace spindle::aio {

/// Where a child's standard stream goes. Python: `None`, `asyncio.subprocess.PIPE`, `DEVNULL`, `STDOUT`.
enum class Redirect {
  inherit,  ///< the parent's fd (Python: None)
  pipe,     ///< a pipe to this process, exposed as a stream (Python: PIPE)
  devnull,  ///< /dev/null (Python: DEVNULL)
  stdout_,  ///< stderr only: the same as stdout (Python: STDOUT)
};

/// Options of create_subprocess_exec/_shell (designated initializers).
struct SubprocessOptions {
  Redirect stdin_ = Redirect::inherit;   ///< the child's stdin
  Redirect stdout_ = Redirect::inherit;  ///< the child's stdout
  Redirect stderr_ = Redirect::inherit;  ///< the child's stderr
  std::size_t limit = kDefaultStreamLimit;  ///< the readers' limit
};

/// What communicate() returns.
struct CommunicateResult {
  std::string out;     ///< all of stdout (empty unless piped)
  std::string err;     ///< all of stderr (empty unless piped)
  int returncode = 0;  ///< as Process::returncode()
};

namespace detail {
struct ProcState;
}

/// A started child process.
///
/// **Thread safety:** the loop's thread only. **Errors:** creation throws std::system_error (ENOENT for a
/// missing program, ...). send_signal() after the child was reaped does nothing (Python raises
/// ProcessLookupError; doing nothing avoids signalling a recycled pid). **Cancellation:** wait() and
/// communicate() may be cancelled; the child runs on and is still reaped by the loop. A Process whose loop
/// closes while the child runs kills the child (SIGKILL) and reaps it, so nothing outlives the loop unseen.
/// **Python equivalent:** `asyncio.subprocess.Process`.
class Process {
 public:
  /// An empty handle.
  Process() noexcept = default;
  /// Internal.
  Process(std::shared_ptr<detail::ProcState> s, StreamWriter in, StreamReader out, StreamReader err) noexcept;

  /// The child's pid. Python: `pid`.
  int pid() const noexcept;
  /// The exit code, or -N if signal N killed it; empty while it runs. Python: `returncode`.
  std::optional<int> returncode() const noexcept;
  /// Waits for the child to exit and returns returncode. Python: `await proc.wait()`.
  Task<int> wait();
  /// Writes `input` to stdin (if piped) and closes it, reads stdout and stderr (if piped) to EOF concurrently,
  /// then waits. A child that exits without reading its input is not an error (EPIPE is ignored, as Python).
  /// Python: `await proc.communicate(input)`.
  Task<CommunicateResult> communicate(std::string input = {});
  /// Python: `send_signal(sig)`.
  void send_signal(int sig);
  /// SIGTERM. Python: `terminate()`.
  void terminate() { send_signal(SIGTERM); }
  /// SIGKILL. Python: `kill()`.
  void kill() { send_signal(SIGKILL); }

  /// The child's stdin (valid() only with Redirect::pipe). Python: `proc.stdin`.
  StreamWriter& stdin_pipe() noexcept { return in_; }
  /// The child's stdout. Python: `proc.stdout`.
  StreamReader& stdout_pipe() noexcept { return out_; }
  /// The child's stderr. Python: `proc.stderr`.
  StreamReader& stderr_pipe() noexcept { return err_; }

 private:
  std::shared_ptr<detail::ProcState> s_;
  StreamWriter in_;
  StreamReader out_;
  StreamReader err_;
};

/// Starts `argv[0]` (looked up in PATH) with arguments `argv`. On g++ 12 build the vector outside the co_await
/// (`std::vector<std::string> argv{"echo", "hi"}; co_await create_subprocess_exec(argv);`): a braced list
/// written inside a co_await does not compile there (GCC PR c++/103871, "array used as initializer"); or use the
/// variadic form below. Python: `await create_subprocess_exec(*argv)`.
Task<Process> create_subprocess_exec(std::vector<std::string> argv, SubprocessOptions options = {});

namespace detail {
template <class A>
inline constexpr bool is_subprocess_options = std::is_same_v<std::remove_cvref_t<A>, SubprocessOptions>;
template <class A>
inline constexpr bool is_subprocess_arg = std::is_convertible_v<A&&, std::string_view>;
/// Args are strings, optionally followed by one SubprocessOptions (and nothing after it).
template <class... A>
consteval bool subprocess_args_ok() {
  constexpr std::size_t n = sizeof...(A);
  constexpr bool kinds[] = {is_subprocess_arg<A>..., false};
  constexpr bool opts[] = {is_subprocess_options<A>..., false};
  for (std::size_t i = 0; i < n; ++i) {
    if (!(kinds[i] || (opts[i] && i + 1 == n))) return false;
  }
  return true;
}
template <class A>
void add_subprocess_arg(std::vector<std::string>& argv, SubprocessOptions& options, A&& a) {
  if constexpr (is_subprocess_options<A>) {
    options = std::forward<A>(a);
  } else {
    argv.emplace_back(std::string_view(a));
  }
}
}  // namespace detail

/// Starts `program` (looked up in PATH) with the arguments `args...` (strings), optionally followed by
/// `SubprocessOptions{...}` (spelled with its type: a braced list cannot follow a pack). Works inside a
/// co_await on every compiler. Python: `await create_subprocess_exec("echo", "hi", stdout=PIPE)`.
template <class... A>
  requires(detail::subprocess_args_ok<A...>())
Task<Process> create_subprocess_exec(std::string_view program, A&&... args) {
  std::vector<std::string> argv;
  argv.reserve(1 + sizeof...(A));
  argv.emplace_back(program);
  SubprocessOptions options;
  (detail::add_subprocess_arg(argv, options, std::forward<A>(args)), ...);
  return create_subprocess_exec(std::move(argv), options);
}
/// Starts `/bin/sh -c command`. Python: `await create_subprocess_shell(cmd)`.
Task<Process> create_subprocess_shell(std::string command, SubprocessOptions options = {});

}  // namespace spindle::aio
