#pragma once
/// @file
/// The lab's demo framework: a demo runs a real experiment and returns a Result (a table of variants with
/// the measured figure, the seed's figure and this machine's ideal, a chart and a one-line lesson).
/// Demos register themselves at static-initialisation time, one file each under labs/.

#include <cmath>
#include <cstdio>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace spindle::lab {

/// "No figure" in a Row (the seed gives none, no ideal applies, or the variant is not available).
inline constexpr double kNone = NAN;

/// One line of a demo's table.
struct Row {
  std::string variant;      ///< what was run ("serial", "threads (20)", ...)
  double measured = kNone;  ///< the figure measured here (kNone when the variant is not available)
  double seed = kNone;      ///< the seed's figure (its machine: 32 cores, CPython 3.12), if it gives one
  double ideal = kNone;     ///< what this machine should manage at best
  std::string unit = "s";   ///< unit of the three figures
  std::string note;         ///< a remark ("not available yet: spindle::aio has not landed", ...)
  double python = kNone;    ///< CPython's figure for this variant, measured here by the demo's twin (if run)
};

/// One line of a line chart.
struct Series {
  std::string name;                               ///< legend entry
  std::vector<std::pair<double, double>> points;  ///< (x, y), in x order
  bool dashed = false;                            ///< drawn dashed (an ideal, a reference)
};

/// One span of a state chart: a thread was in `state` (an index into Chart::states) from `start` to `end`.
struct Segment {
  double start = 0;  ///< seconds since the run began
  double end = 0;    ///< seconds since the run began
  int state = 0;     ///< index into Chart::states
};

/// One row of a state chart (a thread's states over time).
struct Lane {
  std::string name;               ///< the row's label ("thread 1")
  std::vector<Segment> segments;  ///< in time order
};

/// A chart for the HTML report: bars (label, value), lines (x, y) or lanes of states over time, the first of
/// these that is not empty.
struct Chart {
  std::string title;                                 ///< caption
  std::string unit;                                  ///< unit of the values (y axis)
  std::vector<std::pair<std::string, double>> bars;  ///< bar chart data
  std::vector<std::pair<double, double>> points;     ///< a single line's data (a Series named after the unit)
  std::vector<Series> lines;                         ///< several lines, with a legend
  std::vector<Lane> lanes;                           ///< a state chart: one lane per thread
  std::vector<std::string> states;                   ///< the lanes' state names, by index (the legend)
  std::string x_label;                               ///< x axis of a line or state chart
  bool log_x = false;                                ///< a log2 x axis (thread counts 1..128)

  /// True if the chart has anything to draw.
  bool empty() const { return bars.empty() && points.empty() && lines.empty() && lanes.empty(); }
};

/// A demo's outcome.
struct Result {
  std::vector<Row> rows;                ///< the table
  std::string lesson;                   ///< one line on what it shows
  Chart chart;                          ///< empty: the report charts the rows' measured figures
  std::map<std::string, double> facts;  ///< named figures for tests and --json (shape checks)
  std::vector<std::string> notes;       ///< extra lines printed under the table
  std::vector<Chart> more_charts;       ///< further charts for the report, after `chart`
  std::string python;                   ///< how the CPython twin went ("CPython 3.11.2: ..."); empty: not tried
};

/// How a demo should run.
struct Options {
  bool quick = false;       ///< scaled-down sizes (seconds in all); figures not comparable with the seed's
  bool terminal = false;    ///< stdout is a terminal: spinners may animate
  std::FILE* out = stdout;  ///< where a demo's own output (spinners, answers) goes; stderr under --json
};

/// A registered demo.
struct Demo {
  std::string name;                           ///< command-line name, e.g. "002-io-wait"
  std::string seed;                           ///< which seed it comes from ("000" ... "004")
  std::string title;                          ///< one line
  std::function<Result(const Options&)> run;  ///< runs the experiment
};

/// Every registered demo, sorted by name.
/// **Thread safety:** registration happens before main; reading afterwards is safe from any thread.
std::vector<Demo>& registry();

/// Registers a demo at static-initialisation time: `const Register reg({"002-io-wait", "002", "...", fn});`
struct Register {
  /// Adds `demo` to the registry.
  explicit Register(Demo demo);
};

/// Looks a demo up by name; nullptr if none.
const Demo* find_demo(const std::string& name);

/// The table and lesson as text for a terminal.
std::string render_text(const Demo& demo, const Result& result);
/// One JSON object for a demo's result.
std::string render_json(const Demo& demo, const Result& result, double elapsed_s);
/// A self-contained HTML page (inline SVG charts, no network) for the given results. It opens with the seeds'
/// decision tree, each branch with the figure from these results that proves it (summary_of()).
std::string render_html(const std::vector<std::pair<const Demo*, Result>>& results, const std::string& machine);

/// One branch of the seeds' decision tree with this run's evidence for it.
struct Branch {
  std::string question;   ///< "I/O-bound, many waits?"
  std::string answer;     ///< "async"
  std::string evidence;   ///< the figure that proves it here, or which demo to run to see it
  bool measured = false;  ///< true when `evidence` comes from these results
};
/// The seeds' decision tree (I/O → threads or async; CPU → processes; backpressure → bounded queues; mixed →
/// a hybrid pipeline), each branch backed by a figure from `results` where the demo that shows it ran.
std::vector<Branch> summary_of(const std::vector<std::pair<const Demo*, Result>>& results);

}  // namespace spindle::lab
