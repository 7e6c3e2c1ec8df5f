// The run state of a pipeline: start, stop, cancel, failures, dead letters, the end of the run.

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "spindle/aio/event_loop.hpp"
#include "spindle/pipeline/detail/graph.hpp"

namespace spindle::pipeline::detail {

namespace {

std::string what_of(const std::exception_ptr& e) {
  if (!e) return {};
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& x) {
    return x.what();
  } catch (...) {
    return "unknown exception";
  }
}

}  // namespace

struct Core::Impl {
  std::mutex mu;
  std::condition_variable cv;  // the end of the run, and cancel for sleep_for
  std::exception_ptr error;
  std::vector<DeadLetter> dead;
  std::uint64_t dead_count = 0;
  std::size_t stages_left = 0;
  bool started = false;
  bool finished = false;
  bool joined = false;
  std::thread loop_thread;
  std::thread progress_thread;
  SteadyClock::time_point t0{}, t1{};
};

void StageBase::worker_exited(Core& core) noexcept {
  if (live.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    close_outputs();
    core.stage_finished();
  }
}

void Graph::check(StageOptions& o, const char* kind, bool process_stage) const {
  const std::string k = kind;
  if (o.concurrency == 0) throw std::invalid_argument("pipeline " + k + " stage: concurrency must be >= 1");
  if (o.capacity == 0) throw std::invalid_argument("pipeline " + k + " stage: capacity must be >= 1");
  if (!(o.max_failure_rate >= 0.0 && o.max_failure_rate <= 1.0))
    throw std::invalid_argument("pipeline " + k + " stage: max_failure_rate must be in [0, 1]");
  if (process_stage) {
    if (o.chunksize == 0) throw std::invalid_argument("pipeline process stage: chunksize must be >= 1");
    if (o.inflight == 0) throw std::invalid_argument("pipeline process stage: inflight must be >= 1");
  } else {
    const StageOptions d;
    if (o.pool != nullptr || o.chunksize != d.chunksize || o.inflight != d.inflight)
      throw std::invalid_argument("pipeline " + k + " stage: pool, chunksize and inflight are for process stages");
  }
  if (o.name.empty()) o.name = k + std::to_string(stages.size());
}

void Graph::splice(Graph&& other, std::size_t k) {
  for (auto& st : other.stages) {
    const bool taken = std::any_of(stages.begin(), stages.end(),
                                   [&](const auto& mine) { return mine->options.name == st->options.name; });
    if (taken) {
      st->options.name.push_back('.');
      st->options.name.append(std::to_string(k));
    }
    stages.push_back(std::move(st));
  }
  for (auto& c : other.channels) channels.push_back(std::move(c));
  other.stages.clear();
  other.channels.clear();
}

aio::EventLoop* Graph::foreign_loop() const noexcept {
  for (const auto& st : stages)
    if (auto* l = st->foreign_loop()) return l;
  return nullptr;
}

Core::Core(std::unique_ptr<Graph> graph) : graph_(std::move(graph)), impl_(std::make_unique<Impl>()) {
  finished_ = finished_promise_.get_future();
}

Core::~Core() {
  bool started = false;
  {
    std::lock_guard lock(impl_->mu);
    started = impl_->started;
  }
  if (started) {
    cancel();
    try {
      wait();
    } catch (...) {
    }
  }
}

void Core::start() {
  {
    std::lock_guard lock(impl_->mu);
    if (impl_->started) throw InvalidStateError("pipeline: a pipeline runs once (build another one)");
    impl_->started = true;
    impl_->stages_left = graph_->stages.size();
    impl_->t0 = SteadyClock::now();
  }
  if (cancelled_.load()) {  // cancelled before it started: nothing runs
    for (auto& c : graph_->channels) c->cancel();
    std::lock_guard lock(impl_->mu);
    impl_->stages_left = 0;
    impl_->finished = true;
    impl_->t1 = impl_->t0;
    finished_promise_.set_result();
    return;
  }
  State idle = State::idle;
  state_.compare_exchange_strong(idle, State::running);
  for (auto& c : graph_->channels) c->set_block(graph_->options.block);
  const bool need_loop =
      std::any_of(graph_->stages.begin(), graph_->stages.end(), [](const auto& s) { return s->uses_loop(); });
  std::size_t launched = 0;
  try {
    if (need_loop) loop_ = std::make_unique<aio::EventLoop>();
    for (auto& s : graph_->stages) {
      s->launch(*this);
      ++launched;
    }
  } catch (...) {
    fail(std::current_exception());
    // The stages that never started are finished as they are.
    for (std::size_t i = launched; i < graph_->stages.size(); ++i) {
      auto& s = graph_->stages[i];
      s->live.store(1);
      s->worker_exited(*this);
    }
  }
  if (loop_) {
    aio::EventLoop* loop = loop_.get();
    impl_->loop_thread = std::thread([loop] { loop->run_forever(); });
  }
  if (graph_->options.progress.count() > 0) impl_->progress_thread = std::thread([this] { show_progress(); });
}

