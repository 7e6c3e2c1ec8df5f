// spindle::pipeline sources that live on other loops or on the network: an aio::Queue of the caller's event
// loop, and the lines of a TCP stream.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "census.hpp"
#include "spindle/aio/queue.hpp"
#include "spindle/aio/run.hpp"
#include "spindle/aio/task.hpp"
#include "spindle/pipeline.hpp"

namespace pl = spindle::pipeline;
namespace aio = spindle::aio;

namespace {

class PipelineSources : public spindle::test::LeakCheckedTest {};

aio::Task<void> produce(aio::Queue<long>* q, long n, bool shut) {
  for (long i = 0; i < n; ++i) co_await q->put(i);
  co_await q->join();  // every item was taken by the pipeline
  if (shut) q->shutdown();
}

aio::Task<std::vector<long>> queue_through_pipeline(long n) {
  aio::Queue<long> q(16);
  auto p = pl::from(q).thread([](long& x) { return x * 3; }, {.concurrency = 2}).collect();
  aio::Task<void> producer = aio::create_task(produce(&q, n, true));
  pl::Report r = co_await p.run_async();
  co_await std::move(producer);
  EXPECT_EQ(r.state, pl::State::completed);
  co_return p.results();
}

TEST_F(PipelineSources, AnAioQueueOfTheCallersLoopFeedsThePipeline) {
  const std::vector<long> got = aio::run(queue_through_pipeline(5000));
  ASSERT_EQ(got.size(), 5000u);
  for (long i = 0; i < 5000; ++i) ASSERT_EQ(got[static_cast<std::size_t>(i)], i * 3);
}

aio::Task<pl::State> stop_or_cancel(bool cancel, std::vector<long>* out) {
  aio::Queue<long> q;
  auto p = pl::from(q).collect();
  aio::Task<pl::Report> run = aio::create_task(p.run_async());
  co_await produce(&q, 10, false);  // taken by the pipeline; the queue stays open and empty
  if (cancel) {
    p.cancel();
  } else {
    p.stop();
  }
  pl::Report r = co_await std::move(run);
  if (!cancel) *out = p.results();
  co_return r.state;
}

TEST_F(PipelineSources, StopAndCancelEndASourceWaitingOnAnEmptyAioQueue) {
  std::vector<long> got;
  EXPECT_EQ(aio::run(stop_or_cancel(false, &got)), pl::State::completed);
  EXPECT_EQ(got, (std::vector<long>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));  // stop loses nothing taken
  EXPECT_EQ(aio::run(stop_or_cancel(true, &got)), pl::State::cancelled);
}

aio::Task<bool> blocking_run_on_the_queues_loop() {
  aio::Queue<long> q;
  auto p = pl::from(q).sink([](long&) {});
  try {
    p.run();
  } catch (const spindle::InvalidStateError&) {
    co_return true;
  }
  co_return false;
}

TEST_F(PipelineSources, AioQueueMisuseIsAClearErrorNotAHang) {
  aio::Queue<long> q;
  EXPECT_THROW(pl::from(q), spindle::InvalidStateError);  // no loop runs here: whose queue is it?
  EXPECT_TRUE(aio::run(blocking_run_on_the_queues_loop()));
}

/// A one-shot TCP server on 127.0.0.1 (plain blocking sockets, not spindle's): sends `text`, then closes.
class OneShotServer {
 public:
  explicit OneShotServer(std::string text) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd_, 1) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0)
      throw std::system_error(errno, std::generic_category(), "test server");
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this, text = std::move(text)] {
      const int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) return;
      std::size_t off = 0;
      while (off < text.size()) {
        const ssize_t w = ::send(c, text.data() + off, text.size() - off, MSG_NOSIGNAL);
        if (w <= 0) break;
        off += static_cast<std::size_t>(w);
      }
      ::close(c);
    });
  }
  ~OneShotServer() {
    thread_.join();
    ::close(fd_);
  }
  OneShotServer(const OneShotServer&) = delete;
  OneShotServer& operator=(const OneShotServer&) = delete;
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
  std::thread thread_;
};

TEST_F(PipelineSources, TheLinesOfATcpStream) {
  std::string text;
  for (int i = 0; i < 3000; ++i) text += "line " + std::to_string(i) + (i % 2 == 0 ? "\n" : "\r\n");
  text += "last, without a newline";
  OneShotServer server(text);
  auto p = pl::lines("127.0.0.1", server.port()).thread([](std::string& s) { return s.size(); }).collect();
  p.run();
  const std::vector<std::size_t> sizes = p.results();
  ASSERT_EQ(sizes.size(), 3001u);
  for (int i = 0; i < 3000; ++i) ASSERT_EQ(sizes[static_cast<std::size_t>(i)], ("line " + std::to_string(i)).size());
  EXPECT_EQ(sizes.back(), std::string("last, without a newline").size());
}

TEST_F(PipelineSources, ALineOverTheLimitOrARefusedConnectionFailsTheRun) {
  {
    OneShotServer server(std::string(5000, 'x') + "\n");
    auto p = pl::lines("127.0.0.1", server.port(), {}, 1000).collect();
    EXPECT_THROW(p.run(), spindle::LimitOverrunError);
  }
  // A bound socket that does not listen refuses connections.
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len), 0);
  auto p = pl::lines("127.0.0.1", ntohs(a.sin_port)).collect();
  EXPECT_THROW(p.run(), std::system_error);
  ::close(fd);
  EXPECT_THROW(pl::lines("127.0.0.1", 0), std::invalid_argument);
}

}  // namespace
