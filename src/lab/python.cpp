#include "spindle/lab/python.hpp"

#include <unistd.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "spindle/aio/run.hpp"
#include "spindle/aio/subprocess.hpp"
#include "spindle/aio/timeout.hpp"
#include "spindle/core/errors.hpp"

namespace spindle::lab {
namespace {

bool executable(const std::string& path) { return !path.empty() && ::access(path.c_str(), X_OK) == 0; }

struct ChildRun {
  aio::CommunicateResult out;
  bool timed_out = false;
};

// The child under a deadline. No co_await in a catch handler (C++ forbids it): the timeout is noted, then
// the child is killed and reaped after the handler.
aio::Task<ChildRun> run_child(std::vector<std::string> argv, std::chrono::seconds timeout) {
  aio::SubprocessOptions options;
  options.stdin_ = aio::Redirect::devnull;
  options.stdout_ = aio::Redirect::pipe;
  options.stderr_ = aio::Redirect::pipe;
  aio::Process child = co_await aio::create_subprocess_exec(std::move(argv), options);
  ChildRun run;
  try {
    run.out = co_await aio::wait_for(child.communicate(), timeout);
  } catch (const TimeoutError&) {
    run.timed_out = true;
  }
  if (run.timed_out) {
    child.kill();
    co_await child.wait();
  }
  co_return run;
}

// The last few lines of a child's stderr, for an error message.
std::string tail(const std::string& text, std::size_t lines = 6) {
  std::size_t pos = text.size();
  while (pos > 0 && (text[pos - 1] == '\n' || text[pos - 1] == ' ')) --pos;
  const std::size_t end = pos;
  for (std::size_t n = 0; pos > 0 && n < lines; --pos) {
    if (text[pos - 1] == '\n' && ++n == lines) break;
  }
  return text.substr(pos, end - pos);
}

double number_or_none(const nlohmann::json& v) { return v.is_number() ? v.get<double>() : kNone; }

// "CPython: " before a twin's remark, unless it already names CPython.
std::string cpython(const std::string& remark) {
  return remark.rfind("CPython", 0) == 0 ? remark : "CPython: " + remark;
}

}  // namespace

std::optional<std::string> find_python(const std::string& requested) {
  if (!requested.empty()) {
    if (requested.find('/') == std::string::npos) {
      // A bare name: look it up on PATH, as a shell would.
      const char* path = std::getenv("PATH");
      std::string dirs = path ? path : "/usr/bin:/bin";
      for (std::size_t start = 0; start <= dirs.size();) {
        const std::size_t colon = std::min(dirs.find(':', start), dirs.size());
        const std::string candidate = dirs.substr(start, colon - start) + "/" + requested;
        if (executable(candidate)) return candidate;
        start = colon + 1;
      }
      return std::nullopt;
    }
    return executable(requested) ? std::optional<std::string>(requested) : std::nullopt;
  }
  if (executable("/usr/bin/python3")) return std::string("/usr/bin/python3");
  return find_python("python3");
}

std::string twin_script(const std::string& dir, const std::string& demo_name) {
  std::string file = "s" + demo_name + ".py";
  for (char& ch : file) {
    if (ch == '-') ch = '_';
  }
  return dir.empty() ? file : dir + "/" + file;
}

TwinOutcome run_twin(const std::string& python, const std::string& script, bool quick, std::chrono::seconds timeout) {
  if (::access(script.c_str(), R_OK) != 0) throw std::runtime_error("no CPython twin at " + script);
  std::vector<std::string> argv{python, script};
  if (quick) argv.emplace_back("--quick");
  const auto start = std::chrono::steady_clock::now();
  ChildRun run;
  try {
    run = aio::run(run_child(std::move(argv), timeout));
  } catch (const std::exception& e) {
    throw std::runtime_error(script + ": cannot run " + python + ": " + e.what());
  }
  TwinOutcome twin;
  twin.elapsed_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (run.timed_out) {
    throw std::runtime_error(script + ": ran past " + std::to_string(timeout.count()) + " s and was killed");
  }
  if (run.out.returncode != 0) {
    throw std::runtime_error(script + ": exited with status " + std::to_string(run.out.returncode) + ": " +
                             tail(run.out.err));
  }
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(run.out.out);
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(script + ": its output is not one JSON object (" + e.what() + ")");
  }
  if (!j.is_object() || !j.contains("rows") || !j["rows"].is_object()) {
    throw std::runtime_error(script + ": its JSON has no \"rows\" object");
  }
  try {
    twin.version = j.value("python", std::string());
    for (const auto& [k, v] : j["rows"].items()) twin.rows[k] = number_or_none(v);
    if (j.contains("row_notes")) {
      for (const auto& [k, v] : j["row_notes"].items()) twin.row_notes[k] = v.get<std::string>();
    }
    if (j.contains("notes")) {
      for (const auto& v : j["notes"]) twin.notes.push_back(v.get<std::string>());
    }
    if (j.contains("facts")) {
      for (const auto& [k, v] : j["facts"].items()) twin.facts[k] = number_or_none(v);
    }
    if (j.contains("series")) {
      for (const auto& [name, points] : j["series"].items()) {
        Series s{name, {}, false};
        for (const auto& p : points) s.points.emplace_back(p.at(0).get<double>(), p.at(1).get<double>());
        twin.series.push_back(std::move(s));
      }
    }
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(script + ": malformed JSON field (" + e.what() + ")");
  }
  return twin;
}

std::vector<std::string> merge_twin(Result& result, const TwinOutcome& twin) {
  std::vector<std::string> unmatched;
  for (const auto& [variant, value] : twin.rows) {
    bool found = false;
    for (auto& row : result.rows) {
      if (row.variant != variant) continue;
      row.python = value;
      found = true;
    }
    if (!found) unmatched.push_back(variant);
  }
  for (const auto& [variant, note] : twin.row_notes) {
    for (auto& row : result.rows) {
      if (row.variant == variant) row.note += (row.note.empty() ? "" : "; ") + cpython(note);
    }
  }
  for (const auto& note : twin.notes) result.notes.push_back(cpython(note));
  // A twin's lines join a line chart; on a bar chart they would have no axis to share.
  if (!twin.series.empty()) {
    Chart& c = result.chart;
    if (!c.points.empty() && c.lines.empty()) {
      c.lines.push_back(Series{"spindle", c.points, false});
      c.points.clear();
    }
    if (!c.lines.empty()) {
      for (const auto& s : twin.series) c.lines.push_back(s);
    }
  }
  return unmatched;
}

}  // namespace spindle::lab
