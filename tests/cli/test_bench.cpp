// The bench harness in-process: what resolve() accepts and rejects for a workload's declared variants and
// --arg keys, and that a measurement line's JSON is valid whatever its strings hold (quotes, backslashes,
// control characters, non-ASCII, a string that looks like a number).

#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <string>

#include "census.hpp"
#include "workload.hpp"

namespace {

using spindle::bench::Line;
using spindle::bench::Options;
using spindle::bench::Param;
using spindle::bench::UsageError;
using spindle::bench::Workload;
using spindle::bench::resolve;

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

}  // namespace
