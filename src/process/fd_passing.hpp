#pragma once
// Descriptor passing: the one place that calls sendmsg/recvmsg with SCM_RIGHTS. The worker channels (stream
// sockets, pool_worker_link.cpp, process.cpp, the forkserver) and the Queue/Pipe records (seqpacket
// sockets, ipc.cpp) all go through it, so that every receive gets close-on-exec descriptors, retries EINTR,
// and treats a truncated control message (descriptors the kernel dropped) as the error it is.

#include <sys/uio.h>

#include <array>
#include <cstddef>
#include <deque>
#include <span>
#include <vector>

#include "spindle/process/frame.hpp"

namespace spindle::process::detail {

/// Most descriptors one message carries (a frame's limit).
inline constexpr std::size_t kMaxFdsPerMessage = kMaxFdsPerFrame;

/// Descriptors one recv_fds received (owned by the caller once returned).
struct ReceivedFds {
  std::array<int, kMaxFdsPerMessage> fd{};
  std::size_t count = 0;
};

/// One sendmsg of `iov`, with `fds` (at most kMaxFdsPerMessage; they stay the caller's) attached as
/// SCM_RIGHTS to the first byte if there are any. MSG_NOSIGNAL is added to `flags`; EINTR is retried.
/// Returns the bytes sent, or -1 with errno (EAGAIN included; EINVAL for too many descriptors).
long send_fds(int sock, std::span<const iovec> iov, std::span<const int> fds, int flags = 0);

/// One recvmsg into `iov` with MSG_CMSG_CLOEXEC added to `flags`; EINTR is retried. Descriptors that came
/// (close-on-exec) are stored in `out`, at most `max_fds` of them: the control buffer holds that many, so a
/// message with more sets MSG_CTRUNC. Returns the bytes received (0: EOF; with MSG_TRUNC in `flags`, a
/// datagram's full length), or -1 with errno (EAGAIN included). A truncated control message (the kernel
/// dropped descriptors: the stream can no longer be trusted) is an error, EPROTO, and closes every
/// descriptor that did come; so does any other control message than SCM_RIGHTS.
long recv_fds(int sock, std::span<const iovec> iov, ReceivedFds& out, int flags = 0,
              std::size_t max_fds = kMaxFdsPerMessage);

/// Writes all of `data` to a stream socket (blocking: waits for room if it is non-blocking), passing `fds`
/// with the first byte. Returns false on EOF/EPIPE or another error (errno says which).
bool send_all(int fd, const char* data, std::size_t size, const std::vector<int>& fds);

/// One recv_fds on a stream socket into `buf`; received descriptors are appended to `fds`. Returns bytes,
/// 0 on EOF, -1 with errno on error (EAGAIN included; EPROTO: descriptors were dropped).
long recv_some(int fd, char* buf, std::size_t size, std::deque<int>& fds);

}  // namespace spindle::process::detail
