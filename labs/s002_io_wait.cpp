// Seed 002, demo 1: 50 I/O waits of 0.2 s, serially and on 20 threads (seed: 10.008 s vs 0.607 s).

#include <vector>

#include "common.hpp"
#include "spindle/thread/thread_pool_executor.hpp"

namespace spindle::labs {
namespace {

lab::Result run(const lab::Options& o) {
  const int tasks = 50;
  const auto wait = o.quick ? 20ms : 200ms;
  const double d = std::chrono::duration<double>(wait).count();
  const auto io = [wait] { std::this_thread::sleep_for(wait); };
  lab::Result r;
  const double serial = timed([&] { for (int i = 0; i < tasks; ++i) io(); });
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
  r.rows.push_back(not_available("async (50 tasks)", "spindle::aio", lab::kNone, d));
  r.facts = {{"serial_s", serial}, {"threads_s", threads}};
  r.lesson = "threads overlap I/O waits: 20 threads wait 20 at a time, whatever the cores";
  return r;
}

const lab::Register reg({"002-io-wait", "002", "Demo 1: threads help I/O wait (50 x 0.2 s)", run});

}  // namespace
}  // namespace spindle::labs
