// Seed 003, exercise 2: fetch hundreds of "URLs" from a real local HTTP server (127.0.0.1, a port the kernel
// chooses) that answers each request after 100 ms: serially, on 20 threads, on one thread per request, and
// with async. Time, and memory per concurrent request.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <map>
#include <queue>
#include <string>
#include <vector>

#include "common.hpp"
#include "spindle/aio/gather.hpp"
#include "spindle/aio/run.hpp"
#include "spindle/aio/streams.hpp"
#include "spindle/aio/task.hpp"
#include "spindle/thread/thread.hpp"
#include "spindle/thread/thread_pool_executor.hpp"

namespace spindle::labs {
namespace {

// A one-thread epoll server: reads a request, answers it `delay` later with a tiny HTTP/1.0 response.
class SlowServer {
 public:
  explicit SlowServer(std::chrono::milliseconds delay) : delay_(delay) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;  // the kernel picks a free port: no fixed port to collide on
    if (listen_fd_ < 0 || ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(listen_fd_, 1024) != 0) {
      throw std::runtime_error(std::string("server: ") + std::strerror(errno));
    }
    socklen_t len = sizeof addr;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
    ::pipe2(wake_, O_CLOEXEC | O_NONBLOCK);
    add(listen_fd_);
    add(wake_[0]);
    thread_ = Thread([this] { loop(); });
    thread_.start();
  }
  ~SlowServer() {
    const char b = 'x';
    [[maybe_unused]] const auto n = ::write(wake_[1], &b, 1);
    thread_.join();
    for (const auto& [fd, when] : pending_) ::close(fd);
    for (int fd : {listen_fd_, epoll_fd_, wake_[0], wake_[1]}) ::close(fd);
  }
  SlowServer(const SlowServer&) = delete;
  SlowServer& operator=(const SlowServer&) = delete;
  int port() const { return port_; }

 private:
  void add(int fd) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = fd;
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev);
  }
  void loop() {
    epoll_event events[64];
    for (;;) {
      int timeout = -1;
      if (!due_.empty()) {
        const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(due_.top().first - Clock::now());
        timeout = static_cast<int>(std::max<long>(0, wait.count() + 1));
      }
      const int n = ::epoll_wait(epoll_fd_, events, 64, timeout);
      for (int i = 0; i < n; ++i) {
        const int fd = events[i].data.fd;
        if (fd == wake_[0]) return;
        if (fd == listen_fd_) {
          for (;;) {
            const int c = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
            if (c < 0) break;
            add(c);
          }
          continue;
        }
        char buf[1024];
        const ssize_t got = ::read(fd, buf, sizeof buf);
        ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
        if (got <= 0) {
          ::close(fd);
          continue;
        }
        pending_[fd] = Clock::now() + delay_;  // answer later: the "network latency"
        due_.emplace(pending_[fd], fd);
      }
      const auto now = Clock::now();
      while (!due_.empty() && due_.top().first <= now) {
        const int fd = due_.top().second;
        due_.pop();
        static const char reply[] = "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok";
        [[maybe_unused]] const auto w = ::write(fd, reply, sizeof reply - 1);
        ::close(fd);
        pending_.erase(fd);
      }
    }
  }
  using Due = std::pair<Clock::time_point, int>;
  std::chrono::milliseconds delay_;
  int listen_fd_ = -1, epoll_fd_ = -1, wake_[2] = {-1, -1}, port_ = 0;
  std::map<int, Clock::time_point> pending_;
  std::priority_queue<Due, std::vector<Due>, std::greater<>> due_;
  Thread thread_;
};

// A blocking HTTP GET of /item/<i>; true if the answer was a 200.
bool fetch(int port, int i) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  bool ok = false;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    const std::string req = "GET /item/" + std::to_string(i) + " HTTP/1.0\r\n\r\n";
    if (::write(fd, req.data(), req.size()) == static_cast<ssize_t>(req.size())) {
      char buf[256];
      std::string resp;
      ssize_t got;
      while ((got = ::read(fd, buf, sizeof buf)) > 0) resp.append(buf, static_cast<std::size_t>(got));
      ok = resp.rfind("HTTP/1.0 200", 0) == 0;
    }
  }
  ::close(fd);
  return ok;
}

// The same GET as a coroutine on asyncio-style streams: the task suspends while the server waits.
aio::Task<bool> fetch_async(int port, int i) {
  auto [reader, writer] = co_await aio::open_connection("127.0.0.1", port);
  writer.write("GET /item/" + std::to_string(i) + " HTTP/1.0\r\n\r\n");
  co_await writer.drain();
  const std::string resp = co_await reader.read();  // until EOF: the server closes after its reply
  writer.close();
  co_await writer.wait_closed();
  co_return resp.rfind("HTTP/1.0 200", 0) == 0;
}

// Samples the resident size once every request is in flight (the server holds each for 100 ms).
aio::Task<void> sample_memory(long& rss, long& vm) {
  co_await aio::sleep(60ms);
  rss = rss_kib();
  vm = vm_kib();
}

aio::Task<int> fetch_all_async(int port, int urls, long& rss, long& vm) {
  aio::Task<void> sampler = aio::create_task(sample_memory(rss, vm));
  std::vector<aio::Task<bool>> tasks;
  for (int i = 0; i < urls; ++i) tasks.push_back(fetch_async(port, i));
  const auto ok = co_await aio::gather(std::move(tasks));
  co_await sampler;
  int n = 0;
  for (bool b : ok) n += b ? 1 : 0;
  co_return n;
}

