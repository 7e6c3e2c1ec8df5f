// The frame reader and the codec: round trips of every supported type, and hostile input rejected before
// anything is allocated.

#include <cstdint>
#include <cstring>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <variant>
#include <vector>

#include "census.hpp"
#include "spindle/process/codec.hpp"
#include "spindle/process/frame.hpp"

namespace sp = spindle::process;

namespace {

struct Point {
  double x = 0, y = 0;
  std::string label;
  template <class A>
  void serialize(A& ar) {
    ar(x, y, label);
  }
  bool operator==(const Point&) const = default;
};

class Codec : public spindle::test::LeakCheckedTest {};

template <class T>
T round_trip(const T& v) {
  const std::string bytes = sp::encode(v);
  return sp::decode<T>(bytes);
}

TEST_F(Codec, RoundTripsStandardAndUserTypes) {
  EXPECT_EQ(round_trip(42), 42);
  EXPECT_EQ(round_trip(-1.5), -1.5);
  EXPECT_EQ(round_trip(std::string("héllo\0x", 7)), std::string("héllo\0x", 7));
  EXPECT_EQ(round_trip(std::vector<int>{1, 2, 3}), (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(round_trip(std::array<char, 3>{'a', 'b', 'c'}), (std::array<char, 3>{'a', 'b', 'c'}));
  const std::map<std::string, std::vector<double>> m{{"a", {1.0}}, {"b", {}}};
  EXPECT_EQ(round_trip(m), m);
  EXPECT_EQ(round_trip(std::optional<int>{}), std::optional<int>{});
  EXPECT_EQ(round_trip(std::optional<int>{7}), std::optional<int>{7});
  EXPECT_EQ(round_trip(std::make_pair(1, std::string("x"))), std::make_pair(1, std::string("x")));
  EXPECT_EQ(round_trip(std::make_tuple(1, 2.0, std::string("y"))), std::make_tuple(1, 2.0, std::string("y")));
  using V = std::variant<int, std::string>;
  EXPECT_EQ(round_trip(V{std::string("z")}), V{std::string("z")});
  EXPECT_EQ(round_trip(Point{1, 2, "p"}), (Point{1, 2, "p"}));
}

// Large blocks go through fresh memory readied in advance (huge pages advised, pages faulted in at once: see
// Writer::save_binary): every byte must still arrive, wherever the block starts and ends against the pages.
TEST_F(Codec, LargeBlocksRoundTripWhereverTheyStart) {
  std::vector<std::uint64_t> words((std::size_t{5} << 20) / 8 + 3);  // past two 2 MiB stretches, not page-sized
  for (std::size_t i = 0; i < words.size(); ++i) words[i] = i * 0x9E3779B97F4A7C15ULL;
  std::string text((std::size_t{3} << 20) + 11, '\0');
  for (std::size_t i = 0; i < text.size(); ++i) text[i] = static_cast<char>(i * 7);
  EXPECT_EQ(round_trip(words), words);
  EXPECT_EQ(round_trip(text), text);
  const auto both = std::make_tuple(std::string("prefix"), words, 3, text);  // blocks after a few odd bytes
  EXPECT_EQ(round_trip(both), both);
  std::string out("already here");  // appended to, as a frame's header is
  sp::encode_into(out, nullptr, words);
  EXPECT_EQ(out.substr(0, 12), "already here");
  EXPECT_EQ(sp::decode<std::vector<std::uint64_t>>(std::string_view(out).substr(12)), words);
}

TEST_F(Codec, HugeSizeTagIsRejectedBeforeAllocating) {
  // A vector<char> claiming 2^60 elements, followed by 3 bytes.
  std::string bytes(8, '\0');
  const std::uint64_t n = std::uint64_t{1} << 60;
  std::memcpy(bytes.data(), &n, 8);
  bytes += "abc";
  EXPECT_THROW(sp::decode<std::vector<char>>(bytes), sp::ProtocolError);
  EXPECT_THROW(sp::decode<std::string>(bytes), sp::ProtocolError);
  EXPECT_THROW((sp::decode<std::map<int, int>>(bytes)), sp::ProtocolError);
}

TEST_F(Codec, TruncatedAndTrailingInputIsRejected) {
  const std::string bytes = sp::encode(std::string("hello"));
  EXPECT_THROW(sp::decode<std::string>(bytes.substr(0, bytes.size() - 1)), sp::ProtocolError);
  EXPECT_THROW(sp::decode<std::string>(bytes + "x"), sp::ProtocolError);
  EXPECT_THROW(sp::decode<int>(std::string("ab")), sp::ProtocolError);
}

TEST_F(Codec, BadVariantIndexIsRejected) {
  std::string bytes = sp::encode(std::variant<int, char>{1});
  bytes[0] = 9;  // index 9 of a 2-alternative variant
  EXPECT_THROW((sp::decode<std::variant<int, char>>(bytes)), sp::ProtocolError);
}

class Frames : public spindle::test::LeakCheckedTest {};

sp::FrameHeader header(std::uint32_t length, std::uint16_t type = 3) {
  return sp::FrameHeader{sp::kFrameMagic, type, 0, length, 0, 1};
}
std::string bytes_of(const sp::FrameHeader& h) { return std::string(reinterpret_cast<const char*>(&h), sizeof h); }

TEST_F(Frames, ParsesFramesSplitAnywhere) {
  std::string wire;
  sp::append_frame(wire, sp::FrameType::task, 7, "hello");
  sp::append_frame(wire, sp::FrameType::result, 8, "");
  sp::append_frame(wire, sp::FrameType::error, 9, std::string(100000, 'x'));
  for (std::size_t step : {1u, 7u, 4096u, 1000000u}) {
    sp::FrameReader r;
    std::vector<std::pair<std::uint64_t, std::size_t>> got;
    for (std::size_t at = 0; at < wire.size(); at += step) {
      r.feed({wire.data() + at, std::min(step, wire.size() - at)});
      sp::Frame f;
      while (r.next(f)) got.emplace_back(f.header.id, f.payload.size());
    }
    ASSERT_EQ(got.size(), 3u) << step;
    EXPECT_EQ(got[0], (std::pair<std::uint64_t, std::size_t>{7, 5}));
    EXPECT_EQ(got[1], (std::pair<std::uint64_t, std::size_t>{8, 0}));
    EXPECT_EQ(got[2], (std::pair<std::uint64_t, std::size_t>{9, 100000}));
  }
}

TEST_F(Frames, OversizeLengthIsRejectedBeforeAllocating) {
  for (std::uint32_t length : {std::uint32_t{1} << 20, std::numeric_limits<std::uint32_t>::max()}) {
    sp::FrameReader r(64 * 1024);
    const std::size_t before = r.capacity();
    const std::string h = bytes_of(header(length));
    r.feed({h.data(), h.size()});
    sp::Frame f;
    try {
      r.next(f);
      FAIL() << "accepted a frame of " << length << " bytes";
    } catch (const sp::ProtocolError& e) {
      EXPECT_NE(std::string(e.what()).find("max_frame_bytes"), std::string::npos) << e.what();
    }
    EXPECT_EQ(r.capacity(), before);
  }
}

TEST_F(Frames, BadMagicTypeAndReservedAreRejected) {
  sp::FrameHeader bad_magic = header(0);
  bad_magic.magic = 0x12345678;
  sp::FrameHeader bad_type = header(0, 99);
  sp::FrameHeader bad_reserved = header(0);
  bad_reserved.reserved = 1;
  sp::FrameHeader too_many_fds = header(0);
  too_many_fds.nfds = 1000;
  for (const auto& h : {bad_magic, bad_type, bad_reserved, too_many_fds}) {
    sp::FrameReader r;
    const std::string b = bytes_of(h);
    r.feed({b.data(), b.size()});
    sp::Frame f;
    EXPECT_THROW(r.next(f), sp::ProtocolError);
  }
}

TEST_F(Frames, TruncatedFrameWaitsForMore) {
  std::string wire;
  sp::append_frame(wire, sp::FrameType::task, 1, "abcdef");
  sp::FrameReader r;
  r.feed({wire.data(), wire.size() - 1});
  sp::Frame f;
  EXPECT_FALSE(r.next(f));
  r.feed({wire.data() + wire.size() - 1, 1});
  EXPECT_TRUE(r.next(f));
  EXPECT_EQ(std::string(f.payload.data(), f.payload.size()), "abcdef");
}

}  // namespace

namespace {
TEST_F(Codec, NonBooleanByteIsRejected) {  // regression: found by fuzz_process_frames (optional's flag)
  EXPECT_THROW(sp::decode<std::optional<int>>(std::string("\x0a\x01\x02\x03\x04", 5)), sp::ProtocolError);
  EXPECT_THROW(sp::decode<bool>(std::string("\x02", 1)), sp::ProtocolError);
  EXPECT_TRUE(sp::decode<bool>(std::string("\x01", 1)));
}
}  // namespace
