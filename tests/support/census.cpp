#include "census.hpp"

#include <dirent.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <string_view>
#include <thread>

#include "spindle/core/detail/shared_state.hpp"

namespace spindle::test {
namespace {
// Entries of `path` for which `counts(name)` holds, less the one fd the directory stream itself holds (in
// /proc/self/fd; for tasks this is corrected below).
template <class Pred>
int count_entries(const char* path, Pred counts) {
  DIR* d = opendir(path);
  if (d == nullptr) return -1;
  int n = 0;
  while (const dirent* e = readdir(d)) {
    if (e->d_name[0] != '.' && counts(e->d_name)) ++n;
  }
  closedir(d);
  return n - 1;
}
}  // namespace

int thread_count() {
  return count_entries("/proc/self/task", [](const char*) { return true; }) + 1;
}

int fd_count() {
  // The process pool's blob cache (process/detail/blob.hpp) keeps a bounded number of free shared-memory
  // blobs open for reuse across tasks, and so across tests: those are not leaks.
  return count_entries("/proc/self/fd", [](const char* name) {
    char target[256];
    const std::string link = std::string("/proc/self/fd/") + name;
    const ssize_t len = ::readlink(link.c_str(), target, sizeof target - 1);
    return !(len > 0 && std::string_view(target, static_cast<std::size_t>(len)).starts_with("/memfd:spindle-blob"));
  });
}

namespace {
// Sanitizer runtimes start helper threads of their own (TSan's background thread) with the process's first
// pthread_create: start and join one thread before any baseline is taken, so they are part of it.
// The warm-up thread itself must be gone from /proc/self/task before the first baseline is counted: a joined
// thread can stay listed until the kernel reaps it, and a baseline that counted it would make check() fail
// (fewer threads than the baseline) however correct the test.
int warmed_thread_count() {
  static const bool warmed = [] {
    pid_t tid = 0;
    std::thread([&tid] { tid = static_cast<pid_t>(::syscall(SYS_gettid)); }).join();
    const std::string entry = "/proc/self/task/" + std::to_string(tid);
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (::access(entry.c_str(), F_OK) == 0 && std::chrono::steady_clock::now() < give_up)
      std::this_thread::sleep_for(std::chrono::microseconds(100));
    return true;
  }();
  (void)warmed;
  return thread_count();
}
}  // namespace

Census::Census() : threads_(warmed_thread_count()), fds_(fd_count()), states_(detail::live_states()) {}

void Census::check() const {
  // A joined thread leaves /proc/self/task a little after join() returns (the kernel reaps it
  // asynchronously); poll for a bounded time. This is not synchronisation of the code under test.
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (thread_count() > threads_ && std::chrono::steady_clock::now() < give_up)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  EXPECT_EQ(thread_count(), threads_) << "threads leaked";
  EXPECT_EQ(fd_count(), fds_) << "file descriptors leaked";
  EXPECT_EQ(detail::live_states(), states_) << "future states leaked";
}

}  // namespace spindle::test
