#include "spindle/process/frame.hpp"

#include <fcntl.h>
#include <algorithm>

#include <cerrno>
#include <cstring>

#include "os_error.hpp"
#include "spindle/process/codec.hpp"

namespace spindle::process {

std::uint32_t Writer::add_fd(int fd) {
  if (!fds_) throw ProtocolError("codec: this channel cannot carry file descriptors");
  if (fds_->size() >= kMaxFdsPerFrame) throw ProtocolError("codec: too many file descriptors in one frame");
  const int copy = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (copy < 0) detail::throw_os_error(errno, "dup");
  fds_->push_back(copy);
  return static_cast<std::uint32_t>(fds_->size() - 1);
}

std::uint32_t Writer::save_blob(const void* data, std::size_t bytes) {
  std::shared_ptr<detail::Blob> blob = detail::write_blob(data, bytes);
  const std::uint32_t index = add_fd(blob->fd);
  leases_->push_back(std::move(blob));
  return index;
}

int Reader::take_fd(std::uint32_t index) {
  if (!fds_ || index >= fds_->size() || (*fds_)[index] < 0)
    throw ProtocolError("codec: a file descriptor the frame refers to was not received");
  return std::exchange((*fds_)[index], -1);
}

void append_frame(std::string& out, FrameType type, std::uint64_t id, std::string_view payload, std::uint16_t nfds) {
  FrameHeader h{kFrameMagic, static_cast<std::uint16_t>(type), nfds, static_cast<std::uint32_t>(payload.size()), 0, id};
  out.append(reinterpret_cast<const char*>(&h), sizeof h);
  out.append(payload.data(), payload.size());
}

FrameReader::FrameReader(std::size_t max_frame_bytes)
    : buf_(64 * 1024), max_(std::min<std::size_t>(max_frame_bytes, UINT32_MAX)) {}

std::span<char> FrameReader::write_area(std::size_t min) {
  if (begin_ == end_) begin_ = end_ = 0;
  if (buf_.size() - end_ < min) {
    // Compact first; grow only if the compacted buffer is still too small (the caller asked for room for a
    // validated frame, or for the initial read size).
    if (begin_ > 0) {
      std::memmove(buf_.data(), buf_.data() + begin_, end_ - begin_);
      end_ -= begin_;
      begin_ = 0;
    }
    if (buf_.size() - end_ < min) buf_.resize(end_ + min);
  }
  return {buf_.data() + end_, buf_.size() - end_};
}

void FrameReader::feed(std::span<const char> bytes) {
  auto area = write_area(bytes.size());
  std::memcpy(area.data(), bytes.data(), bytes.size());
  commit(bytes.size());
}

void FrameReader::check_header(const FrameHeader& h) const {
  if (h.magic != kFrameMagic) throw ProtocolError("frame: bad magic (not a spindle peer, or a desynchronised stream)");
  if (h.type < static_cast<std::uint16_t>(FrameType::config) ||
      h.type > static_cast<std::uint16_t>(FrameType::task_blob))
    throw ProtocolError("frame: unknown frame type " + std::to_string(h.type));
  if (h.length > max_)
    throw ProtocolError("frame: payload of " + std::to_string(h.length) + " bytes exceeds max_frame_bytes (" +
                        std::to_string(max_) + ")");
  if (h.nfds > kMaxFdsPerFrame) throw ProtocolError("frame: too many file descriptors");
  if (h.reserved != 0) throw ProtocolError("frame: reserved field is not zero");
}

bool FrameReader::next(Frame& out) {
  const std::size_t have = end_ - begin_;
  if (have < sizeof(FrameHeader)) return false;
  FrameHeader h;
  std::memcpy(&h, buf_.data() + begin_, sizeof h);
  check_header(h);
  const std::size_t total = sizeof(FrameHeader) + h.length;
  if (have < total) {
    // Make room for the rest of this (validated) frame so the next read can complete it.
    if (buf_.size() - begin_ < total) {
      std::memmove(buf_.data(), buf_.data() + begin_, have);
      begin_ = 0;
      end_ = have;
      if (buf_.size() < total) buf_.resize(total);
    }
    return false;
  }
  out.header = h;
  out.payload = {buf_.data() + begin_ + sizeof(FrameHeader), h.length};
  begin_ += total;
  return true;
}

}  // namespace spindle::process
