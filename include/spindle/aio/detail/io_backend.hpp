#pragma once
// I/O backends of the event loop (chosen by LoopOptions::backend or SPINDLE_AIO_BACKEND): the io_uring poller
// is made here and plugs into the same Poller interface as epoll (src/aio/poller.hpp). docs/async-io.md,
// "Backends".

#include <cstddef>
#include <memory>
#include <string_view>

namespace spindle::aio::detail {

class Poller;

/// Which backend a factory produced.
enum class Backend { epoll, io_uring };

/// Where a completion receive (io_uring's multishot recv) delivers a stream socket's bytes: StreamTransport.
class RecvSink {
 public:
  /// Takes `n` bytes at `p` (n > 0), the peer's EOF (0) or an error (-errno). Runs during the loop's I/O
  /// dispatch, so it only stores them (no user code); received() acts on them afterwards.
  virtual void on_recv(const char* p, std::ptrdiff_t n) noexcept = 0;
  /// Runs from the ready queue after one or more on_recv calls: wakes readers, calls protocols.
  virtual void received() = 0;

 protected:
  virtual ~RecvSink() = default;
};

/// Where a completion send (io_uring's IORING_OP_SEND) reports: StreamTransport.
class SendSink {
 public:
  /// The send ended: `n` bytes were taken (then `unsent`, valid during the call, are the rest, normally
  /// none), or it failed with -errno. Runs during the loop's I/O dispatch, so it only stores; sent() acts.
  virtual void on_sent(std::ptrdiff_t n, std::string_view unsent) noexcept = 0;
  /// Runs from the ready queue after on_sent: the next send, close, drain wake-ups, protocols.
  virtual void sent() = 0;

 protected:
  virtual ~SendSink() = default;
};

/// An io_uring poller (IORING_OP_POLL_ADD readiness, re-armed after each completion so that it keeps epoll's
/// level-triggered contract), or the epoll poller when io_uring cannot be set up (io_uring_queue_init fails:
/// seccomp, kernel.io_uring_disabled, an old kernel). `chosen`, if given, says which one was made. With
/// `completion_recv`, stream sockets receive by completion instead (multishot recv into provided buffers, where
/// the kernel has it: Poller::completion_recv() says): measured slower than readiness on loopback echo
/// (docs/PERFORMANCE.md, W6), so off unless asked for.
/// With `completion_send`, stream sockets send by completion (IORING_OP_SEND, submitted with the loop's next
/// io_uring_enter) instead of calling send().
std::unique_ptr<Poller> make_uring_poller_or_epoll(Backend* chosen = nullptr, bool completion_recv = false,
                                                   bool completion_send = false);

/// Whether SPINDLE_AIO_URING_RECV=1 asks io_uring loops to receive by completion.
bool uring_recv_requested() noexcept;
/// Whether io_uring loops send by completion: yes, unless SPINDLE_AIO_URING_SEND=0 (W6 measured 7% less server
/// CPU per request with it at 50 connections, no difference at 1,000; docs/PERFORMANCE.md).
bool uring_send_requested() noexcept;

}  // namespace spindle::aio::detail
