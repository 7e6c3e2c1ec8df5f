#pragma once
// I/O backends of the event loop (chosen by LoopOptions::backend or SPINDLE_AIO_BACKEND): the io_uring poller
// is made here and plugs into the same Poller interface as epoll (src/aio/poller.hpp). docs/async-io.md,
// "Backends".

#include <cstddef>
#include <cstdint>
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

/// What an io_uring poller does by completion rather than readiness, each where the kernel has it.
struct UringFeatures {
  /// Stream sockets receive by completion (multishot recv into provided buffers).
  bool completion_recv = false;
  /// Stream sockets send by completion (IORING_OP_SEND, submitted with the loop's next io_uring_enter).
  bool completion_send = false;
  /// A socket is entered in the ring's registered-file table at its `fixed_after`-th completion send, so later
  /// requests on it skip the kernel's file lookup (with completion_send only); 0: never.
  std::uint32_t fixed_after = 0;
};

/// An io_uring poller (IORING_OP_POLL_ADD readiness, re-armed after each completion so that it keeps epoll's
/// level-triggered contract), or the epoll poller when io_uring cannot be set up (io_uring_queue_init fails:
/// seccomp, kernel.io_uring_disabled, an old kernel). `chosen`, if given, says which one was made.
/// Completion receive was measured slower than readiness on loopback echo (docs/performance-history.md, W6), so the
/// loop asks for it only when told to (uring_recv_requested).
std::unique_ptr<Poller> make_uring_poller_or_epoll(Backend* chosen = nullptr, const UringFeatures& features = {});

/// Whether SPINDLE_AIO_URING_RECV=1 asks io_uring loops to receive by completion.
bool uring_recv_requested() noexcept;
/// Whether io_uring loops send by completion: yes, unless SPINDLE_AIO_URING_SEND=0 (W6 measured 7% less server
/// CPU per request with it at 50 connections, no difference at 1,000; docs/performance-history.md).
bool uring_send_requested() noexcept;
/// At which completion send io_uring loops enter a socket in the registered-file table: SPINDLE_AIO_URING_FIXED=N
/// (the tests' "uring_recv." run uses 1); unset, 0 or not a count: never (measured not to pay on W6: ~6 ns saved
/// per request, ~2.4 µs to enter and remove a socket; docs/performance-history.md).
std::uint32_t uring_fixed_after() noexcept;

}  // namespace spindle::aio::detail
