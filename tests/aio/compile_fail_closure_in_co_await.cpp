// Must NOT compile on a g++ with PR c++/100611 (checked by tests/aio/extra.cmake): a lambda capturing a
// std::string by value, written inside `co_await aio::start_server(...)`. g++ 12 destroys that closure twice
// (free(): double free detected in tcache 2); spindle refuses it at compile time there. The bug itself, with
// no spindle at all (g++ 12 -O2 -fsanitize=address reports a double free; clang 14 runs it clean):
//
//   struct Task { /* promise: initial suspend_never, final suspend_always; awaiter: await_suspend -> false */ };
//   struct Foo { std::string s = std::string(64, 'x'); };
//   Task test() { Foo foo; co_await [foo]() -> Task { co_return; }(); }  // foo's copy destroyed twice
//
// (GCC's own test: gcc/testsuite/g++.dg/coroutines/pr100611.C.) SPINDLE_CASE 0 is the control: the named
// handler compiles. SPINDLE_CASE 2 is the same mistake with a protocol factory (create_server).
#include <memory>
#include <string>

#include "spindle/aio/protocols.hpp"
#include "spindle/aio/server.hpp"

namespace aio = spindle::aio;

aio::Task<void> serve() {
  const std::string big(200, 'x');
#if SPINDLE_CASE == 1
  aio::Server server = co_await aio::start_server(
      [big](aio::StreamReader, aio::StreamWriter w) -> aio::Task<void> {
        w.write(big);
        co_return;
      },
      "127.0.0.1", 0);
#elif SPINDLE_CASE == 2
  aio::Server server = co_await aio::create_server([big] { return std::make_shared<aio::Protocol>(); }, "127.0.0.1", 0);
#else
  auto factory = [big] { return std::make_shared<aio::Protocol>(); };
  aio::Server protocols = co_await aio::create_server(factory, "127.0.0.1", 0);
  protocols.close();
  auto handler = [big](aio::StreamReader, aio::StreamWriter w) -> aio::Task<void> {
    w.write(big);
    co_return;
  };
  aio::Server server = co_await aio::start_server(handler, "127.0.0.1", 0);
#endif
  server.close();
}

int main() { return 0; }
