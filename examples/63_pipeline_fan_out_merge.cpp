// Fan-out and merge: two sources of log lines merge into one flow; each line then goes both to an indexer
// (a blocking call, on threads) and to an alerter (a network call, on the event loop); their outputs merge
// into one sink. Python (hand-written asyncio stages):
//
//   merged = asyncio.Queue(1000)                  # both sources put here
//   to_index, to_alert = asyncio.Queue(1000), asyncio.Queue(1000)
//   async def tee():                               # every line to both branches
//       while True:
//           line = await merged.get(); await to_index.put(line); await to_alert.put(line)
//   ... one task per branch, both putting on one results queue read by the sink

#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "spindle/aio/task.hpp"
#include "spindle/pipeline.hpp"

namespace pl = spindle::pipeline;
namespace aio = spindle::aio;
using namespace std::chrono_literals;

// The alerter: a network call in real life (a webhook); here a short wait on the loop.
aio::Task<std::string> alert_if_error(std::string& line) {
  if (line.find("ERROR") == std::string::npos) co_return "ok";
  co_await aio::sleep(1ms);
  co_return "alerted: " + line;
}

int main() {
  std::vector<std::string> app_log{"INFO start", "ERROR disk full", "INFO retry", "INFO done"};
  int polled = 0;
  auto syslog = [&]() -> std::optional<std::string> {  // a generator: a tail -f in real life
    if (polled == 3) return std::nullopt;
    return "INFO kernel tick " + std::to_string(polled++);
  };

  std::size_t indexed = 0, alerts = 0, oks = 0;  // one sink thread touches them
  pl::Pipeline p = pl::merge(pl::from(app_log, {.name = "app.log"}), pl::from(syslog, {.name = "syslog"}))
                       .fan_out(
                           [](pl::Flow<std::string> f) {
                             return std::move(f).thread([](std::string& line) { return "indexed " + line; },
                                                        {.concurrency = 2, .name = "index"});
                           },
                           [](pl::Flow<std::string> f) {
                             return std::move(f).aio(alert_if_error, {.concurrency = 16, .name = "alert"});
                           })
                       .sink([&](std::string& r) {
                         if (r.rfind("indexed", 0) == 0) {
                           ++indexed;
                         } else if (r == "ok") {
                           ++oks;
                         } else {
                           ++alerts;
                           std::printf("%s\n", r.c_str());
                         }
                       });
  pl::Report report = p.run();
  std::printf("%zu lines indexed, %zu alert(s), %zu fine\n", indexed, alerts, oks);
  std::printf("%s", report.str().c_str());
  return indexed == 7 && alerts == 1 && oks == 6 ? 0 : 1;
}
