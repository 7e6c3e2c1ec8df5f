#pragma once
// Runs a program the way a user's shell would, for tests of whole programs (the spindle tool, an MPI job):
// stdin from /dev/null, stdout and stderr into files read back after it ends (no pipe to drain while waiting).

#include <string>
#include <vector>

namespace spindle::test {

/// What a program did.
struct Spawned {
  int status = -1;     ///< its exit status, 128 + the signal that ended it, or -1 if it could not be started
  std::string out;     ///< what it printed on stdout
  std::string err;     ///< and on stderr
  double seconds = 0;  ///< from the start to its end
};

/// Runs argv[0] (looked up in PATH when it has no slash) with `argv`, and waits for it.
Spawned spawn_capture(const std::vector<std::string>& argv);

}  // namespace spindle::test
