// A pool worker's batched results (see result_batch.hpp).

#include "result_batch.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <system_error>

#include "fd_passing.hpp"

namespace spindle::process::detail {
namespace {

// The area: the committed length, then the frames.
constexpr std::size_t kRoom = kResultAreaBytes - sizeof(std::uint64_t);

std::atomic_ref<std::uint64_t> committed_word(char* area) noexcept {
  return std::atomic_ref<std::uint64_t>(*reinterpret_cast<std::uint64_t*>(area));
}

}  // namespace

std::string_view kept_results(const char* area) noexcept {
  const auto bytes = committed_word(const_cast<char*>(area)).load(std::memory_order_acquire);
  return {area + sizeof(std::uint64_t), static_cast<std::size_t>(std::min<std::uint64_t>(bytes, kRoom))};
}

ResultBatch::ResultBatch(int fd, char* area) : fd_(fd), area_(area) {
  committed_word(area_).store(0, std::memory_order_release);
}

ResultBatch::~ResultBatch() {
  {
    std::lock_guard lock(m_);
    stop_ = true;
  }
  cv_.notify_all();
  if (flusher_.joinable()) flusher_.join();
}

bool ResultBatch::add(std::string_view frame, const std::vector<int>& fds) {
  std::unique_lock lock(m_);
  const auto now = Clock::now();
  last_task_ = now - task_start_;
  if (!fds.empty() || frame.size() > kRoom) {
    // Sent now, in order: what is kept goes first.
    if (!flush_locked()) return false;
    return send_all(fd_, frame.data(), frame.size(), fds);
  }
  if (size_ + frame.size() > kRoom && !flush_locked()) return false;
  if (size_ == 0) first_ = now;
  std::memcpy(area_ + sizeof(std::uint64_t) + size_, frame.data(), frame.size());
  size_ += frame.size();
  // Release: a parent that reads this length after the worker's death finds the whole frame.
  committed_word(area_).store(size_, std::memory_order_release);
  return true;
}

bool ResultBatch::before_task() {
  std::unique_lock lock(m_);
  task_start_ = Clock::now();
  if (size_ == 0) return true;
  // Tasks that are not tiny pay one send each, as without batching: holding their results would cost a
  // flusher wake-up per task or two, and save little.
  if (task_start_ - first_ >= kFlushAfter || last_task_ >= kQuickTask || no_flusher_) return flush_locked();
  if (armed_) return true;
  if (!flusher_.joinable()) {
    try {
      flusher_ = std::thread([this] { run_flusher(); });  // it takes the lock once this returns
    } catch (const std::system_error&) {
      // No thread to be had (an address-space limit, a process cap): no batching then, never a result held.
      no_flusher_ = true;
      return flush_locked();
    }
  }
  armed_ = true;
  if (flusher_idle_) {
    lock.unlock();
    cv_.notify_one();
  }
  return true;
}

bool ResultBatch::flush() {
  std::lock_guard lock(m_);
  return flush_locked();
}

bool ResultBatch::flush_locked() {
  armed_ = false;
  if (size_ == 0) return !failed_;
  if (!send_all(fd_, area_ + sizeof(std::uint64_t), size_, {})) failed_ = true;
  size_ = 0;
  ++batches_;
  // After the send: a worker that dies during it leaves the frames here, and the parent skips those it got.
  committed_word(area_).store(0, std::memory_order_release);
  return !failed_;
}

void ResultBatch::run_flusher() {
  std::unique_lock lock(m_);
  for (;;) {
    flusher_idle_ = true;
    cv_.wait(lock, [this] { return stop_ || armed_; });
    flusher_idle_ = false;
    if (stop_) return;
    // The worker runs a task while results are kept: send them if it still runs at the deadline. The worker
    // does not wake this thread when it sends them itself; the batch number tells at the deadline.
    const std::uint64_t batch = batches_;
    cv_.wait_until(lock, first_ + kMaxHold, [&] { return stop_ || batches_ != batch; });
    if (stop_) return;
    if (batches_ == batch && !flush_locked()) {
      std::fflush(nullptr);
      ::_exit(0);  // the parent closed the channel or died, as the worker's own loop does
    }
  }
}

}  // namespace spindle::process::detail
