#pragma once
// The I/O backends behind EventLoop (epoll, io_uring) and their shared parts. Internal to src/aio.

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <memory>
#include <system_error>
#include <vector>

namespace spindle::aio::detail {

/// The eventfd that ends a poller's wait from another thread; shared by every backend.
class WakeFd {
 public:
  WakeFd() : fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
    if (fd_ < 0) throw std::system_error(errno, std::generic_category(), "eventfd");
  }
  ~WakeFd() { ::close(fd_); }
  WakeFd(const WakeFd&) = delete;
  WakeFd& operator=(const WakeFd&) = delete;
  int fd() const noexcept { return fd_; }
  /// Makes the fd readable (any thread).
  void signal() noexcept {
    const std::uint64_t one = 1;
    ssize_t r;
    do {
      r = ::write(fd_, &one, sizeof one);
    } while (r < 0 && errno == EINTR);
  }
  /// Consumes the wake-ups so far (the poller's thread).
  void drain() noexcept {
    std::uint64_t v;
    while (::read(fd_, &v, sizeof v) > 0) {
    }
  }

 private:
  int fd_;
};

struct PollEvent {
  int fd;
  bool readable;
  bool writable;
};

class Poller {
 public:
  virtual ~Poller() = default;
  /// Sets the interest for `fd`; both false removes it.
  virtual void update(int fd, bool read, bool write) = 0;
  /// Waits up to `timeout_ns` (-1: forever, 0: just look) and appends ready fds to `out`. A wake() ends the
  /// wait without producing an event.
  virtual void poll(std::int64_t timeout_ns, std::vector<PollEvent>& out) = 0;
  /// Ends a wait in progress or the next one. Callable from any thread (eventfd).
  virtual void wake() noexcept = 0;
};

std::unique_ptr<Poller> make_epoll_poller();

}  // namespace spindle::aio::detail
