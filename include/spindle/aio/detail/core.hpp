#pragma once
// The machinery under spindle::aio: the intrusive ready queue, the timer heap, the waiter/watcher interfaces and
// the state every task keeps in its coroutine promise. Everything here runs on the loop's thread only, so
// nothing is atomic (docs/design/event-loop.md explains the design).

#include <algorithm>
#include <chrono>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "spindle/aio/clock.hpp"
#include "spindle/core/errors.hpp"

namespace spindle::aio {

class EventLoop;

namespace detail {

/// Something the loop can run from its ready queue or wake from its timer heap: a task or a callback.
/// Intrusive: the queue link and the timer ticket live in the object, so scheduling never allocates.
class Runnable {
 public:
  Runnable() = default;
  Runnable(const Runnable&) = delete;
  Runnable& operator=(const Runnable&) = delete;
  virtual ~Runnable() = default;
  /// Called when the ready queue reaches this object.
  virtual void run() noexcept = 0;
  /// Called when this object's live timer entry expires.
  virtual void on_timer() noexcept = 0;
  virtual void ref() noexcept = 0;
  virtual void unref() noexcept = 0;
  /// Called instead of run() when the loop closes with this object still queued.
  virtual void discard() noexcept = 0;

  Runnable* next_ = nullptr;     // ready-queue link
  std::uint64_t timer_seq_ = 0;  // the ticket of its live timer entry; 0 when none (lazy deletion)
};

/// FIFO of runnables linked through their own `next_` field.
class ReadyQueue {
 public:
  bool empty() const noexcept { return head_ == nullptr; }
  void push(Runnable* r) noexcept {
    r->next_ = nullptr;
    *tail_ = r;
    tail_ = &r->next_;
  }
  /// Detaches the whole queue (one loop iteration runs what was ready when it started, as asyncio does).
  Runnable* take_all() noexcept {
    Runnable* h = head_;
    head_ = nullptr;
    tail_ = &head_;
    return h;
  }
  /// Puts back a detached chain in front (a batch interrupted by stop()).
  void push_front_chain(Runnable* first) noexcept {
    if (first == nullptr) return;
    Runnable* last = first;
    while (last->next_ != nullptr) last = last->next_;
    last->next_ = head_;
    if (head_ == nullptr) tail_ = &last->next_;
    head_ = first;
  }

 private:
  Runnable* head_ = nullptr;
  Runnable** tail_ = &head_;
};

/// Binary min-heap of (deadline, ticket, target). A cancelled timer is not searched for: its target's ticket
/// changes, the entry turns stale and is dropped when it reaches the top (or when stale entries are the
/// majority, by a rebuild). Each entry holds a reference on its target so a stale one never dangles.
///
/// The entries live in blocks of 1,024 that never move: growing copies nothing, and a drained heap gives its
/// blocks back (one spare kept). A doubling vector copied every entry into fresh memory at each doubling (W3's
/// 100,000 timers touched 4.8 MB of buffers for 2.4 MB of entries) and never shrank.
class TimerHeap {
 public:
  struct Entry {
    std::int64_t when;
    std::uint64_t seq;
    Runnable* target;
  };

  TimerHeap() = default;
  TimerHeap(const TimerHeap&) = delete;
  TimerHeap& operator=(const TimerHeap&) = delete;
  ~TimerHeap() {
    for (Entry* b : blocks_) free_block(b);
  }

  bool empty() const noexcept { return size_ == stale_; }
  std::size_t size() const noexcept { return size_ - stale_; }

  void push(std::int64_t when, Runnable* r) {
    if (size_ == blocks_.size() * kBlock) add_block();  // may throw before anything changes
    r->timer_seq_ = ++seq_;
    r->ref();
    at(size_) = Entry{when, seq_, r};
    sift_up(size_++);
  }

  /// Makes `r`'s live entry stale.
  void cancel(Runnable* r) noexcept {
    if (r->timer_seq_ == 0) return;
    r->timer_seq_ = 0;
    ++stale_;
    if (stale_ > 64 && stale_ * 2 > size_) compact();
  }

  /// Earliest live deadline, or INT64_MAX.
  std::int64_t next_deadline() noexcept {
    drop_stale_top();
    return size_ == 0 ? INT64_MAX : at(0).when;
  }

