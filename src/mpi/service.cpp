// Rank 0's MPI service thread: the only thread that makes MPI calls (MPI_THREAD_FUNNELED). Executors queue
// packed tasks here (one queue each); the loop sends them to the worker ranks round robin across executors,
// keeps a few in flight per rank (pipelining), completes futures from the results, and watches every rank's
// signs of life: a rank silent past rank_timeout is lost, its tasks fail with RankLost naming it and them,
// and, since Open MPI 4.1 cannot go on without it, the job ends after a grace period with a message.

#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "comm.hpp"
#include "spindle/core/errors.hpp"
#include "spindle/mpi/detail/service.hpp"
#include "spindle/mpi/errors.hpp"
#include "wire.hpp"

namespace spindle::mpi::detail {
namespace {

using Clock = std::chrono::steady_clock;
using process::detail::TaskBase;

struct ExecQueue {
  std::deque<std::unique_ptr<TaskBase>> queued;
  std::size_t ranks = 0;        // uses ranks 1..ranks
  std::size_t outstanding = 0;  // queued + in flight
};

struct InFlight {
  int exec = 0;
  std::unique_ptr<TaskBase> task;
  Clock::time_point sent{};
  std::size_t queued_with = 0;  // tasks in flight on the rank when this one was sent, itself included
};

struct RankState {
  bool alive = true;
  std::size_t depth = 2;  // until the rank's hello
  std::size_t local = 1;  // the rank's local worker processes (its hello)
  long pid = 0;           // its process, if it runs on this machine (its hello); 0 otherwise
  bool running = false;   // that process ran when last looked at (at most once per heartbeat, while silent)
  Clock::time_point looked{};
  double task_s = 0;  // a task's running time there, estimated from round trips (moving average)
  Clock::time_point last_heard{}, last_sent{};
  std::unordered_map<std::uint64_t, InFlight> inflight;
};

// Small tasks bound for one rank in this round of dispatch().
struct Batch {
  std::string data;                // kTasks records
  std::vector<std::uint64_t> ids;  // their task ids
};

class Service {
 public:
  // Executors' side (any thread).
  int open(std::size_t ranks) {
    std::lock_guard lock(mutex_);
    if (stopping_) throw MpiError("spindle::mpi: the session has ended");
    const int id = next_exec_++;
    execs_[id].ranks = ranks;
    return id;
  }
  void close(int id) {
    std::lock_guard lock(mutex_);
    execs_.erase(id);
  }
  void enqueue(int id, std::unique_ptr<TaskBase> task) {
    {
      std::lock_guard lock(mutex_);
      if (broken_) throw BrokenExecutor(broken_what_);
      if (stopping_) throw ShutdownError();
      auto& q = execs_.at(id);
      q.queued.push_back(std::move(task));
      ++q.outstanding;
    }
    wake_.notify_one();
  }
  void cancel_queued(int id) {
    std::deque<std::unique_ptr<TaskBase>> dropped;
    {
      std::lock_guard lock(mutex_);
      auto it = execs_.find(id);
      if (it == execs_.end()) return;
      dropped.swap(it->second.queued);
      it->second.outstanding -= dropped.size();
    }
    for (auto& t : dropped) t->cancel();
    idle_.notify_all();
  }
  void wait_idle(int id) {
    std::unique_lock lock(mutex_);
    idle_.wait(lock, [&] {
      auto it = execs_.find(id);
      return it == execs_.end() || it->second.outstanding == 0;
    });
  }
  void stop() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_one();
  }

