// Seed 004: what an execution unit costs to create. A thread (start + join) against a process (fork + exit
// + wait, the OS cost under every process model) and a coroutine task (create + run to completion).

#include <sys/wait.h>
#include <unistd.h>

#include "common.hpp"
#include "spindle/aio/run.hpp"
#include "spindle/aio/task.hpp"
#include "spindle/process.hpp"
#include "spindle/thread/thread.hpp"

namespace spindle::labs {
namespace {

aio::Task<int> nothing(int i) { co_return i; }
void noop() {}

aio::Task<long> many_tasks(int n) {
  long sum = 0;
  for (int i = 0; i < n; ++i) sum += co_await aio::create_task(nothing(i));
  co_return sum;
}

lab::Result run_creation_cost(const lab::Options& o) {
  const int n_threads = o.quick ? 200 : 2000;
  const int n_procs = o.quick ? 50 : 300;
  const int n_tasks = o.quick ? 10000 : 100000;
  // Each creation is timed on its own: the mean is what a program pays, the minimum is the intrinsic cost
  // (on a loaded machine every start waits for a core, which swamps the difference between the two).
  double thread_min_s = 1e9;
  const double thread_s = timed([&] {
                            for (int i = 0; i < n_threads; ++i) {
                              thread_min_s = std::min(thread_min_s, timed([] {
                                                        Thread t([] {});
                                                        t.start();
                                                        t.join();
                                                      }));
                            }
                          }) /
                          n_threads;
  int failures = 0;
  double proc_min_s = 1e9;
  const double proc_s = timed([&] {
                          for (int i = 0; i < n_procs; ++i) {
                            proc_min_s =
                                std::min(proc_min_s, timed([&] {
                                           const pid_t pid = fork();
                                           if (pid == 0)
                                             _exit(0);  // the child does nothing: only the creation is measured
                                           int status = 0;
                                           if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
                                             ++failures;
                                         }));
                          }
                        }) /
                        n_procs;
  if (failures) throw std::runtime_error("fork failed");
  const int n_spindle = o.quick ? 20 : 100;
  const double spindle_proc_s = timed([&] {
                                  for (int i = 0; i < n_spindle; ++i) {
                                    process::Process p(process::target<&noop>);
                                    p.start();
                                    p.join();
                                    if (p.exitcode() != 0) throw std::runtime_error("a Process failed");
                                  }
                                }) /
                                n_spindle;
  long sum = 0;
  const double task_s = timed([&] { sum = aio::run(many_tasks(n_tasks), aio::RunOptions{.debug = false}); }) / n_tasks;
  if (sum != static_cast<long>(n_tasks) * (n_tasks - 1) / 2) throw std::runtime_error("wrong task sum");
  lab::Result r;
  r.rows.push_back({"coroutine task: create + run", task_s * 1e6, lab::kNone, lab::kNone, "us", ""});
  r.rows.push_back({"thread: start + join", thread_s * 1e6, lab::kNone, lab::kNone, "us", ""});
  r.rows.push_back(
      {"process: fork + exit + wait", proc_s * 1e6, lab::kNone, lab::kNone, "us", "raw fork(): the OS cost"});
  r.rows.push_back({"spindle::process::Process: start + join", spindle_proc_s * 1e6, lab::kNone, lab::kNone, "us",
                    "via the forkserver"});
  r.rows.push_back(
      {"thread: fastest start + join", thread_min_s * 1e6, lab::kNone, lab::kNone, "us", "the intrinsic cost"});
  r.rows.push_back(
      {"process: fastest fork + exit + wait", proc_min_s * 1e6, lab::kNone, lab::kNone, "us", "the intrinsic cost"});
  r.facts = {{"task_us", task_s * 1e6},
             {"thread_us", thread_s * 1e6},
             {"process_us", proc_s * 1e6},
             {"spindle_process_us", spindle_proc_s * 1e6},
             {"thread_min_us", thread_min_s * 1e6},
             {"process_min_us", proc_min_s * 1e6}};
  r.lesson =
      "coroutines are cheapest, threads cost tens of microseconds, processes hundreds: pools exist to "
      "pay creation once";
  return r;
}

const lab::Register register_creation_cost({"004-creation-cost", "004", "Creation cost: coroutine vs thread vs process",
                                            run_creation_cost});

}  // namespace
}  // namespace spindle::labs
