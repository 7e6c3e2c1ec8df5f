#include "compare.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "floors.hpp"

namespace spindle::bench {
namespace {

bool is_number(const std::string& value, double& out) {
  if (value.empty()) return false;
  char* end = nullptr;
  out = std::strtod(value.c_str(), &end);
  return end == value.c_str() + value.size();
}

std::string quote(const std::string& word) {
  std::string out = "'";
  for (const char c : word) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// Four significant digits, never an exponent for the sizes figures have.
std::string figure(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, v >= 1000 || v <= -1000 ? "%.0f" : "%.4g", v);
  return buf;
}

// One side's run: its lines, or why it gave none.
struct Run {
  std::vector<Record> records;
  std::string error;
};

// Runs `program` (already quoted) with the workload's resolved command line: every size, the variants, --quick.
Run run_side(const Workload& w, const std::string& program, const Options& options) {
  std::string cmd = program;
  for (const auto& [key, value] : options.args) {
    if (!value.empty()) cmd += " --arg " + quote(key + "=" + value);
  }
  for (const auto& v : options.variants) cmd += " --variant " + quote(v);
  if (options.quick) cmd += " --quick";
  Run run;
  int status = 0;
  const std::string out = capture(cmd, status);
  std::istringstream lines(out);
  std::string line;
  while (std::getline(lines, line)) {
    auto r = parse_record(line);
    if (r && r->workload == w.id) run.records.push_back(std::move(*r));
  }
  if (status != 0) {
    run.error = status < 0 ? "cannot run " + cmd : "exited with status " + std::to_string(status);
  } else if (run.records.empty()) {
    run.error = "printed no " + w.id + " line";
  }
  return run;
}

// One compared figure: a row (identity) and a key, with every side's values over the rounds.
struct Figure {
  std::vector<std::string> row;
  std::string key;
  std::string spindle_peer;
  std::vector<double> spindle;
  std::map<std::string, std::vector<double>> peers;  // by peer name
  std::map<std::string, std::string> scaled_from;    // by peer name, when the peer ran a smaller size
};

std::string join(const std::vector<std::string>& words, const char* sep) {
  std::string out;
  for (const auto& w : words) out += (out.empty() ? "" : sep) + w;
  return out;
}

void print_figure(const Workload& w, const Figure& f, const CompareOptions& how, const Floors& floors) {
  const bool higher = higher_is_better(f.key);
  const Summary s = summarize(f.spindle);
  // A byte rate as a share of this machine's memcpy (0 when the figure is no byte rate).
  const double of_memcpy =
      f.key == "MiB_per_s" && floors.memcpy_GBps > 0 ? s.median * 1048576.0 / (floors.memcpy_GBps * 1e9) : 0;
  if (how.json) {
    nlohmann::ordered_json j;
    j["workload"] = w.id;
    nlohmann::ordered_json row = nlohmann::ordered_json::object();
    for (const auto& word : f.row) {
      const auto eq = word.find('=');
      row[word.substr(0, eq)] = word.substr(eq + 1);
    }
    j["row"] = row;
    j["key"] = f.key;
    j["better"] = higher ? "higher" : "lower";
    j["rounds"] = how.rounds;
    j["spindle"] = {{"peer", f.spindle_peer}, {"median", s.median}, {"min", s.min}, {"max", s.max}, {"n", s.n}};
    if (of_memcpy > 0) j["spindle"]["of_memcpy"] = of_memcpy;
    j["peers"] = nlohmann::ordered_json::array();
    for (const auto& [name, values] : f.peers) {
      const Summary p = summarize(values);
      nlohmann::ordered_json o = {{"peer", name}, {"median", p.median}, {"min", p.min}, {"max", p.max}, {"n", p.n}};
      o["spindle_advantage"] = advantage(f.key, s.median, p.median);
      if (const auto it = f.scaled_from.find(name); it != f.scaled_from.end()) o["scaled_from"] = it->second;
      j["peers"].push_back(o);
    }
    std::puts(j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
    std::fflush(stdout);
    return;
  }
  std::string text = w.id;
  if (!f.row.empty()) text.append(" ").append(join(f.row, " "));
  text.append(" ").append(f.key).append(higher ? " (higher is better): " : " (lower is better): ");
  text.append(f.spindle_peer).append(" ").append(figure(s.median));
  text.append(" [").append(figure(s.min)).append("-").append(figure(s.max)).append("]");
  if (of_memcpy > 0) text.append(" (").append(figure(100 * of_memcpy)).append("% of memcpy)");
  if (f.peers.empty()) text += " | no peer measured this";
  for (const auto& [name, values] : f.peers) {
    const Summary p = summarize(values);
    text += " | " + name + " " + figure(p.median) + " [" + figure(p.min) + "-" + figure(p.max) + "]";
    const double a = advantage(f.key, s.median, p.median);
    if (a > 0) text += " spindle " + figure(a) + "x";
    if (const auto it = f.scaled_from.find(name); it != f.scaled_from.end())
      text += " (peer scaled from " + it->second + ")";
  }
  std::puts(text.c_str());
  std::fflush(stdout);
}

}  // namespace

const std::string* Record::get(const std::string& key) const {
  for (const auto& [k, v] : fields) {
    if (k == key) return &v;
  }
  return nullptr;
}

std::optional<double> Record::number(const std::string& key) const {
  const auto* v = get(key);
  double out = 0;
  if (v == nullptr || !is_number(*v, out)) return std::nullopt;
  return out;
}

std::optional<Record> parse_record(std::string_view text) {
  std::istringstream words{std::string(text)};
  Record r;
  if (!(words >> r.workload) || r.workload.find('=') != std::string::npos) return std::nullopt;
  std::string word;
  while (words >> word) {
    const auto eq = word.find('=');
    if (eq == std::string::npos || eq == 0) return std::nullopt;
    r.fields.emplace_back(word.substr(0, eq), word.substr(eq + 1));
  }
  if (r.fields.empty()) return std::nullopt;
  return r;
}

std::vector<std::string> identity(const Record& record) {
  std::vector<std::string> out;
  for (const auto& [k, v] : record.fields) {
    double ignored = 0;
    if (k != "peer" && k != "scaled_from" && !is_number(v, ignored)) out.push_back(k + "=" + v);
  }
  return out;
}

bool same_row(const std::vector<std::string>& peer, const std::vector<std::string>& spindle) {
  return std::all_of(peer.begin(), peer.end(), [&](const std::string& w) {
    return std::find(spindle.begin(), spindle.end(), w) != spindle.end();
  });
}

bool higher_is_better(const std::string& key) {
  return key == "speedup" || key == "per_s" || (key.size() > 6 && key.ends_with("_per_s"));
}

Summary summarize(std::vector<double> values) {
  Summary s;
  s.n = values.size();
  if (values.empty()) return s;
  std::sort(values.begin(), values.end());
  const std::size_t mid = values.size() / 2;
  s.median = values.size() % 2 ? values[mid] : (values[mid - 1] + values[mid]) / 2;
  s.min = values.front();
  s.max = values.back();
  return s;
}

double advantage(const std::string& key, double spindle, double peer) {
  if (!(spindle > 0) || !(peer > 0)) return 0;
  return higher_is_better(key) ? spindle / peer : peer / spindle;
}

std::string bench_file(const std::string& relative) {
  std::vector<std::filesystem::path> candidates;
  std::error_code ec;
  const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) candidates.push_back(exe.parent_path().parent_path() / "share/spindle/bench" / relative);
#ifdef SPINDLE_SOURCE_DIR
  candidates.push_back(std::filesystem::path(SPINDLE_SOURCE_DIR "/bench") / relative);
#endif
#ifdef SPINDLE_BINARY_DIR
  candidates.push_back(std::filesystem::path(SPINDLE_BINARY_DIR "/bench") / relative);
#endif
#ifdef SPINDLE_INSTALL_DATADIR
  candidates.push_back(std::filesystem::path(SPINDLE_INSTALL_DATADIR "/bench") / relative);
#endif
  for (const auto& c : candidates) {
    if (std::filesystem::is_regular_file(c, ec)) return c.string();
  }
  return {};
}

std::string capture(const std::string& command, int& status) {
  std::FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) {
    status = -1;
    return {};
  }
  std::string out;
  char buf[4096];
  while (std::fgets(buf, sizeof buf, pipe) != nullptr) out += buf;
  const int raw = ::pclose(pipe);
  status = raw < 0 ? -1 : WIFEXITED(raw) ? WEXITSTATUS(raw) : 128 + WTERMSIG(raw);
  return out;
}