void Core::show_progress() noexcept {
  const auto& o = graph_->options;
  auto tick = [&](bool last) {
    try {
      const Report r = metrics();
      if (o.on_progress) {
        o.on_progress(r);
      } else {
        std::fprintf(stderr, "\r%s%s", r.progress_line().c_str(), last ? "\n" : "");
        std::fflush(stderr);
      }
    } catch (...) {
    }
  };
  std::unique_lock lock(impl_->mu);
  while (!impl_->cv.wait_for(lock, o.progress, [&] { return impl_->finished; })) {
    lock.unlock();
    tick(false);
    lock.lock();
  }
  lock.unlock();
  tick(true);
}

void Core::stop() noexcept {
  if (stopping_.exchange(true)) return;
  State running = State::running;
  state_.compare_exchange_strong(running, State::stopping);
  bool started = false;
  {
    std::lock_guard lock(impl_->mu);
    started = impl_->started;
  }
  if (started)
    for (auto& s : graph_->stages) s->stop();
}

void Core::cancel() noexcept {
  if (cancelled_.exchange(true)) return;
  for (State s : {State::idle, State::running, State::stopping}) {
    State expected = s;
    if (state_.compare_exchange_strong(expected, State::cancelled)) break;
  }
  { std::lock_guard lock(impl_->mu); }
  impl_->cv.notify_all();
  for (auto& c : graph_->channels) c->cancel();
  for (auto& s : graph_->stages) s->cancel();
}

void Core::fail(std::exception_ptr e) noexcept {
  {
    std::lock_guard lock(impl_->mu);
    if (cancelled_.load() || impl_->error) return;  // the first error wins; errors caused by a cancel do not count
    impl_->error = std::move(e);
  }
  state_.store(State::failed);
  cancel();
}

void Core::dead_letter(StageBase& stage, std::shared_ptr<const void> item, const std::type_info* type,
                       std::exception_ptr e) noexcept {
  const auto dead = stage.counters.dead.fetch_add(1, std::memory_order_relaxed) + 1;
  try {
    DeadLetter d{stage.options.name, std::move(item), type, e, what_of(e)};
    if (graph_->options.on_dead_letter) {
      try {
        graph_->options.on_dead_letter(d);
      } catch (...) {
      }
    }
    std::lock_guard lock(impl_->mu);
    ++impl_->dead_count;
    if (impl_->dead.size() < graph_->options.dead_letter_limit) impl_->dead.push_back(std::move(d));
  } catch (...) {
  }
  const auto& o = stage.options;
  const auto failed = stage.counters.failed.load(std::memory_order_relaxed);
  const auto in = std::max<std::uint64_t>(1, stage.counters.in.load(std::memory_order_relaxed));
  try {
    if (dead > o.max_failures) {
      throw PipelineError("pipeline: stage '" + o.name + "' exceeded its failure budget: " + std::to_string(dead) +
                          " items failed (max_failures " + std::to_string(o.max_failures) +
                          "); last error: " + what_of(e));
    }
    if (in >= 100 && static_cast<double>(failed) / static_cast<double>(in) > o.max_failure_rate) {
      throw PipelineError("pipeline: stage '" + o.name + "' exceeded its failure rate: " + std::to_string(failed) +
                          " of " + std::to_string(in) + " items failed (max_failure_rate " +
                          std::to_string(o.max_failure_rate) + "); last error: " + what_of(e));
    }
  } catch (...) {
    fail(std::current_exception());
  }
}

bool Core::sleep_for(std::chrono::nanoseconds d) {
  std::unique_lock lock(impl_->mu);
  impl_->cv.wait_for(lock, d, [&] { return cancelled_.load(); });
  return !cancelled_.load();
}

void Core::stage_finished() noexcept {
  {
    std::lock_guard lock(impl_->mu);
    if (--impl_->stages_left != 0) return;
    impl_->finished = true;
    impl_->t1 = SteadyClock::now();
  }
  for (State s : {State::running, State::stopping}) {
    State expected = s;
    if (state_.compare_exchange_strong(expected, State::completed)) break;
  }
  if (loop_) {
    aio::EventLoop* loop = loop_.get();
    try {
      loop->call_soon_threadsafe([loop] { loop->stop(); });
    } catch (...) {
    }
  }
  impl_->cv.notify_all();
  try {
    finished_promise_.set_result();
  } catch (...) {
  }
}

bool Core::done() const noexcept {
  std::lock_guard lock(impl_->mu);
  return impl_->finished;
}

bool Core::wait_for(std::chrono::milliseconds timeout) {
  std::unique_lock lock(impl_->mu);
  if (!impl_->started) throw InvalidStateError("pipeline: wait before start");
  return impl_->cv.wait_for(lock, timeout, [&] { return impl_->finished; });
}

