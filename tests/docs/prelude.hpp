#pragma once
/// @file
/// What every doc fragment may assume (scripts/doc_snippets.py puts this first in each generated file): all
/// of spindle's public interface, as a reader's `#include "spindle/spindle.hpp"` gives it, and the standard
/// headers the docs' snippets use. A whole-program block (`run`) does not get it: it includes what it uses,
/// as a reader's program must.

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

#include "spindle/spindle.hpp"
