// `spindle lab --json` is render_json: every string of a demo and its result (names, variants, units, notes,
// fact names, the lesson) comes out escaped and parses back; a figure that is not available (kNone) is null
// with "available": false.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "census.hpp"
#include "spindle/lab/demo.hpp"

namespace {

using spindle::lab::Demo;
using spindle::lab::Result;
using spindle::lab::Row;

class LabJson : public spindle::test::LeakCheckedTest {};

const std::string kOdd = "q\"b\\s/n\nt\tc\x01\x7f é 日本";

// prefix + kOdd (not `"..." + kOdd`: g++ 12 at -O3 reports a false -Wrestrict inside that operator+).
std::string odd(std::string prefix) { return prefix.append(kOdd); }

TEST_F(LabJson, StringsAreEscapedAndParseBack) {
  const Demo demo{.name = odd("999-"), .seed = "999", .title = odd("title "), .run = nullptr};
  Result r;
  r.rows.push_back(Row{.variant = odd("threads "),
                       .measured = 1.5,
                       .seed = 2.0,
                       .ideal = spindle::lab::kNone,
                       .unit = "µs",
                       .note = kOdd});
  r.rows.push_back(Row{.variant = "missing", .measured = spindle::lab::kNone, .unit = "s", .note = "n/a"});
  r.facts[kOdd] = 3.25;
  r.lesson = odd("lesson ");
  const auto j = nlohmann::json::parse(spindle::lab::render_json(demo, r, 0.5));
  EXPECT_EQ(j["demo"], demo.name);
  EXPECT_EQ(j["seed"], "999");
  EXPECT_EQ(j["title"], demo.title);
  EXPECT_DOUBLE_EQ(j["elapsed_s"].get<double>(), 0.5);
  ASSERT_EQ(j["rows"].size(), 2u);
  EXPECT_EQ(j["rows"][0]["variant"], r.rows[0].variant);
  EXPECT_DOUBLE_EQ(j["rows"][0]["measured"].get<double>(), 1.5);
  EXPECT_TRUE(j["rows"][0]["ideal"].is_null());
  EXPECT_EQ(j["rows"][0]["unit"], "µs");
  EXPECT_EQ(j["rows"][0]["available"], true);
  EXPECT_EQ(j["rows"][0]["note"], kOdd);
  EXPECT_TRUE(j["rows"][1]["measured"].is_null());
  EXPECT_EQ(j["rows"][1]["available"], false);
  EXPECT_DOUBLE_EQ(j["facts"][kOdd].get<double>(), 3.25);
  EXPECT_EQ(j["lesson"], r.lesson);
}

TEST_F(LabJson, KeysKeepTheirNamesAndOrder) {
  // Other tools read these objects: the schema is the one the hand-written writer produced.
  const Demo demo{.name = "n", .seed = "000", .title = "t", .run = nullptr};
  Result r;
  r.rows.push_back(Row{.variant = "v", .measured = 1, .seed = 1, .ideal = 1, .unit = "s", .note = ""});
  r.lesson = std::string("l");  // not `= "l"`: g++ 12 -O3 reports a false -Wrestrict there
  const auto j = nlohmann::ordered_json::parse(spindle::lab::render_json(demo, r, 1));
  const auto keys = [](const nlohmann::ordered_json& o) {
    std::vector<std::string> out;
    for (const auto& [k, v] : o.items()) out.push_back(k);
    return out;
  };
  EXPECT_EQ(keys(j),
            (std::vector<std::string>{"demo", "seed", "title", "elapsed_s", "rows", "facts", "lesson", "python"}));
  EXPECT_EQ(keys(j["rows"][0]),
            (std::vector<std::string>{"variant", "measured", "seed", "ideal", "python", "unit", "available", "note"}));
}

TEST_F(LabJson, InvalidUtf8IsRepairedNotRefused) {
  const Demo demo{.name = "cut\xe6\x97", .seed = "000", .title = "t", .run = nullptr};
  const auto j = nlohmann::json::parse(spindle::lab::render_json(demo, Result{}, 0));
  EXPECT_EQ(j["demo"].get<std::string>().rfind("cut", 0), 0u);
}

}  // namespace
