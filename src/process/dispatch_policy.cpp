// The process pool's dispatch policy (see dispatch_policy.hpp).

#include "dispatch_policy.hpp"

#include <algorithm>

namespace spindle::process::detail {

std::size_t DispatchPolicy::depth(const WorkerLoad& w, Clock::time_point now) const noexcept {
  if (w.ewma_us <= 0) return 1;
  if (w.inflight > 0) {
    const double head_us = std::chrono::duration<double, std::micro>(now - w.head_start).count();
    if (head_us > std::max(1000.0, 8 * w.ewma_us)) return 1;
  }
  const double want = 1 + 500.0 / std::max(w.ewma_us, 0.5);
  return std::clamp<std::size_t>(static_cast<std::size_t>(want), 1, max_inflight_);
}

std::size_t DispatchPolicy::pick(std::span<const WorkerLoad> workers, Clock::time_point now) const noexcept {
  // While a worker is still starting, queue nothing behind a running task: the starting worker will be free
  // in a millisecond, whereas the task queued behind may wait a whole long task. (Found by the lab: after a
  // warm-up of tiny tasks the one ready worker had a deep pipeline and took all four 50 ms tasks while three
  // workers were still starting.)
  const bool any_starting = std::any_of(workers.begin(), workers.end(), [](const WorkerLoad& w) { return w.starting; });
  std::size_t best = npos;
  for (std::size_t i = 0; i < workers.size(); ++i) {
    const WorkerLoad& w = workers[i];
    if (!w.can_take) continue;
    if (w.inflight >= (any_starting ? 1 : depth(w, now))) continue;
    if (best == npos || w.inflight < workers[best].inflight) best = i;
  }
  return best;
}

std::size_t DispatchPolicy::victim(std::span<const WorkerLoad> workers, Clock::time_point now,
                                   Clock::time_point& wake_at) const noexcept {
  const bool idle =
      std::any_of(workers.begin(), workers.end(), [](const WorkerLoad& w) { return w.inflight == 0 && w.can_take; });
  if (!idle) return npos;
  std::size_t victim = npos;
  for (std::size_t i = 0; i < workers.size(); ++i) {
    const WorkerLoad& w = workers[i];
    if (w.inflight < 2 || !w.revocable) continue;
    // Tiny tasks stay fast: a queue behind a head that became the head moments ago is left alone.
    const auto after = w.head_start + std::chrono::duration_cast<Clock::duration>(
                                          std::chrono::duration<double, std::micro>(std::max(200.0, 4 * w.ewma_us)));
    if (now < after) {
      wake_at = std::min(wake_at, after);
      continue;
    }
    if (victim == npos || w.head_start < workers[victim].head_start) victim = i;
  }
  return victim;
}

}  // namespace spindle::process::detail
