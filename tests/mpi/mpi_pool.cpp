// MpiPoolExecutor under `mpirun -np 4` (tests/mpi/extra.cmake runs this binary through mpirun; rank 0 runs
// the tests, ranks 1-3 serve them): the process pool's results on the same inputs, its errors (RemoteError,
// WorkerCrashed for only the task that aborted), cancellation at shutdown, a 10 MiB argument, small and large
// arguments interleaved, two executors sharing the ranks, and usage errors.

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <numeric>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "spindle/mpi.hpp"
#include "spindle/process/process_pool_executor.hpp"

namespace {

using spindle::mpi::MpiPoolExecutor;

long square(long x) { return x * x; }
std::vector<double> twice(std::vector<double> v) {
  for (auto& x : v) x *= 2;
  return v;
}
int fails(int) { throw std::domain_error("no such value"); }
int aborts(int) { std::abort(); }
int naps(int ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  return ms;
}
int host_pid(int) { return static_cast<int>(::getpid()); }

TEST(MpiPool, SubmitAndMapGiveTheProcessPoolsResults) {
  std::vector<long> xs(1000);
  std::iota(xs.begin(), xs.end(), -500L);
  std::vector<long> local;
  {
    spindle::process::ProcessPoolExecutor pool(2);
    local = pool.map<&square>(xs, {.chunksize = 100});
  }
  MpiPoolExecutor ex;
  EXPECT_EQ(ex.max_workers(), 3U);
  EXPECT_EQ(ex.map<&square>(xs, {.chunksize = 100}), local);
  EXPECT_EQ(ex.map<&square>(xs), local) << "chunksize 1: a task per item";
  std::vector<spindle::Future<long>> fs;
  for (long x : xs) fs.push_back(ex.submit<&square>(x));
  for (std::size_t i = 0; i < xs.size(); ++i) EXPECT_EQ(fs[i].result(), local[i]);
}

// Python's spelling, a function passed at run time: `pool.submit(square, 5)`, `pool.map(square, xs)`.
TEST(MpiPool, FunctionsPassedAtRunTime) {
  MpiPoolExecutor ex;
  EXPECT_EQ(ex.submit(square, 5).result(), 25);
  EXPECT_EQ(ex.submit([](long x) { return x + 1; }, 41L).result(), 42);
  const std::vector<long> xs{1, 2, 3, 4, 5, 6, 7};
  EXPECT_EQ(ex.map(square, xs, {.chunksize = 3}), (std::vector<long>{1, 4, 9, 16, 25, 36, 49}));
}

TEST(MpiPool, TasksRunInOtherProcesses) {
  MpiPoolExecutor ex;
  std::vector<spindle::Future<int>> fs;
  for (int i = 0; i < 32; ++i) fs.push_back(ex.submit<&host_pid>(i));
  for (auto& f : fs) EXPECT_NE(f.result(), ::getpid());
}

TEST(MpiPool, AnExceptionComesBackAsRemoteError) {
  MpiPoolExecutor ex;
  auto f = ex.submit<&fails>(1);
  try {
    f.result();
    FAIL() << "no error";
  } catch (const spindle::RemoteError& e) {
    EXPECT_NE(e.type_name().find("domain_error"), std::string::npos) << e.type_name();
    EXPECT_EQ(e.message(), "no such value");
  }
}

TEST(MpiPool, ATaskThatAbortsFailsOnlyItsFuture) {
  MpiPoolExecutor ex;
  std::vector<spindle::Future<long>> before;
  for (long i = 0; i < 20; ++i) before.push_back(ex.submit<&square>(i));
  auto crash = ex.submit<&aborts>(0);
  try {
    crash.result();
    FAIL() << "no error";
  } catch (const spindle::WorkerCrashed& e) {
    EXPECT_EQ(e.signal(), SIGABRT);
    EXPECT_NE(std::string(e.what()).find("on MPI rank"), std::string::npos) << e.what();
  }
  for (long i = 0; i < 20; ++i) EXPECT_EQ(before[static_cast<std::size_t>(i)].result(), i * i);
  // The rank lives on: every rank still answers.
  std::vector<spindle::Future<long>> after;
  for (long i = 0; i < 60; ++i) after.push_back(ex.submit<&square>(i));
  for (long i = 0; i < 60; ++i) EXPECT_EQ(after[static_cast<std::size_t>(i)].result(), i * i);
}

TEST(MpiPool, TenMebibytesGoThereAndBack) {
  std::vector<double> v(10 * 1024 * 1024 / sizeof(double));
  std::iota(v.begin(), v.end(), 0.5);
  MpiPoolExecutor ex;
  const auto back = ex.submit<&twice>(v).result();
  ASSERT_EQ(back.size(), v.size());
  for (std::size_t i = 0; i < v.size(); i += 4099) EXPECT_EQ(back[i], 2 * v[i]);
  EXPECT_EQ(back.back(), 2 * v.back());
}

// Small tasks go to a rank in batches, a large one alone after the batch before it: interleaved, every result
// comes back to its own future.
TEST(MpiPool, SmallAndLargeArgumentsInterleaved) {
  MpiPoolExecutor ex;
  std::vector<std::vector<double>> args;
  for (int i = 0; i < 300; ++i) {
    std::vector<double> v(i % 3 == 0 ? 2000 : 3);  // 16,000 bytes: alone; 24 bytes: batched
    std::iota(v.begin(), v.end(), static_cast<double>(i));
    args.push_back(std::move(v));
  }
  std::vector<spindle::Future<std::vector<double>>> fs;
  for (const auto& v : args) fs.push_back(ex.submit<&twice>(v));
  for (std::size_t i = 0; i < args.size(); ++i) {
    const auto back = fs[i].result();
    ASSERT_EQ(back.size(), args[i].size()) << i;
    EXPECT_EQ(back.front(), 2 * args[i].front()) << i;
    EXPECT_EQ(back.back(), 2 * args[i].back()) << i;
  }
}

TEST(MpiPool, ShutdownCancelFuturesCancelsWhatIsQueued) {
  MpiPoolExecutor ex;
  std::vector<spindle::Future<int>> fs;
  // 200 ms each: a dozen run at a time, so the 300 take seconds, and a test thread held up between the first
  // result and shutdown (a loaded machine) still finds most of them queued.
  for (int i = 0; i < 300; ++i) fs.push_back(ex.submit<&naps>(200));
  EXPECT_EQ(fs.front().result(), 200);  // tasks are on the ranks now; most of the 300 still wait on rank 0
  ex.shutdown(false, true);
  EXPECT_THROW(ex.submit<&naps>(1), spindle::ShutdownError);
  int cancelled = 0, ran = 0;
  for (auto& f : fs) {
    if (f.cancelled()) {
      ++cancelled;
    } else {
      EXPECT_EQ(f.result(), 200);
      ++ran;
    }
  }
  EXPECT_GT(cancelled, 0);
  EXPECT_GT(ran, 0);
  EXPECT_EQ(cancelled + ran, 300);
}

// A long queue on one executor does not starve another: the other's task is sent at the next free slot, not
// after the first one's queue (round robin across executors). Structure, not timing: a's 400 tasks are all
// queued before b's one is submitted, and b's result arrives while most of a's are still to come.
TEST(MpiPool, TwoExecutorsShareTheRanks) {
  MpiPoolExecutor a, b;
  std::vector<spindle::Future<int>> long_queue;
  for (int i = 0; i < 400; ++i) long_queue.push_back(a.submit<&naps>(20));
  EXPECT_EQ(b.submit<&square>(7).result(), 49);
  int finished = 0;
  for (auto& f : long_queue) finished += f.done() ? 1 : 0;
  EXPECT_LT(finished, 200) << "b's task waited behind a's queue";
  for (auto& f : long_queue) EXPECT_EQ(f.result(), 20);
}

TEST(MpiPool, UsageErrorsAreClear) {
  EXPECT_THROW(MpiPoolExecutor(spindle::mpi::MpiPoolOptions{.max_workers = 4}), std::invalid_argument);
  MpiPoolExecutor one(spindle::mpi::MpiPoolOptions{.max_workers = 1});
  EXPECT_EQ(one.max_workers(), 1U);
  EXPECT_EQ(one.submit<&square>(3).result(), 9);
}

}  // namespace

int main(int argc, char** argv) {
  auto session = spindle::mpi::init(argc, argv);  // ranks 1..N-1 serve here and exit
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
