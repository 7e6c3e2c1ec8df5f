// Must NOT compile with -Werror (checked by tests/aio/extra.cmake): a forgotten co_await. `aio::sleep(1ms);`
// and `fetch(1);` as statements do nothing at all (Python warns "coroutine ... was never awaited"); Task and
// every awaiter are [[nodiscard]], so the compiler says so. SPINDLE_CASE picks the statement.
#include <chrono>

#include "spindle/aio/task.hpp"

namespace aio = spindle::aio;
using namespace std::chrono_literals;

aio::Task<int> fetch(int x) { co_return x; }

aio::Task<void> forgetful() {
#if SPINDLE_CASE == 1
  aio::sleep(1ms);
#elif SPINDLE_CASE == 2
  fetch(1);
#else
  co_await aio::sleep(1ms);  // the control: this one must compile
  (void)co_await fetch(1);
#endif
  co_return;
}

int main() { return 0; }
