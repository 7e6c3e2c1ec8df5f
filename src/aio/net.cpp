// Addresses, getaddrinfo off the loop thread, socket helpers.

#include "spindle/aio/net.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "spindle/aio/future.hpp"

namespace spindle::aio {

std::string SockAddr::host() const {
  char buf[INET6_ADDRSTRLEN] = {};
  switch (family()) {
    case AF_INET:
      ::inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&storage)->sin_addr, buf, sizeof buf);
      return buf;
    case AF_INET6:
      ::inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_addr, buf, sizeof buf);
      return buf;
    case AF_UNIX: {
      const auto* un = reinterpret_cast<const sockaddr_un*>(&storage);
      const std::size_t off = offsetof(sockaddr_un, sun_path);
      if (len <= off) return {};
      return std::string(un->sun_path, ::strnlen(un->sun_path, len - off));
    }
    default:
      return {};
  }
}

int SockAddr::port() const noexcept {
  if (family() == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(&storage)->sin_port);
  if (family() == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_port);
  return 0;
}

std::string SockAddr::to_string() const {
  if (family() == AF_INET) return host() + ":" + std::to_string(port());
  if (family() == AF_INET6) {
    std::string s = "[";  // appended piecewise: g++ 12 -O3 warns (-Wrestrict) on "[" + host() + ...
    s += host();
    s += "]:";
    s += std::to_string(port());
    return s;
  }
  return host();
}

SockAddr SockAddr::from_numeric(const std::string& host, int port) {
  SockAddr a;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&a.storage);
  if (::inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<std::uint16_t>(port));
    a.len = sizeof(sockaddr_in);
    return a;
  }
  a.storage = {};
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&a.storage);
  if (::inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<std::uint16_t>(port));
    a.len = sizeof(sockaddr_in6);
    return a;
  }
  throw std::invalid_argument("not a numeric address: " + host);
}

SockAddr SockAddr::unix_path(const std::string& path) {
  SockAddr a;
  auto* un = reinterpret_cast<sockaddr_un*>(&a.storage);
  if (path.empty() || path.size() >= sizeof(un->sun_path)) throw std::invalid_argument("bad Unix socket path: " + path);
  un->sun_family = AF_UNIX;
  std::memcpy(un->sun_path, path.data(), path.size());
  a.len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() + 1);
  return a;
}

namespace {

std::vector<AddrInfo> numeric_or_passive(const std::string& host, int port, int socktype, bool passive, bool& ok) {
  ok = true;
  std::vector<AddrInfo> out;
  if (host.empty() && passive) {
    for (const char* any : {"0.0.0.0", "::"}) {
      SockAddr a = SockAddr::from_numeric(any, port);
      out.push_back(AddrInfo{a.family(), socktype, 0, a});
    }
    return out;
  }
  try {
    SockAddr a = SockAddr::from_numeric(host, port);
    out.push_back(AddrInfo{a.family(), socktype, 0, a});
  } catch (const std::invalid_argument&) {
    ok = false;
  }
  return out;
}

std::vector<AddrInfo> blocking_getaddrinfo(const std::string& host, int port, int socktype, bool passive) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = socktype;
  hints.ai_flags = AI_ADDRCONFIG | (passive ? AI_PASSIVE : 0);
  addrinfo* res = nullptr;
  const std::string service = std::to_string(port);
  const int rc = ::getaddrinfo(host.empty() ? nullptr : host.c_str(), service.c_str(), &hints, &res);
  if (rc != 0) throw GaiError(rc, "getaddrinfo(" + host + "): " + ::gai_strerror(rc));
  std::vector<AddrInfo> out;
  for (addrinfo* p = res; p != nullptr; p = p->ai_next) {
    if (p->ai_family != AF_INET && p->ai_family != AF_INET6) continue;
    AddrInfo ai;
    ai.family = p->ai_family;
    ai.socktype = p->ai_socktype;
    ai.protocol = p->ai_protocol;
    std::memcpy(&ai.addr.storage, p->ai_addr, p->ai_addrlen);
    ai.addr.len = p->ai_addrlen;
    out.push_back(ai);
  }
  ::freeaddrinfo(res);
  if (out.empty()) throw GaiError(EAI_NONAME, "getaddrinfo(" + host + "): no IPv4/IPv6 address");
  return out;
}

}  // namespace

Task<std::vector<AddrInfo>> getaddrinfo(std::string host, int port, int socktype, bool passive) {
  bool ok = false;
  std::vector<AddrInfo> fast = numeric_or_passive(host, port, socktype, passive, ok);
  if (ok) co_return fast;
  // Named locals, not temporaries, around co_await: g++ 12 destroys such temporaries wrongly (GCC PR c++/100611;
  // to_thread refuses an rvalue closure with captures there, so the lambda is passed as an lvalue).
  auto lookup = [host, port, socktype, passive] { return blocking_getaddrinfo(host, port, socktype, passive); };
  Task<std::vector<AddrInfo>> pending = to_thread(lookup);
  co_return co_await std::move(pending);
}

namespace detail {

void throw_errno(const char* what) { throw std::system_error(errno, std::generic_category(), what); }

int make_socket(int family, int socktype, int protocol) {
  const int fd = ::socket(family, socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol);
  if (fd < 0) throw_errno("socket");
  return fd;
}

FdGuard::~FdGuard() {
  if (fd_ >= 0) ::close(fd_);
}

void FdGuard::reset(int fd) noexcept {
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

}  // namespace detail
}  // namespace spindle::aio
