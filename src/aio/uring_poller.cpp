// The io_uring backend: the Poller interface on one-shot IORING_OP_POLL_ADD requests. Each fd with interest has
// at most one poll in flight; a completion reports readiness and the poll is re-armed at the next poll() call,
// so a still-ready fd reports again at once: epoll's level-triggered contract, which the loop relies on.
// Interest changes cancel the old request (IORING_OP_POLL_REMOVE) and arm a new one under a new generation
// number; completions of older generations are ignored.
//
// Stream sockets receive by completion instead (start_recv): one multishot IORING_OP_RECV per socket picks
// buffers from a ring the kernel shares with us (IORING_REGISTER_PBUF_RING), so data arrives without a
// readiness step or a recv() call; each buffer goes back to the ring at the next poll(), once the loop has
// copied it out. A receive is never re-armed while the previous one for the same socket may still complete,
// so the bytes come back in order. The kernel's support is probed once per ring (multishot recv: Linux 6.0).
//
// They can also send by completion (send): the bytes are copied into an op of ours and go as an IORING_OP_SEND
// with MSG_WAITALL in the loop's next io_uring_enter, so a reply costs no send() system call of its own. One
// send per socket at a time (the transport buffers behind it), which keeps the bytes in order.
//
// Where asked for, a socket that keeps sending is entered in the ring's table of registered files
// (uring_files.hpp), and its polls, receives and sends then name it by slot (IOSQE_FIXED_FILE).

#include <liburing.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <unordered_map>
#include <vector>

#include "poller.hpp"
#include "spindle/aio/detail/io_backend.hpp"
#include "uring_files.hpp"

namespace spindle::aio::detail {
namespace {

constexpr std::uint64_t kIgnore = ~std::uint64_t{0};        // POLL_REMOVE completions
constexpr std::uint64_t kWake = kIgnore - 1;                // the eventfd's poll
constexpr std::uint64_t kRecvBit = std::uint64_t{1} << 62;  // completion receives: kRecvBit | op id
constexpr std::uint64_t kSendBit = std::uint64_t{1} << 61;  // completion sends: kSendBit | op id

constexpr unsigned kBufGroup = 0;
constexpr unsigned kBufCount = 1024;  // a power of two; a batch of completions past it ends receives (-ENOBUFS)
constexpr std::size_t kBufSize = 4096;

constexpr std::uint32_t kGenMask = (1u << 29) - 1;  // keeps a poll's tag clear of kRecvBit, kSendBit, the constants

std::uint64_t tag(int fd, std::uint32_t gen) noexcept {
  return (static_cast<std::uint64_t>(gen & kGenMask) << 32) | static_cast<std::uint32_t>(fd);
}

class UringPoller final : public Poller {
 public:
  /// Throws std::system_error(-rc) if the ring cannot be set up (the factory then falls back to epoll).
  explicit UringPoller(const UringFeatures& features) {
    // COOP_TASKRUN: completions are processed when the loop enters the kernel anyway, not by interrupting
    // it with an IPI each time data arrives for a receive; TASKRUN_FLAG tells liburing when to enter.
    int rc = io_uring_queue_init(1024, &ring_, IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG);
    if (rc == -EINVAL) rc = io_uring_queue_init(1024, &ring_, 0);  // before Linux 5.19
    if (rc < 0) throw std::system_error(-rc, std::generic_category(), "io_uring_queue_init");
    arm_wake();
    if (features.completion_recv) setup_recv();
    if (features.completion_send) send_ok_ = probe_send();
    if (send_ok_) files_.setup(&ring_, features.fixed_after);  // entered by their sends: no sends, no use
  }
  ~UringPoller() override {
    io_uring_queue_exit(&ring_);  // cancels what is in flight (before wake_ closes and the buffers go)
    if (bufs_ != nullptr) ::munmap(bufs_, kBufCount * kBufSize);
    if (br_ != nullptr) ::munmap(br_, kBufCount * sizeof(io_uring_buf));
  }
  UringPoller(const UringPoller&) = delete;
  UringPoller& operator=(const UringPoller&) = delete;