  /// Fires every live entry due at `now`, in deadline order (ties in scheduling order).
  void expire(std::int64_t now) noexcept {
    while (size_ != 0 && at(0).when <= now) {
      const Entry e = at(0);
      pop_top();
      if (e.seq == e.target->timer_seq_) {
        e.target->timer_seq_ = 0;
        e.target->on_timer();
      } else {
        --stale_;
      }
      e.target->unref();
    }
  }

  /// Drops every entry (loop close).
  void clear() noexcept {
    std::vector<Entry*> old;
    old.swap(blocks_);
    const std::size_t n = std::exchange(size_, 0);
    stale_ = 0;
    auto old_at = [&](std::size_t i) -> Entry& { return old[i >> kShift][i & (kBlock - 1)]; };
    for (std::size_t i = 0; i < n; ++i) {
      const Entry& e = old_at(i);
      if (e.seq == e.target->timer_seq_) e.target->timer_seq_ = 0;
    }
    for (std::size_t i = 0; i < n; ++i) old_at(i).target->unref();
    for (Entry* b : old) free_block(b);
  }

 private:
  static constexpr std::size_t kShift = 10;
  static constexpr std::size_t kBlock = std::size_t{1} << kShift;

  struct Later {  // a functor, not a function pointer: the sift loops inline it
    bool operator()(const Entry& a, const Entry& b) const noexcept {
      return a.when > b.when || (a.when == b.when && a.seq > b.seq);
    }
  };
  static constexpr Later later{};

  Entry& at(std::size_t i) noexcept { return blocks_[i >> kShift][i & (kBlock - 1)]; }
  void add_block() {
    blocks_.reserve(blocks_.size() + 1);  // may throw before the block is made; push_back then cannot
    blocks_.push_back(static_cast<Entry*>(alloc_block(kBlock * sizeof(Entry))));
  }
  /// Page-aligned and faulted in at once (src/aio/task_memory.cpp): entries are written as soon as they are pushed.
  static void* alloc_block(std::size_t bytes);
  static void free_block(Entry* block) noexcept;
  /// After the size shrank: gives back blocks beyond one spare (a heap that hovers at a block's edge keeps it).
  void trim() noexcept {
    while (blocks_.size() * kBlock >= size_ + 2 * kBlock) {
      free_block(blocks_.back());
      blocks_.pop_back();
    }
  }
  void sift_up(std::size_t i) noexcept {
    const Entry e = at(i);
    while (i > 0) {
      const std::size_t parent = (i - 1) / 2;
      if (!later(at(parent), e)) break;
      at(i) = at(parent);
      i = parent;
    }
    at(i) = e;
  }
  void sift_down(std::size_t i) noexcept {
    const Entry e = at(i);
    for (;;) {
      std::size_t child = 2 * i + 1;
      if (child >= size_) break;
      if (child + 1 < size_ && later(at(child), at(child + 1))) ++child;
      if (!later(e, at(child))) break;
      at(i) = at(child);
      i = child;
    }
    at(i) = e;
  }
  void pop_top() noexcept {
    const Entry last = at(--size_);
    if (size_ != 0) {
      at(0) = last;
      sift_down(0);
    }
    trim();
  }
  void drop_stale_top() noexcept {
    while (size_ != 0 && at(0).seq != at(0).target->timer_seq_) {
      Runnable* t = at(0).target;
      pop_top();
      --stale_;
      t->unref();
    }
  }
  void compact() noexcept {
    std::vector<Runnable*> dead;
    std::size_t kept = 0;
    for (std::size_t i = 0; i < size_; ++i) {
      const Entry& e = at(i);
      if (e.seq == e.target->timer_seq_) {
        at(kept++) = e;
      } else {
        dead.push_back(e.target);
      }
    }
    size_ = kept;
    for (std::size_t i = size_ / 2; i-- > 0;) sift_down(i);
    trim();
    stale_ = 0;
    for (Runnable* r : dead) r->unref();  // last: an unref may destroy a frame whose awaiter cancels a timer
  }

