#pragma once
// What W6 and W6-TLS share: the aio echo handler under test, and the clocks, window and percentiles of the
// load generator (bench/echo_loadgen.hpp).

#include <pthread.h>

#include <algorithm>
#include <cstdint>
#include <ctime>
#include <exception>
#include <string>
#include <vector>

#include "echo_loadgen.hpp"
#include "spindle/aio/event_loop.hpp"
#include "spindle/aio/streams.hpp"
#include "workload.hpp"

namespace spindle::bench::echo {

/// The request and reply size.
using echo_load::kMsg;

/// The server under test: each connection a task reading up to kMsg bytes and writing them back.
inline aio::Task<void> serve(aio::StreamReader r, aio::StreamWriter w) {
  try {
    for (;;) {
      std::string data = co_await r.read(static_cast<std::ptrdiff_t>(kMsg));
      if (data.empty()) break;
      w.write(data);
      co_await w.drain();
    }
  } catch (const std::exception&) {
    // The load generator closed with a request in flight (a reset): the normal end of a run.
  }
}

using echo_load::now_ns;
using echo_load::percentile_us;
using echo_load::thread_cpu_s;
using echo_load::Window;

/// `--arg connections=N` (default 50, one request in flight each).
inline Param connections_param() {
  return {
      .name = "connections", .help = "client connections, one request in flight each", .value = "50", .max = 10'000};
}

/// `--arg backend=epoll|io_uring`: the server loop's poller.
inline Param backend_param() {
  return {.name = "backend",
          .help = "the server loop's poller: epoll or io_uring",
          .value = "epoll",
          .kind = Param::Kind::choice,
          .choices = {"epoll", "io_uring"}};
}

/// The server loop's backend as `--arg backend` asks.
inline aio::Backend backend_of(const Options& options) {
  return options.text("backend") == "io_uring" ? aio::Backend::io_uring : aio::Backend::epoll;
}

}  // namespace spindle::bench::echo
