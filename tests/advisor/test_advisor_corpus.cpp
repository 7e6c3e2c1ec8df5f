// The advisor's accuracy on a corpus of real programs (tests/advisor/programs/ and the C++ helper): each with
// the verdict and the model it must get. docs/advisor.md prints the same table. Programs whose verdict rests on
// how their threads share the cores are not held to it when other work filled every core (machine_busy).
// SPINDLE_TEST_RUN_SERIAL: the advisor measures how a program shares the cores; tests beside it are load.

#include <gtest/gtest.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "census.hpp"
#include "spindle/advisor/measure.hpp"

namespace {

using spindle::advisor::Classification;
using spindle::advisor::Model;

struct Program {
  const char* name;                      // the test's name
  std::vector<std::string> argv;         // how to run it
  std::vector<Classification> verdicts;  // accepted verdicts
  std::vector<Model> models;             // accepted models
  bool load_sensitive;                   // judged only when the machine was not busy
};

const std::string kPrograms = SPINDLE_ADVISOR_PROGRAMS;
const std::string kPython = "/usr/bin/python3";

std::vector<Program> corpus() {
  using C = Classification;
  using M = Model;
  return {
      {"PythonCpuLoop", {kPython, kPrograms + "/cpu_loop.py"}, {C::cpu_bound}, {M::processes}, false},
      {"PythonSleeps", {kPython, kPrograms + "/sleeps.py"}, {C::io_bound}, {M::threads, M::async}, false},
      {"PythonPipeReader", {kPython, kPrograms + "/pipe_reader.py"}, {C::io_bound}, {M::threads, M::async}, false},
      {"PythonSocketClient", {kPython, kPrograms + "/socket_client.py"}, {C::io_bound}, {M::threads, M::async}, false},
      {"PythonGilThreads", {kPython, kPrograms + "/gil_threads.py"}, {C::lock_capped}, {M::processes}, true},
      {"PythonThreadPoolWaits",
       {kPython, kPrograms + "/thread_pool_waits.py"},
       {C::io_bound},
       {M::threads, M::async},
       false},
      {"PythonAsyncioThousandWaits",
       {kPython, kPrograms + "/asyncio_1000_sleeps.py"},
       {C::io_bound},
       {M::async},
       false},
      {"PythonHashingThreads", {kPython, kPrograms + "/hashing_threads.py"}, {C::cpu_bound}, {M::threads}, true},
      {"PythonDownloadThenCompute",
       {kPython, kPrograms + "/download_then_compute.py"},
       {C::mixed},
       {M::pipeline},
       true},
      {"PythonFineGrainedMixed", {kPython, kPrograms + "/fine_grained_mixed.py"}, {C::mixed}, {M::threads}, true},
      {"PythonForkedWorkers", {kPython, kPrograms + "/fork_workers.py"}, {C::cpu_bound}, {M::processes}, true},
      {"KernelCopy", {kPrograms + "/kernel_copy.sh"}, {C::cpu_bound}, {M::processes}, false},
      {"CppTwoThreads", {SPINDLE_ADVISOR_HELPER, "cpu", "2", "0.6"}, {C::cpu_bound}, {M::threads}, true},
      {"CppBlockedThreads",
       {SPINDLE_ADVISOR_HELPER, "block", "40", "0.6"},
       {C::io_bound},
       {M::threads, M::async},
       false},
  };
}

class AdvisorCorpus : public spindle::test::LeakCheckedTest, public ::testing::WithParamInterface<Program> {};

template <class T>
bool one_of(const std::vector<T>& accepted, T value) {
  for (const T& a : accepted)
    if (a == value) return true;
  return false;
}

TEST_P(AdvisorCorpus, GetsItsVerdictAndModel) {
  const Program& p = GetParam();
  if (p.argv[0] == kPython && access(kPython.c_str(), X_OK) != 0) GTEST_SKIP() << "no " << kPython;
  const auto r = spindle::advisor::measure_command(p.argv);
  ASSERT_EQ(r.exit_code, 0) << spindle::advisor::to_text(r);
  if (p.load_sensitive && r.machine_busy) {
    GTEST_SKIP() << "the machine was busy (" << r.other_load << " other runnable tasks on average): this "
                 << "program's verdict rests on how its threads share the cores";
  }
  EXPECT_TRUE(one_of(p.verdicts, r.classification)) << spindle::advisor::to_text(r);
  EXPECT_TRUE(one_of(p.models, r.model)) << spindle::advisor::to_text(r);
}

INSTANTIATE_TEST_SUITE_P(Programs, AdvisorCorpus, ::testing::ValuesIn(corpus()),
                         [](const ::testing::TestParamInfo<Program>& param) { return std::string(param.param.name); });

}  // namespace
