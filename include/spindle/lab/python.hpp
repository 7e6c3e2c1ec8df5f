#pragma once
/// @file
/// The lab's CPython twins: for each demo a Python script of ours (labs/python/s<name>.py) runs the same
/// workload in a real interpreter, and its figures fill the "CPython here" column next to spindle's. Nothing is
/// simulated: without an interpreter the column says so.

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "spindle/lab/demo.hpp"

namespace spindle::lab {

/// What a twin printed (the JSON protocol of labs/python/labkit.py).
struct TwinOutcome {
  std::string version;                           ///< the interpreter's version ("3.11.2")
  std::map<std::string, double> rows;            ///< variant -> figure (kNone: CPython has no such variant)
  std::map<std::string, std::string> row_notes;  ///< variant -> why it is missing, or a remark
  std::vector<std::string> notes;                ///< lines for under the table
  std::map<std::string, double> facts;           ///< named figures
  std::vector<Series> series;                    ///< lines for the demo's chart
  double elapsed_s = 0;                          ///< how long the twin ran
};

/// The interpreter to run twins with: `requested` if it names an executable, else /usr/bin/python3, else
/// `python3` on PATH; nullopt if there is none (or `requested` is not executable).
std::optional<std::string> find_python(const std::string& requested = "");

/// The twin of demo `demo_name` under `dir`: `dir/s<name with '-' as '_'>.py` ("002-io-wait" ->
/// "s002_io_wait.py"). The file may not exist.
std::string twin_script(const std::string& dir, const std::string& demo_name);

/// Runs `python script [--quick]` (stdin /dev/null, stdout and stderr captured: a twin's own show, its
/// spinners, goes to stderr) and parses the one JSON object it prints on stdout.
/// **Errors:** std::runtime_error naming the script: it could not start, it exited non-zero (with its
/// stderr's last lines), it ran past `timeout` (it is killed), or its output is not the protocol's JSON.
TwinOutcome run_twin(const std::string& python, const std::string& script, bool quick, std::chrono::seconds timeout);

/// Puts a twin's figures into `result`: each row's `python` from the row of the same variant, the twin's
/// notes (prefixed "CPython: ") and series (added to the main chart when it is a line chart).
/// Returns the variants the twin reported that match no row (a twin out of step with its demo).
std::vector<std::string> merge_twin(Result& result, const TwinOutcome& twin);

}  // namespace spindle::lab
