// The stream transport (one per connection or pipe), StreamReader/StreamWriter, open_connection.

#include "spindle/aio/streams.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <ctime>

#include "spindle/aio/detail/io_wait.hpp"
#include "spindle/aio/detail/wait_list.hpp"
#include "spindle/aio/event_loop.hpp"
#include "spindle/aio/timeout.hpp"

namespace spindle::aio {
namespace detail {
namespace {

/// write() to a pipe without SIGPIPE: the signal is blocked for the call and a SIGPIPE it raised is consumed
/// (pipes have no MSG_NOSIGNAL). A SIGPIPE that was already pending before the call is left alone.
ssize_t pipe_write(int fd, const char* p, std::size_t n) {
  sigset_t set;
  sigset_t old;
  sigset_t pending;
  sigemptyset(&set);
  sigaddset(&set, SIGPIPE);
  sigpending(&pending);
  const bool was_pending = sigismember(&pending, SIGPIPE) == 1;
  pthread_sigmask(SIG_BLOCK, &set, &old);
  const ssize_t r = ::write(fd, p, n);
  const int e = errno;
  if (r < 0 && e == EPIPE && !was_pending) {
    timespec zero{};
    while (::sigtimedwait(&set, nullptr, &zero) < 0 && errno == EINTR) {
    }
  }
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  errno = e;
  return r;
}

bool transient(int e) noexcept { return e == EAGAIN || e == EWOULDBLOCK || e == EINTR; }

}  // namespace

class StreamTransport : public std::enable_shared_from_this<StreamTransport> {
 public:
  StreamTransport(EventLoop& loop, int fd, bool sock, bool readable, bool writable, std::size_t limit)
      : loop_(&loop), core_(&loop.core()), fd_(fd), sock_(sock), writable_(writable), limit_(limit) {
    if (!readable) {
      eof_ = true;
    } else {
      start_reading();  // may throw: the caller still owns nothing then, so close the fd
    }
  }
  ~StreamTransport() { abort(); }
  StreamTransport(const StreamTransport&) = delete;
  StreamTransport& operator=(const StreamTransport&) = delete;

  // ---- read side ----
  struct ReadWait final : Waiter {
    StreamTransport* t;
    TaskState* task = nullptr;
    explicit ReadWait(StreamTransport* tr) noexcept : t(tr) {}
    ReadWait(const ReadWait&) = delete;
    ReadWait& operator=(const ReadWait&) = delete;
    ~ReadWait() { detach(); }
    bool await_ready() const noexcept { return false; }
    bool await_suspend(std::coroutine_handle<> h) {
      if (t->rwaiter_ != nullptr)
        throw InvalidStateError("read() called while another task is already waiting on this stream");
      task = &running_task();
      if (task->must_cancel()) return false;
      t->rwaiter_ = this;
      t->start_reading();
      task->suspend_on(this, h);
      return true;
    }
    void await_resume() {
      detach();
      task->throw_if_cancelled();
    }
    bool cancel_wait() noexcept override {
      detach();
      return true;
    }
    void abandon_wait() noexcept override { detach(); }
    void detach() noexcept {
      if (t->rwaiter_ == this) t->rwaiter_ = nullptr;
    }
  };

  std::size_t avail() const noexcept { return rbuf_.size() - rpos_; }
  std::string_view data() const noexcept { return std::string_view(rbuf_).substr(rpos_); }
  std::string take(std::size_t n) {
    std::string out = rbuf_.substr(rpos_, n);
    consume(n);
    return out;
  }
  void consume(std::size_t n) noexcept {
    rpos_ += n;
    if (rpos_ >= rbuf_.size()) {
      rbuf_.clear();
      rpos_ = 0;
    } else if (rpos_ > 4096 && rpos_ * 2 > rbuf_.size()) {
      rbuf_.erase(0, rpos_);
      rpos_ = 0;
    }
  }
  bool eof() const noexcept { return eof_; }
  bool at_eof() const noexcept { return eof_ && avail() == 0; }
  void rethrow_read_error() const {
    if (rerr_) std::rethrow_exception(rerr_);
  }
  std::size_t limit() const noexcept { return limit_; }
  ReadWait wait_data() noexcept { return ReadWait(this); }

