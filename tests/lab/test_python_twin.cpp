// The lab's CPython twins, the machinery: finding an interpreter, naming a demo's twin, running it (its
// output parsed, its failures reported with their cause, a twin that hangs killed at its deadline) and putting
// its figures beside spindle's. The twins themselves, every one against its demo, are slow_python_twins.cpp.

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <utility>

#include "census.hpp"
#include "spindle/lab/python.hpp"

namespace {

namespace fs = std::filesystem;
using spindle::lab::Result;
using spindle::lab::Row;
using spindle::lab::TwinOutcome;

Row row(std::string variant, double measured, std::string note = "") {
  Row r;
  r.variant = std::move(variant);
  r.measured = measured;
  r.note = std::move(note);
  return r;
}

class PythonTwin : public spindle::test::LeakCheckedTest {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("spindle-twin-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override {
    fs::remove_all(dir_);
    LeakCheckedTest::TearDown();
  }
  // A "twin" written as a shell script, run by /bin/sh in the interpreter's place.
  std::string script(const std::string& name, const std::string& body) {
    const auto path = dir_ / name;
    std::ofstream(path) << body;
    return path.string();
  }
  std::string error_of(const std::string& path, std::chrono::seconds timeout = std::chrono::seconds(30)) {
    try {
      spindle::lab::run_twin("/bin/sh", path, true, timeout);
    } catch (const std::runtime_error& e) {
      return e.what();
    }
    return "(no error)";
  }
  fs::path dir_;
};

TEST_F(PythonTwin, ScriptNamesFollowTheDemoNames) {
  EXPECT_EQ(spindle::lab::twin_script("/x", "002-io-wait"), "/x/s002_io_wait.py");
  EXPECT_EQ(spindle::lab::twin_script("", "002-batch-vs-streaming"), "s002_batch_vs_streaming.py");
}

TEST_F(PythonTwin, FindsAnInterpreterOrSaysThereIsNone) {
  EXPECT_EQ(spindle::lab::find_python("/bin/sh"), "/bin/sh");
  const auto sh = spindle::lab::find_python("sh");  // a bare name is looked up on PATH
  ASSERT_TRUE(sh.has_value());
  EXPECT_EQ(fs::path(*sh).filename(), "sh");
  EXPECT_EQ(::access(sh->c_str(), X_OK), 0);
  EXPECT_FALSE(spindle::lab::find_python((dir_ / "no-such-python").string()).has_value());
  EXPECT_FALSE(spindle::lab::find_python("no-such-python-anywhere").has_value());
  const auto chosen = spindle::lab::find_python();
  ASSERT_TRUE(chosen.has_value()) << "python3 is a dependency (scripts/install-deps.sh)";
  EXPECT_EQ(::access(chosen->c_str(), X_OK), 0);
}

TEST_F(PythonTwin, ParsesTheProtocolAndPassesQuick) {
  const auto path =
      script("ok.sh",
             "echo 'the show goes to stderr' >&2\n"
             "[ \"$1\" = --quick ] || exit 3\n"
             "echo '{\"demo\": \"x\", \"python\": \"3.11.2\", \"rows\": {\"serial\": 1.5, \"free\": null},"
             " \"row_notes\": {\"free\": \"GIL\"}, \"notes\": [\"n1\"], \"facts\": {\"f\": 2},"
             " \"series\": {\"CPython\": [[1, 2], [2, 3.5]]}}'\n");
  const TwinOutcome twin = spindle::lab::run_twin("/bin/sh", path, true, std::chrono::seconds(30));
  EXPECT_EQ(twin.version, "3.11.2");
  EXPECT_DOUBLE_EQ(twin.rows.at("serial"), 1.5);
  EXPECT_TRUE(std::isnan(twin.rows.at("free")));
  EXPECT_EQ(twin.row_notes.at("free"), "GIL");
  ASSERT_EQ(twin.notes.size(), 1U);
  EXPECT_DOUBLE_EQ(twin.facts.at("f"), 2);
  ASSERT_EQ(twin.series.size(), 1U);
  EXPECT_EQ(twin.series[0].name, "CPython");
  ASSERT_EQ(twin.series[0].points.size(), 2U);
  EXPECT_DOUBLE_EQ(twin.series[0].points[1].second, 3.5);
}

TEST_F(PythonTwin, FailuresSayWhy) {
  EXPECT_NE(error_of((dir_ / "missing.py").string()).find("no CPython twin"), std::string::npos);
  const std::string crashed = error_of(script("fail.sh", "echo 'Traceback: boom' >&2\nexit 7\n"));
  EXPECT_NE(crashed.find("status 7"), std::string::npos) << crashed;
  EXPECT_NE(crashed.find("Traceback: boom"), std::string::npos) << crashed;
  EXPECT_NE(error_of(script("text.sh", "echo hello\n")).find("not one JSON object"), std::string::npos);
  EXPECT_NE(error_of(script("norows.sh", "echo '{\"demo\": 1}'\n")).find("no \"rows\""), std::string::npos);
  EXPECT_NE(error_of(script("badrow.sh", "echo '{\"rows\": {}, \"notes\": [1]}'\n")).find("malformed"),
            std::string::npos);
}

TEST_F(PythonTwin, ATwinPastItsDeadlineIsKilled) {
  // exec: the shell becomes the sleep, so the kill reaches the process holding the pipes.
  const std::string why = error_of(script("hang.sh", "exec sleep 600\n"), std::chrono::seconds(1));
  EXPECT_NE(why.find("was killed"), std::string::npos) << why;
}

TEST_F(PythonTwin, MergeFillsTheColumnAndReportsStrays) {
  Result r;
  r.rows.push_back(row("serial", 1, "spindle's note"));
  r.rows.push_back(row("free threads", 0.5));
  r.chart.points = {{1, 1}, {2, 2}};
  TwinOutcome twin;
  twin.rows = {{"serial", 40}, {"free threads", spindle::lab::kNone}, {"renamed row", 3}};
  twin.row_notes = {{"free threads", "CPython 3.11 has the GIL"}, {"serial", "pure Python"}};
  twin.notes = {"CPython ran 10x less work", "n = 4,000,000"};
  twin.series = {{"CPython speed-up", {{1, 1}, {2, 1.1}}, false}};
  const auto strays = spindle::lab::merge_twin(r, twin);
  ASSERT_EQ(strays.size(), 1U);
  EXPECT_EQ(strays[0], "renamed row");
  EXPECT_DOUBLE_EQ(r.rows[0].python, 40);
  EXPECT_TRUE(std::isnan(r.rows[1].python));
  EXPECT_EQ(r.rows[0].note, "spindle's note; CPython: pure Python");
  EXPECT_EQ(r.rows[1].note, "CPython 3.11 has the GIL");
  ASSERT_EQ(r.notes.size(), 2U);
  EXPECT_EQ(r.notes[0], "CPython ran 10x less work");
  EXPECT_EQ(r.notes[1], "CPython: n = 4,000,000");
  // The single line became a named series, and the twin's line joined it.
  EXPECT_TRUE(r.chart.points.empty());
  ASSERT_EQ(r.chart.lines.size(), 2U);
  EXPECT_EQ(r.chart.lines[1].name, "CPython speed-up");
}

TEST_F(PythonTwin, ASeriesDoesNotJoinABarChart) {
  Result r;
  r.rows.push_back(row("a", 1));
  r.chart.bars = {{"a", 1}};
  TwinOutcome twin;
  twin.series = {{"CPython", {{0, 1}}, false}};
  EXPECT_TRUE(spindle::lab::merge_twin(r, twin).empty());
  EXPECT_TRUE(r.chart.lines.empty());
  EXPECT_EQ(r.chart.bars.size(), 1U);
}

}  // namespace
