#pragma once
/// @file
/// spindle::aio — Python's asyncio in C++20 coroutines: the umbrella header (for users; spindle's own code
/// includes precisely): the loop, tasks, futures, threads handing coroutines to a loop, synchronisation, queues,
/// timeouts, streams, servers, UDP, subprocesses and name resolution. Python equivalent: `import asyncio`.

#include "spindle/aio/clock.hpp"
#include "spindle/aio/errors.hpp"
#include "spindle/aio/event_loop.hpp"
#include "spindle/aio/future.hpp"
#include "spindle/aio/gather.hpp"
#include "spindle/aio/locks.hpp"
#include "spindle/aio/net.hpp"
#include "spindle/aio/protocols.hpp"
#include "spindle/aio/queue.hpp"
#include "spindle/aio/run.hpp"
#include "spindle/aio/runner.hpp"
#include "spindle/aio/server.hpp"
#include "spindle/aio/sock.hpp"
#include "spindle/aio/ssl.hpp"
#include "spindle/aio/streams.hpp"
#include "spindle/aio/subprocess.hpp"
#include "spindle/aio/task.hpp"
#include "spindle/aio/task_group.hpp"
#include "spindle/aio/threadsafe.hpp"
#include "spindle/aio/timeout.hpp"
#include "spindle/aio/udp.hpp"
#include "spindle/aio/wait.hpp"
