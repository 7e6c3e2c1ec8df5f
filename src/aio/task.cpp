// Task state: cancellation, completion, watchers, the live-task list and the coroutine frame pool.

#include <sys/mman.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <mutex>
#include <new>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "spindle/aio/event_loop.hpp"
#include "spindle/core/detail/pages.hpp"
#include "spindle/core/unhandled.hpp"

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
// docs/PERFORMANCE.md), that is most of a burst of task creation (W3); where it is cheap, it costs nothing
// measurable. Pages of a reused heap range are simply there already.

// Maps 2 MiB aligned to 2 MiB and asks for a transparent huge page there: a thread that keeps making tasks
// (W3: 100,000 of them) then takes its chunks eight at a time from one page, faulted in at once. Where a first
// touch is dear (the hypervisor above: 9-11 us a 4 KiB page, 0.2-0.4 us a 4 KiB share of a huge page; the
// probe in docs/PERFORMANCE.md), that is most of the time spent making tasks. Null when the mapping fails;
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

// ---- running loop / task ---------------------------------------------------------------------------------

void throw_no_loop() { throw InvalidStateError("no running event loop"); }
void throw_no_task() { throw InvalidStateError("not inside a task"); }

void report_error(LoopCore* loop, std::string_view message, std::exception_ptr error, TaskState* task) noexcept {
  try {
    ExceptionContext ctx;
    ctx.message = std::string(message);
    ctx.exception = std::move(error);
    if (task != nullptr) {
      ctx.task = task->name();
      if (task->created_file() != nullptr)
        ctx.created_at = std::string(task->created_file()) + ":" + std::to_string(task->created_line());
    }
    if (loop != nullptr && loop_alive(loop) && loop->owner != nullptr) {
      loop->owner->call_exception_handler(ctx);
    } else {
      EventLoop::default_exception_handler(ctx);
    }
  } catch (...) {
    report_unhandled_exception(message, error);
  }
}

// ---- sleep ------------------------------------------------------------------------------------------------

void arm_sleep(TaskState& t, std::int64_t delay_ns) {
  LoopCore* l = t.loop();
  l->now_valid = false;  // a fresh reading: a sleep never ends early because the iteration started earlier
  l->timers.push(l->time_ns() + delay_ns, &t);  // the entry targets the task itself (its timer ticket)
}

// ---- timer heap blocks -----------------------------------------------------------------------------------

void* TimerHeap::alloc_block(std::size_t bytes) {
  void* p = ::operator new (bytes, std::align_val_t{kPage});
  spindle::detail::populate_pages(p, bytes);  // 24 KiB: six fresh pages, faulted in by one call
  return p;
}

void TimerHeap::free_block(Entry* block) noexcept { ::operator delete (block, std::align_val_t{kPage}); }

// ---- TaskState -------------------------------------------------------------------------------------------

TaskState::~TaskState() { delete extras_if_any(); }

namespace {
// What error() gives for a task that failed while no TaskExtras could be allocated to hold its exception.
const std::exception_ptr& error_lost() noexcept {
  static const std::exception_ptr lost = std::make_exception_ptr(std::bad_alloc());
  return lost;
}
const std::exception_ptr no_error;
// Made at start-up, while memory is there: error_lost() must not need any when it is called.
[[maybe_unused]] const std::exception_ptr& error_lost_init = error_lost();
}  // namespace

const std::exception_ptr& TaskState::error() const noexcept {
  const TaskExtras* x = extras_if_any();
  if (x != nullptr && x->error) return x->error;
  if (status_ == Status::failed || status_ == Status::cancelled) return error_lost();
  return no_error;
}

void TaskState::set_error(std::exception_ptr e) noexcept {
  TaskExtras* x = extras_if_any();
  if (x == nullptr) {
    x = new (std::nothrow) TaskExtras();
    if (x == nullptr) return;  // error() reports std::bad_alloc
    x->watcher = first_watcher();
    aux_ = reinterpret_cast<std::uintptr_t>(x) | kAuxExtras;
  }
  x->error = std::move(e);
}

