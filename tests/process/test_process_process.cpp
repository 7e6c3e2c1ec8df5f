// Process, SharedMemory, SharedArray and Event between processes.

#include <signal.h>
#include <poll.h>
#include <sys/inotify.h>
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

// Creates a named segment, reports its name and then dies without unlinking it: killed by the test
// (`how` 0) or by exiting without running destructors (`how` 1).
void create_named_and_die(sp::Connection<std::string> c, int how) {
  auto* leaked = new sp::SharedMemory(sp::SharedMemory::create_named(4096));
  c.send(leaked->name());
  if (how == 1) std::_Exit(0);
  for (;;) std::this_thread::sleep_for(1h);
}

// Waits (bounded) until /dev/shm/<name> is deleted, by inotify rather than by polling the file.
bool wait_unlinked(const std::string& name, std::chrono::seconds limit) {
  const int fd = ::inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
  if (fd < 0) return false;
  ::inotify_add_watch(fd, "/dev/shm", IN_DELETE);
  const auto gone = [&] {
    struct stat st {};
    return ::stat(("/dev/shm" + name).c_str(), &st) != 0 && errno == ENOENT;
  };
  const auto deadline = std::chrono::steady_clock::now() + limit;
  bool ok = gone();
  while (!ok && std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    ::poll(&p, 1, 100);
    alignas(inotify_event) char buf[4096];
    while (::read(fd, buf, sizeof buf) > 0) {
    }
    ok = gone();
  }
  ::close(fd);
  return ok;
}

const bool forkserver_started = (sp::init(), true);

class ProcessTest : public spindle::test::LeakCheckedTestWithParam<sp::StartMethod> {
 protected:
  void TearDown() override {
    children_.check();
    spindle::test::LeakCheckedTestWithParam<sp::StartMethod>::TearDown();
  }
  sp::ProcessOptions opts(std::string name = {}) { return {.name = std::move(name), .start_method = GetParam()}; }
  spindle::test::ChildCensus children_;
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

class SharedMemoryTest : public spindle::test::LeakCheckedTest {
 protected:
  void TearDown() override {
    children_.check();
    spindle::test::LeakCheckedTest::TearDown();
  }
  spindle::test::ChildCensus children_;
};

TEST_F(SharedMemoryTest, NamedSegmentsAreUniquePrivateAndUnlinked) {
  std::string name;
  {
    auto a = sp::SharedMemory::create_named(8192);
    auto b = sp::SharedMemory::create_named(8192);
    name = a.name();
    EXPECT_NE(a.name(), b.name());
    EXPECT_EQ(a.name().size(), std::string("/spindle-").size() + 32);
    struct stat st {};
    ASSERT_EQ(::stat(("/dev/shm" + a.name()).c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    auto c = sp::SharedMemory::attach(a.name());
    a.buf()[10] = std::byte{7};
    EXPECT_EQ(c.buf()[10], std::byte{7});
    EXPECT_EQ(c.size(), 8192u);
  }
  EXPECT_THROW(sp::SharedMemory::attach(name), std::system_error);
}

class SharedMemoryLeakTest : public SharedMemoryTest, public ::testing::WithParamInterface<int> {};

// Python's resource_tracker promise, kept for SIGKILL too: a creator that dies without unlinking its named
// segment does not leak it.
TEST_P(SharedMemoryLeakTest, NamedSegmentOfADeadCreatorIsUnlinkedByItsTracker) {
  auto [mine, theirs] = sp::Pipe<std::string>();
  sp::Process p(sp::target<&create_named_and_die>, theirs, GetParam());
  p.start();
  theirs.close();
  const std::string name = mine.recv();
  ASSERT_EQ(name.rfind("/spindle-", 0), 0u);
  if (GetParam() == 0) p.kill();
  p.join();
  EXPECT_EQ(p.exitcode(), GetParam() == 0 ? -SIGKILL : 0);
  EXPECT_TRUE(wait_unlinked(name, std::chrono::seconds(20))) << name << " was left in /dev/shm";
}

std::string death_name(const ::testing::TestParamInfo<int>& p) {
  return p.param == 0 ? "Sigkill" : "ExitWithoutDestructors";
}
INSTANTIATE_TEST_SUITE_P(Deaths, SharedMemoryLeakTest, ::testing::Values(0, 1), death_name);

TEST_F(SharedMemoryTest, TrackingCostsNoDescriptorAndNoChild) {
  // The census of the fixture checks fds and children; here also check that the tracker runs and is not
  // our child (a grandchild adopted by init never becomes our zombie).
  auto a = sp::SharedMemory::create_named(4096);
  const int tracker = sp::detail::shm_tracker_pid();
  ASSERT_GT(tracker, 0);
  EXPECT_EQ(::kill(tracker, 0), 0);
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/stat", tracker);
  FILE* f = std::fopen(path, "r");
  ASSERT_NE(f, nullptr);
  char buf[512] = {};
  const std::size_t n = std::fread(buf, 1, sizeof buf - 1, f);
  std::fclose(f);
  buf[n] = 0;
  int ppid = 0;
  char state = 0;
  ASSERT_EQ(std::sscanf(std::strrchr(buf, ')') + 2, "%c %d", &state, &ppid), 2);
  EXPECT_NE(ppid, ::getpid());
  a.unlink();
  EXPECT_THROW(sp::SharedMemory::attach(a.name()), std::system_error);
}

TEST_F(SharedMemoryTest, AnonymousSegmentHasNoName) {
  sp::SharedMemory m(100);
  EXPECT_TRUE(m.name().empty());
  EXPECT_EQ(m.size(), 100u);
  m.close();
  EXPECT_FALSE(m);
}

}  // namespace