  // ---- write side ----
  std::size_t pending() const noexcept { return wbuf_.size() - wpos_; }
  bool closing() const noexcept { return closing_; }
  int fd() const noexcept { return fd_; }
  bool is_socket() const noexcept { return sock_; }
  std::size_t high() const noexcept { return high_; }
  const std::exception_ptr& write_error() const noexcept { return werr_; }
  WaitList& drainers() noexcept { return drainers_; }
  WaitList& closers() noexcept { return closers_; }

  void set_limits(std::size_t high, std::optional<std::size_t> low) {
    if (high == 0) high = 64 * 1024;
    const std::size_t lo = low.value_or(high / 4);
    if (lo > high) throw std::invalid_argument("set_write_buffer_limits: low > high");
    high_ = high;
    low_ = lo;
  }

  void write(std::string_view d) {
    if (!writable_) throw InvalidStateError("stream is not writable");
    if (closing_ || eof_written_) throw InvalidStateError("write() on a closing stream");
    if (werr_ || d.empty()) return;  // a failed connection drops data; drain() reports the error (asyncio)
    if (pending() == 0) {
      const ssize_t n = raw_write(d.data(), d.size());
      if (n < 0) {
        if (!transient(errno)) {
          fail(errno, "send");
          return;
        }
      } else {
        d.remove_prefix(static_cast<std::size_t>(n));
        if (d.empty()) return;
      }
    }
    if (wpos_ > 0 && wpos_ * 2 > wbuf_.size()) {
      wbuf_.erase(0, wpos_);
      wpos_ = 0;
    }
    wbuf_.append(d);
    start_writing();
  }

  void write_eof() {
    if (closing_ || eof_written_) return;
    eof_written_ = true;
    if (pending() == 0 && sock_ && fd_ >= 0) ::shutdown(fd_, SHUT_WR);
    if (pending() == 0 && !sock_ && fd_ >= 0) finish_close();  // a pipe has no half-close: EOF is close
  }

  void close() {
    if (closing_ || fd_ < 0) return;
    closing_ = true;
    stop_reading();
    eof_ = true;
    wake_reader();
    if (pending() == 0 || werr_) {
      finish_close();
    } else {
      self_ = shared_from_this();  // flush in the background even if every handle is gone
    }
  }

  /// Closes now, dropping buffered output.
  void abort() noexcept {
    if (fd_ < 0) return;
    closing_ = true;
    finish_close();
  }

  std::optional<SockAddr> name(bool peer) const {
    if (!sock_ || fd_ < 0) return std::nullopt;
    SockAddr a;
    a.len = sizeof a.storage;
    const int r = peer ? ::getpeername(fd_, reinterpret_cast<sockaddr*>(&a.storage), &a.len)
                       : ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a.storage), &a.len);
    if (r < 0) return std::nullopt;
    return a;
  }

 private:
  bool loop_usable() const noexcept { return loop_alive(core_) && !loop_->is_closed(); }

