// The three models together: a coroutine awaits CPU-bound work running in a process pool, while another
// task keeps the event loop responsive. The pool's futures are the core spindle::Future, so `co_await` works
// on them directly. Python:
//
//   async def main():
//       loop = asyncio.get_running_loop()
//       with ProcessPoolExecutor(2) as pool:
//           results = await asyncio.gather(*(loop.run_in_executor(pool, heavy, n) for n in ns))

#include <cstdint>
#include <cstdio>
#include <vector>

#include "spindle/aio.hpp"
#include "spindle/process.hpp"

namespace aio = spindle::aio;
namespace sp = spindle::process;

std::uint64_t heavy(std::uint64_t n) {
  std::uint64_t s = 0;
  for (std::uint64_t i = 0; i < n; ++i) s += i * i;
  return s;
}

aio::Task<int> ticker(int* ticks) {
  for (;;) {  // runs until cancelled: proves the loop is not blocked while the processes compute
    ++*ticks;
    co_await aio::sleep(std::chrono::milliseconds(1));
  }
}

aio::Task<std::uint64_t> main_task(sp::ProcessPoolExecutor& pool, int* ticks) {
  auto tick = aio::create_task(ticker(ticks));
  co_await aio::sleep(std::chrono::milliseconds(0));  // yield once: the ticker starts
  std::vector<spindle::Future<std::uint64_t>> futures;
  for (std::uint64_t n : {1'000'000u, 2'000'000u, 3'000'000u, 4'000'000u}) futures.push_back(pool.submit<&heavy>(n));
  std::uint64_t total = 0;
  for (auto& f : futures) total += co_await std::move(f);  // suspends this task, not the thread
  tick.cancel();
  co_return total;
}

int main() {
  sp::init();
  sp::ProcessPoolExecutor pool(2);
  int ticks = 0;
  const std::uint64_t total = aio::run(main_task(pool, &ticks));
  const std::uint64_t expected = heavy(1'000'000) + heavy(2'000'000) + heavy(3'000'000) + heavy(4'000'000);
  std::printf("sum of squares from 4 process tasks: %llu; the loop ticked %d times meanwhile\n",
              static_cast<unsigned long long>(total), ticks);
  return total == expected && ticks > 0 ? 0 : 1;
}
