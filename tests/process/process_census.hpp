#pragma once
// Child-process census for the processes model's tests: no child of this process may be left running or as
// a zombie after a test, except the forkserver.

#include <dirent.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "census.hpp"
#include "spindle/process/start_method.hpp"

namespace spindle::test {

/// Pids (and states) of this process's children, the forkserver excluded.
inline std::vector<std::pair<int, char>> children_of_self() {
  std::vector<std::pair<int, char>> out;
  const int self = ::getpid();
  const int server = ::spindle::process::forkserver_pid();
  DIR* d = ::opendir("/proc");
  if (!d) return out;
  while (dirent* e = ::readdir(d)) {
    const int pid = std::atoi(e->d_name);
    if (pid <= 0 || pid == server) continue;
    char path[64];
    std::snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE* f = std::fopen(path, "r");
    if (!f) continue;
    char buf[512];
    const std::size_t n = std::fread(buf, 1, sizeof buf - 1, f);
    std::fclose(f);
    buf[n] = 0;
    const char* rp = std::strrchr(buf, ')');
    if (!rp) continue;
    char state = 0;
    int ppid = 0;
    if (std::sscanf(rp + 2, "%c %d", &state, &ppid) == 2 && ppid == self) out.emplace_back(pid, state);
  }
  ::closedir(d);
  return out;
}

/// Entries under /dev/shm whose name starts with "spindle-".
inline int shm_entries() {
  int count = 0;
  DIR* d = ::opendir("/dev/shm");
  if (!d) return 0;
  while (dirent* e = ::readdir(d))
    if (std::string(e->d_name).rfind("spindle-", 0) == 0) ++count;
  ::closedir(d);
  return count;
}

/// Records the children and /dev/shm entries at construction; check() polls briefly for them to be back.
class ChildCensus {
 public:
  ChildCensus() : children_(children_of_self().size()), shm_(shm_entries()) {}
  void check() const {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    while ((children_of_self().size() != children_ || shm_entries() != shm_) &&
           std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    EXPECT_EQ(children_of_self().size(), children_) << "child processes or zombies left behind";
    EXPECT_EQ(shm_entries(), shm_) << "/dev/shm entries left behind";
  }

 private:
  std::size_t children_;
  int shm_;
};

/// The fixture of the processes model's tests: LeakCheckedTest plus the child and /dev/shm census.
class ProcessCheckedTest : public LeakCheckedTest {
 protected:
  void TearDown() override {
    children_.check();
    LeakCheckedTest::TearDown();
  }

 private:
  ChildCensus children_;
};

/// The same, parameterised.
template <class P>
class ProcessCheckedTestWithParam : public LeakCheckedTestWithParam<P> {
 protected:
  void TearDown() override {
    children_.check();
    LeakCheckedTestWithParam<P>::TearDown();
  }

 private:
  ChildCensus children_;
};

}  // namespace spindle::test