  // The service thread.
  void run(int world) {
    const auto& opt = options();
    ranks_.resize(static_cast<std::size_t>(world));
    batches_.resize(ranks_.size());
    const auto start = Clock::now();
    for (auto& r : ranks_) r.last_heard = r.last_sent = start;
    auto backoff = std::chrono::microseconds(5);
    auto last_round = start;
    for (;;) {
      // A round that began long after the last one means this thread was held up (in an MPI call while the
      // runtime handled a failed peer, or descheduled): the ranks' silence over that time is ours, not theirs.
      if (const auto gap = Clock::now() - last_round; gap > opt.heartbeat) {
        for (auto& r : ranks_) r.last_heard += gap;
      }
      bool busy = dispatch();
      busy = outbox_.progress() || busy;
      Message m;
      while (try_receive(MPI_ANY_SOURCE, m)) {
        busy = true;
        handle(m);
      }
      const auto now = Clock::now();
      last_round = now;
      for (std::size_t r = 1; r < ranks_.size(); ++r) {
        auto& rank = ranks_[r];
        if (!rank.alive) continue;
        if (now - rank.last_sent >= opt.heartbeat) {
          outbox_.send(std::string(), static_cast<int>(r), wire::kHeartbeat);
          rank.last_sent = now;
        }
        if (now - rank.last_heard >= opt.rank_timeout && !stalled(rank, now)) {
          lose(static_cast<int>(r), now - rank.last_heard);
        }
      }
      if (broken_at_ && now - *broken_at_ >= opt.abort_grace) abort_job();
      if (stop_requested() && settle()) break;
      if (busy) {
        backoff = std::chrono::microseconds(5);
        continue;
      }
      if (in_flight() > 0) {
        // Results are due: poll MPI, sleeping a little longer each idle round (at most 0.5 ms).
        std::this_thread::sleep_for(backoff);
        backoff = std::min(backoff * 2, std::chrono::microseconds(500));
      } else {
        std::unique_lock lock(mutex_);
        wake_.wait_for(lock, opt.heartbeat / 2, [&] { return stopping_ || has_queued(); });
      }
    }
    // A job that lost a rank is ended, never finalized: MPI_Finalize would wait for the lost rank.
    if (broken_) abort_job();
    for (std::size_t r = 1; r < ranks_.size(); ++r) {
      if (ranks_[r].alive) outbox_.send(std::string(), static_cast<int>(r), wire::kStop);
    }
    if (!flush(opt.rank_timeout)) abort_job();
    bounded(opt.rank_timeout + opt.abort_grace, "MPI_Finalize", [] { MPI_Finalize(); });
  }

 private:
  bool stop_requested() {
    std::lock_guard lock(mutex_);
    return stopping_;
  }
  bool has_queued() const {
    for (const auto& [id, q] : execs_) {
      if (!q.queued.empty()) return true;
    }
    return false;
  }
  std::size_t in_flight() const {
    std::size_t n = 0;
    for (const auto& r : ranks_) n += r.inflight.size();
    return n;
  }
  // Stopping: what is still queued cannot be sent any more; true once nothing is in flight.
  bool settle() {
    std::vector<std::unique_ptr<TaskBase>> dropped;
    {
      std::lock_guard lock(mutex_);
      for (auto& [id, q] : execs_) {
        for (auto& t : q.queued) dropped.push_back(std::move(t));
        q.outstanding -= q.queued.size();
        q.queued.clear();
      }
    }
    for (auto& t : dropped) t->fail(std::make_exception_ptr(ShutdownError()));
    if (!dropped.empty()) idle_.notify_all();
    return in_flight() == 0;
  }

