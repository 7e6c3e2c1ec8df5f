// The process pool's parent side: a manager thread that owns every worker channel and the task ledger.
// Ledger: a task is in exactly one of incoming_ (submitted, not yet seen by the manager), pending_ (queued
// in the parent), a worker's inflight (sent; the front one is running), or finished (its future is done and
// the task deleted). Workers run their tasks in order, so the front of a worker's inflight is the task it
// is running: when a worker dies, only that one fails; the rest never started and go back to pending_.
// A worker's unstarted tasks can also be taken back while it lives ("revocation", through the claim word
// of its control block, see ControlBlock in runtime.hpp): they go back to pending_ for an idle worker.

#include "spindle/process/process_pool_executor.hpp"

#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <system_error>
#include <thread>

#include "runtime.hpp"
#include "spindle/core/unhandled.hpp"
#include "spindle/process/shared_memory.hpp"

namespace spindle::process {
namespace detail {

using Clock = std::chrono::steady_clock;

class PoolCore {
 public:
  explicit PoolCore(ProcessPoolOptions o) : opt_(std::move(o)) {
    n_ = opt_.max_workers ? opt_.max_workers : std::max(1u, std::thread::hardware_concurrency());
    if (opt_.max_inflight_per_worker == 0) opt_.max_inflight_per_worker = 1;
    if (opt_.max_tasks_per_child) opt_.max_inflight_per_worker = std::min(opt_.max_inflight_per_worker, opt_.max_tasks_per_child);
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
      throw std::system_error(e, std::generic_category(), "ProcessPoolExecutor");
    }
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = nullptr;
    ::epoll_ctl(epfd_, EPOLL_CTL_ADD, efd_, &ev);
    thread_ = std::thread([this] { run(); });
  }

  ~PoolCore() {
    shutdown(true, false, false);
    if (thread_.joinable()) thread_.join();
    ::close(efd_);
    ::close(epfd_);
  }

  void submit(std::unique_ptr<TaskBase> t) {
    bool wake = false;
    {
      std::lock_guard lock(m_);
      if (broken_) throw BrokenExecutor(broken_reason_);
      if (shutdown_) throw ShutdownError();
      incoming_.push_back(t.release());
      if (sleeping_) {
        sleeping_ = false;
        wake = true;
      }
    }
    submitted_.fetch_add(1, std::memory_order_relaxed);
    if (wake) poke();
  }

