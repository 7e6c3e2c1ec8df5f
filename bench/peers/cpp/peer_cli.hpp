#pragma once
// The command line and output of the native peers (bench/peers/cpp/w*.cpp), the C++ twin of
// bench/peers/python/peerkit.py: every peer takes the command line of `spindle bench` for its workload, so that
// `spindle bench --compare` runs it as it runs the Python peers, and prints what spindle's workload prints.
//
//   --arg KEY=VALUE   repeatable; only the keys the spindle workload declares, each a whole number in
//                     [1, max] and a multiple of `multiple_of` (as bench/registry.cpp checks them)
//   --variant V       repeatable; only these variants (none given: all of them)
//   --quick           the spindle workload's --quick sizes as defaults
//   --json            one JSON object per line instead of `ID key=value ...` (as spindle and peerkit.py)
//
// Anything else (an unknown key or variant, a missing `=`, a bad value, an unknown option) is a message on
// stderr and exit status 2, before anything runs. stdout carries the measurement lines only: one per
// measurement, `ID peer=NAME key=value ...`, reals in fixed notation with 4 decimals unless a key says
// otherwise, as spindle's bench::Line prints them, so that `--compare` matches a peer's line to spindle's row.

#include <sys/resource.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "measure.hpp"

namespace peer {

/// One `--arg` key: a count, as the spindle workload declares it (its default, --quick default and bounds).
struct Param {
  std::string name;
  std::int64_t value;                ///< default
  std::int64_t quick;                ///< default under --quick
  std::int64_t max = 1'000'000'000;  ///< largest accepted value (as bench::Param::max)
  std::int64_t multiple_of = 1;      ///< e.g. 2 when split between 2 consumers
  /// A key of spindle's own side (W6's `backend`: its loop's poller) that the peer accepts and ignores, with
  /// the values spindle accepts; `value`, `quick`, `max` and `multiple_of` do not apply.
  std::vector<std::string> ignored_choices{};
};

/// The resolved command line.
class Cli {
 public:
  /// Parses argv against the keys and variants of the spindle workload `workload`; exits 2 on a usage error.
  Cli(int argc, char** argv, std::string workload, std::vector<Param> params, std::vector<std::string> variants = {})
      : workload_(std::move(workload)), params_(std::move(params)), known_variants_(std::move(variants)) {
    std::vector<std::string> given;
    for (int i = 1; i < argc; ++i) {
      const std::string_view a = argv[i];
      // --arg X and --arg=X alike (argparse takes both).
      const auto value_of = [&](std::string_view option) -> std::string {
        if (a.size() > option.size() && a.substr(0, option.size()) == option && a[option.size()] == '=') {
          return std::string(a.substr(option.size() + 1));
        }
        if (i + 1 >= argc) usage_error("option " + std::string(option) + " needs a value");
        return argv[++i];
      };
      if (a == "--arg" || a.starts_with("--arg=")) {
        given.push_back(value_of("--arg"));
      } else if (a == "--variant" || a.starts_with("--variant=")) {
        variants_.push_back(value_of("--variant"));
      } else if (a == "--quick") {
        quick_ = true;
      } else if (a == "--json") {
        json_ = true;
      } else if (a == "-h" || a == "--help") {
        help(argv[0]);
        std::exit(0);
      } else {
        usage_error(workload_ + ": unknown option '" + std::string(a) + "'");
      }
    }
    for (const auto& v : variants_) {
      if (std::find(known_variants_.begin(), known_variants_.end(), v) == known_variants_.end()) {
        usage_error(workload_ + ": unknown variant '" + v + "' (" +
                    (known_variants_.empty() ? workload_ + " has no variants" : "variants: " + join(known_variants_)) +
                    ")");
      }
    }
    for (const auto& p : params_) values_.push_back(quick_ ? p.quick : p.value);
    for (const auto& a : given) set(a);
  }

  /// The value of the key `name` (given, or its default); a key the workload does not declare is a bug.
  std::int64_t operator[](std::string_view name) const {
    for (std::size_t i = 0; i < params_.size(); ++i) {
      if (params_[i].name == name) return values_[i];
    }
    std::fprintf(stderr, "%s: peer bug: undeclared key '%.*s'\n", workload_.c_str(), static_cast<int>(name.size()),
                 name.data());
    std::abort();
  }

  /// True if `variant` was asked for (or no --variant was given).
  bool selected(std::string_view variant) const {
    return variants_.empty() || std::find(variants_.begin(), variants_.end(), variant) != variants_.end();
  }

  const std::string& workload() const { return workload_; }
  bool json() const { return json_; }
  bool quick() const { return quick_; }

 private:
  [[noreturn]] static void usage_error(const std::string& message) {
    std::fprintf(stderr, "%s\n", message.c_str());
    std::exit(2);
  }

  static std::string join(const std::vector<std::string>& words) {
    std::string out;
    for (const auto& w : words) out += (out.empty() ? "" : ", ") + w;
    return out.empty() ? "none" : out;
  }

