// Every lab demo beside its CPython twin (labs/python/), both in --quick mode: the twin exists, runs in the
// interpreter `spindle lab` would choose, reports only rows its demo has, fills at least one of them, and says
// why for every variant CPython cannot run. The GIL rows then hold the real GIL's figures. Shapes only, never
// timings: these run beside other tests.

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "spindle/lab/demo.hpp"
#include "spindle/lab/python.hpp"
#include "spindle/process/start_method.hpp"

namespace {

class ForkserverFirst : public ::testing::Environment {
 public:
  void SetUp() override { spindle::process::init(); }
};
const ::testing::Environment* const forkserver_env = ::testing::AddGlobalTestEnvironment(new ForkserverFirst);

std::vector<std::string> demo_names() {
  std::vector<std::string> names;
  for (const auto& d : spindle::lab::registry()) names.push_back(d.name);
  return names;
}

class Twins : public ::testing::TestWithParam<std::string> {};

TEST_P(Twins, RunsBesideItsDemo) {
  const auto* demo = spindle::lab::find_demo(GetParam());
  ASSERT_NE(demo, nullptr);
  const auto python = spindle::lab::find_python();
  ASSERT_TRUE(python.has_value()) << "python3 is a dependency (scripts/install-deps.sh)";
  std::FILE* sink = std::fopen("/dev/null", "we");
  ASSERT_NE(sink, nullptr);
  spindle::lab::Options options;
  options.quick = true;
  options.out = sink;
  spindle::lab::Result r = demo->run(options);
  std::fclose(sink);

  const auto script = spindle::lab::twin_script(SPINDLE_SOURCE_LAB_PYTHON_DIR, demo->name);
  spindle::lab::TwinOutcome twin;
  ASSERT_NO_THROW(twin = spindle::lab::run_twin(*python, script, true, std::chrono::seconds(300)));
  EXPECT_FALSE(twin.version.empty());
  const auto strays = spindle::lab::merge_twin(r, twin);
  for (const auto& s : strays) ADD_FAILURE() << script << " reports '" << s << "', which " << demo->name << " lacks";
  int filled = 0;
  for (const auto& [variant, value] : twin.rows) {
    if (std::isfinite(value)) {
      ++filled;
      EXPECT_GE(value, 0) << variant;
    } else {
      EXPECT_TRUE(twin.row_notes.count(variant)) << variant << ": no figure and no reason why";
    }
  }
  EXPECT_GT(filled, 0) << script << " measured nothing";
}

INSTANTIATE_TEST_SUITE_P(Lab, Twins, ::testing::ValuesIn(demo_names()),
                         [](const ::testing::TestParamInfo<std::string>& p) {
                           std::string name = "d" + p.param;
                           for (char& ch : name) {
                             if (ch == '-') ch = '_';
                           }
                           return name;
                         });

// The point of the column: where spindle emulates the GIL, CPython's row is the real one, and CPU-bound
// Python threads under it use about one core however many there are.
TEST(TwinsGil, TheRealGilUsesOneCore) {
  const auto python = spindle::lab::find_python();
  ASSERT_TRUE(python.has_value());
  const auto twin =
      spindle::lab::run_twin(*python, spindle::lab::twin_script(SPINDLE_SOURCE_LAB_PYTHON_DIR, "002-cpu-bound"), true,
                             std::chrono::seconds(300));
  ASSERT_TRUE(twin.rows.count("threads under the GIL: cores used"));
  const double cores = twin.rows.at("threads under the GIL: cores used");
  ASSERT_TRUE(std::isfinite(cores));
  EXPECT_LT(cores, 1.5) << "CPU-bound CPython threads ran in parallel: no GIL?";
  EXPECT_GT(cores, 0.0);
}

}  // namespace
