// The coroutine frame pool when frames are made on one thread and freed on another (run_coroutine_threadsafe,
// pipeline hand-offs): the memory must go back to the thread that made the frame, so a long run with a
// bounded number of live tasks needs bounded memory, however many tasks it makes.

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdio>
#include <semaphore>
#include <thread>
#include <vector>

#include "census.hpp"
#include "spindle/aio.hpp"

namespace aio = spindle::aio;

namespace {

#if defined(__SANITIZE_ADDRESS__)
#define SPINDLE_TEST_PLAIN_FRAMES 1  // the pool is bypassed under ASan (task_memory.cpp): nothing to count
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SPINDLE_TEST_PLAIN_FRAMES 1
#endif
#endif

#if defined(__SANITIZE_THREAD__) || defined(SPINDLE_TEST_PLAIN_FRAMES)
constexpr long kScale = 10;  // sanitizers are ~10x slower; the bound below does not depend on the count
#else
constexpr long kScale = 1;
#endif

using FramePool = spindle::test::LeakCheckedTest;

/// Resident set size in bytes (/proc/self/statm).
long rss_bytes() {
  long pages = 0;
  long resident = 0;
  if (std::FILE* f = std::fopen("/proc/self/statm", "r")) {
    if (std::fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
    std::fclose(f);
  }
  return resident * ::sysconf(_SC_PAGESIZE);
}

constexpr int kAlive = 64;  // tasks alive at once

aio::Task<void> job(std::counting_semaphore<kAlive>& slots, std::atomic<long>& ran) {
  ran.fetch_add(1, std::memory_order_relaxed);
  slots.release();
  co_return;
}

/// A loop on its own thread, fed with coroutines made on the calling thread.
class LoopThread {
 public:
  LoopThread() : thread_([this] { loop_.run_forever(); }) {}
  ~LoopThread() {
    loop_.call_soon_threadsafe([this] { loop_.stop(); });
    thread_.join();
  }
  /// Makes `n` coroutines here and runs each as a task on the loop, at most kAlive alive at a time; returns
  /// once every one has run (and so has been freed, on the loop's thread).
  void feed(long n) {
    hand_over(n);
    settle();
  }
  /// Makes `n` coroutines here and hands them to the loop, without waiting for the last kAlive to run. They go
  /// in batches, one wake-up of the loop each, so that the run takes about as long however the two threads
  /// are scheduled.
  void hand_over(long n) {
    constexpr long kBatch = kAlive / 2;
    for (long i = 0; i < n; i += kBatch) {
      std::vector<aio::Task<void>> batch;
      for (long j = i; j < std::min(n, i + kBatch); ++j) {
        slots_.acquire();
        batch.push_back(job(slots_, ran_));
      }
      loop_.call_soon_threadsafe([this, batch = std::move(batch)]() mutable {
        for (auto& t : batch) (void)loop_.create_task(std::move(t));
      });
    }
  }
  /// Waits until every task handed over has run and freed its frame.
  void settle() {
    for (int i = 0; i < kAlive; ++i) slots_.acquire();
    slots_.release(kAlive);
    // The last frame is freed just after its slot is released; a round trip through the loop waits for it.
    std::binary_semaphore idle(0);
    loop_.call_soon_threadsafe([&idle] { idle.release(); });
    idle.acquire();
  }
  /// Runs `fn` on the loop's thread.
  template <class F>
  void post(F fn) {
    loop_.call_soon_threadsafe(std::move(fn));
  }
  long ran() const { return ran_.load(); }

 private:
  aio::EventLoop loop_;
  std::counting_semaphore<kAlive> slots_{kAlive};
  std::atomic<long> ran_{0};
  std::thread thread_;
};

// The reported defect: 200k tasks made here and freed on the loop's thread left 34 MiB resident, 800k left
// 128 MiB (the frames joined the loop thread's free lists and this thread carved new chunks for ever).
TEST_F(FramePool, FramesFreedOnAnotherThreadAreReusedByTheirMaker) {
  const long warmup = 200'000 / kScale;
  const long total = 1'000'000 / kScale;
  LoopThread lt;
  lt.feed(warmup);
  [[maybe_unused]] const long chunks = aio::detail::frame_chunks();
  [[maybe_unused]] const long rss = rss_bytes();
  lt.feed(total - warmup);
  EXPECT_EQ(lt.ran(), total);
#ifndef SPINDLE_TEST_PLAIN_FRAMES
  // A 256 KiB chunk holds ~1000 frames and at most kAlive (+1) are alive: no new chunk after the warm-up.
  EXPECT_LE(aio::detail::frame_chunks() - chunks, 1) << "chunks carved for " << total - warmup << " more tasks";
#if !defined(__SANITIZE_THREAD__)
  // And the process as a whole stays flat (the defect grew by ~160 bytes a task: ~120 MiB here).
  EXPECT_LT(rss_bytes() - rss, 8L << 20) << "resident memory grew with the task count";
#endif
#endif
}

// Threads that make frames and exit before the loop frees them (the frames outlive their maker): the frames
// and the unused chunk space of exited threads are taken up by later threads, so thread churn does not grow
// the pool either (300 threads leaving 64 frames each would need ~12 more chunks).
TEST_F(FramePool, FramesOfThreadsThatExitedAreTakenUpByLaterThreads) {
  LoopThread lt;
  const auto generation = [&lt] {
    std::binary_semaphore gate(0);
    lt.post([&gate] { gate.acquire(); });  // the loop frees nothing until the maker has exited
    std::thread maker([&lt] { lt.hand_over(kAlive); });
    maker.join();
    gate.release();
    lt.settle();
  };
  for (int i = 0; i < 3; ++i) generation();
  [[maybe_unused]] const long chunks = aio::detail::frame_chunks();
  for (int i = 0; i < 300; ++i) generation();
  EXPECT_EQ(lt.ran(), 303 * kAlive);
#ifndef SPINDLE_TEST_PLAIN_FRAMES
  EXPECT_LE(aio::detail::frame_chunks() - chunks, 1) << "chunks carved by 300 short-lived threads";
#endif
}

// Frames of two sizes freed on threads that never allocated one and then exit: they still come home.
aio::Task<int> small(int v) { co_return v; }
aio::Task<long> big(std::array<char, 400> pad) { co_return pad[0]; }  // the parameter is copied into the frame

TEST_F(FramePool, FramesFreedOnThreadsWithoutAPoolComeHome) {
  const auto round = [] {
    std::vector<aio::Task<int>> smalls;
    std::vector<aio::Task<long>> bigs;
    for (int i = 0; i < 100; ++i) {
      smalls.push_back(small(i));
      bigs.push_back(big({}));
    }
    std::thread a([&smalls] { smalls.clear(); });  // destroyed unstarted, on another thread
    std::thread b([&bigs] { bigs.clear(); });
    a.join();
    b.join();
  };
  round();
  [[maybe_unused]] const long chunks = aio::detail::frame_chunks();
  for (int i = 0; i < 2000 / kScale; ++i) round();
#ifndef SPINDLE_TEST_PLAIN_FRAMES
  EXPECT_LE(aio::detail::frame_chunks() - chunks, 1);
#endif
}

// A thread that makes many frames takes its chunks eight at a time from a 2 MiB huge-page group
// (task_memory.cpp); the group's chunks it never started must reach later threads when it exits, each exactly once.
TEST_F(FramePool, UnusedChunksOfAnExitedThreadsGroupAreTakenUpByLaterThreads) {
  constexpr std::size_t kSize = 160;  // a W3 sleeper's frame: 1,638 to a 256 KiB chunk
  constexpr std::size_t kPerChunk = 1'638;
  std::size_t made = 0;
  std::thread([&made] {
    // Until it has carved five chunks of its own (four plain, then the first of a group), whatever the depot
    // held before (frames and tails other tests' threads left) taken first.
    [[maybe_unused]] const long start = aio::detail::frame_chunks();
    std::vector<void*> frames;
#ifdef SPINDLE_TEST_PLAIN_FRAMES
    for (std::size_t i = 0; i < 5 * kPerChunk; ++i) frames.push_back(aio::detail::frame_alloc(kSize));
#else
    while (aio::detail::frame_chunks() - start < 5) frames.push_back(aio::detail::frame_alloc(kSize));
#endif
    for (void* f : frames) aio::detail::frame_free(f, kSize);
    made = frames.size();
  }).join();
  [[maybe_unused]] const long chunks = aio::detail::frame_chunks();
  const std::size_t wanted = made + 6 * kPerChunk;
  bool distinct = true;
  std::thread([wanted, &distinct] {
    std::vector<void*> frames;
    for (std::size_t i = 0; i < wanted; ++i) {
      frames.push_back(aio::detail::frame_alloc(kSize));
      std::fill_n(static_cast<unsigned char*>(frames.back()), kSize, static_cast<unsigned char>(i));
    }
    for (std::size_t i = 0; i < wanted; ++i) {  // no frame handed out twice: each still holds its own byte
      const auto* f = static_cast<const unsigned char*>(frames[i]);
      distinct =
          distinct && std::all_of(f, f + kSize, [i](unsigned char c) { return c == static_cast<unsigned char>(i); });
    }
    for (void* f : frames) aio::detail::frame_free(f, kSize);
  }).join();
  EXPECT_TRUE(distinct) << "a frame was handed out twice";
#ifndef SPINDLE_TEST_PLAIN_FRAMES
  // The first thread's frames, the rest of its fifth chunk and its group's seven unstarted chunks hold all of
  // the second thread's.
  EXPECT_LE(aio::detail::frame_chunks() - chunks, 1) << "chunks carved though an exited thread left some unused";
#endif
}

}  // namespace