  void update(int fd, bool read, bool write) override {
    const unsigned mask = (read ? POLLIN : 0u) | (write ? POLLOUT : 0u);
    auto it = fds_.find(fd);
    if (it != fds_.end() && it->second.mask == mask) return;
    if (it != fds_.end() && it->second.armed) {
      io_uring_sqe* sqe = get_sqe();
      io_uring_prep_poll_remove(sqe, tag(fd, it->second.gen));
      io_uring_sqe_set_data64(sqe, kIgnore);
    }
    if (mask == 0) {
      if (it != fds_.end()) fds_.erase(it);
      return;
    }
    Interest& in = fds_[fd];
    in.mask = mask;
    ++in.gen;
    in.armed = false;  // armed (with the new mask and generation) at the next poll()
    dirty_.push_back(fd);
  }

  bool completion_recv() const noexcept override { return recv_ok_; }

  void start_recv(int fd) override {
    if (!recv_ok_) Poller::start_recv(fd);
    auto [it, fresh] = recv_ids_.try_emplace(fd, next_recv_id_);
    if (fresh) {
      try {
        recv_ops_.emplace(next_recv_id_, RecvOp{fd});
      } catch (...) {
        recv_ids_.erase(it);
        throw;
      }
      ++next_recv_id_;
    }
    RecvOp& op = recv_ops_.at(it->second);
    op.want = true;
    if (!op.armed) recv_dirty_.push_back(it->second);  // armed at the next poll(); after a cancel, at its end
  }

  void stop_recv(int fd) noexcept override {
    const auto it = recv_ids_.find(fd);
    if (it == recv_ids_.end()) return;
    RecvOp& op = recv_ops_.at(it->second);
    op.want = false;
    if (op.armed && !op.cancelling) cancel_recv(it->second, op);
  }

  void forget_recv(int fd) noexcept override {
    const auto it = recv_ids_.find(fd);
    if (it == recv_ids_.end()) return;
    const std::uint64_t id = it->second;
    recv_ids_.erase(it);
    RecvOp& op = recv_ops_.at(id);
    op.want = false;
    op.forgotten = true;
    if (!op.armed) {
      recv_ops_.erase(id);
    } else if (!op.cancelling) {
      cancel_recv(id, op);  // the op holds the file: the socket really closes when it ends
    }
  }

  bool completion_send() const noexcept override { return send_ok_; }

  void send(int fd, std::string_view d) override {
    if (!send_ok_) Poller::send(fd, d);
    if (fd < 0) throw std::invalid_argument("completion send on a negative fd");
    const auto at = static_cast<std::size_t>(fd);
    if (at < send_of_fd_.size() && send_of_fd_[at] != kNoSend) {
      throw std::logic_error("a completion send is already in flight on this fd");
    }
    if (at >= send_of_fd_.size()) send_of_fd_.resize(at + 1, kNoSend);
    files_.note_send(fd);
    // A free slot, or a new one: slots keep their buffers, so a steady stream of replies allocates nothing.
    if (free_slots_.empty()) {
      // Room for every slot first, so that freeing one (free_slot, handle_send) never allocates.
      free_slots_.reserve(sends_.size() + 1);
      done_sends_.reserve(sends_.size() + 1);
      sends_.emplace_back();  // a deque: the slots in flight do not move (the kernel holds their bytes)
      free_slots_.push_back(static_cast<std::uint32_t>(sends_.size() - 1));
    }
    const std::uint32_t slot = free_slots_.back();
    SendOp& op = sends_[slot];
    op.buf.assign(d);
    io_uring_sqe* sqe = get_sqe();  // last: a slot taken is submitted, so it must be filled in
    free_slots_.pop_back();
    op.fd = fd;
    op.forgotten = false;
    send_of_fd_[at] = slot;
    io_uring_prep_send(sqe, fd, op.buf.data(), op.buf.size(), MSG_NOSIGNAL | MSG_WAITALL);
    use_fixed(sqe, fd);
    io_uring_sqe_set_data64(sqe, kSendBit | slot);
  }

  void forget_send(int fd) noexcept override {
    files_.release(fd);  // the owner closes it next: the table must not hold it open
    if (fd < 0 || static_cast<std::size_t>(fd) >= send_of_fd_.size()) return;
    const std::uint32_t slot = send_of_fd_[static_cast<std::size_t>(fd)];
    if (slot == kNoSend) return;
    send_of_fd_[static_cast<std::size_t>(fd)] = kNoSend;
    sends_[slot].forgotten = true;
    // A peer that reads nothing would hold the send, and with it the socket, open: cancel it. The slot (and the
    // bytes the kernel may still be reading) is freed by its completion.
    io_uring_sqe* sqe = get_sqe();
    io_uring_prep_cancel64(sqe, kSendBit | slot, 0);
    io_uring_sqe_set_data64(sqe, kIgnore);
  }

