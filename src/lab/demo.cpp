#include "spindle/lab/demo.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

namespace spindle::lab {
namespace {

std::string fixed(double v, int width = 0) {
  char buf[64];
  if (!std::isfinite(v)) {
    std::snprintf(buf, sizeof buf, "%*s", width, "-");
  } else if (std::fabs(v) >= 1000 || v == std::floor(v)) {
    std::snprintf(buf, sizeof buf, "%*.0f", width, v);
  } else if (std::fabs(v) >= 10) {
    std::snprintf(buf, sizeof buf, "%*.1f", width, v);
  } else {
    std::snprintf(buf, sizeof buf, "%*.3f", width, v);
  }
  return buf;
}

// HTML text and attribute values.
std::string html_escape(const std::string& s) {
  std::string out;
  for (char ch : s) {
    if (ch == '<') out += "&lt;";
    else if (ch == '>') out += "&gt;";
    else if (ch == '&') out += "&amp;";
    else if (ch == '"') out += "&quot;";
    else out += ch;
  }
  return out;
}

Chart chart_of(const Result& r) {
  if (!r.chart.bars.empty() || !r.chart.points.empty()) return r.chart;
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

std::string svg_bars(const Chart& c) {
  const int bar_h = 22, plot_w = 420, pad = 8;
  // Wide enough for the longest label (about 7 px per character at font-size 12), so none is clipped.
  std::size_t longest = 0;
  for (const auto& b : c.bars) longest = std::max(longest, b.first.size());
  const int label_w = std::max(160, static_cast<int>(longest) * 7 + 12);
  const int h = pad * 2 + bar_h * static_cast<int>(c.bars.size()) + 20;
  double max = 0;
  for (const auto& b : c.bars) max = std::max(max, b.second);
  if (max <= 0) max = 1;
  std::string s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + std::to_string(label_w + plot_w + 90) +
                  "\" height=\"" + std::to_string(h) + "\" font-family=\"sans-serif\" font-size=\"12\">";
  int y = pad;
  for (const auto& [label, value] : c.bars) {
    const int w = std::max(1, static_cast<int>(plot_w * value / max));
    s += "<text x=\"" + std::to_string(label_w - 6) + "\" y=\"" + std::to_string(y + 15) +
         "\" text-anchor=\"end\">" + html_escape(label) + "</text>";
    s += "<rect x=\"" + std::to_string(label_w) + "\" y=\"" + std::to_string(y + 3) + "\" width=\"" +
         std::to_string(w) + "\" height=\"" + std::to_string(bar_h - 6) + "\" fill=\"#4a7ab5\"/>";
    s += "<text x=\"" + std::to_string(label_w + w + 4) + "\" y=\"" + std::to_string(y + 15) + "\">" +
         fixed(value) + " " + html_escape(c.unit) + "</text>";
    y += bar_h;
  }
  s += "</svg>";
  return s;
}

std::string svg_line(const Chart& c) {
  const int w = 560, h = 260, left = 60, bottom = 40, top = 12, right = 20;
  double xmin = c.points.front().first, xmax = xmin, ymax = 0;
  for (const auto& [x, y] : c.points) {
    xmin = std::min(xmin, x);
    xmax = std::max(xmax, x);
    ymax = std::max(ymax, y);
  }
  const bool logx = xmin > 0 && xmax / xmin > 16;  // thread counts 1..128: a log2 axis
  const auto fx = [&](double x) {
    const double a = logx ? std::log2(x / xmin) / std::max(1e-9, std::log2(xmax / xmin))
                          : (x - xmin) / std::max(1e-9, xmax - xmin);
    return left + a * (w - left - right);
  };
  if (ymax <= 0) ymax = 1;
  const auto fy = [&](double y) { return top + (1 - y / ymax) * (h - top - bottom); };
  char buf[160];
  std::string s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + std::to_string(w) + "\" height=\"" +
                  std::to_string(h) + "\" font-family=\"sans-serif\" font-size=\"12\">";
  std::snprintf(buf, sizeof buf, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#888\"/>", left,
                h - bottom, w - right, h - bottom);
  s += buf;
  std::snprintf(buf, sizeof buf, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#888\"/>", left, top, left,
                h - bottom);
  s += buf;
  std::string path;
  for (const auto& [x, y] : c.points) {
    std::snprintf(buf, sizeof buf, "%.1f,%.1f ", fx(x), fy(y));
    path += buf;
    std::snprintf(buf, sizeof buf, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"#4a7ab5\"/>", fx(x), fy(y));
    s += buf;
    std::snprintf(buf, sizeof buf, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%s</text>", fx(x),
                  h - bottom + 14, fixed(x).c_str());
    s += buf;
  }
  s += "<polyline fill=\"none\" stroke=\"#4a7ab5\" stroke-width=\"2\" points=\"" + path + "\"/>";
  std::snprintf(buf, sizeof buf, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%s</text>", left - 4, top + 10,
                fixed(ymax).c_str());
  s += buf;
  std::snprintf(buf, sizeof buf, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">0</text>", left - 4, h - bottom);
  s += buf;
  s += "<text x=\"" + std::to_string((w + left) / 2) + "\" y=\"" + std::to_string(h - 6) +
       "\" text-anchor=\"middle\">" + html_escape(c.x_label) + "</text>";
  s += "<text x=\"14\" y=\"" + std::to_string(h / 2) + "\" transform=\"rotate(-90 14 " + std::to_string(h / 2) +
       ")\" text-anchor=\"middle\">" + html_escape(c.unit) + "</text>";
  s += "</svg>";
  return s;
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
  char buf[512];
  std::snprintf(buf, sizeof buf, "  %-*s %12s %12s %12s  %s\n", static_cast<int>(width), "variant", "measured",
                "seed (32c)", "ideal here", "unit");
  out += buf;
  for (const auto& row : r.rows) {
    std::snprintf(buf, sizeof buf, "  %-*s %12s %12s %12s  %-6s %s\n", static_cast<int>(width), row.variant.c_str(),
                  std::isfinite(row.measured) ? fixed(row.measured).c_str() : "n/a", fixed(row.seed).c_str(),
                  fixed(row.ideal).c_str(), row.unit.c_str(), row.note.c_str());
    out += buf;
  }
  for (const auto& note : r.notes) out += "  " + note + "\n";
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
                    {"unit", row.unit},
                    {"available", std::isfinite(row.measured)},
                    {"note", row.note}});
  }
  auto& facts = o["facts"] = nlohmann::ordered_json::object();
  for (const auto& [k, v] : r.facts) facts[k] = v;
  o["lesson"] = r.lesson;
  return o.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string render_html(const std::vector<std::pair<const Demo*, Result>>& results, const std::string& machine) {
  std::string h =
      "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>spindle lab report</title><style>"
      "body{font-family:sans-serif;max-width:1000px;margin:2em auto;color:#222}"
      "table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}"
      "td:first-child,th:first-child{text-align:left}.lesson{font-weight:bold}.na{color:#a33}"
      "section{border-top:1px solid #ddd;margin-top:1.5em}</style></head><body>\n"
      "<h1>spindle lab</h1><p>" +
      html_escape(machine) +
      ". Seed figures come from the seeds' machine (32 cores, CPython 3.12); the ideal is this machine's "
      "best case.</p>\n";
  for (const auto& [demo, r] : results) {
    h += "<section><h2>" + html_escape(demo->name) + ": " + html_escape(demo->title) + "</h2>\n<table><tr>"
         "<th>variant</th><th>measured</th><th>seed (32 cores)</th><th>ideal here</th><th>unit</th><th>note</th></tr>";
    for (const auto& row : r.rows) {
      h += "<tr><td>" + html_escape(row.variant) + "</td><td" +
           (std::isfinite(row.measured) ? std::string(">") + fixed(row.measured) : std::string(" class=\"na\">n/a")) +
           "</td><td>" + fixed(row.seed) + "</td><td>" + fixed(row.ideal) + "</td><td>" + html_escape(row.unit) +
           "</td><td>" + html_escape(row.note) + "</td></tr>";
    }
    h += "</table>\n";
    const Chart c = chart_of(r);
    if (!c.bars.empty()) h += svg_bars(c);
    else if (!c.points.empty()) h += svg_line(c);
    if (!c.title.empty() && c.title != "measured") h += "<p><i>" + html_escape(c.title) + "</i></p>";
    for (const auto& note : r.notes) h += "<p>" + html_escape(note) + "</p>";
    h += "<p class=\"lesson\">" + html_escape(r.lesson) + "</p></section>\n";
  }
  h += "</body></html>\n";
  return h;
}

}  // namespace spindle::lab
