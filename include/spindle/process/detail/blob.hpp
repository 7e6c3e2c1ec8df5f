#pragma once
/// @file
/// Internal: large arrays of numbers in task arguments travel out of band, as a shared-memory blob (a memfd)
/// passed with the task frame, instead of through the socket: one copy in (here), one copy out (in the
/// worker), both made by the kernel, where the socket path cost four more. Python equivalent: pickle protocol
/// 5's out-of-band buffers (`pickle.PickleBuffer`), which `multiprocessing` does not use.
///
/// A blob is lent by a cache of this process and comes back to it when the lease (kept by the task's Call)
/// is released: by then the worker has decoded the task (its result, or its death, has been seen), so
/// rewriting the blob for another task can never change bytes a worker is still reading.

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <memory>

namespace spindle::process::detail {

/// Arrays of at least this many bytes go as blobs where the channel allows it.
inline constexpr std::size_t kBlobMinBytes = std::size_t{1} << 20;

/// A memfd and, when it was lent mapped, this process's writable mapping of it.
struct Blob {
  int fd = -1;
  char* data = nullptr;  ///< null for a blob that was written with write_blob and never lent mapped
  std::size_t capacity = 0;
  pid_t owner = 0;  ///< the pid that made it: only its maker reuses it (a forked child's copy is never recycled)
};

/// Lends a blob of at least `bytes`, mapped here (a free one reused when one fits, mapped first if it was not;
/// else a new one). The blob goes back to the cache when the last copy of the lease is released. Throws
/// std::system_error when the kernel refuses (memfd_create, ftruncate, mmap).
std::shared_ptr<Blob> lend_blob(std::size_t bytes);

/// Lends a blob holding a copy of the `bytes` at `data`. The copy is made by the kernel (`pwrite`) unless the
/// blob is already mapped here: a fresh blob is never mapped and faulted in by this process, which on some
/// virtual machines costs ten times the copy. Throws std::system_error when the kernel refuses.
std::shared_ptr<Blob> write_blob(const void* data, std::size_t bytes);

/// A received blob read by the kernel (`pread`) into memory of the caller's: no mapping to fault in, which on
/// some virtual machines costs ten times the copy. Closes its descriptor on destruction.
class BlobFile {
 public:
  /// Takes `fd` (closed here) and checks that it holds at least `bytes`; throws ProtocolError if not.
  BlobFile(int fd, std::size_t bytes);
  BlobFile(const BlobFile&) = delete;
  BlobFile& operator=(const BlobFile&) = delete;
  ~BlobFile();
  /// Copies the blob's first `bytes` into `out`; throws std::system_error or, if it ends early, ProtocolError.
  void read_into(void* out) const;

 private:
  int fd_;
  std::size_t bytes_;
};

}  // namespace spindle::process::detail
