// Error policies per stage: `retry` re-runs a flaky call (with backoff), `skip` sends an item that keeps
// failing to the dead letters with its error, and the run goes on; the default, fail_fast, would cancel the
// whole run and rethrow, as asyncio.TaskGroup. Python (tenacity + a hand-written skip):
//
//   @retry(stop=stop_after_attempt(3), wait=wait_exponential(multiplier=0.001))
//   def lookup(x): ...
//   try: y = parse(x)
//   except ValueError as e: dead_letters.append((x, e)); continue

#include <atomic>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

#include "spindle/core/range.hpp"
#include "spindle/pipeline.hpp"

namespace pl = spindle::pipeline;
using namespace std::chrono_literals;

int main() {
  constexpr long n = 1000;
  std::vector<std::atomic<int>> attempts(n);
  // Fails the first time it sees every 10th item: a transient error, which retry absorbs.
  auto lookup = [&](long& x) {
    if (x % 10 == 0 && attempts[static_cast<std::size_t>(x)]++ == 0) throw std::runtime_error("timeout");
    return x;
  };
  // Fails for good on every 250th item: bad input, which skip sets aside.
  auto parse = [](long& x) {
    if (x % 250 == 3) throw std::invalid_argument("cannot parse record " + std::to_string(x));
    return x * 2;
  };
  auto p = pl::from(spindle::range(n))
               .thread(lookup, {.concurrency = 2, .name = "lookup", .errors = pl::retry(2, 1ms)})
               .thread(parse, {.concurrency = 2, .name = "parse", .errors = pl::skip})
               .collect();
  const pl::Report r = p.run();
  const std::vector<long> results = p.results();

  std::printf("%zu results, %llu retries in lookup, %llu dead letters:\n", results.size(),
              static_cast<unsigned long long>(r.stages[1].retried),
              static_cast<unsigned long long>(r.dead_letter_count));
  for (const pl::DeadLetter& d : r.dead_letters) {
    std::printf("  %s: item %ld: %s\n", d.stage.c_str(), *d.item_as<long>(), d.what.c_str());
  }
  return results.size() == n - 4 && r.stages[1].retried == n / 10 && r.dead_letter_count == 4 ? 0 : 1;
}
