// Task state: cancellation, completion, watchers, the live-task list, current_task and all_tasks (the memory
// tasks take, frames and timer entries, is task_memory.cpp's).

#include <atomic>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "spindle/aio/event_loop.hpp"
#include "spindle/core/unhandled.hpp"

namespace spindle::aio {
namespace detail {

// ---- running loop / task ---------------------------------------------------------------------------------

void throw_no_loop() { throw InvalidStateError("no running event loop"); }
void throw_no_task() { throw InvalidStateError("not inside a task"); }

void report_error(LoopCore* loop, std::string_view message, std::exception_ptr error, TaskState* task) noexcept {
  try {
    ExceptionContext ctx;
    ctx.message = std::string(message);
    ctx.exception = std::move(error);
    if (task != nullptr) {
      ctx.task = task->name();
      if (task->created_file() != nullptr)
        ctx.created_at = std::string(task->created_file()) + ":" + std::to_string(task->created_line());
    }
    if (loop != nullptr && loop_alive(loop) && loop->owner != nullptr) {
      loop->owner->call_exception_handler(ctx);
    } else {
      EventLoop::default_exception_handler(ctx);
    }
  } catch (...) {
    report_unhandled_exception(message, error);
  }
}

// ---- sleep ------------------------------------------------------------------------------------------------

void arm_sleep(TaskState& t, std::int64_t delay_ns) {
  LoopCore* l = t.loop();
  l->now_valid = false;  // a fresh reading: a sleep never ends early because the iteration started earlier
  l->timers.push(l->time_ns() + delay_ns, &t);  // the entry targets the task itself (its timer ticket)
}

// ---- TaskState -------------------------------------------------------------------------------------------

TaskState::~TaskState() { delete extras_if_any(); }

namespace {
// What error() gives for a task that failed while no TaskExtras could be allocated to hold its exception.
const std::exception_ptr& error_lost() noexcept {
  static const std::exception_ptr lost = std::make_exception_ptr(std::bad_alloc());
  return lost;
}
const std::exception_ptr no_error;
// Made at start-up, while memory is there: error_lost() must not need any when it is called.
[[maybe_unused]] const std::exception_ptr& error_lost_init = error_lost();
}  // namespace

const std::exception_ptr& TaskState::error() const noexcept {
  const TaskExtras* x = extras_if_any();
  if (x != nullptr && x->error) return x->error;
  if (status_ == Status::failed || status_ == Status::cancelled) return error_lost();
  return no_error;
}

void TaskState::set_error(std::exception_ptr e) noexcept {
  TaskExtras* x = extras_if_any();
  if (x == nullptr) {
    x = new (std::nothrow) TaskExtras();
    if (x == nullptr) return;  // error() reports std::bad_alloc
    x->watcher = first_watcher();
    aux_ = reinterpret_cast<std::uintptr_t>(x) | kAuxExtras;
  }
  x->error = std::move(e);
}

TaskExtras& TaskState::extras() {
  if (TaskExtras* x = extras_if_any()) return *x;
  auto* x = new TaskExtras();
  x->watcher = first_watcher();
  aux_ = reinterpret_cast<std::uintptr_t>(x) | kAuxExtras;
  return *x;
}

std::string TaskState::name() const {
  const TaskExtras* x = extras_if_any();
  if (x != nullptr && !x->name.empty()) return x->name;
  return "Task-" + std::to_string(id_);
}

void TaskState::throw_cancelled() const {
  const TaskExtras* x = extras_if_any();
  if (x != nullptr && !x->cancel_msg.empty()) throw CancelledError(x->cancel_msg);
  throw CancelledError();
}

void TaskState::make_root(LoopCore* loop, std::string_view name, const char* file, int line, bool eager) {
  register_root(loop, name, file, line);
  start_root(eager);
}

void TaskState::register_root(LoopCore* loop, std::string_view name, const char* file, int line) {
  if (started_ || is_root_) throw InvalidStateError("create_task: the coroutine was already started or scheduled");
  if (!name.empty()) extras().name = std::string(name);
  if (loop->debug) {
    TaskExtras& x = extras();
    x.file = file;
    x.line = line;
  }
  id_ = ++loop->task_ids;
  is_root_ = true;
  loop_ = loop;
  ++refs_;  // the loop's reference, dropped when the task completes
  all_next_ = loop->all_head;
  if (all_next_ != nullptr) all_next_->all_prev_ = this;
  loop->all_head = this;
  ++loop->live_tasks;
}

void TaskState::start_root(bool eager) noexcept {
  if (eager && tls_running == loop_) {
    start_eagerly();
  } else {
    schedule();
  }
}

// The first step, run inside the creator's step (or callback) as asyncio's Task.__eager_start does: the task
// is the current one until it suspends or ends, then the creator is again. The creator's handle keeps the state
// alive if it ends here. Nothing can be awaiting a task that is being created, so its completion hands off to
// nobody (on_final finds no l->handoff) and the step returns here.
void TaskState::start_eagerly() noexcept {
  LoopCore* l = loop_;
  TaskState* creator = l->current;
  started_ = true;
  l->current = this;
  resume_point_.resume();
  l->current = creator;
}

void TaskState::unlink_all() noexcept {
  if (all_prev_ != nullptr) {
    all_prev_->all_next_ = all_next_;
  } else if (loop_->all_head == this) {
    loop_->all_head = all_next_;
  }
  if (all_next_ != nullptr) all_next_->all_prev_ = all_prev_;
  all_prev_ = all_next_ = nullptr;
  --loop_->live_tasks;
}

bool TaskState::cancel(std::string_view msg) {
  if (status_ != Status::pending) return false;
  ++cancel_requests_;
  if (!msg.empty()) extras().cancel_msg = std::string(msg);
  if (waiter_ != nullptr) {
    Waiter* w = waiter_;
    if (!w->cancel_wait(*this)) return true;  // forwarded: the waiter wakes the task when the awaited thing ends
    waiter_ = nullptr;
    must_cancel_ = true;
    schedule();
    return true;
  }
  must_cancel_ = true;
  return true;
}

void TaskState::set_exception_from_current() noexcept {
  set_error(std::current_exception());
  try {
    throw;
  } catch (const CancelledError&) {
    status_ = Status::cancelled;
  } catch (...) {
    status_ = Status::failed;
  }
}

void TaskState::add_watcher(DoneWatcher* w) {
  if (first_watcher() == nullptr) {
    set_first_watcher(w);
  } else {
    extras().watchers.push_back(w);
  }
}

void TaskState::remove_watcher(DoneWatcher* w) noexcept {
  if (first_watcher() == w) {
    set_first_watcher(nullptr);
    return;
  }
  if (TaskExtras* x = extras_if_any()) {
    auto& v = x->watchers;
    for (auto it = v.begin(); it != v.end(); ++it) {
      if (*it == w) {
        v.erase(it);
        return;
      }
    }
  }
}

void TaskState::add_done_callback(std::function<void()> fn) {
  if (done()) {
    if (loop_ != nullptr && loop_alive(loop_) && loop_->owner != nullptr && !loop_->owner->is_closed()) {
      loop_->owner->call_soon(std::move(fn));
    } else {
      fn();
    }
    return;
  }
  extras().callbacks.push_back(std::move(fn));
}

void TaskState::complete() noexcept {
  LoopCore* l = loop_;
  unlink_all();
  if (DoneWatcher* w = first_watcher()) {
    set_first_watcher(nullptr);
    w->task_done(*this);
  }
  if (TaskExtras* x = extras_if_any()) {
    auto more = std::move(x->watchers);
    for (DoneWatcher* w : more) w->task_done(*this);
    auto callbacks = std::move(x->callbacks);
    for (auto& cb : callbacks) {
      try {
        ref();
        l->owner->call_soon([self = this, fn = std::move(cb)]() mutable {
          struct Drop {
            TaskState* s;
            ~Drop() { s->unref(); }
          } drop{self};
          fn();
        });
      } catch (...) {
        unref();
        report_error(l, "could not schedule a done-callback", std::current_exception(), this);
      }
    }
  }
  unref();  // the loop's reference
}

void TaskState::finish_cancelled_unstarted() noexcept {
  try {
    throw_cancelled();
  } catch (...) {
    set_error(std::current_exception());
  }
  status_ = Status::cancelled;
  LoopCore* l = loop_;
  complete();
  if (TaskState* next = std::exchange(l->handoff, nullptr)) {  // no final suspend here to transfer from
    next->scheduled_ = false;
    next->schedule();
  }
}

void TaskState::abandon() noexcept {
  // Only roots are abandoned. The frame is destroyed when its last reference goes; the awaiters inside it
  // unregister themselves in their destructors.
  report_error(loop_, "Task was destroyed but it is pending!", nullptr, this);
  try {
    throw CancelledError("event loop closed");
  } catch (...) {
    set_error(std::current_exception());
  }
  status_ = Status::cancelled;
  retrieved_ = true;
  if (Waiter* w = std::exchange(waiter_, nullptr)) w->abandon_wait(*this);
  set_first_watcher(nullptr);
  if (TaskExtras* x = extras_if_any()) {
    x->watchers.clear();
    x->callbacks.clear();
  }
  unlink_all();
}

// Python's "RuntimeWarning: coroutine ... was never awaited": a Task destroyed before anyone awaited or
// scheduled it is almost always a forgotten co_await. Reported every time in debug mode, otherwise once per
// process (a loop in a hot path must not flood stderr).
namespace {
std::atomic<bool> never_awaited_reported{false};
}  // namespace

void TaskState::destroy() noexcept {
  if (is_root_ && status_ == Status::failed && !retrieved_) {
    report_error(loop_, "Task exception was never retrieved", error(), this);
  }
  if (!started_ && !is_root_ && !retrieved_) {  // retrieved_ here: discarded knowingly (see TaskGroup)
    LoopCore* l = tls_running;
    const bool debug = l != nullptr && l->debug;
    if (debug || !never_awaited_reported.exchange(true, std::memory_order_relaxed)) {
      report_error(l,
                   "coroutine was never awaited: a Task was destroyed before it was awaited (co_await) or "
                   "scheduled (create_task)",
                   nullptr, nullptr);
    }
  }
  self_handle().destroy();
}

}  // namespace detail

AnyTask current_task() noexcept {
  if (detail::tls_running == nullptr || detail::tls_running->current == nullptr) return AnyTask();
  return AnyTask(detail::tls_running->current);
}

std::vector<AnyTask> all_tasks() {
  detail::LoopCore& l = detail::running_core();
  std::vector<AnyTask> out;
  out.reserve(l.live_tasks);
  for (detail::TaskState* t = l.all_head; t != nullptr; t = t->next_all()) out.emplace_back(t);
  return out;
}

}  // namespace spindle::aio
