// A Python programmer's first day: an echo server and a TaskGroup of ten clients talking to it.
// Python twin: examples/python/49_first_day_echo_taskgroup.py (a test keeps this file within 1.5x its lines).
#include <cstdio>
#include <spindle/spindle.hpp>
namespace aio = spindle::aio;

aio::Task<void> handle(aio::StreamReader reader, aio::StreamWriter writer) {
  std::string line;
  while (!(line = co_await reader.readline()).empty()) writer.write(line);  // the server closes the writer
}

aio::Task<std::string> client(int port, int i) {
  auto [reader, writer] = co_await aio::open_connection("127.0.0.1", port);
  writer.write("hello " + std::to_string(i) + "\n");
  std::string reply = co_await reader.readline();
  writer.close();
  co_return reply;
}

aio::Task<void> amain() {
  aio::Server server = co_await aio::start_server(handle, "127.0.0.1", 0);
  std::vector<aio::Task<std::string>> tasks;
  co_await aio::task_group([&](aio::TaskGroup& tg) -> aio::Task<void> {
    for (int i = 0; i < 10; ++i) tasks.push_back(tg.create_task(client(server.port(), i)));
    co_return;
  });
  for (auto& t : tasks) std::printf("%s", t.result().c_str());
  server.close();
  co_await server.wait_closed();
}

int main() { aio::run(amain()); }
