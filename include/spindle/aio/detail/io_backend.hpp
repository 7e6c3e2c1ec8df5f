#pragma once
// I/O backends of the event loop (chosen by LoopOptions::backend or SPINDLE_AIO_BACKEND): the io_uring poller
// is made here and plugs into the same Poller interface as epoll (src/aio/poller.hpp). docs/async-io.md,
// "Backends".

#include <memory>

namespace spindle::aio::detail {

class Poller;

/// Which backend a factory produced.
enum class Backend { epoll, io_uring };

/// An io_uring poller (IORING_OP_POLL_ADD readiness, re-armed after each completion so that it keeps epoll's
/// level-triggered contract), or the epoll poller when io_uring cannot be set up (io_uring_queue_init fails:
/// seccomp, kernel.io_uring_disabled, an old kernel). `chosen`, if given, says which one was made.
std::unique_ptr<Poller> make_uring_poller_or_epoll(Backend* chosen = nullptr);

}  // namespace spindle::aio::detail
