#pragma once
/// @file
/// `measure`: run a callable or a command while sampling its threads from /proc, and return the advisor's
/// Report (is it I/O- or CPU-bound, how parallel was it, what to use).

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "spindle/advisor/report.hpp"

namespace spindle::advisor {

/// How to sample.
struct MeasureOptions {
  /// Sampling period; it grows automatically with the number of threads so that sampling stays cheap.
  std::chrono::milliseconds interval{10};
  /// Cores to judge parallelism against; 0 means the CPUs this process may run on (sched_getaffinity).
  int cores = 0;
};

/// Runs `fn` on the calling thread while a sampler thread reads /proc/self (and any child processes `fn`
/// starts) every `interval`; returns the report. Threads that already existed are measured from their
/// state at the call, so an idle pool does not skew the verdict; the sampler excludes itself.
///
/// **Thread safety:** may be called from any thread; concurrent calls measure each other's threads too.
/// **Errors:** an exception thrown by `fn` propagates after the sampler stopped.
/// **Python equivalent:** none (a profiler's wall/CPU split, automated).
Report measure(const std::function<void()>& fn, MeasureOptions options = {});

/// Starts `argv` (searched on PATH), samples its process tree until it exits, and returns the report with
/// its exit status (128 + signal when killed). Standard streams are inherited.
///
/// **Thread safety:** may be called from any thread. **Errors:** LaunchError when the program cannot be
/// started (not found, not executable), with the reason; an empty argv is a LaunchError too.
/// **Python equivalent:** `subprocess.run(argv)`, plus the measurement.
Report measure_command(const std::vector<std::string>& argv, MeasureOptions options = {});

/// Samples the running process `pid` (and its descendants) for `duration`, or until it exits, without
/// restarting it: a service measured in place. Its threads are measured from their state at the call.
///
/// **Thread safety:** may be called from any thread. **Errors:** AttachError when there is no such process or
/// its /proc entries cannot be read (another user's process without the right to ptrace-read it).
/// **Python equivalent:** none (`py-spy dump --pid`, for the wall/CPU split).
Report measure_pid(int pid, std::chrono::milliseconds duration, MeasureOptions options = {});
/// Number of CPUs this process may run on.
int available_cores() noexcept;

}  // namespace spindle::advisor
