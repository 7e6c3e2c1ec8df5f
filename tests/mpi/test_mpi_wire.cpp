// The MPI executor's batch records (src/mpi/wire.hpp): small tasks go to a rank as one message of
// [u64 n][n bytes] records. Round trip, an empty batch, and malformed batches (a truncated length, a length
// past the end, 2^64 - 1) that pass the records before the fault and nothing past it, without reading beyond
// the message.

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "wire.hpp"

namespace {

namespace wire = spindle::mpi::wire;

std::vector<std::string> records_of(const std::string& batch, bool* ok = nullptr) {
  std::vector<std::string> out;
  const bool good = wire::for_each_record(batch, [&](std::string r) { out.push_back(std::move(r)); });
  if (ok != nullptr) *ok = good;
  return out;
}

TEST(MpiWire, RecordsComeBackInOrder) {
  std::string batch;
  const std::vector<std::string> msgs{"first", std::string("\0\1\2", 3), "", std::string(5000, 'x')};
  for (const auto& m : msgs) wire::append_record(batch, m);
  bool ok = false;
  EXPECT_EQ(records_of(batch, &ok), msgs);
  EXPECT_TRUE(ok);
}

TEST(MpiWire, AnEmptyBatchHasNoRecords) {
  bool ok = false;
  EXPECT_TRUE(records_of(std::string(), &ok).empty());
  EXPECT_TRUE(ok);
}

TEST(MpiWire, AMalformedBatchStopsAtTheFault) {
  std::string good;
  wire::append_record(good, "kept");

  std::string truncated = good + std::string(5, '\0');  // a length cut short
  bool ok = true;
  EXPECT_EQ(records_of(truncated, &ok), std::vector<std::string>{"kept"});
  EXPECT_FALSE(ok);

  std::string past_end = good;
  wire::put_u64(past_end, 100);  // claims 100 bytes, holds 3
  past_end += "abc";
  ok = true;
  EXPECT_EQ(records_of(past_end, &ok), std::vector<std::string>{"kept"});
  EXPECT_FALSE(ok);

  std::string huge = good;
  wire::put_u64(huge, std::numeric_limits<std::uint64_t>::max());
  huge += "abc";
  ok = true;
  EXPECT_EQ(records_of(huge, &ok), std::vector<std::string>{"kept"});
  EXPECT_FALSE(ok);
}

}  // namespace
