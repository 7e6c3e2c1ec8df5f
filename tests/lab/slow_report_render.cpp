// The lab's HTML report in a real browser: headless Chromium loads the report of the demos that draw the
// teaching charts (speed-up against threads with its ideal, the backlog over time, per-stage utilisation,
// threads' GIL states over time), and a checker appended to the page measures, after layout, that every chart
// has marks, that every mark has a size and lies inside its chart, and that the decision-tree summary is there.
// Nothing on the page reaches the network.

#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "spindle/lab/demo.hpp"
#include "spindle/lab/python.hpp"
#include "spindle/process/start_method.hpp"

namespace {

namespace fs = std::filesystem;

class ForkserverFirst : public ::testing::Environment {
 public:
  void SetUp() override { spindle::process::init(); }
};
const ::testing::Environment* const forkserver_env = ::testing::AddGlobalTestEnvironment(new ForkserverFirst);

// Runs after the SVGs above it were parsed; getBBox() forces layout, so the sizes are the rendered ones.
constexpr const char* kChecker = R"(<script>
(() => {
  const lines = [];
  for (const fig of document.querySelectorAll('figure.chart')) {
    const svg = fig.querySelector('svg');
    if (!svg) { lines.push(fig.dataset.kind + ' 0 0 0 nosvg'); continue; }
    const w = svg.width.baseVal.value, h = svg.height.baseVal.value;
    let sized = 0, outside = 0;
    const marks = fig.querySelectorAll('.mark');
    for (const m of marks) {
      const b = m.getBBox();
      if (b.width > 0 || b.height > 0) sized++;
      if (b.x < -1 || b.y < -1 || b.x + b.width > w + 1 || b.y + b.height > h + 1) outside++;
    }
    const box = svg.getBoundingClientRect();
    lines.push([fig.dataset.kind, marks.length, sized, outside,
                Math.round(box.width) + 'x' + Math.round(box.height)].join(' '));
  }
  const summary = document.querySelectorAll('#summary tr').length;
  const pre = document.createElement('pre');
  pre.id = 'chart-check';
  pre.textContent = 'summary-rows ' + summary + '\n' + lines.join('\n');
  document.body.appendChild(pre);
})();
</script>)";

std::string run_capture(const std::string& command) {
  std::string out;
  if (std::FILE* p = ::popen(command.c_str(), "r")) {
    std::array<char, 4096> buf{};
    std::size_t n = 0;
    while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
    ::pclose(p);
  }
  return out;
}

TEST(ReportRender, EveryChartDrawsInChromium) {
  std::optional<std::string> chromium;
  for (const char* name : {"chromium", "chromium-browser", "google-chrome"}) {
    if ((chromium = spindle::lab::find_python(name))) break;  // a PATH lookup of any program
  }
  ASSERT_TRUE(chromium.has_value()) << "Chromium is a test dependency (scripts/install-deps.sh installs it)";

  std::FILE* sink = std::fopen("/dev/null", "we");
  ASSERT_NE(sink, nullptr);
  spindle::lab::Options options;
  options.quick = true;
  options.out = sink;
  std::vector<std::pair<const spindle::lab::Demo*, spindle::lab::Result>> results;
  for (const char* name :
       {"002-io-wait", "002-cpu-bound", "002-backpressure", "002-thread-overhead", "002-hybrid-pipeline"}) {
    const auto* demo = spindle::lab::find_demo(name);
    ASSERT_NE(demo, nullptr) << name;
    results.emplace_back(demo, demo->run(options));
  }
  std::fclose(sink);
  std::string html = spindle::lab::render_html(results, "test");
  std::size_t figures = 0;
  for (auto at = html.find("<figure class=\"chart\""); at != std::string::npos;
       at = html.find("<figure class=\"chart\"", at + 1)) {
    ++figures;
  }
  // One chart per demo, plus the GIL lanes, the backlog peaks and the pipeline's per-stage utilisation.
  EXPECT_EQ(figures, results.size() + 3);
  for (const char* kind : {"data-kind=\"lines\"", "data-kind=\"lanes\"", "data-kind=\"bars\""}) {
    EXPECT_NE(html.find(kind), std::string::npos) << kind;
  }
  html.insert(html.rfind("</body>"), kChecker);

  const fs::path dir = fs::temp_directory_path() / ("spindle-render-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const fs::path page = dir / "report.html";
  std::ofstream(page) << html;
  // --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start; the page is our own.
  const std::string dom =
      run_capture("timeout -k 5 120 " + *chromium +
                  " --headless --no-sandbox --disable-gpu --disable-dev-shm-usage --no-first-run"
                  " --user-data-dir=" +
                  (dir / "profile").string() + " --dump-dom file://" + page.string() + " 2>/dev/null");
  fs::remove_all(dir);

  const auto start = dom.find("<pre id=\"chart-check\">");
  ASSERT_NE(start, std::string::npos) << "the page did not load, or its checker did not run:\n" << dom.substr(0, 2000);
  std::istringstream check(dom.substr(start + 22, dom.find("</pre>", start) - start - 22));
  std::string word;
  int summary_rows = 0;
  check >> word >> summary_rows;
  EXPECT_EQ(word, "summary-rows");
  EXPECT_EQ(summary_rows, 6) << "the decision tree: a header and five branches";
  std::size_t charts = 0;
  std::string kind, size;
  int marks = 0, sized = 0, outside = 0;
  while (check >> kind >> marks >> sized >> outside >> size) {
    ++charts;
    EXPECT_GT(marks, 0) << "chart " << charts << " (" << kind << ") drew no marks";
    EXPECT_EQ(sized, marks) << "chart " << charts << " (" << kind << ") has marks of no size";
    EXPECT_EQ(outside, 0) << "chart " << charts << " (" << kind << ") draws outside its frame";
    EXPECT_NE(size.rfind("0x", 0), 0U) << "chart " << charts << " (" << kind << ") has no width";
  }
  EXPECT_EQ(charts, figures);
}

}  // namespace
