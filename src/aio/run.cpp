// run(): Ctrl-C handling and the final clean-up of asyncio.run.

#include "spindle/aio/run.hpp"

#include <sys/syscall.h>
#include <unistd.h>

#include <csignal>
#include <vector>

namespace spindle::aio::detail {
namespace {

bool on_main_thread() { return ::getpid() == static_cast<pid_t>(::syscall(SYS_gettid)); }

bool sigint_is_default() {
  struct sigaction cur {};
  if (::sigaction(SIGINT, nullptr, &cur) < 0) return false;
  return (cur.sa_flags & SA_SIGINFO) == 0 && cur.sa_handler == SIG_DFL;
}

}  // namespace

RunScope::RunScope(EventLoop& loop, TaskState* main, bool handle_sigint) : loop_(loop), main_(main) {
  main_->ref();
  if (handle_sigint && on_main_thread() && sigint_is_default()) {
    loop_.add_signal_handler(SIGINT, [this] {
      if (++interrupts_ == 1 && !main_->done()) {
        main_->cancel("KeyboardInterrupt");
        return;
      }
      // Second Ctrl-C: back to the default disposition, and die of it as the user asked.
      loop_.remove_signal_handler(SIGINT);
      ::raise(SIGINT);
    });
    sigint_ = true;
  }
}

RunScope::~RunScope() {
  if (!finished_) {
    try {
      finish();
    } catch (...) {
      report_error(&loop_.core(), "error while finishing run()", std::current_exception(), nullptr);
    }
  }
  main_->unref();
  loop_.close();
}

void RunScope::check_interrupted() const {
  if (interrupts_ > 0) throw KeyboardInterrupt();
}

void RunScope::finish() {
  finished_ = true;
  if (sigint_) {
    loop_.remove_signal_handler(SIGINT);
    sigint_ = false;
  }
  LoopCore& core = loop_.core();
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
    } countdown(&loop_, left.size());
    for (TaskState* t : left) {
      t->ref();
      t->add_watcher(&countdown);
      t->cancel();
    }
    try {
      loop_.run_forever();
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
  loop_.shutdown_default_executor();
}

}  // namespace spindle::aio::detail
