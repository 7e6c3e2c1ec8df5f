// W5's Asio peer: async bounded queue (bench/workloads/w5_async_bounded_queue.cpp, docs/bench.md), with
// standalone Asio's C++20 coroutines on one asio::io_context run by one thread.
//
// The queue is an `asio::experimental::channel<void(asio::error_code, std::uint64_t)>` of capacity 100 (a
// channel buffers that many values; async_send waits while it is full, async_receive while it is empty), as
// spindle's aio::Queue(maxsize=100). One producer coroutine sends 0..items-1 with async_send(use_awaitable),
// one consumer coroutine receives `items` (1,000,000) values and sums them. As spindle's, the consumer is
// spawned first; the time runs from before the two are spawned to ctx.run()'s return (both done). The sum must
// be 0 + 1 + ... + items-1 (else exit 1). Prints `W5 peer=asio items=N seconds=... per_s=... ns_per_item=...`.

// Asio 1.22 turns its coroutine support on under clang only when libc++'s <experimental/coroutine> exists;
// clang 14 with libstdc++ has C++20's <coroutine>, which Asio then uses (ASIO_HAS_STD_COROUTINE).
#if defined(__clang__) && !defined(ASIO_HAS_CO_AWAIT) && defined(__cpp_impl_coroutine)
#define ASIO_HAS_CO_AWAIT 1
#endif

#include <asio/awaitable.hpp>
#include <asio/co_spawn.hpp>
#include <asio/error_code.hpp>
#include <asio/experimental/channel.hpp>
#include <asio/io_context.hpp>
#include <asio/use_awaitable.hpp>

#include <cstdint>
#include <exception>

#include "peer_cli.hpp"

namespace {

using Channel = asio::experimental::channel<void(asio::error_code, std::uint64_t)>;

asio::awaitable<void> producer(Channel& ch, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) {
    co_await ch.async_send(asio::error_code{}, static_cast<std::uint64_t>(i), asio::use_awaitable);
  }
}

asio::awaitable<void> consumer(Channel& ch, std::int64_t n, std::uint64_t& sum) {
  std::uint64_t s = 0;
  for (std::int64_t i = 0; i < n; ++i) s += co_await ch.async_receive(asio::use_awaitable);
  sum = s;
}

// A co_spawn completion handler that rethrows a coroutine's exception out of ctx.run().
void rethrow(const std::exception_ptr& e) {
  if (e) std::rethrow_exception(e);
}

}  // namespace

int main(int argc, char** argv) {
  const peer::Cli cli(argc, argv, "W5", {{.name = "items", .value = 1'000'000, .quick = 50'000}});
  const std::int64_t n = cli["items"];
  asio::io_context ctx(1);
  Channel ch(ctx, 100);
  std::uint64_t sum = 0;

  const double t0 = peer::now_s();
  asio::co_spawn(ctx, consumer(ch, n, sum), rethrow);
  asio::co_spawn(ctx, producer(ch, n), rethrow);
  ctx.run();
  const double seconds = peer::now_s() - t0;

  peer::Line(cli, "asio")
      .add("items", n)
      .add("seconds", seconds)
      .add("per_s", static_cast<std::int64_t>(static_cast<double>(n) / seconds))
      .add("ns_per_item", seconds * 1e9 / static_cast<double>(n), 1)
      .emit();
  const auto u = static_cast<std::uint64_t>(n);
  return peer::sum_ok("W5", static_cast<long long>(sum), static_cast<long long>(u * (u - 1) / 2)) ? 0 : 1;
}
