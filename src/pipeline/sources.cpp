// Sources that need the event loop's I/O: the lines of a TCP stream.

#include <utility>

#include "spindle/aio/streams.hpp"
#include "spindle/pipeline/pipeline.hpp"

namespace spindle::pipeline {

namespace detail {

struct LineSource::State {
  std::string host;
  int port;
  std::size_t limit;
  std::optional<aio::StreamPair> conn;

  // Closes the connection on the loop thread (never later from another thread, after the loop is gone).
  void close() noexcept {
    if (!conn) return;
    try {
      conn->writer.close();
    } catch (...) {
    }
    conn.reset();
  }
};

LineSource::LineSource(std::string host, int port, std::size_t limit)
    : s_(std::make_shared<State>(State{std::move(host), port, limit, std::nullopt})) {}

aio::Task<std::optional<std::string>> LineSource::operator()() { return next(s_); }

aio::Task<std::optional<std::string>> LineSource::next(std::shared_ptr<State> s) {
  if (!s->conn) s->conn.emplace(co_await aio::open_connection(s->host, s->port, {.limit = s->limit}));
  std::string line;
  std::exception_ptr error;
  try {
    line = co_await s->conn->reader.readline();
  } catch (...) {
    error = std::current_exception();  // cancelled (stop, cancel) or failed: the connection closes either way
  }
  if (error) {
    s->close();
    std::rethrow_exception(error);
  }
  if (line.empty()) {  // the peer closed the connection
    s->close();
    co_return std::nullopt;
  }
  if (line.back() == '\n') line.pop_back();
  if (!line.empty() && line.back() == '\r') line.pop_back();
  co_return line;
}

}  // namespace detail

Flow<std::string> lines(std::string host, int port, SourceOptions o, std::size_t limit) {
  if (port <= 0 || port > 65535) throw std::invalid_argument("pipeline lines: port must be in 1..65535");
  if (limit == 0) throw std::invalid_argument("pipeline lines: limit must be >= 1");
  return from(detail::LineSource(std::move(host), port, limit), std::move(o));
}

}  // namespace spindle::pipeline
