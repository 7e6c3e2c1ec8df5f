#pragma once
/// @file
/// Addresses and name resolution for spindle::aio networking: `SockAddr`, `getaddrinfo` (off the loop thread),
/// and the error type of failed socket calls. Python equivalent: the address tuples of `socket`,
/// `loop.getaddrinfo`, `OSError`.

#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <system_error>
#include <vector>

#include "spindle/aio/task.hpp"

namespace spindle::aio {

/// A socket address (IPv4, IPv6 or Unix-domain), by value.
/// **Thread safety:** a plain value. **Python equivalent:** the `(host, port)` / `(host, port, flow, scope)`
/// tuples and the path string of a Unix socket.
struct SockAddr {
  sockaddr_storage storage{};  ///< the raw address
  socklen_t len = 0;           ///< its length

  /// AF_INET, AF_INET6 or AF_UNIX (AF_UNSPEC when empty).
  int family() const noexcept { return storage.ss_family; }
  /// The numeric host ("127.0.0.1", "::1") or, for a Unix socket, its path.
  std::string host() const;
  /// The port (0 for a Unix socket).
  int port() const noexcept;
  /// "host:port", "[v6]:port" or the path.
  std::string to_string() const;
  /// A raw pointer for socket calls.
  const sockaddr* raw() const noexcept { return reinterpret_cast<const sockaddr*>(&storage); }
  /// The numeric address `host`:`port` (no resolution); throws std::invalid_argument if `host` is not numeric.
  static SockAddr from_numeric(const std::string& host, int port);
  /// A Unix-domain address; throws std::invalid_argument if the path is too long.
  static SockAddr unix_path(const std::string& path);
};

/// One result of getaddrinfo.
struct AddrInfo {
  int family = 0;    ///< AF_INET / AF_INET6
  int socktype = 0;  ///< SOCK_STREAM / SOCK_DGRAM
  int protocol = 0;  ///< usually 0
  SockAddr addr;     ///< the address
};

/// A failed name resolution. Python equivalent: `socket.gaierror`.
class GaiError : public Error {
 public:
  GaiError(int code, const std::string& what) : Error(what), code_(code) {}
  /// The EAI_* code.
  int code() const noexcept { return code_; }

 private:
  int code_;
};

/// Resolves `host`:`port`. A numeric host (or an empty one with `passive`) is answered on the loop thread at
/// once; any other name goes to the loop's default executor, so a slow DNS never blocks the loop.
/// **Errors:** GaiError. **Cancellation:** stops the wait (the lookup thread finishes on its own).
/// **Python equivalent:** `await loop.getaddrinfo(host, port, type=socktype, flags=AI_PASSIVE if passive)`.
Task<std::vector<AddrInfo>> getaddrinfo(std::string host, int port, int socktype = SOCK_STREAM, bool passive = false);

namespace detail {
/// Throws std::system_error(errno) naming `what` (Python's OSError).
[[noreturn]] void throw_errno(const char* what);
/// A non-blocking, close-on-exec socket; throws on failure.
int make_socket(int family, int socktype, int protocol = 0);
/// Closes an fd on scope exit unless released.
class FdGuard {
 public:
  explicit FdGuard(int fd = -1) noexcept : fd_(fd) {}
  FdGuard(const FdGuard&) = delete;
  FdGuard& operator=(const FdGuard&) = delete;
  ~FdGuard();
  int get() const noexcept { return fd_; }
  int release() noexcept {
    const int f = fd_;
    fd_ = -1;
    return f;
  }
  void reset(int fd) noexcept;

 private:
  int fd_;
};
}  // namespace detail

}  // namespace spindle::aio
