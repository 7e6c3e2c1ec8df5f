// `spindle bench [W1 W2 ...] [--json] [--quick]`: runs the WORKLOADS.md workloads.

#include <fmt/core.h>

#include <algorithm>
#include <string>
#include <vector>

#include "commands.hpp"
#include "workload.hpp"

namespace spindle::cli {

std::vector<Command>& commands() {
  static std::vector<Command> list;
  return list;
}

namespace {

struct BenchArgs {
  std::vector<std::string> workloads;
  std::vector<std::string> variants;
  std::vector<std::string> extra;
  bool json = false;
  bool quick = false;
  bool list = false;
};

int run_bench(const BenchArgs& args) {
  auto& all = spindle::bench::registry();
  if (args.list) {
    for (const auto& w : all) fmt::print("{:8} {}\n", w.id, w.summary);
    return 0;
  }
  for (const auto& id : args.workloads) {
    if (std::none_of(all.begin(), all.end(), [&](const auto& w) { return w.id == id; })) {
      fmt::print(stderr, "spindle bench: unknown workload '{}' (see `spindle bench --list`)\n", id);
      return 2;
    }
  }
  spindle::bench::Options options{args.json, args.quick, args.variants, args.extra};
  int rc = 0;
  for (const auto& w : all) {
    const bool wanted = args.workloads.empty() ? w.id.find("-x") == std::string::npos
                                               : std::find(args.workloads.begin(), args.workloads.end(), w.id) !=
                                                     args.workloads.end();
    if (!wanted) continue;
    const int r = w.run(options);
    if (r != 0) {
      fmt::print(stderr, "spindle bench: {} failed its self-check\n", w.id);
      rc = r;
    }
  }
  return rc;
}

const RegisterCommand reg([](CLI::App& app, int& rc) {
  auto args = std::make_shared<BenchArgs>();
  auto* sub = app.add_subcommand("bench", "Run the benchmark workloads of WORKLOADS.md (default: all but -x100)");
  sub->add_option("workloads", args->workloads, "Workload ids (W1, W2, W2-x100, W9, ...)");
  sub->add_option("--variant", args->variants, "Only these modes/variants (e.g. threads2, submit)");
  sub->add_option("--arg", args->extra, "Workload-specific argument, repeatable");
  sub->add_flag("--json", args->json, "One JSON object per line");
  sub->add_flag("--quick", args->quick, "Scaled-down sizes for smoke tests (figures not comparable)");
  sub->add_flag("--list", args->list, "List the workloads");
  sub->callback([args, &rc] { rc = run_bench(*args); });
});

}  // namespace
}  // namespace spindle::cli
