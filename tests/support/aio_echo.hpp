#pragma once
// The line echo handler the stream, TLS and server tests serve: each line written back, drained, until EOF.

#include <string>

#include "spindle/aio/streams.hpp"

namespace spindle::test {

inline aio::Task<void> echo_lines(aio::StreamReader r, aio::StreamWriter w) {
  for (;;) {
    std::string line = co_await r.readline();
    if (line.empty()) break;
    w.write(line);
    co_await w.drain();
  }
}

}  // namespace spindle::test
