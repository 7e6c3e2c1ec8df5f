// The blob cache (see detail/blob.hpp): memfds reused, so that a large argument is copied into pages that are
// already there, not a fresh allocation; written by the kernel (pwrite) unless the blob is mapped here.

#include "spindle/process/detail/blob.hpp"

#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

#include "os_error.hpp"
#include "spindle/process/errors.hpp"

namespace spindle::process::detail {
namespace {

// Free blobs kept for reuse: at most this many, this much in all (the rest is unmapped and closed).
constexpr std::size_t kMaxFree = 8;
constexpr std::size_t kMaxFreeBytes = std::size_t{256} << 20;
constexpr std::size_t kGranule = std::size_t{1} << 20;  // capacities are rounded up to this, so blobs fit again

// Throws the kernel's error for `what`, closing `fd` first (if any) without losing errno.
[[noreturn]] void fail(const char* what, int fd = -1) {
  const int e = errno;
  if (fd >= 0) ::close(fd);
  detail::throw_os_error(e, what);
}

void destroy(const Blob& b) noexcept {
  if (b.data != nullptr) ::munmap(b.data, b.capacity);
  if (b.fd >= 0) ::close(b.fd);
}

class BlobCache {
 public:
  std::shared_ptr<Blob> lend(std::size_t bytes, bool mapped) {
    Blob b = take(bytes);
    if (b.fd < 0) b = create(bytes);
    if (mapped && b.data == nullptr) {
      try {
        map(b);
      } catch (...) {
        destroy(b);
        throw;
      }
    }
    return {new Blob(b), [this](Blob* p) {
              give_back(*p);
              delete p;
            }};
  }

 private:
  /// A free blob of at least `bytes` (the smallest), or none.
  Blob take(std::size_t bytes) {
    std::lock_guard lock(m_);
    forget_if_forked();
    auto best = free_.end();
    for (auto it = free_.begin(); it != free_.end(); ++it)
      if (it->capacity >= bytes && (best == free_.end() || it->capacity < best->capacity)) best = it;
    if (best == free_.end()) return {};
    Blob b = *best;
    free_.erase(best);
    free_bytes_ -= b.capacity;
    return b;
  }

  static Blob create(std::size_t bytes) {
    Blob b;
    b.capacity = (std::max<std::size_t>(bytes, 1) + kGranule - 1) / kGranule * kGranule;
    b.fd = ::memfd_create("spindle-blob", MFD_CLOEXEC);
    if (b.fd < 0) fail("memfd_create");
    if (::ftruncate(b.fd, static_cast<off_t>(b.capacity)) != 0) fail("ftruncate", b.fd);
    b.owner = ::getpid();
    return b;
  }

  static void map(Blob& b) {
    // MAP_POPULATE: the pages are allocated in one call, not faulted in one by one by the memcpy.
    void* p = ::mmap(nullptr, b.capacity, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, b.fd, 0);
    if (p == MAP_FAILED) detail::throw_os_error(errno, "mmap");
    b.data = static_cast<char*>(p);
  }

  void give_back(const Blob& b) noexcept {
    std::unique_lock lock(m_);
    forget_if_forked();
    // A lease a forked child inherited and released: the parent may still be using that memfd, so the child
    // only drops its own mapping and descriptor.
    if (b.owner != owner_ || free_.size() >= kMaxFree || free_bytes_ + b.capacity > kMaxFreeBytes) {
      lock.unlock();
      destroy(b);
      return;
    }
    try {
      free_.push_back(b);
      free_bytes_ += b.capacity;
    } catch (...) {
      lock.unlock();
      destroy(b);
    }
  }

  /// A child forked from this process inherits the list, whose memfds the parent goes on reusing: the child
  /// must never write to them. It drops its copies (unmapping its own mappings) and starts a list of its own.
  void forget_if_forked() noexcept {
    const pid_t me = ::getpid();
    if (owner_ == me) return;
    for (const Blob& b : free_) destroy(b);
    free_.clear();
    free_bytes_ = 0;
    owner_ = me;
  }

  std::mutex m_;
  std::vector<Blob> free_;
  std::size_t free_bytes_ = 0;
  pid_t owner_ = ::getpid();
};

BlobCache& cache() {
  // Never destroyed: a lease released during static destruction must still find the cache.
  static BlobCache* c = new BlobCache;
  return *c;
}

}  // namespace

std::shared_ptr<Blob> lend_blob(std::size_t bytes) { return cache().lend(bytes, true); }

std::shared_ptr<Blob> write_blob(const void* data, std::size_t bytes) {
  std::shared_ptr<Blob> b = cache().lend(bytes, false);
  if (b->data != nullptr) {
    if (bytes != 0) std::memcpy(b->data, data, bytes);
    return b;
  }
  // The kernel copies into the memfd's pages through its own mapping of memory: it allocates them as it goes,
  // without zeroing a page it fills whole, and this process's page tables are never touched.
  const char* from = static_cast<const char*>(data);
  for (std::size_t done = 0; done < bytes;) {
    const ssize_t n = ::pwrite(b->fd, from + done, bytes - done, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) detail::throw_os_error(n < 0 ? errno : ENOSPC, "pwrite (blob)");
    done += static_cast<std::size_t>(n);
  }
  return b;
}

namespace {

/// Throws ProtocolError unless `fd` holds at least `bytes`.
void check_size(int fd, std::size_t bytes) {
  struct stat st {};
  if (::fstat(fd, &st) != 0 || st.st_size < 0 || static_cast<std::uint64_t>(st.st_size) < bytes)
    throw ProtocolError("codec: a blob descriptor holds fewer bytes than its array (" + std::to_string(bytes) + ")");
}

}  // namespace

BlobFile::BlobFile(int fd, std::size_t bytes) : fd_(fd), bytes_(bytes) {
  try {
    check_size(fd, bytes);
  } catch (...) {
    ::close(fd);
    throw;
  }
}

BlobFile::~BlobFile() { ::close(fd_); }

void BlobFile::read_into(void* out) const {
  char* to = static_cast<char*>(out);
  for (std::size_t done = 0; done < bytes_;) {
    const ssize_t n = ::pread(fd_, to + done, bytes_ - done, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) detail::throw_os_error(errno, "pread (blob)");
    if (n == 0) throw ProtocolError("codec: a blob descriptor ended before its array did");
    done += static_cast<std::size_t>(n);
  }
}

}  // namespace spindle::process::detail