  std::vector<Entry*> blocks_;  // each kBlock entries, owned
  std::size_t size_ = 0;
  std::uint64_t seq_ = 0;
  std::size_t stale_ = 0;
};

class TaskState;

/// What a suspended task waits on (a timer, an event, a queue slot, another task...). The task keeps a pointer
/// to it so that `cancel()` can reach the innermost wait, as asyncio's `Task._fut_waiter`.
class Waiter {
 public:
  /// `task`, suspended here, was cancelled. Either detach (unregister) and return true: the task then resumes
  /// and the await throws CancelledError; or forward the cancellation (to an awaited task, a gather) and
  /// return false: the task stays suspended until this waiter wakes it. The task is passed so that one
  /// waiter object can serve many tasks (sleep's: an awaiter then needs no vtable of its own).
  virtual bool cancel_wait(TaskState& task) noexcept = 0;
  /// A timer armed on the waiting task expired; by default it just wakes the task.
  virtual void timer_fired(TaskState& task) noexcept;
  /// The loop is closing and `task` will never resume: unregister without waking or cancelling anyone.
  virtual void abandon_wait(TaskState& task) noexcept { (void)cancel_wait(task); }

 protected:
  ~Waiter() = default;
};

/// Told when a task completes (awaiters, gather, wait, TaskGroup, run_until_complete).
class DoneWatcher {
 public:
  virtual void task_done(TaskState& task) noexcept = 0;

 protected:
  ~DoneWatcher() = default;
};

/// Rarely used parts of a task, allocated on first use so that a plain task stays small.
struct TaskExtras {
  std::string name;
  std::string cancel_msg;
  const char* file = nullptr;
  int line = 0;
  std::vector<std::function<void()>> callbacks;  // user done-callbacks, run through call_soon
  DoneWatcher* watcher = nullptr;                // the first watcher, kept here once the extras exist
  std::vector<DoneWatcher*> watchers;            // beyond the first
  std::exception_ptr error;                      // a failed or cancelled task's exception
};

/// The loop's hot state, which tasks reach through a plain pointer (the rest of EventLoop is out of line).
struct LoopCore {
  ReadyQueue ready;
  TimerHeap timers;
  TaskState* current = nullptr;  // the root task whose step runs now
  Clock* clock = nullptr;
  EventLoop* owner = nullptr;
  TaskState* all_head = nullptr;  // live (pending) root tasks, an intrusive list
  std::size_t live_tasks = 0;
  std::uint32_t task_ids = 0;    // "Task-N" numbering
  long external_pending = 0;     // awaits on other threads' work (futures): a virtual clock must not jump past them
  TaskState* handoff = nullptr;  // woken by the task completing now; resumed directly (see on_final)
  std::int64_t now_ns = 0;
  bool now_valid = false;
  bool debug = false;
  bool eager_tasks = false;  // the loop's task factory is eager_task_factory (create_task runs the first step now)

  std::int64_t time_ns() noexcept {
    if (!now_valid) {
      now_ns = clock->now_ns();
      now_valid = true;
    }
    return now_ns;
  }
};

/// The loop running on this thread (null when none).
inline thread_local LoopCore* tls_running = nullptr;

[[noreturn]] void throw_no_loop();
[[noreturn]] void throw_no_task();
/// The loop running on this thread; throws InvalidStateError when there is none.
inline LoopCore& running_core() {
  LoopCore* l = tls_running;
  if (l == nullptr) throw_no_loop();
  return *l;
}

/// Coroutine frame allocation: a per-thread free list by size class (a frame is recycled, not freed; one freed
/// on another thread goes back to the thread that allocated it), plain new/delete under AddressSanitizer so
/// that use-after-free stays visible.
void* frame_alloc(std::size_t size);
void frame_free(void* p, std::size_t size) noexcept;
/// Frames allocated minus frames freed by this thread (tests count leaks with it).
long live_frames() noexcept;
/// Chunks the frame pool has taken from the system, all threads together (tests check it stays bounded).
long frame_chunks() noexcept;

/// True while the loop that owns `loop` exists (a task may outlive its loop).
bool loop_alive(const LoopCore* loop) noexcept;

/// Reports an error through the loop's exception handler (or the process-wide one without a loop).
void report_error(LoopCore* loop, std::string_view message, std::exception_ptr error, TaskState* task) noexcept;

/// The state of a coroutine of type Task<T>, in its promise. A root (scheduled by create_task) uses all of it;
/// a child coroutine awaited directly runs inside its parent's task and uses only the result part.
class TaskState : public Runnable {
 public:
  enum class Status : std::uint8_t { pending, finished, failed, cancelled };

