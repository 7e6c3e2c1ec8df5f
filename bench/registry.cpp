#include <algorithm>
#include <cstdio>
#include <sstream>

#include "workload.hpp"

namespace spindle::bench {

std::vector<Workload>& registry() {
  static std::vector<Workload> workloads;
  return workloads;
}

Register::Register(std::string id, std::string summary, std::function<int(const Options&)> run) {
  auto& r = registry();
  r.push_back({std::move(id), std::move(summary), std::move(run)});
  std::sort(r.begin(), r.end(), [](const Workload& a, const Workload& b) { return a.id < b.id; });
}

Line& Line::add(std::string key, double value, int precision) {
  std::ostringstream out;
  out.setf(std::ios::fixed);
  out.precision(precision);
  out << value;
  return add(std::move(key), out.str());
}

Line& Line::add(std::string key, std::int64_t value) { return add(std::move(key), std::to_string(value)); }

void Line::emit(const Options& options) const {
  std::string out;
  if (options.json) {
    out = "{\"workload\":\"" + workload_ + "\"";
    for (const auto& [k, v] : fields_) {
      const bool numeric = !v.empty() && v.find_first_not_of("0123456789.-") == std::string::npos;
      out += ",\"" + k + "\":" + (numeric ? v : "\"" + v + "\"");
    }
    out += "}";
  } else {
    out = workload_;
    for (const auto& [k, v] : fields_) out += " " + k + "=" + v;
  }
  std::puts(out.c_str());
  std::fflush(stdout);
}

bool selected(const Options& options, const std::string& variant) {
  return options.variants.empty() ||
         std::find(options.variants.begin(), options.variants.end(), variant) != options.variants.end();
}

}  // namespace spindle::bench
