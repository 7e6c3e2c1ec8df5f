#pragma once
/// @file
/// Internal: applying a stage's error policy to one item (retries with backoff, then skip or fail_fast).

#include <cstddef>
#include <exception>
#include <memory>
#include <type_traits>
#include <typeinfo>

#include "spindle/pipeline/detail/graph.hpp"

namespace spindle::pipeline::detail {

/// A copy of `item` for a dead letter, or null if T cannot be copied.
template <class T>
std::shared_ptr<const void> keep_item(const T& item) {
  if constexpr (std::is_copy_constructible_v<T>) {
    try {
      return std::make_shared<const T>(item);
    } catch (...) {
      return nullptr;
    }
  } else {
    return nullptr;
  }
}

/// The item failed for good: fail the run (fail_fast) or dead-letter it (skip).
template <class T>
void give_up(StageBase& s, Core& core, const T& item, std::exception_ptr e) noexcept {
  if (s.options.errors.on_error == OnError::fail_fast) {
    core.fail(std::move(e));
  } else {
    core.dead_letter(s, keep_item(item), &typeid(T), std::move(e));
  }
}

/// Runs `call()` (which stores its result itself) under the stage's policy, on a thread. True if it
/// succeeded; false if the item failed for good (already dead-lettered or failing the run) or the run was
/// cancelled during a backoff. `first_error`: the item already failed once (a crashed process chunk).
template <class T, class Call>
bool attempt(StageBase& s, Core& core, const T& item, Call&& call, std::exception_ptr first_error = nullptr) {
  const ErrorPolicy& p = s.options.errors;
  auto backoff = p.backoff;
  std::size_t n = 0;
  std::exception_ptr error = std::move(first_error);
  while (true) {
    if (error) {
      s.counters.failed.fetch_add(1, std::memory_order_relaxed);
      if (core.cancelled()) return false;
      if (n >= p.retries) {
        give_up(s, core, item, std::move(error));
        return false;
      }
      ++n;
      s.counters.retried.fetch_add(1, std::memory_order_relaxed);
      if (backoff.count() > 0 && !core.sleep_for(backoff)) return false;
      backoff *= 2;
      error = nullptr;
    }
    try {
      call();
      return true;
    } catch (...) {
      error = std::current_exception();
    }
  }
}

}  // namespace spindle::pipeline::detail
