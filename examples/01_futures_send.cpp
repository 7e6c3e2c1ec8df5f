// Seed 003, "Futures abstraction": futures decouple running work from handling its result.
//
//   with ThreadPoolExecutor() as pool:
//       futures = [pool.submit(send, "email"), pool.submit(send, "sms")]
//       for f in futures: print(f.result())
#include <cstdio>
#include <string>
#include <vector>

#include "spindle/thread/thread_pool_executor.hpp"

std::string send(const std::string& msg) { return msg + " sent"; }

int main() {
  spindle::ThreadPoolExecutor pool;  // like Python: max_workers = min(32, cores + 4), threads start lazily
  std::vector<spindle::Future<std::string>> futures{pool.submit(send, "email"), pool.submit(send, "sms")};
  for (auto& f : futures) std::printf("%s\n", f.result().c_str());
  return futures[0].result() == "email sent" && futures[1].result() == "sms sent" ? 0 : 1;
}
