#pragma once
// Who could wake a thread blocked reading a pipe or a Unix socket: the processes of the measured tree that hold
// the other end (a pipe's write end, the socket's peer). Internal to the advisor.

#include <sys/types.h>

#include <map>
#include <optional>
#include <utility>
#include <vector>

namespace spindle::advisor::detail {

/// The descriptor a thread is blocked reading from (read, readv, recvfrom, recvmsg, recvmmsg), or -1 (another
/// call, running, or unreadable: /proc/<pid>/task/<tid>/syscall needs the right to trace it).
int blocked_read_fd(pid_t pid, pid_t tid);

/// The peer of a Unix socket, by inode, from the kernel's sock_diag; nothing if it has none, is not a Unix
/// socket, or the kernel cannot say (no unix_diag).
std::optional<unsigned long> unix_socket_peer(unsigned long inode);

/// What the tree's descriptors point at, learnt on demand and kept until clear(): descriptors change, so the
/// sampler clears it every few ticks.
class PeerIndex {
 public:
  void clear();
  /// The processes among `tree` that hold the other end of descriptor `fd` of process `pid`: the write end of
  /// a pipe, the peer of a Unix socket. Empty for anything else, or when it cannot be told.
  const std::vector<pid_t>& peers(pid_t pid, int fd, const std::vector<pid_t>& tree);

 private:
  void index(const std::vector<pid_t>& tree);

  bool indexed_ = false;
  std::map<unsigned long, std::vector<pid_t>> pipe_writers_;  // pipe inode -> processes holding a write end
  std::map<unsigned long, std::vector<pid_t>> sockets_;       // socket inode -> processes holding it
  std::map<std::pair<pid_t, int>, std::vector<pid_t>> answers_;
};

}  // namespace spindle::advisor::detail
