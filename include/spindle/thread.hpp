#pragma once
/// @file
/// The threads model in one include: Thread, ThreadPoolExecutor, the locks, events, conditions, semaphores,
/// barriers, timers and queues (for users; spindle's own code includes precisely).
/// Python equivalent: `threading` + `queue` + `concurrent.futures.ThreadPoolExecutor`.

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
