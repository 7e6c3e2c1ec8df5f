// Seed 003's dashboard: three "fetches" with random 50-150 ms latencies run concurrently with gather; the total
// is about the slowest one, not the sum. Python: `results = await asyncio.gather(fetch(a), fetch(b), fetch(c))`.

#include <chrono>
#include <cstdio>
#include <random>
#include <string>

#include "spindle/aio.hpp"

namespace aio = spindle::aio;
using namespace std::chrono_literals;

aio::Task<std::string> fetch(std::string source, std::chrono::milliseconds latency) {
  co_await aio::sleep(latency);  // stands for a network call
  co_return source + ": ok (" + std::to_string(latency.count()) + " ms)";
}

aio::Task<int> dashboard() {
  std::mt19937 rng(std::random_device{}());
  std::uniform_int_distribution<int> ms(50, 150);
  const std::chrono::milliseconds l1(ms(rng)), l2(ms(rng)), l3(ms(rng));
  const auto t0 = std::chrono::steady_clock::now();
  auto [weather, news, stocks] = co_await aio::gather(fetch("weather", l1), fetch("news", l2), fetch("stocks", l3));
  const auto total = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
  std::printf("%s\n%s\n%s\n", weather.c_str(), news.c_str(), stocks.c_str());
  const auto slowest = std::max({l1, l2, l3});
  std::printf("total %lld ms, slowest %lld ms, sum %lld ms\n", static_cast<long long>(total.count()),
              static_cast<long long>(slowest.count()), static_cast<long long>((l1 + l2 + l3).count()));
  // Concurrent, not sequential: the total is near the slowest fetch (generous bound for loaded machines).
  co_return total < slowest + 200ms ? 0 : 1;
}

int main() { return aio::run(dashboard()); }
