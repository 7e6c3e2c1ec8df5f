// W10 (docs/bench.md): hybrid pipeline. N items `i` (default 1,000,000) through spindle::pipeline, every
// channel of capacity 1,000: `a` source -> aio (i+1) -> thread, 2 workers (i*2) -> sink summing; `b` source ->
// aio (i+1) -> process, 2 workers (i*2, chunks of 256) -> aio (identity) -> sink; `python-a` / `python-b` run
// the same flows hand-written in Python (bench/peers/python/w10_pipeline.py, /usr/bin/python3) in this run, at
// the full size (`--compare` runs that script as W10's peer instead, capped at 200,000 items);
// `mem` streams 10,000,000 items through source -> aio -> thread -> sink and checks that the peak RSS over
// the base does not grow with the number of items (against a run of a tenth of them).
//
// Item latency (sink time - source time) is sampled on every 64th item: the source stamps the item's slot in
// a preallocated array before handing it on (the channel's lock orders the write before the sink's read), the
// sink recovers `i` from its value and takes the difference. One clock read per 64 items costs nothing here.

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "compare.hpp"
#include "spindle/aio/task.hpp"
#include "spindle/pipeline.hpp"
#include "spindle/process/start_method.hpp"
#include "workload.hpp"

#if defined(__SANITIZE_ADDRESS__)
#define SPINDLE_W10_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SPINDLE_W10_ASAN 1
#endif
#endif

namespace {
#ifdef SPINDLE_W10_ASAN
constexpr bool kAddressSanitizer = true;
#else
constexpr bool kAddressSanitizer = false;
#endif
}  // namespace

namespace spindle::bench {
namespace {

namespace pl = spindle::pipeline;

constexpr std::size_t kCapacity = 1000;
constexpr std::int64_t kSampleEvery = 64;

aio::Task<std::int64_t> w10_inc(std::int64_t& x) { co_return x + 1; }
aio::Task<std::int64_t> w10_identity(std::int64_t& x) { co_return x; }
std::int64_t w10_twice(std::int64_t x) { return x * 2; }

std::int64_t ns_now() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

/// The source's stamps and the sink's latencies of the sampled items (every `every`-th).
struct Samples {
  Samples(std::int64_t items, std::int64_t sample_every)
      : every(sample_every), stamps(static_cast<std::size_t>(items / sample_every + 1)) {
    latencies_ns.reserve(stamps.size());
  }
  std::int64_t every;
  std::vector<std::int64_t> stamps;
  std::vector<std::int64_t> latencies_ns;

