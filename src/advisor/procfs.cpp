#include "procfs.hpp"

#include <dirent.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

namespace spindle::advisor::detail {

// A plain read keeps this cheap at 100 Hz.
std::string slurp(const char* path) {
  FILE* f = std::fopen(path, "re");
  if (!f) return {};
  std::string out;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
  std::fclose(f);
  return out;
}

std::vector<int> list_dir_numbers(const char* path) {
  std::vector<int> out;
  DIR* dir = opendir(path);
  if (!dir) return out;
  while (dirent* e = readdir(dir)) {
    if (e->d_name[0] >= '0' && e->d_name[0] <= '9') out.push_back(std::atoi(e->d_name));
  }
  closedir(dir);
  return out;
}

std::string read_link(const char* path) {
  char target[256];
  const ssize_t n = ::readlink(path, target, sizeof target);
  if (n <= 0 || static_cast<std::size_t>(n) >= sizeof target) return {};
  return std::string(target, static_cast<std::size_t>(n));
}

}  // namespace spindle::advisor::detail
