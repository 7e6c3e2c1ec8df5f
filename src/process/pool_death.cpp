// The process pool's losses: a dead worker (which of its tasks failed, which go back to the queue, whether
// the pool is broken, its replacement), and failing or cancelling the tasks that can no longer run. See
// pool_core.hpp.

#include <signal.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>

#include "pool_core.hpp"

namespace spindle::process::detail {

void PoolCore::handle_death(std::unique_ptr<Worker> w) {
  ::epoll_ctl(epfd_, EPOLL_CTL_DEL, w->child.fd, nullptr);
  if (w->kill == KillReason::protocol || w->kill == KillReason::shutdown) ::kill(w->child.pid, SIGKILL);
  const int status = reap_child(w->child);
  ::close(w->child.fd);
  for (int fd : w->rfds) ::close(fd);
  drop_out_fds(*w);
  {
    std::lock_guard lock(m_);
    pids_.erase(std::remove(pids_.begin(), pids_.end(), w->child.pid), pids_.end());
  }
  // A worker that dies before it is ready, again and again, would be replaced forever: after three in a
  // row the pool is broken (Python: BrokenProcessPool), with the reason.
  if (!w->ready && !w->init_error && w->kill == KillReason::none) {
    if (++startup_failures_ >= 3) {
      std::lock_guard lock(m_);
      if (!broken_) {
        broken_ = true;
        broken_reason_ = "worker processes die before they are ready (last one " + describe_status(status) + ")";
      }
    }
  } else if (w->ready) {
    startup_failures_ = 0;
  }
  if (w->init_error) {
    std::string type, msg;
    try {
      std::rethrow_exception(w->init_error);
    } catch (const std::exception& e) {
      msg = e.what();
    }
    std::lock_guard lock(m_);
    if (!broken_) {
      broken_ = true;
      broken_reason_ = "a worker's initializer failed: " + msg;
    }
  }
  recover_kept_results(*w);
  // The head ran only if the worker claimed its ordinal; if not (it died between tasks), nothing failed.
  // (Tasks revoked from it are already back in pending_: the worker can no longer claim them.)
  if (!w->inflight.empty() &&
      !DispatchPolicy::head_ran(w->kill != KillReason::none, claimed_through(w->block()), w->inflight.front()->seq)) {
    for (auto it = w->inflight.rbegin(); it != w->inflight.rend(); ++it) {
      pending_.push_front(std::move(*it));
      requeued_.fetch_add(1, std::memory_order_relaxed);
    }
    w->inflight.clear();
  }
  if (!w->inflight.empty()) {
    workers_died_.fetch_add(1, std::memory_order_relaxed);
    TaskPtr head = std::move(w->inflight.front());
    w->inflight.pop_front();
    const std::string name(head->call.name);
    switch (w->kill) {
      case KillReason::timeout:
        timed_out_.fetch_add(1, std::memory_order_relaxed);
        head->fail(std::make_exception_ptr(TimeoutError("task '" + name + "' ran longer than task_timeout (" +
                                                        std::to_string(opt_.task_timeout.count()) +
                                                        " ms); its worker was killed")));
        break;
      case KillReason::shutdown:
        head->fail(std::make_exception_ptr(CancelledError("worker killed by shutdown(kill_running=true)")));
        break;
      case KillReason::protocol:
        head->fail(std::make_exception_ptr(ProtocolError("worker broke the protocol: " + w->protocol_error)));
        break;
      case KillReason::none: {
        crashed_.fetch_add(1, std::memory_order_relaxed);
        const int sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
        const int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        head->fail(std::make_exception_ptr(WorkerCrashed(
            "worker " + std::to_string(w->child.pid) + " running '" + name + "' " + describe_status(status),
            w->child.pid, sig, code, name)));
        break;
      }
    }
    // The others never started: run them elsewhere (in order, ahead of newer work).
    const bool requeue = w->kill != KillReason::shutdown;
    for (auto it = w->inflight.rbegin(); it != w->inflight.rend(); ++it) {
      if (requeue) {
        pending_.push_front(std::move(*it));
        requeued_.fetch_add(1, std::memory_order_relaxed);
      } else {
        (*it)->fail(std::make_exception_ptr(CancelledError("worker killed by shutdown(kill_running=true)")));
      }
    }
    w->inflight.clear();
  }
  bool replace;
  {
    std::lock_guard lock(m_);
    replace = !broken_ && !kill_ && (!shutdown_ || !pending_.empty() || !incoming_.empty());
  }
  if (replace && workers_.size() < n_) spawn_worker();
}

void PoolCore::recover_kept_results(Worker& w) {
  // A worker killed for breaking the protocol is trusted no further; one that never got an area kept nothing.
  if (w.kill == KillReason::protocol || !w.control || w.control->size() < kResultAreaOffset + kResultAreaBytes) return;
  const std::string_view frames = kept_results(static_cast<const char*>(w.control->data()) + kResultAreaOffset);
  if (frames.empty()) return;
  FrameReader kept(opt_.max_frame_bytes);
  kept.feed(frames);
  try {
    Frame f;
    while (!w.inflight.empty() && kept.next(f)) {
      if (f.header.nfds != 0 || (f.type() != FrameType::result && f.type() != FrameType::error)) return;
      if (f.header.id < w.inflight.front()->seq) continue;  // it sent this one before it died
      if (f.header.id != w.inflight.front()->seq) return;
      on_frame(w, f);
    }
  } catch (const std::exception&) {
    // A damaged area: the tasks it would have answered fail with the worker, as they would without batching.
  }
}

void PoolCore::cancel_pending_locked() {
  for (TaskPtr& t : pending_) {
    if (t->started)
      t->fail(std::make_exception_ptr(CancelledError("cancelled by shutdown(cancel_futures=true)")));
    else
      t->cancel();
  }
  pending_.clear();
}

// After a failed start with no worker alive: work that arrives tries again; if that fails too, the waiting
// tasks fail with SpawnError (and later work tries again: the shortage may be over).
void PoolCore::retry_or_fail_spawn() {
  if (spawn_error_.empty() || !workers_.empty() || pending_.empty()) return;
  spawn_error_.clear();
  for (std::size_t i = 0; i < n_ && spawn_error_.empty(); ++i) spawn_worker();
  if (!workers_.empty()) return;
  {
    std::lock_guard lock(m_);
    for (TaskPtr& t : pending_) {
      if (!t->started) t->start();
      t->fail(std::make_exception_ptr(SpawnError(spawn_error_)));
    }
    pending_.clear();
  }
  poke();  // turn the loop once more: a shutdown waiting for pending_ to drain can now finish
}

void PoolCore::fail_pending_locked() {
  for (TaskPtr& t : pending_) {
    if (!t->started) t->start();
    t->fail(std::make_exception_ptr(BrokenExecutor(broken_reason_)));
  }
  pending_.clear();
}

}  // namespace spindle::process::detail
