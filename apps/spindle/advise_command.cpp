// `spindle advise [--json] [--interval MS] -- CMD ARGS...`: runs a program, samples its threads from /proc
// and says whether it is CPU-bound, I/O-bound, mixed or lock-capped, and what to use. Exits with the
// program's exit status (127 when it cannot be started), as `time` does; a usage error exits with 2.
// `spindle advise --pid PID [--duration 10s]` measures a running process in place (exit 1 if it cannot).

#include <fmt/core.h>

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "commands.hpp"
#include "spindle/advisor/measure.hpp"

namespace spindle::cli {
namespace {

constexpr const char* kUsage =
    "usage: spindle advise [options] -- CMD ARGS...  |  spindle advise --pid PID [--duration 10s] [options]";

struct AdviseArgs {
  std::vector<std::string> command;
  bool json = false;
  int interval_ms = 10;
  int cores = 0;
  int pid = 0;
  std::string duration = "10s";
  std::string report_file;  // --report FILE.html
};

/// "10s", "500ms", "2.5" (seconds) -> milliseconds; -1 if it is not a duration.
long long parse_duration_ms(const std::string& text) {
  std::size_t used = 0;
  double value = 0;
  try {
    value = std::stod(text, &used);
  } catch (...) {
    return -1;
  }
  const std::string unit = text.substr(used);
  double ms = 0;
  if (unit.empty() || unit == "s") {
    ms = value * 1000;
  } else if (unit == "ms") {
    ms = value;
  } else if (unit == "m" || unit == "min") {
    ms = value * 60'000;
  } else {
    return -1;
  }
  if (!(ms >= 1 && ms <= 86'400'000)) return -1;
  return static_cast<long long>(ms);
}

int print(const AdviseArgs& args, const spindle::advisor::Report& report) {
  if (!args.report_file.empty()) {
    std::FILE* f = std::fopen(args.report_file.c_str(), "w");
    const std::string html = spindle::advisor::to_html(report);
    if (f == nullptr || std::fwrite(html.data(), 1, html.size(), f) != html.size()) {
      if (f != nullptr) std::fclose(f);
      fmt::print(stderr, "spindle advise: cannot write the report to {}\n", args.report_file);
      return 1;
    }
    std::fclose(f);
  }
  if (args.json) {
    fmt::print("{}\n", spindle::advisor::to_json(report));
  } else {
    fmt::print("{}", spindle::advisor::to_text(report));
  }
  return 0;
}

int run_attach(const AdviseArgs& args) {
  if (!args.command.empty()) {
    fmt::print(stderr, "spindle advise: --pid measures a running process; give no command with it\n{}\n", kUsage);
    return 2;
  }
  const long long ms = parse_duration_ms(args.duration);
  if (ms < 0) {
    fmt::print(stderr, "spindle advise: --duration {}: not a duration (10s, 500ms, 2m)\n", args.duration);
    return 2;
  }
  spindle::advisor::MeasureOptions options;
  options.interval = std::chrono::milliseconds(args.interval_ms);
  options.cores = args.cores;
  try {
    return print(args, spindle::advisor::measure_pid(args.pid, std::chrono::milliseconds(ms), options));
  } catch (const spindle::advisor::AttachError& e) {
    fmt::print(stderr, "spindle advise: {}\n", e.what());
    return 1;
  }
}

int run_advise(const AdviseArgs& args) {
  if (args.pid != 0) return run_attach(args);
  if (args.command.empty()) {
    fmt::print(stderr, "spindle advise: no command given\n{}\n", kUsage);
    return 2;
  }
  spindle::advisor::MeasureOptions options;
  options.interval = std::chrono::milliseconds(args.interval_ms);
  options.cores = args.cores;
  try {
    const auto report = spindle::advisor::measure_command(args.command, options);
    if (print(args, report) != 0) return 1;
    return report.exit_code;
  } catch (const spindle::advisor::LaunchError& e) {
    if (args.json) {
      const nlohmann::ordered_json error = {{"error", "launch"}, {"message", e.what()}};
      fmt::print("{}\n", error.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    }
    fmt::print(stderr, "spindle advise: {}\n", e.what());
    return 127;
  }
}

const RegisterCommand register_advise([](CLI::App& app, int& rc) {
  auto args = std::make_shared<AdviseArgs>();
  auto* sub = app.add_subcommand("advise",
                                 "Run a program and tell whether it is I/O-bound, CPU-bound, mixed or "
                                 "lock-capped, and which model (processes, threads, async) to use");
  sub->add_flag("--json", args->json, "One JSON object instead of text");
  sub->add_option("--interval", args->interval_ms, "Sampling period in milliseconds (default 10)")
      ->check(CLI::Range(1, 60'000));
  sub->add_option("--cores", args->cores, "Judge parallelism against this many cores (default: those available)")
      ->check(CLI::Range(1, 65'536));
  sub->add_option("--pid", args->pid, "Measure this running process (and its children) in place, without a command")
      ->check(CLI::Range(1, 1 << 30));
  sub->add_option("--duration", args->duration, "With --pid: how long to sample (10s, 500ms, 2m; default 10s)");
  sub->add_option("--report", args->report_file, "Also write an HTML page with the timeline chart to this file");
  // Not required() here: a missing command gets the usage line from run_advise, not CLI11's "required".
  sub->add_option("command", args->command, "The program and its arguments (after --)");
  sub->footer(std::string(kUsage) + "  (the command and its own options go after --)");
  sub->callback([args, &rc] { rc = run_advise(*args); });
});

}  // namespace
}  // namespace spindle::cli
