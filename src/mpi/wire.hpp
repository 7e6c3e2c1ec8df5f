#pragma once
// The messages between rank 0 and the worker ranks (MPI_COMM_WORLD, one tag per kind). Fixed fields go in a
// trailer after the payload, so that a large payload is received straight into the string that becomes the
// task's arguments (or is decoded in place): no copy to strip a header off.
//
//   kTask      0 -> w   [encoded arguments][u64 function id][u64 task id]
//   kResult    w -> 0   [payload][u64 task id][u8 status]: ok (the encoded result), remote (type \0 message),
//                       crashed (what \0 task \0 pid \0 signal \0 exit code), other (type \0 message)
//   kHello     w -> 0   [u64 local worker processes][u64 pid][host name]
//   kHeartbeat both     []  (any message counts as a sign of life; this one is sent only when idle)
//   kStop      0 -> w   []  finish what you hold and exit

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace spindle::mpi::wire {

enum Tag : int { kTask = 101, kResult = 102, kHello = 103, kHeartbeat = 104, kStop = 105, kAbort = 106 };
enum Status : std::uint8_t { kOk = 0, kRemote = 1, kCrashed = 2, kOther = 3 };

inline void put_u64(std::string& out, std::uint64_t v) { out.append(reinterpret_cast<const char*>(&v), sizeof v); }

inline std::uint64_t get_u64(const std::string& in, std::size_t at) {
  std::uint64_t v = 0;
  std::memcpy(&v, in.data() + at, sizeof v);
  return v;
}

// "a\0b\0c" split on NULs.
inline std::vector<std::string> split(std::string_view s) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  for (;;) {
    const auto nul = s.find('\0', start);
    parts.emplace_back(s.substr(start, nul == std::string_view::npos ? std::string_view::npos : nul - start));
    if (nul == std::string_view::npos) return parts;
    start = nul + 1;
  }
}

}  // namespace spindle::mpi::wire
