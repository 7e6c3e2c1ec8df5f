// Starting and running worker processes: the registry, the bootstrap static initialiser that turns an
// exec'd copy of the program into a worker or a forkserver, the forkserver itself, and the worker loop.

#include "runtime.hpp"

#include <cxxabi.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <poll.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <fstream>
#include <mutex>
#include <set>
#include <string>
#include <system_error>
#include <thread>
#include <typeinfo>
#include <unordered_map>

#include "spindle/process/registry.hpp"
#include "spindle/process/shared_memory.hpp"

extern char** environ;

namespace spindle::process {

// ---------------------------------------------------------------------------------------------------------
// Registry

namespace detail {
namespace {
std::unordered_map<std::uint64_t, FunctionEntry>& table() {
  static auto* t = new std::unordered_map<std::uint64_t, FunctionEntry>();  // never destroyed: used at exit
  return *t;
}
}  // namespace

void register_function(const FunctionEntry& entry) noexcept {
  auto [it, inserted] = table().emplace(entry.id, entry);
  if (inserted || it->second.invoke == entry.invoke) return;
  if (it->second.name != entry.name) {
    std::fprintf(stderr, "spindle::process: function id collision between '%.*s' and '%.*s'\n",
                 static_cast<int>(entry.name.size()), entry.name.data(), static_cast<int>(it->second.name.size()),
                 it->second.name.data());
    std::abort();
  }
#if defined(__clang__)
  // Same name, same signature, different code: clang 14 names every specialisation of a function template
  // alike. (g++ names them apart; there a differing invoker is one function instantiated in two shared
  // libraries with hidden visibility, which is harmless.)
  std::fprintf(stderr,
               "spindle::process: two functions register as '%.*s' with one signature (clang names the "
               "specialisations of a function template alike); give each a plain function wrapper\n",
               static_cast<int>(entry.name.size()), entry.name.data());
  std::abort();
#endif
}

const FunctionEntry* find_function(std::uint64_t id) noexcept {
  auto& t = table();
  auto it = t.find(id);
  return it == t.end() ? nullptr : &it->second;
}
}  // namespace detail

Call& Call::operator=(Call&& o) noexcept {
  if (this != &o) {
    for (int fd : fds) ::close(fd);
    id = o.id;
    name = o.name;
    args = std::move(o.args);
    fds = std::move(o.fds);
    o.fds.clear();
  }
  return *this;
}

Call::~Call() {
  for (int fd : fds) ::close(fd);
}

namespace detail {

// ---------------------------------------------------------------------------------------------------------
// Socket I/O

bool send_all(int fd, const char* data, std::size_t size, const std::vector<int>& fds) {
  bool first = true;
  while (size > 0 || (first && !fds.empty())) {
    msghdr msg{};
    iovec iov{const_cast<char*>(data), size};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFdsPerFrame)];
    if (first && !fds.empty()) {
      msg.msg_control = control;
      msg.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
      cmsghdr* c = CMSG_FIRSTHDR(&msg);
      c->cmsg_level = SOL_SOCKET;
      c->cmsg_type = SCM_RIGHTS;
      c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
      std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
    }
    const ssize_t n = ::sendmsg(fd, &msg, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) {
        pollfd p{fd, POLLOUT, 0};
        ::poll(&p, 1, -1);
        continue;
      }
      return false;
    }
    first = false;
    data += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

long recv_some(int fd, char* buf, std::size_t size, std::deque<int>& fds) {
  for (;;) {
    msghdr msg{};
    iovec iov{buf, size};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFdsPerFrame)];
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    const ssize_t n = ::recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
    if (n < 0 && errno == EINTR) continue;
    if (n >= 0) {
      for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
          const std::size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
          for (std::size_t i = 0; i < count; ++i) {
            int v;
            std::memcpy(&v, CMSG_DATA(c) + i * sizeof(int), sizeof v);
            fds.push_back(v);
          }
        }
      }
      if (msg.msg_flags & MSG_CTRUNC) {
        errno = EPROTO;  // descriptors were dropped: the stream can no longer be trusted
        return -1;
      }
    }
    return n;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Errors

void describe_current_exception(std::string& type, std::string& message) {
  std::type_info* ti = abi::__cxa_current_exception_type();
  type = "unknown";
  if (ti) {
    int status = 0;
    char* d = abi::__cxa_demangle(ti->name(), nullptr, nullptr, &status);
    type = (status == 0 && d) ? d : ti->name();
    std::free(d);
  }
  message.clear();
  try {
    throw;
  } catch (const std::exception& e) {
    message = e.what();
  } catch (...) {
  }
}

