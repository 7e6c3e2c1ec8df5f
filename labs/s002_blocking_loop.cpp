// Seed 002, demo 3: blocking kills async. 50 tasks wait 0.2 s each on one event loop: with `await sleep`
// they overlap (seed: 0.201 s); with a blocking sleep they run one after another (seed: 10.011 s).

#include <vector>

#include "common.hpp"
#include "spindle/aio/gather.hpp"
#include "spindle/aio/run.hpp"
#include "spindle/aio/task.hpp"

namespace spindle::labs {
namespace {

aio::Task<void> waiter(std::chrono::milliseconds d, bool blocking) {
  if (blocking) {
    std::this_thread::sleep_for(d);  // the mistake: the whole loop stops
  } else {
    co_await aio::sleep(d);
  }
}

aio::Task<void> fan_out(int n, std::chrono::milliseconds d, bool blocking) {
  std::vector<aio::Task<void>> tasks;
  for (int i = 0; i < n; ++i) tasks.push_back(waiter(d, blocking));
  co_await aio::gather(std::move(tasks));  // asyncio.gather(*tasks)
}

lab::Result run_blocking_loop(const lab::Options& o) {
  const int n = 50;
  const auto d = o.quick ? 20ms : 200ms;
  const double ds = std::chrono::duration<double>(d).count();
  const double awaited = timed([&] { aio::run(fan_out(n, d, false), aio::RunOptions{.debug = false}); });
  const double blocked = timed([&] { aio::run(fan_out(n, d, true), aio::RunOptions{.debug = false}); });
  lab::Result r;
  r.rows.push_back({"await sleep (50 tasks)", awaited, o.quick ? lab::kNone : 0.201, ds, "s", ""});
  r.rows.push_back({"blocking sleep (50 tasks)", blocked, o.quick ? lab::kNone : 10.011, n * ds, "s", ""});
  r.facts = {{"await_s", awaited}, {"blocking_s", blocked}, {"tasks", n}, {"wait_s", ds}};
  r.lesson = "one event loop overlaps only waits that await; a blocking call serialises every task on it";
  return r;
}

const lab::Register register_blocking_loop({"002-blocking-loop", "002", "Demo 3: blocking the event loop vs awaiting",
                                            run_blocking_loop});

}  // namespace
}  // namespace spindle::labs
