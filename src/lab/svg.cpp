#include "svg.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>

namespace spindle::lab::detail {
namespace {

// Line colours: spindle's lines first, then CPython's; the lanes' states in their legend order.
constexpr const char* kPalette[] = {"#4a7ab5", "#d9822b", "#3a9a5b", "#b5443a", "#7d5ab5", "#8a8a8a"};
constexpr std::size_t kColours = sizeof kPalette / sizeof kPalette[0];

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

std::string open_svg(int w, int h) {
  return "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + std::to_string(w) + "\" height=\"" + std::to_string(h) +
         "\" viewBox=\"0 0 " + std::to_string(w) + " " + std::to_string(h) +
         "\" font-family=\"sans-serif\" font-size=\"12\">";
}

std::string text(double x, double y, const std::string& s, const char* anchor = "start") {
  return "<text x=\"" + num(x) + "\" y=\"" + num(y) + "\" text-anchor=\"" + anchor + "\">" + html_escape(s) + "</text>";
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
  std::string s = open_svg(label_w + plot_w + 90, h);
  int y = pad;
  for (const auto& [label, value] : c.bars) {
    const int w = std::max(1, static_cast<int>(plot_w * std::max(0.0, value) / max));
    s += text(label_w - 6, y + 15, label, "end");
    s += "<rect class=\"mark\" x=\"" + std::to_string(label_w) + "\" y=\"" + std::to_string(y + 3) + "\" width=\"" +
         std::to_string(w) + "\" height=\"" + std::to_string(bar_h - 6) + "\" fill=\"#4a7ab5\"/>";
    s += text(label_w + w + 4, y + 15, fixed(value) + " " + c.unit);
    y += bar_h;
  }
  return s + "</svg>";
}

// At most ~200 points per line: a 4,000-sample backlog trace would otherwise weigh more than the page.
std::vector<std::pair<double, double>> thin(const std::vector<std::pair<double, double>>& pts) {
  if (pts.size() <= 200) return pts;
  std::vector<std::pair<double, double>> out;
  const std::size_t step = (pts.size() + 199) / 200;
  for (std::size_t i = 0; i < pts.size(); i += step) out.push_back(pts[i]);
  if (out.back() != pts.back()) out.push_back(pts.back());
  return out;
}

std::string svg_lines(const Chart& c) {
  std::vector<Series> lines = c.lines;
  if (lines.empty()) lines.push_back(Series{c.unit, c.points, false});
  // The legend sits right of the plot, as wide as its longest name (about 7 px per character).
  std::size_t longest = 0;
  for (const auto& l : lines) longest = std::max(longest, l.name.size());
  const int right = 44 + 7 * static_cast<int>(longest);
  const int w = 440 + right, h = 280, left = 60, bottom = 40, top = 12;
  double xmin = INFINITY, xmax = -INFINITY, ymax = 0;
  for (const auto& l : lines) {
    for (const auto& [x, y] : l.points) {
      xmin = std::min(xmin, x);
      xmax = std::max(xmax, x);
      ymax = std::max(ymax, y);
    }
  }
  if (!std::isfinite(xmin)) xmin = xmax = 0;
  const bool logx = c.log_x && xmin > 0;
  const auto fx = [&](double x) {
    const double a =
        logx ? std::log2(x / xmin) / std::max(1e-9, std::log2(xmax / xmin)) : (x - xmin) / std::max(1e-9, xmax - xmin);
    return left + a * (w - left - right);
  };
  if (ymax <= 0) ymax = 1;
  const auto fy = [&](double y) { return top + (1 - y / ymax) * (h - top - bottom); };
  std::string s = open_svg(w, h);
  s += "<line x1=\"" + num(left) + "\" y1=\"" + num(h - bottom) + "\" x2=\"" + num(w - right) + "\" y2=\"" +
       num(h - bottom) + "\" stroke=\"#888\"/>";
  s += "<line x1=\"" + num(left) + "\" y1=\"" + num(top) + "\" x2=\"" + num(left) + "\" y2=\"" + num(h - bottom) +
       "\" stroke=\"#888\"/>";
  // x ticks: the first line's x values when few (thread counts), else five even steps.
  const auto& first = lines.front().points;
  if (!first.empty() && first.size() <= 12) {
    for (const auto& p : first) s += text(fx(p.first), h - bottom + 14, fixed(p.first), "middle");
  } else {
    for (int i = 0; i <= 4; ++i) {
      const double x = xmin + (xmax - xmin) * i / 4;
      s += text(fx(x), h - bottom + 14, fixed(x), "middle");
    }
  }
  s += text(left - 4, top + 10, fixed(ymax), "end");
  s += text(left - 4, h - bottom, "0", "end");
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const char* colour = kPalette[i % kColours];
    const auto pts = thin(lines[i].points);
    std::string path;
    for (const auto& [x, y] : pts) path += num(fx(x)) + "," + num(fy(y)) + " ";
    s += "<polyline class=\"mark\" fill=\"none\" stroke=\"" + std::string(colour) + "\" stroke-width=\"2\"" +
         (lines[i].dashed ? " stroke-dasharray=\"6 4\"" : "") + " points=\"" + path + "\"/>";
    if (pts.size() <= 12) {
      for (const auto& [x, y] : pts) {
        s += "<circle cx=\"" + num(fx(x)) + "\" cy=\"" + num(fy(y)) + "\" r=\"3\" fill=\"" + colour + "\"/>";
      }
    }
    const double ly = top + 14 + 18 * static_cast<double>(i);
    s += "<line x1=\"" + num(w - right + 10) + "\" y1=\"" + num(ly - 4) + "\" x2=\"" + num(w - right + 30) +
         "\" y2=\"" + num(ly - 4) + "\" stroke=\"" + colour + "\" stroke-width=\"2\"" +
         (lines[i].dashed ? " stroke-dasharray=\"6 4\"" : "") + "/>";
    s += text(w - right + 34, ly, lines[i].name);
  }
  s += text((w - right + left) / 2.0, h - 6, c.x_label, "middle");
  s += "<text x=\"14\" y=\"" + num(h / 2.0) + "\" transform=\"rotate(-90 14 " + num(h / 2.0) +
       ")\" text-anchor=\"middle\">" + html_escape(c.unit) + "</text>";
  return s + "</svg>";
}

std::string svg_lanes(const Chart& c) {
  const int lane_h = 18, left = 90, right = 20, top = 8, plot_w = 520;
  double tmax = 0;
  for (const auto& lane : c.lanes) {
    for (const auto& seg : lane.segments) tmax = std::max(tmax, seg.end);
  }
  if (tmax <= 0) tmax = 1;
  const int legend_y = top + lane_h * static_cast<int>(c.lanes.size()) + 34;
  const int h = legend_y + 12;
  std::string s = open_svg(left + plot_w + right, h);
  const auto fx = [&](double t) { return left + t / tmax * plot_w; };
  for (std::size_t i = 0; i < c.lanes.size(); ++i) {
    const double y = top + lane_h * static_cast<double>(i);
    s += text(left - 6, y + 13, c.lanes[i].name, "end");
    for (const auto& seg : c.lanes[i].segments) {
      // Spans under a third of a pixel are invisible anyway; dropping them keeps the page small.
      const double w = std::max(0.0, fx(seg.end) - fx(seg.start));
      if (w < 0.34) continue;
      s += "<rect class=\"mark\" x=\"" + num(fx(seg.start)) + "\" y=\"" + num(y + 2) + "\" width=\"" + num(w) +
           "\" height=\"" + num(lane_h - 4) + "\" fill=\"" + kPalette[static_cast<std::size_t>(seg.state) % kColours] +
           "\"/>";
    }
  }
  const double axis_y = top + lane_h * static_cast<double>(c.lanes.size()) + 2;
  s += "<line x1=\"" + num(left) + "\" y1=\"" + num(axis_y) + "\" x2=\"" + num(left + plot_w) + "\" y2=\"" +
       num(axis_y) + "\" stroke=\"#888\"/>";
  s += text(left, axis_y + 14, "0", "middle");
  s += text(left + plot_w, axis_y + 14, fixed(tmax) + " " + c.x_label, "end");
  double x = left;
  for (std::size_t i = 0; i < c.states.size(); ++i) {
    s += "<rect x=\"" + num(x) + "\" y=\"" + num(legend_y - 10) + "\" width=\"12\" height=\"12\" fill=\"" +
         kPalette[i % kColours] + "\"/>";
    s += text(x + 16, legend_y, c.states[i]);
    x += 30 + 7.0 * static_cast<double>(c.states[i].size());
  }
  return s + "</svg>";
}

}  // namespace

std::string fixed(double v, int width) {
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

std::string html_escape(const std::string& s) {
  std::string out;
  for (char ch : s) {
    if (ch == '<')
      out += "&lt;";
    else if (ch == '>')
      out += "&gt;";
    else if (ch == '&')
      out += "&amp;";
    else if (ch == '"')
      out += "&quot;";
    else
      out += ch;
  }
  return out;
}

std::string svg_figure(const Chart& c) {
  std::string kind, svg;
  if (!c.bars.empty()) {
    kind = "bars";
    svg = svg_bars(c);
  } else if (!c.lines.empty() || !c.points.empty()) {
    kind = "lines";
    svg = svg_lines(c);
  } else if (!c.lanes.empty()) {
    kind = "lanes";
    svg = svg_lanes(c);
  } else {
    return "";
  }
  std::string f = "<figure class=\"chart\" data-kind=\"" + kind + "\">" + svg;
  if (!c.title.empty() && c.title != "measured") f += "<figcaption>" + html_escape(c.title) + "</figcaption>";
  return f + "</figure>\n";
}

}  // namespace spindle::lab::detail