std::string error_payload() {
  std::string type, message;
  describe_current_exception(type, message);
  return encode(std::make_pair(type, message));
}

std::exception_ptr remote_error(const char* data, std::size_t size) {
  try {
    auto [type, message] = decode<std::pair<std::string, std::string>>(data, size);
    return std::make_exception_ptr(RemoteError(std::move(type), std::move(message)));
  } catch (...) {
    return std::current_exception();
  }
}

std::string describe_status(int status) {
  if (WIFSIGNALED(status)) {
    const int sig = WTERMSIG(status);
    const char* abbrev = sigabbrev_np(sig);
    return "killed by signal " + std::to_string(sig) + " (SIG" + (abbrev ? abbrev : "?") + ")";
  }
  if (WIFEXITED(status)) return "exited with code " + std::to_string(WEXITSTATUS(status));
  return "ended with status " + std::to_string(status);
}

// ---------------------------------------------------------------------------------------------------------
// The worker loop

namespace {

[[noreturn]] void quit(int code) {
  std::fflush(nullptr);
  ::_exit(code);
}

void send_frame(int fd, FrameType type, std::uint64_t id, std::string_view payload) {
  std::string out;
  append_frame(out, type, id, payload);
  if (!send_all(fd, out.data(), out.size(), {})) quit(0);
}

void close_fds(std::vector<int>& fds) {
  for (int f : fds)
    if (f >= 0) ::close(f);
  fds.clear();
}

// Claims the task with ordinal `seq`: true if it may run here, false if the parent revoked it. A Process's
// 8-byte block only records the ordinal (nobody revokes a Process's one task).
bool claim_task(Segment& control, std::uint64_t bytes, std::uint64_t seq) {
  if (bytes < sizeof(ControlBlock)) {
    std::atomic_ref<std::uint64_t>(*static_cast<std::uint64_t*>(control.data())).store(seq, std::memory_order_release);
    return true;
  }
  std::atomic_ref<std::uint64_t> claim(static_cast<ControlBlock*>(control.data())->claim);
  std::uint64_t c = claim.load(std::memory_order_acquire);
  for (;;) {
    if (c & ControlBlock::kRevoked) return false;
    // Acquire on failure: a revoking CAS publishes revoke_through, read next.
    if (claim.compare_exchange_weak(c, seq, std::memory_order_acq_rel, std::memory_order_acquire)) return true;
  }
}

}  // namespace

