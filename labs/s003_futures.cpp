// Seed 003, section 3: the futures abstraction. submit() returns a Future; results are handled in one place,
// in submission order (result()) or in completion order (as_completed).

#include <string>
#include <vector>

#include "common.hpp"
#include "spindle/core/wait.hpp"
#include "spindle/thread/thread_pool_executor.hpp"

namespace spindle::labs {
namespace {

lab::Result run(const lab::Options& o) {
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
  std::vector<Future<int>> waits;
  for (int ms : {60, 20, 40}) {
    waits.push_back(pool.submit([ms] {
      std::this_thread::sleep_for(std::chrono::milliseconds(ms));
      return ms;
    }));
  }
  std::string order;
  int first = 0;
  for (auto&& f : as_completed(waits)) {
    if (order.empty()) first = f.result();
    order += std::to_string(f.result()) + " ";
  }
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
  r.facts = {{"answered", answered}, {"first_completed_ms", first}, {"per_future_us", per * 1e6}};
  r.lesson =
      "a Future decouples running a task from handling its result: in order with result(), or as they "
      "finish with as_completed()";
  return r;
}

const lab::Register reg({"003-futures", "003", "Section 3: the futures abstraction", run});

}  // namespace
}  // namespace spindle::labs
