// Process, SharedMemory, SharedArray and Event between processes.

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

#include "census.hpp"
#include "process_census.hpp"
#include "spindle/process.hpp"

namespace sp = spindle::process;
using namespace std::chrono_literals;

namespace {

void set_event(sp::Event e) { e.set(); }
void wait_then_exit(sp::Event go, int code) {
  go.wait();
  std::_Exit(code);
}
void throws_in_child() { throw std::runtime_error("boom"); }
void sleep_forever() {
  for (;;) std::this_thread::sleep_for(1h);
}
void write_array(sp::SharedArray<int> a, int value) {
  for (auto& x : a) x = value;
}
void write_shm(sp::SharedMemory m) { std::memset(m.buf().data(), 'z', m.size()); }

const bool forkserver_started = (sp::init(), true);

class ProcessTest : public spindle::test::ProcessCheckedTestWithParam<sp::StartMethod> {
 protected:
  sp::ProcessOptions opts(std::string name = {}) { return {.name = std::move(name), .start_method = GetParam()}; }
};

TEST_P(ProcessTest, RunsTargetAndReportsExitCode) {
  sp::Event go;
  sp::Process p(opts("exiter"), sp::target<&wait_then_exit>, go, 7);
  EXPECT_FALSE(p.is_alive());
  p.start();
  EXPECT_GT(p.pid(), 0);
  EXPECT_TRUE(p.is_alive());
  EXPECT_FALSE(p.join(10ms));
  EXPECT_EQ(p.exitcode(), std::nullopt);
  go.set();
  p.join();
  EXPECT_FALSE(p.is_alive());
  EXPECT_EQ(p.exitcode(), 7);
  EXPECT_EQ(p.name(), "exiter");
}

TEST_P(ProcessTest, EventCrossesProcesses) {
  sp::Event e;
  sp::Process p(opts(), sp::target<&set_event>, e);
  p.start();
  EXPECT_TRUE(e.wait(30s));
  p.join();
  EXPECT_EQ(p.exitcode(), 0);
}

TEST_P(ProcessTest, ExceptionGivesExitCodeOne) {
  sp::Process p(opts("thrower"), sp::target<&throws_in_child>);
  p.start();
  p.join();
  EXPECT_EQ(p.exitcode(), 1);
}

TEST_P(ProcessTest, TerminateAndKillGiveNegativeSignal) {
  sp::Process a(opts(), sp::target<&sleep_forever>);
  sp::Process b(opts(), sp::target<&sleep_forever>);
  a.start();
  b.start();
  a.terminate();
  b.kill();
  a.join();
  b.join();
  EXPECT_EQ(a.exitcode(), -SIGTERM);
  EXPECT_EQ(b.exitcode(), -SIGKILL);
}

TEST_P(ProcessTest, DaemonIsKilledByDestructor) {
  sp::ProcessOptions o = opts();
  o.daemon = true;
  pid_t pid = 0;
  {
    sp::Process p(o, sp::target<&sleep_forever>);
    p.start();
    pid = p.pid();
    EXPECT_TRUE(p.daemon());
  }
  EXPECT_NE(::kill(pid, 0), 0);  // gone and reaped
}

TEST_P(ProcessTest, SharedArrayAndMemoryAreWrittenInPlace) {
  sp::SharedArray<int> a(1000);
  sp::Process p(opts(), sp::target<&write_array>, a, 42);
  p.start();
  p.join();
  EXPECT_EQ(p.exitcode(), 0);
  for (int x : a) ASSERT_EQ(x, 42);
  sp::SharedMemory m(4096);
  sp::Process q(opts(), sp::target<&write_shm>, m);
  q.start();
  q.join();
  EXPECT_EQ(static_cast<char>(m.buf()[4095]), 'z');
}

INSTANTIATE_TEST_SUITE_P(StartMethods, ProcessTest,
                         ::testing::Values(sp::StartMethod::forkserver, sp::StartMethod::spawn));

class SharedMemoryTest : public spindle::test::ProcessCheckedTest {};

TEST_F(SharedMemoryTest, AnonymousSegmentHasNoName) {
  sp::SharedMemory m(100);
  EXPECT_TRUE(m.name().empty());
  EXPECT_EQ(m.size(), 100u);
  m.close();
  EXPECT_FALSE(m);
}

}  // namespace
