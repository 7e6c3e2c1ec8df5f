// The epoll backend: level-triggered interest per fd, and an eventfd for wake-ups from other threads.

#include <sys/epoll.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>
#include <unordered_map>

#include "poller.hpp"

namespace spindle::aio::detail {
namespace {

[[noreturn]] void throw_errno(const char* what) { throw std::system_error(errno, std::generic_category(), what); }

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
    int ms = -1;
    if (timeout_ns >= 0) {
      // Round up: a timer must never fire early; the loop re-checks its deadlines after the wait.
      const std::int64_t m = (timeout_ns + 999'999) / 1'000'000;
      ms = m > 1'000'000'000 ? 1'000'000'000 : static_cast<int>(m);
    }
    epoll_event events[64];
    const int n = ::epoll_wait(ep_, events, 64, ms);
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
  WakeFd wake_;  // before ep_ is made, closed after it
  int ep_ = -1;
  std::unordered_map<int, std::uint32_t> interest_;
};

}  // namespace

std::unique_ptr<Poller> make_epoll_poller() { return std::make_unique<EpollPoller>(); }

}  // namespace spindle::aio::detail
