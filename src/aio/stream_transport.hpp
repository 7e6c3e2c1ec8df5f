#pragma once
// The stream transport: one per connection or pipe, shared by its StreamReader and StreamWriter (and a server's
// connection table). Plain bytes go straight between the fd and the buffers; with TLS (tls_engine.hpp) the fd
// carries ciphertext and the buffers plaintext.

#include <chrono>
#include <cstddef>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "spindle/aio/detail/wait_list.hpp"
#include "spindle/aio/event_loop.hpp"
#include "spindle/aio/protocols.hpp"
#include "spindle/aio/ssl.hpp"
#include "spindle/aio/streams.hpp"

namespace spindle::aio::detail {

class TlsEngine;

class StreamTransport : public std::enable_shared_from_this<StreamTransport>, private RecvSink, private SendSink {
 public:
  StreamTransport(EventLoop& loop, int fd, bool sock, bool readable, bool writable, std::size_t limit);
  ~StreamTransport() override;
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
    bool cancel_wait(TaskState&) noexcept override {
      detach();
      return true;
    }
    void abandon_wait(TaskState&) noexcept override { detach(); }
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
  /// Suspends until data (plaintext; ciphertext while a TLS handshake runs), EOF or an error arrives.
  ReadWait wait_data() noexcept { return ReadWait(this); }

  // ---- write side ----
  /// Bytes not yet handed to the kernel: buffered, or in a completion send.
  std::size_t pending() const noexcept { return wbuf_.size() - wpos_ + inflight_; }
  bool closing() const noexcept { return closing_; }
  int fd() const noexcept { return fd_; }
  bool is_socket() const noexcept { return sock_; }
  std::size_t high() const noexcept { return high_; }
  const std::exception_ptr& write_error() const noexcept { return werr_; }
  WaitList& drainers() noexcept { return drainers_; }
  WaitList& closers() noexcept { return closers_; }

  void set_limits(std::size_t high, std::optional<std::size_t> low);
  void write(std::string_view d);
  void write_eof();
  /// Flushes, then closes (a TLS stream sends close_notify first and bounds the flush by its shutdown timeout).
  void close();
  /// Closes now, dropping buffered output.
  void abort() noexcept;
  std::optional<SockAddr> name(bool peer) const;

  // ---- TLS (tls.cpp drives the handshake) ----
  bool is_tls() const noexcept { return tls_ != nullptr; }
  bool handshaking() const noexcept { return handshaking_; }
  /// Hands the connection to `engine`: from now on the fd carries ciphertext. Bytes received and not read are
  /// the peer's first TLS bytes.
  void begin_tls(std::unique_ptr<TlsEngine> engine, std::chrono::nanoseconds shutdown_timeout);
  /// One handshake step: true when the handshake is done, false when it needs more from the peer (await
  /// wait_data()). **Errors:** SslError, or the connection's error / EOF.
  bool handshake_step();
  std::optional<SslInfo> ssl_info() const;

  // ---- protocol mode (protocols.cpp): data goes to a Protocol's callbacks instead of the read buffer ----
  /// Hands the connection to `protocol`: connection_made runs now, then what is already buffered is delivered.
  void begin_protocol(std::shared_ptr<Protocol> protocol);
  void pause_reading();
  void resume_reading();
  bool is_reading() const noexcept { return reading_; }

 private:
  /// Runs a protocol callback; one that throws is the connection's fatal error (asyncio's _fatal_error).
  template <class F>
  void call_protocol(F&& f) {
    try {
      f();
    } catch (...) {
      protocol_failed(std::current_exception());
    }
  }
  void protocol_failed(std::exception_ptr err);
  /// Passes the read buffer to data_received (protocol mode).
  void deliver();
  /// The peer's EOF in protocol mode: eof_received decides whether the transport closes.
  void protocol_eof();
  void schedule_connection_lost() noexcept;
  bool loop_usable() const noexcept { return loop_alive(core_) && !loop_->is_closed(); }
  ssize_t raw_write(const char* p, std::size_t n);
  /// Sends `d` as is (ciphertext with TLS): straight to the fd when nothing waits, else buffered.
  void send_bytes(std::string_view d);
  /// Sends what the TLS engine produced (records, alerts, close_notify).
  void flush_tls();
  /// Decrypts what the TLS engine holds into the read buffer; false if the connection failed.
  bool pump_plain();
  void start_reading();
  void stop_reading() noexcept;
  void start_writing();
  void stop_writing() noexcept;
  void wake_reader() noexcept;
  void on_readable();
  /// Takes received bytes: into the read buffer, or the TLS engine's input. May throw (out of memory).
  void take_input(const char* p, std::size_t n);
  /// What follows new input: TLS decryption, protocol delivery, waking the reader, backpressure.
  void after_input();
  void on_peer_eof();
  // Completion receive (io_uring): the loop copies bytes in with on_recv, then calls received().
  void on_recv(const char* p, std::ptrdiff_t n) noexcept override;
  void received() override;
  void on_writable();
  // Completion send (io_uring): send_bytes hands the bytes to the loop; on_sent notes the end, sent() goes on.
  bool submit_send(std::string_view d) noexcept;
  void on_sent(std::ptrdiff_t n, std::string_view unsent) noexcept override;
  void sent() override;
  /// After bytes left (on_writable, sent): the close or half-close that waited for them, drain wake-ups.
  void after_send();
  /// A fatal error: both sides fail with it, the fd closes (asyncio's _fatal_error / _force_close).
  void fail(int e, const char* what);
  void fail_with(std::exception_ptr err);
  void finish_close() noexcept;

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
  bool use_recv_ = false;        // a socket on a loop with completion receive: start_recv, not add_reader
  bool recv_data_ = false;       // on_recv took bytes that received() has not acted on
  std::ptrdiff_t recv_end_ = 1;  // 1: nothing; 0: the peer's EOF; < 0: -errno, for received()

  std::string wbuf_;
  std::size_t wpos_ = 0;
  bool use_send_ = false;     // a socket on a loop with completion send: small writes go by submit_send
  std::size_t inflight_ = 0;  // bytes of the completion send in flight (they come before wbuf_'s)
  int send_err_ = 0;          // the errno a completion send ended with, for sent()
  std::size_t high_ = 64 * 1024;
  std::size_t low_ = 16 * 1024;
  bool writing_ = false;
  bool closing_ = false;
  bool eof_written_ = false;
  std::exception_ptr werr_;
  WaitList drainers_;
  WaitList closers_;
  std::shared_ptr<StreamTransport> self_;

  std::unique_ptr<TlsEngine> tls_;
  bool handshaking_ = false;
  std::chrono::nanoseconds tls_shutdown_timeout_{};
  std::string tls_out_;  // scratch: ciphertext on its way to send_bytes
  TimerHandle shutdown_timer_;

  std::shared_ptr<Protocol> proto_;
  bool reading_paused_ = false;  // pause_reading(): start_reading() does nothing until resume_reading()
  bool writing_paused_ = false;  // pause_writing() was called, resume_writing() not yet
  bool lost_scheduled_ = false;
};

}  // namespace spindle::aio::detail
