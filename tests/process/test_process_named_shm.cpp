// Named shared memory (/dev/shm) and its resource tracker.
// SPINDLE_TEST_RUN_SERIAL: these tests create and remove /dev/shm entries, which the census of every other
// process test counts; CTest runs them alone.

#include <poll.h>
#include <signal.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
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

class SharedMemoryTest : public spindle::test::ProcessCheckedTest {};

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

}  // namespace