void worker_main(int fd) {
  ::signal(SIGINT, SIG_IGN);  // Ctrl-C is the parent's to coordinate (RELIABILITY T12)
  ::signal(SIGPIPE, SIG_IGN);
  FrameReader reader(kDefaultMaxFrameBytes);
  std::deque<int> received;
  WorkerConfig cfg;
  bool configured = false;
  std::uint64_t done = 0;
  std::string out;
  std::vector<int> out_fds;
  std::vector<int> in_fds;
  std::shared_ptr<Segment> control;  // where the parent reads which task this worker started

  for (;;) {
    auto area = reader.write_area(64 * 1024);
    const long n = recv_some(fd, area.data(), area.size(), received);
    if (n == 0) quit(0);  // the parent closed the channel (shutdown) or died
    if (n < 0) quit(2);
    reader.commit(static_cast<std::size_t>(n));
    Frame f;
    try {
      while (reader.next(f)) {
        in_fds.clear();
        for (int i = 0; i < f.header.nfds; ++i) {
          if (received.empty()) throw ProtocolError("worker: frame announces descriptors that never came");
          in_fds.push_back(received.front());
          received.pop_front();
        }
        if (!configured) {
          if (f.type() != FrameType::config) throw ProtocolError("worker: first frame is not a config frame");
          cfg = decode<WorkerConfig>(f.payload.data(), f.payload.size());
          configured = true;
          if (in_fds.empty()) throw ProtocolError("worker: config frame without its control block");
          if (cfg.control_bytes != sizeof(std::uint64_t) && cfg.control_bytes != sizeof(ControlBlock))
            throw ProtocolError("worker: bad control block size");
          control = Segment::adopt(std::exchange(in_fds[0], -1), cfg.control_bytes);
          in_fds.erase(in_fds.begin());
          if (cfg.rlimit_as) {
            rlimit r{cfg.rlimit_as, cfg.rlimit_as};
            ::setrlimit(RLIMIT_AS, &r);
          }
          if (cfg.rlimit_cpu_s) {
            rlimit r{cfg.rlimit_cpu_s, cfg.rlimit_cpu_s + 1};
            ::setrlimit(RLIMIT_CPU, &r);
          }
          if (!cfg.name.empty()) ::prctl(PR_SET_NAME, cfg.name.c_str(), 0, 0, 0);
          if (cfg.init_id) {
            try {
              const FunctionEntry* e = find_function(cfg.init_id);
              if (!e) throw ProtocolError("initializer: unknown function id");
              Reader args(cfg.init_args.data(), cfg.init_args.size(), &in_fds);
              std::string ignored;
              Writer result(ignored);
              e->invoke(args, result);
            } catch (...) {
              send_frame(fd, FrameType::init_failed, 0, error_payload());
              quit(3);
            }
          }
          close_fds(in_fds);
          const std::int32_t pid = ::getpid();
          send_frame(fd, FrameType::hello, 0, std::string_view(reinterpret_cast<const char*>(&pid), sizeof pid));
          continue;
        }
        if (f.type() != FrameType::task) throw ProtocolError("worker: unexpected frame type");
        if (!claim_task(*control, cfg.control_bytes, f.header.id)) {
          // The parent took this task back before it started (it runs elsewhere): skip it, and once past
          // the last revoked ordinal, close the revocation and tell the parent.
          close_fds(in_fds);
          auto* block = static_cast<ControlBlock*>(control->data());
          const std::uint64_t through =
              std::atomic_ref<std::uint64_t>(block->revoke_through).load(std::memory_order_acquire);
          if (f.header.id > through) throw ProtocolError("worker: a task was sent during a revocation");
          if (f.header.id == through) {
            std::atomic_ref<std::uint64_t>(block->claim).store(through, std::memory_order_release);
            send_frame(fd, FrameType::hello, through, {});
          }
          continue;
        }
        // The reply is encoded behind a header placeholder, patched once the payload length is known.
        out.assign(sizeof(FrameHeader), '\0');
        out_fds.clear();
        FrameType type = FrameType::result;
        bool failed = false;
        try {
          if (f.payload.size() < sizeof(std::uint64_t)) throw ProtocolError("worker: short task frame");
          std::uint64_t id;
          std::memcpy(&id, f.payload.data(), sizeof id);
          const FunctionEntry* e = find_function(id);
          if (!e) throw ProtocolError("worker: task names a function id that is not registered");
          Reader args(f.payload.data() + sizeof id, f.payload.size() - sizeof id, &in_fds);
          Writer result(out, &out_fds);
          e->invoke(args, result);
        } catch (...) {
          failed = true;
          out.resize(sizeof(FrameHeader));
          close_fds(out_fds);
          type = FrameType::error;
          out += error_payload();
          if (cfg.one_shot) {
            std::string t, m;
            describe_current_exception(t, m);
            std::fprintf(stderr, "Process %s: %s: %s\n", cfg.name.c_str(), t.c_str(), m.c_str());
          }
        }
        close_fds(in_fds);
        FrameHeader h{kFrameMagic, static_cast<std::uint16_t>(type), static_cast<std::uint16_t>(out_fds.size()),
                      static_cast<std::uint32_t>(out.size() - sizeof(FrameHeader)), 0, f.header.id};
        std::memcpy(out.data(), &h, sizeof h);
        if (!send_all(fd, out.data(), out.size(), out_fds)) quit(0);
        close_fds(out_fds);
        ++done;
        if (cfg.one_shot) quit(failed ? 1 : 0);
        if (cfg.max_tasks && done >= cfg.max_tasks) quit(0);
      }
    } catch (const std::exception& e) {
      std::fprintf(stderr, "spindle worker %d: %s\n", static_cast<int>(::getpid()), e.what());
      quit(4);
    }
  }
}

// ---------------------------------------------------------------------------------------------------------
// Starting processes

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
  if (pid < 0) throw std::system_error(errno, std::generic_category(), "fork");
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
  if (::socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, sv) != 0)
    throw std::system_error(errno, std::generic_category(), "socketpair");
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
          if (reply < 0) throw std::system_error(-reply, std::generic_category(), "forkserver fork");
          return reply;
        }
      }
      restart_locked();  // the server died: start a new one and try once more
    }
    throw std::system_error(EPIPE, std::generic_category(), "forkserver unreachable");
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
        const pid_t pid = ::fork();
        if (pid < 0) throw std::system_error(errno, std::generic_category(), "fork");
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
