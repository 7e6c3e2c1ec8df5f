#include "peers.hpp"

#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "procfs.hpp"

namespace spindle::advisor::detail {
namespace {

bool is_read_call(long nr) {
  return nr == SYS_read || nr == SYS_readv || nr == SYS_recvfrom || nr == SYS_recvmsg || nr == SYS_recvmmsg;
}

// "pipe:[123]" with kind "pipe:[" -> 123.
std::optional<unsigned long> inode_of(const std::string& target, const char* kind) {
  const std::size_t len = std::strlen(kind);
  if (target.compare(0, len, kind) != 0) return std::nullopt;
  return std::strtoul(target.c_str() + len, nullptr, 10);
}

void add_holder(std::vector<pid_t>& holders, pid_t pid) {
  if (holders.empty() || holders.back() != pid) holders.push_back(pid);
}

}  // namespace

int blocked_read_fd(pid_t pid, pid_t tid) {
  char path[96];
  std::snprintf(path, sizeof path, "/proc/%d/task/%d/syscall", pid, tid);
  const std::string text = slurp(path);  // "nr arg1 ... sp pc" in hex, "-1 sp pc" outside a call, or "running"
  char* end = nullptr;
  const long nr = std::strtol(text.c_str(), &end, 10);
  if (end == text.c_str() || !is_read_call(nr)) return -1;
  const unsigned long long fd = std::strtoull(end, nullptr, 16);
  return fd <= 0x7fffffffULL ? static_cast<int>(fd) : -1;
}

std::optional<unsigned long> unix_socket_peer(unsigned long inode) {
  const int s = ::socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
  if (s < 0) return std::nullopt;
  struct {
    nlmsghdr header;
    unix_diag_req request;
  } query{};
  query.header.nlmsg_len = sizeof query;
  query.header.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  query.header.nlmsg_flags = NLM_F_REQUEST;
  query.request.sdiag_family = AF_UNIX;
  query.request.udiag_states = ~0U;
  query.request.udiag_ino = static_cast<__u32>(inode);
  query.request.udiag_show = UDIAG_SHOW_PEER;
  query.request.udiag_cookie[0] = query.request.udiag_cookie[1] = ~0U;  // any socket with this inode
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  std::optional<unsigned long> peer;
  if (::sendto(s, &query, sizeof query, 0, reinterpret_cast<const sockaddr*>(&kernel), sizeof kernel) ==
      static_cast<ssize_t>(sizeof query)) {
    alignas(nlmsghdr) char reply[4096];
    const ssize_t got = ::recv(s, reply, sizeof reply, 0);
    // One reply: a unix_diag_msg and its attributes, or NLMSG_ERROR (no such Unix socket, or no unix_diag).
    // Walked by hand: the netlink macros' casts trip -Wold-style-cast.
    nlmsghdr header{};
    if (got >= static_cast<ssize_t>(sizeof header)) std::memcpy(&header, reply, sizeof header);
    const std::size_t body = NLMSG_ALIGN(sizeof header);
    unix_diag_msg msg{};
    if (header.nlmsg_type == SOCK_DIAG_BY_FAMILY && header.nlmsg_len <= static_cast<std::size_t>(got) &&
        header.nlmsg_len >= body + sizeof msg) {
      std::memcpy(&msg, reply + body, sizeof msg);
      std::size_t at = body + NLMSG_ALIGN(sizeof msg);
      while (msg.udiag_ino == inode && at + sizeof(rtattr) <= header.nlmsg_len) {
        rtattr attr{};
        std::memcpy(&attr, reply + at, sizeof attr);
        if (attr.rta_len < sizeof attr || at + attr.rta_len > header.nlmsg_len) break;
        if (attr.rta_type == UNIX_DIAG_PEER && attr.rta_len >= RTA_LENGTH(sizeof(__u32))) {
          __u32 p = 0;
          std::memcpy(&p, reply + at + RTA_LENGTH(0), sizeof p);
          if (p != 0) peer = p;
        }
        at += RTA_ALIGN(attr.rta_len);
      }
    }
  }
  ::close(s);
  return peer;
}

void PeerIndex::clear() {
  indexed_ = false;
  pipe_writers_.clear();
  sockets_.clear();
  answers_.clear();
}

void PeerIndex::index(const std::vector<pid_t>& tree) {
  if (indexed_) return;
  indexed_ = true;
  for (pid_t pid : tree) {
    char path[64];
    std::snprintf(path, sizeof path, "/proc/%d/fd", pid);
    for (int fd : list_dir_numbers(path)) {
      char link[96];
      std::snprintf(link, sizeof link, "/proc/%d/fd/%d", pid, fd);
      const std::string target = read_link(link);
      if (const auto pipe = inode_of(target, "pipe:[")) {
        // The link's mode says how the descriptor was opened: writable means a write end.
        struct stat st {};
        if (::lstat(link, &st) == 0 && (st.st_mode & S_IWUSR)) add_holder(pipe_writers_[*pipe], pid);
      } else if (const auto socket = inode_of(target, "socket:[")) {
        add_holder(sockets_[*socket], pid);
      }
    }
  }
}

const std::vector<pid_t>& PeerIndex::peers(pid_t pid, int fd, const std::vector<pid_t>& tree) {
  const auto key = std::make_pair(pid, fd);
  if (const auto it = answers_.find(key); it != answers_.end()) return it->second;
  std::vector<pid_t>& out = answers_[key];
  char link[96];
  std::snprintf(link, sizeof link, "/proc/%d/fd/%d", pid, fd);
  const std::string target = read_link(link);
  if (const auto pipe = inode_of(target, "pipe:[")) {
    index(tree);
    if (const auto it = pipe_writers_.find(*pipe); it != pipe_writers_.end()) out = it->second;
  } else if (const auto socket = inode_of(target, "socket:[")) {
    if (const auto peer = unix_socket_peer(*socket)) {
      index(tree);
      if (const auto it = sockets_.find(*peer); it != sockets_.end()) out = it->second;
    }
  }
  return out;
}

}  // namespace spindle::advisor::detail
