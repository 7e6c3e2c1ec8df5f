// run() and Runner: Ctrl-C handling and the final clean-up of asyncio.run / asyncio.Runner.

#include "spindle/aio/runner.hpp"

#include <sys/syscall.h>
#include <unistd.h>

#include <csignal>
#include <memory>
#include <vector>

#include "spindle/core/unhandled.hpp"

namespace spindle::aio::detail {
namespace {

bool on_main_thread() { return ::getpid() == static_cast<pid_t>(::syscall(SYS_gettid)); }

bool sigint_is_default() {
  struct sigaction cur {};
  if (::sigaction(SIGINT, nullptr, &cur) < 0) return false;
  return (cur.sa_flags & SA_SIGINFO) == 0 && cur.sa_handler == SIG_DFL;
}

}  // namespace

SigintScope::SigintScope(EventLoop& loop, TaskState* main, bool handle_sigint) : loop_(loop), main_(main) {
  if (!handle_sigint || !on_main_thread() || !sigint_is_default()) return;
  main_->ref();  // the handler may run after the caller's handle is gone
  try {
    loop_.add_signal_handler(SIGINT, [this] {
      if (++interrupts_ == 1 && !main_->done()) {
        main_->cancel("KeyboardInterrupt");
        return;
      }
      // Second Ctrl-C: back to the default disposition, and die of it as the user asked.
      loop_.remove_signal_handler(SIGINT);
      ::raise(SIGINT);
    });
  } catch (...) {
    main_->unref();
    throw;
  }
  installed_ = true;
}

SigintScope::~SigintScope() {
  if (!installed_) return;
  loop_.remove_signal_handler(SIGINT);
  main_->unref();
}

void SigintScope::check_interrupted() const {
  if (interrupts_ > 0) throw KeyboardInterrupt();
}

void cancel_all_and_shut_down(EventLoop& loop) {
  LoopCore& core = loop.core();
  std::vector<TaskState*> left;
  for (TaskState* t = core.all_head; t != nullptr; t = t->next_all()) left.push_back(t);
  if (!left.empty()) {
    struct Countdown final : DoneWatcher {
      EventLoop* loop;
      std::size_t n;
      Countdown(EventLoop* l, std::size_t count) : loop(l), n(count) {}
      void task_done(TaskState&) noexcept override {
        if (--n == 0) loop->stop();
      }
    } countdown(&loop, left.size());
    for (TaskState* t : left) {
      t->ref();
      t->add_watcher(&countdown);
      t->cancel();
    }
    try {
      loop.run_forever();
    } catch (...) {
      for (TaskState* t : left) {
        if (!t->done()) t->remove_watcher(&countdown);
        t->unref();
      }
      throw;
    }
    for (TaskState* t : left) {
      if (!t->done()) t->remove_watcher(&countdown);
      t->unref();
    }
  }
  loop.shutdown_default_executor();
}

RunScope::~RunScope() {
  if (!finished_) {
    finished_ = true;
    try {
      cancel_all_and_shut_down(loop_);
    } catch (...) {
      report_error(&loop_.core(), "error while finishing run()", std::current_exception(), nullptr);
    }
  }
  loop_.close();
}

void RunScope::finish() {
  finished_ = true;
  cancel_all_and_shut_down(loop_);
  loop_.close();
}

}  // namespace spindle::aio::detail

namespace spindle::aio {

Runner::~Runner() {
  try {
    close();
  } catch (...) {
    report_unhandled_exception("aio::Runner: error while closing", std::current_exception());
  }
}

EventLoop& Runner::get_loop() {
  if (closed_) throw InvalidStateError("Runner is closed");
  if (!loop_) {
    loop_ = std::make_unique<EventLoop>(LoopOptions{.clock = options_.clock,
                                                    .debug = options_.debug,
                                                    .slow_callback_duration = options_.slow_callback_duration,
                                                    .backend = options_.backend,
                                                    .task_factory = options_.task_factory});
  }
  return *loop_;
}

EventLoop& Runner::loop_for_run() {
  if (closed_) throw InvalidStateError("Runner is closed");
  if (detail::tls_running != nullptr) {
    throw InvalidStateError("Runner.run() cannot be called from a running event loop");
  }
  return get_loop();
}

void Runner::close() {
  if (closed_) return;
  if (loop_ && loop_->is_running()) throw InvalidStateError("Runner.close() cannot be called while its loop runs");
  closed_ = true;
  if (!loop_) return;
  struct Release {  // the loop is closed and dropped even when the clean-up throws
    std::unique_ptr<EventLoop>& loop;
    ~Release() {
      loop->close();
      loop.reset();
    }
  } release{loop_};
  detail::cancel_all_and_shut_down(*loop_);
}

}  // namespace spindle::aio
