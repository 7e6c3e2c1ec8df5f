// Subprocesses: pipes in every direction, communicate, signals, reaping (no zombies), spawn errors, and a child
// that floods stdout while the parent reads slowly (memory stays bounded).
// SPINDLE_TEST_ON_EACH_BACKEND: tests/CMakeLists.txt runs these on epoll and again on io_uring ("uring." names).

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <csignal>
#include <string>

#include "census.hpp"
#include "spindle/aio/run.hpp"
#include "spindle/aio/subprocess.hpp"
#include "spindle/aio/timeout.hpp"

namespace aio = spindle::aio;
using namespace std::chrono_literals;

namespace {

using SubprocessTest = spindle::test::LeakCheckedTest;

// "a|b|c" -> {"a", "b", "c"} (g++ 12 cannot keep a braced list of string literals in a coroutine frame).
std::vector<std::string> argv(const std::string& joined) {
  std::vector<std::string> out;
  std::size_t start = 0;
  for (;;) {
    const std::size_t bar = joined.find('|', start);
    out.push_back(joined.substr(start, bar - start));
    if (bar == std::string::npos) return out;
    start = bar + 1;
  }
}

bool no_children_left() {
  // waitpid(-1, WNOHANG) is ECHILD when this process has no child at all, zombie or not.
  int st = 0;
  return ::waitpid(-1, &st, WNOHANG) < 0 && errno == ECHILD;
}

TEST_F(SubprocessTest, CommunicateThroughAllThreePipes) {
  auto main = []() -> aio::Task<aio::CommunicateResult> {
    aio::Process p = co_await aio::create_subprocess_shell(
        "tr a-z A-Z; echo oops >&2; exit 3",
        {.stdin_ = aio::Redirect::pipe, .stdout_ = aio::Redirect::pipe, .stderr_ = aio::Redirect::pipe});
    EXPECT_GT(p.pid(), 0);
    co_return co_await p.communicate("hello pipes\n");
  };
  const auto r = aio::run(main());
  EXPECT_EQ(r.out, "HELLO PIPES\n");
  EXPECT_EQ(r.err, "oops\n");
  EXPECT_EQ(r.returncode, 3);
  EXPECT_TRUE(no_children_left());
}

TEST_F(SubprocessTest, ExecWithArgumentsAndStderrToStdout) {
  auto main = []() -> aio::Task<std::string> {
    aio::Process p = co_await aio::create_subprocess_exec(
        argv("sh|-c|echo out; echo err >&2|ignored"),
        {.stdout_ = aio::Redirect::pipe, .stderr_ = aio::Redirect::stdout_});
    std::string all = co_await p.stdout_pipe().read(-1);
    {
      auto got = co_await p.wait();
      EXPECT_EQ(got, 0);
    }
    co_return all;
  };
  EXPECT_EQ(aio::run(main()), "out\nerr\n");
}

TEST_F(SubprocessTest, ReadLineByLineAndDevnull) {
  auto main = []() -> aio::Task<void> {
    aio::Process p = co_await aio::create_subprocess_exec(
        argv("sh|-c|cat; echo a; echo b; echo c >&2"),
        {.stdin_ = aio::Redirect::devnull, .stdout_ = aio::Redirect::pipe, .stderr_ = aio::Redirect::devnull});
    {
      auto got = co_await p.stdout_pipe().readline();
      EXPECT_EQ(got, "a\n");
    }
    {
      auto got = co_await p.stdout_pipe().readline();
      EXPECT_EQ(got, "b\n");
    }
    {
      auto got = co_await p.stdout_pipe().readline();
      EXPECT_EQ(got, "");
    }
    EXPECT_TRUE(p.stdout_pipe().at_eof());
    {
      auto got = co_await p.wait();
      EXPECT_EQ(got, 0);
    }
    EXPECT_EQ(p.returncode(), 0);
  };
  aio::run(main());
}

TEST_F(SubprocessTest, TerminateAndKill) {
  auto main = []() -> aio::Task<void> {
    aio::Process a = co_await aio::create_subprocess_exec(argv("sleep|30"));
    aio::Process b = co_await aio::create_subprocess_exec(argv("sleep|30"));
    EXPECT_FALSE(a.returncode().has_value());
    a.terminate();
    b.kill();
    {
      auto got = co_await a.wait();
      EXPECT_EQ(got, -SIGTERM);
    }
    {
      auto got = co_await b.wait();
      EXPECT_EQ(got, -SIGKILL);
    }
    a.kill();  // after the child is gone: nothing happens
  };
  aio::run(main());
  EXPECT_TRUE(no_children_left());
}

TEST_F(SubprocessTest, ReapedWithoutAnyoneWaiting) {
  auto main = []() -> aio::Task<void> {
    {
      aio::Process p = co_await aio::create_subprocess_exec(argv("true"));
      (void)p;
    }  // the handle is gone; the loop still reaps the child
    for (int i = 0; i < 400 && !no_children_left(); ++i) co_await aio::sleep(5ms);
    EXPECT_TRUE(no_children_left());
  };
  aio::run(main());
}

TEST_F(SubprocessTest, CancelledWaitLeavesTheChildReapable) {
  auto main = []() -> aio::Task<void> {
    aio::Process p = co_await aio::create_subprocess_exec(argv("sleep|30"));
    bool timed_out = false;
    try {
      (void)co_await aio::wait_for(p.wait(), 20ms);
    } catch (const spindle::TimeoutError&) {
      timed_out = true;
    }
    EXPECT_TRUE(timed_out);
    p.kill();
    {
      auto got = co_await p.wait();
      EXPECT_EQ(got, -SIGKILL);
    }
  };
  aio::run(main());
  EXPECT_TRUE(no_children_left());
}

TEST_F(SubprocessTest, MissingProgramThrows) {
  auto main = []() -> aio::Task<void> {
    bool failed = false;
    try {
      (void)co_await aio::create_subprocess_exec(argv("/nonexistent/spindle-no-such-program"));
    } catch (const std::system_error& e) {
      failed = e.code().value() == ENOENT;
    }
    EXPECT_TRUE(failed);
  };
  aio::run(main());
  EXPECT_TRUE(no_children_left());
}

TEST_F(SubprocessTest, ChildInheritsNoneOfOurDescriptors) {
  auto main = []() -> aio::Task<std::string> {
    aio::Process holder = co_await aio::create_subprocess_exec(argv("sleep|30"), {.stdin_ = aio::Redirect::pipe});
    const int ours = holder.stdin_pipe().fileno();  // a close-on-exec pipe end this process holds
    EXPECT_GE(ours, 0);
    const std::string probe = "if [ -e /proc/$$/fd/" + std::to_string(ours) + " ]; then echo leaked; else echo clean; fi";
    aio::Process p = co_await aio::create_subprocess_exec(argv("sh|-c|" + probe), {.stdout_ = aio::Redirect::pipe});
    auto r = co_await p.communicate();
    holder.kill();
    (void)co_await holder.wait();
    co_return r.out;
  };
  EXPECT_EQ(aio::run(main()), "clean\n");
}

TEST_F(SubprocessTest, ChildThatExitsWithoutReadingInputIsNotAnError) {
  auto main = []() -> aio::Task<int> {
    aio::Process p = co_await aio::create_subprocess_exec(argv("true"), {.stdin_ = aio::Redirect::pipe});
    auto r = co_await p.communicate(std::string(1 << 20, 'x'));
    co_return r.returncode;
  };
  EXPECT_EQ(aio::run(main()), 0);
}

TEST_F(SubprocessTest, FloodingChildWhileTheParentReadsSlowly) {
  auto main = []() -> aio::Task<void> {
    aio::Process p = co_await aio::create_subprocess_exec(argv("head|-c|8000000|/dev/zero"),
                                                          {.stdout_ = aio::Redirect::pipe, .limit = 16 * 1024});
    std::size_t total = 0;
    std::size_t peak_buffered = 0;
    for (;;) {
      std::string chunk = co_await p.stdout_pipe().read(256 * 1024);
      if (chunk.empty()) break;
      total += chunk.size();
      peak_buffered = std::max(peak_buffered, p.stdout_pipe().buffered());
      if (total % (1 << 20) < chunk.size()) co_await aio::sleep(1ms);  // a slow consumer
    }
    EXPECT_EQ(total, 8'000'000u);
    EXPECT_LE(peak_buffered, 2u * 16 * 1024 + 64 * 1024);
    {
      auto got = co_await p.wait();
      EXPECT_EQ(got, 0);
    }
  };
  aio::run(main());
}

}  // namespace
