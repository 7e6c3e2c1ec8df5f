// The advisor's report as a self-contained HTML page: the verdict, the advice and the run's timeline (cores
// used over time, phases shaded) as inline SVG, readable in a browser with no network.

#include <algorithm>
#include <cstdio>
#include <string>

#include "spindle/advisor/report.hpp"

namespace spindle::advisor {
namespace {

std::string escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

}  // namespace

std::string timeline_svg(const Report& r) {
  constexpr double kW = 720, kH = 240, kLeft = 48, kRight = 12, kTop = 12, kBottom = 32;
  const double plot_w = kW - kLeft - kRight;
  const double plot_h = kH - kTop - kBottom;
  const double t_max = std::max(r.wall_s, 1e-3);
  double c_max = std::max(1.0, static_cast<double>(r.cores));
  for (const auto& [t, c] : r.timeline) c_max = std::max(c_max, c);
  auto x = [&](double t) { return kLeft + plot_w * std::clamp(t / t_max, 0.0, 1.0); };
  auto y = [&](double c) { return kTop + plot_h * (1.0 - std::clamp(c / c_max, 0.0, 1.0)); };
  std::string svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"timeline\" width=\"" + num(kW) + "\" height=\"" +
                    num(kH) + "\" role=\"img\" aria-label=\"cores used over time\">\n";
  for (const auto& p : r.phases) {  // phases first, under the line
    svg += "<rect class=\"phase " + std::string(p.computing ? "compute" : "wait") + "\" x=\"" + num(x(p.start_s)) +
           "\" y=\"" + num(kTop) + "\" width=\"" + num(x(p.end_s) - x(p.start_s)) + "\" height=\"" + num(plot_h) +
           "\" fill=\"" + (p.computing ? "#fde2c8" : "#d6e6f7") + "\"><title>" +
           (p.computing ? "computing" : "waiting") + "</title></rect>\n";
  }
  // Axes, the cores available as a dashed line, and the ticks.
  svg += "<line x1=\"" + num(kLeft) + "\" y1=\"" + num(kTop + plot_h) + "\" x2=\"" + num(kLeft + plot_w) + "\" y2=\"" +
         num(kTop + plot_h) + "\" stroke=\"#333\"/>\n";
  svg += "<line x1=\"" + num(kLeft) + "\" y1=\"" + num(kTop) + "\" x2=\"" + num(kLeft) + "\" y2=\"" +
         num(kTop + plot_h) + "\" stroke=\"#333\"/>\n";
  svg += "<line class=\"cores\" x1=\"" + num(kLeft) + "\" y1=\"" + num(y(r.cores)) + "\" x2=\"" + num(kLeft + plot_w) +
         "\" y2=\"" + num(y(r.cores)) + "\" stroke=\"#999\" stroke-dasharray=\"4 4\"/>\n";
  svg +=
      "<text x=\"4\" y=\"" + num(y(r.cores) + 4) + "\" font-size=\"11\">" + std::to_string(r.cores) + " cores</text>\n";
  svg += "<text x=\"4\" y=\"" + num(kTop + plot_h + 4) + "\" font-size=\"11\">0</text>\n";
  for (int i = 0; i <= 4; ++i) {
    const double t = t_max * i / 4;
    svg += "<text x=\"" + num(x(t) - 10) + "\" y=\"" + num(kH - 12) + "\" font-size=\"11\">" + num(t) + " s</text>\n";
  }
  svg += "<polyline class=\"cores-used\" fill=\"none\" stroke=\"#c0392b\" stroke-width=\"1.5\" points=\"";
  for (const auto& [t, c] : r.timeline) svg += num(x(t)) + "," + num(y(c)) + " ";
  svg += "\"/>\n</svg>\n";
  return svg;
}

std::string to_html(const Report& r) {
  std::string what;
  if (r.attached_pid != 0) {
    what = "pid " + std::to_string(r.attached_pid);
  } else {
    for (const auto& a : r.command) what += a + " ";
  }
  std::string html =
      "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>spindle advise: " + escape(what) +
      "</title>\n<style>body{font-family:sans-serif;max-width:760px;margin:2em auto}"
      "dt{font-weight:bold}.legend span{padding:0 .5em;margin-right:1em}</style></head><body>\n";
  html += "<h1>spindle advise</h1>\n<p><code>" + escape(what) + "</code></p>\n<dl>\n";
  html += "<dt>verdict</dt><dd>" + escape(to_string(r.classification)) + ": " + escape(r.reason) + "</dd>\n";
  html += "<dt>use</dt><dd>" + escape(to_string(r.model)) + ": " + escape(r.advice) + "</dd>\n</dl>\n";
  html += "<h2>Cores used over time</h2>\n" + timeline_svg(r);
  html +=
      "<p class=\"legend\"><span style=\"background:#d6e6f7\">waiting</span><span "
      "style=\"background:#fde2c8\">computing</span>red: cores used between samples; dashed: cores available</p>\n";
  html += "<pre>" + escape(to_text(r)) + "</pre>\n</body></html>\n";
  return html;
}

}  // namespace spindle::advisor
