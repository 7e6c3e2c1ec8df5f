// Seed 001: three spinners animate while a slow computation (a 3 s wait) runs: a thread signalled by an
// Event, a process signalled by an interprocess Event, and a coroutine stopped by cancel(). Each prints
// "Answer: 42". Then the critical mistake: a blocking sleep inside a coroutine freezes the spinner, and the
// loop's debug mode names the culprit while it blocks.

#include <string>
#include <vector>

#include "common.hpp"
#include "spindle/aio/event_loop.hpp"
#include "spindle/aio/run.hpp"
#include "spindle/aio/task.hpp"
#include "spindle/process.hpp"
#include "spindle/thread/event.hpp"
#include "spindle/thread/thread.hpp"

namespace spindle::labs {
namespace {

constexpr const char kFrames[] = "\\|/-";

struct Spin {
  std::FILE* out;
  bool animate;
  int frames = 0;
  void frame() {
    if (animate) {
      std::fprintf(out, "\r%c thinking!", kFrames[frames % 4]);
      std::fflush(out);
    }
    ++frames;
  }
  void clear() {
    if (animate) std::fprintf(out, "\r           \r");
  }
};

// Process + interprocess Event (the seed's second version). The child cannot share our FILE*, so it writes
// to a file descriptor, and reports its frame count through one shared int.
void spin_process(int fd, bool animate, process::Event done, process::SharedArray<std::int32_t> frames) {
  for (int i = 0;; ++i) {
    if (animate) dprintf(fd, "\r%c thinking!", kFrames[i % 4]);
    frames[0] = i + 1;
    if (done.wait(100ms)) break;
  }
  if (animate) dprintf(fd, "\r           \r");
}

int process_spinner(const lab::Options& o, std::chrono::milliseconds slow, int& frames) {
  process::Event done;
  process::SharedArray<std::int32_t> count(1);
  std::fflush(o.out);
  process::Process spinner({.name = "spinner"}, process::target<&spin_process>, fileno(o.out), o.terminal, done, count);
  spinner.start();
  std::this_thread::sleep_for(slow);  // slow() in the parent, the spinner in another process
  done.set();
  spinner.join();
  frames = count[0];
  if (spinner.exitcode() != 0) throw std::runtime_error("the spinner process failed");
  return 42;
}

// Thread + Event (the seed's first version).
int thread_spinner(const lab::Options& o, std::chrono::milliseconds slow, int& frames) {
  Event done;
  Spin spin{o.out, o.terminal};
  Thread spinner([&] {
    for (;;) {
      spin.frame();
      if (done.wait(100ms)) break;  // the timeout is the frame rate
    }
    spin.clear();
  });
  spinner.start();
  std::this_thread::sleep_for(slow);  // slow(): blocks this thread only
  const int result = 42;
  done.set();
  spinner.join();
  frames = spin.frames;
  return result;
}

aio::Task<void> spin_coro(Spin& spin) {
  for (;;) {
    spin.frame();
    try {
      co_await aio::sleep(100ms);
    } catch (const CancelledError&) {
      break;
    }
  }
  spin.clear();
}

aio::Task<int> slow_coro(std::chrono::milliseconds d, bool blocking) {
  if (blocking) {
    std::this_thread::sleep_for(d);  // WRONG: time.sleep() in a coroutine freezes the whole loop
  } else {
    co_await aio::sleep(d);  // right: yields to the loop while waiting
  }
  co_return 42;
}

aio::Task<int> supervisor(Spin& spin, std::chrono::milliseconds d, bool blocking) {
  aio::Task<void> spinner = aio::create_task(spin_coro(spin), "spinner");
  co_await aio::yield_now();  // let the spinner draw its first frame, as asyncio's create_task would by now
  aio::Task<int> slow = aio::create_task(slow_coro(d, blocking), "slow");
  const int result = co_await slow;
  spinner.cancel();
  co_await spinner;
  co_return result;
}

lab::Result run_spinners(const lab::Options& o) {
  const auto slow = o.quick ? 300ms : 3000ms;
  const double s = std::chrono::duration<double>(slow).count();
  lab::Result r;
  int thread_frames = 0;
  double thread_s = 0;
  int answer = 0;
  thread_s = timed([&] { answer = thread_spinner(o, slow, thread_frames); });
  std::fprintf(o.out, "Answer: %d\n", answer);
  const int thread_answer = answer;

  int process_frames = 0;
  const double process_s = timed([&] { answer = process_spinner(o, slow, process_frames); });
  std::fprintf(o.out, "Answer: %d\n", answer);
  const int process_answer = answer;

  Spin coro_spin{o.out, o.terminal};
  const double coro_s =
      timed([&] { answer = aio::run(supervisor(coro_spin, slow, false), aio::RunOptions{.debug = false}); });
  std::fprintf(o.out, "Answer: %d\n", answer);
  const int coro_answer = answer;

  // The mistake, under debug mode: the loop reports the step that blocks it, naming the task.
  Spin frozen{o.out, o.terminal};
  std::vector<std::string> reports;
  double frozen_s = 0;
  {
    aio::EventLoop loop(aio::LoopOptions{.debug = true, .slow_callback_duration = slow / 3});
    loop.set_debug_logger([&](std::string_view line) { reports.emplace_back(line); });
    frozen_s = timed([&] { answer = loop.run_until_complete(supervisor(frozen, slow, true)); });
  }
  std::fprintf(o.out, "Answer: %d\n", answer);
  const int expected_frames = static_cast<int>(s / 0.1);
  r.rows.push_back({"thread + Event: frames drawn", double(thread_frames), lab::kNone, double(expected_frames + 1),
                    "frames", "in " + std::to_string(static_cast<int>(thread_s * 1000)) + " ms"});
  r.rows.push_back({"process + interprocess Event: frames drawn", double(process_frames), lab::kNone,
                    double(expected_frames + 1), "frames",
                    "in " + std::to_string(static_cast<int>(process_s * 1000)) + " ms"});
  r.rows.push_back({"coroutine + cancel(): frames drawn", double(coro_spin.frames), lab::kNone,
                    double(expected_frames + 1), "frames",
                    "in " + std::to_string(static_cast<int>(coro_s * 1000)) + " ms"});
  r.rows.push_back({"coroutine, blocking sleep: frames drawn", double(frozen.frames), lab::kNone,
                    double(expected_frames + 1), "frames",
                    "the loop was frozen for " + std::to_string(static_cast<int>(frozen_s * 1000)) + " ms"});
  r.rows.push_back({"debug-mode reports of the blocked loop", double(reports.size()), lab::kNone, 1, "reports", ""});
  if (!reports.empty()) r.notes.push_back("debug mode: " + reports.front());
  r.facts = {{"thread_answer", thread_answer},
             {"coro_answer", coro_answer},
             {"process_answer", process_answer},
             {"process_frames", process_frames},
             {"blocked_answer", answer},
             {"thread_frames", thread_frames},
             {"coro_frames", coro_spin.frames},
             {"blocked_frames", frozen.frames},
             {"debug_reports", double(reports.size())},
             {"debug_names_slow", !reports.empty() && reports.front().find("slow") != std::string::npos ? 1 : 0}};
  r.lesson =
      "a thread and a coroutine both keep the spinner alive while slow() waits; a blocking call inside a "
      "coroutine freezes every task on the loop, and debug mode says which one did it";
  return r;
}

const lab::Register register_spinners({"001-spinners", "001",
                                       "Three spinners (thread, process, coroutine) and the blocking mistake",
                                       run_spinners});

}  // namespace
}  // namespace spindle::labs