  void shutdown(bool wait, bool cancel_futures, bool kill_running) {
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

  ProcessPoolStats stats() const {
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

  std::vector<pid_t> pids() const {
    std::lock_guard lock(m_);
    return pids_;
  }

  std::size_t size() const noexcept { return n_; }

 private:
  enum class KillReason { none, timeout, shutdown, protocol };

  struct Worker {
    Child child;
    FrameReader in;
    std::deque<int> rfds;
    std::string out;
    std::size_t out_off = 0;
    std::deque<std::pair<std::size_t, std::vector<int>>> out_fds;  // (offset in out, descriptors)
    std::deque<TaskBase*> inflight;
    bool ready = false;
    bool closing = false;
    bool want_out = false;
    bool eof = false;
    std::uint64_t sent = 0;
    Clock::time_point head_start{};
    double ewma_us = 0;
    KillReason kill = KillReason::none;
    bool sigkilled = false;
    Clock::time_point kill_deadline{};
    std::string protocol_error;
    std::exception_ptr init_error;
    std::uint64_t next_seq = 1;         // ordinal of the next task frame sent to this worker
    std::uint64_t revoke_through = 0;   // non-zero: a revocation is open up to this ordinal (until the ack)
    std::shared_ptr<Segment> control;   // a ControlBlock: the claim word and the revoke-through word
    ControlBlock* block() const noexcept { return static_cast<ControlBlock*>(control->data()); }
    // The ordinal of the last task this worker consumed (started, or skipped as revoked).
    std::uint64_t started_seq() const noexcept {
      return std::atomic_ref<std::uint64_t>(block()->claim).load(std::memory_order_acquire) & ~ControlBlock::kRevoked;
    }
    explicit Worker(Child c, std::size_t max_frame) : child(c), in(max_frame) {}
  };

  void poke() noexcept {
    const std::uint64_t one = 1;
    [[maybe_unused]] auto r = ::write(efd_, &one, sizeof one);
  }

  // --- the manager thread ----------------------------------------------------------------------------

  void run() {
    for (std::size_t i = 0; i < n_; ++i) spawn_worker();
    std::vector<epoll_event> events(64);
    for (;;) {
      bool stop_now = false;
      {
        std::lock_guard lock(m_);
        for (TaskBase* t : incoming_) pending_.push_back(t);
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

  bool shutdown_snapshot() {
    std::lock_guard lock(m_);
    return shutdown_;
  }

  void cancel_pending_locked() {
    for (TaskBase* t : pending_) {
      if (t->started) t->fail(std::make_exception_ptr(CancelledError("cancelled by shutdown(cancel_futures=true)")));
      else t->cancel();
      delete t;
    }
    pending_.clear();
  }

  // After a failed start with no worker alive: work that arrives tries again; if that fails too, the waiting
  // tasks fail with SpawnError (and later work tries again: the shortage may be over).
  void retry_or_fail_spawn() {
    if (spawn_error_.empty() || !workers_.empty() || pending_.empty()) return;
    spawn_error_.clear();
    for (std::size_t i = 0; i < n_ && spawn_error_.empty(); ++i) spawn_worker();
    if (!workers_.empty()) return;
    {
      std::lock_guard lock(m_);
      for (TaskBase* t : pending_) {
        if (!t->started) t->start();
        t->fail(std::make_exception_ptr(SpawnError(spawn_error_)));
        delete t;
      }
      pending_.clear();
    }
    poke();  // turn the loop once more: a shutdown waiting for pending_ to drain can now finish
  }

  void fail_pending_locked() {
    for (TaskBase* t : pending_) {
      if (!t->started) t->start();
      t->fail(std::make_exception_ptr(BrokenExecutor(broken_reason_)));
      delete t;
    }
    pending_.clear();
  }

  void spawn_worker() {
    Child c;
    std::shared_ptr<Segment> control;
    std::vector<int> dups;
    try {
      // Everything that can run out of descriptors comes before the child exists: a worker started without
      // its config would wait for it forever (found by an EMFILE test: the pool hung).
      control = Segment::create(sizeof(ControlBlock), "spindle-worker-control");
      // Descriptor 0: the control block; then the initializer's.
      dups.push_back(dup_or_throw(control->fd()));
      if (opt_.initializer)
        for (int fd : opt_.initializer->fds) dups.push_back(dup_or_throw(fd));
      c = start_child(opt_.start_method);
    } catch (const std::exception& e) {
      for (int fd : dups) ::close(fd);
      if (workers_.empty()) {
        // Nothing can run: the waiting tasks fail (SpawnError, next loop turn), the pool stays usable and
        // tries again on the next submit (a shortage of descriptors or processes is often transient).
        spawn_error_ = std::string("cannot start a worker process: ") + e.what();
      } else {
        report_unhandled_exception("ProcessPoolExecutor: starting a replacement worker", std::current_exception());
      }
      return;
    }
    workers_started_.fetch_add(1, std::memory_order_relaxed);
    auto w = std::make_unique<Worker>(c, opt_.max_frame_bytes);
    const int flags = ::fcntl(c.fd, F_GETFL);
    ::fcntl(c.fd, F_SETFL, flags | O_NONBLOCK);
    w->control = std::move(control);
    WorkerConfig wc = cfg_;
    wc.control_bytes = sizeof(ControlBlock);
    std::string cfg = encode(wc);
    append_frame(w->out, FrameType::config, 0, cfg, static_cast<std::uint16_t>(dups.size()));
    w->out_fds.emplace_back(0, std::move(dups));
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = w.get();
    ::epoll_ctl(epfd_, EPOLL_CTL_ADD, c.fd, &ev);
    {
      std::lock_guard lock(m_);
      pids_.push_back(c.pid);
    }
    workers_.push_back(std::move(w));
  }

  static int dup_or_throw(int fd) {
    const int d = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (d < 0) throw std::system_error(errno, std::generic_category(), "dup");
    return d;
  }

  std::size_t depth(const Worker& w, Clock::time_point now) const {
    // Short tasks: pipeline deeply (a round trip per task would dominate). Unknown or long tasks: one at a
    // time, so that nothing waits behind a long task while another worker is free. A task queued behind the
    // running one waits for it, so stop queueing behind a head that has run much longer than usual.
    if (w.ewma_us <= 0) return 1;
    if (!w.inflight.empty()) {
      const double head_us = std::chrono::duration<double, std::micro>(now - w.head_start).count();
      if (head_us > std::max(1000.0, 8 * w.ewma_us)) return 1;
    }
    const double want = 1 + 500.0 / std::max(w.ewma_us, 0.5);
    return std::clamp<std::size_t>(static_cast<std::size_t>(want), 1, opt_.max_inflight_per_worker);
  }

  void dispatch() {
    rebalance_at_ = Clock::time_point::max();
    if (!pending_.empty()) dispatch_pending();
    // Nothing left to hand out: an idle worker may take tasks queued behind another worker's long head.
    while (pending_.empty() && workers_.size() > 1 && rebalance()) dispatch_pending();
  }

  void dispatch_pending() {
    const auto now = Clock::now();
    // While a worker is still starting, queue nothing behind a running task: the starting worker will be
    // free in a millisecond, whereas the task queued behind may wait a whole long task. (Found by the lab:
    // after a warm-up of tiny tasks the one ready worker had a deep pipeline and took all four 50 ms tasks
    // while three workers were still starting.)
    bool any_starting = false;
    for (auto& w : workers_) {
      if (!w->ready && !w->closing && w->kill == KillReason::none && !w->eof && !w->init_error) any_starting = true;
    }
    for (;;) {
      // The ready worker with the fewest tasks in flight gets the next task.
      Worker* best = nullptr;
      for (auto& w : workers_) {
        if (!can_take(*w)) continue;
        if (w->inflight.size() >= (any_starting ? 1 : depth(*w, now))) continue;
        if (!best || w->inflight.size() < best->inflight.size()) best = w.get();
      }
      if (!best || pending_.empty()) return;
      TaskBase* t = pending_.front();
      pending_.pop_front();
      if (!t->started) {
        if (!t->start()) {  // cancelled while queued
          delete t;
          continue;
        }
        t->started = true;
      }
      send_task(*best, t);
    }
  }

  // A worker that may be sent a task now.
  bool can_take(const Worker& w) const noexcept {
    if (!w.ready || w.closing || w.kill != KillReason::none || w.eof || w.revoke_through) return false;
    return !opt_.max_tasks_per_child || w.sent < opt_.max_tasks_per_child;
  }

  // Head-of-line blocking: a worker is idle, nothing is pending, and another worker has tasks queued behind a
  // head that has run a while. Take that worker's unstarted tasks back (to pending_, for dispatch to hand to
  // the idle one). Python's pool never queues a task behind a running one on a busy worker (its call queue is
  // shared), so neither may we keep one there while a worker is free. Tiny tasks stay fast: a queue behind a
  // head that became the head moments ago (less than max(200 us, 4 x its usual time)) is left alone, and
  // the manager wakes up when that changes (rebalance_at_). Returns true if tasks came back.
  bool rebalance() {
    bool idle = false;
    for (auto& w : workers_)
      if (w->inflight.empty() && can_take(*w)) idle = true;
    if (!idle) return false;
    const auto now = Clock::now();
    Worker* victim = nullptr;
    for (auto& w : workers_) {
      if (w->inflight.size() < 2 || !w->ready || w->kill != KillReason::none || w->eof || w->revoke_through)
        continue;
      const auto after = w->head_start + std::chrono::duration_cast<Clock::duration>(
                                             std::chrono::duration<double, std::micro>(std::max(200.0, 4 * w->ewma_us)));
      if (now < after) {
        rebalance_at_ = std::min(rebalance_at_, after);
        continue;
      }
      if (!victim || w->head_start < victim->head_start) victim = w.get();
    }
    return victim && revoke(*victim);
  }

  // Takes back every task sent to `w` that it has not started. Exact: the claim word decides, by CAS on both
  // sides, whether the worker started a task or the parent took it back; never both (see ControlBlock).
  bool revoke(Worker& w) {
    const std::uint64_t last = w.inflight.back()->seq;
    std::atomic_ref<std::uint64_t> claim(w.block()->claim);
    // Published by the revoking CAS below (release); the worker reads it only once it sees kRevoked.
    std::atomic_ref<std::uint64_t>(w.block()->revoke_through).store(last, std::memory_order_relaxed);
    std::uint64_t k = claim.load(std::memory_order_acquire);
    for (;;) {
      if (k >= last) return false;  // it started everything it was sent
      if (claim.compare_exchange_weak(k, k | ControlBlock::kRevoked, std::memory_order_acq_rel,
                                      std::memory_order_acquire))
        break;
    }
    // Tasks with an ordinal above k never run there: back to the front of pending_, in order.
    std::size_t n = 0;
    while (!w.inflight.empty() && w.inflight.back()->seq > k) {
      pending_.push_front(w.inflight.back());
      w.inflight.pop_back();
      ++n;
    }
    w.sent -= n;
    w.revoke_through = last;
    revoked_.fetch_add(n, std::memory_order_relaxed);
    return n > 0;
  }

  void send_task(Worker& w, TaskBase* t) {
    const std::size_t at = w.out.size();
    const std::uint64_t id = t->call.id;
    if (sizeof id + t->call.args.size() > opt_.max_frame_bytes) {
      t->fail(std::make_exception_ptr(ProtocolError("task arguments exceed max_frame_bytes")));
      delete t;
      return;
    }
    // The task's descriptors travel as copies (the Call keeps its own); out of descriptors, fail this task
    // alone, before it takes an ordinal.
    std::vector<int> dups;
    try {
      for (int fd : t->call.fds) dups.push_back(dup_or_throw(fd));
    } catch (...) {
      for (int x : dups) ::close(x);
      t->fail(std::current_exception());
      delete t;
      return;
    }
    // The frame id is the task's ordinal on this worker (consecutive: the claim word relies on it).
    t->seq = w.next_seq++;
    FrameHeader h{kFrameMagic, static_cast<std::uint16_t>(FrameType::task),
                  static_cast<std::uint16_t>(t->call.fds.size()),
                  static_cast<std::uint32_t>(sizeof id + t->call.args.size()), 0, t->seq};
    w.out.append(reinterpret_cast<const char*>(&h), sizeof h);
    w.out.append(reinterpret_cast<const char*>(&id), sizeof id);
    w.out.append(t->call.args);
    if (!dups.empty()) w.out_fds.emplace_back(at, std::move(dups));
    if (w.inflight.empty()) w.head_start = Clock::now();
    w.inflight.push_back(t);
    ++w.sent;
  }

  void set_want_out(Worker& w, bool want) {
    if (w.want_out == want) return;
    w.want_out = want;
    epoll_event ev{};
    ev.events = EPOLLIN | (want ? EPOLLOUT : 0u);
    ev.data.ptr = &w;
    ::epoll_ctl(epfd_, EPOLL_CTL_MOD, w.child.fd, &ev);
  }

  void flush(Worker& w) {
    while (w.out_off < w.out.size()) {
      std::size_t end = w.out.size();
      const std::vector<int>* fds = nullptr;
      if (!w.out_fds.empty()) {
        if (w.out_fds.front().first == w.out_off) {
          fds = &w.out_fds.front().second;
          if (w.out_fds.size() > 1) end = w.out_fds[1].first;
        } else {
          end = w.out_fds.front().first;
        }
      }
      msghdr msg{};
      iovec iov{w.out.data() + w.out_off, end - w.out_off};
      msg.msg_iov = &iov;
      msg.msg_iovlen = 1;
      alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFdsPerFrame)];
      if (fds && !fds->empty()) {
        msg.msg_control = control;
        msg.msg_controllen = CMSG_SPACE(sizeof(int) * fds->size());
        cmsghdr* c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * fds->size());
        std::memcpy(CMSG_DATA(c), fds->data(), sizeof(int) * fds->size());
      }
      const ssize_t n = ::sendmsg(w.child.fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN) {
          set_want_out(w, true);
          return;
        }
        const int e = errno;
        w.out.clear();
        w.out_off = 0;
        drop_out_fds(w);
        // EPIPE/ECONNRESET: the worker is gone; reading will show EOF. Anything else (ENOMEM, ETOOMANYREFS,
        // ENOBUFS) lost a frame the worker waits for: kill it rather than leave it, and its tasks, waiting.
        if (e != EPIPE && e != ECONNRESET)
          protocol_violation(w, std::string("cannot send to the worker: ") + std::strerror(e));
        return;
      }
      if (fds) {
        for (int fd : *fds) ::close(fd);
        w.out_fds.pop_front();
      }
      w.out_off += static_cast<std::size_t>(n);
    }
    w.out.clear();
    w.out_off = 0;
    set_want_out(w, false);
  }

  static void drop_out_fds(Worker& w) {
    for (auto& [at, fds] : w.out_fds)
      for (int fd : fds) ::close(fd);
    w.out_fds.clear();
  }

  void read_worker(Worker& w) {
    if (w.eof) return;
    for (int round = 0; round < 16; ++round) {
      auto area = w.in.write_area(64 * 1024);
      const long n = recv_some(w.child.fd, area.data(), area.size(), w.rfds);
      if (n < 0 && errno == EAGAIN) return;
      if (n <= 0) {
        w.eof = true;
        return;
      }
      w.in.commit(static_cast<std::size_t>(n));
      try {
        Frame f;
        while (w.in.next(f)) on_frame(w, f);
      } catch (const std::exception& e) {
        protocol_violation(w, e.what());
        return;
      }
      if (static_cast<std::size_t>(n) < area.size()) return;
    }
  }

  void protocol_violation(Worker& w, const std::string& what) {
    if (w.protocol_error.empty()) w.protocol_error = what;
    kill_worker(w, KillReason::protocol, SIGKILL);
    // Stop reading: the stream cannot be trusted any more; EOF follows the kill.
    epoll_event ev{};
    ::epoll_ctl(epfd_, EPOLL_CTL_DEL, w.child.fd, &ev);
    w.eof = true;
  }

  void on_frame(Worker& w, const Frame& f) {
    std::vector<int> fds;
    for (int i = 0; i < f.header.nfds; ++i) {
      if (w.rfds.empty()) throw ProtocolError("worker frame announces descriptors that never came");
      fds.push_back(w.rfds.front());
      w.rfds.pop_front();
    }
    struct Closer {
      std::vector<int>& v;
      ~Closer() {
        for (int fd : v)
          if (fd >= 0) ::close(fd);
      }
    } closer{fds};
    switch (f.type()) {
      case FrameType::hello:
        if (f.header.id == 0) {
          w.ready = true;
        } else {  // the acknowledgement of a revocation: the worker skipped every revoked task
          if (f.header.id != w.revoke_through) throw ProtocolError("worker acknowledged a revocation never made");
          w.revoke_through = 0;
        }
        return;
      case FrameType::init_failed:
        w.init_error = remote_error(f.payload.data(), f.payload.size());
        return;
      case FrameType::result:
      case FrameType::error: {
        if (w.inflight.empty() || w.inflight.front()->seq != f.header.id)
          throw ProtocolError("worker sent a result for a task it was not running");
        TaskBase* t = w.inflight.front();
        w.inflight.pop_front();
        const auto now = Clock::now();
        const double us = std::chrono::duration<double, std::micro>(now - w.head_start).count();
        w.ewma_us = w.ewma_us <= 0 ? us : 0.8 * w.ewma_us + 0.2 * us;
        w.head_start = now;
        completed_.fetch_add(1, std::memory_order_relaxed);
        if (f.type() == FrameType::result) t->succeed(f.payload.data(), f.payload.size(), &fds);
        else t->fail(remote_error(f.payload.data(), f.payload.size()));
        delete t;
        return;
      }
      default:
        throw ProtocolError("unexpected frame type from a worker");
    }
  }

  void kill_worker(Worker& w, KillReason why, int sig) {
    if (w.kill == KillReason::none) w.kill = why;
    ::kill(w.child.pid, sig);
    if (sig == SIGKILL) w.sigkilled = true;
    w.kill_deadline = Clock::now() + opt_.kill_grace;
  }

  int next_timeout_ms() const {
    auto soonest = Clock::time_point::max();
    for (auto& w : workers_) {
      if (w->kill != KillReason::none && !w->sigkilled) soonest = std::min(soonest, w->kill_deadline);
      if (opt_.task_timeout.count() > 0 && w->kill == KillReason::none && !w->inflight.empty())
        soonest = std::min(soonest, w->head_start + opt_.task_timeout);
    }
    soonest = std::min(soonest, rebalance_at_);
    if (soonest == Clock::time_point::max()) return -1;
    const auto ms = std::chrono::ceil<std::chrono::milliseconds>(soonest - Clock::now()).count();
    return static_cast<int>(std::clamp<long long>(ms, 0, 60'000));
  }

  void check_timeouts() {
    const auto now = Clock::now();
    for (auto& w : workers_) {
      if (w->kill != KillReason::none) {
        if (!w->sigkilled && now >= w->kill_deadline) kill_worker(*w, w->kill, SIGKILL);
        continue;
      }
      if (opt_.task_timeout.count() > 0 && !w->inflight.empty() && now >= w->head_start + opt_.task_timeout)
        kill_worker(*w, KillReason::timeout, SIGTERM);
    }
  }

  void handle_death(std::unique_ptr<Worker> w) {
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
    // The head ran only if the worker claimed its ordinal; if not (killed between tasks), nothing failed.
    // (Tasks revoked from it are already back in pending_: the worker can no longer claim them.)
    if (!w->inflight.empty() && w->kill == KillReason::none && w->started_seq() < w->inflight.front()->seq) {
      for (auto it = w->inflight.rbegin(); it != w->inflight.rend(); ++it) {
        pending_.push_front(*it);
        requeued_.fetch_add(1, std::memory_order_relaxed);
      }
      w->inflight.clear();
    }
    if (!w->inflight.empty()) {
      workers_died_.fetch_add(1, std::memory_order_relaxed);
      TaskBase* head = w->inflight.front();
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
          head->fail(std::make_exception_ptr(WorkerCrashed("worker " + std::to_string(w->child.pid) + " running '" +
                                                               name + "' " + describe_status(status),
                                                           w->child.pid, sig, code, name)));
          break;
        }
      }
      delete head;
      // The others never started: run them elsewhere (in order, ahead of newer work).
      const bool requeue = w->kill != KillReason::shutdown;
      for (auto it = w->inflight.rbegin(); it != w->inflight.rend(); ++it) {
        if (requeue) {
          pending_.push_front(*it);
          requeued_.fetch_add(1, std::memory_order_relaxed);
        } else {
          (*it)->fail(std::make_exception_ptr(CancelledError("worker killed by shutdown(kill_running=true)")));
          delete *it;
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

  ProcessPoolOptions opt_;
  std::size_t n_;
  WorkerConfig cfg_;
  int efd_ = -1;
  int epfd_ = -1;
  std::thread thread_;
  std::mutex join_m_;

  mutable std::mutex m_;  // guards the fields below
  std::deque<TaskBase*> incoming_;
  bool sleeping_ = false;
  bool shutdown_ = false;
  bool shutdown_seen_ = false;
  bool cancel_ = false;
  bool kill_ = false;
  bool killed_all_ = false;
  bool broken_ = false;
  std::string broken_reason_;
  std::string spawn_error_;  // manager thread: why the last start failed while no worker was alive
  std::vector<pid_t> pids_;
  std::deque<TaskBase*> pending_;  // the manager's, but touched under m_ by cancel/fail helpers

  // manager-thread only
  std::vector<std::unique_ptr<Worker>> workers_;
  int startup_failures_ = 0;
  Clock::time_point rebalance_at_ = Clock::time_point::max();  // when a queue may become worth revoking

  std::atomic<std::uint64_t> submitted_{0}, completed_{0}, crashed_{0}, timed_out_{0}, requeued_{0}, revoked_{0},
      workers_started_{0}, workers_died_{0};
};

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