Peer python_peer(const std::string& file) {
  return Peer{.name = "python",
              .interpreter = "/usr/bin/python3",
              .script = "peers/python/" + file,
              .install = "apt install python3 (scripts/install-deps.sh installs it)"};
}

Peer native_peer(const std::string& name, const std::string& file, const std::string& package) {
  return Peer{.name = name,
              .interpreter = "",
              .script = "peers/cpp/" + file,
              .install = "not built: it needs " + package +
                         " (scripts/install-deps.sh --peers), a release build, and `cmake --preset release` again"};
}

int compare(const std::vector<const Workload*>& workloads, const std::vector<Options>& options,
            const CompareOptions& how) {
  int rc = 0;
  const Floors floors = measure_floors();
  if (how.json) {
    nlohmann::ordered_json j;
    j["floors"] = {{"memcpy_GBps", floors.memcpy_GBps},
                   {"wake_rtt_us", floors.wake_rtt_us},
                   {"fork_wait_us", floors.fork_wait_us},
                   {"page_touch_us", floors.page_touch_us}};
    std::puts(j.dump().c_str());
  } else {
    std::printf(
        "floors (this machine, this run): memcpy of 10 MiB %s GB/s | thread hand-off round trip (atomic wait/notify) "
        "%s us | "
        "fork+exit+wait %s us | first touch of a fresh page %s us\n",
        figure(floors.memcpy_GBps).c_str(), figure(floors.wake_rtt_us).c_str(), figure(floors.fork_wait_us).c_str(),
        figure(floors.page_touch_us).c_str());
  }
  std::fflush(stdout);
  for (std::size_t i = 0; i < workloads.size(); ++i) {
    const Workload& w = *workloads[i];
    if (w.peers.empty() || w.compare.empty()) {
      std::fprintf(stderr, "%s: no peer to compare with yet; skipped (`spindle bench %s` runs it alone)\n",
                   w.id.c_str(), w.id.c_str());
      continue;
    }
    std::vector<std::pair<const Peer*, std::string>> peers;  // with their scripts' paths
    for (const auto& p : w.peers) {
      const std::string script = bench_file(p.script);
      if (p.interpreter.empty()) {
        if (script.empty() || ::access(script.c_str(), X_OK) != 0) {
          std::fprintf(stderr, "%s %s: skipped: %s\n", w.id.c_str(), p.name.c_str(), p.install.c_str());
        } else {
          peers.emplace_back(&p, script);
        }
      } else if (::access(p.interpreter.c_str(), X_OK) != 0) {
        std::fprintf(stderr, "%s %s: skipped: %s not found (%s)\n", w.id.c_str(), p.name.c_str(), p.interpreter.c_str(),
                     p.install.c_str());
      } else if (script.empty()) {
        std::fprintf(stderr, "%s %s: skipped: bench/%s not found\n", w.id.c_str(), p.name.c_str(), p.script.c_str());
      } else {
        peers.emplace_back(&p, script);
      }
    }
    // spindle's side runs in a process of its own too, as each peer does: a workload's peak memory (W3's
    // bytes per task) is per process, and one run before it in the same process would hide it.
    std::error_code ec;
    const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
    const std::string spindle = quote(ec ? std::string("spindle") : self.string()) + " bench " + quote(w.id);
    Options resolved = options[i];
    if (resolved.variants.empty()) resolved.variants = w.compare_variants;
    std::vector<Record> ours;
    std::map<std::string, std::vector<Record>> theirs;
    for (int round = 1; round <= how.rounds; ++round) {
      std::fprintf(stderr, "%s round %d/%d: spindle", w.id.c_str(), round, how.rounds);
      for (const auto& [p, script] : peers) std::fprintf(stderr, ", %s", p->name.c_str());
      std::fprintf(stderr, "\n");
      Run mine = run_side(w, spindle, resolved);
      if (!mine.error.empty()) {
        std::fprintf(stderr, "%s: spindle's run failed: %s\n", w.id.c_str(), mine.error.c_str());
        rc = 1;
      }
      for (auto& r : mine.records) ours.push_back(std::move(r));
      for (const auto& [p, script] : peers) {
        const std::string program =
            p->interpreter.empty() ? quote(script) : quote(p->interpreter) + " " + quote(script);
        Run run = run_side(w, program, resolved);
        if (!run.error.empty()) {
          std::fprintf(stderr, "%s %s: the peer failed: %s\n", w.id.c_str(), p->name.c_str(), run.error.c_str());
          rc = 1;
        }
        auto& all = theirs[p->name];
        for (auto& r : run.records) all.push_back(std::move(r));
      }
    }
    // The rows are spindle's, in the order it printed them; each compared key it reports is one figure.
    std::vector<Figure> figures;
    for (const auto& r : ours) {
      const auto* who = r.get("peer");
      if (who == nullptr || !who->starts_with("spindle")) continue;  // a peer a workload runs itself (W10)
      const auto row = identity(r);
      for (const auto& key : w.compare) {
        const auto v = r.number(key);
        if (!v) continue;
        auto f =
            std::find_if(figures.begin(), figures.end(), [&](const Figure& x) { return x.row == row && x.key == key; });
        if (f == figures.end()) {
          Figure added;
          added.row = row;
          added.key = key;
          added.spindle_peer = *who;
          figures.push_back(std::move(added));
          f = figures.end() - 1;
        }
        f->spindle.push_back(*v);
      }
    }
    for (auto& f : figures) {
      for (const auto& [name, records] : theirs) {
        for (const auto& r : records) {
          const auto v = r.number(f.key);
          if (!v || !same_row(identity(r), f.row)) continue;
          f.peers[name].push_back(*v);
          if (const auto* from = r.get("scaled_from")) f.scaled_from[name] = *from;
        }
      }
      print_figure(w, f, how, floors);
    }
  }
  return rc;
}

}  // namespace spindle::bench
