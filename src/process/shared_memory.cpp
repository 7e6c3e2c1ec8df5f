// Shared memory segments: memfd for anonymous blocks (nothing to leak, passed by descriptor), POSIX shm with
// O_EXCL, mode 0600 and 128-bit random names for named ones.

#include "spindle/process/shared_memory.hpp"

#include "os_error.hpp"
#include "resource_tracker.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <mutex>
#include <system_error>
#include <vector>

namespace spindle::process {
namespace detail {

namespace {
void* map(int fd, std::size_t bytes, bool populate = false) {
  // A received segment is about to be read whole: populating its page tables in one call is several times
  // cheaper than taking a fault per 4 KiB page.
  void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | (populate ? MAP_POPULATE : 0), fd, 0);
  if (p == MAP_FAILED) throw_os_error(errno, "mmap");
  return p;
}

// The mappings a pool worker keeps between tasks (retain_adopted_segments): found by the memfd's identity and
// size. The kept Segment holds its descriptor open, so the inode cannot be freed and reused while it is here.
struct Retained {
  dev_t dev;
  ino_t ino;
  std::size_t bytes;
  std::shared_ptr<Segment> seg;
};

struct RetainedSegments {
  static constexpr std::size_t kMax = 8;
  std::mutex m;
  bool on = false;
  std::vector<Retained> kept;         // oldest first
  std::atomic<std::size_t> count{0};  // kept.size(), read without the lock by a worker's loop
};

RetainedSegments& retained() {
  static RetainedSegments* r = new RetainedSegments;  // never destroyed: workers leave with _exit
  return *r;
}

}  // namespace

void retain_adopted_segments(bool on) noexcept {
  {
    std::lock_guard lock(retained().m);
    retained().on = on;
  }
  if (!on) release_retained_segments();
}

void release_retained_segments() noexcept {
  std::vector<Retained> drop;
  std::lock_guard lock(retained().m);
  drop.swap(retained().kept);
  retained().count.store(0, std::memory_order_relaxed);
}  // the lock goes first (declared last), then the mappings

std::size_t retained_segments() noexcept { return retained().count.load(std::memory_order_relaxed); }

std::string random_name() {
  unsigned char bits[16];
  std::size_t got = 0;
  while (got < sizeof bits) {
    const ssize_t n = ::getrandom(bits + got, sizeof bits - got, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_os_error(errno, "getrandom");
    }
    got += static_cast<std::size_t>(n);
  }
  std::string name = "/spindle-";
  char hex[3];
  for (unsigned char b : bits) {
    std::snprintf(hex, sizeof hex, "%02x", b);
    name += hex;
  }
  return name;
}

Segment::Segment(int fd, void* addr, std::size_t bytes, std::string name, bool owner) noexcept
    : fd_(fd), addr_(addr), bytes_(bytes), name_(std::move(name)), owner_pid_(owner ? ::getpid() : 0) {}

std::shared_ptr<Segment> Segment::create(std::size_t bytes, const char* debug_name) {
  if (bytes == 0) bytes = 1;
  const int fd = ::memfd_create(debug_name, MFD_CLOEXEC);
  if (fd < 0) throw_os_error(errno, "memfd_create");
  if (::ftruncate(fd, static_cast<off_t>(bytes)) != 0) {
    const int e = errno;
    ::close(fd);
    detail::throw_os_error(e, "ftruncate");
  }
  try {
    return std::make_shared<Segment>(fd, map(fd, bytes), bytes, std::string(), false);
  } catch (...) {
    ::close(fd);
    throw;
  }
}

std::shared_ptr<Segment> Segment::adopt(int fd, std::size_t bytes) {
  struct stat st {};
  if (::fstat(fd, &st) != 0 || static_cast<std::uint64_t>(st.st_size) < bytes || bytes == 0) {
    ::close(fd);
    throw ProtocolError("shared memory handle: the object is smaller than announced");
  }
  RetainedSegments& r = retained();
  std::unique_lock lock(r.m);
  if (r.on) {
    for (auto it = r.kept.begin(); it != r.kept.end(); ++it) {
      if (it->dev == st.st_dev && it->ino == st.st_ino && it->bytes == bytes) {
        std::shared_ptr<Segment> seg = it->seg;
        std::rotate(it, it + 1, r.kept.end());  // now the most recently used
        lock.unlock();
        ::close(fd);
        return seg;
      }
    }
  }
  lock.unlock();
  std::shared_ptr<Segment> seg;
  try {
    seg = std::make_shared<Segment>(fd, map(fd, bytes, bytes >= (std::size_t{1} << 20)), bytes, std::string(), false);
  } catch (...) {
    ::close(fd);
    throw;
  }
  std::shared_ptr<Segment> evicted;
  lock.lock();
  if (r.on) {
    try {
      if (r.kept.size() >= RetainedSegments::kMax) {
        evicted = std::move(r.kept.front().seg);
        r.kept.erase(r.kept.begin());
      }
      r.kept.push_back({st.st_dev, st.st_ino, bytes, seg});
    } catch (...) {  // out of memory for the list: the segment simply is not kept
    }
    r.count.store(r.kept.size(), std::memory_order_relaxed);
  }
  lock.unlock();
  return seg;
}

std::shared_ptr<Segment> Segment::open_named(const std::string& name, bool create, std::size_t bytes) {
  // Registered before it exists: a creator killed right after shm_open must not leak it.
  if (create) track_shm(name);
  const int fd = create ? ::shm_open(name.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600)
                        : ::shm_open(name.c_str(), O_RDWR | O_CLOEXEC, 0);
  if (fd < 0) {
    const int e = errno;
    if (create) untrack_shm(name);
    detail::throw_os_error(e, create ? "shm_open(O_CREAT|O_EXCL)" : "shm_open");
  }
  try {
    if (create) {
      if (::ftruncate(fd, static_cast<off_t>(bytes)) != 0) throw_os_error(errno, "ftruncate");
    } else {
      struct stat st {};
      if (::fstat(fd, &st) != 0) throw_os_error(errno, "fstat");
      if (st.st_uid != ::geteuid()) {
        errno = EPERM;  // never use an object another user planted under a name we were given
        throw_os_error(errno, "shm_open: segment owned by another user");
      }
      bytes = static_cast<std::size_t>(st.st_size);
    }
    if (bytes == 0) {
      errno = EINVAL;
      throw_os_error(errno, "shared memory of size 0");
    }
    return std::make_shared<Segment>(fd, map(fd, bytes), bytes, name, create);
  } catch (...) {
    ::close(fd);
    if (create) {
      ::shm_unlink(name.c_str());
      untrack_shm(name);
    }
    throw;
  }
}

void Segment::unlink() {
  if (!name_.empty() && ::shm_unlink(name_.c_str()) != 0 && errno != ENOENT) throw_os_error(errno, "shm_unlink");
  if (owner_pid_ != 0) untrack_shm(name_);
  owner_pid_ = 0;
}

Segment::~Segment() {
  if (addr_) ::munmap(addr_, bytes_);
  if (fd_ >= 0) ::close(fd_);
  if (owner_pid_ != 0 && owner_pid_ == ::getpid() && !name_.empty()) {
    ::shm_unlink(name_.c_str());
    untrack_shm(name_);
  }
}

}  // namespace detail

SharedMemory SharedMemory::create_named(std::size_t size) {
  for (int attempt = 0;; ++attempt) {
    try {
      return SharedMemory(detail::Segment::open_named(detail::random_name(), true, size));
    } catch (const std::system_error& e) {
      if (e.code().value() != EEXIST || attempt > 3) throw;
    }
  }
}

SharedMemory SharedMemory::attach(const std::string& name) {
  return SharedMemory(detail::Segment::open_named(name, false, 0));
}

const std::string& SharedMemory::name() const noexcept {
  static const std::string empty;
  return seg_ ? seg_->name() : empty;
}

}  // namespace spindle::process
