// Seed 001's process spinner: a spinner runs in another process while the main process computes; an
// interprocess Event tells it to stop. Python equivalent:
//
//   def spin(msg, done):                         # done: multiprocessing.Event
//       for char in itertools.cycle(r'\|/-'):
//           print(f'\r{char} {msg}', end='', flush=True)
//           if done.wait(.1): break
//   spinner = Process(target=spin, args=('thinking!', done)); spinner.start()
//   result = slow(); done.set(); spinner.join()

#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

#include "spindle/process.hpp"

namespace sp = spindle::process;
using namespace std::chrono_literals;

void spin(std::string msg, sp::Event done) {
  const char chars[] = "\\|/-";
  for (int i = 0;; ++i) {
    std::printf("\r%c %s", chars[i % 4], msg.c_str());
    std::fflush(stdout);
    if (done.wait(100ms)) break;
  }
  std::printf("\r%*s\r", static_cast<int>(msg.size() + 2), "");
  std::fflush(stdout);
}

int slow() {
  std::this_thread::sleep_for(500ms);  // stands in for a long computation
  return 42;
}

int main() {
  sp::Event done;
  sp::Process spinner({.name = "spinner"}, sp::target<&spin>, std::string("thinking!"), done);
  spinner.start();
  std::printf("spinner pid: %d\n", static_cast<int>(spinner.pid()));
  const int result = slow();
  done.set();
  spinner.join();
  std::printf("Answer: %d\n", result);
  return spinner.exitcode() == 0 && result == 42 ? 0 : 1;
}
