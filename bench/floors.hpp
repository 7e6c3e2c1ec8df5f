#pragma once
// The machine's floors, measured by `spindle bench --compare` in the same run as the workloads: what no
// library on this machine can beat (a copy of memory, a thread woken and answering, a process forked and
// reaped, a fresh page faulted in). They say what kind of machine the ratios came from, and W8's copy is
// reported against memcpy.

namespace spindle::bench {

/// Medians over a few repetitions.
struct Floors {
  double memcpy_GBps = 0;    ///< memcpy of a warm 10 MiB buffer, GB/s
  double wake_rtt_us = 0;    ///< two threads ping-ponging through std::atomic wait/notify: one round trip, µs
  double fork_wait_us = 0;   ///< fork() of this process, the child's _exit(0), waitpid(): µs each
  double page_touch_us = 0;  ///< first write to a fresh 4 KiB anonymous page (fault, allocation, zeroing): µs
};

/// Measures them (about half a second).
Floors measure_floors();

}  // namespace spindle::bench
