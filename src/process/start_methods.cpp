// Starting worker processes under each start method (fork, spawn = fork + exec of the program, forkserver),
// reaping them, the forkserver itself, and the bootstrap static initialiser that turns an exec'd copy of the
// program into a worker or a forkserver before main runs.

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "fd_passing.hpp"
#include "os_error.hpp"
#include "runtime.hpp"
#include "spindle/process/registry.hpp"

extern char** environ;

namespace spindle::process {
namespace detail {

namespace {

constexpr const char* kRoleVar = "SPINDLE_PROCESS_ROLE";

// Everything execve needs, prepared before fork so that the child only makes async-signal-safe calls.
struct ExecPlan {
  std::vector<std::string> env_storage;
  std::vector<char*> envp;
  std::string argv0;
  std::vector<char*> argv;
  ExecPlan(const char* role, int fd) {
    for (char** e = environ; e && *e; ++e)
      if (std::strncmp(*e, kRoleVar, std::strlen(kRoleVar)) != 0) env_storage.emplace_back(*e);
    env_storage.push_back(std::string(kRoleVar) + "=" + role + ":" + std::to_string(fd));
    for (auto& s : env_storage) envp.push_back(s.data());
    envp.push_back(nullptr);
    std::ifstream cmd("/proc/self/cmdline", std::ios::binary);
    std::getline(cmd, argv0, '\0');
    if (argv0.empty()) argv0 = "spindle-worker";
    argv = {argv0.data(), nullptr};
  }
};

// fork + execve of /proc/self/exe. The child makes only async-signal-safe calls.
pid_t exec_self(const char* role, int child_fd, bool pdeathsig) {
  ExecPlan plan(role, child_fd);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) detail::throw_os_error(errno, "fork");
  if (pid == 0) {
    if (pdeathsig) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(1);
    }
    ::fcntl(child_fd, F_SETFD, 0);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::signal(SIGINT, SIG_IGN);
    ::execve("/proc/self/exe", plan.argv.data(), plan.envp.data());
    ::_exit(127);
  }
  return pid;
}

std::pair<int, int> make_socketpair(int type) {
  int sv[2];
  if (::socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, sv) != 0) detail::throw_os_error(errno, "socketpair");
  if (type == SOCK_STREAM) {
    // Bigger buffers: fewer wake-ups per large payload and more pipelined tasks per system call.
    const int bytes = 1 << 20;
    for (int fd : sv) {
      ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof bytes);
      ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes);
    }
  }
  return {sv[0], sv[1]};
}

int reap_direct(pid_t pid, std::chrono::milliseconds grace) {
  int status = 0;
  const auto deadline = std::chrono::steady_clock::now() + grace;
  for (;;) {
    const pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) return status;
    if (r < 0 && errno != EINTR) return 0;
    if (std::chrono::steady_clock::now() >= deadline) break;
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  ::kill(pid, SIGKILL);
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return status;
}

// The forkserver: a clean copy of the program (exec'd, one thread) that forks workers on request.
// Protocol on its SOCK_SEQPACKET control socket: 'F' + a channel descriptor -> fork a worker on it, reply
// with its pid (or -errno); 'R' + pid -> reap it (SIGKILL after a grace period), reply with the wait status.
// Workers stay zombies until the parent asks, so a pid the parent holds is never reused under it.
[[noreturn]] void server_main(int ctl) {
  ::signal(SIGINT, SIG_IGN);
  ::signal(SIGPIPE, SIG_IGN);
  ::signal(SIGCHLD, SIG_DFL);
  const pid_t self = ::getpid();
  std::set<pid_t> children;
  for (;;) {
    char buf[16];
    std::deque<int> fds;
    const long n = recv_some(ctl, buf, sizeof buf, fds);
    if (n <= 0) {  // the parent exited: take the workers with us (they also have PDEATHSIG)
      for (pid_t p : children) ::kill(p, SIGKILL);
      for (pid_t p : children) ::waitpid(p, nullptr, 0);
      ::_exit(0);
    }
    if (buf[0] == 'F' && fds.size() == 1) {
      const int chan = fds.front();
      const pid_t pid = ::fork();
      if (pid == 0) {
        ::close(ctl);
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (::getppid() != self) ::_exit(1);
        worker_main(chan);
      }
      ::close(chan);
      const std::int32_t reply = pid < 0 ? -errno : pid;
      if (pid > 0) children.insert(pid);
      ::send(ctl, &reply, sizeof reply, MSG_NOSIGNAL);
    } else if (buf[0] == 'R' && n >= 1 + static_cast<long>(sizeof(std::int32_t))) {
      std::int32_t pid;
      std::memcpy(&pid, buf + 1, sizeof pid);
      std::int32_t status = 0;
      if (children.count(pid)) {
        status = reap_direct(pid, std::chrono::milliseconds(1000));
        children.erase(pid);
      }
      ::send(ctl, &status, sizeof status, MSG_NOSIGNAL);
    } else {
      for (int f : fds) ::close(f);
    }
  }
}

