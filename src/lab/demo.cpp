#include "spindle/lab/demo.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

#include "svg.hpp"

namespace spindle::lab {
namespace {

using detail::fixed;
using detail::html_escape;

Chart chart_of(const Result& r) {
  if (!r.chart.empty()) return r.chart;
  // The rows' measured figures, those in the first row's unit only: one axis, no apples against oranges.
  Chart c;
  c.title = "measured";
  for (const auto& row : r.rows) {
    if (!std::isfinite(row.measured)) continue;
    if (c.bars.empty()) c.unit = row.unit;
    if (row.unit == c.unit) c.bars.emplace_back(row.variant, row.measured);
  }
  return c;
}

bool has_python(const Result& r) {
  if (!r.python.empty()) return true;
  for (const auto& row : r.rows) {
    if (std::isfinite(row.python)) return true;
  }
  return false;
}

}  // namespace

std::vector<Demo>& registry() {
  static std::vector<Demo> demos;
  return demos;
}

Register::Register(Demo demo) {
  auto& all = registry();
  all.push_back(std::move(demo));
  std::sort(all.begin(), all.end(), [](const Demo& a, const Demo& b) { return a.name < b.name; });
}

const Demo* find_demo(const std::string& name) {
  for (const auto& d : registry()) {
    if (d.name == name) return &d;
  }
  return nullptr;
}

std::string render_text(const Demo& demo, const Result& r) {
  std::string out = "== " + demo.name + ": " + demo.title + "\n";
  std::size_t width = 7;
  for (const auto& row : r.rows) width = std::max(width, row.variant.size());
  // The "CPython here" column appears once a twin was tried: its figures, or "-" where CPython has no such
  // variant, with the reason under the table when it did not run at all.
  const bool py = has_python(r);
  char buf[640];
  std::snprintf(buf, sizeof buf, "  %-*s %12s%s %12s %12s  %s\n", static_cast<int>(width), "variant", "spindle",
                py ? "  CPython here" : "", "seed (32c)", "ideal here", "unit");
  out += buf;
  for (const auto& row : r.rows) {
    const std::string python = py ? " " + fixed(row.python, 13) : "";
    std::snprintf(buf, sizeof buf, "  %-*s %12s%s %12s %12s  %-6s %s\n", static_cast<int>(width), row.variant.c_str(),
                  std::isfinite(row.measured) ? fixed(row.measured).c_str() : "n/a", python.c_str(),
                  fixed(row.seed).c_str(), fixed(row.ideal).c_str(), row.unit.c_str(), row.note.c_str());
    out += buf;
  }
  for (const auto& note : r.notes) out += "  " + note + "\n";
  if (!r.python.empty()) out += "  " + r.python + "\n";
  out += "  => " + r.lesson + "\n\n";
  return out;
}

std::string render_json(const Demo& demo, const Result& r, double elapsed_s) {
  // Keys in a fixed order (ordered_json), as other tools read them; a figure that is not finite (kNone) is
  // null.
  nlohmann::ordered_json o;
  o["demo"] = demo.name;
  o["seed"] = demo.seed;
  o["title"] = demo.title;
  o["elapsed_s"] = elapsed_s;
  auto& rows = o["rows"] = nlohmann::ordered_json::array();
  for (const auto& row : r.rows) {
    rows.push_back({{"variant", row.variant},
                    {"measured", row.measured},
                    {"seed", row.seed},
                    {"ideal", row.ideal},
                    {"python", row.python},
                    {"unit", row.unit},
                    {"available", std::isfinite(row.measured)},
                    {"note", row.note}});
  }
  auto& facts = o["facts"] = nlohmann::ordered_json::object();
  for (const auto& [k, v] : r.facts) facts[k] = v;
  o["lesson"] = r.lesson;
  o["python"] = r.python;
  return o.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string render_html(const std::vector<std::pair<const Demo*, Result>>& results, const std::string& machine) {
  std::string h =
      "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>spindle lab report</title><style>"
      "body{font-family:sans-serif;max-width:1000px;margin:2em auto;color:#222}"
      "table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}"
      "td:first-child,th:first-child{text-align:left}.lesson{font-weight:bold}.na{color:#a33}"
      "table.tree td,table.tree th{text-align:left}.unmeasured{color:#888}figure{margin:.8em 0}"
      "figcaption{font-style:italic}section{border-top:1px solid #ddd;margin-top:1.5em}</style></head><body>\n"
      "<h1>spindle lab</h1><p>" +
      html_escape(machine) +
      ". Seed figures come from the seeds' machine (32 cores, CPython 3.12); the ideal is this machine's "
      "best case; \"CPython here\" is our Python twin of each demo, run on this machine.</p>\n";
  // The one-screen summary: which model for which work, each branch proved by a figure from this run.
  h += "<section id=\"summary\"><h2>Which model? The seeds' decision tree, measured here</h2>\n<table class=\"tree\">"
       "<tr><th>if</th><th>then</th><th>the figure from this machine</th></tr>";
  for (const auto& b : summary_of(results)) {
    h += "<tr><td>" + html_escape(b.question) + "</td><td><b>" + html_escape(b.answer) + "</b></td><td" +
         (b.measured ? "" : " class=\"unmeasured\"") + ">" + html_escape(b.evidence) + "</td></tr>";
  }
  h += "</table></section>\n";
  for (const auto& [demo, r] : results) {
    const bool py = has_python(r);
    h += "<section><h2>" + html_escape(demo->name) + ": " + html_escape(demo->title) +
         "</h2>\n<table><tr><th>variant</th><th>spindle</th>" + (py ? "<th>CPython here</th>" : "") +
         "<th>seed (32 cores)</th><th>ideal here</th><th>unit</th><th>note</th></tr>";
    for (const auto& row : r.rows) {
      h += "<tr><td>" + html_escape(row.variant) + "</td><td" +
           (std::isfinite(row.measured) ? std::string(">") + fixed(row.measured) : std::string(" class=\"na\">n/a")) +
           "</td>" + (py ? "<td>" + fixed(row.python) + "</td>" : "") + "<td>" + fixed(row.seed) + "</td><td>" +
           fixed(row.ideal) + "</td><td>" + html_escape(row.unit) + "</td><td>" + html_escape(row.note) + "</td></tr>";
    }
    h += "</table>\n";
    h += detail::svg_figure(chart_of(r));
    for (const auto& c : r.more_charts) h += detail::svg_figure(c);
    for (const auto& note : r.notes) h += "<p>" + html_escape(note) + "</p>";
    if (!r.python.empty()) h += "<p>" + html_escape(r.python) + "</p>";
    h += "<p class=\"lesson\">" + html_escape(r.lesson) + "</p></section>\n";
  }
  h += "</body></html>\n";
  return h;
}

}  // namespace spindle::lab
