// The process pool's link to one worker: starting it (its config frame and control block), encoding task
// frames, writing them (with their descriptors) as the channel takes them, reading and acting on the
// worker's frames, killing it. See pool_core.hpp.

#include <fcntl.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "os_error.hpp"
#include "pool_core.hpp"
#include "spindle/core/unhandled.hpp"
#include "spindle/process/detail/blob.hpp"

namespace spindle::process::detail {
namespace {

int dup_or_throw(int fd) {
  const int d = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (d < 0) detail::throw_os_error(errno, "dup");
  return d;
}

}  // namespace

void PoolCore::spawn_worker() {
  Child c;
  std::shared_ptr<Segment> control;
  std::vector<int> dups;
  try {
    // Everything that can run out of descriptors comes before the child exists: a worker started without
    // its config would wait for it forever (found by an EMFILE test: the pool hung).
    control = Segment::create(batch_results() ? kResultAreaOffset + kResultAreaBytes : sizeof(ControlBlock),
                              "spindle-worker-control");
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
  wc.control_bytes = w->control->size();
  wc.result_area = batch_results() ? kResultAreaBytes : 0;
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

void PoolCore::send_task(Worker& w, TaskPtr t) {
  const std::size_t at = w.out.size();
  const std::uint64_t id = t->call.id;
  const std::shared_ptr<Blob>& given = t->call.args_blob;
  if (!given && sizeof id + t->call.args.size() > opt_.max_frame_bytes) {
    t->fail(std::make_exception_ptr(ProtocolError("task arguments exceed max_frame_bytes")));
    return;
  }
  // The task's descriptors travel as copies (the Call keeps its own); out of descriptors, fail this task
  // alone, before it takes an ordinal.
  std::vector<int> dups;
  // Large encoded arguments (an MPI worker rank's tasks, a big string, many items in a chunk) go in a
  // shared-memory blob, one memcpy, instead of through the socket; the task keeps the blob until its result.
  // Arguments that came in a blob (Call::args_blob) go as they are.
  const bool blob = given || t->call.args.size() >= kBlobMinBytes;
  try {
    for (int fd : t->call.fds) dups.push_back(dup_or_throw(fd));
    if (given) {
      dups.push_back(dup_or_throw(given->fd));
    } else if (blob) {
      std::shared_ptr<Blob> b = write_blob(t->call.args.data(), t->call.args.size());
      dups.push_back(dup_or_throw(b->fd));
      t->call.leases.push_back(std::move(b));
    }
  } catch (...) {
    for (int x : dups) ::close(x);
    t->fail(std::current_exception());
    return;
  }
  // The frame id is the task's ordinal on this worker (consecutive: the claim word relies on it).
  t->seq = w.next_seq++;
  const std::uint64_t args_size = given ? t->call.args_blob_bytes : t->call.args.size();
  FrameHeader h{kFrameMagic,
                static_cast<std::uint16_t>(blob ? FrameType::task_blob : FrameType::task),
                static_cast<std::uint16_t>(dups.size()),
                static_cast<std::uint32_t>(sizeof id + (blob ? sizeof args_size : t->call.args.size())),
                0,
                t->seq};
  w.out.append(reinterpret_cast<const char*>(&h), sizeof h);
  w.out.append(reinterpret_cast<const char*>(&id), sizeof id);
  if (blob) {
    w.out.append(reinterpret_cast<const char*>(&args_size), sizeof args_size);
  } else {
    w.out.append(t->call.args);
  }
  if (!dups.empty()) w.out_fds.emplace_back(at, std::move(dups));
  if (w.inflight.empty()) w.head_start = Clock::now();
  w.inflight.push_back(std::move(t));
  ++w.sent;
}

void PoolCore::set_want_out(Worker& w, bool want) {
  if (w.want_out == want) return;
  w.want_out = want;
  epoll_event ev{};
  ev.events = EPOLLIN | (want ? EPOLLOUT : 0u);
  ev.data.ptr = &w;
  ::epoll_ctl(epfd_, EPOLL_CTL_MOD, w.child.fd, &ev);
}

void PoolCore::flush(Worker& w) {
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
    const iovec iov{w.out.data() + w.out_off, end - w.out_off};
    const long n =
        send_fds(w.child.fd, {&iov, 1}, fds ? std::span<const int>(*fds) : std::span<const int>(), MSG_DONTWAIT);
    if (n < 0) {
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

void PoolCore::drop_out_fds(Worker& w) {
  for (auto& [at, fds] : w.out_fds)
    for (int fd : fds) ::close(fd);
  w.out_fds.clear();
}

void PoolCore::read_worker(Worker& w) {
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

void PoolCore::protocol_violation(Worker& w, const std::string& what) {
  if (w.protocol_error.empty()) w.protocol_error = what;
  kill_worker(w, KillReason::protocol, SIGKILL);
  // Stop reading: the stream cannot be trusted any more; EOF follows the kill.
  epoll_event ev{};
  ::epoll_ctl(epfd_, EPOLL_CTL_DEL, w.child.fd, &ev);
  w.eof = true;
}

void PoolCore::on_frame(Worker& w, const Frame& f) {
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
      TaskPtr t = std::move(w.inflight.front());
      w.inflight.pop_front();
      const auto now = Clock::now();
      const double us = std::chrono::duration<double, std::micro>(now - w.head_start).count();
      w.ewma_us = DispatchPolicy::next_ewma(w.ewma_us, us);
      w.head_start = now;
      completed_.fetch_add(1, std::memory_order_relaxed);
      if (f.type() == FrameType::result)
        t->succeed(f.payload.data(), f.payload.size(), &fds);
      else
        t->fail(remote_error(f.payload.data(), f.payload.size()));
      return;
    }
    default:
      throw ProtocolError("unexpected frame type from a worker");
  }
}

void PoolCore::kill_worker(Worker& w, KillReason why, int sig) {
  if (w.kill == KillReason::none) w.kill = why;
  ::kill(w.child.pid, sig);
  if (sig == SIGKILL) w.sigkilled = true;
  w.kill_deadline = Clock::now() + opt_.kill_grace;
}

}  // namespace spindle::process::detail