  void help(const char* self) const {
    std::vector<std::string> keys;
    for (const auto& p : params_) {
      keys.push_back(p.ignored_choices.empty() ? p.name + "=N (default " + std::to_string(p.value) + ")"
                                               : p.name + "=" + join(p.ignored_choices) + " (spindle's; ignored)");
    }
    std::printf(
        "usage: %s [--arg KEY=VALUE]... [--variant V]... [--quick] [--json]\n  %s native peer; keys: %s; "
        "variants: %s\n",
        self, workload_.c_str(), join(keys).c_str(), join(known_variants_).c_str());
  }

  // One `KEY=VALUE`, checked as bench/registry.cpp checks a count.
  void set(const std::string& a) {
    const auto eq = a.find('=');
    const std::string key = a.substr(0, eq);
    const auto p = std::find_if(params_.begin(), params_.end(), [&](const Param& q) { return q.name == key; });
    if (p == params_.end()) {
      std::vector<std::string> keys;
      for (const auto& q : params_) keys.push_back(q.name);
      usage_error(workload_ + ": unknown --arg '" + key + "' (" +
                  (keys.empty() ? workload_ + " takes none" : "keys: " + join(keys)) + ")");
    }
    if (eq == std::string::npos) usage_error(workload_ + ": --arg '" + a + "' needs a value: " + key + "=VALUE");
    const std::string value = a.substr(eq + 1);
    if (!p->ignored_choices.empty()) {
      if (std::find(p->ignored_choices.begin(), p->ignored_choices.end(), value) == p->ignored_choices.end())
        usage_error(workload_ + ": bad value '" + value + "' for --arg " + key + ": one of " +
                    join(p->ignored_choices));
      return;  // spindle's setting: nothing to do on this side
    }
    const auto bad = [&](const std::string& why) {
      usage_error(workload_ + ": bad value '" + value + "' for --arg " + key + ": " + why);
    };
    std::int64_t v = 0;
    const char* end = value.data() + value.size();
    const auto [ptr, ec] = std::from_chars(value.data(), end, v);
    if (value.empty() || ec == std::errc::invalid_argument || ptr != end) bad("not a whole number");
    if (ec == std::errc::result_out_of_range || v < 1 || v > p->max) bad("expected 1 to " + std::to_string(p->max));
    if (v % p->multiple_of != 0) bad("must be a multiple of " + std::to_string(p->multiple_of));
    values_[static_cast<std::size_t>(p - params_.begin())] = v;
  }

  std::string workload_;
  std::vector<Param> params_;
  std::vector<std::string> known_variants_;
  std::vector<std::int64_t> values_;
  std::vector<std::string> variants_;
  bool quick_ = false;
  bool json_ = false;
};

/// One measurement line: `Line(cli, "onetbb").add("items", n).add("seconds", s).emit()`.
class Line {
 public:
  Line(const Cli& cli, std::string peer) : cli_(cli) { add("peer", std::move(peer)); }

  Line& add(std::string key, std::string value) {
    fields_.push_back({std::move(key), std::move(value), false});
    return *this;
  }
  Line& add(std::string key, const char* value) { return add(std::move(key), std::string(value)); }
  Line& add(std::string key, std::int64_t value) {
    fields_.push_back({std::move(key), std::to_string(value), true});
    return *this;
  }
  Line& add(std::string key, int value) { return add(std::move(key), static_cast<std::int64_t>(value)); }
  Line& add(std::string key, long long value) { return add(std::move(key), static_cast<std::int64_t>(value)); }
  /// A real in fixed notation with `precision` decimals (as bench::Line::add and peerkit's Line.add).
  Line& add(std::string key, double value, int precision = 4) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", precision, value);
    // JSON: the figure as printed; NaN and infinities become null (as spindle's --json).
    fields_.push_back({std::move(key), buf, true, !std::isfinite(value)});
    return *this;
  }

  /// Prints the line to stdout and flushes, so that a later crash cannot lose it.
  void emit() const {
    std::string out;
    if (cli_.json()) {
      out = "{\"workload\":\"" + cli_.workload() + "\"";
      for (const auto& f : fields_) {
        out += ",\"" + f.key + "\":";
        out += f.null ? std::string("null") : f.number ? f.value : "\"" + f.value + "\"";
      }
      out += "}";
    } else {
      out = cli_.workload();
      for (const auto& f : fields_) out += " " + f.key + "=" + f.value;
    }
    std::puts(out.c_str());
    std::fflush(stdout);
  }

 private:
  struct Field {
    std::string key;
    std::string value;  // as printed; words without spaces, quotes or backslashes (keys and peer names)
    bool number;
    bool null = false;
  };
  const Cli& cli_;
  std::vector<Field> fields_;
};

// Timing, memory and the self-check as spindle's workloads do them.
using spindle::bench::maxrss_kb;
using spindle::bench::now_s;
using spindle::bench::sum_ok;

}  // namespace peer
