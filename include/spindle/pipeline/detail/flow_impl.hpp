#pragma once
/// @file
/// Internal: the bodies of Flow's methods and of from(): each adds a stage and its output channel to the
/// graph.

#include <chrono>
#include <cstdint>
#include <iterator>
#include <memory>
#include <optional>
#include <ranges>
#include <stdexcept>
#include <type_traits>
#include <utility>
#include <vector>

#include "spindle/aio/threadsafe.hpp"
#include "spindle/aio/timeout.hpp"
#include "spindle/core/errors.hpp"
#include "spindle/pipeline/detail/aio_source.hpp"
#include "spindle/pipeline/detail/aio_stage.hpp"
#include "spindle/pipeline/detail/fan.hpp"
#include "spindle/pipeline/detail/process_stage.hpp"
#include "spindle/pipeline/detail/thread_stages.hpp"
#include "spindle/process/registry.hpp"

namespace spindle::pipeline {

namespace detail {

template <class X>
struct IsTask : std::false_type {};
template <class X>
struct IsTask<aio::Task<X>> : std::true_type {};

template <class X>
struct IsFlow : std::false_type {};
template <class X>
struct IsFlow<Flow<X>> : std::true_type {};

template <class X>
struct IsVector : std::false_type {};
template <class X, class A>
struct IsVector<std::vector<X, A>> : std::true_type {
  using element = X;
};

/// A source pulling from a range it owns.
template <class R>
class RangePull {
 public:
  explicit RangePull(R range) : range_(std::make_shared<R>(std::move(range))) {}
  template <class T>
  bool operator()(std::vector<T>& block, std::size_t max, Core&) {
    if (!started_) {
      it_.emplace(std::ranges::begin(*range_));
      started_ = true;
    }
    auto end = std::ranges::end(*range_);
    for (std::size_t i = 0; i < max && *it_ != end; ++i, ++*it_) block.push_back(static_cast<T>(**it_));
    return *it_ != end;
  }

 private:
  std::shared_ptr<R> range_;  // shared: the iterator points into it, and the pull object may be moved
  std::optional<std::ranges::iterator_t<R>> it_;
  bool started_ = false;
};

/// A source calling a generator function until it returns nullopt.
template <class Gen>
class GenPull {
 public:
  explicit GenPull(Gen gen) : gen_(std::move(gen)) {}
  template <class T>
  bool operator()(std::vector<T>& block, std::size_t max, Core&) {
    for (std::size_t i = 0; i < max; ++i) {
      auto x = gen_();
      if (!x) return false;
      block.push_back(std::move(*x));
    }
    return true;
  }

 private:
  Gen gen_;
};

/// A source reading a thread queue until it is shut down. It never waits long, so that stop() and cancel()
/// end it while the queue is empty.
template <class T>
class QueuePull {
 public:
  explicit QueuePull(Queue<T>& q) : q_(&q) {}
  bool operator()(std::vector<T>& block, std::size_t max, Core&) {
    try {
      while (block.size() < max) block.push_back(q_->get(false));
    } catch (const QueueEmpty&) {
    } catch (const QueueShutDown&) {
      return false;
    }
    if (!block.empty()) return true;  // hand these on before waiting
    try {
      block.push_back(q_->get(std::chrono::milliseconds(20)));
    } catch (const QueueEmpty&) {
    } catch (const QueueShutDown&) {
      return false;
    }
    return true;
  }

