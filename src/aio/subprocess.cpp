// Child processes: posix_spawn with pipe redirections, pidfd watching and reaping.

#include "spindle/aio/subprocess.hpp"

#include <fcntl.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

#include "spindle/aio/detail/io_wait.hpp"
#include "spindle/aio/event_loop.hpp"

extern char** environ;

namespace spindle::aio {
namespace detail {

struct ProcState : std::enable_shared_from_this<ProcState> {
  EventLoop* loop = nullptr;
  LoopCore* core = nullptr;
  pid_t pid = -1;
  int pidfd = -1;
  std::optional<int> returncode;
  WaitList waiters;
  std::shared_ptr<ProcState> self;  // held while the child runs: the loop reaps it even with no handle left

  /// Lives inside the pidfd reader callback: if the loop drops the callback (closes) before the child was
  /// reaped, it kills and reaps the child so that nothing outlives the loop unseen.
  struct Guard {
    std::weak_ptr<ProcState> w;
    ~Guard() {
      auto s = w.lock();
      if (!s || s->returncode.has_value()) return;
      s->registered = false;
      ::kill(s->pid, SIGKILL);
      int st = 0;
      while (::waitpid(s->pid, &st, 0) < 0 && errno == EINTR) {
      }
      s->finish(st);
      s->close_pidfd();
      s->self.reset();
    }
  };
  bool registered = false;

  void watch() {
    auto guard = std::make_shared<Guard>();  // built in place: a temporary Guard would fire its destructor
    guard->w = weak_from_this();
    loop->add_reader(pidfd, [this, guard] { try_reap(); });
    registered = true;
    self = shared_from_this();
  }

  void try_reap() {
    int st = 0;
    const pid_t r = ::waitpid(pid, &st, WNOHANG);
    if (r == 0) return;  // spurious
    if (r < 0 && errno == EINTR) return;
    if (r < 0) st = 0;  // ECHILD: someone else reaped it; report 0 rather than hang
    if (registered) {
      registered = false;
      finish(st);  // sets returncode first, so the Guard destroyed by remove_reader does nothing
      loop->remove_reader(pidfd);
    }
    close_pidfd();
    auto keep = std::move(self);  // may be the last reference; released at the end of this scope
    self.reset();
  }

  void finish(int st) {
    if (returncode.has_value()) return;
    if (WIFEXITED(st)) {
      returncode = WEXITSTATUS(st);
    } else if (WIFSIGNALED(st)) {
      returncode = -WTERMSIG(st);
    } else {
      returncode = 0;
    }
    waiters.wake_all();
  }

  void close_pidfd() noexcept {
    if (pidfd >= 0) ::close(pidfd);
    pidfd = -1;
  }