  void poll(std::int64_t timeout_ns, std::vector<PollEvent>& out) override {
    recycle_bufs();
    recycle_sends();
    for (std::uint64_t id : recv_dirty_) {
      const auto it = recv_ops_.find(id);
      if (it == recv_ops_.end() || it->second.armed || !it->second.want) continue;
      io_uring_sqe* sqe = get_sqe();
      io_uring_prep_recv_multishot(sqe, it->second.fd, nullptr, 0, 0);
      use_fixed(sqe, it->second.fd);
      sqe->flags |= IOSQE_BUFFER_SELECT;
      sqe->buf_group = kBufGroup;
      io_uring_sqe_set_data64(sqe, kRecvBit | id);
      it->second.armed = true;
    }
    recv_dirty_.clear();
    for (int fd : dirty_) {
      auto it = fds_.find(fd);
      if (it == fds_.end() || it->second.armed) continue;
      io_uring_sqe* sqe = get_sqe();
      io_uring_prep_poll_add(sqe, fd, it->second.mask);
      use_fixed(sqe, fd);
      io_uring_sqe_set_data64(sqe, tag(fd, it->second.gen));
      it->second.armed = true;
    }
    dirty_.clear();
    if (!wake_armed_) arm_wake();

    io_uring_cqe* cqe = nullptr;
    int rc;
    if (timeout_ns < 0) {
      rc = io_uring_submit_and_wait(&ring_, 1);
    } else if (timeout_ns == 0) {
      rc = io_uring_submit(&ring_);
    } else {
      __kernel_timespec ts{};
      ts.tv_sec = timeout_ns / 1'000'000'000;
      ts.tv_nsec = timeout_ns % 1'000'000'000;
      rc = io_uring_submit_and_wait_timeout(&ring_, &cqe, 1, &ts, nullptr);
    }
    if (rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY) {
      throw std::system_error(-rc, std::generic_category(), "io_uring_enter");
    }
    unsigned head;
    unsigned seen = 0;
    io_uring_for_each_cqe(&ring_, head, cqe) {
      ++seen;
      handle(cqe, out);
    }
    io_uring_cq_advance(&ring_, seen);
    end_long_runs();
  }

  void wake() noexcept override { wake_.signal(); }

  std::size_t fixed_files() const noexcept override { return files_.entered(); }

 private:
  struct Interest {
    unsigned mask = 0;
    std::uint32_t gen = 0;
    bool armed = false;
  };

  // A send in flight. Each has exactly one completion and its slot is reused only after it, so the slot
  // number alone names it in the completion's user data.
  struct SendOp {
    int fd = -1;
    std::string buf;         // the bytes, ours until the completion (and the event's `data` until the next poll)
    bool forgotten = false;  // forget_send: nothing is reported
  };
  static constexpr std::uint32_t kNoSend = ~std::uint32_t{0};

  struct RecvOp {
    int fd;
    bool want = false;        // the owner wants bytes: start_recv, no stop_recv since
    bool armed = false;       // a multishot receive is in the kernel (until a completion without F_MORE)
    bool cancelling = false;  // its cancellation is on its way
    bool forgotten = false;   // forget_recv: nothing more is reported; the op goes with its last completion
    unsigned run = 0;         // buffers taken in poll() number run_poll (end_long_runs)
    std::uint64_t run_poll = 0;
  };

  /// Names `fd` by its slot in the registered-file table, if it has one.
  void use_fixed(io_uring_sqe* sqe, int fd) const noexcept {
    const int slot = files_.slot(fd);
    if (slot < 0) return;
    sqe->fd = slot;
    sqe->flags |= IOSQE_FIXED_FILE;
  }

