#pragma once
/// @file
/// `SharedMemory`: a block of memory mapped by several processes. Two kinds:
/// - anonymous (`SharedMemory(size)`): a memfd. It has no name in any file system, so nothing can squat
///   it and nothing leaks when a process is killed: the kernel frees it when the last descriptor and
///   mapping go. Other processes get it *by handle*: pass the SharedMemory (or a SharedArray) as a task or
///   Process argument and its descriptor travels with SCM_RIGHTS.
/// - named (`SharedMemory::create_named(size)` / `attach(name)`): POSIX shm under /dev/shm, for processes
///   you did not start. Names are 128 random bits, created with O_EXCL and mode 0600, so they never collide
///   and a pre-created name is an error, never a foreign object. The creator's destructor unlinks it, and if
///   the creator dies first (even by SIGKILL) its resource tracker process unlinks it (as Python's
///   resource_tracker does); the name is registered before the segment exists, so no window leaks it.
///
/// **Thread safety:** the object is not synchronised (like Python's); the memory is shared, so coordinate
/// access with a process Lock/Event. **Errors:** std::system_error from the system calls.
/// **Python equivalent:** `multiprocessing.shared_memory.SharedMemory`.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "spindle/process/codec.hpp"

namespace spindle::process {

namespace detail {
/// "/spindle-" + 32 random hex digits.
std::string random_name();

/// Pid of this process's resource tracker (it unlinks the named segments this process leaves behind when it
/// dies), or 0 if none was started: none needed yet, or the kernel lacks pidfd (Linux < 5.3).
int shm_tracker_pid() noexcept;

/// In this process (a pool worker), keep the last few segments that `Segment::adopt` mapped (`on`), so that a
/// task that receives the same shared array as the one before reuses its mapping instead of mapping and
/// faulting in the pages again; `false` stops and releases them. Python has no equivalent: its workers attach
/// by name every time.
void retain_adopted_segments(bool on) noexcept;
/// Drops the kept mappings (a worker calls it when it is about to wait for work, so that a segment the
/// parent freed lives no longer than the tasks that use it).
void release_retained_segments() noexcept;
/// How many mappings are kept now.
std::size_t retained_segments() noexcept;

/// A mapped segment; shared by the copies of a SharedMemory / SharedArray.
class Segment {
 public:
  /// A new anonymous segment (memfd) of `bytes`, zero-filled.
  static std::shared_ptr<Segment> create(std::size_t bytes, const char* debug_name = "spindle-shm");
  /// Maps `fd` (taken) of at least `bytes`; throws ProtocolError if the object is smaller.
  static std::shared_ptr<Segment> adopt(int fd, std::size_t bytes);
  /// Maps the named POSIX segment.
  static std::shared_ptr<Segment> open_named(const std::string& name, bool create, std::size_t bytes);
  /// `owner`: this process created the named segment and unlinks it when the last copy goes.
  Segment(int fd, void* addr, std::size_t bytes, std::string name, bool owner) noexcept;
  Segment(const Segment&) = delete;
  Segment& operator=(const Segment&) = delete;
  ~Segment();
  int fd() const noexcept { return fd_; }
  void* data() const noexcept { return addr_; }
  std::size_t size() const noexcept { return bytes_; }
  const std::string& name() const noexcept { return name_; }
  /// Removes the name (named segments only); the memory lives while mapped.
  void unlink();

 private:
  int fd_;
  void* addr_;
  std::size_t bytes_;
  std::string name_;
  int owner_pid_;  // the creating process, 0 if none: a fork child's copy must not unlink its parent's segment
};
}  // namespace detail

/// See the file comment. Copies share the same mapping.
class SharedMemory {
 public:
  /// An empty handle.
  SharedMemory() = default;
  /// A new anonymous (memfd) block of `size` bytes, zero-filled. Python: `SharedMemory(create=True, size=n)`.
  explicit SharedMemory(std::size_t size) : seg_(detail::Segment::create(size)) {}
  /// A new named block under /dev/shm with a random, unique name (O_EXCL, mode 0600); unlinked when the
  /// creating object and its copies are destroyed, or by `unlink()`.
  static SharedMemory create_named(std::size_t size);
  /// Attaches to a named block. Python: `SharedMemory(name)`.
  static SharedMemory attach(const std::string& name);

  /// The mapped bytes. Python: `buf`.
  std::span<std::byte> buf() const noexcept {
    return seg_ ? std::span<std::byte>(static_cast<std::byte*>(seg_->data()), seg_->size()) : std::span<std::byte>{};
  }
  /// Size in bytes. Python: `size`.
  std::size_t size() const noexcept { return seg_ ? seg_->size() : 0; }
  /// The /dev/shm name of a named block, empty for an anonymous one. Python: `name`.
  const std::string& name() const noexcept;
  /// Drops this handle's mapping (the memory lives while other handles or processes map it). Python: `close()`.
  void close() noexcept { seg_.reset(); }
  /// Removes the name of a named block. Python: `unlink()`.
  void unlink() {
    if (seg_) seg_->unlink();
  }
  /// True if this handle maps a block.
  explicit operator bool() const noexcept { return seg_ != nullptr; }

  /// Codec: travels as a descriptor (SCM_RIGHTS), never by copy.
  template <class A>
  void save(A& ar) const {
    if (!seg_) throw ProtocolError("cannot send an empty SharedMemory");
    const std::uint32_t index = ar.add_fd(seg_->fd());
    ar(index, static_cast<std::uint64_t>(seg_->size()));
  }
  /// Codec: maps the received descriptor.
  template <class A>
  void load(A& ar) {
    std::uint32_t index = 0;
    std::uint64_t bytes = 0;
    ar(index, bytes);
    seg_ = detail::Segment::adopt(ar.take_fd(index), static_cast<std::size_t>(bytes));
  }

 private:
  explicit SharedMemory(std::shared_ptr<detail::Segment> s) noexcept : seg_(std::move(s)) {}
  std::shared_ptr<detail::Segment> seg_;
};

}  // namespace spindle::process
