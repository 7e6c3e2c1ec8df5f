// `spindle bench [W1 W2 ...] [--variant V]... [--arg KEY=VALUE]... [--json] [--quick] [--list]`: runs the
// benchmark workloads of docs/bench.md. Each workload declares the variants and --arg keys it accepts; anything else is
// a usage error (exit 2) before any workload runs, so a typo never yields a figure for the wrong size.

#include <fmt/core.h>

#include <algorithm>
#include <string>
#include <vector>

#include "commands.hpp"
#include "compare.hpp"
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
  bool compare = false;
  int rounds = 3;
};

void list_workloads() {
  for (const auto& w : spindle::bench::registry()) {
    fmt::print("{:8} {}\n", w.id, w.summary);
    if (!w.variants.empty()) {
      std::string names;
      for (const auto& v : w.variants) names += (names.empty() ? "" : ", ") + v;
      fmt::print("{:8}   --variant: {}\n", "", names);
    }
    for (const auto& p : w.params) {
      std::string value = p.value.empty() ? p.name + "=" + (p.kind == spindle::bench::Param::Kind::port ? "PORT" : "V")
                                          : p.name + "=" + p.value;
      if (!p.quick.empty()) value += " (--quick: " + p.quick + ")";
      fmt::print("{:8}   --arg {:38} {}\n", "", value, p.help);
    }
    if (!w.peers.empty()) {
      std::string keys, peers;
      for (const auto& k : w.compare) keys += (keys.empty() ? "" : ", ") + k;
      for (const auto& p : w.peers) peers += (peers.empty() ? "" : ", ") + p.name + " (bench/" + p.script + ")";
      fmt::print("{:8}   --compare: {} against {}\n", "", keys, peers);
    }
  }
}

int run_bench(const BenchArgs& args) {
  auto& all = spindle::bench::registry();
  if (args.list) {
    list_workloads();
    return 0;
  }
  std::vector<const spindle::bench::Workload*> chosen;
  for (const auto& id : args.workloads) {
    const auto* w = spindle::bench::find_workload(id);
    if (w == nullptr) {
      std::string ids;
      for (const auto& x : all) ids += (ids.empty() ? "" : ", ") + x.id;
      fmt::print(stderr, "spindle bench: unknown workload '{}' (workloads: {})\n", id, ids);
      return 2;
    }
    if (std::find(chosen.begin(), chosen.end(), w) == chosen.end()) chosen.push_back(w);
  }
  if (args.workloads.empty()) {  // all, in id order, but the -x100 variants, which take minutes
    for (const auto& w : all) {  // (--compare: those with peers)
      if (w.id.find("-x") == std::string::npos && (!args.compare || !w.peers.empty())) chosen.push_back(&w);
    }
  }
  // Every workload's arguments are checked before the first one runs.
  std::vector<spindle::bench::Options> options;
  try {
    for (const auto* w : chosen)
      options.push_back(spindle::bench::resolve(*w, args.json, args.quick, args.variants, args.extra));
  } catch (const spindle::bench::UsageError& e) {
    fmt::print(stderr, "spindle bench: {}; see `spindle bench --list`\n", e.what());
    return 2;
  }
  if (args.compare) {
    return spindle::bench::compare(chosen, options, {.rounds = args.rounds, .json = args.json});
  }
  int rc = 0;
  for (std::size_t i = 0; i < chosen.size(); ++i) {
    const int r = chosen[i]->run(options[i]);
    if (r != 0) {
      fmt::print(stderr, "spindle bench: {} failed its self-check\n", chosen[i]->id);
      rc = r;
    }
  }
  return rc;
}

const RegisterCommand register_bench([](CLI::App& app, int& rc) {
  auto args = std::make_shared<BenchArgs>();
  auto* sub = app.add_subcommand("bench", "Run the benchmark workloads of docs/bench.md (default: all but -x100)");
  sub->add_option("workloads", args->workloads, "Workload ids (W1, W2, W2-x100, W9, ...)");
  sub->add_option("--variant", args->variants, "Only these modes/variants of the workloads (see --list)")
      ->allow_extra_args(false);  // one value per --variant: `--variant submit W7` leaves W7 a workload
  sub->add_option("--arg", args->extra, "KEY=VALUE: a workload's size or setting, repeatable (see --list)")
      ->allow_extra_args(false);
  sub->add_flag("--json", args->json, "One JSON object per line");
  sub->add_flag("--quick", args->quick, "Scaled-down sizes for smoke tests (figures not comparable)");
  sub->add_flag("--list", args->list, "List the workloads with their variants and --arg keys");
  auto* compare = sub->add_flag("--compare", args->compare,
                                "Run each workload and its peers (bench/peers/) interleaved; print medians and ratios");
  sub->add_option("--rounds", args->rounds, "--compare: rounds of spindle then each peer (default 3)")
      ->check(CLI::Range(1, 100))
      ->needs(compare);
  sub->callback([args, &rc] { rc = run_bench(*args); });
});

}  // namespace
}  // namespace spindle::cli