class ForkServer {
 public:
  pid_t pid() {
    std::lock_guard lock(m_);
    return pid_;
  }
  void ensure() {
    std::lock_guard lock(m_);
    ensure_locked();
  }
  pid_t fork_worker(int chan) {
    std::lock_guard lock(m_);
    for (int attempt = 0; attempt < 2; ++attempt) {
      ensure_locked();
      const char op = 'F';
      if (send_all(ctl_, &op, 1, {chan})) {
        std::int32_t reply = 0;
        if (::recv(ctl_, &reply, sizeof reply, 0) == static_cast<ssize_t>(sizeof reply)) {
          if (reply < 0) detail::throw_os_error(-reply, "forkserver fork");
          return reply;
        }
      }
      restart_locked();  // the server died: start a new one and try once more
    }
    detail::throw_os_error(EPIPE, "forkserver unreachable");
  }
  int reap(pid_t pid) {
    std::lock_guard lock(m_);
    if (ctl_ < 0) return 0;
    char msg[1 + sizeof(std::int32_t)] = {'R'};
    const std::int32_t p = pid;
    std::memcpy(msg + 1, &p, sizeof p);
    std::int32_t status = 0;
    if (::send(ctl_, msg, sizeof msg, MSG_NOSIGNAL) != static_cast<ssize_t>(sizeof msg) ||
        ::recv(ctl_, &status, sizeof status, 0) != static_cast<ssize_t>(sizeof status)) {
      restart_locked();
      return 0;
    }
    return status;
  }

 private:
  void ensure_locked() {
    if (ctl_ >= 0) return;
    if (std::getenv(kRoleVar)) throw std::logic_error("spindle::process: a helper process may not start a forkserver");
    auto [mine, theirs] = make_socketpair(SOCK_SEQPACKET);
    try {
      // No PDEATHSIG: it fires when the *thread* that forked exits, and the caller may be a short-lived
      // thread. The server exits on EOF of its control socket instead, which only the process's end closes.
      pid_ = exec_self("forkserver", theirs, false);
    } catch (...) {
      ::close(mine);
      ::close(theirs);
      throw;
    }
    ::close(theirs);
    ctl_ = mine;
  }
  void restart_locked() {
    if (ctl_ >= 0) ::close(ctl_);
    ctl_ = -1;
    if (pid_ > 0) reap_direct(pid_, std::chrono::milliseconds(100));
    pid_ = 0;
  }
  std::mutex m_;
  int ctl_ = -1;
  pid_t pid_ = 0;
};

ForkServer& forkserver() {
  static auto* s = new ForkServer();  // never destroyed: the server must outlive every pool
  return *s;
}

// The bootstrap: in an exec'd copy of the program, become a worker or the forkserver before main runs.
// Function registrations run earlier (init_priority 200), so the registry is complete here.
struct Bootstrap {
  Bootstrap() {
    const char* role = std::getenv(kRoleVar);
    if (!role) return;
    std::string r(role);
    ::unsetenv(kRoleVar);
    const auto colon = r.find(':');
    if (colon == std::string::npos) return;
    const int fd = std::atoi(r.c_str() + colon + 1);
    ::fcntl(fd, F_SETFD, FD_CLOEXEC);
    if (r.compare(0, colon, "worker") == 0) worker_main(fd);
    if (r.compare(0, colon, "forkserver") == 0) server_main(fd);
  }
};
// Priority 300: after the registrations (200), before every ordinary static initialiser, so that no user
// initialiser (one that starts a pool, say) runs in a worker or in the forkserver.
__attribute__((init_priority(300))) const Bootstrap bootstrap;

}  // namespace

Child start_child(StartMethod method) {
  auto [mine, theirs] = make_socketpair(SOCK_STREAM);
  Child c;
  c.fd = mine;
  try {
    switch (method) {
      case StartMethod::forkserver:
        c.pid = forkserver().fork_worker(theirs);
        c.via_server = true;
        break;
      case StartMethod::spawn:
        c.pid = exec_self("worker", theirs, true);
        break;
      case StartMethod::fork: {
        auto lookups = hold_function_lookups();
        const pid_t pid = ::fork();
        const int fork_errno = errno;
        lookups.unlock();  // in both processes: the child's copy is held by its only thread, this one
        if (pid < 0) detail::throw_os_error(fork_errno, "fork");
        if (pid == 0) {
          ::prctl(PR_SET_PDEATHSIG, SIGKILL);
          ::close(mine);
          worker_main(theirs);
        }
        c.pid = pid;
        break;
      }
    }
  } catch (...) {
    ::close(mine);
    ::close(theirs);
    throw;
  }
  ::close(theirs);
  return c;
}

int reap_child(const Child& c, std::chrono::milliseconds grace) {
  if (c.pid <= 0) return 0;
  if (c.via_server) return forkserver().reap(c.pid);
  return reap_direct(c.pid, grace);
}

}  // namespace detail

void init() { detail::forkserver().ensure(); }

pid_t forkserver_pid() noexcept {
  try {
    return detail::forkserver().pid();
  } catch (...) {
    return 0;
  }
}

}  // namespace spindle::process
