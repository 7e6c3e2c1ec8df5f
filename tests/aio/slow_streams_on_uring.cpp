// The stream, server and abuse tests again, with every EventLoop in this executable on the io_uring backend.
//
// EventLoop builds its poller with detail::make_epoll_poller() and has no option to choose another (the hook
// is proposed in docs/async-io.md). This test executable defines that function itself, returning the io_uring
// poller; the linker then never pulls the epoll object out of libspindle_aio.a. A test-only link-time
// substitution: nothing in the library changes. Without io_uring (seccomp, io_uring_disabled) the tests skip.

#include <stdexcept>

#include "../../src/aio/poller.hpp"
#include "spindle/aio/detail/io_backend.hpp"

namespace spindle::aio::detail {
namespace {
thread_local bool g_inside = false;
}
std::unique_ptr<Poller> make_epoll_poller() {
  // make_uring_poller_or_epoll falls back to this very function: a re-entry means io_uring is unavailable.
  if (g_inside) throw std::runtime_error("io_uring unavailable");
  g_inside = true;
  struct Reset {
    ~Reset() { g_inside = false; }
  } reset;
  Backend got = Backend::epoll;
  return make_uring_poller_or_epoll(&got);
}
}  // namespace spindle::aio::detail

#include "test_streams.cpp"  // NOLINT(bugprone-suspicious-include)
#include "stress_streams_abuse.cpp"  // NOLINT(bugprone-suspicious-include)
#include "test_udp.cpp"  // NOLINT(bugprone-suspicious-include)
#include "test_subprocess.cpp"  // NOLINT(bugprone-suspicious-include)

#include <dirent.h>

namespace {

bool has_io_uring_fd() {
  bool found = false;
  DIR* d = ::opendir("/proc/self/fd");
  if (d == nullptr) return false;
  while (dirent* e = ::readdir(d)) {
    char target[256] = {};
    const std::string path = std::string("/proc/self/fd/") + e->d_name;
    const ssize_t n = ::readlink(path.c_str(), target, sizeof target - 1);
    if (n > 0 && std::string(target, static_cast<std::size_t>(n)).find("io_uring") != std::string::npos) found = true;
  }
  ::closedir(d);
  return found;
}

TEST(StreamsOnUring, TheLoopReallyRunsOnIoUring) {
  bool during = false;
  auto main = [&]() -> aio::Task<void> {
    during = has_io_uring_fd();
    co_return;
  };
  aio::run(main());
  EXPECT_TRUE(during);
  EXPECT_FALSE(has_io_uring_fd());
}

}  // namespace
