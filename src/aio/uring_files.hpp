#pragma once
// A ring's table of registered files (io_uring_register_files_sparse): a socket entered in it is named by its
// slot with IOSQE_FIXED_FILE, so each request on it skips the kernel's file lookup and the reference count
// taken and dropped per request (fget/fput). Entering a socket costs an io_uring_register call, and removing it
// another, so only sockets that keep sending are entered: at their enter_after-th completion send. The owner
// removes a socket before closing its fd (forget_send): the table holds a reference of its own, so a socket left
// in it would stay open.
//
// Off unless asked for (SPINDLE_AIO_URING_FIXED=N): measured on Linux 6.18, a request on a registered file
// saves ~6 ns of a 64-byte send's ~465 ns, while entering and removing a socket costs ~2.4 µs, so it pays only
// past ~400 requests on one connection, and by 0.1% of W6's request (docs/performance-history.md, "registered files").
// Internal to src/aio (uring_poller.cpp).

#include <liburing.h>
#include <sys/resource.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace spindle::aio::detail {

class FixedFiles {
 public:
  static constexpr unsigned kMaxSlots = 4096;

  /// Registers an empty table of up to kMaxSlots slots (no more than RLIMIT_NOFILE allows, as the kernel
  /// requires), sockets to be entered at their `enter_after`-th send; stays off for 0, where the kernel has no
  /// sparse tables (before Linux 5.19) or where it fails.
  void setup(io_uring* ring, std::uint32_t enter_after) noexcept {
    if (enter_after == 0) return;
    enter_after_ = enter_after;
    rlimit lim{};
    unsigned n = kMaxSlots;
    if (::getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur != RLIM_INFINITY) {
      n = static_cast<unsigned>(std::min<rlim_t>(n, lim.rlim_cur));
    }
    if (n == 0) return;
    try {
      free_.reserve(n);
    } catch (...) {
      return;
    }
    if (io_uring_register_files_sparse(ring, n) != 0) return;
    ring_ = ring;
    for (unsigned s = n; s > 0; --s) free_.push_back(s - 1);  // slot 0 first
  }

  bool on() const noexcept { return ring_ != nullptr; }

  /// `fd`'s slot, or -1 if it is not entered.
  int slot(int fd) const noexcept {
    if (fd < 0 || static_cast<std::size_t>(fd) >= fds_.size()) return -1;
    return fds_[static_cast<std::size_t>(fd)].slot;
  }

  /// Counts a completion send on `fd`; enters it at the enter_after-th. Where it is not entered (not yet, off,
  /// table full, or the kernel refused), slot() says -1 and the fd is used as it is, which always works.
  void note_send(int fd) noexcept {
    if (!on() || fd < 0) return;
    const auto at = static_cast<std::size_t>(fd);
    if (at >= fds_.size()) {
      try {
        fds_.resize(at + 1);
      } catch (...) {
        return;
      }
    }
    Entry& e = fds_[at];
    if (e.slot >= 0 || ++e.sends != enter_after_ || free_.empty()) return;
    const unsigned s = free_.back();
    int value = fd;
    if (io_uring_register_files_update(ring_, s, &value, 1) != 1) return;
    free_.pop_back();
    e.slot = static_cast<int>(s);
    ++entered_;
  }

  /// Forgets `fd` (its owner is about to close it, or hands it to another owner): its slot is emptied, so the
  /// table no longer holds the socket open. Requests in flight keep the file until they end (the kernel's rule).
  void release(int fd) noexcept {
    if (fd < 0 || static_cast<std::size_t>(fd) >= fds_.size()) return;
    Entry& e = fds_[static_cast<std::size_t>(fd)];
    e.sends = 0;
    if (e.slot < 0) return;
    int none = -1;
    const auto s = static_cast<unsigned>(e.slot);
    e.slot = -1;
    --entered_;
    // On failure (no memory for the kernel's removal record) the slot is not reused, and the socket stays
    // open until the ring goes: rare, and never a request on the wrong file.
    if (io_uring_register_files_update(ring_, s, &none, 1) == 1) free_.push_back(s);  // reserved: cannot throw
  }

  /// Sockets entered now (tests).
  std::size_t entered() const noexcept { return entered_; }

 private:
  struct Entry {
    int slot = -1;
    std::uint32_t sends = 0;
  };
  io_uring* ring_ = nullptr;  // null: off
  std::uint32_t enter_after_ = 0;
  std::vector<Entry> fds_;  // by fd number
  std::vector<unsigned> free_;
  std::size_t entered_ = 0;
};

}  // namespace spindle::aio::detail