TaskExtras& TaskState::extras() {
  if (TaskExtras* x = extras_if_any()) return *x;
  auto* x = new TaskExtras();
  x->watcher = first_watcher();
  aux_ = reinterpret_cast<std::uintptr_t>(x) | kAuxExtras;
  return *x;
}

std::string TaskState::name() const {
  const TaskExtras* x = extras_if_any();
  if (x != nullptr && !x->name.empty()) return x->name;
  return "Task-" + std::to_string(id_);
}

void TaskState::throw_cancelled() const {
  const TaskExtras* x = extras_if_any();
  if (x != nullptr && !x->cancel_msg.empty()) throw CancelledError(x->cancel_msg);
  throw CancelledError();
}

void TaskState::make_root(LoopCore* loop, std::string_view name, const char* file, int line, bool eager) {
  register_root(loop, name, file, line);
  start_root(eager);
}

void TaskState::register_root(LoopCore* loop, std::string_view name, const char* file, int line) {
  if (started_ || is_root_) throw InvalidStateError("create_task: the coroutine was already started or scheduled");
  if (!name.empty()) extras().name = std::string(name);
  if (loop->debug) {
    TaskExtras& x = extras();
    x.file = file;
    x.line = line;
  }
  id_ = ++loop->task_ids;
  is_root_ = true;
  loop_ = loop;
  ++refs_;  // the loop's reference, dropped when the task completes
  all_next_ = loop->all_head;
  if (all_next_ != nullptr) all_next_->all_prev_ = this;
  loop->all_head = this;
  ++loop->live_tasks;
}

void TaskState::start_root(bool eager) noexcept {
  if (eager && tls_running == loop_) {
    start_eagerly();
  } else {
    schedule();
  }
}

// The first step, run inside the creator's step (or callback) as asyncio's Task.__eager_start does: the task
// is the current one until it suspends or ends, then the creator is again. The creator's handle keeps the state
// alive if it ends here. Nothing can be awaiting a task that is being created, so its completion hands off to
// nobody (on_final finds no l->handoff) and the step returns here.
void TaskState::start_eagerly() noexcept {
  LoopCore* l = loop_;
  TaskState* creator = l->current;
  started_ = true;
  l->current = this;
  resume_point_.resume();
  l->current = creator;
}

void TaskState::unlink_all() noexcept {
  if (all_prev_ != nullptr) {
    all_prev_->all_next_ = all_next_;
  } else if (loop_->all_head == this) {
    loop_->all_head = all_next_;
  }
  if (all_next_ != nullptr) all_next_->all_prev_ = all_prev_;
  all_prev_ = all_next_ = nullptr;
  --loop_->live_tasks;
}

bool TaskState::cancel(std::string_view msg) {
  if (status_ != Status::pending) return false;
  ++cancel_requests_;
  if (!msg.empty()) extras().cancel_msg = std::string(msg);
  if (waiter_ != nullptr) {
    Waiter* w = waiter_;
    if (!w->cancel_wait(*this)) return true;  // forwarded: the waiter wakes the task when the awaited thing ends
    waiter_ = nullptr;
    must_cancel_ = true;
    schedule();
    return true;
  }
  must_cancel_ = true;
  return true;
}

void TaskState::set_exception_from_current() noexcept {
  set_error(std::current_exception());
  try {
    throw;
  } catch (const CancelledError&) {
    status_ = Status::cancelled;
  } catch (...) {
    status_ = Status::failed;
  }
}

void TaskState::add_watcher(DoneWatcher* w) {
  if (first_watcher() == nullptr) {
    set_first_watcher(w);
  } else {
    extras().watchers.push_back(w);
  }
}

void TaskState::remove_watcher(DoneWatcher* w) noexcept {
  if (first_watcher() == w) {
    set_first_watcher(nullptr);
    return;
  }
  if (TaskExtras* x = extras_if_any()) {
    auto& v = x->watchers;
    for (auto it = v.begin(); it != v.end(); ++it) {
      if (*it == w) {
        v.erase(it);
        return;
      }
    }
  }
}

