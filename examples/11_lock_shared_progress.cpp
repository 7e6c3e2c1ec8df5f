// Seed 003, exercise 1: ten threads "download" files (random short waits standing in for I/O) and update a
// shared progress counter under a Lock. Without the lock `progress += 1` is a data race (ThreadSanitizer
// reports it); with it the final progress is exactly 10. The seed waits 0.1-0.5 s per file; this 10-50 ms.
#include <chrono>
#include <cstdio>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "spindle/thread/lock.hpp"
#include "spindle/thread/thread.hpp"

using namespace std::chrono_literals;

namespace {
int progress = 0;    // shared, guarded by `lock`
spindle::Lock lock;  // Python: lock = threading.Lock()

void download(int file_id, std::chrono::milliseconds how_long) {
  std::this_thread::sleep_for(how_long);  // the "network"
  std::lock_guard guard(lock);            // Python: with lock:
  progress += 1;
  std::printf("Downloaded %d progress: %d\n", file_id, progress);
}
}  // namespace

int main() {
  std::mt19937 rng(std::random_device{}());
  std::uniform_int_distribution<int> wait_ms(10, 50);
  std::vector<spindle::Thread> threads;
  for (int i = 0; i < 10; ++i) threads.emplace_back(download, i, std::chrono::milliseconds(wait_ms(rng)));
  for (auto& t : threads) t.start();
  for (auto& t : threads) t.join();
  std::printf("Final progress: %d\n", progress);
  return progress == 10 ? 0 : 1;
}
