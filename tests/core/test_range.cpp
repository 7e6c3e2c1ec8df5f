// spindle::range: Python's range(start, stop, step), including empty, negative-step and zero-step cases.
#include "spindle/core/range.hpp"

#include <gtest/gtest.h>

#include <ranges>
#include <vector>

namespace {

std::vector<long> values(const spindle::range& r) { return {r.begin(), r.end()}; }

static_assert(std::ranges::forward_range<spindle::range>);

TEST(Range, MatchesPythonsRange) {
  EXPECT_EQ(values(spindle::range(4)), (std::vector<long>{0, 1, 2, 3}));
  EXPECT_EQ(values(spindle::range(2, 11, 3)), (std::vector<long>{2, 5, 8}));
  EXPECT_EQ(values(spindle::range(10, 0, -4)), (std::vector<long>{10, 6, 2}));
  EXPECT_EQ(spindle::range(2, 11, 3).size(), 3U);
}

TEST(Range, EmptyRangesHaveNoValues) {
  EXPECT_TRUE(spindle::range(0).empty());
  EXPECT_TRUE(spindle::range(-3).empty());
  EXPECT_TRUE(spindle::range(5, 1).empty());
  EXPECT_TRUE(spindle::range(1, 5, -1).empty());
  EXPECT_TRUE(values(spindle::range(5, 1)).empty());
}

TEST(Range, ZeroStepIsAnError) { EXPECT_THROW(spindle::range(0, 5, 0), std::invalid_argument); }

}  // namespace
