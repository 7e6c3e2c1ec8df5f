// A tiny chat server: every line a client sends is broadcast to all the other clients. Shows several tasks
// sharing state on one loop without locks (only one task runs at a time, and only at an await can another
// run), a StreamWriter per client, and drain() as per-client backpressure.
//
// Python equivalent: the classic asyncio chat room (a set of writers; `for w in writers: w.write(msg)`).

#include <cstdio>
#include <set>
#include <string>
#include <vector>

#include "spindle/aio/locks.hpp"
#include "spindle/aio/run.hpp"
#include "spindle/aio/server.hpp"
#include "spindle/aio/streams.hpp"

namespace aio = spindle::aio;

namespace {

struct Room {
  std::set<aio::StreamWriter*> members;
};

aio::Task<int> chatter(int port, std::string name, int expect, aio::Event& everyone_in, int& joined, int total) {
  auto connecting = aio::open_connection("127.0.0.1", port);
  auto [reader, writer] = co_await std::move(connecting);
  writer.write(name + "\n");         // first line: the nickname
  (void)co_await reader.readline();  // "welcome"
  if (++joined == total) everyone_in.set();
  co_await everyone_in.wait();
  writer.write("hello from " + name + "\n");
  int heard = 0;
  while (heard < expect) {
    std::string line = co_await reader.readline();
    if (line.empty()) break;
    ++heard;
    std::printf("  %s hears: %s", name.c_str(), line.c_str());
  }
  writer.close();
  co_return heard;
}

aio::Task<int> main_task() {
  Room room;
  aio::ConnectionHandler handler = [&room](aio::StreamReader r, aio::StreamWriter w) -> aio::Task<void> {
    std::string nick = co_await r.readline();
    if (!nick.empty()) nick.pop_back();
    room.members.insert(&w);
    w.write("welcome " + nick + "\n");
    for (;;) {
      std::string line = co_await r.readline();
      if (line.empty()) break;
      for (aio::StreamWriter* other : room.members) {
        if (other != &w) other->write("<" + nick + "> " + line);
      }
      co_await w.drain();
    }
    room.members.erase(&w);
  };
  auto starting = aio::start_server(std::move(handler), "127.0.0.1", 0);
  aio::Server server = co_await std::move(starting);
  const std::vector<std::string> names = {"ada", "grace", "linus"};
  aio::Event everyone_in;
  int joined = 0;
  std::vector<aio::Task<int>> people;
  for (const auto& n : names) {
    people.push_back(aio::create_task(chatter(server.port(), n, 2, everyone_in, joined, 3)));
  }
  int heard = 0;
  for (auto& p : people) heard += co_await p;
  server.close();
  co_await server.wait_closed();
  std::printf("%d messages delivered (expected 6)\n", heard);
  co_return heard == 6 ? 0 : 1;
}

}  // namespace

int main() { return aio::run(main_task()); }
