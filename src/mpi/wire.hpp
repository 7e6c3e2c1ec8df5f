#pragma once
// The messages between rank 0 and the worker ranks (MPI_COMM_WORLD, one tag per kind). Fixed fields go in a
// trailer after the payload, so that a large payload is received straight into the string that becomes the
// task's arguments (or is decoded in place): no copy to strip a header off. Small tasks travel in batches
// instead: one message per rank per round of rank 0's dispatch, not one per task (each message costs both ends
// a trip through MPI's progress engine, over TCP a syscall or two). Results go one by one (see worker.cpp).
//
//   kTask      0 -> w   [encoded arguments][u64 function id][u64 task id]
//   kResult    w -> 0   [payload][u64 task id][u8 status]: ok (the encoded result), remote (type \0 message),
//                       crashed (what \0 task \0 pid \0 signal \0 exit code), other (type \0 message)
//   kTasks     0 -> w   small tasks in one message, as records: [u64 n][a kTask message of n bytes]...
//   kHello     w -> 0   [u64 local worker processes][u64 pid][host name]
//   kHeartbeat both     []  (any message counts as a sign of life; this one is sent only when idle)
//   kStop      0 -> w   []  finish what you hold and exit

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace spindle::mpi::wire {

enum Tag : int { kTask = 101, kResult = 102, kHello = 103, kHeartbeat = 104, kStop = 105, kAbort = 106, kTasks = 107 };
enum Status : std::uint8_t { kOk = 0, kRemote = 1, kCrashed = 2, kOther = 3 };

inline void put_u64(std::string& out, std::uint64_t v) { out.append(reinterpret_cast<const char*>(&v), sizeof v); }

inline std::uint64_t get_u64(std::string_view in, std::size_t at) {
  std::uint64_t v = 0;
  std::memcpy(&v, in.data() + at, sizeof v);
  return v;
}

// A task message up to this size goes in a batch; a larger one alone (received in place, no copy).
inline constexpr std::size_t kBatchItemMax = 4096;
// A batch this large is sent at once, whatever else is still to come in the round.
inline constexpr std::size_t kBatchMax = 256 * 1024;

// Appends a kTask message ([arguments][u64 function id][u64 task id]) to `batch` as one record, written in place.
inline void append_task(std::string& batch, std::string_view args, std::uint64_t fn, std::uint64_t id) {
  put_u64(batch, args.size() + 2 * sizeof(std::uint64_t));
  batch.append(args);
  put_u64(batch, fn);
  put_u64(batch, id);
}

// Calls `fn(std::string record)` for each record of `batch`, in order; false if the batch is malformed (the
// records before the fault were passed on).
template <class F>
bool for_each_record(const std::string& batch, F&& fn) {
  std::size_t at = 0;
  while (at < batch.size()) {
    if (batch.size() - at < sizeof(std::uint64_t)) return false;
    const std::uint64_t n = get_u64(batch, at);
    at += sizeof(std::uint64_t);
    if (n > batch.size() - at) return false;
    fn(batch.substr(at, static_cast<std::size_t>(n)));
    at += static_cast<std::size_t>(n);
  }
  return true;
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
