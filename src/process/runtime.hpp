#pragma once
// Internals shared by the processes model's sources: the worker config and control block, starting and
// reaping worker processes (start_methods.cpp), the worker loop (worker_main.cpp), errors across the
// process boundary (remote_error.cpp). Descriptor passing is fd_passing.hpp.

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "control_block.hpp"
#include "fd_passing.hpp"
#include "spindle/process/codec.hpp"
#include "spindle/process/frame.hpp"
#include "spindle/process/start_method.hpp"

namespace spindle::process::detail {

/// Held around fork() (the fork start method): no thread of this process is then inside a function look-up's
/// loader calls (dladdr1, dl_iterate_phdr). glibc's loader lock is not reset in a child, so a worker forked
/// while one ran would wait for it forever at its own first look-up. The child releases it at once.
std::unique_lock<std::mutex> hold_function_lookups();

/// The first frame a worker receives.
struct WorkerConfig {
  std::uint64_t max_tasks = 0;
  std::uint64_t rlimit_as = 0;
  std::uint64_t rlimit_cpu_s = 0;
  std::uint64_t max_frame = kDefaultMaxFrameBytes;
  bool one_shot = false;  // a Process: run one task, exit with 0 (or 1 if it threw)
  std::uint64_t init_id = 0;
  std::string init_args;
  std::string name;  // process name (Process) for messages
  /// Size of the control block (descriptor 0 of the config frame): 8 bytes (the claim word) for a Process,
  /// 16 for a pool worker (the claim word and the revoke-through word: see ControlBlock).
  std::uint64_t control_bytes = sizeof(std::uint64_t);
  /// A pool worker's result area (result_batch.hpp), in the control segment at kResultAreaOffset: 0 sends
  /// every result at once (a Process; a pool with a task_timeout, whose clock starts at the last result).
  std::uint64_t result_area = 0;

  template <class A>
  void serialize(A& ar) {
    ar(max_tasks, rlimit_as, rlimit_cpu_s, max_frame, one_shot, init_id, init_args, name, control_bytes, result_area);
  }
};

/// A started worker: its pid and the parent's end of its channel (a SOCK_STREAM socketpair, CLOEXEC).
struct Child {
  pid_t pid = -1;
  int fd = -1;
  bool via_server = false;  // forked by the forkserver (reaped through it)
};

/// Starts a worker process that runs worker_main on its end of a new socketpair. Throws std::system_error.
Child start_child(StartMethod method);

/// Waits for the worker to exit (it normally already has: its channel hit EOF); if it is still alive after
/// `grace`, SIGKILLs it. Returns the wait status.
int reap_child(const Child& c, std::chrono::milliseconds grace = std::chrono::milliseconds(1000));

/// The worker loop on channel `fd`; never returns.
[[noreturn]] void worker_main(int fd);

/// Turns a wait status into a message ("killed by signal 9 (SIGKILL)", "exited with code 3").
std::string describe_status(int status);

/// Name of the exception in flight (demangled) and its message.
void describe_current_exception(std::string& type, std::string& message);

/// Encodes (type, message) of the current exception as an error payload.
std::string error_payload();

/// Rebuilds the RemoteError a worker sent.
std::exception_ptr remote_error(const char* data, std::size_t size);

}  // namespace spindle::process::detail