struct Run {
  double seconds = 0;
  int ok = 0;
  long rss_kib = 0, vm_kib = 0;
};

Run on_threads(int port, int urls, int threads) {
  Run run;
  std::atomic<int> ok{0};
  std::atomic<long> peak_rss{0}, peak_vm{0};
  const long rss0 = rss_kib(), vm0 = vm_kib();
  std::atomic<int> started{0};
  run.seconds = timed([&] {
    ThreadPoolExecutor pool(static_cast<std::size_t>(threads));
    std::vector<Future<void>> fs;
    for (int i = 0; i < urls; ++i) {
      fs.push_back(pool.submit([&, i] {
        if (++started == std::min(urls, threads)) {  // every thread is in a request: memory at its peak
          peak_rss = rss_kib();
          peak_vm = vm_kib();
        }
        ok += fetch(port, i) ? 1 : 0;
      }));
    }
    for (auto& f : fs) f.result();
  });
  run.ok = ok;
  run.rss_kib = std::max(0L, peak_rss.load() - rss0);
  run.vm_kib = std::max(0L, peak_vm.load() - vm0);
  return run;
}

lab::Result run_fetch(const lab::Options& o) {
  // Each request in flight holds two descriptors (client and server side): raise the soft limit to the hard
  // one (1024 by default on many systems), and stay under it.
  rlimit lim{};
  getrlimit(RLIMIT_NOFILE, &lim);
  if (lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    setrlimit(RLIMIT_NOFILE, &lim);
    getrlimit(RLIMIT_NOFILE, &lim);
  }
  const int fit = static_cast<int>(std::min<rlim_t>(lim.rlim_cur, 100000) - 128) / 2;
  const int urls = std::min(o.quick ? 100 : 500, fit);
  const int serial_urls = o.quick ? 5 : 20;  // serial would take urls x 0.1 s: a slice of it is measured
  SlowServer server(100ms);
  lab::Result r;
  Run serial;
  serial.seconds = timed([&] {
    for (int i = 0; i < serial_urls; ++i) serial.ok += fetch(server.port(), i) ? 1 : 0;
  });
  const Run t20 = on_threads(server.port(), urls, 20);
  const Run tall = on_threads(server.port(), urls, urls);
  Run as;
  {
    const long rss0 = rss_kib(), vm0 = vm_kib();
    long rss = 0, vm = 0;
    as.seconds = timed(
        [&] { as.ok = aio::run(fetch_all_async(server.port(), urls, rss, vm), aio::RunOptions{.debug = false}); });
    as.rss_kib = std::max(0L, rss - rss0);
    as.vm_kib = std::max(0L, vm - vm0);
  }
  const double d = 0.1;
  r.rows.push_back({"serial (first " + std::to_string(serial_urls) + " URLs only)", serial.seconds, lab::kNone,
                    serial_urls * d, "s",
                    "all " + std::to_string(urls) + " would take ~" +
                        std::to_string(static_cast<int>(serial.seconds / serial_urls * urls)) + " s"});
  r.rows.push_back({"20 threads", t20.seconds, lab::kNone, std::ceil(urls / 20.0) * d, "s", ""});
  r.rows.push_back({std::to_string(urls) + " threads", tall.seconds, lab::kNone, d, "s", ""});
  r.rows.push_back({"async (" + std::to_string(urls) + " tasks, one thread)", as.seconds, lab::kNone, d, "s", ""});
  r.rows.push_back({std::to_string(urls) + " threads: resident memory per request", double(tall.rss_kib) / urls,
                    lab::kNone, lab::kNone, "KiB", "stacks are committed lazily"});
  r.rows.push_back({std::to_string(urls) + " threads: address space per request", double(tall.vm_kib) / urls,
                    lab::kNone, lab::kNone, "KiB", "reserved stack + guard"});
  r.rows.push_back({"async: resident memory per request", double(as.rss_kib) / urls, lab::kNone, lab::kNone, "KiB",
                    "a coroutine frame and a socket buffer"});
  r.chart.title = "time to fetch all URLs (s)";
  r.chart.unit = "s";
  r.chart.bars = {
      {"20 threads", t20.seconds}, {std::to_string(urls) + " threads", tall.seconds}, {"async", as.seconds}};
  r.facts = {{"urls", urls},
             {"ok_20", t20.ok},
             {"ok_all", tall.ok},
             {"ok_serial", serial.ok},
             {"serial_per_url_s", serial.seconds / serial_urls},
             {"threads20_s", t20.seconds},
             {"threads_all_s", tall.seconds},
             {"rss_kib_per_request", double(tall.rss_kib) / urls},
             {"vm_kib_per_request", double(tall.vm_kib) / urls},
             {"ok_async", as.ok},
             {"async_s", as.seconds},
             {"async_rss_kib_per_request", double(as.rss_kib) / urls}};
  r.lesson =
      "waiting requests overlap: 20 threads are 20x faster than serial, one thread per request is as "
      "fast as the slowest reply but pays a stack each; async overlaps them all on one thread, "
      "for less memory per request";
  return r;
}

const lab::Register register_fetch({"003-fetch", "003", "Exercise 2: fetch hundreds of URLs from a slow local server",
                                    run_fetch});

}  // namespace
}  // namespace spindle::labs
