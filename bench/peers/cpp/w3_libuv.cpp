// W3's libuv peer: async sleep fan-out (bench/workloads/w3_async_sleep_fanout.cpp, docs/bench.md).
//
// One libuv loop; `tasks` (100,000) one-shot `uv_timer_t`s of 200 ms, created as fast as possible in one loop,
// then uv_run() until all have fired (it returns when no timer is left active): a timer is libuv's sleeping
// task. The time runs from before the first timer is created to uv_run's return; overhead_s = seconds - 0.2.
// Memory as spindle's: base_rss_kb is ru_maxrss read just before creating, maxrss_kb the peak after,
// bytes_per_task = (maxrss_kb - base_rss_kb) * 1024 / tasks; the timers' array is allocated inside the timed
// section, as spindle's task frames are. Self-check: every timer fired exactly once (else exit 1). Prints
// `W3 peer=libuv tasks=N seconds=... overhead_s=... maxrss_kb=... base_rss_kb=... bytes_per_task=...`.
//
// Each timer is started after uv_update_time(): libuv measures a timeout from the loop's cached time, which
// stands still while this loop creates timers outside uv_run, so later timers would sleep less than 0.2 s.
// spindle's sleep takes a fresh reading too ("a sleep never ends early"), so each side sleeps a full 0.2 s
// from its own start. A libuv timer has no result: where spindle's tasks return `i & 1` for gather() to sum,
// a timer's callback counts itself, which is what the check needs.

#include <uv.h>

#include <cstdint>
#include <cstdio>
#include <memory>

#include "peer_cli.hpp"

namespace {

std::int64_t fired = 0;       // callbacks run
std::int64_t duplicates = 0;  // callbacks of a timer that had fired already

void on_timer(uv_timer_t* timer) {
  ++fired;
  if (timer->data != nullptr) ++duplicates;
  timer->data = timer;  // marks it fired
}

}  // namespace

int main(int argc, char** argv) {
  const peer::Cli cli(argc, argv, "W3", {{.name = "tasks", .value = 100'000, .quick = 10'000, .max = 100'000'000}});
  const std::int64_t n = cli["tasks"];
  uv_loop_t loop;
  if (const int err = uv_loop_init(&loop); err != 0) {
    std::fprintf(stderr, "W3: uv_loop_init: %s\n", uv_strerror(err));
    return 1;
  }

  const long base_rss = peer::maxrss_kb();
  const double t0 = peer::now_s();
  const std::unique_ptr<uv_timer_t[]> timers(new uv_timer_t[static_cast<std::size_t>(n)]);
  for (std::int64_t i = 0; i < n; ++i) {
    uv_timer_t* t = &timers[static_cast<std::size_t>(i)];
    uv_timer_init(&loop, t);
    t->data = nullptr;  // not fired yet
    uv_update_time(&loop);
    uv_timer_start(t, on_timer, 200, 0);
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  const double seconds = peer::now_s() - t0;
  const long peak = peer::maxrss_kb();

  // Untimed clean-up: a handle's memory may be freed only after its close callback has run.
  for (std::int64_t i = 0; i < n; ++i) {
    uv_close(reinterpret_cast<uv_handle_t*>(&timers[static_cast<std::size_t>(i)]), nullptr);
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);

  peer::Line(cli, "libuv")
      .add("tasks", n)
      .add("seconds", seconds)
      .add("overhead_s", seconds - 0.2)
      .add("maxrss_kb", static_cast<std::int64_t>(peak))
      .add("base_rss_kb", static_cast<std::int64_t>(base_rss))
      .add("bytes_per_task", static_cast<double>(peak - base_rss) * 1024.0 / static_cast<double>(n), 1)
      .emit();
  if (fired != n || duplicates != 0) {
    std::fprintf(stderr, "W3: %lld timer callbacks (%lld repeated), expected %lld, each once\n",
                 static_cast<long long>(fired), static_cast<long long>(duplicates), static_cast<long long>(n));
    return 1;
  }
  return 0;
}