  // Fills the live ranks up to their depth, one task per rank per pass (so that a few long tasks spread over
  // the ranks instead of filling the first), each taken from the executors in turn. Small tasks go to each
  // rank in one kTasks message at the end of the round; a large one goes alone, after the batch before it.
  bool dispatch() {
    bool sent = false;
    struct Flush {  // sends what is batched, whatever way dispatch() leaves
      Service* s;
      ~Flush() {
        for (std::size_t r = 1; r < s->ranks_.size(); ++r) s->send_batch(r);
      }
    } flush{this};
    for (bool progress = true; progress;) {
      progress = false;
      for (std::size_t r = 1; r < ranks_.size(); ++r) {
        auto& rank = ranks_[r];
        if (!rank.alive || rank.inflight.size() >= rank.depth) continue;
        int exec = 0;
        std::unique_ptr<TaskBase> task;
        {
          std::lock_guard lock(mutex_);
          if (execs_.empty()) return sent;
          auto it = execs_.upper_bound(cursor_);
          for (std::size_t tried = 0; tried <= execs_.size(); ++tried, ++it) {
            if (it == execs_.end()) it = execs_.begin();
            if (!it->second.queued.empty() && r <= it->second.ranks) break;
          }
          if (it == execs_.end() || it->second.queued.empty() || r > it->second.ranks) continue;
          cursor_ = exec = it->first;
          task = std::move(it->second.queued.front());
          it->second.queued.pop_front();
        }
        progress = true;
        if (!task->start()) {  // cancelled while it waited here
          done(exec);
          continue;
        }
        const std::uint64_t id = next_task_++;
        rank.last_sent = Clock::now();
        if (task->call.args.size() + 16 <= wire::kBatchItemMax) {
          Batch& b = batches_[r];
          wire::append_task(b.data, task->call.args, task->call.id, id);
          b.ids.push_back(id);
          rank.inflight.emplace(id, InFlight{exec, std::move(task), rank.last_sent, rank.inflight.size() + 1});
          if (b.data.size() >= wire::kBatchMax) send_batch(r);
          sent = true;
          continue;
        }
        send_batch(r);  // the tasks before it go first
        std::string& args = task->call.args;
        std::string tail;
        // The codec leaves room behind a large block (Writer::kSlack): the ids are appended in place and the
        // task goes as one contiguous message. Otherwise appending would copy the whole encoding: the
        // arguments and the ids go as the two parts of one message instead.
        const bool room = args.capacity() - args.size() >= 2 * sizeof(std::uint64_t);
        wire::put_u64(room ? args : tail, task->call.id);
        wire::put_u64(room ? args : tail, id);
        try {
          outbox_.send(std::move(args), std::move(tail), static_cast<int>(r), wire::kTask);
        } catch (...) {
          task->fail(std::current_exception());
          done(exec);
          continue;
        }
        rank.inflight.emplace(id, InFlight{exec, std::move(task), rank.last_sent, rank.inflight.size() + 1});
        sent = true;
      }
    }
    return sent;
  }

  // Sends rank r's batched tasks; should the send fail, each of them fails with its error.
  void send_batch(std::size_t r) noexcept {
    Batch& b = batches_[r];
    if (b.ids.empty()) return;
    try {
      outbox_.send(std::move(b.data), static_cast<int>(r), wire::kTasks);
    } catch (...) {
      const auto error = std::current_exception();
      auto& rank = ranks_[r];
      for (const std::uint64_t id : b.ids) {
        auto it = rank.inflight.find(id);
        if (it == rank.inflight.end()) continue;
        InFlight f = std::move(it->second);
        rank.inflight.erase(it);
        f.task->fail(error);
        done(f.exec);
      }
    }
    b.data.clear();
    b.ids.clear();
  }

  void done(int exec) {
    {
      std::lock_guard lock(mutex_);
      auto it = execs_.find(exec);
      if (it != execs_.end()) --it->second.outstanding;
    }
    idle_.notify_all();
  }

  void handle(Message& m) {
    if (m.source <= 0 || static_cast<std::size_t>(m.source) >= ranks_.size()) return;
    auto& rank = ranks_[static_cast<std::size_t>(m.source)];
    rank.last_heard = Clock::now();
    if (m.tag == wire::kHello && m.data.size() >= 16) {
      rank.local = std::max<std::size_t>(1, wire::get_u64(m.data, 0));
      if (m.data.substr(16) == host_name()) rank.pid = static_cast<long>(wire::get_u64(m.data, 8));
      const auto configured = options().inflight_per_rank;
      // Until round trips tell how long tasks are: one queued per worker (adapt() deepens it for tiny tasks).
      rank.depth = configured ? configured : 2 * rank.local;
      return;
    }
    if (m.tag != wire::kResult || m.data.size() < 9) return;
    const auto status = static_cast<std::uint8_t>(m.data.back());
    const std::uint64_t id = wire::get_u64(m.data, m.data.size() - 9);
    auto it = rank.inflight.find(id);
    if (it == rank.inflight.end()) return;
    InFlight f = std::move(it->second);
    rank.inflight.erase(it);
    adapt(rank, f);
    const std::size_t size = m.data.size() - 9;
    if (status == wire::kOk) {
      f.task->succeed(m.data.data(), size, nullptr);
    } else {
      const auto parts = wire::split(std::string_view(m.data.data(), size));
      if (status == wire::kCrashed && parts.size() == 5) {
        f.task->fail(std::make_exception_ptr(WorkerCrashed(parts[0] + " (on MPI rank " + std::to_string(m.source) + ")",
                                                           std::stoi(parts[2]), std::stoi(parts[3]),
                                                           std::stoi(parts[4]), parts[1])));
      } else {
        f.task->fail(std::make_exception_ptr(
            RemoteError(parts.empty() ? "unknown" : parts[0], parts.size() > 1 ? parts[1] : std::string())));
      }
    }
    done(f.exec);
  }

