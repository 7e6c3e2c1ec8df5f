// Seed 003, section 3: the futures abstraction. submit() returns a Future; results are handled in one place,
// in submission order (result()) or in completion order (as_completed).

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "common.hpp"
#include "spindle/core/wait.hpp"
#include "spindle/thread/thread_pool_executor.hpp"

namespace spindle::labs {
namespace {

lab::Result run_futures(const lab::Options& o) {
  lab::Result r;
  ThreadPoolExecutor pool;
  const auto send = [](std::string msg) { return msg + " sent"; };
  std::vector<Future<std::string>> futures{pool.submit(send, std::string("email")),
                                           pool.submit(send, std::string("sms"))};
  int answered = 0;
  for (auto& f : futures) {
    std::fprintf(o.out, "  %s\n", f.result().c_str());
    ++answered;
  }
  // Completion order: three waits of different lengths come back shortest first.
  // Each wait notes when it finished, so that the order as_completed yields can be checked against the
  // order the waits really finished in: on a loaded machine a 20 ms wait whose thread starts 30 ms late
  // finishes after the 40 ms one, and as_completed must then yield the 40 first (a check of "20 comes first"
  // failed under TSan at load 9).
  std::vector<std::atomic<std::int64_t>> finished(3);
  std::vector<Future<int>> waits;
  int index = 0;
  for (int ms : {60, 20, 40}) {
    std::atomic<std::int64_t>* stamp = &finished[static_cast<std::size_t>(index++)];
    waits.push_back(pool.submit([ms, stamp] {
      std::this_thread::sleep_for(std::chrono::milliseconds(ms));
      stamp->store(Clock::now().time_since_epoch().count());
      return ms;
    }));
  }
  std::string order;
  int first = 0;
  for (auto&& f : as_completed(waits)) {
    if (order.empty()) first = f.result();
    order += std::to_string(f.result()) + " ";
  }
  // Which wait finished first, by its own note (the futures are done, so every note is written).
  const int durations[] = {60, 20, 40};
  std::size_t earliest = 0;
  for (std::size_t i = 1; i < finished.size(); ++i) {
    if (finished[i].load() < finished[earliest].load()) earliest = i;
  }
  const bool first_is_earliest = first == durations[earliest];
  // The abstraction's cost: submit + result per tiny task.
  const int n = o.quick ? 10'000 : 100'000;
  const double per = timed([&] {
                       std::vector<Future<int>> fs;
                       fs.reserve(static_cast<std::size_t>(n));
                       for (int i = 0; i < n; ++i) fs.push_back(pool.submit([i] { return i; }));
                       long sum = 0;
                       for (auto& f : fs) sum += f.result();
                       if (sum != static_cast<long>(n) * (n - 1) / 2) throw std::runtime_error("wrong sum of futures");
                     }) /
                     n;
  r.rows.push_back({"futures answered (email, sms)", double(answered), lab::kNone, 2, "futures", ""});
  r.rows.push_back({"as_completed: first of 60/20/40 ms", double(first), lab::kNone, 20, "ms", "order: " + order});
  r.rows.push_back({"submit + result per tiny task", per * 1e6, lab::kNone, lab::kNone, "us", ""});
  r.chart.title = "";
  r.facts = {{"answered", answered},
             {"first_completed_ms", first},
             {"first_completed_finished_first", first_is_earliest ? 1.0 : 0.0},
             {"per_future_us", per * 1e6}};
  r.lesson =
      "a Future decouples running a task from handling its result: in order with result(), or as they "
      "finish with as_completed()";
  return r;
}

const lab::Register register_futures({"003-futures", "003", "Section 3: the futures abstraction", run_futures});

}  // namespace
}  // namespace spindle::labs
