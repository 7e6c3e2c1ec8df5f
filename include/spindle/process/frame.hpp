#pragma once
/// @file
/// Length-checked framing for every process channel. A frame is a 24-byte header (magic, type, descriptor
/// count, payload length, task id) and a payload. `FrameReader` validates a header the moment its 24 bytes
/// are in: a bad magic, an unknown type, a payload over `max_frame_bytes` or more descriptors than allowed is
/// a ProtocolError before a single byte is allocated for the payload. Python equivalent: the length prefix
/// of `multiprocessing.connection` (which allocates whatever it is told).

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "spindle/process/errors.hpp"

namespace spindle::process {

/// Frame types on the wire.
enum class FrameType : std::uint16_t {
  config = 1,       ///< parent -> worker: limits, initializer, one-shot flag (first frame)
  hello = 2,        ///< worker -> parent: ready (after the initializer)
  task = 3,         ///< parent -> worker: function id + encoded arguments
  result = 4,       ///< worker -> parent: encoded result
  error = 5,        ///< worker -> parent: exception type name + message
  init_failed = 6,  ///< worker -> parent: the initializer threw (type name + message)
  item = 7,         ///< a Pipe / Queue item
  task_blob = 8,    ///< parent -> worker: function id + the arguments' size; the arguments are in a shared-memory
                    ///< blob, the frame's last descriptor (large arguments: no copy through the socket)
};

/// The fixed header in front of every frame (native endianness: both ends are the same binary).
struct FrameHeader {
  std::uint32_t magic;   ///< kFrameMagic
  std::uint16_t type;    ///< a FrameType
  std::uint16_t nfds;    ///< descriptors passed with this frame (SCM_RIGHTS)
  std::uint32_t length;  ///< payload bytes after the header
  std::uint32_t reserved;
  std::uint64_t id;  ///< task id (0 where unused)
};
static_assert(sizeof(FrameHeader) == 24);

/// "SPD1".
inline constexpr std::uint32_t kFrameMagic = 0x31445053;
/// Default bound on a payload (64 MiB).
inline constexpr std::size_t kDefaultMaxFrameBytes = std::size_t{64} << 20;
/// Most descriptors one frame may carry.
inline constexpr std::uint16_t kMaxFdsPerFrame = 64;

/// One parsed frame: the header and a view of its payload (valid until the reader is fed again).
struct Frame {
  FrameHeader header;             ///< validated header
  std::span<const char> payload;  ///< `header.length` bytes
  FrameType type() const noexcept { return static_cast<FrameType>(header.type); }
};

/// Appends a header and `payload` to `out`.
void append_frame(std::string& out, FrameType type, std::uint64_t id, std::string_view payload, std::uint16_t nfds = 0);

/// Incremental frame parser over a growing buffer. Feed it bytes (`write_area` + `commit`, or `feed`), then
/// take frames with `next`. **Thread safety:** one reader per channel, used by one thread at a time.
/// **Errors:** `next` throws ProtocolError for a bad header; after that the reader must be discarded.
/// **Python equivalent:** `multiprocessing.connection.Connection.recv_bytes(maxlength)`.
class FrameReader {
 public:
  /// A reader accepting payloads of at most `max_frame_bytes`.
  explicit FrameReader(std::size_t max_frame_bytes = kDefaultMaxFrameBytes);

  /// Room for at least `min` more bytes at the end of the buffer. The buffer only grows beyond its initial
  /// size for a frame whose header was already validated.
  std::span<char> write_area(std::size_t min = 4096);
  /// Marks `n` bytes of the last write_area as filled.
  void commit(std::size_t n) noexcept { end_ += n; }
  /// Copies `bytes` in (tests, fuzzing).
  void feed(std::span<const char> bytes);

  /// The next complete frame, or false if more bytes are needed. Throws ProtocolError for a bad header.
  bool next(Frame& out);

  /// Bytes buffered but not yet returned as frames.
  std::size_t buffered() const noexcept { return end_ - begin_; }
  /// The payload bound.
  std::size_t max_frame_bytes() const noexcept { return max_; }
  /// Bytes allocated for the buffer (tests: a hostile header must not grow it).
  std::size_t capacity() const noexcept { return buf_.size(); }

 private:
  void check_header(const FrameHeader& h) const;
  std::vector<char> buf_;
  std::size_t begin_ = 0;
  std::size_t end_ = 0;
  std::size_t max_;
};

}  // namespace spindle::process
