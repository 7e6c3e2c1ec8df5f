#pragma once
/// @file
/// How worker processes are started, and `init()`. Python equivalent: `multiprocessing.set_start_method`,
/// `multiprocessing.forkserver.ensure_running`.

#include <sys/types.h>

namespace spindle::process {

/// How a worker process is started.
enum class StartMethod {
  /// The default. Workers are forked from a server process that is itself started by exec'ing this program
  /// again (so it is clean: one thread, no locks held, nothing inherited but the binary). Forking from it is
  /// safe whatever threads the parent runs; fork costs ~0.3 ms instead of an exec per worker. Python 3.14's
  /// default for the same reason.
  forkserver,
  /// Each worker execs /proc/self/exe with a marker in its environment; a static initialiser in
  /// spindle_process sees the marker and runs the worker loop instead of `main`. Slowest, most isolated.
  spawn,
  /// fork() the parent directly. Opt-in only: with other threads running, the child may inherit a lock
  /// held by a thread that does not exist in it and deadlock (and TSan does not support it).
  fork,
};

/// Starts the forkserver now instead of at the first pool or Process that needs it, so that it is already
/// running (and its descriptor is open) before tests take a census or threads start. Optional; idempotent;
/// thread-safe. Python equivalent: `multiprocessing.forkserver.ensure_running()`.
void init();

/// The forkserver's pid, or 0 if it is not running.
pid_t forkserver_pid() noexcept;

}  // namespace spindle::process