  ssize_t raw_write(const char* p, std::size_t n) {
    if (sock_) return ::send(fd_, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
    return pipe_write(fd_, p, n);
  }

  void start_reading() {
    if (reading_ || eof_ || fd_ < 0) return;
    loop_->add_reader(fd_, [this] { on_readable(); });
    reading_ = true;
  }
  void stop_reading() noexcept {
    if (!reading_) return;
    reading_ = false;
    if (loop_usable()) loop_->remove_reader(fd_);
  }
  void start_writing() {
    if (writing_ || fd_ < 0) return;
    loop_->add_writer(fd_, [this] { on_writable(); });
    writing_ = true;
  }
  void stop_writing() noexcept {
    if (!writing_) return;
    writing_ = false;
    if (loop_usable()) loop_->remove_writer(fd_);
  }
  void wake_reader() noexcept {
    if (rwaiter_ != nullptr) {
      ReadWait* w = rwaiter_;
      rwaiter_ = nullptr;
      w->task->wake();
    }
  }

  void on_readable() {
    char buf[64 * 1024];
    const ssize_t n = sock_ ? ::recv(fd_, buf, sizeof buf, 0) : ::read(fd_, buf, sizeof buf);
    if (n > 0) {
      rbuf_.append(buf, static_cast<std::size_t>(n));
      if (rwaiter_ != nullptr) {
        wake_reader();
      } else if (avail() > 2 * limit_) {
        stop_reading();  // nobody reads: stop taking more (the peer's sends then block: backpressure)
      }
      return;
    }
    if (n == 0) {
      eof_ = true;
      stop_reading();
      wake_reader();
      return;
    }
    if (transient(errno)) return;
    fail(errno, sock_ ? "recv" : "read");
  }

  void on_writable() {
    while (pending() > 0) {
      const ssize_t n = raw_write(wbuf_.data() + wpos_, pending());
      if (n < 0) {
        if (errno == EINTR) continue;
        if (transient(errno)) break;
        fail(errno, "send");
        return;
      }
      wpos_ += static_cast<std::size_t>(n);
    }
    if (pending() == 0) {
      wbuf_.clear();
      wpos_ = 0;
      stop_writing();
      if (closing_) {
        finish_close();
        return;
      }
      if (eof_written_) {
        if (sock_) {
          ::shutdown(fd_, SHUT_WR);
        } else {
          finish_close();
          return;
        }
      }
    }
    if (pending() <= low_) drainers_.wake_all();
  }

  /// A fatal error: both sides fail with it, the fd closes (asyncio's _fatal_error / _force_close).
  void fail(int e, const char* what) {
    auto err = std::make_exception_ptr(std::system_error(e, std::generic_category(), what));
    if (!werr_) werr_ = err;
    if (!rerr_) rerr_ = err;
    eof_ = true;
    closing_ = true;
    finish_close();
  }

  void finish_close() noexcept {
    stop_reading();
    stop_writing();
    if (fd_ >= 0) {
      ::close(fd_);
      fd_ = -1;
    }
    eof_ = true;
    wbuf_.clear();
    wpos_ = 0;
    wake_reader();
    drainers_.wake_all();
    closers_.wake_all();
    if (self_) {
      // Released last: this may be the final reference. Moved to a local so that the member is already empty.
      auto keep = std::move(self_);
      self_.reset();
    }
  }

  EventLoop* loop_;
  LoopCore* core_;
  int fd_;
  bool sock_;
  bool writable_;
  std::size_t limit_;

  std::string rbuf_;
  std::size_t rpos_ = 0;
  bool eof_ = false;
  bool reading_ = false;
  std::exception_ptr rerr_;
  ReadWait* rwaiter_ = nullptr;

  std::string wbuf_;
  std::size_t wpos_ = 0;
  std::size_t high_ = 64 * 1024;
  std::size_t low_ = 16 * 1024;
  bool writing_ = false;
  bool closing_ = false;
  bool eof_written_ = false;
  std::exception_ptr werr_;
  WaitList drainers_;
  WaitList closers_;
  std::shared_ptr<StreamTransport> self_;
};

std::shared_ptr<StreamTransport> make_stream_transport(int fd, bool is_socket, bool readable, bool writable,
                                                       std::size_t limit) {
  FdGuard guard(fd);
  auto t = std::make_shared<StreamTransport>(EventLoop::get_running_loop(), fd, is_socket, readable, writable,
                                             limit == 0 ? kDefaultStreamLimit : limit);
  guard.release();
  return t;
}

void abort_transport(StreamTransport& t) noexcept { t.abort(); }
void close_transport(StreamTransport& t) { t.close(); }

}  // namespace detail