Report Core::wait() {
  {
    std::unique_lock lock(impl_->mu);
    if (!impl_->started) throw InvalidStateError("pipeline: wait before start");
    impl_->cv.wait(lock, [&] { return impl_->finished; });
    if (!impl_->joined) {
      impl_->joined = true;
      lock.unlock();
      if (impl_->loop_thread.joinable()) impl_->loop_thread.join();
      if (impl_->progress_thread.joinable()) impl_->progress_thread.join();
      for (auto& s : graph_->stages) s->join();
      if (loop_) loop_->close();
    }
  }
  Report r = metrics();
  std::exception_ptr e;
  {
    std::lock_guard lock(impl_->mu);
    e = impl_->error;
  }
  if (e) std::rethrow_exception(e);
  return r;
}

Report Core::metrics() const {
  Report r;
  r.name = graph_->options.name;
  r.state = state();
  std::exception_ptr error;
  SteadyClock::time_point t0, t1;
  bool started = false;
  {
    std::lock_guard lock(impl_->mu);
    r.dead_letters = impl_->dead;
    r.dead_letter_count = impl_->dead_count;
    error = impl_->error;
    started = impl_->started;
    t0 = impl_->t0;
    t1 = impl_->finished ? impl_->t1 : SteadyClock::now();
  }
  r.error = what_of(error);
  const double elapsed_ns =
      started ? static_cast<double>(std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count()) : 0.0;
  r.elapsed_s = elapsed_ns / 1e9;
  for (const auto& s : graph_->stages) {
    const Counters& c = s->counters;
    StageMetrics m;
    m.name = s->options.name;
    m.kind = s->kind;
    m.concurrency = s->options.concurrency;
    m.items_in = c.in.load(std::memory_order_relaxed);
    m.items_out = c.out.load(std::memory_order_relaxed);
    m.failed = c.failed.load(std::memory_order_relaxed);
    m.retried = c.retried.load(std::memory_order_relaxed);
    m.dead_lettered = c.dead.load(std::memory_order_relaxed);
    if (s->out != nullptr) {
      m.depth = s->out->depth();
      m.peak_depth = s->out->peak();
      m.capacity = s->out->capacity();
      m.depth_bytes = s->out->depth_bytes();
      m.peak_bytes = s->out->peak_bytes();
      m.capacity_bytes = s->out->capacity_bytes();
      m.blocked_now = s->out->producers_waiting();
    }
    const double slots = elapsed_ns * static_cast<double>(std::max<std::size_t>(1, m.concurrency));
    m.busy = slots > 0 ? std::min(1.0, static_cast<double>(c.busy_ns.load(std::memory_order_relaxed)) / slots) : 0.0;
    m.blocked_put_s = static_cast<double>(c.put_wait_ns.load(std::memory_order_relaxed)) / 1e9;
    m.waiting_get_s = static_cast<double>(c.get_wait_ns.load(std::memory_order_relaxed)) / 1e9;
    m.items_per_s = elapsed_ns > 0 ? static_cast<double>(m.items_out) / (elapsed_ns / 1e9) : 0.0;
    m.latency = c.latency.summary();
    r.stages.push_back(std::move(m));
  }
  // The bottleneck: a stage whose input is (nearly) full while its output is not; failing that, the busiest.
  for (std::size_t i = 1; i < graph_->stages.size(); ++i) {
    const auto* in = graph_->stages[i]->in;
    const auto* out = graph_->stages[i]->out;
    if (in != nullptr && in->depth() * 10 >= in->capacity() * 9 &&
        (out == nullptr || out->depth() * 2 < out->capacity()))
      r.bottleneck = r.stages[i].name;
  }
  if (r.bottleneck.empty() && elapsed_ns > 0) {
    double best = -1;
    for (const auto& m : r.stages) {
      if (m.busy > best) {
        best = m.busy;
        r.bottleneck = m.name;
      }
    }
  }
  return r;
}

LatencySummary Histogram::summary() const noexcept {
  LatencySummary s;
  std::array<std::uint64_t, kBuckets> b{};
  for (std::size_t i = 0; i < kBuckets; ++i) {
    b[i] = buckets_[i].load(std::memory_order_relaxed);
    s.count += b[i];
  }
  if (s.count == 0) return s;
  auto at = [&](double q) {
    const auto target = static_cast<std::uint64_t>(q * static_cast<double>(s.count - 1)) + 1;
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < kBuckets; ++i) {
      seen += b[i];
      if (seen >= target) return upper_of(i) / 1000.0;
    }
    return upper_of(kBuckets - 1) / 1000.0;
  };
  s.p50_us = at(0.50);
  s.p95_us = at(0.95);
  s.p99_us = at(0.99);
  s.max_us = at(1.0);
  return s;
}

}  // namespace spindle::pipeline::detail
