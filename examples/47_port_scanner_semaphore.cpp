// A bounded port scanner: try a handful of 127.0.0.1 ports concurrently, at most 3 connection attempts at a
// time (an aio Semaphore), each bounded by a timeout. One port is served by this example itself, so exactly
// one is found open; the others are ports that were free a moment ago (refused).
//
// Python equivalent:
//   sem = asyncio.Semaphore(3)
//   async def probe(port):
//       async with sem:
//           try: await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 0.5); return True
//           except OSError: return False

#include <cstdio>
#include <string>
#include <system_error>
#include <vector>

#include "spindle/aio/locks.hpp"
#include "spindle/aio/run.hpp"
#include "spindle/aio/server.hpp"
#include "spindle/aio/streams.hpp"

namespace aio = spindle::aio;
using namespace std::chrono_literals;

namespace {

aio::Task<bool> probe(int port, aio::Semaphore& sem, int& in_flight, int& peak) {
  co_await sem.acquire();
  ++in_flight;
  peak = std::max(peak, in_flight);
  bool open = false;
  try {
    auto connecting = aio::open_connection("127.0.0.1", port, {.timeout = 500ms});
    auto [r, w] = co_await std::move(connecting);
    w.close();
    open = true;
  } catch (const std::system_error&) {
  } catch (const spindle::TimeoutError&) {
  }
  --in_flight;
  sem.release();
  co_return open;
}

aio::Task<int> free_port() {  // a port that nobody listens on: bind, read the port, close
  aio::ConnectionHandler none = [](aio::StreamReader, aio::StreamWriter) -> aio::Task<void> { co_return; };
  auto starting = aio::start_server(std::move(none), "127.0.0.1", 0);
  aio::Server s = co_await std::move(starting);
  const int port = s.port();
  s.close();
  co_await s.wait_closed();
  co_return port;
}

aio::Task<int> main_task() {
  aio::ConnectionHandler hello = [](aio::StreamReader, aio::StreamWriter w) -> aio::Task<void> {
    w.write("hi\n");
    co_return;
  };
  auto starting = aio::start_server(std::move(hello), "127.0.0.1", 0);
  aio::Server server = co_await std::move(starting);
  std::vector<int> ports;
  for (int i = 0; i < 7; ++i) ports.push_back(co_await free_port());
  ports.insert(ports.begin() + 3, server.port());
  aio::Semaphore sem(3);
  int in_flight = 0;
  int peak = 0;
  std::vector<aio::Task<bool>> probes;
  for (int p : ports) probes.push_back(aio::create_task(probe(p, sem, in_flight, peak)));
  int open = 0;
  for (std::size_t i = 0; i < probes.size(); ++i) {
    const bool is_open = co_await probes[i];
    std::printf("127.0.0.1:%d %s\n", ports[i], is_open ? "open" : "closed");
    open += is_open ? 1 : 0;
  }
  server.close();
  co_await server.wait_closed();
  std::printf("%d open of %zu scanned, at most %d probes at once\n", open, ports.size(), peak);
  co_return open == 1 && peak <= 3 ? 0 : 1;
}

}  // namespace

int main() { return aio::run(main_task()); }
