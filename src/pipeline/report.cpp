// Report: JSON, a table and a progress line.

#include "spindle/pipeline/report.hpp"

#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

namespace spindle::pipeline {

const char* to_string(State s) noexcept {
  switch (s) {
    case State::idle:
      return "idle";
    case State::running:
      return "running";
    case State::stopping:
      return "stopping";
    case State::completed:
      return "completed";
    case State::cancelled:
      return "cancelled";
    case State::failed:
      return "failed";
  }
  return "?";
}

std::uint64_t Report::items_done() const noexcept { return stages.empty() ? 0 : stages.back().items_out; }

std::string Report::to_json() const {
  nlohmann::json j;
  j["name"] = name;
  j["state"] = to_string(state);
  j["elapsed_s"] = elapsed_s;
  j["items_done"] = items_done();
  j["bottleneck"] = bottleneck;
  j["error"] = error;
  j["dead_letter_count"] = dead_letter_count;
  auto& st = j["stages"] = nlohmann::json::array();
  for (const auto& s : stages) {
    st.push_back({{"name", s.name},
                  {"kind", s.kind},
                  {"concurrency", s.concurrency},
                  {"items_in", s.items_in},
                  {"items_out", s.items_out},
                  {"failed", s.failed},
                  {"retried", s.retried},
                  {"dead_lettered", s.dead_lettered},
                  {"depth", s.depth},
                  {"peak_depth", s.peak_depth},
                  {"capacity", s.capacity},
                  {"depth_bytes", s.depth_bytes},
                  {"peak_bytes", s.peak_bytes},
                  {"capacity_bytes", s.capacity_bytes},
                  {"busy", s.busy},
                  {"blocked_put_s", s.blocked_put_s},
                  {"waiting_get_s", s.waiting_get_s},
                  {"blocked_now", s.blocked_now},
                  {"items_per_s", s.items_per_s},
                  {"latency_us",
                   {{"count", s.latency.count},
                    {"p50", s.latency.p50_us},
                    {"p95", s.latency.p95_us},
                    {"p99", s.latency.p99_us},
                    {"max", s.latency.max_us}}}});
  }
  auto& dl = j["dead_letters"] = nlohmann::json::array();
  for (const auto& d : dead_letters) dl.push_back({{"stage", d.stage}, {"what", d.what}});
  return j.dump();
}

std::string Report::str() const {
  std::string out;
  char line[320];
  std::snprintf(line, sizeof line, "%s: %s, %llu items in %.3f s, bottleneck: %s\n", name.c_str(), to_string(state),
                static_cast<unsigned long long>(items_done()), elapsed_s,
                bottleneck.empty() ? "-" : bottleneck.c_str());
  out += line;
  std::snprintf(line, sizeof line, "  %-12s %-8s %4s %10s %10s %7s %11s %6s %8s %8s %9s %9s\n", "stage", "kind", "conc",
                "in", "out", "failed", "depth/peak", "busy", "put_s", "get_s", "p50_us", "p99_us");
  out += line;
  for (const auto& s : stages) {
    char depth[48];
    std::snprintf(depth, sizeof depth, "%zu/%zu", s.depth, s.peak_depth);
    std::snprintf(line, sizeof line, "  %-12s %-8s %4zu %10llu %10llu %7llu %11s %5.1f%% %8.3f %8.3f %9.2f %9.2f\n",
                  s.name.c_str(), s.kind.c_str(), s.concurrency, static_cast<unsigned long long>(s.items_in),
                  static_cast<unsigned long long>(s.items_out), static_cast<unsigned long long>(s.failed), depth,
                  s.busy * 100.0, s.blocked_put_s, s.waiting_get_s, s.latency.p50_us, s.latency.p99_us);
    out += line;
  }
  if (!error.empty()) out += "  error: " + error + "\n";
  if (dead_letter_count != 0) out += "  dead letters: " + std::to_string(dead_letter_count) + "\n";
  return out;
}

std::string Report::progress_line() const {
  char line[256];
  const double rate = elapsed_s > 0 ? static_cast<double>(items_done()) / elapsed_s : 0.0;
  std::snprintf(line, sizeof line, "[%s] %s: %llu items, %.0f items/s, %.1f s, bottleneck %s, %llu dead letters",
                name.c_str(), to_string(state), static_cast<unsigned long long>(items_done()), rate, elapsed_s,
                bottleneck.empty() ? "-" : bottleneck.c_str(), static_cast<unsigned long long>(dead_letter_count));
  return line;
}

}  // namespace spindle::pipeline
