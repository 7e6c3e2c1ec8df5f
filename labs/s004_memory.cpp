// Seed 004: threads share memory, processes are isolated. A thread and a forked child both increment a
// global counter 1000 times; the parent sees the thread's updates and none of the child's (copy-on-write).

#include <sys/wait.h>
#include <unistd.h>

#include "common.hpp"
#include "spindle/thread/thread.hpp"

namespace spindle::labs {
namespace {

long g_counter = 0;  // deliberately a global: the shared state in question

lab::Result run_memory(const lab::Options&) {
  g_counter = 0;
  Thread t([] {
    for (int i = 0; i < 1000; ++i) ++g_counter;  // joined before the parent reads: no race
  });
  t.start();
  t.join();
  const long after_thread = g_counter;
  int pipefd[2];
  if (pipe(pipefd) != 0) throw std::runtime_error("pipe failed");
  const pid_t pid = fork();
  if (pid == 0) {
    for (int i = 0; i < 1000; ++i) ++g_counter;
    const long seen = g_counter;
    [[maybe_unused]] const auto w = write(pipefd[1], &seen, sizeof seen);
    _exit(0);
  }
  close(pipefd[1]);
  long child_saw = -1;
  if (read(pipefd[0], &child_saw, sizeof child_saw) != sizeof child_saw) child_saw = -1;
  close(pipefd[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  const long after_process = g_counter;
  lab::Result r;
  r.rows.push_back({"counter after a thread added 1000", double(after_thread), lab::kNone, 1000, "count", "shared"});
  r.rows.push_back({"the child's own counter after it added 1000", double(child_saw), lab::kNone, 2000, "count", ""});
  r.rows.push_back({"parent's counter after the child added 1000", double(after_process), lab::kNone, 1000, "count",
                    "isolated: copy-on-write"});
  r.facts = {{"after_thread", double(after_thread)},
             {"child_saw", double(child_saw)},
             {"after_process", double(after_process)}};
  r.lesson =
      "threads see each other's writes (and need locks); a process works on its own copy and must "
      "send results back (pipes, queues, shared memory)";
  return r;
}

const lab::Register register_memory({"004-memory", "004", "Shared (threads) vs isolated (processes) memory",
                                     run_memory});

}  // namespace
}  // namespace spindle::labs
