// The io_uring backend: the Poller interface on one-shot IORING_OP_POLL_ADD requests. Each fd with interest has
// at most one poll in flight; a completion reports readiness and the poll is re-armed at the next poll() call,
// so a still-ready fd reports again at once: epoll's level-triggered contract, which the loop relies on.
// Interest changes cancel the old request (IORING_OP_POLL_REMOVE) and arm a new one under a new generation
// number; completions of older generations are ignored.

#include <liburing.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <system_error>
#include <unordered_map>
#include <vector>

#include "poller.hpp"
#include "spindle/aio/detail/io_backend.hpp"

namespace spindle::aio::detail {
namespace {

constexpr std::uint64_t kIgnore = ~std::uint64_t{0};  // POLL_REMOVE completions
constexpr std::uint64_t kWake = kIgnore - 1;          // the eventfd's poll

std::uint64_t tag(int fd, std::uint32_t gen) noexcept {
  return (static_cast<std::uint64_t>(gen) << 32) | static_cast<std::uint32_t>(fd);
}

class UringPoller final : public Poller {
 public:
  /// Throws std::system_error(-rc) if the ring cannot be set up (the factory then falls back to epoll).
  UringPoller() {
    const int rc = io_uring_queue_init(1024, &ring_, 0);
    if (rc < 0) throw std::system_error(-rc, std::generic_category(), "io_uring_queue_init");
    arm_wake();
  }
  ~UringPoller() override {
    io_uring_queue_exit(&ring_);  // cancels what is in flight (before wake_ closes)
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

  void poll(std::int64_t timeout_ns, std::vector<PollEvent>& out) override {
    for (int fd : dirty_) {
      auto it = fds_.find(fd);
      if (it == fds_.end() || it->second.armed) continue;
      io_uring_sqe* sqe = get_sqe();
      io_uring_prep_poll_add(sqe, fd, it->second.mask);
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
  }

  void wake() noexcept override { wake_.signal(); }

 private:
  struct Interest {
    unsigned mask = 0;
    std::uint32_t gen = 0;
    bool armed = false;
  };

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
    const int fd = static_cast<int>(static_cast<std::uint32_t>(data));
    const auto gen = static_cast<std::uint32_t>(data >> 32);
    auto it = fds_.find(fd);
    if (it == fds_.end() || it->second.gen != gen) return;  // a cancelled or superseded request
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
};

}  // namespace

std::unique_ptr<Poller> make_uring_poller_or_epoll(Backend* chosen) {
  try {
    auto p = std::make_unique<UringPoller>();
    if (chosen != nullptr) *chosen = Backend::io_uring;
    return p;
  } catch (const std::system_error&) {
    if (chosen != nullptr) *chosen = Backend::epoll;
    return make_epoll_poller();
  }
}

}  // namespace spindle::aio::detail
