// Interprocess Lock, Semaphore, Queue and Pipe.

#include <linux/futex.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <ctime>
#include <stdexcept>

#include "fd_passing.hpp"
#include "os_error.hpp"
#include "spindle/process/lock.hpp"
#include "spindle/process/pipe.hpp"
#include "spindle/process/queue.hpp"

namespace spindle::process {

namespace {
timespec monotonic_deadline(std::chrono::nanoseconds timeout) {
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  const auto ns = timeout.count() < 0 ? 0 : timeout.count();
  long long total = static_cast<long long>(now.tv_nsec) + ns % 1'000'000'000;
  timespec ts{};
  ts.tv_sec = now.tv_sec + static_cast<time_t>(ns / 1'000'000'000 + total / 1'000'000'000);
  ts.tv_nsec = static_cast<long>(total % 1'000'000'000);
  return ts;
}

int poll_ms(std::optional<std::chrono::steady_clock::time_point> deadline) {
  if (!deadline) return -1;
  const auto left = std::chrono::ceil<std::chrono::milliseconds>(*deadline - std::chrono::steady_clock::now());
  return left.count() < 0 ? 0 : static_cast<int>(std::min<long long>(left.count(), 1 << 30));
}
}  // namespace

// --- Lock -----------------------------------------------------------------------------------------------

Lock::Lock() : shm_(sizeof(pthread_mutex_t)) {
  pthread_mutexattr_t a;
  pthread_mutexattr_init(&a);
  pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
  pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
  const int rc = pthread_mutex_init(reinterpret_cast<pthread_mutex_t*>(shm_.buf().data()), &a);
  pthread_mutexattr_destroy(&a);
  if (rc != 0) detail::throw_os_error(rc, "pthread_mutex_init");
}

void Lock::check() const {
  if (shm_.size() < sizeof(pthread_mutex_t)) throw ProtocolError("Lock: bad handle");
}

bool Lock::acquire(bool blocking, std::optional<std::chrono::nanoseconds> timeout) {
  auto* m = reinterpret_cast<pthread_mutex_t*>(shm_.buf().data());
  int rc;
  if (!blocking) {
    rc = pthread_mutex_trylock(m);
  } else if (timeout) {
    // timedlock (CLOCK_REALTIME) rather than clocklock: sanitizers intercept it, so TSan sees the
    // acquisition; a wall-clock jump during the wait only shortens or lengthens this one timeout.
    timespec ts{};
    ::clock_gettime(CLOCK_REALTIME, &ts);
    const auto ns = std::max<long long>(0, timeout->count());
    const long long total = static_cast<long long>(ts.tv_nsec) + ns % 1'000'000'000;
    ts.tv_sec += static_cast<time_t>(ns / 1'000'000'000 + total / 1'000'000'000);
    ts.tv_nsec = static_cast<long>(total % 1'000'000'000);
    rc = pthread_mutex_timedlock(m, &ts);
  } else {
    rc = pthread_mutex_lock(m);
  }
  if (rc == EOWNERDEAD) {  // the holder died: the lock is ours, and usable again
    pthread_mutex_consistent(m);
    return true;
  }
  if (rc == 0) return true;
  if (rc == EBUSY || rc == ETIMEDOUT) return false;
  detail::throw_os_error(rc, "Lock.acquire");
}

void Lock::release() {
  const int rc = pthread_mutex_unlock(reinterpret_cast<pthread_mutex_t*>(shm_.buf().data()));
  if (rc != 0) detail::throw_os_error(rc, "Lock.release");
}

// --- Semaphore ------------------------------------------------------------------------------------------

Semaphore::Semaphore(unsigned value) : shm_(sizeof(sem_t)) {
  if (::sem_init(reinterpret_cast<sem_t*>(shm_.buf().data()), 1, value) != 0) detail::throw_os_error(errno, "sem_init");
}

void Semaphore::check() const {
  if (shm_.size() < sizeof(sem_t)) throw ProtocolError("Semaphore: bad handle");
}

bool Semaphore::acquire(bool blocking, std::optional<std::chrono::nanoseconds> timeout) {
  auto* s = reinterpret_cast<sem_t*>(shm_.buf().data());
  for (;;) {
    int rc;
    if (!blocking) {
      rc = ::sem_trywait(s);
    } else if (timeout) {
      const timespec ts = monotonic_deadline(*timeout);
      rc = ::sem_clockwait(s, CLOCK_MONOTONIC, &ts);
    } else {
      rc = ::sem_wait(s);
    }
    if (rc == 0) return true;
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == ETIMEDOUT) return false;
    detail::throw_os_error(errno, "Semaphore.acquire");
  }
}

void Semaphore::release(unsigned n) {
  for (unsigned i = 0; i < n; ++i)
    if (::sem_post(reinterpret_cast<sem_t*>(shm_.buf().data())) != 0) detail::throw_os_error(errno, "sem_post");
}

int Semaphore::get_value() const {
  int v = 0;
  ::sem_getvalue(reinterpret_cast<sem_t*>(shm_.buf().data()), &v);
  return v;
}

// --- Messages -------------------------------------------------------------------------------------------
//
// Queue and Pipe messages are SOCK_SEQPACKET records: a WireHeader, then the item. A unix datagram larger
// than the socket's send buffer is refused (EMSGSIZE), and an unprivileged process cannot raise that buffer
// over net.core.wmem_max (208 KiB by default), so an item over kInlineMax travels in a sealed-by-convention
// memfd passed with SCM_RIGHTS: the record then carries only the header, whose `ext` is the item's size.

namespace detail {
namespace {

struct WireHeader {
  std::uint32_t slot;  // bounded Queue: the ledger slot of the item
  std::uint32_t gen;   // and its generation
  std::uint64_t ext;   // 0: the item follows inline; else its size, in the attached memfd
};

constexpr std::size_t kInlineMax = std::size_t{64} << 10;

void send_wire(int fd, WireHeader h, const std::string& bytes, const char* what) {
  int mfd = -1;
  struct Closer {
    int& fd;
    ~Closer() {
      if (fd >= 0) ::close(fd);
    }
  } closer{mfd};
  iovec iov[2] = {{&h, sizeof h}, {const_cast<char*>(bytes.data()), bytes.size()}};
  std::size_t iovlen = 2;
  if (bytes.size() > kInlineMax) {
    mfd = ::memfd_create("spindle-item", MFD_CLOEXEC);
    if (mfd < 0) detail::throw_os_error(errno, what);
    std::size_t off = 0;
    while (off < bytes.size()) {
      const ssize_t n = ::write(mfd, bytes.data() + off, bytes.size() - off);
      if (n < 0) {
        if (errno == EINTR) continue;
        detail::throw_os_error(errno, what);
      }
      off += static_cast<std::size_t>(n);
    }
    h.ext = bytes.size();
    iovlen = 1;
  }
  const int fds[1] = {mfd};
  const std::span<const int> pass = mfd >= 0 ? std::span<const int>(fds) : std::span<const int>();
  if (send_fds(fd, {iov, iovlen}, pass) < 0) detail::throw_os_error(errno, what);
}

enum class Received { item, again, eof };

// Receives one record into `h` and `bytes` (at most `max` item bytes). A record that breaks the format still
// hands back its header (so a bounded Queue frees its slot) and throws ProtocolError after.
template <class OnHeader>
Received recv_wire(int fd, WireHeader& h, std::string& bytes, std::size_t max, int flags, const char* what,
                   OnHeader&& on_header) {
  bytes.resize(std::min(max, kInlineMax) + 1);
  h = {0, 0, 0};
  iovec iov[2] = {{&h, sizeof h}, {bytes.data(), bytes.size()}};
  // Room for a few descriptors: a record carries at most one; extras are closed, more is EPROTO.
  ReceivedFds got;
  long n;
  for (;;) {
    n = recv_fds(fd, iov, got, flags | MSG_TRUNC, 4);
    if (n >= 0) break;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return Received::again;
    if (errno == EPROTO) throw ProtocolError(std::string(what) + ": a record carried too many descriptors");
    detail::throw_os_error(errno, what);
  }
  if (n == 0) return Received::eof;
  int mfd = got.count > 0 ? got.fd[0] : -1;
  for (std::size_t i = 1; i < got.count; ++i) ::close(got.fd[i]);  // never more than one; do not leak extras
  struct Closer {
    int& fd;
    ~Closer() {
      if (fd >= 0) ::close(fd);
    }
  } closer{mfd};
  if (static_cast<std::size_t>(n) < sizeof h)
    throw ProtocolError(std::string(what) + ": record shorter than its header");
  on_header(h);
  const std::size_t inline_bytes = static_cast<std::size_t>(n) - sizeof h;
  if (h.ext == 0) {
    if (mfd >= 0) throw ProtocolError(std::string(what) + ": unexpected descriptor");
    if (inline_bytes > max) throw ProtocolError(std::string(what) + ": item larger than the bound");
    bytes.resize(inline_bytes);
    return Received::item;
  }
  if (mfd < 0 || inline_bytes != 0) throw ProtocolError(std::string(what) + ": malformed out-of-line item");
  if (h.ext > max) throw ProtocolError(std::string(what) + ": item larger than the bound");
  struct stat st {};
  if (::fstat(mfd, &st) != 0 || static_cast<std::uint64_t>(st.st_size) < h.ext)
    throw ProtocolError(std::string(what) + ": out-of-line item smaller than announced");
  bytes.resize(static_cast<std::size_t>(h.ext));
  std::size_t off = 0;
  while (off < bytes.size()) {
    const ssize_t r = ::pread(mfd, bytes.data() + off, bytes.size() - off, static_cast<off_t>(off));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) detail::throw_os_error(r < 0 ? errno : EIO, what);
    off += static_cast<std::size_t>(r);
  }
  return Received::item;
}

}  // namespace
}  // namespace detail

// --- Queue ----------------------------------------------------------------------------------------------
//
// A bounded queue needs a slot taken before an item is sent. A semaphore (Python's design) loses the slot
// for good if the putter dies between taking it and sending: a queue of maxsize 1 is then wedged. Here a
// slot is an entry of a ledger in shared memory, reserved under the putter's pid with a generation; the item
// carries (slot, generation); the getter frees the slot whose generation matches. A putter that finds the
// queue full frees the reservations of dead pids, bumping their generation, so that an item the dead putter
// did send no longer matches: the bound is then briefly exceeded by that one item, never lowered for good.
// The ledger is guarded by a robust mutex: a process that dies inside the few instructions it holds it hands
// it over with EOWNERDEAD, and the next holder rebuilds the free list from the entries, which are the truth.

namespace detail {

namespace {

enum : std::uint32_t { kSlotFree = 0, kSlotReserved = 1, kSlotSent = 2 };

struct SlotEntry {
  std::int32_t pid;  // the reserving process while kSlotReserved
  std::uint32_t gen;
  std::uint32_t state;
};

struct QueueCtl {
  pthread_mutex_t mu;
  std::uint32_t wake;         // futex word: bumped when a slot is freed
  std::uint32_t free_top;     // entries on the free stack
  std::uint32_t next_unused;  // entries [next_unused, maxsize) were never used (a lazy free list)
  std::uint32_t reserved;     // entries in kSlotReserved
  std::uint64_t maxsize;
  long count;  // items sent and not yet received (atomic_ref)
};

constexpr std::size_t kMaxQueueSlots = std::size_t{1} << 26;
constexpr auto kReclaimSlice = std::chrono::milliseconds(100);

std::size_t ctl_bytes(std::size_t maxsize) {
  return sizeof(QueueCtl) + maxsize * (sizeof(SlotEntry) + sizeof(std::uint32_t));
}

struct Ledger {
  QueueCtl* ctl;
  SlotEntry* entries;
  std::uint32_t* stack;

