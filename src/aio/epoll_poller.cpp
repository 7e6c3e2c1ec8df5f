// The epoll backend: level-triggered interest per fd, and an eventfd for wake-ups from other threads.

#include <sys/epoll.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>
#include <system_error>
#include <unordered_map>

#include "poller.hpp"
#include "spindle/aio/net.hpp"  // detail::throw_errno

namespace spindle::aio::detail {
namespace {

class EpollPoller final : public Poller {
 public:
  EpollPoller() {
    ep_ = ::epoll_create1(EPOLL_CLOEXEC);
    if (ep_ < 0) throw_errno("epoll_create1");
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = wake_.fd();
    if (::epoll_ctl(ep_, EPOLL_CTL_ADD, wake_.fd(), &ev) < 0) {
      const int e = errno;
      ::close(ep_);
      throw std::system_error(e, std::generic_category(), "epoll_ctl(eventfd)");
    }
  }
  ~EpollPoller() override { ::close(ep_); }
  EpollPoller(const EpollPoller&) = delete;
  EpollPoller& operator=(const EpollPoller&) = delete;

  void update(int fd, bool read, bool write) override {
    const auto it = interest_.find(fd);
    const bool known = it != interest_.end();
    if (!read && !write) {
      if (known) {
        ::epoll_ctl(ep_, EPOLL_CTL_DEL, fd, nullptr);  // the fd may already be closed: nothing to undo
        interest_.erase(it);
      }
      return;
    }
    epoll_event ev{};
    ev.events = (read ? EPOLLIN : 0u) | (write ? EPOLLOUT : 0u);
    ev.data.fd = fd;
    if (::epoll_ctl(ep_, known ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &ev) < 0) throw_errno("epoll_ctl");
    interest_[fd] = ev.events;
  }

  void poll(std::int64_t timeout_ns, std::vector<PollEvent>& out) override {
    epoll_event events[64];
    const int n = wait(timeout_ns, events, 64);
    if (n < 0) {
      if (errno == EINTR) return;
      throw_errno("epoll_wait");
    }
    for (int i = 0; i < n; ++i) {
      const int fd = events[i].data.fd;
      if (fd == wake_.fd()) {
        wake_.drain();
        continue;
      }
      const std::uint32_t e = events[i].events;
      out.push_back(
          PollEvent{fd, (e & (EPOLLIN | EPOLLHUP | EPOLLERR)) != 0, (e & (EPOLLOUT | EPOLLHUP | EPOLLERR)) != 0});
    }
  }

  void wake() noexcept override { wake_.signal(); }

 private:
  // epoll_pwait2 takes the timeout in nanoseconds, so a timer fires when due instead of up to 1 ms late, as
  // with epoll_wait's milliseconds (libuv's and asyncio's resolution). Kernels before 5.11 lack it (ENOSYS; an
  // older container seccomp profile says EPERM): then milliseconds, rounded up, as a timer must never fire early (the
  // loop re-checks its deadlines after).
  int wait(std::int64_t timeout_ns, epoll_event* events, int max) {
    if (have_pwait2_) {
      timespec ts{};
      ts.tv_sec = static_cast<time_t>(timeout_ns / 1'000'000'000);
      ts.tv_nsec = static_cast<long>(timeout_ns % 1'000'000'000);
      const int n = ::epoll_pwait2(ep_, events, max, timeout_ns >= 0 ? &ts : nullptr, nullptr);
      if (n >= 0 || (errno != ENOSYS && errno != EPERM)) return n;
      have_pwait2_ = false;
    }
    int ms = -1;
    if (timeout_ns >= 0) {
      const std::int64_t m = (timeout_ns + 999'999) / 1'000'000;
      ms = m > 1'000'000'000 ? 1'000'000'000 : static_cast<int>(m);
    }
    return ::epoll_wait(ep_, events, max, ms);
  }

  bool have_pwait2_ = true;
  WakeFd wake_;  // before ep_ is made, closed after it
  int ep_ = -1;
  std::unordered_map<int, std::uint32_t> interest_;
};

}  // namespace

std::unique_ptr<Poller> make_epoll_poller() { return std::make_unique<EpollPoller>(); }

}  // namespace spindle::aio::detail
