// The advisor in library form: measure two pieces of work and ask what each needs. The notebook's
// "decision in three questions", answered by sampling /proc instead of by guessing.
//
//   spindle advise -- python3 job.py     # the same for any program, from the command line

#include <chrono>
#include <cstdio>
#include <thread>

#include "spindle/advisor/measure.hpp"

namespace adv = spindle::advisor;
using namespace std::chrono_literals;

int main() {
  // Waiting work: four 100 ms "network calls" one after another.
  const adv::Report waiting = adv::measure([] {
    for (int i = 0; i < 4; ++i) std::this_thread::sleep_for(100ms);
  });
  // Computing work: a loop that keeps one core busy for 300 ms.
  const adv::Report computing = adv::measure([] {
    const auto end = std::chrono::steady_clock::now() + 300ms;
    volatile unsigned long long x = 0;
    while (std::chrono::steady_clock::now() < end) x = x + 1;
  });
  std::printf("sleeping:  %s -> use %s (%d workers)\n  %s\n", adv::to_string(waiting.classification),
              adv::to_string(waiting.model), waiting.pool_size, waiting.reason.c_str());
  std::printf("computing: %s -> use %s (%d workers)\n  %s\n", adv::to_string(computing.classification),
              adv::to_string(computing.model), computing.pool_size, computing.reason.c_str());
  const bool right = waiting.classification == adv::Classification::io_bound &&
                     computing.classification == adv::Classification::cpu_bound;
  return right ? 0 : 1;
}
