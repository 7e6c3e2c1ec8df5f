#pragma once
// The I/O backends behind EventLoop (epoll, io_uring) and their shared parts. Internal to src/aio.

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string_view>
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
  /// A completion receive (start_recv): `n` bytes at `data` (valid until the next poll()), 0 for the peer's
  /// EOF, or -errno.
  bool received = false;
  const char* data = nullptr;
  std::ptrdiff_t n = 0;
  /// A completion send (send) ended: `n` bytes taken or -errno; the `unsent` bytes at `data` (valid until the
  /// next poll()) were not.
  bool sent = false;
  std::size_t unsent = 0;
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

  // ---- completion receive (io_uring): the kernel receives into the poller's buffers, no readiness step ----
  /// Whether start_recv works here (io_uring with multishot receive and provided buffers).
  virtual bool completion_recv() const noexcept { return false; }
  /// Starts, or resumes after stop_recv, receiving on stream socket `fd`: poll() then reports its data, EOF
  /// and errors as `received` events, in order. Not for an fd with readiness interest (update()).
  virtual void start_recv(int /*fd*/) { throw std::logic_error("this I/O backend has no completion receive"); }
  /// Stops receiving on `fd`; what the kernel already received is still reported.
  virtual void stop_recv(int /*fd*/) noexcept {}
  /// Ends receiving on `fd`: nothing more is reported for it, so the fd may be closed and its number reused.
  virtual void forget_recv(int /*fd*/) noexcept {}

  // ---- completion send (io_uring): the kernel sends from the poller's copy, no send() call ----
  /// Whether send works here (io_uring with IORING_OP_SEND).
  virtual bool completion_send() const noexcept { return false; }
  /// Sends a copy of `d` on stream socket `fd`, submitted with the next poll(); poll() then reports a `sent`
  /// event. At most one send per fd at a time: the caller waits for its event before the next.
  virtual void send(int /*fd*/, std::string_view /*d*/) {
    throw std::logic_error("this I/O backend has no completion send");
  }
  /// Ends the send in flight on `fd`, if any (cancelled): nothing more is reported for it. The owner calls it
  /// before closing an fd it sent on (io_uring's registered-file table lets go of the socket then).
  virtual void forget_send(int /*fd*/) noexcept {}
  /// Sockets in io_uring's registered-file table now (tests).
  virtual std::size_t fixed_files() const noexcept { return 0; }
};

std::unique_ptr<Poller> make_epoll_poller();

}  // namespace spindle::aio::detail
