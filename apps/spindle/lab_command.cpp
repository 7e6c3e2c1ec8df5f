// `spindle lab [list | NAME...] [--quick] [--json] [--report FILE] [--python PATH | --no-python]`: runs the seeds'
// demos (labs/*.cpp) and prints, per demo, a table of variants with the measured figure, the seed's and this machine's
// ideal.

#include <fmt/core.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "commands.hpp"
#include "spindle/lab/demo.hpp"
#include "spindle/lab/python.hpp"
#include "spindle/process/start_method.hpp"

namespace spindle::cli {
namespace {

struct LabArgs {
  std::vector<std::string> names;
  bool quick = false;
  bool json = false;
  std::string report;
  std::string python;  // --python PATH
  bool no_python = false;
};

// Where the CPython twins are: $SPINDLE_LAB_PYTHON_DIR, next to an installed tool, or in the source tree.
std::string twins_dir() {
  if (const char* env = std::getenv("SPINDLE_LAB_PYTHON_DIR"); env && *env) return env;
  std::error_code ec;
  const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const auto installed = exe.parent_path().parent_path() / "share" / "spindle" / "labs" / "python";
    if (std::filesystem::exists(installed / "labkit.py", ec)) return installed.string();
  }
  return SPINDLE_SOURCE_LAB_PYTHON_DIR;
}

// Runs a demo's CPython twin and puts its figures beside spindle's; a twin that fails says so in the
// demo's output (the C++ figures stand on their own).
void add_python(const spindle::lab::Demo& demo, spindle::lab::Result& result, const std::string& python,
                const std::string& dir, bool quick) {
  const std::string script = spindle::lab::twin_script(dir, demo.name);
  try {
    const auto twin =
        spindle::lab::run_twin(python, script, quick, quick ? std::chrono::seconds(120) : std::chrono::seconds(600));
    const auto unmatched = spindle::lab::merge_twin(result, twin);
    result.python = fmt::format("CPython here: Python {} ({}), twin {} ran in {:.1f} s", twin.version, python,
                                std::filesystem::path(script).filename().string(), twin.elapsed_s);
    for (const auto& variant : unmatched) result.python += fmt::format("; it reported '{}', no row here", variant);
  } catch (const std::exception& e) {
    result.python = fmt::format("CPython here: not measured: {}", e.what());
  }
}

std::string machine() {
  utsname u{};
  uname(&u);
  return fmt::format("Measured on {} {} ({}), {} cores", u.sysname, u.release, u.machine,
                     std::thread::hardware_concurrency());
}

void progress(std::size_t done, std::size_t total, const std::string& name) {
  const int width = 30;
  const int filled = total ? static_cast<int>(width * done / total) : width;
  fmt::print(stderr, "\r[{}{}] {}/{} {:<28}", std::string(static_cast<std::size_t>(filled), '#'),
             std::string(static_cast<std::size_t>(width - filled), '.'), done, total, name);
  std::fflush(stderr);
}

int run_lab(const LabArgs& args) {
  auto& all = spindle::lab::registry();
  if (args.names.size() == 1 && args.names[0] == "list") {
    for (const auto& d : all) fmt::print("{:24} seed {}  {}\n", d.name, d.seed, d.title);
    return 0;
  }
  std::vector<const spindle::lab::Demo*> chosen;
  for (const auto& name : args.names) {
    // A name selects the demo of that name, or every demo whose name starts with it ("002" runs seed 002's).
    bool any = false;
    for (const auto& d : all) {
      if (d.name == name || d.name.rfind(name + "-", 0) == 0 || d.name.rfind(name, 0) == 0) {
        chosen.push_back(&d);
        any = true;
      }
    }
    if (!any) {
      fmt::print(stderr, "spindle lab: unknown demo '{}' (see `spindle lab list`)\n", name);
      return 2;
    }
  }
  if (args.names.empty()) {
    for (const auto& d : all) chosen.push_back(&d);
  }
  // Start the process model's forkserver before any demo creates a thread: workers and Processes are
  // forked from it, never from a multi-threaded parent.
  spindle::process::init();
  const bool bar = isatty(2) != 0;
  spindle::lab::Options options;
  options.quick = args.quick;
  options.terminal = !args.json && isatty(1) != 0;
  options.out = args.json ? stderr : stdout;
  std::vector<std::pair<const spindle::lab::Demo*, spindle::lab::Result>> results;
  // The "CPython here" column: the interpreter asked for, else /usr/bin/python3 or python3 on PATH.
  std::optional<std::string> python;
  if (!args.no_python) {
    python = spindle::lab::find_python(args.python);
    if (!python && !args.python.empty()) {
      fmt::print(stderr, "spindle lab: --python {}: not an executable interpreter\n", args.python);
      return 2;
    }
  }
  const std::string dir = twins_dir();
  int rc = 0;
  for (std::size_t i = 0; i < chosen.size(); ++i) {
    const auto* demo = chosen[i];
    if (bar) progress(i, chosen.size(), demo->name);
    const auto start = std::chrono::steady_clock::now();
    spindle::lab::Result result;
    try {
      result = demo->run(options);
    } catch (const std::exception& e) {
      if (bar) fmt::print(stderr, "\r\033[K");
      fmt::print(stderr, "spindle lab: {} failed: {}\n", demo->name, e.what());
      rc = 1;
      continue;
    }
    if (python) {
      add_python(*demo, result, *python, dir, args.quick);
    } else if (!args.no_python) {
      result.python =
          "CPython here: not measured: no Python 3 interpreter found (install python3, or pass --python PATH)";
    }
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (bar) fmt::print(stderr, "\r\033[K");
    if (args.json) {
      fmt::print("{}\n", spindle::lab::render_json(*demo, result, elapsed));
    } else {
      fmt::print("{}", spindle::lab::render_text(*demo, result));
    }
    std::fflush(stdout);
    results.emplace_back(demo, std::move(result));
  }
  if (bar) fmt::print(stderr, "\r\033[K");
  if (!args.report.empty()) {
    std::ofstream out(args.report);
    out << spindle::lab::render_html(results, machine() + (args.quick ? " (--quick: scaled down)" : ""));
    if (!out) {
      fmt::print(stderr, "spindle lab: cannot write {}\n", args.report);
      return 1;
    }
    fmt::print(stderr, "spindle lab: report written to {}\n", args.report);
  }
  return rc;
}

const RegisterCommand register_lab([](CLI::App& app, int& rc) {
  auto args = std::make_shared<LabArgs>();
  auto* sub = app.add_subcommand("lab", "Run the seeds' demos as real experiments (`spindle lab list` lists them)");
  sub->add_option("names", args->names, "`list`, or demos to run (a prefix such as 002 selects several)");
  sub->add_flag("--quick", args->quick, "Scaled-down sizes: seconds in all (figures not comparable to the seed's)");
  sub->add_flag("--json", args->json, "One JSON object per demo");
  sub->add_option("--report", args->report, "Also write a self-contained HTML report with a chart per demo");
  sub->add_option("--python", args->python,
                  "The CPython to run each demo's twin with (default /usr/bin/python3, else python3 on PATH)");
  sub->add_flag("--no-python", args->no_python, "Do not run the CPython twins (no \"CPython here\" column)");
  sub->callback([args, &rc] { rc = run_lab(*args); });
});

}  // namespace
}  // namespace spindle::cli
