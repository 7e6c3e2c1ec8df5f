// The GIL's convoy effect: an I/O thread's latency alone, next to a CPU thread under the GIL, and next to a
// native (free-threaded) CPU thread. Each I/O operation releases the GIL while it waits; taking it back means
// waiting for the CPU thread's next switch interval (5 ms).

#include <atomic>
#include <thread>

#include "common.hpp"
#include "spindle/lab/gil.hpp"

namespace spindle::labs {
namespace {

enum class Neighbour { none, gil_cpu, native_cpu };

// Mean seconds per I/O operation of `ops` operations (a 0.5 ms blocking wait, then a little bytecode).
double io_latency(int ops, Neighbour neighbour) {
  lab::Gil gil;
  std::atomic<bool> stop{false};
  std::thread cpu;
  if (neighbour != Neighbour::none) {
    cpu = std::thread([&] {
      std::uint64_t total = 0;
      if (neighbour == Neighbour::gil_cpu) {
        lab::Gil::Held held(gil);
        for (std::uint64_t j = 0; !stop.load(std::memory_order_relaxed); ++j) {
          total += j * j;
          asm volatile("" : "+r"(total));
          if ((j & 1023) == 0) gil.tick();
        }
      } else {
        for (std::uint64_t j = 0; !stop.load(std::memory_order_relaxed); ++j) {
          total += j * j;
          asm volatile("" : "+r"(total));
        }
      }
    });
  }
  double elapsed = 0;
  {
    lab::Gil::Held held(gil);
    elapsed = timed([&] {
      for (int i = 0; i < ops; ++i) {
        {
          lab::Gil::Released released(gil);  // a blocking read: the GIL is dropped around it
          std::this_thread::sleep_for(500us);
        }
        gil.tick();
      }
    });
  }
  stop = true;
  if (cpu.joinable()) cpu.join();
  return elapsed / ops;
}

lab::Result run_convoy(const lab::Options& o) {
  const int ops = o.quick ? 40 : 200;
  const double alone = io_latency(ops, Neighbour::none);
  const double gil = io_latency(ops, Neighbour::gil_cpu);
  const double native = io_latency(ops, Neighbour::native_cpu);
  lab::Result r;
  r.rows.push_back({"I/O thread alone", alone * 1e3, lab::kNone, 0.5, "ms/op", ""});
  r.rows.push_back({"next to a CPU thread, GIL", gil * 1e3, lab::kNone, 0.5 + 5.0, "ms/op",
                    "ideal under a GIL: wait + one 5 ms switch interval"});
  r.rows.push_back({"next to a CPU thread, native", native * 1e3, lab::kNone, 0.5, "ms/op", ""});
  r.facts = {{"alone_ms", alone * 1e3}, {"gil_ms", gil * 1e3}, {"native_ms", native * 1e3}};
  r.lesson =
      "the convoy effect: under a GIL every wake-up of an I/O thread queues behind a CPU thread's 5 ms "
      "interval; free threading keeps the I/O thread's latency";
  return r;
}

const lab::Register register_convoy({"002-convoy", "002", "The GIL's convoy effect: I/O latency next to a CPU thread",
                                     run_convoy});

}  // namespace
}  // namespace spindle::labs
