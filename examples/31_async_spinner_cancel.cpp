// Seed 001's coroutine spinner: a spinner task animates while `slow()` "computes"; then the spinner is
// cancelled and the answer printed. Python:
//   spinner = asyncio.create_task(spin('thinking!')); result = await slow(); spinner.cancel()

#include <cstdio>
#include <string>

#include "spindle/aio.hpp"

namespace aio = spindle::aio;
using namespace std::chrono_literals;

aio::Task<void> spin(std::string msg) {
  const char frames[] = "\\|/-";
  std::size_t status_len = 0;
  try {
    for (int i = 0;; ++i) {
      const std::string status = std::string("\r") + frames[i % 4] + " " + msg;
      status_len = status.size();
      std::printf("%s", status.c_str());
      std::fflush(stdout);
      co_await aio::sleep(100ms);  // the frame rate; a cancellation arrives here
    }
  } catch (const spindle::CancelledError&) {
    std::printf("\r%s\r", std::string(status_len, ' ').c_str());  // clean up the line, then let it propagate
    throw;
  }
}

aio::Task<int> slow() {
  co_await aio::sleep(300ms);  // the seed sleeps 3 s; shortened so the example runs in the test suite
  co_return 42;
}

aio::Task<int> supervisor() {
  auto spinner = aio::create_task(spin("thinking!"), "spinner");
  std::printf("spinner object: %s\n", spinner.get_name().c_str());
  const int result = co_await slow();
  spinner.cancel();
  try {
    co_await spinner;
  } catch (const spindle::CancelledError&) {
  }
  co_return result;
}

int main() {
  const int result = aio::run(supervisor());
  std::printf("Answer: %d\n", result);
  return result == 42 ? 0 : 1;
}