  explicit Ledger(const SharedMemory& m)
      : ctl(reinterpret_cast<QueueCtl*>(m.buf().data())),
        entries(reinterpret_cast<SlotEntry*>(m.buf().data() + sizeof(QueueCtl))),
        stack(reinterpret_cast<std::uint32_t*>(m.buf().data() + sizeof(QueueCtl) + ctl->maxsize * sizeof(SlotEntry))) {}

  void lock() {
    const int rc = pthread_mutex_lock(&ctl->mu);
    if (rc == EOWNERDEAD) {
      repair();
      pthread_mutex_consistent(&ctl->mu);
    } else if (rc != 0) {
      detail::throw_os_error(rc, "Queue: lock");
    }
  }
  void unlock() { pthread_mutex_unlock(&ctl->mu); }

  // A holder died mid-update: the entries are the truth; rebuild the free stack and counts from them.
  void repair() noexcept {
    ctl->free_top = 0;
    ctl->reserved = 0;
    for (std::uint32_t i = 0; i < ctl->next_unused; ++i) {
      if (entries[i].state == kSlotFree) stack[ctl->free_top++] = i;
      if (entries[i].state == kSlotReserved) ++ctl->reserved;
    }
  }

  std::uint64_t free_slots() const noexcept { return ctl->free_top + (ctl->maxsize - ctl->next_unused); }

