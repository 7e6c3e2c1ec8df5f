#include "spindle/lab/gil.hpp"

namespace spindle::lab {

Gil::Gil(std::chrono::microseconds switch_interval) : interval_(switch_interval) {}

void Gil::acquire() {
  notify(GilState::waiting_for_gil);
  std::unique_lock lock(mutex_);
  while (locked_) {
    const std::uint64_t seen = switch_number_;
    const bool timed_out = cond_.wait_for(lock, interval_) == std::cv_status::timeout;
    // As CPython: only if a whole interval passed with no switch at all does the waiter ask for the lock.
    if (timed_out && locked_ && switch_number_ == seen && !drop_request_.load(std::memory_order_relaxed)) {
      drop_request_.store(true, std::memory_order_relaxed);
      requests_.fetch_add(1, std::memory_order_relaxed);
    }
  }
  if (switch_number_ != 0 && holder_ != std::this_thread::get_id()) switches_.fetch_add(1, std::memory_order_relaxed);
  locked_ = true;
  holder_ = std::this_thread::get_id();
  ++switch_number_;
  drop_request_.store(false, std::memory_order_relaxed);
  switch_cond_.notify_all();
  lock.unlock();
  notify(GilState::running);
}

void Gil::release() {
  // Observed before the lock is free: the next holder's "running" is then observed after this, so the trace
  // never shows two threads running at once (observed after unlocking, a preempted thread could end its span
  // after the next one began).
  notify(GilState::released);
  std::lock_guard lock(mutex_);
  locked_ = false;
  cond_.notify_one();
}

void Gil::yield_to_waiter() {
  notify(GilState::waiting_for_gil);
  std::unique_lock lock(mutex_);
  locked_ = false;
  cond_.notify_one();
  // FORCE_SWITCHING: wait until somebody else took the lock, so that the dropping thread cannot win it back.
  const std::uint64_t mine = switch_number_;
  switch_cond_.wait(lock, [&] { return switch_number_ != mine; });
  lock.unlock();
  acquire();
}

}  // namespace spindle::lab
