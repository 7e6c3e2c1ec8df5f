// Seed 003, section 2: an async dashboard gathers three fetches (0.5-1.5 s each); the total is about the
// slowest, not the sum. The same on threads, and serially, for comparison.

#include <random>
#include <string>
#include <vector>

#include "common.hpp"
#include "spindle/aio/gather.hpp"
#include "spindle/aio/run.hpp"
#include "spindle/aio/task.hpp"
#include "spindle/thread/thread_pool_executor.hpp"

namespace spindle::labs {
namespace {

aio::Task<std::string> fetch(std::string name, std::chrono::milliseconds delay) {
  co_await aio::sleep(delay);
  co_return name + " ready";
}

aio::Task<std::vector<std::string>> dashboard(
    const std::vector<std::pair<std::string, std::chrono::milliseconds>>& parts) {
  std::vector<aio::Task<std::string>> tasks;
  for (const auto& [name, d] : parts) tasks.push_back(fetch(name, d));
  co_return co_await aio::gather(std::move(tasks));  // results in call order, waits overlapped
}

lab::Result run_dashboard(const lab::Options& o) {
  std::mt19937 rng(3);
  std::uniform_int_distribution<int> ms(500, 1500);
  const int scale = o.quick ? 10 : 1;
  std::vector<std::pair<std::string, std::chrono::milliseconds>> parts;
  double sum = 0, slowest = 0;
  for (const char* name : {"profile", "orders", "notifications"}) {
    const auto d = std::chrono::milliseconds(ms(rng) / scale);
    parts.emplace_back(name, d);
    sum += d.count() / 1e3;
    slowest = std::max(slowest, d.count() / 1e3);
  }
  std::vector<std::string> results;
  const double async_s = timed([&] { results = aio::run(dashboard(parts), aio::RunOptions{.debug = false}); });
  std::string line = "[";
  for (const auto& s : results) line += "'" + s + "', ";
  line = line.substr(0, line.size() - 2) + "]";
  std::fprintf(o.out, "  %s\n", line.c_str());
  double threads_s = 0;
  {
    ThreadPoolExecutor pool(3);
    threads_s = timed([&] {
      std::vector<Future<void>> fs;
      for (const auto& p : parts) fs.push_back(pool.submit([d = p.second] { std::this_thread::sleep_for(d); }));
      for (auto& f : fs) f.result();
    });
  }
  const double serial_s = timed([&] {
    for (const auto& p : parts) std::this_thread::sleep_for(p.second);
  });
  lab::Result r;
  r.rows.push_back({"serial", serial_s, lab::kNone, sum, "s", ""});
  r.rows.push_back({"threads (3)", threads_s, lab::kNone, slowest, "s", ""});
  r.rows.push_back({"async gather", async_s, lab::kNone, slowest, "s", line});
  r.facts = {{"serial_s", serial_s}, {"threads_s", threads_s}, {"async_s", async_s},
             {"slowest_s", slowest}, {"sum_s", sum},           {"results", double(results.size())}};
  r.lesson = "gathered waits overlap: the dashboard takes as long as its slowest part, not the sum";
  return r;
}

const lab::Register register_dashboard({"003-dashboard", "003", "Section 2: the async dashboard (gather)",
                                        run_dashboard});

}  // namespace
}  // namespace spindle::labs
