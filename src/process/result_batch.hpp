#pragma once
// A pool worker's results, sent in batches: one send for the results of a run of quick tasks instead of one
// per task (a send on a Unix socket costs ~1.5 µs, more than a tiny task; W7 spent most of its time there).
//
// Two rules keep batching invisible to the parent:
// - Nothing is lost when the worker dies. A kept result is written into the result area, shared memory the
//   parent mapped (behind the control block), and committed there before the next task starts; the parent
//   reads the area after the worker's death and takes the results it had not received (frame ids tell them).
// - Nothing waits long. Only the results of tiny tasks (the last one ran under kQuickTask) are kept. The
//   worker sends what it keeps before it blocks for more tasks and before a task starts once the oldest kept
//   result is kFlushAfter old; a flusher thread sends it kMaxHold after the oldest was kept, should a task
//   still run then (a long task does not hold back the results of the quick ones before it).

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string_view>
#include <thread>
#include <vector>

namespace spindle::process::detail {

/// Where the result area starts in a pool worker's control segment (after the ControlBlock, a cache line on).
inline constexpr std::size_t kResultAreaOffset = 64;
/// The result area's size (its first 8 bytes are the committed length).
inline constexpr std::size_t kResultAreaBytes = std::size_t{64} << 10;

/// The whole frames in a result area (of kResultAreaBytes) that its worker had not sent yet (acquire: the
/// frames are there).
std::string_view kept_results(const char* area) noexcept;

class ResultBatch {
 public:
  /// Sends on `fd`; keeps results in `area`, a result area of kResultAreaBytes.
  ResultBatch(int fd, char* area);
  ~ResultBatch();
  ResultBatch(const ResultBatch&) = delete;
  ResultBatch& operator=(const ResultBatch&) = delete;

  /// A finished task's frame: kept, or sent (with everything kept before it) when it carries descriptors or
  /// does not fit. False if the channel is gone.
  bool add(std::string_view frame, const std::vector<int>& fds);
  /// Before a task starts: sends what is kept if it is old enough, else asks the flusher to watch the task.
  bool before_task();
  /// Sends everything kept. False if the channel is gone.
  bool flush();

  static constexpr auto kFlushAfter = std::chrono::microseconds(50);
  static constexpr auto kMaxHold = std::chrono::microseconds(200);
  /// Results are kept only while tasks take less than this (the last one did).
  static constexpr auto kQuickTask = std::chrono::microseconds(10);

 private:
  using Clock = std::chrono::steady_clock;
  bool flush_locked();
  void run_flusher();

  int fd_;
  char* area_;                    // committed length (8 bytes), then the frames
  std::size_t size_ = 0;          // bytes kept (guarded by m_)
  Clock::time_point first_;       // when the oldest kept result was added
  Clock::time_point task_start_;  // when the running (or last) task started
  Clock::duration last_task_{};   // how long the last task ran
  std::uint64_t batches_ = 0;     // batches sent so far: the flusher's way to tell one batch from the next
  std::mutex m_;
  std::condition_variable cv_;
  bool armed_ = false;         // a task runs while results are kept: the flusher watches it
  bool flusher_idle_ = false;  // the flusher waits to be armed (not for a deadline): it needs a wake-up
  bool no_flusher_ = false;    // the flusher thread could not be started: every result goes at once
  bool stop_ = false;
  bool failed_ = false;  // a send failed (the parent is gone)
  std::thread flusher_;  // started with the first armed task
};

}  // namespace spindle::process::detail
