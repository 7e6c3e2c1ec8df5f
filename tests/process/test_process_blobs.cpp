// Large arrays of numbers as shared-memory blobs (process/detail/blob.hpp): the codec's two encodings of a
// vector, what a malformed one gets, the cache's reuse and fork rules, and a process pool carrying blobs
// (results equal, reuse never serving stale bytes, a crash on a blob task costing one future).

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <memory>
#include <numeric>
#include <string>
#include <thread>
#include <vector>

#include "census.hpp"
#include "process_census.hpp"
#include "spindle/process/codec.hpp"
#include "spindle/process/detail/blob.hpp"
#include "spindle/process/process_pool_executor.hpp"

namespace sp = spindle::process;

namespace {

constexpr std::size_t kBig = sp::detail::kBlobMinBytes / sizeof(double) + 1000;  // just over the threshold

std::vector<double> ramp(std::size_t n, double start) {
  std::vector<double> v(n);
  std::iota(v.begin(), v.end(), start);
  return v;
}

double sum_of(std::vector<double> v) { return std::accumulate(v.begin(), v.end(), 0.0); }
std::vector<double> doubled(std::vector<double> v) {
  for (double& x : v) x *= 2;
  return v;
}
// A checksum of a string that no reordering or stale byte can keep.
std::uint64_t fingerprint(std::string s) {
  std::uint64_t h = 1469598103934665603ULL;
  for (const char c : s) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ULL;
  return h ^ s.size();
}
std::string text_of(std::size_t n, int k) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + (i * 7 + static_cast<std::size_t>(k)) % 26);
  return s;
}
double die_on_big(std::vector<double> v) {
  if (v.size() >= kBig) ::raise(SIGKILL);
  return 0;
}

const bool forkserver_started = (sp::init(), true);  // before any census baseline

class Blobs : public spindle::test::LeakCheckedTest {};

TEST_F(Blobs, ALargeArrayTravelsAsOneDescriptorWhereTheWriterLendsBlobs) {
  const std::vector<double> big = ramp(kBig, 0.5), small = ramp(100, 1.0);
  std::string out;
  std::vector<int> fds;
  std::vector<std::shared_ptr<const void>> leases;
  {
    sp::Writer w(out, &fds);
    w.lend_blobs(&leases);
    w(big, small);
  }
  ASSERT_EQ(fds.size(), 1u);  // only the big one
  ASSERT_EQ(leases.size(), 1u);
  EXPECT_LT(out.size(), small.size() * sizeof(double) + 64);  // the big array's bytes are not inline
  sp::Reader r(out.data(), out.size(), &fds);
  std::vector<double> big_back, small_back;
  r(big_back, small_back);
  EXPECT_EQ(r.remaining(), 0u);
  EXPECT_EQ(big_back, big);
  EXPECT_EQ(small_back, small);
  EXPECT_EQ(fds[0], -1);  // taken (and closed) by the decoder
}

TEST_F(Blobs, WithoutLeasesOrDescriptorsALargeArrayStaysInline) {
  const std::vector<double> big = ramp(kBig, 3.0);
  std::vector<std::shared_ptr<const void>> leases;
  std::string out;
  {
    sp::Writer w(out, nullptr);  // a channel without descriptors (a Queue item): lend_blobs has no effect
    w.lend_blobs(&leases);
    w(big);
  }
  EXPECT_TRUE(leases.empty());
  EXPECT_GE(out.size(), big.size() * sizeof(double));
  EXPECT_EQ(sp::decode<std::vector<double>>(out), big);
  EXPECT_EQ(sp::decode<std::vector<double>>(sp::encode(big)), big);  // plain encode: inline too
}

std::string header(std::uint8_t mode, std::uint64_t n) {
  std::string s(1, static_cast<char>(mode));
  s.append(reinterpret_cast<const char*>(&n), sizeof n);
  return s;
}

