// The bench harness in-process: what resolve() accepts and rejects for a workload's declared variants and
// --arg keys, and that a measurement line's JSON is valid whatever its strings hold (quotes, backslashes,
// control characters, non-ASCII, a string that looks like a number).

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <string>

#include "census.hpp"
#include "compare.hpp"
#include "workload.hpp"

namespace {

using spindle::bench::Line;
using spindle::bench::Options;
using spindle::bench::Param;
using spindle::bench::resolve;
using spindle::bench::UsageError;
using spindle::bench::Workload;

class Bench : public spindle::test::LeakCheckedTest {};

Workload sample() {
  return {.id = "WX",
          .summary = "a test workload",
          .variants = {"a", "b"},
          .params = {{.name = "tasks", .help = "tasks", .value = "1000", .quick = "10"},
                     {.name = "items", .help = "items", .value = "8", .max = 100, .multiple_of = 2},
                     {.name = "mode", .help = "mode", .value = "x", .kind = Param::Kind::choice, .choices = {"x", "y"}},
                     {.name = "serve", .help = "port", .kind = Param::Kind::port}},
          .run = [](const Options&) { return 0; }};
}

// 'word' (built with append: g++ 12 at -O3 reports a false -Wrestrict for `"'" + word + "'"`).
std::string quoted(const std::string& word) { return std::string("'").append(word).append("'"); }

std::string usage_error(const std::vector<std::string>& variants, const std::vector<std::string>& args) {
  try {
    resolve(sample(), false, false, variants, args);
  } catch (const UsageError& e) {
    return e.what();
  }
  return "";
}

TEST_F(Bench, DefaultsAndQuickDefaults) {
  const auto plain = resolve(sample(), false, false, {}, {});
  EXPECT_EQ(plain.count("tasks"), 1000);
  EXPECT_EQ(plain.count("items"), 8);
  EXPECT_EQ(plain.text("mode"), "x");
  EXPECT_EQ(plain.text("serve"), "");
  const auto quick = resolve(sample(), false, true, {}, {});
  EXPECT_EQ(quick.count("tasks"), 10);
  EXPECT_EQ(quick.count("items"), 8);  // no quick default: the plain one
}

TEST_F(Bench, GivenValuesWinOverEitherDefault) {
  const auto o = resolve(sample(), true, true, {"b"}, {"tasks=1000000", "items=100", "mode=y", "serve=0"});
  EXPECT_EQ(o.count("tasks"), 1'000'000);
  EXPECT_EQ(o.count("items"), 100);
  EXPECT_EQ(o.text("mode"), "y");
  EXPECT_EQ(o.text("serve"), "0");
  EXPECT_TRUE(o.json);
  EXPECT_EQ(o.variants, std::vector<std::string>{"b"});
}

TEST_F(Bench, UnknownVariantAndKeyAreNamed) {
  EXPECT_NE(usage_error({"c"}, {}).find("unknown variant 'c'"), std::string::npos);
  EXPECT_NE(usage_error({}, {"task=5"}).find("unknown --arg 'task'"), std::string::npos);
  EXPECT_NE(usage_error({}, {"tasks"}).find("needs a value"), std::string::npos);
}

TEST_F(Bench, BadValuesAreNamed) {
  for (const std::string arg : {"tasks=0", "tasks=-1", "tasks=abc", "tasks=1e6", "tasks=", "tasks=1 ", "items=101",
                                "items=3", "mode=z", "serve=65536", "serve=-1", "tasks=9223372036854775808"}) {
    const auto message = usage_error({}, {arg});
    EXPECT_NE(message.find(quoted(arg.substr(arg.find('=') + 1))), std::string::npos) << arg << ": " << message;
  }
}

TEST_F(Bench, JsonLineEscapesEveryString) {
  const std::string odd = "q\"b\\s/n\nt\tc\x01 é 日本";
  Line line("WX");
  line.add("peer", odd).add("serving", "127.0.0.1").add("n", 42).add("x", 0.25, 2).add("nan", std::nan(""), 2);
  const auto j = nlohmann::json::parse(line.json());
  EXPECT_EQ(j["workload"], "WX");
  EXPECT_EQ(j["peer"], odd);
  EXPECT_EQ(j["serving"], "127.0.0.1");  // a string that looks like digits stays a string
  EXPECT_EQ(j["n"], 42);
  EXPECT_DOUBLE_EQ(j["x"].get<double>(), 0.25);
  EXPECT_TRUE(j["nan"].is_null());
  // The keys keep their order: the workload first, then as added.
  EXPECT_EQ(line.json().rfind("{\"workload\":\"WX\",\"peer\":", 0), 0u) << line.json();
  EXPECT_EQ(line.text().rfind("WX peer=", 0), 0u);
}

TEST_F(Bench, JsonLineRepairsInvalidUtf8) {
  Line line("WX");
  line.add("peer", std::string("cut\xe6\x97"));
  const auto j = nlohmann::json::parse(line.json());
  EXPECT_EQ(j["peer"].get<std::string>().rfind("cut", 0), 0u);
}

TEST_F(Bench, EveryRegisteredWorkloadsDefaultsAreValid) {
  ASSERT_FALSE(spindle::bench::registry().empty());
  for (const auto& w : spindle::bench::registry()) {
    for (const bool quick : {false, true}) {
      std::vector<std::string> args;
      const auto o = resolve(w, false, quick, {}, {});
      // Each default, given explicitly, passes the same checks a user's value does.
      for (const auto& p : w.params) {
        if (!o.text(p.name).empty()) args.push_back(p.name + "=" + o.text(p.name));
      }
      EXPECT_NO_THROW(resolve(w, false, quick, w.variants, args)) << w.id;
    }
  }
}

// --compare's reading of lines: the workload id, then key=value fields; anything else is not a line.
TEST_F(Bench, RecordsAreParsedBackFieldByField) {
  const auto r = spindle::bench::parse_record("W7 peer=python variant=submit tasks=20000 us_per_task=59.090");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->workload, "W7");
  ASSERT_NE(r->get("variant"), nullptr);
  EXPECT_EQ(*r->get("variant"), "submit");
  EXPECT_DOUBLE_EQ(r->number("us_per_task").value_or(0), 59.09);
  EXPECT_FALSE(r->number("variant").has_value());
  EXPECT_EQ(r->get("absent"), nullptr);
  EXPECT_FALSE(spindle::bench::parse_record("").has_value());
  EXPECT_FALSE(spindle::bench::parse_record("W7").has_value());
  EXPECT_FALSE(spindle::bench::parse_record("W7 a note, not a line").has_value());
  EXPECT_FALSE(spindle::bench::parse_record("peer=python seconds=1").has_value());
}

