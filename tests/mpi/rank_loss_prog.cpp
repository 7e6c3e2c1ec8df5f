// Run by tests/mpi/test_rank_loss.cpp under `mpirun --enable-recovery -np 3`: a task SIGKILLs worker rank 1
// while it holds other tasks (those still queued on rank 0 fail with BrokenExecutor). Rank 0 prints what each
// future became, then what submit says, then ends
// (its Session sees the broken pool and ends the job with a message).

#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "spindle/mpi.hpp"

namespace {

// The parent of a process, from /proc/PID/stat ("pid (comm) state ppid ...").
int parent_of(int pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(stat, line);
  const auto close = line.rfind(')');
  int ppid = 0;
  char state = 0;
  std::sscanf(line.c_str() + close + 1, " %c %d", &state, &ppid);
  return ppid;
}

// Runs in a worker process of rank 1's local pool: its parent is the rank's forkserver, whose parent is the
// rank itself.
int kill_my_rank(int) {
  const int rank = parent_of(static_cast<int>(::getppid()));
  ::kill(rank, SIGKILL);
  std::this_thread::sleep_for(std::chrono::seconds(5));
  return 0;
}

int naps(int ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  return ms;
}

}  // namespace

int main(int argc, char** argv) {
  auto session = spindle::mpi::init(argc, argv);
  int lost = 0, broken = 0, ok = 0, other = 0;
  {
    spindle::mpi::MpiPoolExecutor rank1(spindle::mpi::MpiPoolOptions{.max_workers = 1});
    std::vector<spindle::Future<int>> fs;
    fs.push_back(rank1.submit<&kill_my_rank>(0));
    for (int i = 0; i < 6; ++i) fs.push_back(rank1.submit<&naps>(2000));
    for (auto& f : fs) {
      try {
        f.result();
        ++ok;
      } catch (const spindle::mpi::RankLost& e) {
        ++lost;
        if (lost == 1) std::printf("future: RankLost(rank %d): %s\n", e.rank(), e.what());
      } catch (const spindle::BrokenExecutor&) {
        ++broken;  // still queued on rank 0 when the rank was lost
      } catch (const std::exception& e) {
        ++other;
        std::printf("future: other error: %s\n", e.what());
      }
    }
    std::printf("futures: %d lost + %d broken = %d, %d ok, %d other\n", lost, broken, lost + broken, ok, other);
    try {
      rank1.submit<&naps>(1);
      std::printf("submit after the loss: accepted\n");
    } catch (const spindle::BrokenExecutor& e) {
      std::printf("submit after the loss: BrokenExecutor\n");
    }
    std::fflush(stdout);
  }
  return 0;
}
