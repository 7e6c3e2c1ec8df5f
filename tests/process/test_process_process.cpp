// Process, SharedMemory, SharedArray and Event between processes; the mappings a pool worker keeps.

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

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
long long sum_array(sp::SharedArray<int> a) {
  long long s = 0;
  for (int x : a) s += x;
  return s;
}

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

// The handle of `a` as a pool task carries it: encoded bytes plus descriptors (copies, closed by the caller).
std::string encode_handle(const sp::SharedArray<int>& a, std::vector<int>& fds) {
  std::string out;
  sp::Writer w(out, &fds);
  w(a);
  return out;
}

// What a worker decodes from such a handle (the decoder takes a copy of each descriptor).
sp::SharedArray<int> decode_handle(const std::string& bytes, const std::vector<int>& fds) {
  std::vector<int> copies;
  for (int fd : fds) copies.push_back(::fcntl(fd, F_DUPFD_CLOEXEC, 0));
  sp::SharedArray<int> a;
  sp::Reader r(bytes.data(), bytes.size(), &copies);
  r(a);
  for (int fd : copies)
    if (fd >= 0) ::close(fd);
  return a;
}

TEST_F(SharedMemoryTest, AWorkerReusesAnAdoptedMappingOnlyWhileItRetainsThem) {
  struct Off {
    ~Off() { sp::detail::retain_adopted_segments(false); }
  } off;
  sp::SharedArray<int> a(1000), other(1000);
  std::vector<int> fa, fo;
  const std::string ea = encode_handle(a, fa), eo = encode_handle(other, fo);

  sp::detail::retain_adopted_segments(true);
  const sp::SharedArray<int> b1 = decode_handle(ea, fa), b2 = decode_handle(ea, fa);
  EXPECT_EQ(b1.data(), b2.data()) << "the second task's handle was mapped again";
  EXPECT_EQ(b2.size(), 1000u);
  b1[3] = 7;
  EXPECT_EQ(a[3], 7);  // the same memory as the sender's
  const sp::SharedArray<int> c = decode_handle(eo, fo);
  EXPECT_NE(c.data(), b1.data());
  EXPECT_EQ(sp::detail::retained_segments(), 2u);

  sp::detail::release_retained_segments();
  EXPECT_EQ(sp::detail::retained_segments(), 0u);
  const sp::SharedArray<int> b3 = decode_handle(ea, fa);
  EXPECT_NE(b3.data(), b1.data());  // mapped anew (b1 keeps its own mapping alive)
  EXPECT_EQ(b3[3], 7);

  std::vector<sp::SharedArray<int>> many;  // at most 8 kept: the oldest go first
  for (int i = 0; i < 12; ++i) {
    sp::SharedArray<int> m(10);
    std::vector<int> fm;
    many.push_back(decode_handle(encode_handle(m, fm), fm));
    for (int fd : fm) ::close(fd);
  }
  EXPECT_EQ(sp::detail::retained_segments(), 8u);

  sp::detail::retain_adopted_segments(false);
  EXPECT_EQ(sp::detail::retained_segments(), 0u);
  const sp::SharedArray<int> d1 = decode_handle(ea, fa), d2 = decode_handle(ea, fa);
  EXPECT_NE(d1.data(), d2.data());  // not retaining: each handle maps on its own
  EXPECT_EQ(sp::detail::retained_segments(), 0u);
  for (int fd : fa) ::close(fd);
  for (int fd : fo) ::close(fd);
}

// A pool worker keeps mappings between tasks: a new array (even one whose descriptor number or address a freed
// one had) and a rewritten one must both be seen as they are now.
TEST_F(SharedMemoryTest, APoolWorkerSeesEveryNewArrayAndEveryRewrite) {
  sp::ProcessPoolExecutor pool(1);
  for (int i = 1; i <= 20; ++i) {  // one at a time: each array is freed before the next is made
    sp::SharedArray<int> fresh(5000);
    for (int& x : fresh) x = i;
    ASSERT_EQ(pool.submit<&sum_array>(fresh).result(), 5000LL * i) << i;
  }
  std::vector<sp::SharedArray<int>> arrays;  // all in flight: the worker is kept busy, its mappings kept
  std::vector<spindle::Future<long long>> fs;
  for (int i = 1; i <= 20; ++i) {
    arrays.emplace_back(5000);
    for (int& x : arrays.back()) x = i;
    fs.push_back(pool.submit<&sum_array>(arrays.back()));
  }
  for (int i = 1; i <= 20; ++i) EXPECT_EQ(fs[static_cast<std::size_t>(i - 1)].result(), 5000LL * i) << i;
  sp::SharedArray<int> kept(5000);
  for (int i = 1; i <= 20; ++i) {
    for (int& x : kept) x = i;
    ASSERT_EQ(pool.submit<&sum_array>(kept).result(), 5000LL * i) << i;
  }
}

TEST_F(SharedMemoryTest, AnonymousSegmentHasNoName) {
  sp::SharedMemory m(100);
  EXPECT_TRUE(m.name().empty());
  EXPECT_EQ(m.size(), 100u);
  m.close();
  EXPECT_FALSE(m);
}

}  // namespace