 private:
  Queue<T>* q_;
};

/// A source reading an asyncio-style queue of another event loop: each call takes up to a block on that loop
/// (run_coroutine_threadsafe), waiting there at most 20 ms, so that stop() and cancel() are seen soon; a wait that
/// times out on the loop thread gives back no item (aio::Queue's get is cancel-safe), so none is lost.
template <class T, class Store>
class AioQueuePull {
 public:
  using Q = aio::BasicQueue<T, Store>;
  AioQueuePull(Q& q, aio::EventLoop& loop) : q_(&q), loop_(&loop) {}
  bool operator()(std::vector<T>& block, std::size_t max, Core& core) {
    Future<std::vector<T>> f = aio::run_coroutine_threadsafe(*loop_, &AioQueuePull::take, q_, max);
    while (!f.wait_for(std::chrono::milliseconds(100))) {
      if (core.cancelled()) return false;  // a loop that stopped running: what it takes later is dropped
    }
    try {
      std::vector<T> got = std::move(f).result();
      for (auto& x : got) block.push_back(std::move(x));
    } catch (const QueueShutDown&) {
      return false;
    }
    return true;
  }
  aio::EventLoop* loop() const noexcept { return loop_; }

 private:
  static aio::Task<T> get_one(Q* q) { co_return co_await q->get(); }
  static aio::Task<std::vector<T>> take(Q* q, std::size_t max) {
    std::vector<T> got;
    if (q->empty()) {
      bool timed_out = false;
      try {
        got.push_back(co_await aio::wait_for(get_one(q), std::chrono::milliseconds(20)));
      } catch (const TimeoutError&) {
        timed_out = true;
      }
      if (timed_out) co_return got;
    }
    while (got.size() < max && !q->empty()) got.push_back(q->get_nowait());
    for (std::size_t i = 0; i < got.size(); ++i) q->task_done();
    co_return got;
  }
  Q* q_;
  aio::EventLoop* loop_;
};

/// The lines of a TCP connection, opened on the pipeline's loop at the first call.
class LineSource {
 public:
  LineSource(std::string host, int port, std::size_t limit);
  aio::Task<std::optional<std::string>> operator()();

