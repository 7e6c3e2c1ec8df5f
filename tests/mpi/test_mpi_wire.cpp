// The MPI executor's batch records (src/mpi/wire.hpp): small tasks go to a rank as one message of
// [u64 n][n bytes] records. Round trip, a task record read back as a task message, an empty batch, and malformed
// batches (a truncated length, a length past the end, 2^64 - 1) that pass the records before the fault and nothing past
// it, without reading beyond the message.

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "wire.hpp"

namespace {

namespace wire = spindle::mpi::wire;

// A record as the batch format has it: [u64 n][n bytes].
void append_record(std::string& batch, const std::string& msg) {
  wire::put_u64(batch, msg.size());
  batch += msg;
}

std::vector<std::string> records_of(const std::string& batch, bool* ok = nullptr) {
  std::vector<std::string> out;
  const bool good = wire::for_each_record(batch, [&](std::string r) { out.push_back(std::move(r)); });
  if (ok != nullptr) *ok = good;
  return out;
}

TEST(MpiWire, RecordsComeBackInOrder) {
  std::string batch;
  const std::vector<std::string> msgs{"first", std::string("\0\1\2", 3), "", std::string(5000, 'x')};
  for (const auto& m : msgs) append_record(batch, m);
  bool ok = false;
  EXPECT_EQ(records_of(batch, &ok), msgs);
  EXPECT_TRUE(ok);
}

// Rank 0 writes each small task into the batch in place; the worker rank reads it back as a kTask message.
TEST(MpiWire, ATaskRecordIsATaskMessage) {
  std::string batch;
  wire::append_task(batch, "args", 7, 42);
  wire::append_task(batch, "", 8, 43);
  const auto tasks = records_of(batch);
  ASSERT_EQ(tasks.size(), 2U);
  EXPECT_EQ(tasks[0].substr(0, tasks[0].size() - 16), "args");
  EXPECT_EQ(wire::get_u64(tasks[0], tasks[0].size() - 16), 7U);
  EXPECT_EQ(wire::get_u64(tasks[0], tasks[0].size() - 8), 42U);
  EXPECT_EQ(tasks[1].size(), 16U);
  EXPECT_EQ(wire::get_u64(tasks[1], 0), 8U);
  EXPECT_EQ(wire::get_u64(tasks[1], 8), 43U);
}

TEST(MpiWire, AnEmptyBatchHasNoRecords) {
  bool ok = false;
  EXPECT_TRUE(records_of(std::string(), &ok).empty());
  EXPECT_TRUE(ok);
}

TEST(MpiWire, AMalformedBatchStopsAtTheFault) {
  std::string good;
  append_record(good, "kept");

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
