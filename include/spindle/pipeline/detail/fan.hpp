#pragma once
/// @file
/// Internal: fan-out and merge. `TeeStage` copies every item to each of its output channels (one thread; a full
/// branch holds it, so the slowest branch sets the pace and no copy is buffered without bound); `MergeStage`
/// moves the items of several channels into one, a thread per input, as they arrive.

#include <atomic>
#include <cstddef>
#include <memory>
#include <type_traits>
#include <utility>
#include <vector>

#include "spindle/pipeline/detail/thread_stages.hpp"

namespace spindle::pipeline::detail {

/// `fan_out`: each item of the input goes to every output (copies for all but the last, which gets the item).
template <class T>
class TeeStage final : public ThreadedStage {
 public:
  TeeStage(StageOptions o, Channel<T>* input, std::vector<Channel<T>*> outputs)
      : ThreadedStage("fan_out", std::move(o), input, outputs.front()), in_(input), outs_(std::move(outputs)) {}
  std::size_t launch(Core& core) override {
    return spawn(core, 1, [this](Core& c) { work(c); });
  }
  void close_outputs() noexcept override {
    for (auto* c : outs_) c->close();
  }

 private:
  void work(Core& core) {
    const std::size_t k = std::max<std::size_t>(1, core.options().block);
    std::vector<T> items, copy;
    while (!core.cancelled()) {
      items.clear();
      const std::size_t n = in_->get(items, k, &counters.get_wait_ns);
      if (n == 0) {
        if (in_->ended()) break;
        continue;
      }
      counters.in.fetch_add(n, std::memory_order_relaxed);
      const bool urgent = in_->depth() == 0;  // nothing more is waiting: let the branches see these now
      for (std::size_t i = 0; i < outs_.size(); ++i) {
        const bool last = i + 1 == outs_.size();
        const auto t0 = SteadyClock::now();
        if (!last) copy.assign(items.begin(), items.end());
        counters.busy_ns.fetch_add(ns_since(t0), std::memory_order_relaxed);
        if (!outs_[i]->put(last ? items : copy, &counters.put_wait_ns, urgent)) return;
        counters.out.fetch_add(n, std::memory_order_relaxed);
      }
    }
  }

  Channel<T>* in_;
  std::vector<Channel<T>*> outs_;
};

/// One input of a merge: a channel of V read as items of U.
template <class U>
class MergeInput {
 public:
  virtual ~MergeInput() = default;
  /// Appends up to `max` items (waiting for one); 0 at the end.
  virtual std::size_t get(std::vector<U>& out, std::size_t max, std::atomic<std::uint64_t>* waited_ns) = 0;
  virtual bool ended() const = 0;
  virtual std::size_t depth() const noexcept = 0;
  virtual ChannelBase* channel() noexcept = 0;
};

template <class U, class V>
class TypedMergeInput final : public MergeInput<U> {
 public:
  explicit TypedMergeInput(Channel<V>* ch) : ch_(ch) {}
  std::size_t get(std::vector<U>& out, std::size_t max, std::atomic<std::uint64_t>* waited_ns) override {
    if constexpr (std::is_same_v<U, V>) {
      return ch_->get(out, max, waited_ns);
    } else {
      buf_.clear();
      const std::size_t n = ch_->get(buf_, max, waited_ns);
      for (auto& x : buf_) out.push_back(static_cast<U>(std::move(x)));
      return n;
    }
  }
  bool ended() const override { return ch_->ended(); }
  std::size_t depth() const noexcept override { return ch_->depth(); }
  ChannelBase* channel() noexcept override { return ch_; }

 private:
  Channel<V>* ch_;
  std::vector<V> buf_;  // converting inputs only
};

template <class U, class V>
std::unique_ptr<MergeInput<U>> merge_input(Channel<V>* ch) {
  return std::make_unique<TypedMergeInput<U, V>>(ch);
}

/// `merge`: a thread per input moves its items to the one output as they arrive.
template <class U>
class MergeStage final : public ThreadedStage {
 public:
  MergeStage(StageOptions o, std::vector<std::unique_ptr<MergeInput<U>>> inputs, Channel<U>* output)
      : ThreadedStage("merge", std::move(o), inputs.front()->channel(), output),
        inputs_(std::move(inputs)),
        out_(output) {}
  std::size_t launch(Core& core) override {
    return spawn(core, inputs_.size(), [this](Core& c) { work(c, *inputs_[next_.fetch_add(1)]); });
  }

 private:
  void work(Core& core, MergeInput<U>& input) {
    const std::size_t k = std::max<std::size_t>(1, core.options().block);
    std::vector<U> items;
    while (!core.cancelled()) {
      const std::size_t n = input.get(items, k, &counters.get_wait_ns);
      if (n == 0) {
        if (input.ended()) break;
        continue;
      }
      counters.in.fetch_add(n, std::memory_order_relaxed);
      if (!flush(*out_, items, input.depth() == 0)) return;
    }
  }

  std::vector<std::unique_ptr<MergeInput<U>>> inputs_;
  Channel<U>* out_;
  std::atomic<std::size_t> next_{0};
};

}  // namespace spindle::pipeline::detail
