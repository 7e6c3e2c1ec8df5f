// StreamTransport: the fd side of a stream (readiness callbacks, write buffering, close) and its TLS data path.

#include "stream_transport.hpp"

#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <ctime>
#include <stdexcept>
#include <system_error>

#include "spindle/aio/errors.hpp"
#include "tls_engine.hpp"

namespace spindle::aio::detail {
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

// Writes up to this size go by completion send where the loop has it (the poller copies them); larger ones
// start with a send() straight from the caller's bytes.
constexpr std::size_t kCompletionSendMax = 64 * 1024;

}  // namespace

StreamTransport::StreamTransport(EventLoop& loop, int fd, bool sock, bool readable, bool writable, std::size_t limit)
    : loop_(&loop), core_(&loop.core()), fd_(fd), sock_(sock), writable_(writable), limit_(limit) {
  use_recv_ = sock_ && loop.completion_recv();
  use_send_ = sock_ && loop.completion_send();
  if (!readable) {
    eof_ = true;
  } else {
    start_reading();  // may throw: the caller still owns nothing then, so close the fd
  }
}

StreamTransport::~StreamTransport() { abort(); }

void StreamTransport::set_limits(std::size_t high, std::optional<std::size_t> low) {
  if (high == 0) high = 64 * 1024;
  const std::size_t lo = low.value_or(high / 4);
  if (lo > high) throw std::invalid_argument("set_write_buffer_limits: low > high");
  high_ = high;
  low_ = lo;
}

void StreamTransport::write(std::string_view d) {
  if (!writable_) throw InvalidStateError("stream is not writable");
  if (closing_ || eof_written_) throw InvalidStateError("write() on a closing stream");
  if (werr_ || d.empty()) return;  // a failed connection drops data; drain() reports the error (asyncio)
  if (tls_) {
    if (handshaking_) throw InvalidStateError("write() while the TLS handshake runs");
    tls_->write_plain(d);
    flush_tls();
  } else {
    send_bytes(d);
  }
  if (proto_ && !writing_paused_ && pending() > high_) {
    writing_paused_ = true;  // asyncio calls pause_writing() inside the write() that crossed the mark
    call_protocol([this] { proto_->pause_writing(); });
  }
}

void StreamTransport::send_bytes(std::string_view d) {
  if (werr_ || fd_ < 0 || d.empty()) return;
  if (pending() == 0) {
    if (use_send_ && d.size() <= kCompletionSendMax && submit_send(d)) return;
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
  if (inflight_ == 0) start_writing();  // else sent() goes on with the buffer, after the bytes in flight
}

void StreamTransport::write_eof() {
  if (closing_ || eof_written_) return;
  if (tls_) throw InvalidStateError("write_eof() on a TLS stream: TLS has no half-close (close() the writer)");
  eof_written_ = true;
  if (pending() == 0 && sock_ && fd_ >= 0) ::shutdown(fd_, SHUT_WR);
  if (pending() == 0 && !sock_ && fd_ >= 0) finish_close();  // a pipe has no half-close: EOF is close
}

void StreamTransport::close() {
  if (closing_ || fd_ < 0) return;
  if (tls_ && !handshaking_ && !werr_) {
    tls_->shutdown();  // close_notify: the peer then knows the data was not truncated
    flush_tls();
    if (fd_ < 0) return;  // sending it failed
  }
  closing_ = true;
  stop_reading();
  eof_ = true;
  wake_reader();
  if (pending() == 0 || werr_) {
    finish_close();
    return;
  }
  self_ = shared_from_this();  // flush in the background even if every handle is gone
  if (tls_ && tls_shutdown_timeout_ > std::chrono::nanoseconds::zero()) {
    // A peer that stops reading must not hold the connection open forever (Python: ssl_shutdown_timeout).
    std::weak_ptr<StreamTransport> weak = weak_from_this();
    shutdown_timer_ = loop_->call_later(tls_shutdown_timeout_, [weak] {
      if (auto t = weak.lock()) t->abort();
    });
  }
}

void StreamTransport::abort() noexcept {
  if (fd_ < 0) return;
  closing_ = true;
  finish_close();
}

std::optional<SockAddr> StreamTransport::name(bool peer) const {
  if (!sock_ || fd_ < 0) return std::nullopt;
  SockAddr a;
  a.len = sizeof a.storage;
  const int r = peer ? ::getpeername(fd_, reinterpret_cast<sockaddr*>(&a.storage), &a.len)
                     : ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a.storage), &a.len);
  if (r < 0) return std::nullopt;
  return a;
}

