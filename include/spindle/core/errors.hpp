#pragma once
/// @file
/// The typed errors every spindle model throws.

#include <csignal>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace spindle {

/// Base of every error spindle throws. Python equivalent: `Exception`.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// The awaited work was cancelled. Python equivalent: `concurrent.futures.CancelledError`.
class CancelledError : public Error {
 public:
  CancelledError() : Error("cancelled") {}
  using Error::Error;
};

/// A deadline passed before the work finished. Python equivalent: `TimeoutError`.
class TimeoutError : public Error {
 public:
  TimeoutError() : Error("timed out") {}
  using Error::Error;
};

/// An operation is not allowed in the object's current state. Python: `InvalidStateError`.
class InvalidStateError : public Error {
 public:
  using Error::Error;
};

/// An untimed wait would never return: the awaited task is queued in a thread pool whose every worker is itself
/// blocked waiting on queued tasks (a pool waiting on itself with helping off, or pools waiting on each other).
/// Python has none (it hangs); the nearest is the `RuntimeError` of a thread joining itself.
class DeadlockError : public Error {
 public:
  using Error::Error;
};

/// A Promise was destroyed before it delivered a result: the Future would otherwise wait forever.
class BrokenPromise : public Error {
 public:
  BrokenPromise() : Error("broken promise: the producer was destroyed without setting a result") {}
};

/// `put_nowait` (or a timed `put`) on a full queue. Python equivalent: `queue.Full`.
class QueueFull : public Error {
 public:
  QueueFull() : Error("queue full") {}
};

/// `get_nowait` (or a timed `get`) on an empty queue. Python equivalent: `queue.Empty`.
class QueueEmpty : public Error {
 public:
  QueueEmpty() : Error("queue empty") {}
};

/// The queue was shut down. Python 3.13 equivalent: `queue.ShutDown`.
class QueueShutDown : public Error {
 public:
  QueueShutDown() : Error("queue shut down") {}
};

/// Work was submitted to an executor that is shutting down or shut down. Python: `RuntimeError`.
class ShutdownError : public Error {
 public:
  ShutdownError() : Error("cannot schedule new futures after shutdown") {}
  using Error::Error;
};

/// The executor can no longer run work (e.g. an initializer failed). Python: `BrokenExecutor`.
class BrokenExecutor : public Error {
 public:
  using Error::Error;
};

/// A barrier was aborted, reset or timed out while threads waited. Python: `threading.BrokenBarrierError`.
class BrokenBarrierError : public Error {
 public:
  BrokenBarrierError() : Error("barrier broken") {}
  using Error::Error;
};

/// A worker process died while running the task: by a signal (`signal != 0`) or by exiting
/// (`exit_code`). Python breaks the whole pool (`BrokenProcessPool`); spindle fails only this task.
class WorkerCrashed : public Error {
 public:
  WorkerCrashed(std::string what, int pid, int signal, int exit_code, std::string task)
      : Error(std::move(what)), pid_(pid), signal_(signal), exit_code_(exit_code), task_(std::move(task)) {}
  /// Process id of the worker that died.
  int pid() const noexcept { return pid_; }
  /// Signal that killed the worker, 0 if it exited.
  int signal() const noexcept { return signal_; }
  /// Exit code of the worker when it exited without a result, -1 when it was killed by a signal.
  int exit_code() const noexcept { return exit_code_; }
  /// Name of the task the worker was running.
  const std::string& task() const noexcept { return task_; }

 private:
  int pid_;
  int signal_;
  int exit_code_;
  std::string task_;
};

/// An exception thrown inside another process, carried back by type name and message.
class RemoteError : public Error {
 public:
  RemoteError(std::string type_name, std::string message)
      : Error(type_name + ": " + message), type_name_(std::move(type_name)), message_(std::move(message)) {}
  /// Type of the remote exception as the remote side named it.
  const std::string& type_name() const noexcept { return type_name_; }
  /// The remote exception's message.
  const std::string& message() const noexcept { return message_; }

 private:
  std::string type_name_;
  std::string message_;
};

/// A stream read found no separator within the limit. Python: `asyncio.LimitOverrunError`.
class LimitOverrunError : public Error {
 public:
  LimitOverrunError(std::string what, std::size_t consumed) : Error(std::move(what)), consumed_(consumed) {}
  /// How many bytes must be consumed to get past the overrun.
  std::size_t consumed() const noexcept { return consumed_; }

 private:
  std::size_t consumed_;
};

/// EOF arrived before the requested bytes. Python: `asyncio.IncompleteReadError`.
class IncompleteReadError : public Error {
 public:
  IncompleteReadError(std::string partial, std::size_t expected)
      : Error(std::to_string(partial.size()) + " bytes read on a total of " + std::to_string(expected) +
              " expected bytes"),
        partial_(std::move(partial)),
        expected_(expected) {}
  /// The bytes read before EOF.
  const std::string& partial() const noexcept { return partial_; }
  /// The number of bytes that were asked for.
  std::size_t expected() const noexcept { return expected_; }

 private:
  std::string partial_;
  std::size_t expected_;
};

}  // namespace spindle
