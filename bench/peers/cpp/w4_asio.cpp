// W4's Asio peer: coroutine switch and spawn+await (bench/workloads/w4_coroutine_switch_spawn.cpp,
// docs/bench.md), with standalone Asio's C++20 coroutines (asio::awaitable) on one asio::io_context run by
// one thread (concurrency hint 1: Asio then knows no other thread runs it).
//
// `test=switch`: two coroutines, each `co_await asio::post(ctx, asio::use_awaitable)` `yields` (500,000) times:
// the post queues the coroutine's continuation behind the other's, as spindle's yield_now() re-queues its task,
// so each yield is one switch; switches = 2 * yields, as spindle counts them. The time runs from before the two
// are spawned to ctx.run()'s return (both done); each returns its count of yields, checked.
// `test=spawn`: `tasks` (1,000,000) times `co_await asio::co_spawn(ctx, child(i), asio::use_awaitable)`, where
// child(i) is a coroutine returning `i & 0xff`; the results are summed and checked. As spindle's, 1000 spawns
// warm the frame allocator (Asio recycles coroutine frames through a per-thread cache) before the clock starts,
// inside the measuring coroutine.
// Prints `W4 peer=asio test=switch switches=N seconds=... ns_per_switch=...` and
// `W4 peer=asio test=spawn tasks=N seconds=... ns_per_task=...`; a self-check failure exits 1.

// Asio 1.22 turns its coroutine support on under clang only when libc++'s <experimental/coroutine> exists;
// clang 14 with libstdc++ has C++20's <coroutine>, which Asio then uses (ASIO_HAS_STD_COROUTINE).
#if defined(__clang__) && !defined(ASIO_HAS_CO_AWAIT) && defined(__cpp_impl_coroutine)
#define ASIO_HAS_CO_AWAIT 1
#endif

#include <asio/awaitable.hpp>
#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/use_awaitable.hpp>

#include <cstdint>
#include <cstdio>
#include <exception>

#include "peer_cli.hpp"

namespace {

asio::awaitable<std::int64_t> yielder(asio::io_context& ctx, std::int64_t n) {
  std::int64_t k = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    co_await asio::post(ctx, asio::use_awaitable);
    ++k;
  }
  co_return k;
}

asio::awaitable<std::int64_t> child(std::int64_t i) { co_return i & 0xff; }

asio::awaitable<std::int64_t> spawn_main(asio::io_context& ctx, std::int64_t n, double& seconds) {
  for (std::int64_t i = 0; i < 1000; ++i) co_await asio::co_spawn(ctx, child(i), asio::use_awaitable);
  const double t0 = peer::now_s();
  std::int64_t sum = 0;
  for (std::int64_t i = 0; i < n; ++i) sum += co_await asio::co_spawn(ctx, child(i), asio::use_awaitable);
  seconds = peer::now_s() - t0;
  co_return sum;
}

// A co_spawn completion handler that keeps the coroutine's result (or rethrows its exception).
struct Keep {
  std::int64_t& out;
  void operator()(const std::exception_ptr& e, std::int64_t r) const {
    if (e) std::rethrow_exception(e);
    out += r;
  }
};

}  // namespace

int main(int argc, char** argv) {
  const peer::Cli cli(
      argc, argv, "W4",
      {{.name = "yields", .value = 500'000, .quick = 20'000}, {.name = "tasks", .value = 1'000'000, .quick = 50'000}},
      {"switch", "spawn"});
  int rc = 0;
  if (cli.selected("switch")) {
    const std::int64_t per_task = cli["yields"];
    asio::io_context ctx(1);
    std::int64_t r = 0;
    const double t0 = peer::now_s();
    asio::co_spawn(ctx, yielder(ctx, per_task), Keep{r});
    asio::co_spawn(ctx, yielder(ctx, per_task), Keep{r});
    ctx.run();
    const double seconds = peer::now_s() - t0;
    peer::Line(cli, "asio")
        .add("test", "switch")
        .add("switches", 2 * per_task)
        .add("seconds", seconds)
        .add("ns_per_switch", seconds * 1e9 / static_cast<double>(2 * per_task), 1)
        .emit();
    if (r != 2 * per_task) {
      std::fprintf(stderr, "W4 switch: wrong count %lld\n", static_cast<long long>(r));
      rc = 1;
    }
  }
  if (cli.selected("spawn")) {
    const std::int64_t n = cli["tasks"];
    asio::io_context ctx(1);
    double seconds = 0;
    std::int64_t sum = 0;
    asio::co_spawn(ctx, spawn_main(ctx, n, seconds), Keep{sum});
    ctx.run();
    std::int64_t expected = 0;
    for (std::int64_t i = 0; i < n; ++i) expected += i & 0xff;
    peer::Line(cli, "asio")
        .add("test", "spawn")
        .add("tasks", n)
        .add("seconds", seconds)
        .add("ns_per_task", seconds * 1e9 / static_cast<double>(n), 1)
        .emit();
    if (!peer::sum_ok("W4 spawn", static_cast<long long>(sum), static_cast<long long>(expected))) rc = 1;
  }
  return rc;
}