void TaskState::add_done_callback(std::function<void()> fn) {
  if (done()) {
    if (loop_ != nullptr && loop_alive(loop_) && loop_->owner != nullptr && !loop_->owner->is_closed()) {
      loop_->owner->call_soon(std::move(fn));
    } else {
      fn();
    }
    return;
  }
  extras().callbacks.push_back(std::move(fn));
}

void TaskState::complete() noexcept {
  LoopCore* l = loop_;
  unlink_all();
  if (DoneWatcher* w = first_watcher()) {
    set_first_watcher(nullptr);
    w->task_done(*this);
  }
  if (TaskExtras* x = extras_if_any()) {
    auto more = std::move(x->watchers);
    for (DoneWatcher* w : more) w->task_done(*this);
    auto callbacks = std::move(x->callbacks);
    for (auto& cb : callbacks) {
      try {
        ref();
        l->owner->call_soon([self = this, fn = std::move(cb)]() mutable {
          struct Drop {
            TaskState* s;
            ~Drop() { s->unref(); }
          } drop{self};
          fn();
        });
      } catch (...) {
        unref();
        report_error(l, "could not schedule a done-callback", std::current_exception(), this);
      }
    }
  }
  unref();  // the loop's reference
}

void TaskState::finish_cancelled_unstarted() noexcept {
  try {
    throw_cancelled();
  } catch (...) {
    set_error(std::current_exception());
  }
  status_ = Status::cancelled;
  LoopCore* l = loop_;
  complete();
  if (TaskState* next = std::exchange(l->handoff, nullptr)) {  // no final suspend here to transfer from
    next->scheduled_ = false;
    next->schedule();
  }
}

void TaskState::abandon() noexcept {
  // Only roots are abandoned. The frame is destroyed when its last reference goes; the awaiters inside it
  // unregister themselves in their destructors.
  report_error(loop_, "Task was destroyed but it is pending!", nullptr, this);
  try {
    throw CancelledError("event loop closed");
  } catch (...) {
    set_error(std::current_exception());
  }
  status_ = Status::cancelled;
  retrieved_ = true;
  if (Waiter* w = std::exchange(waiter_, nullptr)) w->abandon_wait(*this);
  set_first_watcher(nullptr);
  if (TaskExtras* x = extras_if_any()) {
    x->watchers.clear();
    x->callbacks.clear();
  }
  unlink_all();
}

// Python's "RuntimeWarning: coroutine ... was never awaited": a Task destroyed before anyone awaited or
// scheduled it is almost always a forgotten co_await. Reported every time in debug mode, otherwise once per
// process (a loop in a hot path must not flood stderr).
namespace {
std::atomic<bool> never_awaited_reported{false};
}  // namespace

void TaskState::destroy() noexcept {
  if (is_root_ && status_ == Status::failed && !retrieved_) {
    report_error(loop_, "Task exception was never retrieved", error(), this);
  }
  if (!started_ && !is_root_ && !retrieved_) {  // retrieved_ here: discarded knowingly (see TaskGroup)
    LoopCore* l = tls_running;
    const bool debug = l != nullptr && l->debug;
    if (debug || !never_awaited_reported.exchange(true, std::memory_order_relaxed)) {
      report_error(l,
                   "coroutine was never awaited: a Task was destroyed before it was awaited (co_await) or "
                   "scheduled (create_task)",
                   nullptr, nullptr);
    }
  }
  self_handle().destroy();
}

}  // namespace detail

AnyTask current_task() noexcept {
  if (detail::tls_running == nullptr || detail::tls_running->current == nullptr) return AnyTask();
  return AnyTask(detail::tls_running->current);
}

std::vector<AnyTask> all_tasks() {
  detail::LoopCore& l = detail::running_core();
  std::vector<AnyTask> out;
  out.reserve(l.live_tasks);
  for (detail::TaskState* t = l.all_head; t != nullptr; t = t->next_all()) out.emplace_back(t);
  return out;
}

}  // namespace spindle::aio