TEST_F(Blobs, MalformedArrayEncodingsAreRejected) {
  EXPECT_THROW(sp::decode<std::vector<int>>(header(2, 0)), sp::ProtocolError);  // unknown mode
  // Inline, more elements than bytes left: rejected before allocating.
  EXPECT_THROW(sp::decode<std::vector<int>>(header(0, std::uint64_t{1} << 60)), sp::ProtocolError);
  // A blob without a descriptor.
  std::string blob = header(1, 10);
  const std::uint32_t index = 0;
  blob.append(reinterpret_cast<const char*>(&index), sizeof index);
  EXPECT_THROW(sp::decode<std::vector<int>>(blob), sp::ProtocolError);
  // A blob descriptor holding fewer bytes than the count claims.
  const int fd = ::memfd_create("test-blob", MFD_CLOEXEC);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::ftruncate(fd, 16), 0);
  std::vector<int> fds{fd};
  EXPECT_THROW(sp::decode<std::vector<int>>(blob.data(), blob.size(), &fds), sp::ProtocolError);
  // An element count whose byte size overflows.
  std::string huge = header(1, ~std::uint64_t{0});
  huge.append(reinterpret_cast<const char*>(&index), sizeof index);
  const int fd2 = ::memfd_create("test-blob", MFD_CLOEXEC);
  ASSERT_GE(fd2, 0);
  std::vector<int> fds2{fd2};
  EXPECT_THROW(sp::decode<std::vector<std::uint64_t>>(huge.data(), huge.size(), &fds2), sp::ProtocolError);
  if (fds2[0] >= 0) ::close(fds2[0]);
}

TEST_F(Blobs, ABlobIsReusedOnlyOnceItsLeaseEnds) {
  constexpr std::size_t kSize = 5 << 20;  // a size no other test here lends: the free ones that fit are ours
  const char* first = nullptr;
  const char* second = nullptr;
  {
    auto a = sp::detail::lend_blob(kSize);
    auto b = sp::detail::lend_blob(kSize);
    first = a->data;
    second = b->data;
    EXPECT_NE(first, second);  // both leased: two blobs
  }
  auto c = sp::detail::lend_blob(kSize);
  EXPECT_TRUE(c->data == first || c->data == second) << "a free blob of the right size was not reused";
  EXPECT_GE(c->capacity, kSize);
}

// A blob's bytes as a worker reads them: through the descriptor (pread), as the codec does.
std::string read_back(const sp::detail::Blob& b, std::size_t bytes) {
  std::string out(bytes, '\0');
  const sp::detail::BlobFile file(::fcntl(b.fd, F_DUPFD_CLOEXEC, 0), bytes);
  file.read_into(out.data());
  return out;
}

// write_blob copies by pwrite into a blob this process never maps, and by memcpy into one it had mapped.
TEST_F(Blobs, WriteBlobFillsFreshReusedAndMappedBlobs) {
  constexpr std::size_t kSize = (7 << 20) + 123;  // a size no other test here lends
  const std::string one = text_of(kSize, 1), two = text_of(kSize, 2);
  ino_t first_inode = 0;
  {
    auto b = sp::detail::write_blob(one.data(), one.size());
    EXPECT_EQ(b->data, nullptr) << "a fresh blob was mapped to be written";
    EXPECT_GE(b->capacity, kSize);
    EXPECT_EQ(read_back(*b, kSize), one);
    struct stat st {};
    ASSERT_EQ(::fstat(b->fd, &st), 0);
    first_inode = st.st_ino;
  }
  {
    auto b = sp::detail::write_blob(two.data(), two.size());  // the free one, rewritten whole
    struct stat st {};
    ASSERT_EQ(::fstat(b->fd, &st), 0);
    EXPECT_EQ(st.st_ino, first_inode) << "the free blob was not reused";
    EXPECT_EQ(read_back(*b, kSize), two);
  }
  {
    auto mapped = sp::detail::lend_blob(kSize);  // the same blob, now mapped here
    ASSERT_NE(mapped->data, nullptr);
    EXPECT_EQ(std::string(mapped->data, kSize), two);
  }
  auto b = sp::detail::write_blob(one.data(), one.size());
  ASSERT_NE(b->data, nullptr) << "a mapped free blob should be reused through its mapping";
  EXPECT_EQ(read_back(*b, kSize), one);
  EXPECT_THROW(sp::detail::BlobFile(::fcntl(b->fd, F_DUPFD_CLOEXEC, 0), b->capacity + 1), sp::ProtocolError);
}