// ---------------- StreamReader ----------------

namespace {
void check(const std::shared_ptr<detail::StreamTransport>& t) {
  if (!t) throw InvalidStateError("empty stream");
}
}  // namespace

Task<std::string> StreamReader::read(std::ptrdiff_t n) {
  check(t_);
  auto t = t_;  // the frame keeps the transport alive
  if (n == 0) co_return std::string();
  if (n < 0) {
    while (!t->eof()) co_await t->wait_data();
    if (t->avail() == 0) t->rethrow_read_error();
    co_return t->take(t->avail());
  }
  while (t->avail() == 0 && !t->eof()) co_await t->wait_data();
  if (t->avail() == 0) t->rethrow_read_error();
  co_return t->take(std::min(t->avail(), static_cast<std::size_t>(n)));
}

Task<std::string> StreamReader::readuntil(std::string separator) {
  check(t_);
  if (separator.empty()) throw std::invalid_argument("readuntil: empty separator");
  auto t = t_;
  std::size_t searched = 0;  // where the next search starts (no rescanning of old data)
  for (;;) {
    const std::string_view d = t->data();
    const std::size_t at = d.find(separator, searched);
    if (at != std::string_view::npos) {
      const std::size_t end = at + separator.size();
      if (end > t->limit()) throw LimitOverrunError("Separator is found, but chunk is longer than limit", at);
      co_return t->take(end);
    }
    if (d.size() > t->limit()) throw LimitOverrunError("Separator is not found, and chunk exceed the limit", d.size());
    if (t->eof()) {
      if (d.empty()) t->rethrow_read_error();
      std::string partial = t->take(d.size());
      throw IncompleteReadError(std::move(partial), 0);
    }
    searched = d.size() + 1 > separator.size() ? d.size() + 1 - separator.size() : 0;
    co_await t->wait_data();
  }
}

Task<std::string> StreamReader::readline() {
  check(t_);
  auto t = t_;
  // The awaited task is a named local: g++ 12 mishandles temporaries with destructors in a co_await expression.
  Task<std::string> line = readuntil("\n");
  try {
    co_return co_await std::move(line);
  } catch (const IncompleteReadError& e) {
    co_return e.partial();
  } catch (const LimitOverrunError& e) {
    // asyncio's policy: drop the offending line (through the newline if it is here, else what is buffered).
    const std::string_view d = t->data();
    if (d.substr(e.consumed(), 1) == "\n") {
      t->consume(e.consumed() + 1);
    } else {
      t->consume(d.size());
    }
    throw;
  }
}

Task<std::string> StreamReader::readexactly(std::size_t n) {
  check(t_);
  auto t = t_;
  while (t->avail() < n && !t->eof()) co_await t->wait_data();
  if (t->avail() < n) {
    if (t->avail() == 0) t->rethrow_read_error();
    throw IncompleteReadError(t->take(t->avail()), n);
  }
  co_return t->take(n);
}

bool StreamReader::at_eof() const noexcept { return t_ == nullptr || t_->at_eof(); }
std::size_t StreamReader::limit() const noexcept { return t_ ? t_->limit() : kDefaultStreamLimit; }
std::size_t StreamReader::buffered() const noexcept { return t_ ? t_->avail() : 0; }

// ---------------- StreamWriter ----------------

void StreamWriter::write(std::string_view data) {
  check(t_);
  t_->write(data);
}

void StreamWriter::writelines(const std::vector<std::string>& pieces) {
  for (const auto& p : pieces) write(p);
}

void StreamWriter::write_eof() {
  check(t_);
  t_->write_eof();
}

Task<void> StreamWriter::drain() {
  check(t_);
  auto t = t_;
  if (t->write_error()) std::rethrow_exception(t->write_error());
  while (t->pending() > t->high() && t->fd() >= 0) co_await detail::ListWait(t->drainers());
  if (t->write_error()) std::rethrow_exception(t->write_error());
}

