#include "spindle/process/process.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <deque>

#include "runtime.hpp"
#include "spindle/core/errors.hpp"
#include "spindle/process/shared_memory.hpp"

namespace spindle::process {

Process::Process(Call target, ProcessOptions options) : target_(std::move(target)), options_(std::move(options)) {
  if (options_.name.empty()) {
    static std::atomic<int> counter{0};
    options_.name = "Process-" + std::to_string(++counter);
  }
}

Process::Process(Process&& o) noexcept
    : target_(std::move(o.target_)),
      options_(std::move(o.options_)),
      pid_(std::exchange(o.pid_, -1)),
      fd_(std::exchange(o.fd_, -1)),
      via_server_(o.via_server_),
      exitcode_(o.exitcode_) {}

Process::~Process() {
  if (pid_ <= 0 || exitcode_) {
    if (fd_ >= 0) ::close(fd_);
    return;
  }
  if (options_.daemon) kill();
  join();
}

void Process::start() {
  if (pid_ > 0) throw InvalidStateError("Process.start: already started");
  detail::Child c = detail::start_child(options_.start_method);
  pid_ = c.pid;
  fd_ = c.fd;
  via_server_ = c.via_server;
  detail::WorkerConfig cfg;
  cfg.one_shot = true;
  cfg.name = options_.name;
  std::string out;
  auto control = detail::Segment::create(sizeof(std::uint64_t), "spindle-process-control");
  append_frame(out, FrameType::config, 0, encode(cfg), 1);
  const std::size_t task_at = out.size();
  std::string payload(reinterpret_cast<const char*>(&target_.id), sizeof target_.id);
  payload += target_.args;
  append_frame(out, FrameType::task, 1, payload, static_cast<std::uint16_t>(target_.fds.size()));
  // Two sends: each frame's descriptors travel with its first byte.
  const bool ok = detail::send_all(fd_, out.data(), task_at, {control->fd()}) &&
                  detail::send_all(fd_, out.data() + task_at, out.size() - task_at, target_.fds);
  (void)ok;  // a child that died at once shows up in join()/exitcode
  // The child has its own copies now; ours would keep pipe ends open (no EOF) for the Process's lifetime.
  for (int f : target_.fds) ::close(f);
  target_.fds.clear();
}

void Process::reap() {
  detail::Child c{pid_, fd_, via_server_};
  const int status = detail::reap_child(c);
  if (WIFSIGNALED(status))
    exitcode_ = -WTERMSIG(status);
  else if (WIFEXITED(status))
    exitcode_ = WEXITSTATUS(status);
  else
    exitcode_ = -1;
  ::close(fd_);
  fd_ = -1;
}

bool Process::join(std::chrono::milliseconds timeout) {
  if (pid_ <= 0) throw InvalidStateError("Process.join: not started");
  if (exitcode_) return true;
  // The channel reaches EOF when the child's last descriptor closes, i.e. when it exits.
  const bool forever = timeout == std::chrono::milliseconds::max();
  const auto deadline =
      forever ? std::chrono::steady_clock::time_point::max() : std::chrono::steady_clock::now() + timeout;
  char buf[4096];
  for (;;) {
    int wait_ms = -1;
    if (!forever) {
      const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() < 0) return false;
      wait_ms = static_cast<int>(std::min<long long>(left.count(), 1 << 30));
    }
    pollfd p{fd_, POLLIN, 0};
    const int r = ::poll(&p, 1, wait_ms);
    if (r < 0 && errno == EINTR) continue;
    if (r == 0) return false;
    std::deque<int> fds;
    const long n = detail::recv_some(fd_, buf, sizeof buf, fds);
    for (int f : fds) ::close(f);
    if (n <= 0 && !(n < 0 && errno == EAGAIN)) {
      reap();
      return true;
    }
  }
}

void Process::join() { join(std::chrono::milliseconds::max()); }

bool Process::is_alive() {
  if (pid_ <= 0 || exitcode_) return false;
  return !join(std::chrono::milliseconds(0));
}

void Process::terminate() noexcept {
  if (pid_ > 0 && !exitcode_) ::kill(pid_, SIGTERM);
}

void Process::kill() noexcept {
  if (pid_ > 0 && !exitcode_) ::kill(pid_, SIGKILL);
}

}  // namespace spindle::process
