// Helper program for the advisor tests: `advisor_helper cpu THREADS SECONDS` keeps THREADS threads
// computing for SECONDS of wall time each (a parallel CPU-bound program when THREADS > 1);
// `advisor_helper block THREADS SECONDS` keeps THREADS threads blocked in a pipe read for SECONDS (many
// blocking calls in flight at once), then writes to wake them; `advisor_helper phases THREADS SECONDS` sleeps
// for SECONDS (a download), then computes on THREADS threads for SECONDS (the parse): a run in two phases;
// `advisor_helper child THREADS SECONDS` computes for a third of SECONDS itself, then runs `cpu THREADS SECONDS`
// as a child process and waits for it, reading its output pipe to the end (a parent whose work is its child's);
// `advisor_helper helper-socket|helper-pipe THREADS SECONDS` forks a helper that computes for a quarter of SECONDS
// (a forkserver's start-up) and then waits for a request on a Unix socket or a pipe, while the parent computes
// for SECONDS on THREADS threads and then tells it to finish (an idle helper beside a CPU-bound program).

#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

int main(int argc, char** argv) {
  const auto mode = [&](const char* m) { return std::strcmp(argv[1], m) == 0; };
  if (argc != 4 || !(mode("cpu") || mode("block") || mode("phases") || mode("child") || mode("helper-socket") ||
                     mode("helper-pipe"))) {
    std::fprintf(stderr, "usage: advisor_helper cpu|block|phases|child|helper-socket|helper-pipe THREADS SECONDS\n");
    return 2;
  }
  const int threads = std::atoi(argv[2]);
  const auto span = std::chrono::duration<double>(std::atof(argv[3]));
  const auto compute = [](std::chrono::duration<double> how_long) {
    const auto end = std::chrono::steady_clock::now() + how_long;
    unsigned long long total = 0;
    while (std::chrono::steady_clock::now() < end) {
      for (unsigned long long i = 0; i < 100000; ++i) total += i * i;
    }
    return total;
  };
  if (mode("helper-socket") || mode("helper-pipe")) {
    int ends[2];  // [0] the helper reads, [1] the parent writes
    if ((mode("helper-pipe") ? ::pipe(ends) : ::socketpair(AF_UNIX, SOCK_STREAM, 0, ends)) != 0) return 1;
    const pid_t helper = ::fork();
    if (helper < 0) return 1;
    if (helper == 0) {
      ::close(ends[1]);
      if (compute(span / 4) == 0) ::_exit(1);
      char c;
      ::_exit(::read(ends[0], &c, 1) == 1 ? 0 : 1);  // the idle helper's wait for its next request
    }
    ::close(ends[0]);
    std::vector<std::thread> pool;
    std::atomic<unsigned long long> sink{0};
    for (int t = 0; t < threads; ++t) pool.emplace_back([&] { sink += compute(span); });
    for (auto& t : pool) t.join();
    if (::write(ends[1], "x", 1) != 1) return 1;
    int status = 0;
    if (::waitpid(helper, &status, 0) != helper) return 1;
    return sink.load() != 0 && WIFEXITED(status) ? WEXITSTATUS(status) : 1;
  }
  if (mode("child")) {
    const auto end = std::chrono::steady_clock::now() + span / 3;
    unsigned long long total = 0;
    while (std::chrono::steady_clock::now() < end) {
      for (unsigned long long i = 0; i < 100000; ++i) total += i * i;
    }
    int out[2];
    if (total == 0 || ::pipe(out) != 0) return 1;
    const pid_t child = ::fork();
    if (child < 0) return 1;
    if (child == 0) {
      ::dup2(out[1], STDOUT_FILENO);
      ::close(out[0]);
      ::close(out[1]);
      char cpu[] = "cpu";
      char* args[] = {argv[0], cpu, argv[2], argv[3], nullptr};
      ::execv("/proc/self/exe", args);
      ::_exit(127);
    }
    ::close(out[1]);
    char buf[256];
    while (::read(out[0], buf, sizeof buf) > 0) {
    }
    ::close(out[0]);
    int status = 0;
    if (::waitpid(child, &status, 0) != child) return 1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
  }
  std::vector<std::thread> pool;
  if (mode("block")) {
    int fds[2];
    if (::pipe(fds) != 0) return 1;
    for (int t = 0; t < threads; ++t) {
      pool.emplace_back([fd = fds[0]] {
        char c;
        (void)::read(fd, &c, 1);  // blocked in a call: one wait in flight per thread
      });
    }
    std::this_thread::sleep_for(span);
    const std::vector<char> wake(static_cast<std::size_t>(threads), 'x');
    if (::write(fds[1], wake.data(), wake.size()) != static_cast<ssize_t>(wake.size())) return 1;
    for (auto& t : pool) t.join();
    return 0;
  }
  if (mode("phases")) std::this_thread::sleep_for(span);  // first wait, then compute
  std::atomic<unsigned long long> sink{0};
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      const auto end = std::chrono::steady_clock::now() + span;
      unsigned long long total = 0;
      while (std::chrono::steady_clock::now() < end) {
        for (unsigned long long i = 0; i < 100000; ++i) total += i * i;
      }
      sink += total;
    });
  }
  for (auto& t : pool) t.join();
  return sink.load() == 0 ? 1 : 0;
}
