#pragma once
// The benchmark harness behind `spindle bench`: each workload of docs/bench.md registers itself here with the
// variants and `--arg` keys it accepts, and reports one line per measurement: `ID key=value ...` (or a JSON
// object per line with --json). docs/bench.md: "every workload takes its size as an argument ... and rejects
// arguments it does not know", so an unknown variant, key or a bad value is a UsageError before anything runs.

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "measure.hpp"

namespace spindle::bench {

/// One `--arg KEY=VALUE` a workload accepts.
struct Param {
  /// What a value may be.
  enum class Kind {
    count,   ///< an integer in [1, max] that is a multiple of `multiple_of` (a size: tasks, items, ...)
    port,    ///< a TCP port, 0 (any free one) to 65535
    choice,  ///< one of `choices`
  };
  std::string name{};                  ///< the key, e.g. "tasks"
  std::string help{};                  ///< one line for `spindle bench --list`
  std::string value{};                 ///< default ("" = unset unless given, e.g. serve=PORT)
  std::string quick{};                 ///< default under --quick ("" = the same as `value`)
  Kind kind = Kind::count;             ///< what a value may be
  std::int64_t max = 1'000'000'000;    ///< largest count (sums and buffers must not overflow)
  std::int64_t multiple_of = 1;        ///< a count must be a multiple of this (e.g. split between 2 consumers)
  std::vector<std::string> choices{};  ///< the values of a `choice`
};

/// A request that cannot be run as asked (unknown workload, variant, key or a bad value): exit status 2.
class UsageError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

/// Options every workload sees: the flags, and every declared `--arg` resolved (given, or its default).
struct Options {
  bool json = false;                        ///< JSON lines instead of key=value lines
  bool quick = false;                       ///< scaled down (tests, smoke runs); figures are then not comparable
  std::vector<std::string> variants;        ///< restrict to these modes/variants (empty: all)
  std::map<std::string, std::string> args;  ///< every declared key with its value ("" = unset)

  /// The value of a `count` key (validated by resolve()).
  std::int64_t count(const std::string& key) const;
  /// The value of any key as text ("" when unset).
  const std::string& text(const std::string& key) const;
};

/// One measurement line.
class Line {
 public:
  explicit Line(std::string workload) : workload_(std::move(workload)) {}
  Line& add(std::string key, std::string value) { return put(std::move(key), std::move(value), Type::string); }
  Line& add(std::string key, const char* value) { return add(std::move(key), std::string(value)); }
  Line& add(std::string key, double value, int precision = 4);
  Line& add(std::string key, std::int64_t value);
  Line& add(std::string key, int value) { return add(std::move(key), static_cast<std::int64_t>(value)); }
  Line& add(std::string key, std::uint64_t value) { return add(std::move(key), static_cast<std::int64_t>(value)); }
  Line& add(std::string key, long long value) { return add(std::move(key), static_cast<std::int64_t>(value)); }
  /// `ID key=value ...`
  std::string text() const;
  /// `{"workload":"ID","key":value,...}`: numbers as JSON numbers, strings escaped.
  std::string json() const;
  /// Prints the line to stdout in the selected format.
  void emit(const Options& options) const;

 private:
  enum class Type { string, integer, real };
  Line& put(std::string key, std::string value, Type type) {
    fields_.push_back({std::move(key), std::move(value), type});
    return *this;
  }
  struct Field {
    std::string key;
    std::string value;  // as printed in the text form
    Type type;
  };
  std::string workload_;
  std::vector<Field> fields_;
};

/// A competing implementation of a workload, run by `spindle bench --compare` in the same run: a script in
/// bench/peers/<dir>/ that takes the workload's `--arg KEY=VALUE`, `--variant V` and `--quick`, and prints lines
/// with the workload's keys (see docs/bench.md).
struct Peer {
  std::string name{};         ///< its `peer=` value, e.g. "python"
  std::string interpreter{};  ///< the program that runs the script, e.g. "/usr/bin/python3"; empty: a program
  std::string script{};       ///< the file under bench/peers/ (or share/spindle/bench/peers/ when installed)
  std::string install{};      ///< how to get it when it is missing, e.g. "apt install python3"
};

/// The Python peer of a workload: bench/peers/python/<file>, run with /usr/bin/python3.
Peer python_peer(const std::string& file);

/// A native peer: bench/peers/cpp/<file>.cpp, built (release builds, where `package` is installed) into the
/// build tree's bench/peers/cpp/<file>.
Peer native_peer(const std::string& name, const std::string& file, const std::string& package);

/// A workload: `run` returns 0 on success, non-zero if its self-check failed.
struct Workload {
  std::string id{};                          ///< "W1", "W2-x100", ...
  std::string summary{};                     ///< one line for --list
  std::vector<std::string> variants{};       ///< the names --variant accepts (empty: none)
  std::vector<Param> params{};               ///< the --arg keys it accepts
  std::function<int(const Options&)> run{};  ///< runs it
  std::vector<std::string> compare{};        ///< the keys `--compare` sets beside its peers' (e.g. "ns_per_task")
  std::vector<Peer> peers{};                 ///< the implementations it is compared with
  /// The variants `--compare` runs when none is asked for (empty: all): W10 leaves out the Python flows it runs
  /// itself (its Python peer runs them instead) and its memory check (no peer has one).
  std::vector<std::string> compare_variants{};
};

/// All registered workloads, sorted by id.
std::vector<Workload>& registry();

/// The workload with this id, or nullptr.
const Workload* find_workload(const std::string& id);

/// Checks `variants` and the raw `KEY=VALUE` args against what `workload` declares and resolves every key
/// (given value, else its --quick or plain default). Throws UsageError naming the bad word.
Options resolve(const Workload& workload, bool json, bool quick, const std::vector<std::string>& variants,
                const std::vector<std::string>& args);

/// Registers a workload at static-initialisation time.
struct Register {
  explicit Register(Workload workload);
};

/// True if `variant` was selected (or no selection was made).
bool selected(const Options& options, const std::string& variant);

}  // namespace spindle::bench