  // --- Runnable ---
  void run() noexcept override {
    scheduled_ = false;
    if (status_ != Status::pending) return;
    LoopCore* l = loop_;
    if (!started_) {
      started_ = true;
      if (must_cancel_) {  // cancelled before it ever ran: the body never starts, as in asyncio
        finish_cancelled_unstarted();
        return;
      }
    }
    l->current = this;
    resume_point_.resume();  // may destroy *this
    l->current = nullptr;
  }
  void on_timer() noexcept override {
    if (waiter_ != nullptr) waiter_->timer_fired(*this);
  }
  void ref() noexcept override { ++refs_; }
  void unref() noexcept override {
    if (--refs_ == 0) destroy();
  }
  void discard() noexcept override { scheduled_ = false; }

  // --- scheduling ---
  void schedule() noexcept {
    if (!scheduled_) {
      scheduled_ = true;
      loop_->ready.push(this);
    }
  }
  /// The waiter this task was suspended on fired: run the task's next step.
  void wake() noexcept {
    waiter_ = nullptr;
    schedule();
  }
  /// As wake(), for the one task that awaits the task completing now: it may be resumed directly. Falls back
  /// to the ready queue when another hand-off is pending or in debug mode (each step is timed).
  void wake_direct() noexcept {
    waiter_ = nullptr;
    if (scheduled_) return;
    if (loop_->handoff == nullptr && !loop_->debug) {
      scheduled_ = true;  // keeps anyone else from queueing it meanwhile
      loop_->handoff = this;
      return;
    }
    schedule();
  }
  /// Records where the task is suspended and on what.
  void suspend_on(Waiter* w, std::coroutine_handle<> h) noexcept {
    waiter_ = w;
    resume_point_ = h;
  }
  /// In a leaf's await_resume: throws CancelledError if a cancellation is due.
  void throw_if_cancelled() {
    if (must_cancel_) {
      must_cancel_ = false;
      throw_cancelled();
    }
  }
  [[noreturn]] void throw_cancelled() const;
  bool must_cancel() const noexcept { return must_cancel_; }
  void clear_must_cancel() noexcept { must_cancel_ = false; }

  /// Python's Task.cancel(msg).
  bool cancel(std::string_view msg = {});
  /// Python's Task.cancelling() / uncancel().
  int cancelling() const noexcept { return cancel_requests_; }
  int uncancel() noexcept {
    if (cancel_requests_ > 0) --cancel_requests_;
    if (cancel_requests_ == 0) must_cancel_ = false;
    return cancel_requests_;
  }
  std::string cancel_message() const {
    const TaskExtras* x = extras_if_any();
    return x != nullptr ? x->cancel_msg : std::string();
  }

  // --- completion ---
  Status status() const noexcept { return status_; }
  bool done() const noexcept { return status_ != Status::pending; }
  bool is_root() const noexcept { return is_root_; }
  bool started() const noexcept { return started_; }
  bool scheduled() const noexcept { return scheduled_; }
  bool suspended() const noexcept { return waiter_ != nullptr; }
  LoopCore* loop() const noexcept { return loop_; }
  /// The exception of a failed or cancelled task (null otherwise). Kept in the extras: most tasks never fail.
  const std::exception_ptr& error() const noexcept;
  void mark_retrieved() noexcept { retrieved_ = true; }
  /// Rethrows the task's exception (CancelledError if cancelled) and marks it retrieved.
  void rethrow_if_failed() {
    retrieved_ = true;
    if (status_ == Status::failed || status_ == Status::cancelled) std::rethrow_exception(error());
  }

  void add_watcher(DoneWatcher* w);
  void remove_watcher(DoneWatcher* w) noexcept;
  void add_done_callback(std::function<void()> fn);

  // --- identity ---
  std::string name() const;
  void set_name(std::string n) { extras().name = std::move(n); }
  const char* created_file() const noexcept {
    const TaskExtras* x = extras_if_any();
    return x != nullptr ? x->file : nullptr;
  }
  int created_line() const noexcept {
    const TaskExtras* x = extras_if_any();
    return x != nullptr ? x->line : 0;
  }
  TaskState* next_all() const noexcept { return all_next_; }

