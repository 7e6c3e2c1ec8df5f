#pragma once
// Small readers of /proc shared by the advisor's sampler and its peer index. Internal to the advisor.

#include <string>
#include <vector>

namespace spindle::advisor::detail {

/// A small /proc file read whole; empty on failure.
std::string slurp(const char* path);
/// The numeric entries of a directory (/proc/<pid>/task, /proc/<pid>/fd); empty if it cannot be read.
std::vector<int> list_dir_numbers(const char* path);
/// Where a /proc/<pid>/fd/<n> link points ("pipe:[123]", "socket:[456]", a path); empty if it cannot be read.
std::string read_link(const char* path);

}  // namespace spindle::advisor::detail
