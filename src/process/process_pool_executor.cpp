// The process pool's manager thread and the public class. See pool_core.hpp for the ledger and the split.

#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "os_error.hpp"
#include "pool_core.hpp"

namespace spindle::process {
namespace detail {

PoolCore::PoolCore(ProcessPoolOptions o) : opt_(std::move(o)), policy_(1) {
  n_ = opt_.max_workers ? opt_.max_workers : std::max(1u, std::thread::hardware_concurrency());
  if (opt_.max_inflight_per_worker == 0) opt_.max_inflight_per_worker = 1;
  if (opt_.max_tasks_per_child)
    opt_.max_inflight_per_worker = std::min(opt_.max_inflight_per_worker, opt_.max_tasks_per_child);
  policy_ = DispatchPolicy(opt_.max_inflight_per_worker);
  cfg_.max_tasks = opt_.max_tasks_per_child;
  cfg_.rlimit_as = opt_.limits.address_space;
  cfg_.rlimit_cpu_s = static_cast<std::uint64_t>(opt_.limits.cpu.count());
  cfg_.max_frame = opt_.max_frame_bytes;
  if (opt_.initializer) {
    cfg_.init_id = opt_.initializer->id;
    cfg_.init_args = opt_.initializer->args;
  }
  if (opt_.start_method == StartMethod::forkserver) init();
  efd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  epfd_ = ::epoll_create1(EPOLL_CLOEXEC);
  if (efd_ < 0 || epfd_ < 0) {
    const int e = errno;
    if (efd_ >= 0) ::close(efd_);
    if (epfd_ >= 0) ::close(epfd_);
    detail::throw_os_error(e, "ProcessPoolExecutor");
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.ptr = nullptr;
  ::epoll_ctl(epfd_, EPOLL_CTL_ADD, efd_, &ev);
  thread_ = std::thread([this] { run(); });
}

PoolCore::~PoolCore() {
  shutdown(true, false, false);
  if (thread_.joinable()) thread_.join();
  ::close(efd_);
  ::close(epfd_);
}

void PoolCore::submit(TaskPtr t) {
  bool wake = false;
  {
    std::lock_guard lock(m_);
    if (broken_) throw BrokenExecutor(broken_reason_);
    if (shutdown_) throw ShutdownError();
    incoming_.push_back(std::move(t));
    if (sleeping_) {
      sleeping_ = false;
      wake = true;
    }
  }
  submitted_.fetch_add(1, std::memory_order_relaxed);
  if (wake) poke();
}

void PoolCore::shutdown(bool wait, bool cancel_futures, bool kill_running) {
  {
    std::lock_guard lock(m_);
    shutdown_ = true;
    cancel_ = cancel_ || cancel_futures || kill_running;
    kill_ = kill_ || kill_running;
  }
  poke();
  if (wait) {
    std::lock_guard lock(join_m_);
    if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
  }
}

ProcessPoolStats PoolCore::stats() const {
  ProcessPoolStats s;
  s.submitted = submitted_.load();
  s.completed = completed_.load();
  s.crashed = crashed_.load();
  s.timed_out = timed_out_.load();
  s.requeued = requeued_.load();
  s.revoked = revoked_.load();
  s.workers_started = workers_started_.load();
  s.workers_died = workers_died_.load();
  return s;
}

std::vector<pid_t> PoolCore::pids() const {
  std::lock_guard lock(m_);
  return pids_;
}

void PoolCore::poke() noexcept {
  const std::uint64_t one = 1;
  [[maybe_unused]] auto r = ::write(efd_, &one, sizeof one);
}

bool PoolCore::shutdown_snapshot() {
  std::lock_guard lock(m_);
  return shutdown_;
}

// --- the manager thread ----------------------------------------------------------------------------------

void PoolCore::run() {
  for (std::size_t i = 0; i < n_; ++i) spawn_worker();
  std::vector<epoll_event> events(64);
  for (;;) {
    bool stop_now = false;
    {
      std::lock_guard lock(m_);
      for (TaskPtr& t : incoming_) pending_.push_back(std::move(t));
      incoming_.clear();
      if (cancel_) cancel_pending_locked();
      if (kill_ && !killed_all_) {
        killed_all_ = true;
        for (auto& w : workers_) kill_worker(*w, KillReason::shutdown, SIGKILL);
      }
      if (broken_) fail_pending_locked();
      stop_now = shutdown_ && pending_.empty() && workers_.empty();
    }
    if (stop_now) break;
    retry_or_fail_spawn();
    dispatch();
    for (auto& w : workers_) flush(*w);
    if (shutdown_snapshot() && pending_.empty()) {
      for (auto& w : workers_)
        if (w->inflight.empty() && !w->closing) {
          w->closing = true;
          ::shutdown(w->child.fd, SHUT_WR);  // the worker sees EOF and exits
        }
    }
    int timeout_ms = next_timeout_ms();
    {
      std::lock_guard lock(m_);
      if (!incoming_.empty() || (shutdown_ && !shutdown_seen_) || (kill_ && !killed_all_)) timeout_ms = 0;
      shutdown_seen_ = shutdown_;
      if (timeout_ms != 0) sleeping_ = true;
    }
    const int n = ::epoll_wait(epfd_, events.data(), static_cast<int>(events.size()), timeout_ms);
    {
      std::lock_guard lock(m_);
      sleeping_ = false;
    }
    for (int i = 0; i < n; ++i) {
      if (events[static_cast<std::size_t>(i)].data.ptr == nullptr) {
        std::uint64_t v;
        [[maybe_unused]] auto r = ::read(efd_, &v, sizeof v);
        continue;
      }
      auto* w = static_cast<Worker*>(events[static_cast<std::size_t>(i)].data.ptr);
      if (events[static_cast<std::size_t>(i)].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) read_worker(*w);
      if (events[static_cast<std::size_t>(i)].events & EPOLLOUT) flush(*w);
    }
    check_timeouts();
    // Reap the dead (after all events: a worker pointer may appear in several of them).
    for (std::size_t i = 0; i < workers_.size();) {
      if (workers_[i]->eof) {
        std::unique_ptr<Worker> dead = std::move(workers_[i]);
        workers_.erase(workers_.begin() + static_cast<std::ptrdiff_t>(i));
        handle_death(std::move(dead));
      } else {
        ++i;
      }
    }
  }
}

}  // namespace detail

ProcessPoolExecutor::ProcessPoolExecutor(ProcessPoolOptions options)
    : core_(std::make_unique<detail::PoolCore>(std::move(options))) {}
ProcessPoolExecutor::~ProcessPoolExecutor() = default;
void ProcessPoolExecutor::submit_task(std::unique_ptr<detail::TaskBase> task) { core_->submit(std::move(task)); }
void ProcessPoolExecutor::shutdown(bool wait, bool cancel_futures, bool kill_running) {
  core_->shutdown(wait, cancel_futures, kill_running);
}
ProcessPoolStats ProcessPoolExecutor::stats() const { return core_->stats(); }
std::vector<pid_t> ProcessPoolExecutor::worker_pids() const { return core_->pids(); }
std::size_t ProcessPoolExecutor::max_workers() const noexcept { return core_->size(); }

}  // namespace spindle::process
