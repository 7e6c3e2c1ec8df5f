#pragma once
// `spindle bench --compare`: each workload and its peers (bench/peers/) run interleaved, round after round
// (spindle, peer, spindle, peer, ...), each side in a process of its own (`spindle bench W..` for spindle's), so
// that a machine's drift hits both sides alike and no run inherits another's heap; then, per variant and
// compared key, each side's median with its range and how many times better spindle's median is. Absolute
// figures do not travel between machines; ratios measured side by side do.

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "workload.hpp"

namespace spindle::bench {

/// One measurement line read back: `ID key=value ...`.
struct Record {
  std::string workload;                                     ///< "W7"
  std::vector<std::pair<std::string, std::string>> fields;  ///< in order, as printed

  /// The value of `key`, or nullptr.
  const std::string* get(const std::string& key) const;
  /// The value of `key` as a number, if it is one.
  std::optional<double> number(const std::string& key) const;
};

/// Parses a text line; nullopt unless it is `ID key=value ...` with at least one field.
std::optional<Record> parse_record(std::string_view text);

/// What makes a line one row of a comparison: its non-numeric fields other than `peer` (variant, mode,
/// heap, ...), as "key=value" words in order.
std::vector<std::string> identity(const Record& record);

/// True if a peer's line measured what spindle's did: every word of the peer's identity is in spindle's
/// (so a peer without spindle's `heap=` matches both of spindle's heap rows).
bool same_row(const std::vector<std::string>& peer, const std::vector<std::string>& spindle);

/// True if more of `key` is better (rates: `per_s`, `MiB_per_s`, ...; `speedup`); false for times and sizes.
bool higher_is_better(const std::string& key);

/// A side's figures over the rounds.
struct Summary {
  double median = 0;
  double min = 0;
  double max = 0;
  std::size_t n = 0;
};

/// Median (the mean of the middle two for an even count), minimum and maximum; n = 0 for no values.
Summary summarize(std::vector<double> values);

/// How many times better `spindle` is than `peer` for `key` (> 1: spindle is better); 0 if undefined.
double advantage(const std::string& key, double spindle, double peer);

/// Where a file under bench/ is: beside an installed `spindle` (../share/spindle/bench/), in the source tree
/// this binary was built from, or under the configured install prefix. Empty if none exists.
std::string bench_file(const std::string& relative);

/// Runs `command` with /bin/sh and returns what it printed on stdout; `status` is its exit status (128 + the
/// signal if one ended it, -1 if it could not be started).
std::string capture(const std::string& command, int& status);

/// How `--compare` runs.
struct CompareOptions {
  int rounds = 3;     ///< rounds of spindle then each peer
  bool json = false;  ///< one JSON object per compared figure
};

/// Runs `workloads` (with their resolved `options`) against their peers and prints the comparison.
/// Returns 0, or 1 if a self-check or a peer failed (the others still run).
int compare(const std::vector<const Workload*>& workloads, const std::vector<Options>& options,
            const CompareOptions& how);

}  // namespace spindle::bench