  // The depth follows the tasks' length, as the local pool's does: deep for tiny tasks (pipelining hides the
  // round trip: 20,000 tiny tasks went 24k/s at depth 8, 184k/s at 128), about 2 ms of queued work per local
  // worker for longer ones, so that a rank does not hold tasks another, idle rank could run.
  void adapt(RankState& rank, const InFlight& f) {
    if (options().inflight_per_rank != 0) return;
    const double rtt = std::chrono::duration<double>(Clock::now() - f.sent).count();
    // A task sent behind others waited for them: its share of the round trip is rtt / (queue per worker).
    const double queue = std::max(1.0, static_cast<double>(f.queued_with) / static_cast<double>(rank.local));
    const double sample = rtt / queue;
    rank.task_s = rank.task_s == 0 ? sample : 0.8 * rank.task_s + 0.2 * sample;
    const double per_worker = 1 + std::ceil(0.002 / std::max(rank.task_s, 1e-7));
    rank.depth = std::clamp<std::size_t>(static_cast<std::size_t>(static_cast<double>(rank.local) * per_worker),
                                         rank.local + 1, 128);
  }

  // A silent rank on this machine whose process still runs is held up, not lost: after a peer's death Open MPI
  // 4.1 may hold the other ranks' messages for seconds (seen in CI under ThreadSanitizer: an idle rank fell
  // silent with the killed one and was named as the lost rank). It gets three times the timeout before it
  // counts as lost, so the rank that died is the one named.
  bool stalled(RankState& rank, Clock::time_point now) const {
    if (rank.pid <= 0 || now - rank.last_heard >= 3 * options().rank_timeout) return false;
    if (now - rank.looked >= options().heartbeat) {  // a /proc read per heartbeat, not per round
      rank.running = process_running(rank.pid);
      rank.looked = now;
    }
    return rank.running;
  }

  // A rank stopped answering: its tasks fail, naming it and them; the pool is broken from now on.
  void lose(int r, Clock::duration silent) {
    auto& rank = ranks_[static_cast<std::size_t>(r)];
    rank.alive = false;
    std::vector<std::string> names;
    for (const auto& [id, f] : rank.inflight) names.emplace_back(f.task->call.name);
    std::string list;
    for (std::size_t i = 0; i < names.size() && i < 8; ++i) list += (i ? ", " : "") + names[i];
    if (names.size() > 8) list += ", ...";
    char secs[32];
    std::snprintf(secs, sizeof secs, "%.1f", std::chrono::duration<double>(silent).count());
    // After a first loss, Open MPI 4.1 (--enable-recovery) may stall the messages of other ranks too: a second
    // silence is reported as following the first, which is what ends the job.
    const std::string after = lost_rank_ > 0 ? " after rank " + std::to_string(lost_rank_) + " was lost" : "";
    const char* why = rank.pid > 0 && process_running(rank.pid) ? " (its process runs, but nothing it sent arrived)"
                                                                : " (its node was lost or it was killed)";
    const std::string what = "spindle::mpi: MPI rank " + std::to_string(r) + " stopped answering for " + secs + " s" +
                             (after.empty() ? why : after) + "; its " + std::to_string(names.size()) +
                             " task(s) failed" + (names.empty() ? "" : ": " + list) +
                             ". Open MPI 4.1 cannot go on without a rank: the pool is broken and the job ends";
    if (lost_rank_ < 0) {
      lost_rank_ = r;
      std::fprintf(stderr, "%s in %.0f s.\n", what.c_str(),
                   std::chrono::duration<double>(options().abort_grace).count());
    }
    // Broken first: whoever sees a failed future and submits again must be told BrokenExecutor.
    std::vector<std::unique_ptr<TaskBase>> dropped;
    {
      std::lock_guard lock(mutex_);
      broken_ = true;
      broken_what_ = what;
      for (auto& [id, q] : execs_) {
        for (auto& t : q.queued) dropped.push_back(std::move(t));
        q.outstanding -= q.queued.size();
        q.queued.clear();
      }
    }
    for (auto& [id, f] : rank.inflight) {
      f.task->fail(std::make_exception_ptr(RankLost(r, names, what)));
      done(f.exec);
    }
    rank.inflight.clear();
    for (auto& t : dropped) t->fail(std::make_exception_ptr(BrokenExecutor(what)));
    idle_.notify_all();
    if (!broken_at_) broken_at_ = Clock::now();
  }

