// The process pool's dispatch: handing pending tasks to workers, taking unstarted tasks back for an idle
// worker (revocation), and the timeouts. The decisions are DispatchPolicy's (dispatch_policy.hpp); this file
// summarises the workers for it and acts. See pool_core.hpp.

#include <signal.h>

#include <algorithm>
#include <optional>

#include "pool_core.hpp"

namespace spindle::process::detail {

// A worker that may be sent a task now.
bool PoolCore::can_take(const Worker& w) const noexcept {
  if (!w.ready || w.closing || w.kill != KillReason::none || w.eof || w.revoke_through) return false;
  return !opt_.max_tasks_per_child || w.sent < opt_.max_tasks_per_child;
}

WorkerLoad PoolCore::load(const Worker& w) const noexcept {
  WorkerLoad l;
  l.can_take = can_take(w);
  l.starting = !w.ready && !w.closing && w.kill == KillReason::none && !w.eof && !w.init_error;
  l.revocable = w.ready && w.kill == KillReason::none && !w.eof && !w.revoke_through;
  l.inflight = w.inflight.size();
  l.head_start = w.head_start;
  l.ewma_us = w.ewma_us;
  return l;
}

void PoolCore::dispatch() {
  rebalance_at_ = Clock::time_point::max();
  if (!pending_.empty()) dispatch_pending();
  // Nothing left to hand out: an idle worker may take tasks queued behind another worker's long head.
  while (pending_.empty() && workers_.size() > 1 && rebalance()) dispatch_pending();
}

void PoolCore::dispatch_pending() {
  const auto now = Clock::now();
  loads_.clear();
  for (auto& w : workers_) loads_.push_back(load(*w));
  while (!pending_.empty()) {
    const std::size_t i = policy_.pick(loads_, now);
    if (i == DispatchPolicy::npos) return;
    TaskPtr t = std::move(pending_.front());
    pending_.pop_front();
    if (!t->started) {
      if (!t->start()) continue;  // cancelled while queued: dropped
      t->started = true;
    }
    send_task(*workers_[i], std::move(t));
    loads_[i] = load(*workers_[i]);  // send_task may also have failed the task: ask the worker, not the policy
  }
}

// Head-of-line blocking: a worker is idle, nothing is pending, and another worker has tasks queued behind a
// head that has run a while. Take that worker's unstarted tasks back (to pending_, for dispatch to hand to
// the idle one). Python's pool never queues a task behind a running one on a busy worker (its call queue is
// shared), so neither may we keep one there while a worker is free. The manager wakes up (rebalance_at_)
// when a queue too young to take back now becomes old enough. Returns true if tasks came back.
bool PoolCore::rebalance() {
  loads_.clear();
  for (auto& w : workers_) loads_.push_back(load(*w));
  const std::size_t v = policy_.victim(loads_, Clock::now(), rebalance_at_);
  return v != DispatchPolicy::npos && revoke(*workers_[v]);
}

// Takes back every task sent to `w` that it has not started. Exact: the claim word decides, by CAS on both
// sides, whether the worker started a task or the parent took it back; never both (see ControlBlock).
bool PoolCore::revoke(Worker& w) {
  const std::uint64_t last = w.inflight.back()->seq;
  const std::optional<std::uint64_t> k = revoke_unclaimed(w.block(), last);
  if (!k) return false;  // it started everything it was sent
  // Tasks with an ordinal above k never run there: back to the front of pending_, in order.
  std::size_t n = 0;
  while (!w.inflight.empty() && w.inflight.back()->seq > *k) {
    pending_.push_front(std::move(w.inflight.back()));
    w.inflight.pop_back();
    ++n;
  }
  w.sent -= n;
  w.revoke_through = last;
  revoked_.fetch_add(n, std::memory_order_relaxed);
  return n > 0;
}

int PoolCore::next_timeout_ms() const {
  auto soonest = Clock::time_point::max();
  for (auto& w : workers_) {
    if (w->kill != KillReason::none && !w->sigkilled) soonest = std::min(soonest, w->kill_deadline);
    if (opt_.task_timeout.count() > 0 && w->kill == KillReason::none && !w->inflight.empty())
      soonest = std::min(soonest, w->head_start + opt_.task_timeout);
  }
  soonest = std::min(soonest, rebalance_at_);
  if (soonest == Clock::time_point::max()) return -1;
  const auto ms = std::chrono::ceil<std::chrono::milliseconds>(soonest - Clock::now()).count();
  return static_cast<int>(std::clamp<long long>(ms, 0, 60'000));
}

void PoolCore::check_timeouts() {
  const auto now = Clock::now();
  for (auto& w : workers_) {
    if (w->kill != KillReason::none) {
      if (!w->sigkilled && now >= w->kill_deadline) kill_worker(*w, w->kill, SIGKILL);
      continue;
    }
    if (opt_.task_timeout.count() > 0 && !w->inflight.empty() && now >= w->head_start + opt_.task_timeout)
      kill_worker(*w, KillReason::timeout, SIGTERM);
  }
}

}  // namespace spindle::process::detail
