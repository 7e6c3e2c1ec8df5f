#pragma once
/// @file
/// Test helper: wait for a running pipeline to reach a state, seen through its live metrics.

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "spindle/pipeline.hpp"

namespace spindle::test {

/// Waits (yielding, no sleep) until `pred(p.metrics())` holds. A state that does not come within `bound`
/// (far beyond the milliseconds it takes) is a hang: the test fails with the last report, which shows where
/// the items stand, instead of dying silently at CTest's timeout.
template <class Pred>
[[nodiscard]] ::testing::AssertionResult until(const pipeline::Pipeline& p, Pred pred,
                                               std::chrono::seconds bound = std::chrono::seconds(30)) {
  const auto deadline = std::chrono::steady_clock::now() + bound;
  while (true) {
    pipeline::Report r = p.metrics();
    if (pred(r)) return ::testing::AssertionSuccess();
    if (std::chrono::steady_clock::now() > deadline)
      return ::testing::AssertionFailure()
             << "the pipeline did not reach the state within " << bound.count() << " s; last report:\n"
             << r.str();
    std::this_thread::yield();
  }
}

}  // namespace spindle::test