  ~ProcState() { close_pidfd(); }
};

namespace {

struct SpawnFiles {
  posix_spawn_file_actions_t fa;
  SpawnFiles() { posix_spawn_file_actions_init(&fa); }
  ~SpawnFiles() { posix_spawn_file_actions_destroy(&fa); }
  SpawnFiles(const SpawnFiles&) = delete;
  SpawnFiles& operator=(const SpawnFiles&) = delete;
};
struct SpawnAttr {
  posix_spawnattr_t a;
  SpawnAttr() { posix_spawnattr_init(&a); }
  ~SpawnAttr() { posix_spawnattr_destroy(&a); }
  SpawnAttr(const SpawnAttr&) = delete;
  SpawnAttr& operator=(const SpawnAttr&) = delete;
};

void check_rc(int rc, const char* what) {
  if (rc != 0) throw std::system_error(rc, std::generic_category(), what);
}

Process spawn(const std::vector<std::string>& argv, const SubprocessOptions& o) {
  if (argv.empty()) throw std::invalid_argument("create_subprocess_exec: empty argv");
  if (o.stdin_ == Redirect::stdout_ || o.stdout_ == Redirect::stdout_) {
    throw std::invalid_argument("Redirect::stdout_ is only valid for stderr");
  }
  EventLoop& loop = EventLoop::get_running_loop();
  SpawnFiles files;
  // parent[i] is the parent's end for child fd i; child ends are closed after the spawn.
  FdGuard parent[3];
  FdGuard child[3];
  const Redirect which[3] = {o.stdin_, o.stdout_, o.stderr_};
  for (int i = 0; i < 3; ++i) {
    if (which[i] == Redirect::pipe) {
      int p[2];
      if (::pipe2(p, O_CLOEXEC) < 0) throw_errno("pipe2");
      const int parent_end = i == 0 ? p[1] : p[0];
      const int child_end = i == 0 ? p[0] : p[1];
      parent[i].reset(parent_end);
      child[i].reset(child_end);
      ::fcntl(parent_end, F_SETFL, ::fcntl(parent_end, F_GETFL) | O_NONBLOCK);
      check_rc(posix_spawn_file_actions_adddup2(&files.fa, child_end, i), "posix_spawn_file_actions_adddup2");
    } else if (which[i] == Redirect::devnull) {
      check_rc(posix_spawn_file_actions_addopen(&files.fa, i, "/dev/null", i == 0 ? O_RDONLY : O_WRONLY, 0),
               "posix_spawn_file_actions_addopen");
    } else if (which[i] == Redirect::stdout_) {
      check_rc(posix_spawn_file_actions_adddup2(&files.fa, 1, 2), "posix_spawn_file_actions_adddup2");
    }
  }
  SpawnAttr attr;
  sigset_t none;
  sigset_t all;
  sigemptyset(&none);
  sigfillset(&all);
  check_rc(posix_spawnattr_setsigmask(&attr.a, &none), "posix_spawnattr_setsigmask");
  check_rc(posix_spawnattr_setsigdefault(&attr.a, &all), "posix_spawnattr_setsigdefault");
  check_rc(posix_spawnattr_setflags(&attr.a, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF),
           "posix_spawnattr_setflags");

  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  const int rc = ::posix_spawnp(&pid, args[0], &files.fa, &attr.a, args.data(), environ);
  if (rc != 0) throw std::system_error(rc, std::generic_category(), "spawn " + argv[0]);
  for (auto& c : child) c.reset(-1);

  auto s = std::make_shared<ProcState>();
  s->loop = &loop;
  s->core = &loop.core();
  s->pid = pid;
  s->pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (s->pidfd < 0) {
    const int e = errno;
    ::kill(pid, SIGKILL);
    int st = 0;
    while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    throw std::system_error(e, std::generic_category(), "pidfd_open");
  }
  s->watch();

  StreamWriter in;
  StreamReader out;
  StreamReader err;
  if (parent[0].get() >= 0) in = StreamWriter(make_stream_transport(parent[0].release(), false, false, true, o.limit));
  if (parent[1].get() >= 0) out = StreamReader(make_stream_transport(parent[1].release(), false, true, false, o.limit));
  if (parent[2].get() >= 0) err = StreamReader(make_stream_transport(parent[2].release(), false, true, false, o.limit));
  return Process(std::move(s), std::move(in), std::move(out), std::move(err));
}

}  // namespace
}  // namespace detail

Process::Process(std::shared_ptr<detail::ProcState> s, StreamWriter in, StreamReader out, StreamReader err) noexcept
    : s_(std::move(s)), in_(std::move(in)), out_(std::move(out)), err_(std::move(err)) {}

int Process::pid() const noexcept { return s_ ? s_->pid : -1; }

std::optional<int> Process::returncode() const noexcept { return s_ ? s_->returncode : std::nullopt; }

Task<int> Process::wait() {
  if (!s_) throw InvalidStateError("empty process");
  auto s = s_;
  while (!s->returncode.has_value()) co_await detail::ListWait(s->waiters);
  co_return *s->returncode;
}

Task<CommunicateResult> Process::communicate(std::string input) {
  if (!s_) throw InvalidStateError("empty process");
  std::optional<Task<std::string>> out_task;
  std::optional<Task<std::string>> err_task;
  if (out_.valid()) out_task = create_task(out_.read(-1));
  if (err_.valid()) err_task = create_task(err_.read(-1));
  CommunicateResult r;
  std::exception_ptr error;
  try {
    if (in_.valid() && !in_.is_closing()) {
      if (!input.empty()) {
        in_.write(input);
        try {
          co_await in_.drain();
        } catch (const std::system_error& e) {
          if (e.code().value() != EPIPE && e.code().value() != ECONNRESET) throw;
        }
      }
      in_.close();
    }
    if (out_task) r.out = co_await *out_task;
    if (err_task) r.err = co_await *err_task;
    r.returncode = co_await wait();
  } catch (...) {
    error = std::current_exception();
  }
  if (error) {
    if (out_task && !out_task->done()) out_task->cancel();
    if (err_task && !err_task->done()) err_task->cancel();
    std::rethrow_exception(error);
  }
  co_return r;
}

void Process::send_signal(int sig) {
  if (!s_ || s_->returncode.has_value() || s_->pidfd < 0) return;
  // Through the pidfd: never a recycled pid.
  if (::syscall(SYS_pidfd_send_signal, s_->pidfd, sig, nullptr, 0) < 0 && errno != ESRCH) {
    detail::throw_errno("pidfd_send_signal");
  }
}

Task<Process> create_subprocess_exec(std::vector<std::string> argv, SubprocessOptions options) {
  co_return detail::spawn(argv, options);
}

Task<Process> create_subprocess_shell(std::string command, SubprocessOptions options) {
  co_return detail::spawn({"/bin/sh", "-c", std::move(command)}, options);
}

}  // namespace spindle::aio
