// The report's first screen: the seeds' decision tree, each branch with the figure from this run that proves
// it. A branch whose demo did not run says which demo to run; nothing is filled in from elsewhere.

#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "spindle/lab/demo.hpp"
#include "svg.hpp"

namespace spindle::lab {
namespace {

using Results = std::vector<std::pair<const Demo*, Result>>;

const Result* find(const Results& results, const std::string& name) {
  for (const auto& [demo, r] : results) {
    if (demo->name == name) return &r;
  }
  return nullptr;
}

double fact(const Result* r, const std::string& key) {
  if (r == nullptr) return NAN;
  const auto it = r->facts.find(key);
  return it == r->facts.end() ? NAN : it->second;
}

// The CPython twin's figure for a row, if it ran.
double python_of(const Result* r, const std::string& variant) {
  if (r == nullptr) return NAN;
  for (const auto& row : r->rows) {
    if (row.variant == variant) return row.python;
  }
  return NAN;
}

std::string x(double ratio) { return detail::fixed(ratio) + "x"; }
std::string s(double seconds) { return detail::fixed(seconds) + " s"; }

Branch branch(std::string question, std::string answer, std::string evidence, std::string missing_demo) {
  const bool measured = !evidence.empty();
  return {std::move(question), std::move(answer),
          measured ? std::move(evidence) : "run `spindle lab " + missing_demo + "` to measure it here", measured};
}

}  // namespace

std::vector<Branch> summary_of(const Results& results) {
  std::vector<Branch> tree;
  {
    const Result* r = find(results, "002-io-wait");
    const double serial = fact(r, "serial_s"), threads = fact(r, "threads_s");
    std::string ev;
    if (std::isfinite(serial) && std::isfinite(threads) && threads > 0) {
      ev = "002-io-wait: 20 threads finish the waits in " + s(threads) + " against " + s(serial) + " serial (" +
           x(serial / threads) + ")";
      const double py = python_of(r, "threads (20)");
      if (std::isfinite(py)) ev += "; CPython's threads: " + s(py);
    }
    tree.push_back(branch("Does the work wait (network, disk, sleep)? It is I/O-bound", "threads", ev, "002-io-wait"));
  }
  {
    const Result* r = find(results, "003-fetch");
    const double async_s = fact(r, "async_s"), threads_all = fact(r, "threads_all_s");
    const double urls = fact(r, "urls");
    const double async_kib = fact(r, "async_rss_kib_per_request"), thread_kib = fact(r, "rss_kib_per_request");
    std::string ev;
    if (std::isfinite(async_s) && std::isfinite(threads_all)) {
      ev = "003-fetch: " + detail::fixed(urls) + " requests on one thread in " + s(async_s) + " against " +
           s(threads_all) + " with a thread each";
      if (std::isfinite(async_kib) && std::isfinite(thread_kib)) {
        ev += ", " + detail::fixed(async_kib) + " KiB against " + detail::fixed(thread_kib) + " KiB per request";
      }
    }
    tree.push_back(branch("Hundreds or thousands of waits at once?", "async (one event loop)", ev, "003-fetch"));
  }
  {
    const Result* r = find(results, "003-process-speedup");
    const double procs = fact(r, "process_speedup"), gil = fact(r, "gil_speedup");
    std::string ev;
    if (std::isfinite(procs) && std::isfinite(gil)) {
      ev = "003-process-speedup: processes " + x(procs) + " faster than serial, threads under the GIL " + x(gil);
    }
    const Result* cpu = find(results, "002-cpu-bound");
    const double py_gil = python_of(cpu, "threads (8) under the GIL"), py_serial = python_of(cpu, "serial");
    if (std::isfinite(py_gil) && std::isfinite(py_serial)) {
      ev += std::string(ev.empty() ? "" : "; ") + "CPython's real GIL here: 8 threads " + s(py_gil) + " against " +
            s(py_serial) + " serial";
    }
    tree.push_back(
        branch("Does the work compute (the CPU is busy)? It is CPU-bound", "processes", ev, "003-process-speedup"));
  }
  {
    const Result* r = find(results, "002-backpressure");
    const double unbounded = fact(r, "unbounded_peak"), bounded = fact(r, "bounded_peak");
    const double u99 = fact(r, "unbounded_p99_ms"), b99 = fact(r, "bounded_p99_ms");
    std::string ev;
    if (std::isfinite(unbounded) && std::isfinite(bounded)) {
      ev = "002-backpressure: peak backlog " + detail::fixed(bounded) + " items bounded against " +
           detail::fixed(unbounded) + " unbounded; p99 latency " + detail::fixed(b99) + " ms against " +
           detail::fixed(u99) + " ms";
    }
    tree.push_back(
        branch("Is a producer faster than its consumer?", "a bounded queue (backpressure)", ev, "002-backpressure"));
  }
  {
    const Result* r = find(results, "002-hybrid-pipeline");
    const double hybrid = fact(r, "hybrid_s"), naive = fact(r, "naive_s");
    std::string ev;
    if (std::isfinite(hybrid) && std::isfinite(naive) && hybrid > 0) {
      ev = "002-hybrid-pipeline: async fetch, threads, processes through bounded channels in " + s(hybrid) +
           " against " + s(naive) + " on one model (" + x(naive / hybrid) + ")";
    }
    tree.push_back(
        branch("Both: it waits, then computes?", "a hybrid pipeline (spindle::pipeline)", ev, "002-hybrid-pipeline"));
  }
  return tree;
}

}  // namespace spindle::lab