// A forked child inherits the parent's cache: its free blobs, and copies of the leases the parent holds. It
// must never write into either (the parent reuses the free ones, and a worker may be reading a leased one).
TEST_F(Blobs, AForkedChildNeverWritesIntoTheParentsBlobs) {
  {
    auto a = sp::detail::lend_blob(3 << 20);
    std::memset(a->data, 0x11, a->capacity);
  }                                            // free: the child inherits it in the cache's list
  auto held = sp::detail::lend_blob(3 << 20);  // leased across the fork
  std::memset(held->data, 0x22, held->capacity);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    held.reset();  // the child's copy of the lease ends: it must not enter the child's free list
    auto first = sp::detail::lend_blob(3 << 20);
    auto second = sp::detail::lend_blob(3 << 20);
    std::memset(first->data, 0xAB, first->capacity);
    std::memset(second->data, 0xAB, second->capacity);
    std::_Exit(0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  for (std::size_t i = 0; i < held->capacity; i += 4096)
    ASSERT_EQ(static_cast<unsigned char>(held->data[i]), 0x22) << "the child wrote into a blob the parent holds";
  auto again = sp::detail::lend_blob(3 << 20);
  for (std::size_t i = 0; i < again->capacity; i += 4096)
    ASSERT_NE(static_cast<unsigned char>(again->data[i]), 0xAB) << "the child wrote into a free blob of the parent";
}

class BlobPool : public spindle::test::ProcessCheckedTestWithParam<int> {};

TEST_P(BlobPool, LargeArgumentsArriveIntactConcurrentlyAndAfterReuse) {
  sp::ProcessPoolExecutor pool(static_cast<std::size_t>(GetParam()));
  // In flight at once: every task has a blob of its own.
  std::vector<spindle::Future<double>> fs;
  for (int k = 0; k < 12; ++k) fs.push_back(pool.submit<&sum_of>(ramp(kBig, k * 1000.0)));
  for (int k = 0; k < 12; ++k) EXPECT_EQ(fs[static_cast<std::size_t>(k)].result(), sum_of(ramp(kBig, k * 1000.0)));
  // One at a time: blobs come back and are rewritten; a worker must never see the previous task's bytes.
  for (int k = 0; k < 20; ++k) {
    const std::vector<double> v = ramp(kBig + static_cast<std::size_t>(k), -k * 7.0);
    EXPECT_EQ(pool.submit<&sum_of>(v).result(), sum_of(v)) << k;
  }
  // A large result comes back inline, whole.
  const std::vector<double> back = pool.submit<&doubled>(ramp(kBig, 1.0)).result();
  ASSERT_EQ(back.size(), kBig);
  EXPECT_EQ(back.front(), 2.0);
  EXPECT_EQ(back.back(), 2.0 * static_cast<double>(kBig));
}

// Arguments whose encoding is large but holds no array of numbers (a long string here; an MPI worker rank's
// tasks, whose bytes arrive already encoded) go to the worker as one blob of encoded bytes (a task_blob frame).
TEST_P(BlobPool, LargeEncodedArgumentsArriveIntactAsOneBlob) {
  sp::ProcessPoolExecutor pool(static_cast<std::size_t>(GetParam()));
  const std::size_t n = sp::detail::kBlobMinBytes + 12345;
  std::vector<spindle::Future<std::uint64_t>> fs;
  for (int k = 0; k < 8; ++k) fs.push_back(pool.submit<&fingerprint>(text_of(n, k)));
  for (int k = 0; k < 8; ++k) EXPECT_EQ(fs[static_cast<std::size_t>(k)].result(), fingerprint(text_of(n, k))) << k;
  for (int k = 0; k < 6; ++k)
    EXPECT_EQ(pool.submit<&fingerprint>(text_of(n + 1, k)).result(), fingerprint(text_of(n + 1, k)));
  // The worker reads them into a buffer it reuses: larger, then smaller again (a large buffer is given back
  // when the worker runs out of tasks), never a byte of the task before.
  for (const std::size_t size : {std::size_t{17} << 20, n + 7, std::size_t{18} << 20, n + 3}) {
    const std::string text = text_of(size, static_cast<int>(size % 26));
    EXPECT_EQ(pool.submit<&fingerprint>(text).result(), fingerprint(text)) << size;
  }
}

// Encoded arguments that are already in a blob (Call::args_blob: an MPI worker rank receives a large task
// straight into one) go to the worker as they are; the bytes after args_blob_bytes (the rank's message tail)
// are not the arguments', and the pool lets the blob go once the result is in.
TEST_P(BlobPool, ArgumentsAlreadyInABlobGoAsTheyAre) {
  sp::ProcessPoolExecutor pool(static_cast<std::size_t>(GetParam()));
  for (int k = 0; k < 6; ++k) {
    const std::string text = text_of(sp::detail::kBlobMinBytes + 4321 + static_cast<std::size_t>(k), k);
    sp::Call c = sp::call<&fingerprint>(text);
    auto blob = sp::detail::lend_blob(c.args.size() + 16);
    std::memcpy(blob->data, c.args.data(), c.args.size());
    std::memset(blob->data + c.args.size(), 0x5A, 16);  // a tail that is not part of the arguments
    c.args_blob = blob;
    c.args_blob_bytes = c.args.size();
    c.args.clear();
    const std::weak_ptr<sp::detail::Blob> lease = blob;
    blob.reset();
    const std::string encoded = pool.submit_encoded(std::move(c)).result();
    EXPECT_EQ(sp::decode<std::uint64_t>(encoded), fingerprint(text)) << k;
    // The pool drops the call, and with it the blob, once the result is in (on its own thread, just after).
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (!lease.expired() && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
    EXPECT_TRUE(lease.expired()) << "the pool kept the arguments' blob after the result, task " << k;
  }
}

TEST_P(BlobPool, AWorkerKilledOnABlobTaskCostsOnlyThatFuture) {
  sp::ProcessPoolExecutor pool(static_cast<std::size_t>(GetParam()));
  auto dies = pool.submit<&die_on_big>(ramp(kBig, 0));
  EXPECT_THROW(dies.result(), spindle::WorkerCrashed);
  const std::vector<double> v = ramp(kBig, 5);
  EXPECT_EQ(pool.submit<&sum_of>(v).result(), sum_of(v));
}

INSTANTIATE_TEST_SUITE_P(Workers, BlobPool, ::testing::Values(1, 2));

// Out of descriptors when a blob is needed (a memfd, or the duplicate sent with the frame): the submit or the
// task fails with an error naming the cause, never a hang or a crash, and the pool works again afterwards.
TEST_F(Blobs, OutOfDescriptorsForABlobIsAClearErrorAndThePoolGoesOn) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "UBSan needs a free descriptor for its own checks (see ProcessPoolSingle.OutOfDescriptors...)";
#endif
  sp::ProcessPoolExecutor pool(1);
  ASSERT_EQ(pool.submit<&sum_of>(ramp(10, 0)).result(), 45.0);  // the worker is up
  rlimit saved{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &saved), 0);
  rlimit low = saved;
  low.rlim_cur = static_cast<rlim_t>(spindle::test::fd_count() + 32);
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &low), 0);
  const std::vector<double> big = ramp(kBig, 2);
  const std::string text = text_of(sp::detail::kBlobMinBytes + 7, 3);
  std::vector<std::string> outcomes;
  // The futures outlive the catch blocks that read their errors: a future destroyed while its exception is
  // unwound would leave the last reference to the shared state with the pool's thread, and the exception's
  // own reference count lives in libstdc++, which TSan cannot see (tests/tsan.supp).
  spindle::Future<double> vector_task;
  spindle::Future<std::uint64_t> bytes_task;
  {
    std::vector<int> hog;
    for (;;) {
      const int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
      if (fd < 0) break;
      hog.push_back(fd);
    }
    for (int kind = 0; kind < 2; ++kind) {
      try {
        if (kind == 0) {
          vector_task = pool.submit<&sum_of>(big);  // a vector: its blob is made at submit
          outcomes.push_back(vector_task.wait_for(std::chrono::seconds(30))
                                 ? (vector_task.result() == sum_of(big) ? "ok" : "wrong")
                                 : "hung");
        } else {
          bytes_task = pool.submit<&fingerprint>(text);  // encoded bytes: their blob is made when the task is sent
          outcomes.push_back(bytes_task.wait_for(std::chrono::seconds(30))
                                 ? (bytes_task.result() == fingerprint(text) ? "ok" : "wrong")
                                 : "hung");
        }
      } catch (const std::exception& e) {
        outcomes.push_back(e.what());
      }
    }
    for (int fd : hog) ::close(fd);
  }
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &saved), 0);
  for (const auto& o : outcomes) EXPECT_NE(o.find("Too many open files"), std::string::npos) << o;
  EXPECT_EQ(pool.submit<&sum_of>(big).result(), sum_of(big));
  EXPECT_EQ(pool.submit<&fingerprint>(text).result(), fingerprint(text));
}

}  // namespace
