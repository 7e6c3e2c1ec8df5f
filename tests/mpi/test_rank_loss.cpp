// A worker rank SIGKILLed in the middle of its tasks (tests/mpi/rank_loss_prog.cpp under mpirun): every
// future it held fails with RankLost naming the rank, submit then says BrokenExecutor, the job ends by itself
// with a message naming the lost rank (Open MPI 4.1 cannot go on without it), and no process is left behind.
// Never a hang: the run is bounded by `timeout -k` (40 s, under CTest's 60 s, so that a hang shows the job's
// output), and a hang shows as its status 124.
// SPINDLE_TEST_RUN_SERIAL: each test counts the processes of rank_loss_prog left behind, so they run alone.

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "spawn.hpp"

namespace {

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// Processes running `program` (their /proc/PID/exe), this test excluded.
int processes_running(const std::string& program) {
  const auto target = std::filesystem::weakly_canonical(program);
  int n = 0;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos || name == std::to_string(::getpid())) continue;
    std::error_code ec;
    const auto exe = std::filesystem::read_symlink(entry.path() / "exe", ec);
    if (!ec && exe == target) ++n;
  }
  return n;
}

// Runs rank_loss_prog under mpirun (-np 3, shared memory), bounded by `timeout -k`; `status` is timeout's.
spindle::test::Spawned run_job(bool recovery) {
  std::vector<std::string> argv{"timeout", "-k", "5", "40", SPINDLE_MPIRUN, "--allow-run-as-root", "--oversubscribe"};
  if (recovery) argv.emplace_back("--enable-recovery");
  for (const char* a : {"-np", "3", "--mca", "btl", "self,vader", "--mca", "btl_vader_single_copy_mechanism", "none",
                        SPINDLE_RANK_LOSS_PROG}) {
    argv.emplace_back(a);
  }
  return spindle::test::spawn_capture(argv);
}

// Nothing left behind: the ranks, their forkservers and their pools' workers all end (bounded wait).
int leftovers() {
  int left = 0;
  for (int i = 0; i < 100 && (left = processes_running(SPINDLE_RANK_LOSS_PROG)) > 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return left;
}

// With --enable-recovery the job outlives the rank, and spindle reports it: every future the rank held fails
// with RankLost (which rank, which tasks), submit says BrokenExecutor, and rank 0 ends the job with a message.
// (Open MPI 4.1's mpirun then exits with status 0 whatever the ranks did, MPI_Abort included, as measured:
// the messages are the evidence, not the status.)
TEST(RankLoss, WithRecoveryTheLostRanksTasksFailAndTheJobEndsWithAMessage) {
  const auto job = run_job(true);
  const std::string shown = "stdout:\n" + job.out + "\nstderr:\n" + job.err;
  std::printf("the job ended %.1f s after it started\n", job.seconds);
  EXPECT_NE(job.status, 124) << "the job hung until timeout killed it\n" << shown;
  EXPECT_TRUE(has(job.out, "future: RankLost(rank 1): spindle::mpi: MPI rank 1 stopped answering")) << shown;
  EXPECT_TRUE(has(job.out, "task(s) failed: ")) << shown;
  EXPECT_TRUE(has(job.out, "kill_my_rank")) << shown;
  EXPECT_TRUE(has(job.out, " = 7, 0 ok, 0 other")) << "each future lost with the rank, or refused after\n" << shown;
  EXPECT_FALSE(has(job.out, "futures: 0 lost")) << shown;
  EXPECT_TRUE(has(job.out, "submit after the loss: BrokenExecutor")) << shown;
  EXPECT_TRUE(has(job.err, "ending the job (MPI_Abort): MPI rank 1 was lost")) << shown;
  EXPECT_EQ(leftovers(), 0) << "processes of the job outlived it";
}

// Without it (mpirun's default), mpirun itself ends the whole job as soon as a rank dies, says which, and
// exits non-zero: rank 0 cannot report its futures, but nothing hangs and nothing is left behind.
TEST(RankLoss, WithoutRecoveryMpirunEndsTheJobAtOnce) {
  const auto job = run_job(false);
  const std::string shown = "stdout:\n" + job.out + "\nstderr:\n" + job.err;
  std::printf("the job ended %.1f s after it started\n", job.seconds);
  EXPECT_NE(job.status, 124) << "the job hung until timeout killed it\n" << shown;
  EXPECT_NE(job.status, 0) << shown;
  EXPECT_TRUE(has(job.err, "exited on signal 9")) << shown;
  EXPECT_EQ(leftovers(), 0) << "processes of the job outlived it";
}

}  // namespace
