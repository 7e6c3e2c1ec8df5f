#include "spindle/thread/thread.hpp"

#include <cxxabi.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <exception>

#include "spindle/core/detail/futex.hpp"
#include "spindle/core/errors.hpp"
#include "spindle/core/unhandled.hpp"

namespace spindle {

namespace {

std::atomic<unsigned> thread_counter{0};
thread_local detail::ThreadCore* current_core = nullptr;

// The kernel keeps 15 bytes of a thread's name (plus the NUL); a longer name would make the call fail.
void set_kernel_name(pthread_t handle, const std::string& name) noexcept {
  const std::string shortened = name.substr(0, 15);
  pthread_setname_np(handle, shortened.c_str());
}

std::uint64_t to_ident(pthread_t handle) noexcept { return static_cast<std::uint64_t>(handle); }

void thread_main(std::shared_ptr<detail::ThreadCore> core) {
  current_core = core.get();
  {
    std::lock_guard guard(core->mutex);
    set_kernel_name(pthread_self(), core->name);
  }
  core->native_id.store(get_native_id(), std::memory_order_relaxed);
  core->ident.store(get_ident(), std::memory_order_relaxed);
  core->started.store(1, std::memory_order_release);
  detail::futex_wake_all(core->started);
  try {
    core->run();
  } catch (abi::__forced_unwind&) {
    throw;  // pthread_cancel / pthread_exit unwinding must go on
  } catch (...) {
    // Python's threading.excepthook: report, then let the thread end normally.
    std::string where;
    {
      std::lock_guard guard(core->mutex);
      where = "thread " + core->name;
    }
    report_unhandled_exception(where, std::current_exception());
  }
  current_core = nullptr;
  core->finished.store(1, std::memory_order_release);
  detail::futex_wake_all(core->finished);
}

detail::ThreadCore& require(const std::shared_ptr<detail::ThreadCore>& core) {
  if (!core) throw InvalidStateError("this Thread was moved from");
  return *core;
}

}  // namespace

Thread::Thread() : core_(std::make_shared<detail::EmptyThreadTarget>()) { init({}); }

void Thread::init(ThreadOptions options) {
  if (options.name.empty()) {
    options.name = "Thread-" + std::to_string(thread_counter.fetch_add(1, std::memory_order_relaxed) + 1);
  }
  core_->name = std::move(options.name);
  core_->daemon.store(options.daemon, std::memory_order_relaxed);
}

Thread& Thread::operator=(Thread&& other) noexcept {
  if (this != &other) {
    finish();
    core_ = std::move(other.core_);
  }
  return *this;
}

Thread::~Thread() { finish(); }

void Thread::finish() noexcept {
  if (!core_ || !core_->start_called.load(std::memory_order_acquire)) return;
  // A daemon keeps running on its own; so must a thread that destroys its own Thread (joining would
  // deadlock). Either way the thread holds its own reference to the core.
  const bool detach = core_->daemon.load(std::memory_order_relaxed) || current_core == core_.get();
  if (!detach) {
    // Wait without the mutex: the thread may still need it (to name itself in an exception report).
    while (core_->finished.load(std::memory_order_acquire) == 0) detail::futex_wait(core_->finished, 0);
  }
  std::lock_guard guard(core_->mutex);
  if (!core_->handle.joinable()) return;
  if (detach) {
    core_->handle.detach();
  } else {
    core_->handle.join();
  }
}

void Thread::start() {
  auto& core = require(core_);
  if (core.start_called.exchange(true, std::memory_order_acq_rel)) {
    throw InvalidStateError("threads can only be started once");
  }
  try {
    std::lock_guard guard(core.mutex);
    core.handle = std::thread(thread_main, core_);
  } catch (...) {
    core.start_called.store(false, std::memory_order_release);  // the OS refused: the Thread stays unstarted
    throw;
  }
  while (core.started.load(std::memory_order_acquire) == 0) detail::futex_wait(core.started, 0);
}

bool Thread::join_until(detail::SteadyTime deadline) {
  auto& core = require(core_);
  if (!core.start_called.load(std::memory_order_acquire))
    throw InvalidStateError("cannot join thread before it is started");
  if (current_core == &core) throw InvalidStateError("cannot join current thread");
  while (core.finished.load(std::memory_order_acquire) == 0) {
    if (!detail::futex_wait(core.finished, 0, deadline)) {
      if (core.finished.load(std::memory_order_acquire) == 0) return false;
    }
  }
  // The target is done; reap the OS thread too (it is only returning), so join() leaves nothing behind.
  std::lock_guard guard(core.mutex);
  if (core.handle.joinable()) core.handle.join();
  return true;
}

bool Thread::is_alive() const noexcept {
  return core_ && core_->started.load(std::memory_order_acquire) != 0 &&
         core_->finished.load(std::memory_order_acquire) == 0;
}

std::string Thread::name() const {
  if (!core_) return {};
  std::lock_guard guard(core_->mutex);
  return core_->name;
}

void Thread::set_name(std::string name) {
  auto& core = require(core_);
  std::lock_guard guard(core.mutex);
  core.name = std::move(name);
  // The pthread handle stays valid until joined or detached, both of which need this mutex.
  if (core.handle.joinable() && core.finished.load(std::memory_order_acquire) == 0) {
    set_kernel_name(core.handle.native_handle(), core.name);
  }
}

std::uint64_t Thread::ident() const noexcept { return core_ ? core_->ident.load(std::memory_order_relaxed) : 0; }

int Thread::native_id() const noexcept { return core_ ? core_->native_id.load(std::memory_order_relaxed) : 0; }

bool Thread::daemon() const noexcept { return core_ && core_->daemon.load(std::memory_order_relaxed); }

void Thread::set_daemon(bool daemon) {
  auto& core = require(core_);
  if (core.start_called.load(std::memory_order_acquire)) {
    throw InvalidStateError("cannot set daemon status of active thread");
  }
  core.daemon.store(daemon, std::memory_order_relaxed);
}

std::string current_thread_name() {
  if (current_core != nullptr) {
    std::lock_guard guard(current_core->mutex);
    return current_core->name;
  }
  if (get_native_id() == static_cast<int>(getpid())) return "MainThread";
  char buffer[16] = {};
  if (pthread_getname_np(pthread_self(), buffer, sizeof buffer) != 0) return "Dummy";
  return buffer;
}

std::uint64_t get_ident() noexcept { return to_ident(pthread_self()); }

int get_native_id() noexcept {
  thread_local const int id = static_cast<int>(syscall(SYS_gettid));
  return id;
}

}  // namespace spindle