  /// Registers the buffer ring and probes multishot receive on a socket pair; leaves recv_ok_ false (readiness
  /// for every fd) where either is missing.
  void setup_recv() noexcept {
    void* ring_mem =
        ::mmap(nullptr, kBufCount * sizeof(io_uring_buf), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (ring_mem == MAP_FAILED) return;
    br_ = static_cast<io_uring_buf_ring*>(ring_mem);
    void* bufs = ::mmap(nullptr, kBufCount * kBufSize, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (bufs == MAP_FAILED) return;
    bufs_ = static_cast<char*>(bufs);
    io_uring_buf_reg reg{};
    reg.ring_addr = reinterpret_cast<std::uintptr_t>(br_);
    reg.ring_entries = kBufCount;
    reg.bgid = kBufGroup;
    try {
      used_bufs_.reserve(kBufCount);  // at most every buffer is out at once: handle_recv's push_back never throws
    } catch (...) {
      return;
    }
    if (io_uring_register_buf_ring(&ring_, &reg, 0) != 0) return;
    io_uring_buf_ring_init(br_);
    for (unsigned i = 0; i < kBufCount; ++i) {
      io_uring_buf_ring_add(br_, bufs_ + i * kBufSize, kBufSize, static_cast<unsigned short>(i),
                            io_uring_buf_ring_mask(kBufCount), static_cast<int>(i));
    }
    io_uring_buf_ring_advance(br_, kBufCount);
    recv_ok_ = probe_recv();
  }

  /// One byte and an EOF through a socket pair: a kernel with multishot receive reports the byte (more to
  /// come) and then the EOF; an older one fails the request with -EINVAL.
  bool probe_recv() noexcept {
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) return false;
    const char byte = 'x';
    const bool sent = ::send(sv[1], &byte, 1, MSG_NOSIGNAL) == 1;
    ::close(sv[1]);
    bool got_byte = false;
    bool ended = false;
    if (sent) {
      constexpr std::uint64_t kProbe = kIgnore - 2;
      io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
      if (sqe != nullptr) {
        io_uring_prep_recv_multishot(sqe, sv[0], nullptr, 0, 0);
        sqe->flags |= IOSQE_BUFFER_SELECT;
        sqe->buf_group = kBufGroup;
        io_uring_sqe_set_data64(sqe, kProbe);
        io_uring_submit(&ring_);
        // Both completions are posted inline (the data and the EOF are there); the timeout only bounds a
        // kernel that would not.
        for (int round = 0; round < 2 && !ended; ++round) {
          __kernel_timespec ts{};
          ts.tv_sec = 1;
          io_uring_cqe* cqe = nullptr;
          if (io_uring_wait_cqe_timeout(&ring_, &cqe, &ts) != 0 || cqe == nullptr) break;
          if (io_uring_cqe_get_data64(cqe) == kProbe) {
            if ((cqe->flags & IORING_CQE_F_BUFFER) != 0) used_bufs_.push_back(buf_id(cqe));
            if (cqe->res == 1 && (cqe->flags & IORING_CQE_F_MORE) != 0) got_byte = true;
            if ((cqe->flags & IORING_CQE_F_MORE) == 0) ended = true;
          } else if (io_uring_cqe_get_data64(cqe) == kWake) {
            wake_armed_ = false;
          }
          io_uring_cqe_seen(&ring_, cqe);
        }
      }
    }
    ::close(sv[0]);
    recycle_bufs();
    // A probe that did not end leaves an op in the ring: receiving stays off (ring exit cancels it).
    return got_byte && ended;
  }

  /// IORING_OP_SEND: Linux 5.6.
  bool probe_send() noexcept {
    io_uring_probe* probe = io_uring_get_probe_ring(&ring_);
    if (probe == nullptr) return false;
    const bool ok = io_uring_opcode_supported(probe, IORING_OP_SEND) != 0;
    io_uring_free_probe(probe);
    return ok;
  }

  /// Frees a finished send's slot (free_slots_ has room for every slot: push_back cannot throw).
  void free_slot(std::uint32_t slot) noexcept {
    if (sends_[slot].buf.capacity() > 64 * 1024) std::string().swap(sends_[slot].buf);  // not a burst's buffer
    free_slots_.push_back(slot);
  }

  /// The sends the last poll() reported: their bytes were valid until now.
  void recycle_sends() noexcept {
    for (std::uint32_t slot : done_sends_) free_slot(slot);
    done_sends_.clear();
  }

  void handle_send(io_uring_cqe* cqe, std::uint32_t slot, std::vector<PollEvent>& out) {
    if (slot >= sends_.size()) return;
    SendOp& op = sends_[slot];
    if (op.forgotten) {
      free_slot(slot);
      return;
    }
    send_of_fd_[static_cast<std::size_t>(op.fd)] = kNoSend;
    done_sends_.push_back(slot);  // reserved; the slot, whose bytes `data` points at, waits for recycling
    PollEvent e{op.fd, false, false};
    e.sent = true;
    e.n = cqe->res;
    if (cqe->res >= 0) {
      const std::size_t took = std::min(static_cast<std::size_t>(cqe->res), op.buf.size());
      e.data = op.buf.data() + took;
      e.unsent = op.buf.size() - took;
    }
    out.push_back(e);
  }

  static unsigned short buf_id(const io_uring_cqe* cqe) noexcept {
    return static_cast<unsigned short>(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
  }

  void recycle_bufs() noexcept {
    if (used_bufs_.empty()) return;
    const int mask = io_uring_buf_ring_mask(kBufCount);
    int k = 0;
    for (unsigned short bid : used_bufs_) {
      io_uring_buf_ring_add(br_, bufs_ + static_cast<std::size_t>(bid) * kBufSize, kBufSize, bid, mask, k++);
    }
    io_uring_buf_ring_advance(br_, k);
    used_bufs_.clear();
  }

  // Linux (6.18 here) lets one multishot receive take at most 32 retries in a row before requeueing it, and a
  // requeued receive misses an EOF that is already there: data queued with the EOF behind it (a peer that sent
  // more than 32 buffers and closed, a receive resumed after a pause) would never report the EOF. So an op that
  // took kLongRun buffers in one poll() is cancelled and re-armed: a fresh receive sees the EOF (UringRecv tests).
  static constexpr unsigned kLongRun = 32;

  void note_run(std::uint64_t id, RecvOp& op) {
    if (op.run_poll != polls_) {
      op.run_poll = polls_;
      op.run = 0;
    }
    if (++op.run == kLongRun) long_runs_.push_back(id);
  }

  void end_long_runs() noexcept {
    for (std::uint64_t id : long_runs_) {
      const auto it = recv_ops_.find(id);
      if (it == recv_ops_.end()) continue;
      RecvOp& op = it->second;
      if (op.armed && !op.cancelling && !op.forgotten) cancel_recv(id, op);  // re-armed at its last completion
    }
    long_runs_.clear();
    ++polls_;
  }

  void cancel_recv(std::uint64_t id, RecvOp& op) noexcept {
    io_uring_sqe* sqe = get_sqe();
    io_uring_prep_cancel64(sqe, kRecvBit | id, 0);
    io_uring_sqe_set_data64(sqe, kIgnore);
    op.cancelling = true;
  }

  void handle_recv(io_uring_cqe* cqe, std::uint64_t id, std::vector<PollEvent>& out) {
    const char* data = nullptr;
    if ((cqe->flags & IORING_CQE_F_BUFFER) != 0) {
      const unsigned short bid = buf_id(cqe);
      used_bufs_.push_back(bid);  // reserved: cannot throw (see the constructor)
      data = bufs_ + static_cast<std::size_t>(bid) * kBufSize;
    }
    const auto it = recv_ops_.find(id);
    if (it == recv_ops_.end()) return;
    RecvOp& op = it->second;
    const bool more = (cqe->flags & IORING_CQE_F_MORE) != 0;
    if (!more) {
      op.armed = false;
      op.cancelling = false;
    }
    if (op.forgotten) {
      if (!more) recv_ops_.erase(it);
      return;
    }
    const int res = cqe->res;
    if (res > 0 && more) note_run(id, op);
    const bool transient = res == -ENOBUFS || res == -ECANCELED || res == -EINTR || res == -EAGAIN;
    if (res > 0 || res == 0 || !transient) {
      PollEvent e{op.fd, false, false};
      e.received = true;
      e.data = res > 0 ? data : nullptr;
      e.n = res;
      out.push_back(e);
    }
    // Ended by the kernel (buffers ran out, a cancelled pause since resumed, ...) while still wanted: again.
    if (!more && op.want && res != 0 && (res > 0 || transient)) recv_dirty_.push_back(id);
  }

  io_uring_sqe* get_sqe() {
    io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
    if (sqe == nullptr) {  // the submission queue is full: hand it to the kernel and take a fresh slot
      io_uring_submit(&ring_);
      sqe = io_uring_get_sqe(&ring_);
      if (sqe == nullptr) throw std::system_error(EBUSY, std::generic_category(), "io_uring_get_sqe");
    }
    return sqe;
  }

  void arm_wake() {
    io_uring_sqe* sqe = get_sqe();
    io_uring_prep_poll_add(sqe, wake_.fd(), POLLIN);
    io_uring_sqe_set_data64(sqe, kWake);
    wake_armed_ = true;
  }

  void handle(io_uring_cqe* cqe, std::vector<PollEvent>& out) {
    const std::uint64_t data = io_uring_cqe_get_data64(cqe);
    if (data == kIgnore) return;
    if (data == kWake) {
      wake_.drain();
      wake_armed_ = false;
      return;
    }
    if ((data & kRecvBit) != 0 && data < kIgnore - 2) {
      handle_recv(cqe, data & ~kRecvBit, out);
      return;
    }
    if ((data & kSendBit) != 0) {
      handle_send(cqe, static_cast<std::uint32_t>(data & ~kSendBit), out);
      return;
    }
    const int fd = static_cast<int>(static_cast<std::uint32_t>(data));
    const auto gen = static_cast<std::uint32_t>(data >> 32);
    auto it = fds_.find(fd);
    if (it == fds_.end() || (it->second.gen & kGenMask) != gen) return;  // a cancelled or superseded request
    it->second.armed = false;
    dirty_.push_back(fd);      // re-armed next time: level-triggered
    if (cqe->res < 0) return;  // -ECANCELED and the like: re-armed, nothing to report
    const auto r = static_cast<unsigned>(cqe->res);
    const bool err = (r & (POLLHUP | POLLERR | POLLNVAL)) != 0;
    out.push_back(PollEvent{fd, (r & POLLIN) != 0 || err, (r & POLLOUT) != 0 || err});
  }

  WakeFd wake_;  // made before the ring and closed after it (members are destroyed in reverse)
  io_uring ring_{};
  bool wake_armed_ = false;
  std::unordered_map<int, Interest> fds_;
  std::vector<int> dirty_;

  io_uring_buf_ring* br_ = nullptr;
  char* bufs_ = nullptr;
  bool recv_ok_ = false;
  std::unordered_map<std::uint64_t, RecvOp> recv_ops_;  // by id
  std::unordered_map<int, std::uint64_t> recv_ids_;     // fd -> id of its op
  std::uint64_t next_recv_id_ = 1;
  std::vector<std::uint64_t> recv_dirty_;  // ops to arm at the next poll()
  std::vector<unsigned short> used_bufs_;  // handed out by the last poll(): back to the ring at the next
  std::vector<std::uint64_t> long_runs_;   // ops that took kLongRun buffers in this poll()
  std::uint64_t polls_ = 0;

  bool send_ok_ = false;
  std::deque<SendOp> sends_;               // slots, in flight or free
  std::vector<std::uint32_t> free_slots_;  // reserved to sends_.size()
  std::vector<std::uint32_t> send_of_fd_;  // fd -> its slot in flight, or kNoSend
  std::vector<std::uint32_t> done_sends_;  // reported by the last poll(): freed at the next; reserved likewise

  FixedFiles files_;
};

}  // namespace

bool uring_recv_requested() noexcept {
  const char* v = std::getenv("SPINDLE_AIO_URING_RECV");
  return v != nullptr && std::strcmp(v, "1") == 0;
}

bool uring_send_requested() noexcept {
  const char* v = std::getenv("SPINDLE_AIO_URING_SEND");
  return v == nullptr || std::strcmp(v, "0") != 0;
}

std::uint32_t uring_fixed_after() noexcept {
  const char* v = std::getenv("SPINDLE_AIO_URING_FIXED");
  if (v == nullptr || *v == '\0') return 0;
  char* end = nullptr;
  const unsigned long n = std::strtoul(v, &end, 10);
  if (*end != '\0' || n > 1'000'000) return 0;  // not a count: off, as unset
  return static_cast<std::uint32_t>(n);
}

std::unique_ptr<Poller> make_uring_poller_or_epoll(Backend* chosen, const UringFeatures& features) {
  try {
    auto p = std::make_unique<UringPoller>(features);
    if (chosen != nullptr) *chosen = Backend::io_uring;
    return p;
  } catch (const std::system_error&) {
    if (chosen != nullptr) *chosen = Backend::epoll;
    return make_epoll_poller();
  }
}

}  // namespace spindle::aio::detail