  // Completes the sends in flight, for at most `limit`; true if they all completed.
  bool flush(Clock::duration limit) {
    const auto deadline = Clock::now() + limit;
    while (!outbox_.empty() && Clock::now() < deadline) {
      outbox_.progress();
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    return outbox_.empty();
  }

  // Ends the job. The live worker ranks are told first, and end themselves: under --enable-recovery mpirun
  // does not always end the other ranks after MPI_Abort (observed: a worker left in MPI_Finalize for ever).
  [[noreturn]] void abort_job() {
    if (lost_rank_ > 0) {
      std::fprintf(stderr, "spindle::mpi: ending the job (MPI_Abort): MPI rank %d was lost.\n", lost_rank_);
    } else {
      std::fprintf(stderr, "spindle::mpi: ending the job (MPI_Abort): the worker ranks could not be stopped.\n");
    }
    std::fflush(stderr);
    for (std::size_t r = 1; r < ranks_.size(); ++r) {
      if (!ranks_[r].alive) continue;
      try {
        outbox_.send(std::string(), static_cast<int>(r), wire::kAbort);
      } catch (const std::exception&) {  // that rank's link is gone too: mpirun or its own watch ends it
      }
    }
    try {
      flush(std::chrono::seconds(1));
    } catch (const std::exception&) {
    }
    bounded(options().abort_grace, "MPI_Abort", [] { MPI_Abort(MPI_COMM_WORLD, 70); });
    std::_Exit(70);
  }

  std::mutex mutex_;
  std::condition_variable wake_;  // the service: work queued, or stop
  std::condition_variable idle_;  // executors: an executor's outstanding count fell
  std::map<int, ExecQueue> execs_;
  int next_exec_ = 1;
  int cursor_ = 0;
  bool stopping_ = false;
  bool broken_ = false;
  std::string broken_what_;
  // The service thread's own.
  std::vector<RankState> ranks_;
  std::vector<Batch> batches_;  // by rank (service thread only)
  Outbox outbox_;
  std::uint64_t next_task_ = 1;
  std::optional<Clock::time_point> broken_at_;
  int lost_rank_ = -1;
};

Service* g_service = nullptr;  // set before init() returns on rank 0; lives until the process exits

Service& service() {
  if (g_service == nullptr || !initialized()) {
    throw MpiError("spindle::mpi: not initialised: call spindle::mpi::init(argc, argv) first, under mpirun");
  }
  return *g_service;
}

}  // namespace

void prepare_service() {
  // Never deleted: executors may still reach it from other threads while the process exits.
  g_service = new Service();  // NOLINT(cppcoreguidelines-owning-memory)
}

void run_service(int world) { g_service->run(world); }

void stop_service() {
  if (g_service != nullptr) g_service->stop();
}

int open_executor(std::size_t ranks) { return service().open(ranks); }
void close_executor(int id) noexcept {
  if (g_service != nullptr) g_service->close(id);
}
void enqueue(int id, std::unique_ptr<process::detail::TaskBase> task) { service().enqueue(id, std::move(task)); }
void cancel_queued(int id) noexcept {
  if (g_service != nullptr) g_service->cancel_queued(id);
}
void wait_idle(int id) {
  if (g_service != nullptr) g_service->wait_idle(id);
}
std::size_t worker_ranks() {
  const int w = world();
  return w > 1 ? static_cast<std::size_t>(w - 1) : 0;
}

}  // namespace spindle::mpi::detail
