// The process module's report of a failed system call, shared by its sources (one definition, so that a unity
// build of the module sees no two helpers of one name).

#pragma once

#include <system_error>

namespace spindle::process::detail {

/// Throws std::system_error for the errno value `err`, naming the call that failed (Python's OSError).
[[noreturn]] inline void throw_os_error(int err, const char* what) {
  throw std::system_error(err, std::generic_category(), what);
}

}  // namespace spindle::process::detail
