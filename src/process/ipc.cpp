// Interprocess Lock, Semaphore, Queue and Pipe.

#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <ctime>
#include <algorithm>
#include <system_error>

#include "spindle/process/lock.hpp"
#include "spindle/process/pipe.hpp"
#include "spindle/process/queue.hpp"

namespace spindle::process {

namespace {
[[noreturn]] void fail(int err, const char* what) { throw std::system_error(err, std::generic_category(), what); }

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
  if (rc != 0) fail(rc, "pthread_mutex_init");
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
  fail(rc, "Lock.acquire");
}

void Lock::release() {
  const int rc = pthread_mutex_unlock(reinterpret_cast<pthread_mutex_t*>(shm_.buf().data()));
  if (rc != 0) fail(rc, "Lock.release");
}

// --- Semaphore ------------------------------------------------------------------------------------------

Semaphore::Semaphore(unsigned value) : shm_(sizeof(sem_t)) {
  if (::sem_init(reinterpret_cast<sem_t*>(shm_.buf().data()), 1, value) != 0) fail(errno, "sem_init");
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
    fail(errno, "Semaphore.acquire");
  }
}

void Semaphore::release(unsigned n) {
  for (unsigned i = 0; i < n; ++i)
    if (::sem_post(reinterpret_cast<sem_t*>(shm_.buf().data())) != 0) fail(errno, "sem_post");
}

int Semaphore::get_value() const {
  int v = 0;
  ::sem_getvalue(reinterpret_cast<sem_t*>(shm_.buf().data()), &v);
  return v;
}

// --- Queue ----------------------------------------------------------------------------------------------

namespace detail {

QueueCore::QueueCore(std::size_t maxsize, std::size_t max_item_bytes)
    : maxsize_(maxsize), max_item_(max_item_bytes), count_(1) {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) fail(errno, "socketpair");
  wfd_ = sv[0];
  rfd_ = sv[1];
  const int bytes = static_cast<int>(std::min<std::size_t>(std::max<std::size_t>(max_item_bytes * 4, 1 << 20), 64 << 20));
  ::setsockopt(wfd_, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof bytes);
  ::setsockopt(rfd_, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes);
  if (maxsize) slots_.emplace(static_cast<unsigned>(maxsize));
}

QueueCore::~QueueCore() {
  if (wfd_ >= 0) ::close(wfd_);
  if (rfd_ >= 0) ::close(rfd_);
}

bool QueueCore::put(const std::string& bytes, bool block, std::optional<std::chrono::nanoseconds> timeout) {
  if (bytes.size() > max_item_) throw ProtocolError("Queue.put: item larger than max_item_bytes");
  if (slots_ && !slots_->acquire(block, timeout)) return false;
  for (;;) {
    const ssize_t n = ::send(wfd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n >= 0) break;
    if (errno == EINTR) continue;
    if (slots_) slots_->release();
    fail(errno, "Queue.put");
  }
  std::atomic_ref<long>(count_[0]).fetch_add(1, std::memory_order_relaxed);
  return true;
}

bool QueueCore::get(std::string& bytes, bool block, std::optional<std::chrono::nanoseconds> timeout) {
  std::optional<std::chrono::steady_clock::time_point> deadline;
  if (!block) deadline = std::chrono::steady_clock::now();
  else if (timeout) deadline = std::chrono::steady_clock::now() + *timeout;
  bytes.resize(max_item_ + 1);
  for (;;) {
    pollfd p{rfd_, POLLIN, 0};
    const int r = ::poll(&p, 1, poll_ms(deadline));
    if (r < 0 && errno == EINTR) continue;
    if (r == 0) return false;
    // Several consumers may race for one message: a non-blocking receive that finds nothing polls again.
    const ssize_t n = ::recv(rfd_, bytes.data(), bytes.size(), MSG_DONTWAIT | MSG_TRUNC);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) continue;
      fail(errno, "Queue.get");
    }
    std::atomic_ref<long>(count_[0]).fetch_sub(1, std::memory_order_relaxed);
    if (slots_) slots_->release();
    if (static_cast<std::size_t>(n) > max_item_) throw ProtocolError("Queue.get: item larger than max_item_bytes");
    bytes.resize(static_cast<std::size_t>(n));
    return true;
  }
}

std::size_t QueueCore::qsize() const noexcept {
  const long c = std::atomic_ref<long>(count_[0]).load(std::memory_order_relaxed);
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
  for (;;) {
    const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n >= 0) return;
    if (errno != EINTR) fail(errno, "Connection.send");
  }
}

bool ConnectionCore::recv(std::string& bytes, std::optional<std::chrono::nanoseconds> timeout) {
  if (timeout && !poll(*timeout)) return false;
  bytes.resize(max_ + 1);
  for (;;) {
    const ssize_t n = ::recv(fd_, bytes.data(), bytes.size(), MSG_TRUNC);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail(errno, "Connection.recv");
    }
    if (n == 0) throw spindle::Error("EOFError: the other end of the pipe is closed");
    if (static_cast<std::size_t>(n) > max_) throw ProtocolError("Connection.recv: message larger than the bound");
    bytes.resize(static_cast<std::size_t>(n));
    return true;
  }
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
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) fail(errno, "socketpair");
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
