// Descriptor passing (src/process/fd_passing.hpp), the one module that sends and receives SCM_RIGHTS: one
// and several descriptors, close-on-exec on arrival, a truncated control message (an error that closes
// whatever did arrive), a peer that closes.

#include "fd_passing.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <deque>
#include <string>
#include <vector>

#include "census.hpp"

namespace spindle::process::detail {
namespace {

using spindle::test::fd_count;

class FdPassingTest : public spindle::test::LeakCheckedTest {
 protected:
  void open_pair(int type) {
    ASSERT_EQ(::socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, sv_), 0);
  }
  void TearDown() override {
    for (int fd : sv_)
      if (fd >= 0) ::close(fd);
    LeakCheckedTest::TearDown();
  }
  int sv_[2] = {-1, -1};
};

// A pipe; the descriptor `w` passed to the peer must write into `r`.
void expect_writes_into(int w, int r, const std::string& text) {
  ASSERT_EQ(::write(w, text.data(), text.size()), static_cast<ssize_t>(text.size()));
  std::string got(text.size(), '\0');
  ASSERT_EQ(::read(r, got.data(), got.size()), static_cast<ssize_t>(got.size()));
  EXPECT_EQ(got, text);
}

TEST_F(FdPassingTest, PassesOneDescriptorCloseOnExec) {
  open_pair(SOCK_STREAM);
  int p[2];
  ASSERT_EQ(::pipe(p), 0);  // not close-on-exec here: the receiver's copy must be, all the same
  ASSERT_TRUE(send_all(sv_[0], "ab", 2, {p[1]}));
  char buf[8];
  std::deque<int> fds;
  ASSERT_EQ(recv_some(sv_[1], buf, sizeof buf, fds), 2);
  EXPECT_EQ(std::string(buf, 2), "ab");
  ASSERT_EQ(fds.size(), 1u);
  EXPECT_NE(fds[0], p[1]);
  EXPECT_TRUE(::fcntl(fds[0], F_GETFD) & FD_CLOEXEC);
  expect_writes_into(fds[0], p[0], "hello");
  ::close(fds[0]);
  ::close(p[0]);
  ::close(p[1]);
}

TEST_F(FdPassingTest, PassesSeveralDescriptorsInOrder) {
  open_pair(SOCK_STREAM);
  std::vector<int> reads, writes;
  for (int i = 0; i < 5; ++i) {
    int p[2];
    ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
    reads.push_back(p[0]);
    writes.push_back(p[1]);
  }
  const iovec iov{const_cast<char*>("x"), 1};
  ASSERT_EQ(send_fds(sv_[0], {&iov, 1}, writes), 1);
  char c = 0;
  const iovec in{&c, 1};
  ReceivedFds got;
  ASSERT_EQ(recv_fds(sv_[1], {&in, 1}, got), 1);
  EXPECT_EQ(c, 'x');
  ASSERT_EQ(got.count, 5u);
  for (std::size_t i = 0; i < 5; ++i) {
    expect_writes_into(got.fd[i], reads[i], "item " + std::to_string(i));
    ::close(got.fd[i]);
    ::close(reads[i]);
    ::close(writes[i]);
  }
}

TEST_F(FdPassingTest, PassesAsManyAsAFrameHolds) {
  open_pair(SOCK_SEQPACKET);
  const int dev_null = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  ASSERT_GE(dev_null, 0);
  const std::vector<int> many(kMaxFdsPerMessage, dev_null);
  const iovec iov{const_cast<char*>("m"), 1};
  ASSERT_EQ(send_fds(sv_[0], {&iov, 1}, many), 1);
  const std::vector<int> too_many(kMaxFdsPerMessage + 1, dev_null);
  errno = 0;
  EXPECT_EQ(send_fds(sv_[0], {&iov, 1}, too_many), -1);
  EXPECT_EQ(errno, EINVAL);
  char c;
  const iovec in{&c, 1};
  ReceivedFds got;
  ASSERT_EQ(recv_fds(sv_[1], {&in, 1}, got), 1);
  EXPECT_EQ(got.count, kMaxFdsPerMessage);
  for (std::size_t i = 0; i < got.count; ++i) ::close(got.fd[i]);
  ::close(dev_null);
}

TEST_F(FdPassingTest, TruncatedControlMessageClosesWhatArrivedAndFails) {
  for (int type : {SOCK_STREAM, SOCK_SEQPACKET}) {
    SCOPED_TRACE(type == SOCK_STREAM ? "stream" : "seqpacket");
    open_pair(type);
    int p[2];
    ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
    const int sent[3] = {p[0], p[1], p[1]};
    const iovec iov{const_cast<char*>("t"), 1};
    ASSERT_EQ(send_fds(sv_[0], {&iov, 1}, sent), 1);
    const int before = fd_count();
    char c;
    const iovec in{&c, 1};
    ReceivedFds got;
    errno = 0;
    // Room for two: the kernel installs two, drops the third and sets MSG_CTRUNC.
    EXPECT_EQ(recv_fds(sv_[1], {&in, 1}, got, 0, 2), -1);
    EXPECT_EQ(errno, EPROTO);
    EXPECT_EQ(got.count, 0u);
    EXPECT_EQ(fd_count(), before) << "the descriptors that did arrive must be closed";
    ::close(p[0]);
    ::close(p[1]);
    ::close(sv_[0]);
    ::close(sv_[1]);
    sv_[0] = sv_[1] = -1;
  }
}

TEST_F(FdPassingTest, DescriptorsNobodyAskedForAreClosed) {
  open_pair(SOCK_STREAM);
  const int dev_null = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  ASSERT_GE(dev_null, 0);
  const iovec iov{const_cast<char*>("n"), 1};
  const int one[1] = {dev_null};
  ASSERT_EQ(send_fds(sv_[0], {&iov, 1}, one), 1);
  ::close(dev_null);
  const int before = fd_count();
  char c;
  const iovec in{&c, 1};
  ReceivedFds got;
  errno = 0;
  EXPECT_EQ(recv_fds(sv_[1], {&in, 1}, got, 0, 0), -1);  // no room at all: the descriptor is an error
  EXPECT_EQ(errno, EPROTO);
  EXPECT_EQ(fd_count(), before);
}

TEST_F(FdPassingTest, PeerThatClosesIsEofAndEpipe) {
  open_pair(SOCK_STREAM);
  ASSERT_TRUE(send_all(sv_[0], "last", 4, {}));
  ::close(sv_[0]);
  sv_[0] = -1;
  char buf[16];
  std::deque<int> fds;
  EXPECT_EQ(recv_some(sv_[1], buf, sizeof buf, fds), 4);
  EXPECT_EQ(recv_some(sv_[1], buf, sizeof buf, fds), 0) << "EOF";
  EXPECT_TRUE(fds.empty());
  // The other way: writing to a closed peer fails with EPIPE, and no SIGPIPE kills the test.
  errno = 0;
  EXPECT_FALSE(send_all(sv_[1], "x", 1, {}));
  EXPECT_EQ(errno, EPIPE);
  const iovec iov{const_cast<char*>("y"), 1};
  errno = 0;
  EXPECT_EQ(send_fds(sv_[1], {&iov, 1}, {}), -1);
  EXPECT_EQ(errno, EPIPE);
}

TEST_F(FdPassingTest, NonBlockingReceiveWithNothingThereIsEagain) {
  open_pair(SOCK_STREAM);
  char c;
  const iovec in{&c, 1};
  ReceivedFds got;
  errno = 0;
  EXPECT_EQ(recv_fds(sv_[1], {&in, 1}, got, MSG_DONTWAIT), -1);
  EXPECT_EQ(errno, EAGAIN);
}

}  // namespace
}  // namespace spindle::process::detail