 private:
  struct State;
  static aio::Task<std::optional<std::string>> next(std::shared_ptr<State> s);
  std::shared_ptr<State> s_;
};

template <class T, class Pull>
Flow<T> make_source(Pull pull, SourceOptions o) {
  if (o.capacity == 0) throw std::invalid_argument("pipeline source: capacity must be >= 1");
  auto graph = std::make_unique<Graph>();
  auto* ch = graph->add_channel<T>(o.capacity, o.capacity_bytes);
  StageOptions so{.concurrency = 1,
                  .name = o.name.empty() ? "source" : o.name,
                  .capacity = o.capacity,
                  .capacity_bytes = o.capacity_bytes};
  graph->stages.push_back(std::make_unique<SourceStage<T, Pull>>(std::move(so), ch, std::move(pull)));
  return Flow<T>(std::move(graph), ch);
}

}  // namespace detail

template <class T>
Flow<T> Flow<T>::options(PipelineOptions o) && {
  if (o.block == 0) throw std::invalid_argument("pipeline: options.block must be >= 1");
  graph_->options = std::move(o);
  return std::move(*this);
}

template <class T>
template <class Fn>
auto Flow<T>::aio(Fn fn, StageOptions o) && {
  static_assert(std::is_invocable_v<Fn&, T&>, "aio(fn): fn must be callable with the item (T&)");
  using Ret = std::invoke_result_t<Fn&, T&>;
  static_assert(detail::IsTask<Ret>::value, "aio(fn): fn must return aio::Task<U> (use thread(fn) for a plain call)");
  using U = typename Ret::value_type;
  static_assert(!std::is_void_v<U>, "aio(fn): fn returns aio::Task<void>: end the pipeline with sink(fn)");
  graph_->check(o, "aio", false);
  auto* out = graph_->template add_channel<U>(o.capacity, o.capacity_bytes);
  graph_->stages.push_back(
      std::make_unique<detail::AioStage<T, U, Fn>>("aio", std::move(o), tail_, out, std::move(fn)));
  return Flow<U>(std::move(graph_), out);
}

template <class T>
template <class Fn>
auto Flow<T>::thread(Fn fn, StageOptions o) && {
  static_assert(std::is_invocable_v<Fn&, T&>, "thread(fn): fn must be callable with the item (T&)");
  using U = std::decay_t<std::invoke_result_t<Fn&, T&>>;
  static_assert(!std::is_void_v<U>, "thread(fn): fn returns void: end the pipeline with sink(fn)");
  static_assert(!detail::IsTask<U>::value, "thread(fn): fn returns a Task: use aio(fn)");
  graph_->check(o, "thread", false);
  auto* out = graph_->template add_channel<U>(o.capacity, o.capacity_bytes);
  graph_->stages.push_back(
      std::make_unique<detail::ThreadStage<T, U, Fn>>("thread", std::move(o), tail_, out, std::move(fn)));
  return Flow<U>(std::move(graph_), out);
}

template <class T>
template <class Fn>
auto Flow<T>::process(Fn fn, StageOptions o) && {
  if constexpr (process::detail::FunctionPointer<std::decay_t<Fn>>) {
    using P = typename process::detail::Signature<std::decay_t<Fn>>::pointer;
    static_assert(std::tuple_size_v<typename process::detail::Signature<P>::args> == 1,
                  "process(fn): fn must take one argument (the item)");
    using In = std::tuple_element_t<0, typename process::detail::Signature<P>::args>;
    using U = typename process::detail::Signature<P>::result;
    static_assert(!std::is_void_v<U>, "process(fn): fn must return a value");
    static_assert(std::is_convertible_v<T, In>, "process(fn): the item does not convert to fn's argument");
    graph_->check(o, "process", true);
    const auto address = reinterpret_cast<std::uintptr_t>(static_cast<P>(fn));
    process::detail::locate_function(address);  // a function no worker can find fails here, not in the run
    auto* out = graph_->template add_channel<U>(o.capacity, o.capacity_bytes);
    graph_->stages.push_back(std::make_unique<detail::ProcessStage<T, P>>(std::move(o), tail_, out, address));
    return Flow<U>(std::move(graph_), out);
  } else if constexpr (process::detail::ConvertibleLambda<Fn>) {
    return std::move(*this).process(+fn, std::move(o));
  } else {
    process::detail::reject_callable<Fn>();
    return process::detail::NotSendable{};
  }
}

template <class T>
Flow<std::vector<T>> Flow<T>::batch(std::size_t n, std::chrono::milliseconds max_wait, StageOptions o) && {
  if (n == 0) throw std::invalid_argument("pipeline batch: n must be >= 1");
  if (max_wait.count() < 0) throw std::invalid_argument("pipeline batch: max_wait must be >= 0");
  graph_->check(o, "batch", false);
  if (o.concurrency != 1) throw std::invalid_argument("pipeline batch: concurrency must be 1");
  auto* out = graph_->template add_channel<std::vector<T>>(o.capacity, o.capacity_bytes);
  graph_->stages.push_back(std::make_unique<detail::BatchStage<T>>(std::move(o), tail_, out, n, max_wait));
  return Flow<std::vector<T>>(std::move(graph_), out);
}

template <class T>
auto Flow<T>::unbatch(StageOptions o) && {
  static_assert(detail::IsVector<T>::value, "unbatch(): the items must be std::vector<U> (after batch())");
  using U = typename detail::IsVector<T>::element;
  graph_->check(o, "unbatch", false);
  if (o.concurrency != 1) throw std::invalid_argument("pipeline unbatch: concurrency must be 1");
  auto* out = graph_->template add_channel<U>(o.capacity, o.capacity_bytes);
  graph_->stages.push_back(std::make_unique<detail::UnbatchStage<U>>(std::move(o), tail_, out));
  return Flow<U>(std::move(graph_), out);
}

template <class T>
template <class Fn>
Pipeline Flow<T>::sink(Fn fn, StageOptions o) && {
  static_assert(std::is_invocable_v<Fn&, T&>, "sink(fn): fn must be callable with the item (T&)");
  using Ret = std::invoke_result_t<Fn&, T&>;
  graph_->check(o, "sink", false);
  if constexpr (detail::IsTask<Ret>::value) {
    static_assert(std::is_void_v<typename Ret::value_type>, "sink(fn): fn must return aio::Task<void>");
    graph_->stages.push_back(
        std::make_unique<detail::AioStage<T, void, Fn>>("sink", std::move(o), tail_, nullptr, std::move(fn)));
  } else {
    static_assert(std::is_void_v<Ret>, "sink(fn): fn must return void (or aio::Task<void>)");
    graph_->stages.push_back(
        std::make_unique<detail::ThreadStage<T, void, Fn>>("sink", std::move(o), tail_, nullptr, std::move(fn)));
  }
  return Pipeline(std::move(graph_));
}

template <class T>
Collected<T> Flow<T>::collect(StageOptions o) && {
  graph_->check(o, "sink", false);
  if (o.concurrency != 1) throw std::invalid_argument("pipeline collect: concurrency must be 1");
  auto out = std::make_shared<std::vector<T>>();
  auto keep = [out](T& x) { out->push_back(std::move(x)); };
  graph_->stages.push_back(std::make_unique<detail::ThreadStage<T, void, decltype(keep)>>("sink", std::move(o), tail_,
                                                                                          nullptr, std::move(keep)));
  return Collected<T>(std::move(graph_), std::move(out));
}

template <class T>
template <class... Branch>
auto Flow<T>::fan_out(Branch... branches) && {
  return std::move(*this).fan_out(StageOptions{}, std::move(branches)...);
}

template <class T>
template <class... Branch>
auto Flow<T>::fan_out(StageOptions o, Branch... branches) && {
  static_assert(sizeof...(Branch) >= 1, "fan_out(branch...): give at least one branch");
  static_assert((std::is_invocable_v<Branch&, Flow<T>> && ...),
                "fan_out(branch...): each branch must be callable with a Flow<T> (the flow of that branch)");
  static_assert(std::is_copy_constructible_v<T>, "fan_out: each branch gets a copy of every item: T must be copyable");
  static_assert((detail::IsFlow<std::invoke_result_t<Branch&, Flow<T>>>::value && ...),
                "fan_out(branch...): each branch must return the Flow it was given, extended (not a Pipeline: "
                "the branches merge; end the merged flow with sink())");
  using U = std::common_type_t<typename std::invoke_result_t<Branch&, Flow<T>>::value_type...>;
  if (o.concurrency != 1) throw std::invalid_argument("pipeline fan_out: concurrency must be 1");
  graph_->check(o, "fan_out", false);
  const std::size_t capacity = o.capacity, capacity_bytes = o.capacity_bytes;
  std::vector<detail::Channel<T>*> heads;
  for (std::size_t i = 0; i < sizeof...(Branch); ++i)
    heads.push_back(graph_->template add_channel<T>(capacity, capacity_bytes));
  graph_->stages.push_back(std::make_unique<detail::TeeStage<T>>(std::move(o), tail_, heads));
  detail::Graph* const original = graph_.get();
  std::unique_ptr<detail::Graph> g = std::move(graph_);
  std::vector<std::unique_ptr<detail::MergeInput<U>>> inputs;
  std::size_t i = 0;
  auto build = [&](auto& b) {
    auto f = b(Flow<T>(std::move(g), heads[i++]));
    auto* tail = f.tail();
    g = std::move(f).release_graph();
    if (g.get() != original)
      throw std::invalid_argument("pipeline fan_out: a branch must return the flow it was given, extended");
    inputs.push_back(detail::merge_input<U>(tail));
  };
  (build(branches), ...);
  StageOptions mo{.concurrency = sizeof...(Branch), .capacity = capacity, .capacity_bytes = capacity_bytes};
  g->check(mo, "merge", false);
  auto* out = g->template add_channel<U>(capacity, capacity_bytes);
  g->stages.push_back(std::make_unique<detail::MergeStage<U>>(std::move(mo), std::move(inputs), out));
  return Flow<U>(std::move(g), out);
}

template <class T, class... Rest>
auto merge(Flow<T> first, Rest... rest) {
  static_assert((detail::IsFlow<Rest>::value && ...), "merge(flows...): every argument must be a Flow");
  using U = std::common_type_t<T, typename Rest::value_type...>;
  std::vector<std::unique_ptr<detail::MergeInput<U>>> inputs;
  inputs.push_back(detail::merge_input<U>(first.tail()));
  std::unique_ptr<detail::Graph> g = std::move(first).release_graph();
  if (!g) throw std::invalid_argument("pipeline merge: a flow was moved from");
  std::size_t k = 1;
  auto splice = [&](auto& f) {
    inputs.push_back(detail::merge_input<U>(f.tail()));
    std::unique_ptr<detail::Graph> h = std::move(f).release_graph();
    if (!h) throw std::invalid_argument("pipeline merge: a flow was moved from");
    g->splice(std::move(*h), k++);
  };
  (splice(rest), ...);
  StageOptions mo{.concurrency = inputs.size()};
  g->check(mo, "merge", false);
  auto* out = g->template add_channel<U>(mo.capacity, mo.capacity_bytes);
  g->stages.push_back(std::make_unique<detail::MergeStage<U>>(std::move(mo), std::move(inputs), out));
  return Flow<U>(std::move(g), out);
}

template <std::ranges::input_range R>
auto from(R&& range, SourceOptions o) {
  using Owned = std::remove_cvref_t<R>;
  using T = std::remove_cvref_t<std::ranges::range_value_t<Owned>>;
  return detail::make_source<T>(detail::RangePull<Owned>(Owned(std::forward<R>(range))), std::move(o));
}

template <detail::Generator Gen>
auto from(Gen gen, SourceOptions o) {
  using T = typename std::remove_cvref_t<std::invoke_result_t<Gen&>>::value_type;
  return detail::make_source<T>(detail::GenPull<Gen>(std::move(gen)), std::move(o));
}

template <detail::AsyncGenerator Gen>
auto from(Gen gen, SourceOptions o) {
  using T = typename detail::AsyncGeneratorResult<std::invoke_result_t<Gen&>>::item;
  if (o.capacity == 0) throw std::invalid_argument("pipeline source: capacity must be >= 1");
  auto graph = std::make_unique<detail::Graph>();
  auto* ch = graph->add_channel<T>(o.capacity, o.capacity_bytes);
  StageOptions so{.concurrency = 1,
                  .name = o.name.empty() ? "source" : o.name,
                  .capacity = o.capacity,
                  .capacity_bytes = o.capacity_bytes};
  graph->stages.push_back(std::make_unique<detail::AioSourceStage<T, Gen>>(std::move(so), ch, std::move(gen)));
  return Flow<T>(std::move(graph), ch);
}

template <class T>
Flow<T> from(Queue<T>& queue, SourceOptions o) {
  return detail::make_source<T>(detail::QueuePull<T>(queue), std::move(o));
}

template <class T, class Store>
Flow<T> from(aio::BasicQueue<T, Store>& queue, aio::EventLoop& loop, SourceOptions o) {
  return detail::make_source<T>(detail::AioQueuePull<T, Store>(queue, loop), std::move(o));
}

template <class T, class Store>
Flow<T> from(aio::BasicQueue<T, Store>& queue, SourceOptions o) {
  aio::EventLoop* loop = aio::EventLoop::running_loop();
  if (loop == nullptr)
    throw InvalidStateError(
        "pipeline from(aio::Queue&): no event loop runs on this thread; call it from a coroutine on the queue's "
        "loop, or pass the loop: from(queue, loop)");
  return from(queue, *loop, std::move(o));
}

}  // namespace spindle::pipeline
