// A Python programmer's first day: 50 downloads on a thread pool, then the same with gather on the event loop.
// Python twin: examples/python/05_first_day_downloads.py (a test keeps this file within 1.5x its lines).
#include <cstdio>
#include <ranges>
#include <spindle/spindle.hpp>
#include <thread>
using namespace std::chrono_literals;
namespace aio = spindle::aio;

int download(int i) {
  std::this_thread::sleep_for(100ms);  // a network call's wait
  return i;
}

aio::Task<int> adownload(int i) {
  co_await aio::sleep(100ms);
  co_return i;
}

int main() {
  spindle::ThreadPoolExecutor pool(50);
  int threaded = 0, gathered = 0;
  for (int r : pool.map(download, std::views::iota(0, 50))) threaded += r;
  for (int r : aio::run(aio::gather(std::views::iota(0, 50) | std::views::transform(adownload)))) gathered += r;
  std::printf("%d\n%d\n", threaded, gathered);
}
