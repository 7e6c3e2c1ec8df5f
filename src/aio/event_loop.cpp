// EventLoop: the iteration, thread-safe posting, I/O registration, close. Signals: signals.cpp; the debug
// watchdog: watchdog.cpp.

#include "spindle/aio/event_loop.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <typeinfo>
#include <unordered_map>
#include <vector>

#include "poller.hpp"
#include "signals.hpp"
#include "spindle/core/unhandled.hpp"
#include "spindle/thread/thread_pool_executor.hpp"
#include "watchdog.hpp"

namespace spindle::aio {
namespace detail {
namespace {

std::mutex g_alive_mu;
std::vector<const LoopCore*>& alive_loops() {
  static std::vector<const LoopCore*> v;
  return v;
}

/// call_soon_threadsafe's queue: a vector under a mutex and one eventfd write per batch (the `pending` flag
/// tells producers whether the loop has been woken since it last drained). Also what a VirtualClock moved by
/// hand wakes, so that the loop looks at its timers again.
class Remote final : public RemoteQueue, public ClockWaker {
 public:
  explicit Remote(Poller* poller) : poller_(poller) {}
  bool post(CallbackBase* cb) noexcept override {
    {
      std::lock_guard lock(mu_);
      if (!closed_) {
        items_.push_back(cb);
        if (!pending_.exchange(true, std::memory_order_acq_rel)) poller_->wake();
        return true;
      }
    }
    cb->unref();  // closed: dropped (outside the lock: its destructor may post again)
    return false;
  }
  void clock_moved() noexcept override {
    std::lock_guard lock(mu_);
    if (!closed_ && !pending_.exchange(true, std::memory_order_acq_rel)) poller_->wake();
  }
  bool pending() const noexcept { return pending_.load(std::memory_order_acquire); }
  void drain(ReadyQueue& ready) noexcept {
    pending_.store(false, std::memory_order_seq_cst);
    std::vector<CallbackBase*> batch;
    {
      std::lock_guard lock(mu_);
      batch.swap(items_);
    }
    for (CallbackBase* cb : batch) {
      ready.push(cb);  // carries the reference the poster gave
    }
  }
  void close() noexcept {
    std::vector<CallbackBase*> batch;
    {
      std::lock_guard lock(mu_);
      closed_ = true;
      batch.swap(items_);
    }
    for (CallbackBase* cb : batch) cb->unref();
  }

 private:
  std::mutex mu_;
  std::vector<CallbackBase*> items_;
  std::atomic<bool> pending_{false};
  bool closed_ = false;
  Poller* poller_;
};

}  // namespace

bool loop_alive(const LoopCore* loop) noexcept {
  std::lock_guard lock(g_alive_mu);
  const auto& v = alive_loops();
  return std::find(v.begin(), v.end(), loop) != v.end();
}

void CallbackBase::invoke_guarded() noexcept {
  try {
    invoke();
  } catch (...) {
    report_error(loop_, "Exception in callback", std::current_exception(), nullptr);
  }
}

}  // namespace detail

struct EventLoop::Impl {
  std::unique_ptr<detail::Poller> poller;
  std::shared_ptr<detail::Remote> remote;
  std::vector<detail::PollEvent> events;

  struct Io {
    detail::CallbackBase* reader = nullptr;
    detail::CallbackBase* writer = nullptr;
  };
  std::unordered_map<int, Io> io;
  struct Recv {
    detail::RecvSink* sink = nullptr;
    detail::CallbackBase* ready = nullptr;  // runs sink->received()
  };
  std::unordered_map<int, Recv> recv;  // completion receives (start_recv)
  struct Send {
    detail::SendSink* sink = nullptr;
    detail::CallbackBase* ready = nullptr;  // runs sink->sent()
  };
  std::unordered_map<int, Send> send;  // completion sends: kept per fd from its first send to remove_send

  detail::SignalSet signals;

  ExceptionHandler handler;
  std::function<void(std::string_view)> logger;

