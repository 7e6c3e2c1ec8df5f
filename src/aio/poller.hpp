#pragma once
// The I/O backend behind EventLoop: epoll today; an io_uring backend implements the same interface (the
// networking issue). Internal to src/aio.

#include <cstdint>
#include <memory>
#include <vector>

namespace spindle::aio::detail {

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
