// The memory a burst of tasks takes: the coroutine frame pool (per-thread, by size class, in 256 KiB chunks
// that come from 2 MiB huge pages once a thread makes many frames) and the timer heap's blocks.

#include <sys/mman.h>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <new>
#include <utility>
#include <vector>

#include "spindle/aio/detail/core.hpp"
#include "spindle/core/detail/pages.hpp"

#if defined(__SANITIZE_ADDRESS__)
#define SPINDLE_AIO_PLAIN_FRAMES 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SPINDLE_AIO_PLAIN_FRAMES 1
#endif
#endif

namespace spindle::aio {
namespace detail {

// ---- frame pool ------------------------------------------------------------------------------------------
namespace {

constexpr std::size_t kGrain = 16;
constexpr std::size_t kClasses = 48;  // frames up to 768 bytes are pooled

constexpr std::size_t kChunk = 256 * 1024;
constexpr std::size_t kChunkHead = 64;         // a chunk starts with its ChunkHead, on a cache line of its own
constexpr std::size_t kFaultStep = 64 * 1024;  // populated ahead of the frames carved: 16 pages a call
constexpr std::size_t kPage = spindle::detail::kPageBytes;
constexpr std::size_t kHuge = spindle::detail::kHugePageBytes;
constexpr long kPlainChunks = 4;  // a thread's first MiB of frames comes in plain pages
static_assert(kHuge % kChunk == 0);

// Frames are carved from 256 KiB chunks (no malloc header per frame) and recycled through per-thread,
// per-size free lists. Each chunk belongs to a Home (a thread's, while the thread lives), found from a frame's
// address because chunks are aligned to their size. A frame freed by its home's thread goes on that thread's
// list; a frame freed on another thread is pushed on its home's remote list (lock-free), which the owner
// takes whole when a list of its own runs empty (mimalloc's and snmalloc's remote frees). Memory therefore
// goes back to the thread that allocates: the maker of coroutines run on another thread's loop (Python's
// run_coroutine_threadsafe, a pipeline hand-off) reuses its frames instead of carving new chunks for ever.
//
// Chunks are never given back to the system: a frame carved on one thread may still be live, or sit in
// another thread's free list, after the carving thread exits. An exiting thread leaves its free frames and
// the unused tail of its chunk in the depot and its Home there as an orphan; a thread running short takes
// the frames freed to orphans since (and their chunks with them), and a new thread adopts an orphan Home
// before it makes one. Memory stays bounded by the peak of live frames, and Homes by the peak thread count.
struct alignas(64) Home {              // a line of its own: other threads push on it
  std::atomic<void*> remote{nullptr};  // frames freed on other threads: word 0 next, word 1 size class
  std::atomic<bool> owned{true};       // false while an orphan (its thread exited, nobody adopted it yet)
  Home* next_orphan = nullptr;         // under the depot's lock
};

struct ChunkHead {
  std::atomic<Home*> home;  // whose lists the chunk's frames go back to; changes when an orphan's are taken
};

// Frames and timer entries are written as soon as they are carved or pushed: their fresh pages are faulted in
// by one call per stretch (populate_pages) instead of one fault each. Where a first touch is dear (a hypervisor
// that shadows page tables: about 11 us a page, 5.5 in all after populating, 2-3x that under load;
// docs/performance-history.md), that is most of a burst of task creation (W3); where it is cheap, it costs nothing
// measurable. Pages of a reused heap range are simply there already.

// Maps 2 MiB aligned to 2 MiB and asks for a transparent huge page there: a thread that keeps making tasks
// (W3: 100,000 of them) then takes its chunks eight at a time from one page, faulted in at once. Where a first
// touch is dear (the hypervisor above: 9-11 us a 4 KiB page, 0.2-0.4 us a 4 KiB share of a huge page; the
// probe in docs/performance-history.md), that is most of the time spent making tasks. Null when the mapping fails;
// where THP is off or not built the advice is refused and the chunks are plain pages, as before.
char* map_huge_group() noexcept {
  void* raw = ::mmap(nullptr, 2 * kHuge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) return nullptr;
  const auto lo = reinterpret_cast<std::uintptr_t>(raw);
  const auto at = (lo + kHuge - 1) & ~(std::uintptr_t{kHuge} - 1);
  if (at > lo) ::munmap(raw, at - lo);
  ::munmap(reinterpret_cast<void*>(at + kHuge), lo + kHuge - at);
  spindle::detail::advise_huge_pages(reinterpret_cast<void*>(at), kHuge);
  return reinterpret_cast<char*>(at);
}

char* page_of(char* p) noexcept {
  return reinterpret_cast<char*>(reinterpret_cast<std::uintptr_t>(p) & ~(std::uintptr_t{kPage} - 1));
}

ChunkHead* chunk_of(void* frame) noexcept {
  return reinterpret_cast<ChunkHead*>(reinterpret_cast<std::uintptr_t>(frame) & ~(std::uintptr_t{kChunk} - 1));
}

struct Depot {
  std::mutex mu;
  void* heads[kClasses] = {};
  std::vector<std::pair<char*, std::size_t>> spans;  // unused chunk tails
  Home* orphans = nullptr;                           // Homes whose thread exited
  std::atomic<bool> stocked{false};                  // read without the lock on the allocation slow path
};

Depot& depot() {
  static Depot* d = new Depot;  // never destroyed: threads (and their pools) end during static destruction
  return *d;
}

std::atomic<long> g_chunks{0};

void* next_of(void* frame) noexcept { return *static_cast<void**>(frame); }
std::size_t class_of(void* frame) noexcept { return static_cast<std::size_t*>(frame)[1]; }

struct FramePool {
  void* heads[kClasses] = {};
  Home* home = nullptr;  // made or adopted on the first allocation
  char* cur = nullptr;
  std::size_t left = 0;
  char* ready = nullptr;  // the chunk's pages below this are faulted in (see populate_pages)
  char* group = nullptr;  // the next unused chunk of this thread's huge-page group, up to group_end
  char* group_end = nullptr;
  long chunks = 0;  // chunks this thread has started carving
  long allocated = 0;
  long freed = 0;
  FramePool() = default;
  FramePool(const FramePool&) = delete;
  FramePool& operator=(const FramePool&) = delete;
  ~FramePool() {
    if (home == nullptr) return;  // never allocated, so it owns no frame
    home->owned.store(false, std::memory_order_seq_cst);
    take(home->remote.exchange(nullptr, std::memory_order_seq_cst), nullptr);  // see remote_free
    Depot& d = depot();
    std::lock_guard lock(d.mu);
    for (std::size_t c = 0; c < kClasses; ++c) {
      if (heads[c] == nullptr) continue;
      void* tail = heads[c];
      while (next_of(tail) != nullptr) tail = next_of(tail);
      *static_cast<void**>(tail) = d.heads[c];
      d.heads[c] = heads[c];
    }
    if (left >= kGrain) d.spans.emplace_back(cur, left);
    for (; group != group_end; group += kChunk) {  // a group's chunks not started yet, whole
      ::new (static_cast<void*>(group)) ChunkHead{home};
      d.spans.emplace_back(group + kChunkHead, kChunk - kChunkHead);
    }
    home->next_orphan = d.orphans;
    d.orphans = std::exchange(home, nullptr);  // a frame freed later in this thread's exit goes to the orphan
    for (void*& h : heads) h = nullptr;
    left = 0;
    d.stocked.store(true, std::memory_order_relaxed);
  }
  // Pushes `frame` (of size class `cls`) on `home`'s remote list. Sequentially consistent, with the exiting
  // owner's `owned` store and take of the list: either the owner takes the frame, or we see the orphan and
  // tell the depot that there is something to take.
  static void remote_free(Home* home, void* frame, std::size_t cls) noexcept {
    static_cast<std::size_t*>(frame)[1] = cls;
    void* head = home->remote.load(std::memory_order_relaxed);
    do {
      *static_cast<void**>(frame) = head;
    } while (!home->remote.compare_exchange_weak(head, frame, std::memory_order_seq_cst, std::memory_order_relaxed));
    if (!home->owned.load(std::memory_order_seq_cst)) depot().stocked.store(true, std::memory_order_release);
  }
  void push(void* frame, std::size_t cls) noexcept {
    *static_cast<void**>(frame) = heads[cls];
    heads[cls] = frame;
  }
  // Moves the frames of a remote list to this thread's lists; `rehome`: their chunks' frames come back here.
  void take(void* list, Home* rehome) noexcept {
    for (void* f = list; f != nullptr;) {
      void* next = next_of(f);
      if (rehome != nullptr) chunk_of(f)->home.store(rehome, std::memory_order_relaxed);
      push(f, class_of(f));
      f = next;
    }
  }
  void take_remote(Home* h, Home* rehome) noexcept {
    if (h->remote.load(std::memory_order_relaxed) != nullptr) take(h->remote.exchange(nullptr), rehome);
  }
  // The slow path of frame_alloc: this thread's list of class `cls` is empty.
  [[gnu::noinline]] void* refill(std::size_t cls) {
    if (home == nullptr) adopt();
    take_remote(home, nullptr);
    if (heads[cls] == nullptr) restock(cls * kGrain);
    if (void* p = heads[cls]) {
      heads[cls] = next_of(p);
      return p;
    }
    return carve(cls * kGrain);
  }
  // Takes an orphan Home (and with it the frames its chunks get back), or makes one.
  void adopt() {
    Depot& d = depot();
    {
      std::lock_guard lock(d.mu);
      if (d.orphans != nullptr) {
        home = std::exchange(d.orphans, d.orphans->next_orphan);
        home->owned.store(true, std::memory_order_seq_cst);
        return;
      }
    }
    home = new Home;  // never freed: chunks point at it for ever
  }
  // Takes the depot's free frames of every class this pool has none of, the frames other threads freed to
  // orphan Homes, and a chunk tail if what is left of the current one cannot hold a frame of `bytes`.
  void restock(std::size_t bytes) {
    Depot& d = depot();
    if (!d.stocked.load(std::memory_order_acquire)) return;
    std::lock_guard lock(d.mu);
    d.stocked.store(false, std::memory_order_relaxed);  // before the takes: a later orphan free sets it again
    for (Home* h = d.orphans; h != nullptr; h = h->next_orphan) take_remote(h, home);  // nobody else's now
    bool more = false;
    for (std::size_t c = 0; c < kClasses; ++c) {
      if (heads[c] == nullptr) heads[c] = std::exchange(d.heads[c], nullptr);
      more = more || d.heads[c] != nullptr;
    }
    if (left < bytes) take_span(d, bytes);
    if (more || !d.spans.empty()) d.stocked.store(true, std::memory_order_relaxed);
  }
  // Continues in a span that holds `bytes` (the last such, often a whole chunk of an exited thread's group);
  // this chunk's few bytes left are dropped, as carve drops them. Spans too short for it stay for smaller frames.
  void take_span(Depot& d, std::size_t bytes) {
    for (std::size_t i = d.spans.size(); i-- > 0;) {
      if (d.spans[i].second < bytes) continue;
      std::tie(cur, left) = d.spans[i];
      d.spans[i] = d.spans.back();
      d.spans.pop_back();
      ready = page_of(cur);
      chunk_of(cur)->home.store(home, std::memory_order_relaxed);  // its new frames come back here
      return;
    }
  }
  // Faults in the current chunk's pages up to `need`, kFaultStep at a time, so that a thread that carves one
  // frame does not make a whole chunk resident.
  void fault_in(const char* need) noexcept {
    char* end = reinterpret_cast<char*>(chunk_of(cur)) + kChunk;
    while (ready < need && ready < end) {
      const auto n = std::min(kFaultStep, static_cast<std::size_t>(end - ready));
      spindle::detail::populate_pages(ready, n);
      ready += n;
    }
  }
  // A chunk aligned to its size, so that a frame finds its chunk's head: from this thread's huge-page group once
  // it has carved kPlainChunks, else alone. Never freed: see the comment above.
  char* new_chunk() {
    if (group == group_end && chunks >= kPlainChunks) {
      if (char* g = map_huge_group()) {
        group = g;
        group_end = g + kHuge;
      }
    }
    ++chunks;
    if (group != group_end) return std::exchange(group, group + kChunk);
    return static_cast<char*>(::operator new (kChunk, std::align_val_t{kChunk}));
  }
  void* carve(std::size_t bytes) {
    if (left < bytes) {
      char* chunk = new_chunk();
      cur = chunk + kChunkHead;
      ready = chunk;
      fault_in(cur);
      ::new (static_cast<void*>(chunk)) ChunkHead{home};
      left = kChunk - kChunkHead;
      g_chunks.fetch_add(1, std::memory_order_relaxed);
    }
    if (cur + bytes > ready) fault_in(cur + bytes);
    void* p = cur;
    cur += bytes;
    left -= bytes;
    return p;
  }
};

thread_local FramePool tls_pool;

}  // namespace

void* frame_alloc(std::size_t size) {
  FramePool& pool = tls_pool;
  ++pool.allocated;
#ifndef SPINDLE_AIO_PLAIN_FRAMES
  const std::size_t cls = (size + kGrain - 1) / kGrain;
  if (cls < kClasses) {
    if (void* p = pool.heads[cls]) {
      pool.heads[cls] = next_of(p);
      return p;
    }
    return pool.refill(cls);
  }
#endif
  return ::operator new(size);
}

void frame_free(void* p, std::size_t size) noexcept {
  FramePool& pool = tls_pool;
  ++pool.freed;
#ifndef SPINDLE_AIO_PLAIN_FRAMES
  const std::size_t cls = (size + kGrain - 1) / kGrain;
  if (cls < kClasses) {
    Home* home = chunk_of(p)->home.load(std::memory_order_relaxed);
    if (home == pool.home) {
      pool.push(p, cls);
    } else {
      FramePool::remote_free(home, p, cls);
    }
    return;
  }
#endif
  (void)size;
  ::operator delete(p);
}

long live_frames() noexcept { return tls_pool.allocated - tls_pool.freed; }

long frame_chunks() noexcept { return g_chunks.load(std::memory_order_relaxed); }

// ---- timer heap blocks -----------------------------------------------------------------------------------

void* TimerHeap::alloc_block(std::size_t bytes) {
  void* p = ::operator new (bytes, std::align_val_t{kPage});
  spindle::detail::populate_pages(p, bytes);  // 24 KiB: six fresh pages, faulted in by one call
  return p;
}

void TimerHeap::free_block(Entry* block) noexcept { ::operator delete (block, std::align_val_t{kPage}); }

}  // namespace detail
}  // namespace spindle::aio