  std::unique_ptr<ThreadPoolExecutor> own_executor;
  ThreadPoolExecutor* executor = nullptr;

  detail::Watchdog watchdog;  // debug mode

  void log(std::string_view line) {
    if (logger) {
      try {
        logger(line);
        return;
      } catch (...) {
      }
    }
    std::fprintf(stderr, "spindle.aio: %.*s\n", static_cast<int>(line.size()), line.data());
    std::fflush(stderr);
  }
};

namespace {

bool env_debug() {
  const char* v = std::getenv("SPINDLE_AIO_DEBUG");
  return v != nullptr && v[0] != '\0' && std::strcmp(v, "0") != 0;
}

// LoopOptions::backend when unset: SPINDLE_AIO_BACKEND, so that a whole test suite (or program) can be run on
// either backend without a rebuild. A misspelling is an error rather than a silent epoll.
Backend env_backend() {
  const char* v = std::getenv("SPINDLE_AIO_BACKEND");
  if (v == nullptr || v[0] == '\0' || std::strcmp(v, "epoll") == 0) return Backend::epoll;
  if (std::strcmp(v, "io_uring") == 0 || std::strcmp(v, "uring") == 0) return Backend::io_uring;
  throw std::invalid_argument(std::string("SPINDLE_AIO_BACKEND=") + v + ": expected epoll, io_uring or uring");
}

}  // namespace

EventLoop::EventLoop(LoopOptions options)
    : clock_(options.clock ? std::move(options.clock) : std::make_shared<MonotonicClock>()),
      impl_(std::make_unique<Impl>()),
      slow_(options.slow_callback_duration) {
  core_.clock = clock_.get();
  core_.owner = this;
  core_.debug = options.debug.has_value() ? *options.debug : env_debug();
  core_.eager_tasks = options.task_factory == TaskFactory::eager;
  if ((options.backend ? *options.backend : env_backend()) == Backend::io_uring) {
    impl_->poller = detail::make_uring_poller_or_epoll(&backend_, {.completion_recv = detail::uring_recv_requested(),
                                                                   .completion_send = detail::uring_send_requested(),
                                                                   .fixed_after = detail::uring_fixed_after()});
  } else {
    impl_->poller = detail::make_epoll_poller();
  }
  impl_->remote = std::make_shared<detail::Remote>(impl_->poller.get());
  remote_ = impl_->remote;
  std::lock_guard lock(detail::g_alive_mu);
  detail::alive_loops().push_back(&core_);
}

EventLoop::~EventLoop() {
  close();
  std::lock_guard lock(detail::g_alive_mu);
  auto& v = detail::alive_loops();
  v.erase(std::remove(v.begin(), v.end(), &core_), v.end());
}

EventLoop& EventLoop::get_running_loop() {
  if (detail::tls_running == nullptr) throw InvalidStateError("no running event loop");
  return *detail::tls_running->owner;
}

EventLoop* EventLoop::running_loop() noexcept {
  return detail::tls_running != nullptr ? detail::tls_running->owner : nullptr;
}

void EventLoop::check_open() const {
  if (closed_) throw InvalidStateError("event loop is closed");
}

void EventLoop::run_forever() {
  check_open();
  if (running_) throw InvalidStateError("this event loop is already running");
  if (detail::tls_running != nullptr) throw InvalidStateError("another event loop is running in this thread");
  Impl& im = *impl_;
  clock_->attach(im.remote);  // a VirtualClock moved by hand wakes this loop
  detail::tls_running = &core_;
  running_ = true;
  const bool debug = core_.debug;
  if (debug) im.watchdog.start(slow_, [&im](std::string_view line) { im.log(line); });
  struct Reset {
    EventLoop* self;
    bool debug;
    ~Reset() {
      self->running_ = false;
      self->stopping_ = false;
      detail::tls_running = nullptr;
      self->core_.current = nullptr;
      if (debug) self->impl_->watchdog.stop();
    }
  } reset{this, debug};
  for (;;) {
    run_once();
    if (stopping_) break;
  }
}

void EventLoop::run_once() {
  Impl& im = *impl_;
  detail::Remote& remote = *im.remote;
  core_.now_valid = false;
  ++iteration_;
  bool do_poll = false;
  std::int64_t timeout = 0;
  if (!core_.ready.empty() || stopping_ || remote.pending()) {
    // Busy: look at the fds only now and then (a syscall per iteration would dominate a task switch).
    do_poll = (!im.io.empty() || !im.recv.empty() || !im.send.empty()) && (iteration_ & 63) == 0;
  } else {
    do_poll = true;
    const std::int64_t dl = core_.timers.next_deadline();
    if (dl == INT64_MAX) {
      timeout = -1;
    } else {
      timeout = std::max<std::int64_t>(0, dl - core_.time_ns());
      if (timeout > 0 && clock_->auto_advances()) {
        if (core_.external_pending > 0) {
          timeout = -1;  // other threads' work will wake us; the virtual clock must not jump past it
        } else {
          im.poller->poll(0, im.events);
          if (im.events.empty() && !remote.pending()) clock_->advance_to(dl);
          core_.now_valid = false;
          do_poll = false;  // looked just now; a second poll() would also recycle the buffers these events hold
        }
      }
    }
  }
  if (do_poll) im.poller->poll(timeout, im.events);
  if (!im.events.empty()) {
    for (const detail::PollEvent& e : im.events) {
      if (e.received) {
        const auto it = im.recv.find(e.fd);
        if (it == im.recv.end()) continue;
        it->second.sink->on_recv(e.data, e.n);
        it->second.ready->enqueue();
        continue;
      }
      if (e.sent) {
        const auto it = im.send.find(e.fd);
        if (it == im.send.end()) continue;
        it->second.sink->on_sent(e.n, std::string_view(e.data, e.unsent));
        it->second.ready->enqueue();
        continue;
      }
      if (im.signals.dispatch(e.fd)) continue;
      const auto it = im.io.find(e.fd);
      if (it == im.io.end()) continue;
      if (e.readable && it->second.reader != nullptr) it->second.reader->enqueue();
      if (e.writable && it->second.writer != nullptr) it->second.writer->enqueue();
    }
    im.events.clear();
  }
  if (remote.pending()) remote.drain(core_.ready);
  if (!core_.timers.empty()) {
    core_.now_valid = false;
    core_.timers.expire(core_.time_ns());
  }
  detail::Runnable* r = core_.ready.take_all();
  if (!core_.debug) {
    while (r != nullptr) {
      detail::Runnable* next = r->next_;
      r->run();
      r = next;
    }
    return;
  }
  im.watchdog.run_steps(r, slow_, [&im](std::string_view line) { im.log(line); });
}

void EventLoop::run_until_done(detail::TaskState* task) {
  if (task->done()) return;
  struct StopWatcher final : detail::DoneWatcher {
    EventLoop* loop;
    explicit StopWatcher(EventLoop* l) : loop(l) {}
    void task_done(detail::TaskState&) noexcept override { loop->stop(); }
  } watcher(this);
  task->add_watcher(&watcher);
  try {
    run_forever();
  } catch (...) {
    if (!task->done()) task->remove_watcher(&watcher);
    throw;
  }
  if (!task->done()) {
    task->remove_watcher(&watcher);
    throw InvalidStateError("Event loop stopped before Future completed.");
  }
}

void EventLoop::close() {
  if (running_) throw InvalidStateError("cannot close a running event loop");
  if (closed_) return;
  closed_ = true;
  Impl& im = *impl_;
  // 1. Pending tasks will never run: report them and detach their waits while the loop's structures live.
  std::vector<detail::TaskState*> pending;
  for (detail::TaskState* t = core_.all_head; t != nullptr; t = t->next_all()) pending.push_back(t);
  for (detail::TaskState* t : pending) t->abandon();
  // 2. Nothing new from other threads; drop what was posted.
  im.remote->close();
  // 3. Queued callbacks and timers.
  for (detail::Runnable* r = core_.ready.take_all(); r != nullptr;) {
    detail::Runnable* next = r->next_;
    r->discard();
    r = next;
  }
  core_.timers.clear();
  // 4. I/O and signals.
  for (auto& [fd, io] : im.io) {
    if (io.reader != nullptr) io.reader->cancel(), io.reader->unref();
    if (io.writer != nullptr) io.writer->cancel(), io.writer->unref();
    im.poller->update(fd, false, false);
  }
  im.io.clear();
  for (auto& [fd, r] : im.recv) {
    r.ready->cancel();
    r.ready->unref();
    im.poller->forget_recv(fd);
  }
  im.recv.clear();
  for (auto& [fd, sd] : im.send) {
    sd.ready->cancel();
    sd.ready->unref();
    im.poller->forget_send(fd);
  }
  im.send.clear();
  im.signals.remove_all(im.poller.get());
  // 5. Release the abandoned tasks (their frames go when the last handle does).
  for (detail::TaskState* t : pending) t->unref();
  // 6. The default executor, then our fds.
  shutdown_default_executor();
  im.signals.close_pipe();
  im.poller.reset();
}

bool EventLoop::completion_recv() const noexcept { return !closed_ && impl_->poller->completion_recv(); }

void EventLoop::start_recv(int fd, detail::RecvSink* sink) {
  check_open();
  Impl& im = *impl_;
  const auto it = im.recv.find(fd);
  if (it != im.recv.end()) {
    it->second.sink = sink;
    im.poller->start_recv(fd);
    return;
  }
  auto* cb = new detail::CallbackImpl<std::function<void()>>(&core_, 1, [sink] { sink->received(); });
  try {
    im.recv.emplace(fd, Impl::Recv{sink, cb});
  } catch (...) {
    cb->unref();
    throw;
  }
  try {
    im.poller->start_recv(fd);
  } catch (...) {
    remove_recv(fd);
    throw;
  }
}

void EventLoop::pause_recv(int fd) noexcept {
  if (closed_) return;
  if (impl_->recv.count(fd) != 0) impl_->poller->stop_recv(fd);
}

namespace {
// Drops `fd`'s entry from a table of completion sinks (receives or sends) and its queued callback; false if it
// had none.
template <class Table>
bool drop_sink(Table& table, int fd) noexcept {
  const auto it = table.find(fd);
  if (it == table.end()) return false;
  it->second.ready->cancel();
  it->second.ready->unref();
  table.erase(it);
  return true;
}
}  // namespace

void EventLoop::remove_recv(int fd) noexcept {
  if (!closed_ && drop_sink(impl_->recv, fd)) impl_->poller->forget_recv(fd);
}

bool EventLoop::completion_send() const noexcept { return !closed_ && impl_->poller->completion_send(); }

void EventLoop::send(int fd, std::string_view d, detail::SendSink* sink) {
  check_open();
  Impl& im = *impl_;
  auto it = im.send.find(fd);
  if (it == im.send.end()) {
    auto* cb = new detail::CallbackImpl<std::function<void()>>(&core_, 1, [sink] { sink->sent(); });
    try {
      it = im.send.emplace(fd, Impl::Send{sink, cb}).first;
    } catch (...) {
      cb->unref();
      throw;
    }
  } else if (it->second.sink != sink) {
    // A new owner of a reused fd number (the old one called remove_send): its callback must reach this sink.
    remove_send(fd);
    send(fd, d, sink);
    return;
  }
  im.poller->send(fd, d);  // on failure nothing is in flight; the entry stays for the next try
}

void EventLoop::remove_send(int fd) noexcept {
  if (!closed_ && drop_sink(impl_->send, fd)) impl_->poller->forget_send(fd);
}

void EventLoop::add_reader(int fd, std::function<void()> fn) {
  check_open();
  Impl& im = *impl_;
  auto* cb = new detail::CallbackImpl<std::function<void()>>(&core_, 1, std::move(fn));
  auto& io = im.io[fd];
  try {
    im.poller->update(fd, true, io.writer != nullptr);
  } catch (...) {
    cb->unref();
    if (io.reader == nullptr && io.writer == nullptr) im.io.erase(fd);
    throw;
  }
  if (io.reader != nullptr) io.reader->cancel(), io.reader->unref();
  io.reader = cb;
}

bool EventLoop::remove_reader(int fd) {
  Impl& im = *impl_;
  const auto it = im.io.find(fd);
  if (it == im.io.end() || it->second.reader == nullptr) return false;
  it->second.reader->cancel();
  it->second.reader->unref();
  it->second.reader = nullptr;
  im.poller->update(fd, false, it->second.writer != nullptr);
  if (it->second.writer == nullptr) im.io.erase(it);
  return true;
}

void EventLoop::add_writer(int fd, std::function<void()> fn) {
  check_open();
  Impl& im = *impl_;
  auto* cb = new detail::CallbackImpl<std::function<void()>>(&core_, 1, std::move(fn));
  auto& io = im.io[fd];
  try {
    im.poller->update(fd, io.reader != nullptr, true);
  } catch (...) {
    cb->unref();
    if (io.reader == nullptr && io.writer == nullptr) im.io.erase(fd);
    throw;
  }
  if (io.writer != nullptr) io.writer->cancel(), io.writer->unref();
  io.writer = cb;
}

bool EventLoop::remove_writer(int fd) {
  Impl& im = *impl_;
  const auto it = im.io.find(fd);
  if (it == im.io.end() || it->second.writer == nullptr) return false;
  it->second.writer->cancel();
  it->second.writer->unref();
  it->second.writer = nullptr;
  im.poller->update(fd, it->second.reader != nullptr, false);
  if (it->second.reader == nullptr) im.io.erase(it);
  return true;
}

void EventLoop::add_signal_handler(int sig, std::function<void()> fn) {
  check_open();
  impl_->signals.add(sig, std::move(fn), &core_, *impl_->poller);
}

bool EventLoop::remove_signal_handler(int sig) { return impl_->signals.remove(sig, impl_->poller.get()); }

void EventLoop::set_exception_handler(ExceptionHandler handler) { impl_->handler = std::move(handler); }

void EventLoop::call_exception_handler(const ExceptionContext& context) noexcept {
  if (impl_->handler) {
    try {
      impl_->handler(*this, context);
      return;
    } catch (...) {
      report_unhandled_exception("event loop exception handler", std::current_exception());
    }
  }
  default_exception_handler(context);
}

void EventLoop::default_exception_handler(const ExceptionContext& context) noexcept {
  try {
    std::string where = "spindle.aio: " + context.message;
    if (!context.task.empty()) where += " (task '" + context.task + "'";
    if (!context.created_at.empty()) where += " created at " + context.created_at;
    if (!context.task.empty()) where += ")";
    if (context.exception) {
      report_unhandled_exception(where, context.exception);
    } else {
      std::fprintf(stderr, "%s\n", where.c_str());
      std::fflush(stderr);
    }
  } catch (...) {
    report_unhandled_exception("spindle.aio", context.exception);
  }
}

void EventLoop::set_debug_logger(std::function<void(std::string_view)> logger) { impl_->logger = std::move(logger); }

ThreadPoolExecutor& EventLoop::default_executor() {
  Impl& im = *impl_;
  if (im.executor == nullptr) {
    check_open();
    im.own_executor = std::make_unique<ThreadPoolExecutor>(ThreadPoolOptions{.thread_name_prefix = "aio-default"});
    im.executor = im.own_executor.get();
  }
  return *im.executor;
}

void EventLoop::set_default_executor(ThreadPoolExecutor* executor) { impl_->executor = executor; }

void EventLoop::shutdown_default_executor() {
  Impl& im = *impl_;
  if (im.own_executor) {
    im.own_executor->shutdown(true);
    im.own_executor.reset();
  }
  im.executor = nullptr;
}

}  // namespace spindle::aio
