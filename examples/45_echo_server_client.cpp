// An echo server and its clients on one event loop: asyncio's canonical streams example. The server runs one
// task per connection (read a line, write it back); ten clients connect concurrently, each sends a few lines
// and checks the echo. The server picks a free port (port 0) and everything stays on 127.0.0.1.
//
// Python equivalent:
//   async def handle(reader, writer):
//       while line := await reader.readline():
//           writer.write(line); await writer.drain()
//       writer.close()
//   server = await asyncio.start_server(handle, "127.0.0.1", 0)
//   reader, writer = await asyncio.open_connection("127.0.0.1", port)

#include <cstdio>
#include <string>
#include <vector>

#include "spindle/aio/run.hpp"
#include "spindle/aio/server.hpp"
#include "spindle/aio/streams.hpp"

namespace aio = spindle::aio;

namespace {

aio::Task<void> handle(aio::StreamReader reader, aio::StreamWriter writer) {
  for (;;) {
    std::string line = co_await reader.readline();
    if (line.empty()) break;  // EOF: the client closed
    writer.write(line);
    co_await writer.drain();
  }
}

aio::Task<int> client(int port, int id) {
  auto connecting = aio::open_connection("127.0.0.1", port);
  auto [reader, writer] = co_await std::move(connecting);
  int good = 0;
  for (int i = 0; i < 5; ++i) {
    const std::string msg = "client " + std::to_string(id) + " line " + std::to_string(i) + "\n";
    writer.write(msg);
    std::string back = co_await reader.readline();
    if (back == msg) ++good;
  }
  writer.close();
  co_await writer.wait_closed();
  co_return good;
}

aio::Task<int> main_task() {
  aio::ConnectionHandler handler = handle;
  auto starting = aio::start_server(std::move(handler), "127.0.0.1", 0);
  aio::Server server = co_await std::move(starting);
  std::printf("serving on %s\n", server.sockets().front().to_string().c_str());
  std::vector<aio::Task<int>> clients;
  for (int id = 0; id < 10; ++id) clients.push_back(aio::create_task(client(server.port(), id)));
  int good = 0;
  for (auto& c : clients) good += co_await c;
  server.close();
  co_await server.wait_closed();
  std::printf("%d of 50 lines echoed intact by %zu connections\n", good, server.accepted());
  co_return good == 50 ? 0 : 1;
}

}  // namespace

int main() { return aio::run(main_task()); }
