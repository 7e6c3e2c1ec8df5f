// The advisor's report as JSON, parsed back: every string that reaches it (the command's words, thread names
// from /proc, which hold whatever a program named its threads and are cut at 15 bytes, even inside a UTF-8
// sequence) comes out escaped; figures that are not finite are null. And a run too short to judge gets no
// verdict and no advice.

#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <string>

#include "census.hpp"
#include "spindle/advisor/report.hpp"

namespace {

using spindle::advisor::Classification;
using spindle::advisor::Model;
using spindle::advisor::Report;
using spindle::advisor::ThreadStats;

class AdvisorJson : public spindle::test::LeakCheckedTest {};

const std::string kOdd = "q\"b\\s/n\nt\tc\x01\x1f é 日本";

Report long_io_run() {
  Report r;
  r.wall_s = 1.0;
  r.samples = 100;
  r.cores = 2;
  ThreadStats t;
  t.pid = t.tid = 42;
  t.name = "main";
  t.cpu_s = 0.01;
  t.alive_s = 1.0;
  t.sleeping = 1.0;
  r.threads.push_back(t);
  r.threads_seen = r.processes_seen = 1;
  r.cpu_s = 0.01;
  return r;
}

TEST_F(AdvisorJson, StringsAreEscapedAndParseBack) {
  Report r = long_io_run();
  r.command = {"/bin/prog", kOdd, "", "\\"};
  r.threads[0].name = kOdd;
  spindle::advisor::classify(r);
  const auto j = nlohmann::json::parse(spindle::advisor::to_json(r));
  EXPECT_EQ(j["command"], nlohmann::json(r.command));
  EXPECT_EQ(j["threads"][0]["name"], kOdd);
  EXPECT_EQ(j["threads"][0]["tid"], 42);
  EXPECT_EQ(j["classification"], "io-bound");
  EXPECT_EQ(j["reason"], r.reason);
  EXPECT_EQ(j["advice"], r.advice);
}

TEST_F(AdvisorJson, KeysKeepTheirNamesAndOrder) {
  Report r = long_io_run();
  spindle::advisor::classify(r);
  const std::string json = spindle::advisor::to_json(r);
  EXPECT_EQ(json.rfind("{\"command\":[],\"exit_code\":0,\"classification\":", 0), 0u) << json;
  const auto j = nlohmann::json::parse(json);
  for (const char* key : {"model",
                          "pool_size",
                          "reason",
                          "advice",
                          "wall_s",
                          "observed_s",
                          "cpu_s",
                          "runqueue_s",
                          "cores",
                          "parallelism",
                          "demand",
                          "other_load",
                          "machine_busy",
                          "busy_fraction",
                          "wait_to_compute",
                          "disk_wait_fraction",
                          "lock_wait_fraction",
                          "samples",
                          "threads_seen",
                          "working_threads",
                          "processes_seen",
                          "voluntary_switches",
                          "involuntary_switches",
                          "io_readable",
                          "read_bytes",
                          "write_bytes",
                          "read_chars",
                          "write_chars",
                          "threads"}) {
    EXPECT_TRUE(j.contains(key)) << key;
  }
}

TEST_F(AdvisorJson, ThreadNameCutInsideAUtf8SequenceIsRepaired) {
  Report r = long_io_run();
  r.threads[0].name = "worker-\xe6\x97";  // "日" cut after 2 of its 3 bytes, as comm's 15-byte limit does
  spindle::advisor::classify(r);
  const auto j = nlohmann::json::parse(spindle::advisor::to_json(r));
  EXPECT_EQ(j["threads"][0]["name"].get<std::string>().rfind("worker-", 0), 0u);
}

TEST_F(AdvisorJson, InfiniteFigureIsNull) {
  Report r = long_io_run();
  spindle::advisor::classify(r);
  r.wait_to_compute = INFINITY;
  const auto j = nlohmann::json::parse(spindle::advisor::to_json(r));
  EXPECT_TRUE(j["wait_to_compute"].is_null());
}

TEST_F(AdvisorJson, TooShortARunGetsNoVerdictAndNoAdvice) {
  // `spindle advise -- false`: 13 ms, 2 samples. It used to be called io-bound and get "threads,
  // max_workers=13" anyway.
  Report r = long_io_run();
  r.wall_s = 0.013;
  r.samples = 2;
  spindle::advisor::classify(r);
  EXPECT_EQ(r.classification, Classification::not_enough_data);
  EXPECT_EQ(r.model, Model::none);
  EXPECT_EQ(r.pool_size, 0);
  EXPECT_EQ(r.advice.find("max_workers"), std::string::npos) << r.advice;
  const auto text = spindle::advisor::to_text(r);
  EXPECT_NE(text.find("verdict:     not-enough-data"), std::string::npos) << text;
  EXPECT_NE(text.find("use:         none"), std::string::npos) << text;
  const auto j = nlohmann::json::parse(spindle::advisor::to_json(r));
  EXPECT_EQ(j["classification"], "not-enough-data");
  EXPECT_EQ(j["model"], "none");
  EXPECT_EQ(j["pool_size"], 0);

  // Long enough but sampled too few times is not enough either; long and well sampled is.
  Report few = long_io_run();
  few.samples = 3;
  spindle::advisor::classify(few);
  EXPECT_EQ(few.classification, Classification::not_enough_data);
  Report enough = long_io_run();
  spindle::advisor::classify(enough);
  EXPECT_EQ(enough.classification, Classification::io_bound) << spindle::advisor::to_text(enough);
  EXPECT_NE(enough.model, Model::none);
}

}  // namespace

// The HTML report (spindle advise --report): self-contained, the command escaped, the timeline drawn with one
// point per tick and a shaded rectangle per phase.
namespace {

TEST_F(AdvisorJson, HtmlReportDrawsTheTimelineAndItsPhases) {
  Report r = long_io_run();
  r.command = {"prog", "<script>alert(1)</script>"};
  for (int i = 1; i <= 20; ++i) r.timeline.emplace_back(0.05 * i, i <= 10 ? 0.0 : 1.0);
  r.phases = {{0.0, 0.5, false, 0.0}, {0.5, 1.0, true, 1.0}};
  const std::string html = spindle::advisor::to_html(r);
  EXPECT_EQ(html.rfind("<!doctype html>", 0), 0U);
  EXPECT_EQ(html.find("<script>"), std::string::npos) << "the command must be escaped";
  EXPECT_NE(html.find("&lt;script&gt;"), std::string::npos);
  auto count = [&html](const std::string& what) {
    int n = 0;
    for (auto at = html.find(what); at != std::string::npos; at = html.find(what, at + 1)) ++n;
    return n;
  };
  EXPECT_EQ(count("http"), count("http://www.w3.org/2000/svg"));  // the only URL is the SVG namespace
  const std::string svg = spindle::advisor::timeline_svg(r);
  const auto points_at = svg.find("class=\"cores-used\"");
  ASSERT_NE(points_at, std::string::npos);
  const auto begin = svg.find("points=\"", points_at) + 8;
  const std::string points = svg.substr(begin, svg.find('"', begin) - begin);
  int n = 0;
  for (char c : points) n += c == ',' ? 1 : 0;
  EXPECT_EQ(n, 20);  // one point per tick
  int rects = 0;
  for (auto at = svg.find("<rect class=\"phase"); at != std::string::npos; at = svg.find("<rect class=\"phase", at + 1))
    ++rects;
  EXPECT_EQ(rects, 2);
  EXPECT_NE(svg.find("phase wait"), std::string::npos);
  EXPECT_NE(svg.find("phase compute"), std::string::npos);
}

}  // namespace
