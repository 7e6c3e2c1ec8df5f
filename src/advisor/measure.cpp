#include "spindle/advisor/measure.hpp"

#include <sched.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>

#include "sampler.hpp"

extern char** environ;

namespace spindle::advisor {
namespace {

using Clock = std::chrono::steady_clock;

// Sampling every 10 ms is cheap for a few threads; with hundreds, each tick reads hundreds of files, so the
// period grows to keep the sampler's own cost near 1 % of a core.
std::chrono::milliseconds adapt(std::chrono::milliseconds base, int threads) {
  const auto scaled = std::chrono::milliseconds(threads / 5);
  return std::max(base, scaled);
}

pid_t gettid_() { return static_cast<pid_t>(::syscall(SYS_gettid)); }

}  // namespace

int available_cores() noexcept {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0) {
    const int n = CPU_COUNT(&set);
    if (n > 0) return n;
  }
  const unsigned hw = std::thread::hardware_concurrency();
  return hw ? static_cast<int>(hw) : 1;
}

Report measure(const std::function<void()>& fn, MeasureOptions options) {
  Report report;
  report.cores = options.cores > 0 ? options.cores : available_cores();
  std::mutex m;
  std::condition_variable cv;
  bool stop = false, started = false;
  const auto start = Clock::now();
  std::thread sampler_thread([&] {
    detail::TreeSampler sampler(getpid(), true, gettid_());
    int threads = sampler.sample();  // the baseline
    std::unique_lock lock(m);
    started = true;
    cv.notify_all();
    while (!cv.wait_for(lock, adapt(options.interval, threads), [&] { return stop; })) {
      lock.unlock();
      threads = sampler.sample();
      lock.lock();
    }
    sampler.sample();
    report.wall_s = std::chrono::duration<double>(Clock::now() - start).count();
    sampler.fill(report);
  });
  {
    std::unique_lock lock(m);
    cv.wait(lock, [&] { return started; });
  }
  std::exception_ptr error;
  try {
    fn();
  } catch (...) {
    error = std::current_exception();
  }
  {
    std::lock_guard lock(m);
    stop = true;
  }
  cv.notify_all();
  sampler_thread.join();
  if (error) std::rethrow_exception(error);
  classify(report);
  return report;
}

Report measure_command(const std::vector<std::string>& argv, MeasureOptions options) {
  if (argv.empty()) throw LaunchError("no command given");
  Report report;
  report.command = argv;
  report.cores = options.cores > 0 ? options.cores : available_cores();
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  const auto start = Clock::now();
  // glibc's posix_spawnp reports exec failures (ENOENT, EACCES) as its return value: no pipe dance needed.
  const int err = posix_spawnp(&pid, args[0], nullptr, nullptr, args.data(), environ);
  if (err != 0) {
    throw LaunchError("cannot run '" + argv[0] + "': " + std::strerror(err));
  }
  detail::TreeSampler sampler(pid, false, -1);
  int threads = 1;
  for (;;) {
    threads = sampler.sample();
    siginfo_t info{};
    // WNOWAIT leaves the child a zombie, so a last sample still finds its /proc entries.
    if (waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == pid) break;
    std::this_thread::sleep_for(adapt(options.interval, threads));
  }
  sampler.sample();
  int status = 0;
  rusage usage{};
  while (wait4(pid, &status, 0, &usage) < 0 && errno == EINTR) {
  }
  report.wall_s = std::chrono::duration<double>(Clock::now() - start).count();
  sampler.fill(report);
  // wait4's totals include threads that ended between samples and reaped grandchildren: trust them for
  // the whole tree, and keep the samples for the per-thread split.
  const double ru_cpu = static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
                        static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
  report.cpu_s = std::max(report.cpu_s, ru_cpu);
  report.voluntary = std::max<std::uint64_t>(report.voluntary, static_cast<std::uint64_t>(usage.ru_nvcsw));
  report.involuntary = std::max<std::uint64_t>(report.involuntary, static_cast<std::uint64_t>(usage.ru_nivcsw));
  if (WIFEXITED(status))
    report.exit_code = WEXITSTATUS(status);
  else if (WIFSIGNALED(status))
    report.exit_code = 128 + WTERMSIG(status);
  classify(report);
  return report;
}

Report measure_pid(int pid, std::chrono::milliseconds duration, MeasureOptions options) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/stat", pid);
  if (pid <= 0 || ::access(path, R_OK) != 0) {
    const int e = errno;
    throw AttachError("cannot attach to pid " + std::to_string(pid) + ": " +
                      (pid <= 0 || e == ENOENT ? std::string("no such process") : std::string(std::strerror(e))));
  }
  Report report;
  report.attached_pid = pid;
  report.cores = options.cores > 0 ? options.cores : available_cores();
  const auto start = Clock::now();
  const auto end = start + duration;
  // Its threads count from now, not from their birth. Attached to this very process, the thread that samples
  // is the measurer, not the measured (as in measure()): counted, its sampling looked like work that waits,
  // and a spinning process came out "mixed" under TSan, where sampling costs ten times more.
  detail::TreeSampler sampler(pid, true, pid == ::getpid() ? gettid_() : -1);
  int threads = sampler.sample();
  while (Clock::now() < end) {
    std::this_thread::sleep_for(std::min<Clock::duration>(adapt(options.interval, threads), end - Clock::now()));
    if (::access(path, R_OK) != 0) break;  // it exited: judge what was seen
    threads = sampler.sample();
  }
  report.wall_s = std::chrono::duration<double>(Clock::now() - start).count();
  sampler.fill(report);
  classify(report);
  return report;
}

}  // namespace spindle::advisor
