// W8 (docs/bench.md): process pool payload. 50 tasks, each handed a 10 MiB buffer (the bytes 0..255 repeated)
// and returning the sum of its little-endian uint64 words; pool of 2; variants `copy` (through the codec)
// and `shared` (a SharedArray passed by handle: the descriptor travels, the bytes do not).

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <vector>

#include "spindle/process/process_pool_executor.hpp"
#include "spindle/process/shared_array.hpp"
#include "workload.hpp"

namespace spindle::bench {
namespace {

std::uint64_t sum_words(const unsigned char* p, std::size_t bytes) {
  std::uint64_t s = 0;
  for (std::size_t i = 0; i + 8 <= bytes; i += 8) {
    std::uint64_t w;
    std::memcpy(&w, p + i, 8);
    s += w;
  }
  return s;
}

std::uint64_t w8_sum_copy(std::vector<unsigned char> buf) { return sum_words(buf.data(), buf.size()); }
std::uint64_t w8_sum_shared(process::SharedArray<unsigned char> buf) { return sum_words(buf.data(), buf.size()); }

void report(const Options& options, const char* variant, std::int64_t tasks, std::size_t bytes, double seconds) {
  const double mib = static_cast<double>(tasks) * static_cast<double>(bytes) / (1024.0 * 1024.0);
  Line("W8")
      .add("peer", "spindle-ppe")
      .add("variant", variant)
      .add("tasks", tasks)
      .add("seconds", seconds)
      .add("MiB_per_s", mib / seconds, 1)
      .emit(options);
}

int run_w8(const Options& options) {
  const std::int64_t tasks = options.count("tasks");
  const std::size_t bytes_per_task = static_cast<std::size_t>(options.count("mib")) << 20;
  process::init();
  process::ProcessPoolExecutor pool(2);
  std::vector<unsigned char> bytes(bytes_per_task);
  for (std::size_t i = 0; i < bytes_per_task; ++i) bytes[i] = static_cast<unsigned char>(i & 0xff);
  const std::uint64_t one = sum_words(bytes.data(), bytes_per_task);
  const std::uint64_t want = one * static_cast<std::uint64_t>(tasks);  // what every run must sum to
  int rc = 0;

  if (selected(options, "copy")) {
    pool.submit<&w8_sum_copy>(bytes).result();  // warm-up
    std::vector<Future<std::uint64_t>> fs;
    const double t0 = now_s();
    for (std::int64_t t = 0; t < tasks; ++t) fs.push_back(pool.submit<&w8_sum_copy>(bytes));
    std::uint64_t sum = 0;
    for (auto& f : fs) sum += f.result();
    report(options, "copy", tasks, bytes_per_task, now_s() - t0);
    if (!sum_ok("W8 copy", static_cast<long long>(sum), static_cast<long long>(want))) rc = 1;
  }
  if (selected(options, "shared")) {
    // The buffer lives in shared memory once; every task gets a handle to it.
    process::SharedArray<unsigned char> shared(bytes_per_task);
    std::memcpy(shared.data(), bytes.data(), bytes_per_task);
    pool.submit<&w8_sum_shared>(shared).result();  // warm-up
    std::vector<Future<std::uint64_t>> fs;
    const double t0 = now_s();
    for (std::int64_t t = 0; t < tasks; ++t) fs.push_back(pool.submit<&w8_sum_shared>(shared));
    std::uint64_t sum = 0;
    for (auto& f : fs) sum += f.result();
    report(options, "shared", tasks, bytes_per_task, now_s() - t0);
    if (!sum_ok("W8 shared", static_cast<long long>(sum), static_cast<long long>(want))) rc = 1;
  }
  return rc;
}

const Register register_w8(
    {.id = "W8",
     .summary = "process pool payload: 50 tasks x 10 MiB, copy vs shared memory, 2 processes",
     .variants = {"copy", "shared"},
     .params =
         {{.name = "tasks", .help = "tasks, each handed the buffer", .value = "50", .quick = "6", .max = 1'000'000},
          {.name = "mib", .help = "buffer size in MiB", .value = "10", .max = 4096}},
     .run = run_w8,
     .compare = {"MiB_per_s"},
     .peers = {python_peer("w8_process_pool_payload.py")}});

}  // namespace
}  // namespace spindle::bench
