// The function registry (id -> invoker, filled by static initialisers) and Call's descriptor ownership.

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <unordered_map>

#include "spindle/process/registry.hpp"

namespace spindle::process {

namespace detail {
namespace {
std::unordered_map<std::uint64_t, FunctionEntry>& table() {
  static auto* t = new std::unordered_map<std::uint64_t, FunctionEntry>();  // never destroyed: used at exit
  return *t;
}
}  // namespace

void register_function(const FunctionEntry& entry) noexcept {
  auto [it, inserted] = table().emplace(entry.id, entry);
  if (inserted || it->second.invoke == entry.invoke) return;
  if (it->second.name != entry.name) {
    std::fprintf(stderr, "spindle::process: function id collision between '%.*s' and '%.*s'\n",
                 static_cast<int>(entry.name.size()), entry.name.data(), static_cast<int>(it->second.name.size()),
                 it->second.name.data());
    std::abort();
  }
#if defined(__clang__)
  // Same name, same signature, different code: clang 14 names every specialisation of a function template
  // alike. (g++ names them apart; there a differing invoker is one function instantiated in two shared
  // libraries with hidden visibility, which is harmless.)
  std::fprintf(stderr,
               "spindle::process: two functions register as '%.*s' with one signature (clang names the "
               "specialisations of a function template alike); give each a plain function wrapper\n",
               static_cast<int>(entry.name.size()), entry.name.data());
  std::abort();
#endif
}

const FunctionEntry* find_function(std::uint64_t id) noexcept {
  auto& t = table();
  auto it = t.find(id);
  return it == t.end() ? nullptr : &it->second;
}
}  // namespace detail

Call& Call::operator=(Call&& o) noexcept {
  if (this != &o) {
    for (int fd : fds) ::close(fd);
    id = o.id;
    name = o.name;
    args = std::move(o.args);
    fds = std::move(o.fds);
    o.fds.clear();
    leases = std::move(o.leases);
    args_blob = std::move(o.args_blob);
    args_blob_bytes = o.args_blob_bytes;
  }
  return *this;
}

Call::~Call() {
  for (int fd : fds) ::close(fd);
}

}  // namespace spindle::process
