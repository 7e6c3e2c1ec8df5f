#pragma once
/// @file
/// What every doc fragment may assume (scripts/doc_snippets.py puts this first in each generated file): all
/// of spindle's public headers and the standard ones the docs' snippets use. A whole-program block (`run`)
/// does not get it: it must include what it uses, as a reader's program would.

#if __has_include("spindle/spindle.hpp")
#include "spindle/spindle.hpp"
#else
#include "spindle/advisor/measure.hpp"
#include "spindle/advisor/report.hpp"
#include "spindle/aio.hpp"
#include "spindle/core/errors.hpp"
#include "spindle/core/future.hpp"
#include "spindle/core/unhandled.hpp"
#include "spindle/core/wait.hpp"
#include "spindle/process.hpp"
#include "spindle/thread/barrier.hpp"
#include "spindle/thread/condition.hpp"
#include "spindle/thread/event.hpp"
#include "spindle/thread/lifo_queue.hpp"
#include "spindle/thread/lock.hpp"
#include "spindle/thread/priority_queue.hpp"
#include "spindle/thread/queue.hpp"
#include "spindle/thread/rlock.hpp"
#include "spindle/thread/semaphore.hpp"
#include "spindle/thread/simple_queue.hpp"
#include "spindle/thread/thread.hpp"
#include "spindle/thread/thread_pool_executor.hpp"
#include "spindle/thread/timer.hpp"
#endif
// Not in the umbrella headers: streams, servers, UDP and subprocesses (docs/async-io.md).
#include "spindle/aio/net.hpp"
#include "spindle/aio/server.hpp"
#include "spindle/aio/streams.hpp"
#include "spindle/aio/subprocess.hpp"
#include "spindle/aio/udp.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>
