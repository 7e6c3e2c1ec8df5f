#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <sstream>

#include "workload.hpp"

namespace spindle::bench {
namespace {

std::string join(const std::vector<std::string>& words) {
  std::string out;
  for (const auto& w : words) out += (out.empty() ? "" : ", ") + w;
  return out.empty() ? "none" : out;
}

std::vector<std::string> names(const std::vector<Param>& params) {
  std::vector<std::string> out;
  for (const auto& p : params) out.push_back(p.name);
  return out;
}

// Throws UsageError unless `value` is acceptable for `p`.
void check_value(const Workload& w, const Param& p, const std::string& value) {
  const auto bad = [&](const std::string& why) {
    throw UsageError(w.id + ": bad value '" + value + "' for --arg " + p.name + ": " + why);
  };
  if (p.kind == Param::Kind::choice) {
    if (std::find(p.choices.begin(), p.choices.end(), value) == p.choices.end()) {
      bad("expected one of " + join(p.choices));
    }
    return;
  }
  std::int64_t v = 0;
  const char* end = value.data() + value.size();
  const auto [ptr, ec] = std::from_chars(value.data(), end, v);
  if (value.empty() || ec == std::errc::invalid_argument || ptr != end) bad("not a whole number");
  const std::int64_t lo = p.kind == Param::Kind::port ? 0 : 1;
  const std::int64_t hi = p.kind == Param::Kind::port ? 65535 : p.max;
  if (ec == std::errc::result_out_of_range || v < lo || v > hi) {
    bad("expected " + std::to_string(lo) + " to " + std::to_string(hi));
  }
  if (p.kind == Param::Kind::count && v % p.multiple_of != 0) {
    bad("must be a multiple of " + std::to_string(p.multiple_of));
  }
}

}  // namespace

std::vector<Workload>& registry() {
  static std::vector<Workload> workloads;
  return workloads;
}

const Workload* find_workload(const std::string& id) {
  for (const auto& w : registry()) {
    if (w.id == id) return &w;
  }
  return nullptr;
}

Register::Register(Workload workload) {
  auto& r = registry();
  r.push_back(std::move(workload));
  std::sort(r.begin(), r.end(), [](const Workload& a, const Workload& b) { return a.id < b.id; });
}

Options resolve(const Workload& w, bool json, bool quick, const std::vector<std::string>& variants,
                const std::vector<std::string>& args) {
  for (const auto& v : variants) {
    if (std::find(w.variants.begin(), w.variants.end(), v) == w.variants.end()) {
      throw UsageError(w.id + ": unknown variant '" + v + "' (" +
                       (w.variants.empty() ? w.id + " has no variants" : "variants: " + join(w.variants)) + ")");
    }
  }
  Options options;
  options.json = json;
  options.quick = quick;
  options.variants = variants;
  for (const auto& p : w.params) options.args[p.name] = quick && !p.quick.empty() ? p.quick : p.value;
  for (const auto& a : args) {
    const auto eq = a.find('=');
    const std::string key = a.substr(0, eq);
    const auto p = std::find_if(w.params.begin(), w.params.end(), [&](const Param& q) { return q.name == key; });
    if (p == w.params.end()) {
      throw UsageError(w.id + ": unknown --arg '" + key + "' (" +
                       (w.params.empty() ? w.id + " takes none" : "keys: " + join(names(w.params))) + ")");
    }
    if (eq == std::string::npos) throw UsageError(w.id + ": --arg '" + a + "' needs a value: " + key + "=VALUE");
    const std::string value = a.substr(eq + 1);
    check_value(w, *p, value);
    options.args[key] = value;
  }
  return options;
}

std::int64_t Options::count(const std::string& key) const { return std::stoll(text(key)); }

const std::string& Options::text(const std::string& key) const {
  const auto it = args.find(key);
  // A workload asking for a key it did not declare is a bug in the workload, not a usage error.
  if (it == args.end()) throw std::logic_error("bench: undeclared --arg key '" + key + "'");
  return it->second;
}

Line& Line::add(std::string key, double value, int precision) {
  std::ostringstream out;
  out.setf(std::ios::fixed);
  out.precision(precision);
  out << value;
  return put(std::move(key), out.str(), Type::real);
}

Line& Line::add(std::string key, std::int64_t value) {
  return put(std::move(key), std::to_string(value), Type::integer);
}

std::string Line::text() const {
  std::string out = workload_;
  for (const auto& f : fields_) out += " " + f.key + "=" + f.value;
  return out;
}

std::string Line::json() const {
  nlohmann::ordered_json j;
  j["workload"] = workload_;
  for (const auto& f : fields_) {
    switch (f.type) {
      case Type::string:
        j[f.key] = f.value;
        break;
      case Type::integer:
        j[f.key] = std::stoll(f.value);
        break;
      // The figure as printed (rounded to its precision); NaN and infinities become null.
      case Type::real:
        j[f.key] = std::strtod(f.value.c_str(), nullptr);
        break;
    }
  }
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void Line::emit(const Options& options) const {
  std::puts((options.json ? json() : text()).c_str());
  std::fflush(stdout);
}

bool selected(const Options& options, const std::string& variant) {
  return options.variants.empty() ||
         std::find(options.variants.begin(), options.variants.end(), variant) != options.variants.end();
}

}  // namespace spindle::bench