// ---- TLS ----

void StreamTransport::begin_tls(std::unique_ptr<TlsEngine> engine, std::chrono::nanoseconds shutdown_timeout) {
  if (!sock_) throw InvalidStateError("start_tls() on a pipe");
  if (tls_) throw InvalidStateError("start_tls() on a stream that is already TLS");
  if (closing_ || fd_ < 0 || eof_written_) throw InvalidStateError("start_tls() on a closing stream");
  tls_ = std::move(engine);
  tls_shutdown_timeout_ = shutdown_timeout;
  handshaking_ = true;
  if (avail() > 0) {
    tls_->feed(data().data(), avail());
    consume(avail());
  }
}

bool StreamTransport::handshake_step() {
  if (werr_) std::rethrow_exception(werr_);
  bool done = false;
  try {
    done = tls_->handshake();
  } catch (...) {
    flush_tls();  // the alert tells the peer why
    throw;
  }
  flush_tls();
  if (werr_) std::rethrow_exception(werr_);
  if (done) {
    handshaking_ = false;
    if (!pump_plain()) rethrow_read_error();  // application data that came with the last handshake flight
    if (avail() > 0 || eof_) wake_reader();
    return true;
  }
  if (eof_) {
    rethrow_read_error();
    throw SslError("UNEXPECTED_EOF_WHILE_READING", "the peer closed the connection during the TLS handshake");
  }
  return false;
}

std::optional<SslInfo> StreamTransport::ssl_info() const {
  if (!tls_ || handshaking_) return std::nullopt;
  return tls_->info();
}

void StreamTransport::flush_tls() {
  tls_out_.clear();
  tls_->take_out(tls_out_);
  send_bytes(tls_out_);
  if (tls_out_.capacity() > 256 * 1024) std::string().swap(tls_out_);  // do not keep a burst's buffer
}

bool StreamTransport::pump_plain() {
  try {
    const bool close_notify = tls_->read_plain(rbuf_);
    flush_tls();  // what reading produced (a KeyUpdate answer, an alert)
    if (close_notify) {
      eof_ = true;
      stop_reading();
    }
  } catch (...) {
    fail_with(std::current_exception());
    return false;
  }
  return true;
}

// ---- fd side ----

ssize_t StreamTransport::raw_write(const char* p, std::size_t n) {
  if (sock_) return ::send(fd_, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
  return pipe_write(fd_, p, n);
}

void StreamTransport::start_reading() {
  if (reading_ || eof_ || fd_ < 0 || reading_paused_) return;
  if (use_recv_) {
    loop_->start_recv(fd_, this);
  } else {
    loop_->add_reader(fd_, [this] { on_readable(); });
  }
  reading_ = true;
}

void StreamTransport::stop_reading() noexcept {
  if (!reading_) return;
  reading_ = false;
  if (!loop_usable()) return;
  if (use_recv_) {
    loop_->pause_recv(fd_);  // what the kernel already took still arrives (on_recv)
  } else {
    loop_->remove_reader(fd_);
  }
}

void StreamTransport::start_writing() {
  if (writing_ || fd_ < 0) return;
  loop_->add_writer(fd_, [this] { on_writable(); });
  writing_ = true;
}

void StreamTransport::stop_writing() noexcept {
  if (!writing_) return;
  writing_ = false;
  if (loop_usable()) loop_->remove_writer(fd_);
}

void StreamTransport::wake_reader() noexcept {
  if (rwaiter_ != nullptr) {
    ReadWait* w = rwaiter_;
    rwaiter_ = nullptr;
    w->task->wake();
  }
}

void StreamTransport::on_readable() {
  char buf[64 * 1024];
  const ssize_t n = sock_ ? ::recv(fd_, buf, sizeof buf, 0) : ::read(fd_, buf, sizeof buf);
  if (n > 0) {
    take_input(buf, static_cast<std::size_t>(n));
    after_input();
    return;
  }
  if (n == 0) {
    on_peer_eof();
    return;
  }
  if (transient(errno)) return;
  fail(errno, sock_ ? "recv" : "read");
}

void StreamTransport::take_input(const char* p, std::size_t n) {
  if (!tls_) {
    rbuf_.append(p, n);
  } else {
    tls_->feed(p, n);
  }
}

void StreamTransport::after_input() {
  if (tls_) {
    if (handshaking_) {
      wake_reader();  // the handshake task takes the next step
      return;
    }
    if (!pump_plain()) return;
  }
  if (proto_) {
    deliver();
    if (eof_ && fd_ >= 0) protocol_eof();  // close_notify came with the data
    return;
  }
  if (rwaiter_ != nullptr) {
    if (avail() > 0 || eof_) wake_reader();  // a TLS record may complete only with a later recv
  } else if (avail() > 2 * limit_) {
    stop_reading();  // nobody reads: stop taking more (the peer's sends then block: backpressure)
  }
}

void StreamTransport::on_peer_eof() {
  eof_ = true;  // with TLS and no close_notify: a "ragged" EOF, taken as EOF (as asyncio's streams do)
  stop_reading();
  wake_reader();
  if (proto_) protocol_eof();
}

void StreamTransport::on_recv(const char* p, std::ptrdiff_t n) noexcept {
  if (fd_ < 0 || eof_) return;  // closing or ended: the readiness path would not have read these either
  if (n <= 0) {
    if (recv_end_ > 0) recv_end_ = n;
    return;
  }
  try {
    take_input(p, static_cast<std::size_t>(n));
    recv_data_ = true;
  } catch (...) {
    if (recv_end_ > 0) recv_end_ = -ENOMEM;
  }
}

void StreamTransport::received() {
  if (recv_data_) {
    recv_data_ = false;
    if (fd_ >= 0) after_input();
  }
  if (recv_end_ <= 0) {
    const std::ptrdiff_t end = recv_end_;
    recv_end_ = 1;
    if (fd_ < 0 || eof_) return;
    if (end == 0) {
      on_peer_eof();
    } else {
      fail(static_cast<int>(-end), "recv");
    }
  }
}

void StreamTransport::on_writable() {
  while (wbuf_.size() > wpos_) {
    const ssize_t n = raw_write(wbuf_.data() + wpos_, wbuf_.size() - wpos_);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (transient(errno)) break;
      fail(errno, "send");
      return;
    }
    wpos_ += static_cast<std::size_t>(n);
  }
  after_send();
}