  /// Makes this (unstarted) coroutine a root task of `loop` and schedules its first step; `eager`: runs that
  /// step now instead, if `loop` runs on this thread (asyncio's eager tasks), which may complete the task.
  void make_root(LoopCore* loop, std::string_view name, const char* file, int line, bool eager = false);
  /// make_root in two halves, for a creator (a TaskGroup) that must watch the task before its first step runs.
  void register_root(LoopCore* loop, std::string_view name, const char* file, int line);
  /// The second half: schedules the first step, or (eager, on the loop's thread) runs it now.
  void start_root(bool eager) noexcept;
  /// Starts this unstarted coroutine inline inside `parent`'s task; returns the handle to transfer to.
  std::coroutine_handle<> start_child(TaskState* parent, std::coroutine_handle<> continuation) noexcept {
    started_ = true;
    loop_ = parent->loop_;
    resume_point_ = continuation;  // a child never suspends as itself: the field holds its parent
    return self_handle();
  }
  /// Loop close: the task will never run again. Reported, marked cancelled, watchers dropped.
  void abandon() noexcept;

  /// Reached at the final suspend point: a child returns to its parent, a root completes.
  std::coroutine_handle<> on_final() noexcept {
    if (!is_root_) return resume_point_ ? resume_point_ : std::noop_coroutine();
    LoopCore* l = loop_;
    complete();  // may destroy *this
    // A task that awaited this one and was woken by it runs next, directly (symmetric transfer), instead of
    // going round the ready queue: spawn+await costs one queue trip, not two.
    if (TaskState* next = std::exchange(l->handoff, nullptr)) {
      next->scheduled_ = false;
      l->current = next;
      return next->resume_point_;
    }
    return std::noop_coroutine();
  }

 protected:
  explicit TaskState(std::nullptr_t) noexcept {}
  ~TaskState() override;
  void init_self(std::coroutine_handle<> h) noexcept { resume_point_ = h; }
  /// This coroutine's own handle (computed by the typed promise: no field for it).
  virtual std::coroutine_handle<> self_handle() noexcept = 0;

  void set_exception_from_current() noexcept;
  void set_error(std::exception_ptr e) noexcept;
  void set_finished() noexcept { status_ = Status::finished; }

 private:
  TaskExtras& extras();
  /// The extras, or null while no rare part was needed.
  TaskExtras* extras_if_any() const noexcept {
    return (aux_ & kAuxExtras) != 0 ? reinterpret_cast<TaskExtras*>(aux_ & ~kAuxExtras) : nullptr;
  }
  DoneWatcher* first_watcher() const noexcept {
    if (TaskExtras* x = extras_if_any()) return x->watcher;
    return reinterpret_cast<DoneWatcher*>(aux_);
  }
  void set_first_watcher(DoneWatcher* w) noexcept {
    if (TaskExtras* x = extras_if_any()) {
      x->watcher = w;
    } else {
      aux_ = reinterpret_cast<std::uintptr_t>(w);
    }
  }
  void complete() noexcept;
  void finish_cancelled_unstarted() noexcept;
  void start_eagerly() noexcept;
  void destroy() noexcept;
  void unlink_all() noexcept;

  // Every field counts: the state is in each coroutine's frame (W3: 100k sleeping tasks). Rare parts live in
  // TaskExtras, allocated on first use.
  std::coroutine_handle<> resume_point_;  // a root: its innermost suspended coroutine; a child: its parent
  LoopCore* loop_ = nullptr;
  Waiter* waiter_ = nullptr;
  // One word for two rare-or-single things: the first done-watcher (a task is mostly awaited or gathered once)
  // or, tagged kAuxExtras, the TaskExtras, which then hold that watcher. 88 bytes of state make a W3 sleeper's
  // frame 160 bytes, one frame-pool class below 96 bytes' 176.
  static constexpr std::uintptr_t kAuxExtras = 1;  // both pointees are at least 8-byte aligned
  std::uintptr_t aux_ = 0;
  TaskState* all_prev_ = nullptr;
  TaskState* all_next_ = nullptr;
  std::uint32_t refs_ = 1;
  std::uint32_t id_ = 0;
  std::uint16_t cancel_requests_ = 0;
  Status status_ = Status::pending;
  bool is_root_ = false;  // scheduled by create_task (a child coroutine runs inside its parent's task)
  bool scheduled_ = false;
  bool started_ = false;
  bool must_cancel_ = false;
  bool retrieved_ = false;
};

inline void Waiter::timer_fired(TaskState& task) noexcept { task.wake(); }

/// The task whose step runs now; throws InvalidStateError outside a task.
inline TaskState& running_task() {
  LoopCore& l = running_core();
  if (l.current == nullptr) throw_no_task();
  return *l.current;
}

}  // namespace detail
}  // namespace spindle::aio
