// `spindle advise [--json] [--interval MS] -- CMD ARGS...`: runs a program, samples its threads from /proc
// and says whether it is CPU-bound, I/O-bound, mixed or lock-capped, and what to use. Exits with the
// program's exit status (127 when it cannot be started), as `time` does; a usage error exits with 2.

#include <fmt/core.h>

#include <nlohmann/json.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "commands.hpp"
#include "spindle/advisor/measure.hpp"

namespace spindle::cli {
namespace {

constexpr const char* kUsage = "usage: spindle advise [options] -- CMD ARGS...";

struct AdviseArgs {
  std::vector<std::string> command;
  bool json = false;
  int interval_ms = 10;
  int cores = 0;
};

int run_advise(const AdviseArgs& args) {
  if (args.command.empty()) {
    fmt::print(stderr, "spindle advise: no command given\n{}\n", kUsage);
    return 2;
  }
  spindle::advisor::MeasureOptions options;
  options.interval = std::chrono::milliseconds(args.interval_ms);
  options.cores = args.cores;
  try {
    const auto report = spindle::advisor::measure_command(args.command, options);
    if (args.json) {
      fmt::print("{}\n", spindle::advisor::to_json(report));
    } else {
      fmt::print("{}", spindle::advisor::to_text(report));
    }
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

const RegisterCommand reg([](CLI::App& app, int& rc) {
  auto args = std::make_shared<AdviseArgs>();
  auto* sub = app.add_subcommand("advise", "Run a program and tell whether it is I/O-bound, CPU-bound, mixed or "
                                           "lock-capped, and which model (processes, threads, async) to use");
  sub->add_flag("--json", args->json, "One JSON object instead of text");
  sub->add_option("--interval", args->interval_ms, "Sampling period in milliseconds (default 10)")
      ->check(CLI::Range(1, 60'000));
  sub->add_option("--cores", args->cores, "Judge parallelism against this many cores (default: those available)")
      ->check(CLI::Range(1, 65'536));
  // Not required() here: a missing command gets the usage line from run_advise, not CLI11's "required".
  sub->add_option("command", args->command, "The program and its arguments (after --)");
  sub->footer(std::string(kUsage) + "  (the command and its own options go after --)");
  sub->callback([args, &rc] { rc = run_advise(*args); });
});

}  // namespace
}  // namespace spindle::cli
