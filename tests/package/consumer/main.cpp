// A downstream program: it sees only spindle's installed headers (through the one umbrella header) and its
// package, and uses each model once, so that each module's dependencies must be in the link (liburing for
// aio's io_uring poller, cereal for the process codec): a thread pool task, a coroutine doing real socket
// I/O on the event loop, and a registered function run by a process pool's worker. It prints
// "consumer ok 42" only when every result is right.
#include <chrono>
#include <cstdio>
#include <string>

#include "spindle/spindle.hpp"

namespace aio = spindle::aio;
namespace sp = spindle::process;

namespace {

int times_six(int x) { return x * 6; }  // run in a worker process: pool.submit<&times_six>

aio::Task<void> echo_line(aio::StreamReader reader, aio::StreamWriter writer) {
  std::string line = co_await reader.readline();
  writer.write(line);
  co_await writer.drain();
}

// A server and a client on one loop over 127.0.0.1: the poller really waits for the socket. Returns the
// number the server echoed back.
aio::Task<int> echo_through_loopback(int n) {
  co_await aio::sleep(std::chrono::milliseconds(1));
  aio::ConnectionHandler handler = echo_line;
  auto starting = aio::start_server(std::move(handler), "127.0.0.1", 0);
  aio::Server server = co_await std::move(starting);
  auto connecting = aio::open_connection("127.0.0.1", server.port());
  auto [reader, writer] = co_await std::move(connecting);
  writer.write(std::to_string(n) + "\n");
  const std::string back = co_await reader.readline();
  writer.close();
  co_await writer.wait_closed();
  server.close();
  co_await server.wait_closed();
  co_return std::stoi(back);
}

}  // namespace

int main() {
  sp::init();

  spindle::ThreadPoolExecutor threads(2);
  auto by_thread = threads.submit([](int x) { return x * 6; }, 7);
  const int from_thread = by_thread.result();

  const int from_loop = aio::run(echo_through_loopback(42));

  sp::ProcessPoolExecutor processes(1);
  auto by_process = processes.submit<&times_six>(7);
  const int from_process = by_process.result();

  std::printf("thread %d, aio %d, process %d\n", from_thread, from_loop, from_process);
  if (from_thread != 42 || from_loop != 42 || from_process != 42) return 1;
  std::printf("consumer ok %d\n", from_loop);
  return 0;
}
