#pragma once
/// @file
/// All of spindle in one include: the core futures, the threads, processes and asyncio models, and the
/// advisor (the lab, the command-line tool's demos, is not part of the library's interface).
/// Python equivalent: `import threading, multiprocessing, asyncio, concurrent.futures`.

#include "spindle/core/errors.hpp"
#include "spindle/core/future.hpp"
#include "spindle/core/range.hpp"
#include "spindle/core/unhandled.hpp"
#include "spindle/core/wait.hpp"

#include "spindle/aio.hpp"
#include "spindle/pipeline.hpp"
#include "spindle/process.hpp"
#include "spindle/thread.hpp"

#include "spindle/advisor/measure.hpp"
#include "spindle/advisor/report.hpp"
