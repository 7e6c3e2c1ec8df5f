// A Python programmer's first day: 50 downloads on a thread pool, then the same with gather on the event loop.
// Python twin: examples/python/05_first_day_downloads.py (a test keeps this file within 1.5x its lines).
#include <cstdio>
#include <spindle/spindle.hpp>
#include <thread>
using namespace std::chrono_literals;
namespace aio = spindle::aio;

long download(long i) {
  std::this_thread::sleep_for(100ms);  // a network call's wait
  return i;
}

aio::Task<long> adownload(long i) {
  co_await aio::sleep(100ms);
  co_return i;
}

int main() {
  spindle::ThreadPoolExecutor pool(50);
  long threaded = 0, gathered = 0;
  for (long r : pool.map(download, spindle::range(50))) threaded += r;
  for (long r : aio::run(aio::gather(adownload, spindle::range(50)))) gathered += r;
  std::printf("%ld\n%ld\n", threaded, gathered);
}
