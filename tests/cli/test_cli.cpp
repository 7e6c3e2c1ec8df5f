// The spindle tool as a person uses it: every usage error exits with 2 and a message naming the bad word
// (never CLI11's own codes), `spindle bench` rejects what a workload does not declare and runs the size it is
// given, `spindle advise` explains how it is called and gives no advice from too little data, and every
// --json output parses.

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "census.hpp"
#include "spawn.hpp"

namespace {

using Outcome = spindle::test::Spawned;

// Runs the spindle binary with `args`.
Outcome spindle(const std::vector<std::string>& args) {
  std::vector<std::string> argv{SPINDLE_CLI};
  argv.insert(argv.end(), args.begin(), args.end());
  Outcome o = spindle::test::spawn_capture(argv);
  if (o.status < 0) throw std::runtime_error("cannot run " + std::string(SPINDLE_CLI));
  return o;
}

// 'word' (built with append: g++ 12 at -O3 reports a false -Wrestrict for `"'" + word + "'"`).
std::string quoted(const std::string& word) { return std::string("'").append(word).append("'"); }

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

std::string show(const Outcome& o) {
  return "rc=" + std::to_string(o.status) + "\nstdout:\n" + o.out + "\nstderr:\n" + o.err;
}

class Cli : public spindle::test::LeakCheckedTest {};

// --- usage errors: exit 2, the bad word named -------------------------------------------------------------

TEST_F(Cli, UnknownCommandNamesIt) {
  const auto o = spindle({"frobnicate"});
  EXPECT_EQ(o.status, 2) << show(o);
  EXPECT_TRUE(has(o.err, "unknown command 'frobnicate'")) << show(o);
  EXPECT_TRUE(has(o.err, "advise") && has(o.err, "bench") && has(o.err, "lab")) << show(o);
}

TEST_F(Cli, NoCommandIsAUsageError) {
  const auto o = spindle({});
  EXPECT_EQ(o.status, 2) << show(o);
  EXPECT_TRUE(has(o.err, "a command is required")) << show(o);
}

TEST_F(Cli, UnknownOptionOfACommandNamesIt) {
  const auto o = spindle({"lab", "--frobnicate"});
  EXPECT_EQ(o.status, 2) << show(o);
  EXPECT_TRUE(has(o.err, "--frobnicate")) << show(o);
}

// The "CPython here" column: a --python that is no interpreter is a usage error; a twin that fails says why in
// the demo's output (the C++ figures stand); --no-python leaves the column out; by default the twin runs.
TEST_F(Cli, LabPythonChoices) {
  const auto missing = spindle({"lab", "003-futures", "--quick", "--python", "/no/such/python3"});
  EXPECT_EQ(missing.status, 2) << show(missing);
  EXPECT_TRUE(has(missing.err, "/no/such/python3")) << show(missing);

  const auto failing = spindle({"lab", "003-futures", "--quick", "--json", "--python", "/bin/false"});
  EXPECT_EQ(failing.status, 0) << show(failing);
  const auto f = nlohmann::json::parse(failing.out);
  EXPECT_TRUE(has(f["python"].get<std::string>(), "not measured")) << show(failing);
  EXPECT_TRUE(has(f["python"].get<std::string>(), "status 1")) << show(failing);

  const auto off = spindle({"lab", "003-futures", "--quick", "--json", "--no-python"});
  EXPECT_EQ(off.status, 0) << show(off);
  const auto n = nlohmann::json::parse(off.out);
  EXPECT_EQ(n["python"], "");
  for (const auto& row : n["rows"]) EXPECT_TRUE(row["python"].is_null());

  const auto on = spindle({"lab", "003-futures", "--quick", "--json"});
  EXPECT_EQ(on.status, 0) << show(on);
  const auto j = nlohmann::json::parse(on.out);
  EXPECT_TRUE(has(j["python"].get<std::string>(), "CPython here: Python 3")) << show(on);
  int filled = 0;
  for (const auto& row : j["rows"]) filled += row["python"].is_number() ? 1 : 0;
  EXPECT_GT(filled, 0) << show(on);
}

TEST_F(Cli, HelpAndVersionExitZero) {
  EXPECT_EQ(spindle({"--help"}).status, 0);
  EXPECT_EQ(spindle({"bench", "--help"}).status, 0);
  const auto v = spindle({"--version"});
  EXPECT_EQ(v.status, 0) << show(v);
  EXPECT_TRUE(has(v.out, "spindle ")) << show(v);
}

// --- advise ----------------------------------------------------------------------------------------------

TEST_F(Cli, AdviseWithoutCommandPrintsItsUsage) {
  const auto o = spindle({"advise"});
  EXPECT_EQ(o.status, 2) << show(o);
  EXPECT_TRUE(has(o.err, "usage: spindle advise [options] -- CMD ARGS...")) << show(o);
}

TEST_F(Cli, AdviseCommandOptionWithoutDashDashHintsAtIt) {
  const auto o = spindle({"advise", "ls", "-l"});
  EXPECT_EQ(o.status, 2) << show(o);
  EXPECT_TRUE(has(o.err, "-l")) << show(o);
  EXPECT_TRUE(has(o.err, "usage: spindle advise [options] -- CMD ARGS...")) << show(o);
}

TEST_F(Cli, AdviseBadIntervalNamesIt) {
  const auto o = spindle({"advise", "--interval", "0", "--", "true"});
  EXPECT_EQ(o.status, 2) << show(o);
  EXPECT_TRUE(has(o.err, "--interval")) << show(o);
  const auto p = spindle({"advise", "--interval", "abc", "--", "true"});
  EXPECT_EQ(p.status, 2) << show(p);
  EXPECT_TRUE(has(p.err, "abc")) << show(p);
}

TEST_F(Cli, AdviseAttachesToARunningProcess) {
  // The test process itself is the running process: measured in place, as a service would be.
  const std::string me = std::to_string(::getpid());
  const auto j = spindle({"advise", "--json", "--pid", me, "--duration", "300ms"});
  EXPECT_EQ(j.status, 0) << show(j);
  const auto report = nlohmann::json::parse(j.out);
  EXPECT_EQ(report["attached_pid"], ::getpid()) << j.out;
  EXPECT_GE(report["samples"].get<int>(), 4) << j.out;
  const auto gone = spindle({"advise", "--pid", "999999999", "--duration", "1s"});
  EXPECT_EQ(gone.status, 1) << show(gone);
  EXPECT_TRUE(has(gone.err, "no such process")) << show(gone);
  const auto bad = spindle({"advise", "--pid", me, "--duration", "soon"});
  EXPECT_EQ(bad.status, 2) << show(bad);
  EXPECT_TRUE(has(bad.err, "--duration soon")) << show(bad);
  const auto both = spindle({"advise", "--pid", me, "--", "true"});
  EXPECT_EQ(both.status, 2) << show(both);
}

TEST_F(Cli, AdviseWritesAnHtmlReportWithTheTimeline) {
  char path[] = "/tmp/spindle-advise-XXXXXX";
  const int fd = ::mkstemp(path);
  ASSERT_GE(fd, 0);
  ::close(fd);
  const auto o = spindle({"advise", "--report", path, "--", "sleep", "0.3"});
  EXPECT_EQ(o.status, 0) << show(o);
  std::ifstream in(path);
  const std::string html((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ::unlink(path);
  EXPECT_TRUE(has(html, "<svg")) << html.substr(0, 400);
  EXPECT_TRUE(has(html, "class=\"cores-used\"")) << html.substr(0, 400);
  EXPECT_TRUE(has(html, "verdict")) << html.substr(0, 400);
  const auto bad = spindle({"advise", "--report", "/nonexistent-dir/r.html", "--", "true"});
  EXPECT_EQ(bad.status, 1) << show(bad);
  EXPECT_TRUE(has(bad.err, "cannot write the report")) << show(bad);
}

TEST_F(Cli, AdviseTooShortRunGivesNoRecommendation) {
  const auto j = spindle({"advise", "--json", "--", "false"});
  EXPECT_EQ(j.status, 1) << show(j);  // false's own status
  const auto report = nlohmann::json::parse(j.out);
  if (report["wall_s"].get<double>() >= 0.05 && report["samples"].get<int>() >= 4) {
    GTEST_SKIP() << "this machine took " << report["wall_s"] << " s to run `false`: not a short run";
  }
  EXPECT_EQ(report["classification"], "not-enough-data") << j.out;
  EXPECT_EQ(report["model"], "none") << j.out;
  EXPECT_EQ(report["pool_size"], 0) << j.out;
  EXPECT_FALSE(has(j.out, "max_workers")) << j.out;

  const auto t = spindle({"advise", "--", "false"});
  EXPECT_TRUE(has(t.out, "verdict:     not-enough-data")) << show(t);
  EXPECT_TRUE(has(t.out, "use:         none")) << show(t);
  EXPECT_FALSE(has(t.out, "max_workers")) << show(t);
}

TEST_F(Cli, AdviseLaunchErrorJsonIsEscaped) {
  const std::string name = "/nonexistent/a\"b\\c\td";
  const auto o = spindle({"advise", "--json", "--", name});
  EXPECT_EQ(o.status, 127) << show(o);
  const auto error = nlohmann::json::parse(o.out);
  EXPECT_EQ(error["error"], "launch");
  EXPECT_TRUE(has(error["message"].get<std::string>(), name)) << o.out;
}

// --- bench -----------------------------------------------------------------------------------------------

TEST_F(Cli, BenchUnknownWorkloadNamesIt) {
  const auto o = spindle({"bench", "W99"});
  EXPECT_EQ(o.status, 2) << show(o);
  EXPECT_TRUE(has(o.err, "'W99'")) << show(o);
}

TEST_F(Cli, BenchUnknownVariantNamesIt) {
  const auto o = spindle({"bench", "W7", "--variant", "sideways", "--quick"});
  EXPECT_EQ(o.status, 2) << show(o);
  EXPECT_TRUE(has(o.err, "'sideways'")) << show(o);
  EXPECT_TRUE(o.out.empty()) << show(o);  // nothing ran
}

TEST_F(Cli, BenchUnknownArgKeyNamesIt) {
  const auto o = spindle({"bench", "W3", "--arg", "task=1000", "--quick"});
  EXPECT_EQ(o.status, 2) << show(o);
  EXPECT_TRUE(has(o.err, "'task'")) << show(o);
  EXPECT_TRUE(has(o.err, "tasks")) << show(o);  // what it does take
  EXPECT_TRUE(o.out.empty()) << show(o);
}

TEST_F(Cli, BenchBadValuesNameThem) {
  for (const std::string value : {"abc", "0", "-5", "1.5", "10k", "", "99999999999999999999"}) {
    const auto o = spindle({"bench", "W3", "--arg", std::string("tasks=").append(value), "--quick"});
    EXPECT_EQ(o.status, 2) << "tasks=" << value << "\n" << show(o);
    EXPECT_TRUE(has(o.err, quoted(value))) << show(o);
    EXPECT_TRUE(o.out.empty()) << show(o);
  }
  const auto odd = spindle({"bench", "W9", "--arg", "items=1001"});
  EXPECT_EQ(odd.status, 2) << show(odd);
  EXPECT_TRUE(has(odd.err, "'1001'")) << show(odd);
  const auto choice = spindle({"bench", "W6", "--arg", "backend=kqueue"});
  EXPECT_EQ(choice.status, 2) << show(choice);
  EXPECT_TRUE(has(choice.err, "'kqueue'")) << show(choice);
}

TEST_F(Cli, BenchArgSetsTheSize) {
  const auto o = spindle({"bench", "W3", "--arg", "tasks=1000", "--quick"});
  EXPECT_EQ(o.status, 0) << show(o);
  EXPECT_TRUE(has(o.out, "W3 ") && has(o.out, " tasks=1000 ")) << show(o);

  const auto j = spindle({"bench", "W3", "--arg", "tasks=1000", "--quick", "--json"});
  EXPECT_EQ(j.status, 0) << show(j);
  const auto line = nlohmann::json::parse(j.out);
  EXPECT_EQ(line["workload"], "W3");
  EXPECT_EQ(line["tasks"], 1000);
}

// W10 (the pipeline workload) at a smoke size: every variant runs, checks its own sum (exit 0) and prints the
// required keys; the Python peer runs where /usr/bin/python3 is. Sizes only, never a figure.
TEST_F(Cli, BenchW10RunsEveryVariantAtASmokeSize) {
  const auto o = spindle({"bench", "W10", "--json", "--quick", "--arg", "items=3000", "--arg", "mem_items=30000"});
  ASSERT_EQ(o.status, 0) << show(o);
  std::vector<std::string> variants;
  std::size_t from = 0;
  while (from < o.out.size()) {
    const auto nl = o.out.find('\n', from);
    const auto line = nlohmann::json::parse(o.out.substr(from, nl - from));
    from = nl == std::string::npos ? o.out.size() : nl + 1;
    EXPECT_EQ(line["workload"], "W10");
    for (const char* key : {"variant", "items", "seconds", "per_s", "p99_us", "maxrss_kb"}) {
      EXPECT_TRUE(line.contains(key)) << key << " in " << line.dump();
    }
    variants.push_back(line["variant"].get<std::string>());
  }
  std::vector<std::string> expected{"a", "b", "mem"};
  if (::access("/usr/bin/python3", X_OK) == 0) expected = {"a", "b", "python-a", "python-b", "mem"};
  EXPECT_EQ(variants, expected) << show(o);

  const auto bad = spindle({"bench", "W10", "--arg", "item=5"});
  EXPECT_EQ(bad.status, 2) << show(bad);
  EXPECT_TRUE(has(bad.err, "'item'")) << show(bad);
}

// --compare at a smoke size, one round: every workload with a peer runs beside it, and every figure spindle
// reports has its Python peer's beside it (W7's submit-fn rows excepted: Python has only the one submit; W6's
// and W6-TLS's peers are native servers only, the raw-epoll ones built wherever peers are), and the native peers' where
// they were built, each with a ratio. Sizes and shapes only, never a figure.
TEST_F(Cli, BenchCompareSetsEveryPythonPeerBesideSpindle) {
  if (::access("/usr/bin/python3", X_OK) != 0) GTEST_SKIP() << "no /usr/bin/python3 (scripts/install-deps.sh)";
  const auto o = spindle({"bench", "--compare", "--quick", "--rounds", "1", "--json"});
  ASSERT_EQ(o.status, 0) << show(o);
  std::vector<std::string> workloads;
  std::size_t from = 0, figures = 0;
  while (from < o.out.size()) {
    const auto nl = o.out.find('\n', from);
    const auto j = nlohmann::json::parse(o.out.substr(from, nl - from));
    from = nl == std::string::npos ? o.out.size() : nl + 1;
    if (j.contains("floors")) {  // the machine's floors, measured first
      EXPECT_EQ(figures, 0U) << j.dump();
      for (const char* key : {"memcpy_GBps", "wake_rtt_us", "fork_wait_us", "page_touch_us"})
        EXPECT_GT(j["floors"][key], 0) << j.dump();
      continue;
    }
    ++figures;
    const auto id = j["workload"].get<std::string>();
    if (workloads.empty() || workloads.back() != id) workloads.push_back(id);
    EXPECT_EQ(j["rounds"], 1);
    EXPECT_EQ(j["spindle"]["n"], 1) << j.dump();
    EXPECT_TRUE(j["better"] == "lower" || j["better"] == "higher") << j.dump();
    const auto variant = j["row"].value("variant", std::string());
    if (variant.find("-fn") != std::string::npos) continue;
    bool python = false, epoll = false;
    for (const auto& p : j["peers"]) {
      const auto name = p["peer"].get<std::string>();
      python = python || name == "python";
      epoll = epoll || name == "epoll" || name == "openssl-epoll";
      EXPECT_TRUE(
          has(" python onetbb libuv asio onetbb-bounded-queue moodycamel epoll openssl-epoll ", " " + name + " "))
          << j.dump();
      EXPECT_EQ(p["n"], 1) << j.dump();
      EXPECT_GT(p["spindle_advantage"].get<double>(), 0) << j.dump();
    }
    if (id == "W6" || id == "W6-TLS") {
      EXPECT_TRUE(epoll || has(o.err, id + " epoll: skipped") || has(o.err, id + " openssl-epoll: skipped"))
          << j.dump();
    } else {
      EXPECT_TRUE(python) << j.dump();
    }
  }
  EXPECT_EQ(workloads,
            (std::vector<std::string>{"W1", "W10", "W2", "W3", "W4", "W5", "W6", "W6-TLS", "W7", "W8", "W9"}))
      << show(o);
  EXPECT_GE(figures, 14U) << show(o);
  EXPECT_TRUE(has(o.err, "W9 round 1/1: spindle, python")) << show(o);
}

// What --compare cannot do is said: a workload without a peer is skipped by name, --rounds needs --compare,
// and a round count out of range is a usage error.
TEST_F(Cli, BenchCompareSaysWhatItSkipsAndRefuses) {
  const auto lone = spindle({"bench", "--compare", "W2-x100", "--quick"});
  EXPECT_EQ(lone.status, 0) << show(lone);
  EXPECT_TRUE(has(lone.err, "W2-x100: no peer to compare with yet; skipped")) << show(lone);
  EXPECT_FALSE(has(lone.out, "W2-x100")) << show(lone);
  const auto alone = spindle({"bench", "W5", "--rounds", "2", "--quick"});
  EXPECT_EQ(alone.status, 2) << show(alone);
  EXPECT_TRUE(has(alone.err, "--compare")) << show(alone);
  const auto zero = spindle({"bench", "--compare", "W5", "--rounds", "0"});
  EXPECT_EQ(zero.status, 2) << show(zero);
  const auto text = spindle({"bench", "--compare", "W5", "--quick", "--rounds", "2"});
  EXPECT_EQ(text.status, 0) << show(text);
  EXPECT_TRUE(has(text.out, "W5 ns_per_item (lower is better): spindle-aio ")) << show(text);
  EXPECT_TRUE(has(text.out, " | python ")) << show(text);
}

TEST_F(Cli, BenchVariantBeforeWorkloadIsStillAVariant) {
  // `--variant spawn W4`: W4 is the workload, not a second variant.
  const auto o = spindle({"bench", "--variant", "spawn", "W4", "--arg", "tasks=1000", "--quick"});
  EXPECT_EQ(o.status, 0) << show(o);
  EXPECT_TRUE(has(o.out, "test=spawn") && has(o.out, " tasks=1000 ")) << show(o);
  EXPECT_FALSE(has(o.out, "test=switch")) << show(o);
}

TEST_F(Cli, BenchListShowsEachWorkloadsKeys) {
  const auto o = spindle({"bench", "--list"});
  EXPECT_EQ(o.status, 0) << show(o);
  EXPECT_TRUE(has(o.out, "--arg tasks=100000 ")) << show(o);  // W3's default
  EXPECT_TRUE(has(o.out, "--arg connections=50")) << show(o);
  EXPECT_TRUE(has(o.out, "map-c100")) << show(o);
}

}  // namespace
