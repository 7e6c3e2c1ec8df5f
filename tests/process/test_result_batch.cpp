// ResultBatch (src/process/result_batch.hpp), the worker's side of batched replies, on a socketpair: what it
// keeps is committed in the area, what it sends arrives whole and in order, and the result of a task that ran
// long is not kept behind the next one. (The pool-level guarantees are in test_process_pool_batching.cpp.)

#include "result_batch.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <string>
#include <vector>

#include "census.hpp"

namespace {

using spindle::process::detail::kept_results;
using spindle::process::detail::kResultAreaBytes;
using spindle::process::detail::ResultBatch;

class ResultBatchTest : public spindle::test::LeakCheckedTest {
 protected:
  void SetUp() override {
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds_), 0);
    area_.assign(kResultAreaBytes, '\0');
  }
  void TearDown() override {
    ::close(fds_[0]);
    ::close(fds_[1]);
  }
  /// Everything the batch has sent so far (non-blocking read of the other end).
  std::string received() {
    std::string out;
    char buf[4096];
    for (;;) {
      const ssize_t n = ::recv(fds_[1], buf, sizeof buf, MSG_DONTWAIT);
      if (n <= 0) break;
      out.append(buf, static_cast<std::size_t>(n));
    }
    return out;
  }
  static void run_for(std::chrono::microseconds d) {  // a task that takes at least d
    const auto end = std::chrono::steady_clock::now() + d;
    while (std::chrono::steady_clock::now() < end) {
    }
  }
  int fds_[2] = {-1, -1};
  std::string area_;
};

TEST_F(ResultBatchTest, KeptResultsAreCommittedInTheAreaAndSentInOrderOnFlush) {
  ResultBatch batch(fds_[0], area_.data());
  ASSERT_TRUE(batch.before_task());
  ASSERT_TRUE(batch.add("first;", {}));
  ASSERT_TRUE(batch.add("second;", {}));
  // Kept, not sent: committed in the area, where the parent would find them if the worker died now.
  EXPECT_EQ(received(), "");
  EXPECT_EQ(kept_results(area_.data()), "first;second;");
  ASSERT_TRUE(batch.flush());
  EXPECT_EQ(received(), "first;second;");
  EXPECT_EQ(kept_results(area_.data()).size(), 0u);
}

TEST_F(ResultBatchTest, AResultWithDescriptorsGoesAtOnceAfterTheKeptOnes) {
  ResultBatch batch(fds_[0], area_.data());
  ASSERT_TRUE(batch.before_task());
  ASSERT_TRUE(batch.add("a;", {}));
  ASSERT_TRUE(batch.before_task());
  const int dup = ::fcntl(fds_[0], F_DUPFD_CLOEXEC, 0);
  ASSERT_GE(dup, 0);
  ASSERT_TRUE(batch.add("b;", {dup}));
  ::close(dup);  // the receiver's copy arrives with the frame; ours is closed here (the worker's close_fds)
  // Without flush(): the frame with a descriptor took the kept one with it.
  std::string got;
  char buf[64];
  char control[CMSG_SPACE(sizeof(int))];
  iovec iov{buf, sizeof buf};
  msghdr m{};
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  m.msg_control = control;
  m.msg_controllen = sizeof control;
  const ssize_t n = ::recvmsg(fds_[1], &m, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
  ASSERT_GT(n, 0);
  got.assign(buf, static_cast<std::size_t>(n));
  for (cmsghdr* c = CMSG_FIRSTHDR(&m); c != nullptr; c = CMSG_NXTHDR(&m, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(c), sizeof fd);
      ::close(fd);
    }
  }
  got += received();
  EXPECT_EQ(got, "a;b;");
  EXPECT_EQ(kept_results(area_.data()).size(), 0u);
}

TEST_F(ResultBatchTest, TheResultOfATaskThatRanLongIsSentBeforeTheNextTaskStarts) {
  ResultBatch batch(fds_[0], area_.data());
  ASSERT_TRUE(batch.before_task());
  run_for(ResultBatch::kQuickTask * 100);  // not a tiny task: at least a millisecond
  ASSERT_TRUE(batch.add("slow;", {}));
  ASSERT_TRUE(batch.before_task());
  EXPECT_EQ(received(), "slow;");
  EXPECT_EQ(kept_results(area_.data()).size(), 0u);
}

TEST_F(ResultBatchTest, AFullAreaIsSentToMakeRoom) {
  ResultBatch batch(fds_[0], area_.data());
  const std::string frame(1000, 'x');
  std::string expected, got;
  for (int i = 0; i < 100; ++i) {  // 100 kB through a 64 KiB area
    ASSERT_TRUE(batch.add(frame, {}));
    expected += frame;
    EXPECT_LE(kept_results(area_.data()).size(), kResultAreaBytes - 8);
    got += received();  // drained as it goes: the sends block on a full socket
  }
  EXPECT_FALSE(got.empty());  // the area filled up once at least
  ASSERT_TRUE(batch.flush());
  got += received();
  EXPECT_EQ(got, expected);
}

TEST_F(ResultBatchTest, ASendToAClosedChannelFails) {
  ResultBatch batch(fds_[0], area_.data());
  ::shutdown(fds_[1], SHUT_RD);
  ASSERT_TRUE(batch.before_task());
  const bool kept = batch.add("lost;", {});
  EXPECT_FALSE(kept && batch.flush());
}

}  // namespace