void StreamWriter::close() {
  if (t_) t_->close();
}

bool StreamWriter::is_closing() const noexcept { return !t_ || t_->closing() || t_->fd() < 0; }

Task<void> StreamWriter::wait_closed() {
  check(t_);
  auto t = t_;
  while (t->fd() >= 0) co_await detail::ListWait(t->closers());
}

std::size_t StreamWriter::write_buffer_size() const noexcept { return t_ ? t_->pending() : 0; }

void StreamWriter::set_write_buffer_limits(std::size_t high, std::optional<std::size_t> low) {
  check(t_);
  t_->set_limits(high, low);
}

std::optional<SockAddr> StreamWriter::get_extra_info(std::string_view name) const {
  if (!t_) return std::nullopt;
  if (name == "peername") return t_->name(true);
  if (name == "sockname") return t_->name(false);
  return std::nullopt;
}

int StreamWriter::fileno() const noexcept { return t_ ? t_->fd() : -1; }

// ---------------- open_connection ----------------

namespace detail {

Task<void> connect_fd(int fd, SockAddr addr) {
  if (::connect(fd, addr.raw(), addr.len) == 0) co_return;
  if (errno != EINPROGRESS && errno != EINTR) throw_errno("connect");
  co_await IoWait(fd, true);
  int err = 0;
  socklen_t len = sizeof err;
  if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) throw_errno("getsockopt(SO_ERROR)");
  if (err != 0) throw std::system_error(err, std::generic_category(), "connect to " + addr.to_string());
}

namespace {

StreamPair make_pair(int fd, std::size_t limit) {
  auto t = make_stream_transport(fd, true, true, true, limit);
  return StreamPair{StreamReader(t), StreamWriter(t)};
}

Task<StreamPair> connect_tcp(std::string host, int port, ConnectOptions o) {
  const std::vector<AddrInfo> infos = co_await getaddrinfo(host, port, SOCK_STREAM, false);
  std::exception_ptr last;
  for (const AddrInfo& ai : infos) {
    FdGuard g(make_socket(ai.family, SOCK_STREAM));
    bool ok = true;
    try {
      co_await connect_fd(g.get(), ai.addr);
    } catch (const CancelledError&) {
      throw;
    } catch (...) {
      last = std::current_exception();
      ok = false;
    }
    if (!ok) continue;
    if (o.nodelay) {
      const int one = 1;
      ::setsockopt(g.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    co_return make_pair(g.release(), o.limit);
  }
  if (last) std::rethrow_exception(last);
  throw GaiError(0, "open_connection: no address for " + host);
}

Task<StreamPair> connect_unix(std::string path, ConnectOptions o) {
  const SockAddr addr = SockAddr::unix_path(path);
  FdGuard g(make_socket(AF_UNIX, SOCK_STREAM));
  co_await connect_fd(g.get(), addr);
  co_return make_pair(g.release(), o.limit);
}

}  // namespace
}  // namespace detail

Task<StreamPair> open_connection(std::string host, int port, ConnectOptions options) {
  if (options.timeout > std::chrono::nanoseconds::zero()) {
    Task<StreamPair> bounded = wait_for(detail::connect_tcp(std::move(host), port, options), options.timeout);
    co_return co_await std::move(bounded);
  }
  Task<StreamPair> plain = detail::connect_tcp(std::move(host), port, options);
  co_return co_await std::move(plain);
}

Task<StreamPair> open_unix_connection(std::string path, ConnectOptions options) {
  if (options.timeout > std::chrono::nanoseconds::zero()) {
    Task<StreamPair> bounded = wait_for(detail::connect_unix(std::move(path), options), options.timeout);
    co_return co_await std::move(bounded);
  }
  Task<StreamPair> plain = detail::connect_unix(std::move(path), options);
  co_return co_await std::move(plain);
}

}  // namespace spindle::aio