  /// The 99th percentile in µs (0 with no sample).
  double p99_us() {
    if (latencies_ns.empty()) return 0;
    std::sort(latencies_ns.begin(), latencies_ns.end());
    const std::size_t k = std::min(latencies_ns.size() - 1, latencies_ns.size() * 99 / 100);
    return static_cast<double>(latencies_ns[k]) / 1e3;
  }
};

/// 0..items-1, stamping the sampled items' slots.
auto stamped_source(std::int64_t items, Samples& s) {
  return pl::from(
      [i = std::int64_t{0}, items, &s]() mutable -> std::optional<std::int64_t> {
        if (i == items) return std::nullopt;
        if (i % s.every == 0) s.stamps[static_cast<std::size_t>(i / s.every)] = ns_now();
        return i++;
      },
      {.capacity = kCapacity});
}

/// The sink of every variant: sums `2(i+1)` items and records the sampled ones' latencies (one sink thread).
auto summing_sink(std::int64_t& sum, Samples& s) {
  return [&sum, &s](std::int64_t& x) {
    sum += x;
    const std::int64_t i = x / 2 - 1;
    if (i % s.every == 0) s.latencies_ns.push_back(ns_now() - s.stamps[static_cast<std::size_t>(i / s.every)]);
  };
}

std::int64_t expected_sum(std::int64_t items) { return items * (items + 1); }  // sum of 2(i+1), i < items

struct Measured {
  double seconds = 0;
  double p99_us = 0;
  std::int64_t sum = 0;
  std::string table;  // the pipeline's own report (Report::str())
};

Measured run_a(std::int64_t items, std::int64_t every) {
  Samples s(items, every);
  Measured m;
  pl::Pipeline p = stamped_source(items, s)
                       .aio(w10_inc, {.concurrency = 4, .capacity = kCapacity})
                       .thread([](std::int64_t& x) { return x * 2; }, {.concurrency = 2, .capacity = kCapacity})
                       .sink(summing_sink(m.sum, s));
  const double t0 = now_s();
  m.table = p.run().str();
  m.seconds = now_s() - t0;
  m.p99_us = s.p99_us();
  return m;
}

Measured run_b(std::int64_t items) {
  Samples s(items, kSampleEvery);
  Measured m;
  pl::Pipeline p = stamped_source(items, s)
                       .aio(w10_inc, {.concurrency = 4, .capacity = kCapacity})
                       .process(&w10_twice, {.concurrency = 2, .capacity = kCapacity, .chunksize = 256})
                       .aio(w10_identity, {.concurrency = 4, .capacity = kCapacity})
                       .sink(summing_sink(m.sum, s));
  const double t0 = now_s();
  m.table = p.run().str();
  m.seconds = now_s() - t0;
  m.p99_us = s.p99_us();
  return m;
}

void report(const Options& options, const char* variant, std::int64_t items, const Measured& m) {
  if (options.text("report") == "yes") std::fprintf(stderr, "%s", m.table.c_str());
  Line("W10")
      .add("peer", "spindle-pipeline")
      .add("variant", variant)
      .add("items", items)
      .add("seconds", m.seconds)
      .add("per_s", static_cast<std::int64_t>(static_cast<double>(items) / m.seconds))
      .add("p99_us", m.p99_us, 1)
      .add("maxrss_kb", static_cast<std::int64_t>(maxrss_kb()))
      .emit(options);
}

/// A /proc/self/status field in kB (VmRSS, VmHWM), or -1.
long status_kb(const char* field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  const std::size_t n = std::strlen(field);
  while (std::getline(in, line)) {
    if (line.compare(0, n, field) == 0 && line.size() > n && line[n] == ':') return std::stol(line.substr(n + 1));
  }
  return -1;
}

/// Resets the kernel's peak-RSS mark (VmHWM) to the current RSS; false where the kernel refuses.
bool reset_peak_rss() {
  std::ofstream out("/proc/self/clear_refs");
  out << "5";
  out.flush();
  return static_cast<bool>(out);
}

/// Peak RSS over the RSS before the run, in kB, of `items` through source -> aio -> thread -> sink.
struct MemRun {
  Measured m;
  long base_kb = 0;
  long peak_over_base_kb = 0;
};
MemRun run_mem(std::int64_t items) {
  MemRun r;
  r.base_kb = status_kb("VmRSS");
  const bool reset = reset_peak_rss();
  r.m = run_a(items, 4096);  // few latency samples: their array must not be what grows
  const long peak = reset ? status_kb("VmHWM") : maxrss_kb();
  r.peak_over_base_kb = std::max(0L, peak - r.base_kb);
  return r;
}

/// Runs the Python peer for `variant` ("a" or "b") and re-emits its line (so that --json applies), with
/// `spindle_ratio` (spindle's items/s over Python's) when spindle's variant ran in this invocation. Returns
/// the exit status to report: 0, or 1 when the peer failed or printed no line.
int run_python(const Options& options, const char* variant, std::int64_t items, double spindle_per_s) {
  const char* python = "/usr/bin/python3";
  const std::string name = std::string("python-") + variant;
  if (::access(python, X_OK) != 0) {
    std::fprintf(stderr, "W10 %s: skipped: %s not found\n", name.c_str(), python);
    return 0;
  }
  const std::string script = bench_file("peers/python/w10_pipeline.py");
  if (script.empty()) {
    std::fprintf(stderr, "W10 %s: skipped: bench/peers/python/w10_pipeline.py not found\n", name.c_str());
    return 0;
  }
  const std::string cmd = std::string(python) + " '" + script + "' --uncapped --variant " + variant +
                          " --arg items=" + std::to_string(items);
  int status = 0;
  const std::string out = capture(cmd, status);
  // The peer prints `W10 peer=python variant=a items=... per_s=...`: re-emit its fields in order, the variant
  // named as this workload's (python-a), so that its line never reads as spindle's flow a.
  std::istringstream words(out);
  std::string word;
  words >> word;
  if (status != 0 || word != "W10") {
    std::fprintf(stderr, "W10 %s: the peer failed (status %d): %s\n", name.c_str(), status, out.c_str());
    return 1;
  }
  Line line("W10");
  double per_s = 0;
  while (words >> word) {
    const auto eq = word.find('=');
    if (eq == std::string::npos) continue;
    const std::string key = word.substr(0, eq), value = word.substr(eq + 1);
    if (key == "variant") {
      line.add(key, name);
    } else if (key == "peer") {
      line.add(key, value);
    } else if (value.find('.') != std::string::npos) {
      line.add(key, std::stod(value), key == "p99_us" ? 1 : 4);
    } else {
      line.add(key, static_cast<std::int64_t>(std::stoll(value)));
    }
    if (key == "per_s") per_s = std::stod(value);
  }
  if (spindle_per_s > 0 && per_s > 0) line.add("spindle_ratio", spindle_per_s / per_s, 2);
  line.emit(options);
  return 0;
}

int run_w10(const Options& options) {
  const std::int64_t items = options.count("items");
  int rc = 0;
  double a_per_s = 0, b_per_s = 0;

  if (selected(options, "a")) {
    run_a(std::min<std::int64_t>(items, 20'000), kSampleEvery);  // warm-up: threads, allocator, page faults
    const Measured m = run_a(items, kSampleEvery);
    report(options, "a", items, m);
    a_per_s = static_cast<double>(items) / m.seconds;
    if (!sum_ok("W10 a", m.sum, expected_sum(items))) rc = 1;
  }
  if (selected(options, "b")) {
    process::init();                               // the forkserver is part of the process, not of the run
    run_b(std::min<std::int64_t>(items, 20'000));  // warm-up, as the Python peer warms its pool
    const Measured m = run_b(items);
    report(options, "b", items, m);
    b_per_s = static_cast<double>(items) / m.seconds;
    if (!sum_ok("W10 b", m.sum, expected_sum(items))) rc = 1;
  }
  if (selected(options, "python-a") && run_python(options, "a", items, a_per_s) != 0) rc = 1;
  if (selected(options, "python-b") && run_python(options, "b", items, b_per_s) != 0) rc = 1;

  if (selected(options, "mem")) {
    const std::int64_t big = options.count("mem_items");
    const std::int64_t small = std::max<std::int64_t>(1, big / 10);
    run_mem(small);  // first touch of every page a run needs
    const MemRun lo = run_mem(small);
    const MemRun hi = run_mem(big);
    Line("W10")
        .add("peer", "spindle-pipeline")
        .add("variant", "mem")
        .add("items", big)
        .add("seconds", hi.m.seconds)
        .add("per_s", static_cast<std::int64_t>(static_cast<double>(big) / hi.m.seconds))
        .add("p99_us", hi.m.p99_us, 1)
        .add("maxrss_kb", static_cast<std::int64_t>(maxrss_kb()))
        .add("base_rss_kb", static_cast<std::int64_t>(hi.base_kb))
        .add("peak_over_base_kb", static_cast<std::int64_t>(hi.peak_over_base_kb))
        .add("small_items", small)
        .add("small_peak_over_base_kb", static_cast<std::int64_t>(lo.peak_over_base_kb))
        .emit(options);
    if (!sum_ok("W10 mem", hi.m.sum, expected_sum(big)) || !sum_ok("W10 mem small", lo.m.sum, expected_sum(small))) {
      rc = 1;
    }
    // Bounded channels: 10x the items must not cost more memory. 4 MiB of slack for the allocator's arenas
    // and stacks touched by a run scheduled differently; a per-item leak of even 1 byte at 10M items is 9.5 MiB.
    // Not judged under AddressSanitizer: its quarantine holds freed memory back from reuse, so RSS grows with
    // every allocation made, bounded channels or not (9 MiB at 30,000 items vs 1.2 MiB at 3,000 in CI).
    constexpr long kSlackKb = 4096;
    if (kAddressSanitizer) {
      std::fprintf(stderr, "W10 mem: growth not judged under AddressSanitizer (its quarantine keeps freed memory)\n");
    } else if (hi.peak_over_base_kb > lo.peak_over_base_kb + kSlackKb) {
      std::fprintf(stderr, "W10 mem: peak RSS grew with the items: %ld kB over base at %lld items, %ld kB at %lld\n",
                   hi.peak_over_base_kb, static_cast<long long>(big), lo.peak_over_base_kb,
                   static_cast<long long>(small));
      rc = 1;
    }
  }
  return rc;
}

const Register register_w10(
    {.id = "W10",
     .summary = "hybrid pipeline: 1M items source -> aio -> thread|process -> sink, Python peer, memory",
     .variants = {"a", "b", "python-a", "python-b", "mem"},
     .params = {{.name = "items",
                 .help = "a, b, python-*: items",
                 .value = "1000000",
                 .quick = "20000",
                 .max = 1'000'000'000},
                {.name = "mem_items",
                 .help = "mem: items (checked against a tenth of them)",
                 .value = "10000000",
                 .quick = "200000",
                 .max = 1'000'000'000},
                {.name = "report",
                 .help = "yes: print each run's pipeline report (per-stage table) on stderr",
                 .value = "no",
                 .kind = Param::Kind::choice,
                 .choices = {"no", "yes"}}},
     .run = run_w10,
     .compare = {"per_s", "p99_us"},
     .peers = {python_peer("w10_pipeline.py")},
     .compare_variants = {"a", "b"}});

}  // namespace
}  // namespace spindle::bench
