// The resource tracker (see resource_tracker.hpp).
//
// Why a table in shared memory rather than Python's pipe of REGISTER/UNREGISTER messages: the tracker must
// learn of a name before the segment exists (a process killed between shm_open and the message would leak
// it), and a pipe costs a write per registration and a descriptor held open for life, which every fork
// child inherits and which keeps the tracker from seeing the death. A MAP_SHARED table written before
// shm_open is visible to the tracker the instant the process dies, and a pidfd says exactly when that is.
//
// The tracker is forked from a possibly multi-threaded process, so between fork and exit it makes only raw
// system calls: no allocation, no locks, no stdio, nothing a sanitizer intercepts.

#include "resource_tracker.hpp"

#include "os_error.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace spindle::process::detail {

namespace {

constexpr std::size_t kTableBytes = std::size_t{16} << 20;  // sparse: pages are touched as slots are used
constexpr std::size_t kNameBytes = 63;                      // a slot is one 64-byte line: flag + name

struct Slot {
  std::uint8_t used;  // written last on register, first on unregister (atomic_ref)
  char name[kNameBytes];
};

struct Header {
  std::uint32_t high;    // slots [0, high) have been used at least once (atomic_ref)
  std::int32_t tracker;  // the tracker's pid, written by the intermediate child
  char pad[56];
};
static_assert(sizeof(Slot) == 64 && sizeof(Header) == 64);

constexpr std::size_t kSlots = (kTableBytes - sizeof(Header)) / sizeof(Slot);

// --- the tracker process: raw system calls only -----------------------------------------------------------

[[noreturn]] void raw_exit(int code) noexcept {
  ::syscall(SYS_exit_group, code);
  __builtin_unreachable();
}

void raw_write_str(const char* s) noexcept { ::syscall(SYS_write, 2, s, std::strlen(s)); }

void raw_write_num(long v) noexcept {
  char buf[24];
  char* p = buf + sizeof buf;
  *--p = 0;
  do {
    *--p = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v > 0 && p > buf);
  raw_write_str(p);
}

[[noreturn]] void tracker_main(int pidfd, Header* header, Slot* slots, int watched) noexcept {
  // Leave the terminal's session so that a Ctrl-C aimed at the program does not kill its cleaner too.
  ::syscall(SYS_setsid);
  // Keep stderr (for the warning) and the pidfd; holding anything else would, e.g., keep a reader of the
  // program's stdout from seeing end of file.
  ::syscall(SYS_close_range, 0u, 1u, 0u);
  if (pidfd > 3) ::syscall(SYS_close_range, 3u, static_cast<unsigned>(pidfd - 1), 0u);
  ::syscall(SYS_close_range, static_cast<unsigned>(pidfd + 1), ~0u, 0u);
  for (;;) {
    pollfd p{pidfd, POLLIN, 0};
    const long r = ::syscall(SYS_ppoll, &p, 1, nullptr, nullptr, 0);
    if (r > 0) break;
    if (r < 0 && errno != EINTR) break;  // cannot wait any more: clean up now rather than never
  }
  const std::uint32_t high = std::atomic_ref<std::uint32_t>(header->high).load(std::memory_order_acquire);
  long unlinked = 0;
  char path[8 + kNameBytes + 1];
  std::memcpy(path, "/dev/shm", 8);
  for (std::uint32_t i = 0; i < high && i < kSlots; ++i) {
    if (!std::atomic_ref<std::uint8_t>(slots[i].used).load(std::memory_order_acquire)) continue;
    std::size_t n = 0;
    while (n < kNameBytes && slots[i].name[n]) ++n;
    if (n == 0 || n == kNameBytes || slots[i].name[0] != '/') continue;
    std::memcpy(path + 8, slots[i].name, n);
    path[8 + n] = 0;
    if (::syscall(SYS_unlinkat, AT_FDCWD, path, 0) == 0) ++unlinked;
  }
  if (unlinked > 0) {
    // Python's resource_tracker warns the same way: a leak was cleaned, but the program had one.
    raw_write_str("spindle resource tracker: unlinked ");
    raw_write_num(unlinked);
    raw_write_str(" shared memory segment(s) left by process ");
    raw_write_num(watched);
    raw_write_str(", which exited without unlinking them\n");
  }
  raw_exit(0);
}

// --- the creating process ---------------------------------------------------------------------------------

struct State {
  std::mutex mu;
  pid_t owner = 0;  // the process this state belongs to; a fork child starts afresh
  Header* header = nullptr;
  Slot* slots = nullptr;
  bool available = false;
  std::vector<std::uint32_t> free_slots;
  std::unordered_map<std::string, std::uint32_t> where;
};

State& state() {
  static State* s = new State;  // leaked on purpose: segments may be unlinked from static destructors
  return *s;
}

// Called with the lock held. Makes the table and starts the tracker for this process.
void ensure(State& s) {
  const pid_t self = ::getpid();
  if (s.owner == self) return;
  // A fork child inherits the parent's bookkeeping but not its table (MADV_DONTFORK) nor its tracker.
  s.owner = 0;
  s.header = nullptr;
  s.slots = nullptr;
  s.available = false;
  s.free_slots.clear();
  s.where.clear();

  const int fd = ::memfd_create("spindle-resource-tracker", MFD_CLOEXEC);
  if (fd < 0) throw_os_error(errno, "resource tracker: memfd_create");
  if (::ftruncate(fd, static_cast<off_t>(kTableBytes)) != 0) {
    const int e = errno;
    ::close(fd);
    throw_os_error(e, "resource tracker: ftruncate");
  }
  void* p = ::mmap(nullptr, kTableBytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  const int map_errno = errno;
  ::close(fd);  // the mapping keeps the memory; no descriptor stays open in this process
  if (p == MAP_FAILED) throw_os_error(map_errno, "resource tracker: mmap");
  auto* header = static_cast<Header*>(p);
  auto* slots = reinterpret_cast<Slot*>(static_cast<char*>(p) + sizeof(Header));

  // Double fork: the tracker must outlive us and must never be our zombie, so it is a grandchild that init
  // (or the nearest subreaper) adopts. The pidfd is opened while we are certainly alive (we wait below).
  const pid_t mid = ::fork();
  if (mid < 0) {
    const int e = errno;
    ::munmap(p, kTableBytes);
    throw_os_error(e, "resource tracker: fork");
  }
  if (mid == 0) {
    const long pidfd = ::syscall(SYS_pidfd_open, self, 0u);
    if (pidfd < 0) raw_exit(2);
    const long t = ::syscall(SYS_clone, static_cast<unsigned long>(SIGCHLD), nullptr, nullptr, nullptr, 0);
    if (t < 0) raw_exit(3);
    if (t > 0) {
      std::atomic_ref<std::int32_t>(header->tracker).store(static_cast<std::int32_t>(t), std::memory_order_release);
      raw_exit(0);
    }
    tracker_main(static_cast<int>(pidfd), header, slots, static_cast<int>(self));
  }
  int status = 0;
  while (::waitpid(mid, &status, 0) < 0 && errno == EINTR) {
  }
  // Later forks (Process with the fork start method) must not share our table: their registrations
  // belong to their own tracker.
  ::madvise(p, kTableBytes, MADV_DONTFORK);
  s.owner = self;
  s.header = header;
  s.slots = slots;
  // Without pidfd (Linux < 5.3) there is no tracker: segments are still unlinked by their owner, as before.
  s.available = WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

}  // namespace

void track_shm(const std::string& name) {
  if (name.empty() || name.size() >= kNameBytes || name[0] != '/')
    detail::throw_os_error(EINVAL, "resource tracker: bad shared memory name");
  State& s = state();
  std::lock_guard g(s.mu);
  ensure(s);
  if (!s.available || s.where.count(name)) return;
  std::uint32_t i;
  if (!s.free_slots.empty()) {
    i = s.free_slots.back();
    s.free_slots.pop_back();
  } else {
    i = std::atomic_ref<std::uint32_t>(s.header->high).load(std::memory_order_relaxed);
    if (i >= kSlots) throw_os_error(ENOSPC, "resource tracker: too many named shared memory segments in one process");
    std::atomic_ref<std::uint32_t>(s.header->high).store(i + 1, std::memory_order_release);
  }
  Slot& slot = s.slots[i];
  std::memset(slot.name, 0, kNameBytes);
  std::memcpy(slot.name, name.data(), name.size());
  std::atomic_ref<std::uint8_t>(slot.used).store(1, std::memory_order_release);
  s.where.emplace(name, i);
}

void untrack_shm(const std::string& name) noexcept {
  State& s = state();
  std::lock_guard g(s.mu);
  if (s.owner != ::getpid()) return;  // not ours: a fork child's copy of its parent's segment
  const auto it = s.where.find(name);
  if (it == s.where.end()) return;
  std::atomic_ref<std::uint8_t>(s.slots[it->second].used).store(0, std::memory_order_release);
  try {
    s.free_slots.push_back(it->second);
  } catch (...) {
    // The slot stays unused; it is only capacity.
  }
  s.where.erase(it);
}

int shm_tracker_pid() noexcept {
  State& s = state();
  std::lock_guard g(s.mu);
  if (s.owner != ::getpid() || !s.available) return 0;
  return std::atomic_ref<std::int32_t>(s.header->tracker).load(std::memory_order_acquire);
}

}  // namespace spindle::process::detail