// A row is what a line measured (its words, not its figures, peer aside); a peer without spindle's `heap=`
// measured both of spindle's heap rows, one with another variant measured neither.
TEST_F(Bench, PeerLinesMatchTheRowsTheyMeasured) {
  using spindle::bench::identity;
  using spindle::bench::same_row;
  const auto ours = identity(*spindle::bench::parse_record("W1 peer=spindle-tpe heap=cold tasks=5 ns_per_task=40.1"));
  EXPECT_EQ(ours, std::vector<std::string>{"heap=cold"});
  const auto python = identity(*spindle::bench::parse_record("W1 peer=python tasks=5 ns_per_task=7000 scaled_from=9"));
  EXPECT_TRUE(python.empty());
  EXPECT_TRUE(same_row(python, ours));
  const auto submit = identity(*spindle::bench::parse_record("W7 peer=python variant=submit us_per_task=60"));
  const auto map = identity(*spindle::bench::parse_record("W7 peer=spindle-ppe variant=map-c100 us_per_task=0.1"));
  EXPECT_FALSE(same_row(submit, map));
  EXPECT_TRUE(same_row(submit, submit));
}

TEST_F(Bench, MediansRangesAndWhichWayIsBetter) {
  const auto odd = spindle::bench::summarize({5, 1, 3});
  EXPECT_EQ(odd.n, 3U);
  EXPECT_DOUBLE_EQ(odd.median, 3);
  EXPECT_DOUBLE_EQ(odd.min, 1);
  EXPECT_DOUBLE_EQ(odd.max, 5);
  EXPECT_DOUBLE_EQ(spindle::bench::summarize({4, 1, 2, 10}).median, 3);
  EXPECT_EQ(spindle::bench::summarize({}).n, 0U);
  EXPECT_TRUE(spindle::bench::higher_is_better("per_s"));
  EXPECT_TRUE(spindle::bench::higher_is_better("MiB_per_s"));
  EXPECT_TRUE(spindle::bench::higher_is_better("speedup"));
  EXPECT_FALSE(spindle::bench::higher_is_better("ns_per_task"));
  EXPECT_FALSE(spindle::bench::higher_is_better("seconds"));
  EXPECT_DOUBLE_EQ(spindle::bench::advantage("ns_per_task", 50, 5000), 100);  // spindle takes 1/100 the time
  EXPECT_DOUBLE_EQ(spindle::bench::advantage("MiB_per_s", 800, 200), 4);      // spindle moves 4x the bytes
  EXPECT_DOUBLE_EQ(spindle::bench::advantage("ns_per_task", 0, 5000), 0);     // undefined, never infinite
}

// Every workload with peers names what it compares and where its peers' scripts are, and the scripts exist.
TEST_F(Bench, EveryPeerScriptIsThere) {
  int with_peers = 0;
  for (const auto& w : spindle::bench::registry()) {
    if (w.peers.empty()) continue;
    ++with_peers;
    EXPECT_FALSE(w.compare.empty()) << w.id;
    // --compare passes these variants to both sides: each must be one the workload declares.
    for (const auto& v : w.compare_variants) {
      EXPECT_NE(std::find(w.variants.begin(), w.variants.end(), v), w.variants.end()) << w.id << " " << v;
    }
    // A native peer exists where it was built (release builds with its package: tests peer.* run it).
    for (const auto& p : w.peers) {
      if (!p.interpreter.empty()) {
        EXPECT_FALSE(spindle::bench::bench_file(p.script).empty()) << w.id << " " << p.script;
      }
    }
  }
  EXPECT_GE(with_peers, 10);
}

}  // namespace
