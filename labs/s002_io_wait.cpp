// Seed 002, demo 1: 50 I/O waits of 0.2 s, serially and on 20 threads (seed: 10.008 s vs 0.607 s).

#include <vector>

#include "common.hpp"
#include "spindle/aio/gather.hpp"
#include "spindle/aio/run.hpp"
#include "spindle/aio/task.hpp"
#include "spindle/thread/thread_pool_executor.hpp"

namespace spindle::labs {
namespace {

aio::Task<void> io_async(std::chrono::milliseconds d) { co_await aio::sleep(d); }

aio::Task<void> all_async(int n, std::chrono::milliseconds d) {
  std::vector<aio::Task<void>> tasks;
  for (int i = 0; i < n; ++i) tasks.push_back(io_async(d));
  co_await aio::gather(std::move(tasks));  // asyncio.gather(*tasks)
}

lab::Result run_io_wait(const lab::Options& o) {
  const int tasks = 50;
  const auto wait = o.quick ? 20ms : 200ms;
  const double d = std::chrono::duration<double>(wait).count();
  const auto io = [wait] { std::this_thread::sleep_for(wait); };
  lab::Result r;
  const double serial = timed([&] {
    for (int i = 0; i < tasks; ++i) io();
  });
  double threads = 0;
  {
    ThreadPoolExecutor pool(20);
    threads = timed([&] {
      std::vector<Future<void>> fs;
      for (int i = 0; i < tasks; ++i) fs.push_back(pool.submit(io));
      for (auto& f : fs) f.result();
    });
  }
  r.rows.push_back({"serial", serial, o.quick ? lab::kNone : 10.008, tasks * d, "s", ""});
  r.rows.push_back({"threads (20)", threads, o.quick ? lab::kNone : 0.607, std::ceil(tasks / 20.0) * d, "s", ""});
  const double async_s = timed([&] { aio::run(all_async(tasks, wait), aio::RunOptions{.debug = false}); });
  r.rows.push_back({"async (50 tasks, one thread)", async_s, lab::kNone, d, "s", ""});
  r.facts = {{"serial_s", serial}, {"threads_s", threads}, {"async_s", async_s}};
  r.lesson = "threads overlap I/O waits, 20 at a time; one event loop overlaps all 50 on a single thread";
  return r;
}

const lab::Register register_io_wait({"002-io-wait", "002", "Demo 1: threads help I/O wait (50 x 0.2 s)", run_io_wait});

}  // namespace
}  // namespace spindle::labs
