#pragma once
/// @file
/// The processes model in one include: Process, ProcessPoolExecutor, the codec, shared memory and IPC.
/// Python equivalent: `multiprocessing` + `concurrent.futures.ProcessPoolExecutor`.

#include "spindle/process/codec.hpp"
#include "spindle/process/errors.hpp"
#include "spindle/process/event.hpp"
#include "spindle/process/frame.hpp"
#include "spindle/process/lock.hpp"
#include "spindle/process/pipe.hpp"
#include "spindle/process/process.hpp"
#include "spindle/process/process_pool_executor.hpp"
#include "spindle/process/queue.hpp"
#include "spindle/process/registry.hpp"
#include "spindle/process/shared_array.hpp"
#include "spindle/process/shared_memory.hpp"
#include "spindle/process/start_method.hpp"
#include "spindle/process/value.hpp"
