// Seed 001, the threading spinner: a Thread animates a spinner until an Event is set, while the main thread
// runs slow(). Event::wait(timeout) is both the frame rate and the stop signal, so the spinner stops at once
// when told (no polling flag, no sleep). The seed's slow() sleeps 3 s; this one 0.3 s to keep the example quick.
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

#include "spindle/thread/event.hpp"
#include "spindle/thread/thread.hpp"

using namespace std::chrono_literals;

void spin(const std::string& msg, spindle::Event& done) {
  std::size_t frames = 0;
  std::string status;
  for (const char* chars = "\\|/-";; ++frames) {
    status = std::string("\r") + chars[frames % 4] + " " + msg;
    std::fputs(status.c_str(), stdout);
    std::fflush(stdout);
    if (done.wait(100ms)) break;  // the timeout acts as the frame rate
  }
  std::printf("\r%*s\r", static_cast<int>(status.size()), "");  // blank the line
}

int slow() {
  std::this_thread::sleep_for(300ms);  // stands in for blocking I/O: this thread waits, the spinner runs
  return 42;
}

int supervisor() {
  spindle::Event done;
  spindle::Thread spinner(spindle::ThreadOptions{.name = "spinner"}, spin, std::string("thinking!"), std::ref(done));
  spinner.start();
  const int result = slow();
  done.set();  // signal the spinner to stop
  spinner.join();
  return result;
}

int main() {
  const auto t0 = std::chrono::steady_clock::now();
  const int result = supervisor();
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("Answer: %d\n", result);
  std::printf("(%.2fs: the spinner stopped as soon as slow() returned)\n", elapsed);
  return result == 42 ? 0 : 1;
}