bool StreamTransport::submit_send(std::string_view d) noexcept {
  try {
    loop_->send(fd_, d, this);
  } catch (...) {
    return false;  // no memory, a closed loop: the caller sends the bytes itself
  }
  inflight_ = d.size();
  return true;
}

void StreamTransport::on_sent(std::ptrdiff_t n, std::string_view unsent) noexcept {
  inflight_ = 0;
  if (n < 0) {
    send_err_ = static_cast<int>(-n);
    return;
  }
  if (unsent.empty()) return;
  try {
    wbuf_.insert(wpos_, unsent);  // before what was written since: the order is kept
  } catch (...) {
    send_err_ = ENOMEM;
  }
}

void StreamTransport::sent() {
  if (fd_ < 0) return;
  if (send_err_ != 0) {
    const int e = send_err_;
    send_err_ = 0;
    fail(e, "send");
    return;
  }
  if (inflight_ > 0 || writing_) return;  // the bytes are already on their way again
  const std::size_t buffered = wbuf_.size() - wpos_;
  if (buffered > 0) {
    if (buffered <= kCompletionSendMax && submit_send(std::string_view(wbuf_).substr(wpos_))) {
      wbuf_.clear();
      wpos_ = 0;
    } else {
      start_writing();
    }
  }
  after_send();
}

void StreamTransport::after_send() {
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
  if (pending() <= low_) {
    drainers_.wake_all();
    if (proto_ && writing_paused_) {
      writing_paused_ = false;
      call_protocol([this] { proto_->resume_writing(); });
    }
  }
}

void StreamTransport::fail(int e, const char* what) {
  fail_with(std::make_exception_ptr(std::system_error(e, std::generic_category(), what)));
}

void StreamTransport::fail_with(std::exception_ptr err) {
  if (!werr_) werr_ = err;
  if (!rerr_) rerr_ = err;
  eof_ = true;
  closing_ = true;
  finish_close();
}

void StreamTransport::finish_close() noexcept {
  stop_reading();
  stop_writing();
  shutdown_timer_.cancel();
  if (use_recv_ && fd_ >= 0 && loop_usable()) loop_->remove_recv(fd_);  // before the fd's number can be reused
  if (use_send_ && fd_ >= 0 && loop_usable()) loop_->remove_send(fd_);  // cancels a send the peer does not read
  inflight_ = 0;
  send_err_ = 0;
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
  if (proto_) schedule_connection_lost();
  if (self_) {
    // Released last: this may be the final reference. Moved to a local so that the member is already empty.
    auto keep = std::move(self_);
    self_.reset();
  }
}

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

}  // namespace spindle::aio::detail
