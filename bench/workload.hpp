#pragma once
// The benchmark harness behind `spindle bench`: each workload of WORKLOADS.md registers itself here and
// reports one line per measurement: `ID key=value ...` (or a JSON object per line with --json).

#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdint>
#include <functional>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

namespace spindle::bench {

/// Options every workload sees.
struct Options {
  bool json = false;                  ///< JSON lines instead of key=value lines
  bool quick = false;                 ///< scaled down (tests, smoke runs); figures are then not comparable
  std::vector<std::string> variants;  ///< restrict to these modes/variants (empty: all)
  std::vector<std::string> args;      ///< workload-specific arguments (e.g. --serve PORT)
};

/// One measurement line.
class Line {
 public:
  explicit Line(std::string workload) : workload_(std::move(workload)) {}
  Line& add(std::string key, std::string value) {
    fields_.emplace_back(std::move(key), std::move(value));
    return *this;
  }
  Line& add(std::string key, const char* value) { return add(std::move(key), std::string(value)); }
  Line& add(std::string key, double value, int precision = 4);
  Line& add(std::string key, std::int64_t value);
  Line& add(std::string key, int value) { return add(std::move(key), static_cast<std::int64_t>(value)); }
  Line& add(std::string key, std::uint64_t value) { return add(std::move(key), static_cast<std::int64_t>(value)); }
  Line& add(std::string key, long long value) { return add(std::move(key), static_cast<std::int64_t>(value)); }
  /// Prints the line to stdout in the selected format.
  void emit(const Options& options) const;

 private:
  std::string workload_;
  std::vector<std::pair<std::string, std::string>> fields_;
};

/// A workload: returns 0 on success, non-zero if its self-check failed.
struct Workload {
  std::string id;
  std::string summary;
  std::function<int(const Options&)> run;
};

/// All registered workloads, sorted by id.
std::vector<Workload>& registry();

/// Registers a workload at static-initialisation time.
struct Register {
  Register(std::string id, std::string summary, std::function<int(const Options&)> run);
};

/// Seconds on the monotonic clock since some fixed point.
inline double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

/// Peak resident set size of this process in KiB.
inline long maxrss_kb() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

/// The workload's self-check: true if `got` is the expected sum; otherwise says so on stderr (a figure
/// from a wrong computation is not a figure).
inline bool sum_ok(const std::string& what, long long got, long long expected) {
  if (got == expected) return true;
  std::fprintf(stderr, "%s: wrong sum %lld, expected %lld\n", what.c_str(), got, expected);
  return false;
}

/// True if `variant` was selected (or no selection was made).
bool selected(const Options& options, const std::string& variant);

/// Prevents the compiler from optimising `value` away.
template <class T>
inline void do_not_optimize(T& value) {
  if constexpr (std::is_integral_v<T> || std::is_pointer_v<T>) {
    asm volatile("" : "+r"(value));  // keeps a scalar in a register: a barrier without a store per iteration
  } else {
    asm volatile("" : "+m"(value) : : "memory");
  }
}

}  // namespace spindle::bench