  // Frees entry i (lock held).
  void release(std::uint32_t i) noexcept {
    if (entries[i].state == kSlotReserved) --ctl->reserved;
    entries[i].state = kSlotFree;
    entries[i].pid = 0;
    stack[ctl->free_top++] = i;
    ++ctl->wake;
  }

  // Frees the reservations of processes that died (lock held); the number freed.
  std::size_t reclaim_dead() noexcept {
    std::size_t n = 0;
    for (std::uint32_t i = 0; i < ctl->next_unused && ctl->reserved > 0; ++i) {
      if (entries[i].state != kSlotReserved) continue;
      if (::kill(entries[i].pid, 0) == 0 || errno != ESRCH) continue;
      ++entries[i].gen;  // an item the dead putter did send must not free the slot a second time
      release(i);
      ++n;
    }
    return n;
  }

  void wake_one() noexcept { ::syscall(SYS_futex, &ctl->wake, FUTEX_WAKE, 1, nullptr, nullptr, 0); }
  void wait(std::uint32_t seen, std::chrono::nanoseconds slice) noexcept {
    const auto ns = std::max<long long>(0, slice.count());
    timespec ts{static_cast<time_t>(ns / 1'000'000'000), static_cast<long>(ns % 1'000'000'000)};
    ::syscall(SYS_futex, &ctl->wake, FUTEX_WAIT, seen, &ts, nullptr, 0);
  }
};

}  // namespace

QueueCore::QueueCore(std::size_t maxsize, std::size_t max_item_bytes) : maxsize_(maxsize), max_item_(max_item_bytes) {
  if (maxsize > kMaxQueueSlots) throw std::invalid_argument("Queue: maxsize over 2^26");
  ctl_ = SharedMemory(ctl_bytes(maxsize));
  auto* ctl = reinterpret_cast<QueueCtl*>(ctl_.buf().data());
  ctl->maxsize = maxsize;
  pthread_mutexattr_t a;
  pthread_mutexattr_init(&a);
  pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
  pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
  const int rc = pthread_mutex_init(&ctl->mu, &a);
  pthread_mutexattr_destroy(&a);
  if (rc != 0) detail::throw_os_error(rc, "Queue: pthread_mutex_init");
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) detail::throw_os_error(errno, "socketpair");
  wfd_ = sv[0];
  rfd_ = sv[1];
  const int bytes =
      static_cast<int>(std::min<std::size_t>(std::max<std::size_t>(max_item_bytes * 4, 1 << 20), 64 << 20));
  ::setsockopt(wfd_, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof bytes);
  ::setsockopt(rfd_, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes);
}

void QueueCore::check() const {
  if (maxsize_ > kMaxQueueSlots || ctl_.size() < ctl_bytes(maxsize_) ||
      reinterpret_cast<const QueueCtl*>(ctl_.buf().data())->maxsize != maxsize_)
    throw ProtocolError("Queue: bad handle");
}

QueueCore::~QueueCore() {
  if (wfd_ >= 0) ::close(wfd_);
  if (rfd_ >= 0) ::close(rfd_);
}

bool QueueCore::put(const std::string& bytes, bool block, std::optional<std::chrono::nanoseconds> timeout) {
  if (bytes.size() > max_item_) throw ProtocolError("Queue.put: item larger than max_item_bytes");
  WireHeader h{0, 0, 0};
  std::optional<Ledger> ledger;
  if (maxsize_) {
    ledger.emplace(ctl_);
    std::optional<std::chrono::steady_clock::time_point> deadline;
    if (!block)
      deadline = std::chrono::steady_clock::now();
    else if (timeout)
      deadline = std::chrono::steady_clock::now() + *timeout;
    ledger->lock();
    for (;;) {
      if (ledger->free_slots() > 0) break;
      if (ledger->ctl->reserved > 0 && ledger->reclaim_dead() > 0) continue;
      auto slice = std::chrono::nanoseconds(kReclaimSlice);
      if (deadline) {
        const auto left = *deadline - std::chrono::steady_clock::now();
        if (left <= std::chrono::nanoseconds::zero()) {
          ledger->unlock();
          return false;
        }
        slice = std::min<std::chrono::nanoseconds>(slice, left);
      }
      // Sliced: the only event that frees a slot a dead putter holds is a look at the ledger.
      const std::uint32_t seen = ledger->ctl->wake;
      ledger->unlock();
      ledger->wait(seen, slice);
      ledger->lock();
    }
    QueueCtl& c = *ledger->ctl;
    const std::uint32_t i = c.free_top > 0 ? ledger->stack[--c.free_top] : c.next_unused++;
    SlotEntry& e = ledger->entries[i];
    ++e.gen;
    e.pid = static_cast<std::int32_t>(::getpid());
    e.state = kSlotReserved;
    ++c.reserved;
    h = {i, e.gen, 0};
    ledger->unlock();
  }
  try {
    send_wire(wfd_, h, bytes, "Queue.put");
  } catch (...) {
    if (ledger) {
      ledger->lock();
      SlotEntry& e = ledger->entries[h.slot];
      if (e.gen == h.gen && e.state == kSlotReserved) ledger->release(h.slot);
      ledger->unlock();
      ledger->wake_one();
    }
    throw;
  }
  // Count before the reservation is closed: a getter may take the item (and decrement) at once.
  std::atomic_ref<long>(reinterpret_cast<QueueCtl*>(ctl_.buf().data())->count).fetch_add(1, std::memory_order_relaxed);
  if (ledger) {
    ledger->lock();
    SlotEntry& s = ledger->entries[h.slot];
    if (s.gen == h.gen && s.state == kSlotReserved) {  // else a getter already took the item and freed it
      s.state = kSlotSent;
      s.pid = 0;
      --ledger->ctl->reserved;
    }
    ledger->unlock();
  }
  return true;
}

bool QueueCore::get(std::string& bytes, bool block, std::optional<std::chrono::nanoseconds> timeout) {
  std::optional<std::chrono::steady_clock::time_point> deadline;
  if (!block)
    deadline = std::chrono::steady_clock::now();
  else if (timeout)
    deadline = std::chrono::steady_clock::now() + *timeout;
  auto* ctl = reinterpret_cast<QueueCtl*>(ctl_.buf().data());
  // Whatever follows, a received record was taken off the queue: count it and free its slot first.
  const auto taken = [&](const WireHeader& h) {
    std::atomic_ref<long>(ctl->count).fetch_sub(1, std::memory_order_relaxed);
    if (!maxsize_ || h.slot >= maxsize_) return;
    Ledger ledger(ctl_);
    ledger.lock();
    SlotEntry& s = ledger.entries[h.slot];
    const bool mine = h.slot < ctl->next_unused && s.gen == h.gen && s.state != kSlotFree;
    if (mine) ledger.release(h.slot);
    ledger.unlock();
    if (mine) ledger.wake_one();
  };
  for (;;) {
    pollfd p{rfd_, POLLIN, 0};
    const int r = ::poll(&p, 1, poll_ms(deadline));
    if (r < 0 && errno == EINTR) continue;
    if (r == 0) return false;
    // Several consumers may race for one message: a non-blocking receive that finds nothing polls again.
    WireHeader h{};
    const Received got = recv_wire(rfd_, h, bytes, max_item_, MSG_DONTWAIT, "Queue.get", taken);
    if (got == Received::item) return true;
    if (got == Received::eof) throw spindle::Error("Queue.get: the queue's socket was shut down");
  }
}

std::size_t QueueCore::qsize() const noexcept {
  const long c =
      std::atomic_ref<long>(reinterpret_cast<QueueCtl*>(ctl_.buf().data())->count).load(std::memory_order_relaxed);
  return c < 0 ? 0 : static_cast<std::size_t>(c);
}

// --- Pipe -----------------------------------------------------------------------------------------------

ConnectionCore::~ConnectionCore() { close(); }

void ConnectionCore::close() noexcept {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

void ConnectionCore::send(const std::string& bytes) {
  if (bytes.size() > max_) throw ProtocolError("Connection.send: message larger than the connection's bound");
  send_wire(fd_, WireHeader{0, 0, 0}, bytes, "Connection.send");
}

bool ConnectionCore::recv(std::string& bytes, std::optional<std::chrono::nanoseconds> timeout) {
  if (timeout && !poll(*timeout)) return false;
  WireHeader h{};
  const Received got = recv_wire(fd_, h, bytes, max_, 0, "Connection.recv", [](const WireHeader&) {});
  if (got == Received::eof) throw spindle::Error("EOFError: the other end of the pipe is closed");
  return true;
}

bool ConnectionCore::poll(std::chrono::nanoseconds timeout) const {
  pollfd p{fd_, POLLIN, 0};
  const auto ms = std::chrono::ceil<std::chrono::milliseconds>(timeout).count();
  for (;;) {
    const int r = ::poll(&p, 1, static_cast<int>(std::max<long long>(0, ms)));
    if (r < 0 && errno == EINTR) continue;
    return r > 0;
  }
}

std::pair<std::shared_ptr<ConnectionCore>, std::shared_ptr<ConnectionCore>> make_pipe(bool duplex, std::size_t max) {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) detail::throw_os_error(errno, "socketpair");
  const int bytes = static_cast<int>(std::min<std::size_t>(std::max<std::size_t>(max * 2, 1 << 20), 64 << 20));
  for (int fd : sv) {
    ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof bytes);
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes);
  }
  if (!duplex) {
    ::shutdown(sv[0], SHUT_WR);
    ::shutdown(sv[1], SHUT_RD);
  }
  return {std::make_shared<ConnectionCore>(sv[0], max), std::make_shared<ConnectionCore>(sv[1], max)};
}

std::shared_ptr<ConnectionCore> adopt_connection(int fd, std::size_t max) {
  return std::make_shared<ConnectionCore>(fd, max);
}

}  // namespace detail
}  // namespace spindle::process
