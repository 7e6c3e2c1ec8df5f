// A hybrid pipeline: each stage on the model that fits its work -- fetching on the event loop (aio), parsing
// with a blocking library on threads, CPU-heavy scoring in worker processes -- joined by bounded channels, so
// that backpressure reaches the source. Prints the report: per-stage throughput, busy %, the bottleneck.
// Python, by hand (docs/pipelines.md) or with SPDL:
//
//   pipeline = (PipelineBuilder().add_source(range(2000))
//               .pipe(fetch, concurrency=64)                                   # async def fetch(i)
//               .pipe(parse, executor=ThreadPoolExecutor(2))                   # def parse(text)
//               .pipe(score, executor=ProcessPoolExecutor(2))                  # def score(value)
//               .add_sink(1000).build(num_threads=1))

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

#include "spindle/aio/task.hpp"
#include "spindle/core/range.hpp"
#include "spindle/pipeline.hpp"
#include "spindle/process/start_method.hpp"

namespace pl = spindle::pipeline;
namespace aio = spindle::aio;
using namespace std::chrono_literals;

// I/O: a 2 ms "request" per record; 64 of them wait at once on one event-loop thread.
aio::Task<std::string> fetch(long& id) {
  co_await aio::sleep(2ms);
  co_return "record " + std::to_string(id) + " value=" + std::to_string(id % 97);
}

// A blocking call (a parser library, a database driver): on threads, never on the loop.
long parse(std::string& text) { return std::stol(text.substr(text.find('=') + 1)); }

// CPU-bound: in worker processes, items sent in chunks (one round trip per 64 items, not per item).
std::uint64_t score(long value) {
  std::uint64_t s = static_cast<std::uint64_t>(value);
  for (int i = 0; i < 200'000; ++i) {
    s = s * 6364136223846793005ULL + 1442695040888963407ULL;
    asm volatile("" : "+r"(s));  // keep the loop honest
  }
  return s % 1000;
}

int main() {
  spindle::process::init();  // start the forkserver first thing, before any thread
  constexpr long records = 2000;
  std::uint64_t total = 0;  // the sink runs on one thread: no lock needed
  long arrived = 0;
  pl::Pipeline p = pl::from(spindle::range(records))
                       .aio(fetch, {.concurrency = 64, .name = "fetch"})
                       .thread(parse, {.concurrency = 2, .name = "parse"})
                       .process(&score, {.concurrency = 2, .name = "score", .chunksize = 64})
                       .sink(
                           [&](std::uint64_t& s) {
                             total += s;
                             ++arrived;
                           },
                           {.name = "write"});
  const pl::Report r = p.run();
  std::printf("%s", r.str().c_str());
  std::printf("%ld records scored, total %llu, bottleneck: %s\n", arrived, static_cast<unsigned long long>(total),
              r.bottleneck.c_str());
  return arrived == records && r.state == pl::State::completed ? 0 : 1;
}
