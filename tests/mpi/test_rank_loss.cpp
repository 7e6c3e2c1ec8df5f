// A worker rank SIGKILLed in the middle of its tasks (tests/mpi/rank_loss_prog.cpp under mpirun): every
// future it held fails with RankLost naming the rank, submit then says BrokenExecutor, the job ends by itself
// with a message naming the lost rank (Open MPI 4.1 cannot go on without it), and no process is left behind.
// Never a hang: the run is bounded by `timeout -k` (40 s, under CTest's 60 s, so that a hang shows the job's
// output), and a hang shows as its status 124.
// SPINDLE_TEST_RUN_SERIAL: each test counts the processes of rank_loss_prog left behind, so they run alone.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

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

struct Job {
  int status = -1;  // exit status of `timeout mpirun ...`
  std::string out, err;
  double seconds = 0;
};

// Runs rank_loss_prog under mpirun (-np 3, shared memory), bounded by `timeout -k`.
Job run_job(bool recovery) {
  Job job;
  char dir[] = "/tmp/spindle-rank-loss-XXXXXX";
  if (::mkdtemp(dir) == nullptr) return job;
  const std::string out = std::string(dir) + "/out", err = std::string(dir) + "/err";
  std::vector<std::string> argv{"timeout", "-k", "5", "40", SPINDLE_MPIRUN, "--allow-run-as-root", "--oversubscribe"};
  if (recovery) argv.emplace_back("--enable-recovery");
  for (const char* a : {"-np", "3", "--mca", "btl", "self,vader", "--mca", "btl_vader_single_copy_mechanism", "none",
                        SPINDLE_RANK_LOSS_PROG}) {
    argv.emplace_back(a);
  }
  std::vector<char*> cargv;
  for (auto& a : argv) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_addopen(&actions, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  pid_t pid = 0;
  const auto start = std::chrono::steady_clock::now();
  const int rc = posix_spawnp(&pid, "timeout", &actions, nullptr, cargv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc == 0) {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0) {
    }
    job.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  job.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  job.out = slurp(out);
  job.err = slurp(err);
  std::filesystem::remove_all(dir);
  return job;
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
  const Job job = run_job(true);
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
  const Job job = run_job(false);
  const std::string shown = "stdout:\n" + job.out + "\nstderr:\n" + job.err;
  std::printf("the job ended %.1f s after it started\n", job.seconds);
  EXPECT_NE(job.status, 124) << "the job hung until timeout killed it\n" << shown;
  EXPECT_NE(job.status, 0) << shown;
  EXPECT_TRUE(has(job.err, "exited on signal 9")) << shown;
  EXPECT_EQ(leftovers(), 0) << "processes of the job outlived it";
}

}  // namespace
