// EventLoop's signal handling: the C handler, the wake-up pipe and the handler table (signals.hpp).

#include "signals.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <stdexcept>
#include <system_error>
#include <vector>

namespace spindle::aio::detail {
namespace {

// The write end of the handling loop's pipe (-1: no loop handles signals).
std::atomic<int> g_signal_fd{-1};

extern "C" void spindle_aio_signal_handler(int sig) {
  const int saved = errno;
  const int fd = g_signal_fd.load(std::memory_order_relaxed);
  if (fd >= 0) {
    const auto b = static_cast<unsigned char>(sig);
    [[maybe_unused]] const ssize_t r = ::write(fd, &b, 1);
  }
  errno = saved;
}

}  // namespace

void SignalSet::add(int sig, std::function<void()> fn, LoopCore* loop, Poller& poller) {
  if (sig <= 0 || sig >= 64 || sig == SIGKILL || sig == SIGSTOP) {
    throw std::invalid_argument("add_signal_handler: bad signal");
  }
  if (read_ < 0) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) < 0) throw std::system_error(errno, std::generic_category(), "pipe2");
    int expected = -1;
    if (!g_signal_fd.compare_exchange_strong(expected, fds[1])) {
      ::close(fds[0]);
      ::close(fds[1]);
      throw InvalidStateError("add_signal_handler: another event loop handles signals");
    }
    read_ = fds[0];
    write_ = fds[1];
    poller.update(read_, true, false);
  }
  auto* cb = new CallbackImpl<std::function<void()>>(loop, 1, std::move(fn));
  auto it = sigs_.find(sig);
  if (it != sigs_.end()) {
    it->second.cb->cancel();
    it->second.cb->unref();
    it->second.cb = cb;
    return;
  }
  Sig s;
  s.cb = cb;
  struct sigaction sa {};
  sa.sa_handler = spindle_aio_signal_handler;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  if (::sigaction(sig, &sa, &s.old) < 0) {
    cb->unref();
    throw std::system_error(errno, std::generic_category(), "sigaction");
  }
  sigs_.emplace(sig, s);
}

bool SignalSet::remove(int sig, Poller* poller) {
  const auto it = sigs_.find(sig);
  if (it == sigs_.end()) return false;
  ::sigaction(sig, &it->second.old, nullptr);
  it->second.cb->cancel();
  it->second.cb->unref();
  sigs_.erase(it);
  if (sigs_.empty() && read_ >= 0) {
    int expected = write_;
    g_signal_fd.compare_exchange_strong(expected, -1);
    if (poller != nullptr) poller->update(read_, false, false);
    ::close(read_);
    ::close(write_);
    read_ = write_ = -1;
  }
  return true;
}

void SignalSet::remove_all(Poller* poller) {
  std::vector<int> sigs;
  for (auto& [sig, s] : sigs_) sigs.push_back(sig);
  for (int sig : sigs) remove(sig, poller);
}

void SignalSet::close_pipe() noexcept {
  if (read_ >= 0) {
    ::close(read_);
    ::close(write_);
    read_ = write_ = -1;
  }
}

bool SignalSet::dispatch(int fd) noexcept {
  if (fd != read_) return false;
  unsigned char buf[64];
  ssize_t n;
  while ((n = ::read(read_, buf, sizeof buf)) > 0) {
    for (ssize_t i = 0; i < n; ++i) {
      const auto it = sigs_.find(buf[i]);
      if (it != sigs_.end() && it->second.cb != nullptr) it->second.cb->enqueue();
    }
  }
  return true;
}

}  // namespace spindle::aio::detail
