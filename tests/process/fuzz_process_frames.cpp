// libFuzzer target over the frame reader and the codec decoder: any byte sequence must be
// rejected with ProtocolError or parsed, never crash, never trip a sanitizer, never allocate more than the
// frame bound. Built when the compiler is clang (tests/process/extra.cmake), run for a bounded time by CTest.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <variant>
#include <vector>

#include "spindle/process/codec.hpp"
#include "spindle/process/frame.hpp"

namespace sp = spindle::process;

namespace {
constexpr std::size_t kMax = 1 << 20;

template <class T>
void try_decode(const char* data, std::size_t size) {
  try {
    (void)sp::decode<T>(data, size);
  } catch (const sp::ProtocolError&) {
  }
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const char* bytes = reinterpret_cast<const char*>(data);
  // The codec on the raw input.
  try_decode<std::vector<std::string>>(bytes, size);
  try_decode<std::map<int, std::string>>(bytes, size);
  try_decode<std::tuple<int, std::optional<std::string>, std::variant<int, double, std::string>>>(bytes, size);
  // The frame reader, fed in uneven chunks; each frame's payload through the codec.
  sp::FrameReader reader(kMax);
  std::size_t at = 0, step = 1;
  try {
    while (at < size) {
      const std::size_t n = std::min(step, size - at);
      reader.feed({bytes + at, n});
      at += n;
      step = step * 3 + 1;
      sp::Frame f;
      while (reader.next(f)) {
        try_decode<std::vector<std::int64_t>>(f.payload.data(), f.payload.size());
        try_decode<std::pair<std::string, std::string>>(f.payload.data(), f.payload.size());
      }
      if (reader.capacity() > sizeof(sp::FrameHeader) + kMax + 2 * size + (64 << 10)) std::abort();
    }
  } catch (const sp::ProtocolError&) {
  }
  return 0;
}
