// A Python programmer's first echo server, written the natural way: a handler lambda that captures state by
// value (a std::string) and by reference, handed straight to start_server inside the co_await. g++ 12 destroys
// a capturing closure written inside a co_await full-expression twice (GCC PR c++/100611: double free in the
// closure's destructor); spindle rejects that form at compile time on the affected g++ (see
// tests/aio/compile_fail_closure_in_co_await.cpp) and these are the spellings that work everywhere. The suite
// runs under ASan with g++ 12 in CI, so a double destruction here fails the run.

#include <gtest/gtest.h>

#include <string>

#include "census.hpp"
#include "spindle/aio/run.hpp"
#include "spindle/aio/server.hpp"
#include "spindle/aio/streams.hpp"

namespace aio = spindle::aio;

namespace {

using FirstDayServerTest = spindle::test::LeakCheckedTest;

// One line to the server and its answer back.
aio::Task<std::string> ask(int port, std::string line) {
  auto [r, w] = co_await aio::open_connection("127.0.0.1", port);
  w.write(line + "\n");
  co_await w.drain();
  std::string answer = co_await r.readline();
  w.close();
  co_await w.wait_closed();
  co_return answer;
}

aio::Task<std::string> serve_once_named_handler() {
  int served = 0;
  const std::string big(200, 'x');  // long enough to live on the heap: a double free of it would be seen
  auto handler = [&served, big](aio::StreamReader r, aio::StreamWriter w) -> aio::Task<void> {
    std::string line = co_await r.readline();
    ++served;
    w.write(big.substr(0, 3) + ":" + line);
    co_await w.drain();
  };
  aio::Server server = co_await aio::start_server(handler, "127.0.0.1", 0);
  std::string answer = co_await ask(server.port(), "hi");
  server.close();
  co_await server.wait_closed();
  EXPECT_EQ(served, 1);
  co_return answer;
}

TEST_F(FirstDayServerTest, EchoServerWithANamedCapturingHandler) {
  EXPECT_EQ(aio::run(serve_once_named_handler()), "xxx:hi\n");
}

aio::Task<std::string> serve_once_two_steps() {
  int served = 0;
  const std::string big(200, 'y');
  // The handler is stored by a call that does not await; the separate awaitable only binds and listens.
  aio::Server server([&served, big](aio::StreamReader r, aio::StreamWriter w) -> aio::Task<void> {
    std::string line = co_await r.readline();
    ++served;
    w.write(big.substr(0, 3) + ":" + line);
    co_await w.drain();
  });
  co_await server.listen("127.0.0.1", 0);
  EXPECT_TRUE(server.is_serving());
  std::string answer = co_await ask(server.port(), "there");
  server.close();
  co_await server.wait_closed();
  EXPECT_EQ(served, 1);
  co_return answer;
}

TEST_F(FirstDayServerTest, EchoServerWithTheHandlerStoredFirstThenListen) {
  EXPECT_EQ(aio::run(serve_once_two_steps()), "yyy:there\n");
}

aio::Task<std::string> serve_once_reference_captures() {
  int served = 0;
  const std::string big(200, 'z');
  // Captures by reference only: nothing for the closure to destroy, so this form is safe inside the co_await
  // on every compiler, and it compiles everywhere.
  aio::Server server = co_await aio::start_server(
      [&served, &big](aio::StreamReader r, aio::StreamWriter w) -> aio::Task<void> {
        std::string line = co_await r.readline();
        ++served;
        w.write(big.substr(0, 3) + ":" + line);
        co_await w.drain();
      },
      "127.0.0.1", 0);
  std::string answer = co_await ask(server.port(), "you");
  server.close();
  co_await server.wait_closed();
  EXPECT_EQ(served, 1);
  co_return answer;
}

TEST_F(FirstDayServerTest, EchoServerWithReferenceCapturesInsideTheCoAwait) {
  EXPECT_EQ(aio::run(serve_once_reference_captures()), "zzz:you\n");
}

#if !SPINDLE_GCC_PR100611
// On compilers without the bug the most natural spelling of all compiles and runs.
aio::Task<std::string> serve_once_inline_value_capture() {
  int served = 0;
  const std::string big(200, 'w');
  aio::Server server = co_await aio::start_server(
      [&served, big](aio::StreamReader r, aio::StreamWriter w) -> aio::Task<void> {
        std::string line = co_await r.readline();
        ++served;
        w.write(big.substr(0, 3) + ":" + line);
        co_await w.drain();
      },
      "127.0.0.1", 0);
  std::string answer = co_await ask(server.port(), "all");
  server.close();
  co_await server.wait_closed();
  EXPECT_EQ(served, 1);
  co_return answer;
}

TEST_F(FirstDayServerTest, EchoServerWithAValueCaptureInsideTheCoAwait) {
  EXPECT_EQ(aio::run(serve_once_inline_value_capture()), "www:all\n");
}
#endif

}  // namespace
