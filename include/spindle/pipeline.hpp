#pragma once
/// @file
/// The pipelines model in one include: stages on async, threads and processes joined by bounded channels.
/// Python equivalent: SPDL's `spdl.pipeline` (`PipelineBuilder`), or asyncio stages with bounded queues.

#include "spindle/pipeline/item_bytes.hpp"
#include "spindle/pipeline/options.hpp"
#include "spindle/pipeline/pipeline.hpp"
#include "spindle/pipeline/report.hpp"
