// Every lab demo runs with --quick and its result has the expected SHAPE (async beats serial on I/O, GIL
// threads do not beat serial on CPU, the bounded queue's backlog stays at its bound, ...). Never exact
// timings: comparisons carry generous margins, because this machine is shared.

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "census.hpp"
#include "spindle/lab/demo.hpp"
#include "spindle/process/start_method.hpp"

namespace {

// The process model's forkserver (and its descriptors) must exist before the first test's census, as
// `spindle lab` starts it before any demo.
class ForkserverFirst : public ::testing::Environment {
 public:
  void SetUp() override { spindle::process::init(); }
};
const ::testing::Environment* const forkserver_env = ::testing::AddGlobalTestEnvironment(new ForkserverFirst);

using spindle::lab::Result;

class Demos : public spindle::test::LeakCheckedTest {
 protected:
  Result run(const std::string& name) {
    const auto* demo = spindle::lab::find_demo(name);
    if (demo == nullptr) {
      ADD_FAILURE() << "no demo named " << name;
      return {};
    }
    spindle::lab::Options options;
    options.quick = true;
    options.terminal = false;
    options.out = sink_;
    Result r = demo->run(options);
    // Whatever the figures, the three renderings must hold them.
    EXPECT_FALSE(r.rows.empty());
    EXPECT_FALSE(r.lesson.empty());
    const std::string text = spindle::lab::render_text(*demo, r);
    EXPECT_NE(text.find(name), std::string::npos);
    const std::string json = spindle::lab::render_json(*demo, r, 0.0);
    EXPECT_EQ(json.front(), '{');
    EXPECT_NE(json.find("\"facts\""), std::string::npos);
    const std::string html = spindle::lab::render_html({{demo, r}}, "test");
    EXPECT_NE(html.find("<svg"), std::string::npos) << "every demo gets a chart";
    EXPECT_EQ(html.find("http://"), html.find("http://www.w3.org/2000/svg")) << "no network references";
    return r;
  }
  double fact(const Result& r, const std::string& key) {
    const auto it = r.facts.find(key);
    EXPECT_NE(it, r.facts.end()) << "missing fact " << key;
    return it == r.facts.end() ? NAN : it->second;
  }
  void TearDown() override {
    std::fclose(sink_);
    LeakCheckedTest::TearDown();
  }

 private:
  std::FILE* sink_ = std::fopen("/dev/null", "we");
};

TEST_F(Demos, RegistryHoldsEveryDemo) {
  for (const char* name : {"000-io-cpu", "001-spinners", "002-io-wait", "002-cpu-bound", "002-blocking-loop",
                           "002-backpressure", "002-thread-overhead", "002-batch-vs-streaming", "002-hybrid-pipeline",
                           "002-convoy", "003-shared-progress", "003-dashboard", "003-fetch", "003-futures",
                           "003-process-speedup", "004-context-switches", "004-creation-cost", "004-memory"}) {
    EXPECT_NE(spindle::lab::find_demo(name), nullptr) << name;
  }
}

TEST_F(Demos, Seed000IoOverlapsCpuDoesNotUnderAGil) {
  const auto r = run("000-io-cpu");
  // Waits overlap: with threads, processes and async, several of the four waits were in progress at once
  // (all four on a quiet machine). Counted from each wait's start and end, not from wall times, which a
  // loaded machine stretches (4 threaded 50 ms waits took 104 ms under TSan at load 9).
  EXPECT_GE(fact(r, "io_threads_overlap"), 2);
  EXPECT_GE(fact(r, "io_async_overlap"), 2);
  EXPECT_GE(fact(r, "io_procs_overlap"), 2) << "4 waiting processes overlap too";
  // Four tasks under one GIL take turns on one core. Measured within the one run (its CPU time over its wall
  // time), not against the serial run's time: a machine whose speed changes between two runs (a busy sibling
  // hyperthread, a neighbour VM) made the cross-run comparison fail (GIL 0.110 s vs 0.8 x serial 0.118 s).
  // Why 1.5 and not 1: see CpuBoundGilThreadsDoNotBeatSerial.
  EXPECT_LT(fact(r, "cpu_gil_cores_used"), 1.5);
  EXPECT_GT(fact(r, "cpu_procs_s"), 0);  // the sums were checked inside the demo
}

TEST_F(Demos, Seed001SpinnersAnswerAndTheBlockedLoopIsNamed) {
  const auto r = run("001-spinners");
  EXPECT_EQ(fact(r, "thread_answer"), 42);
  EXPECT_EQ(fact(r, "coro_answer"), 42);
  EXPECT_EQ(fact(r, "process_answer"), 42);
  EXPECT_GE(fact(r, "process_frames"), 2) << "the spinner process animates while the parent waits";
  EXPECT_EQ(fact(r, "blocked_answer"), 42);
  EXPECT_GE(fact(r, "thread_frames"), 2);
  EXPECT_GE(fact(r, "coro_frames"), 2);
  EXPECT_LE(fact(r, "blocked_frames"), 1) << "a blocking sleep must freeze the spinner";
  EXPECT_GE(fact(r, "debug_reports"), 1);
  EXPECT_EQ(fact(r, "debug_names_slow"), 1) << "debug mode names the task that blocks";
}

TEST_F(Demos, IoWaitThreadsAndAsyncBeatSerial) {
  const auto r = run("002-io-wait");
  EXPECT_LT(fact(r, "threads_s"), fact(r, "serial_s") / 4);
  EXPECT_LT(fact(r, "async_s"), fact(r, "serial_s") / 4);
}

TEST_F(Demos, CpuBoundGilThreadsDoNotBeatSerial) {
  const auto r = run("002-cpu-bound");
  // GIL threads do not beat serial: together they use about one core. (Their wall time against the serial
  // run's CPU time compared two runs on a machine whose speed can change between them, and failed once in
  // seven suite runs: 0.110 vs 0.118 s.) Above one core is the waiters' own cost: each wakes every switch
  // interval to ask for the lock, as in CPython's take_gil, and a sanitizer makes those wake-ups dear (under
  // TSan on a 2-vCPU VM: 1.00-1.24 alone, up to 1.16 beside other tests, 1.30 once in CI); 1.5 still tells
  // one core from two, and the chart below checks the exclusion itself.
  EXPECT_LT(fact(r, "gil_cores_used"), 1.5);
  EXPECT_GT(fact(r, "gil_switches"), 0);
  EXPECT_GT(fact(r, "processes_s"), 0);
  // The state chart: a lane per thread; at no moment do two threads both run (hold the GIL).
  ASSERT_EQ(r.more_charts.size(), 1u);
  const auto& lanes = r.more_charts[0].lanes;
  // A lane per pool thread that ran a task (a thread may run two while another is still starting).
  EXPECT_GE(lanes.size(), 2u);
  EXPECT_LE(lanes.size(), 8u);
  std::vector<std::pair<double, double>> running;
  for (const auto& lane : lanes) {
    bool ran = false, waited = false;
    for (const auto& seg : lane.segments) {
      EXPECT_LE(seg.start, seg.end) << lane.name;
      ran = ran || seg.state == 0;
      waited = waited || seg.state == 1;
      if (seg.state == 0) running.emplace_back(seg.start, seg.end);
    }
    EXPECT_TRUE(ran) << lane.name;
    EXPECT_TRUE(waited) << lane.name << " never waited for the GIL";
  }
  std::sort(running.begin(), running.end());
  for (std::size_t i = 1; i < running.size(); ++i) {
    // Each span's end is observed before the lock is free and the next start after it is taken: no overlap.
    EXPECT_GE(running[i].first, running[i - 1].second) << "two threads ran at once under the GIL";
  }
}

TEST_F(Demos, BlockingTheLoopSerialisesIt) {
  const auto r = run("002-blocking-loop");
  EXPECT_GE(fact(r, "blocking_s"), 0.9 * fact(r, "tasks") * fact(r, "wait_s"));
  EXPECT_LT(fact(r, "await_s"), fact(r, "blocking_s") / 5);
}

TEST_F(Demos, BackpressureKeepsTheBacklogAtItsBound) {
  const auto r = run("002-backpressure");
  EXPECT_LE(fact(r, "bounded_peak"), fact(r, "bound"));
  EXPECT_GT(fact(r, "unbounded_peak"), fact(r, "bound"));
  // The backlog over time: each line rises and drains to zero; the bounded one never passes its bound.
  ASSERT_EQ(r.chart.lines.size(), 2u);
  for (const auto& line : r.chart.lines) {
    ASSERT_FALSE(line.points.empty()) << line.name;
    EXPECT_EQ(line.points.back().second, 0) << line.name << " ends with its backlog drained";
    for (std::size_t i = 1; i < line.points.size(); ++i) EXPECT_LE(line.points[i - 1].first, line.points[i].first);
  }
  double bounded_max = 0;
  for (const auto& [t, depth] : r.chart.lines[1].points) bounded_max = std::max(bounded_max, depth);
  EXPECT_LE(bounded_max, fact(r, "bound"));
  // Latency is printed, not compared: the two runs' latencies are times from two runs, and under load the
  // bounded run's producer/consumer hand-offs slow its consumer more than the unbounded one's (measured at
  // load 7: bounded p99 1,100 ms vs unbounded 340 ms in 11 of 25 runs). The backlog counts above carry the
  // lesson whatever the machine's speed.
  EXPECT_GT(fact(r, "bounded_p99_ms"), 0);
}

TEST_F(Demos, ThreadOverheadSpeedsUpThenHasAChart) {
  const auto r = run("002-thread-overhead");
  EXPECT_GT(fact(r, "speedup_8"), 2.0) << "8 threads overlap mostly-waiting tasks";
  // Speed-up against threads, with the ideal as a dashed line beside it.
  ASSERT_EQ(r.chart.lines.size(), 2u);
  EXPECT_GE(r.chart.lines[0].points.size(), 5u);
  EXPECT_EQ(r.chart.lines[1].points.size(), r.chart.lines[0].points.size());
  EXPECT_TRUE(r.chart.lines[1].dashed);
  EXPECT_TRUE(r.chart.log_x);
}

TEST_F(Demos, StreamingAnswersFirstAndHoldsLess) {
  const auto r = run("002-batch-vs-streaming");
  EXPECT_LT(fact(r, "stream_first_s"), fact(r, "batch_first_s"));
  EXPECT_LT(fact(r, "stream_peak"), fact(r, "batch_peak"));
  EXPECT_LE(fact(r, "stream_peak"), 16);
  EXPECT_EQ(fact(r, "stream_done"), fact(r, "items")) << "the pipeline's sink saw every item";
}

// Structure and results only: every record fetched, scored and written back (the service counts them), in
// both runs; the pipeline's report has its five stages and names one of them as the bottleneck. The two
// times are printed by the demo, never compared here (a loaded machine can reorder them).
TEST_F(Demos, HybridPipelineDeliversEveryRecordAndNamesItsBottleneck) {
  const auto r = run("002-hybrid-pipeline");
  const double records = fact(r, "records");
  EXPECT_GT(records, 0);
  EXPECT_EQ(fact(r, "hybrid_completed"), 1);
  EXPECT_EQ(fact(r, "hybrid_done"), records);
  EXPECT_EQ(fact(r, "hybrid_written"), records);
  EXPECT_EQ(fact(r, "hybrid_results"), records) << "the service received a result for every record";
  EXPECT_EQ(fact(r, "naive_ok"), records);
  EXPECT_EQ(fact(r, "naive_results"), records);
  EXPECT_EQ(fact(r, "stages"), 5) << "source, fetch, parse, score, write";
  EXPECT_EQ(fact(r, "bottleneck_named"), 1);
  EXPECT_GT(fact(r, "hybrid_s"), 0);
  EXPECT_GT(fact(r, "naive_s"), 0);
  EXPECT_EQ(r.chart.bars.size(), 2u);
  ASSERT_EQ(r.more_charts.size(), 1u) << "per-stage utilisation";
  EXPECT_EQ(r.more_charts[0].bars.size(), 5u);
}

TEST_F(Demos, ConvoyEffectUnderTheGil) {
  const auto r = run("002-convoy");
  EXPECT_GT(fact(r, "gil_ms"), 2 * fact(r, "alone_ms"));
  EXPECT_GT(fact(r, "gil_ms"), fact(r, "native_ms"));
}

TEST_F(Demos, SharedProgressUnderALockIsExact) {
  const auto r = run("003-shared-progress");
  EXPECT_EQ(fact(r, "progress"), 10);
  EXPECT_EQ(fact(r, "progress_in_order"), 1);
  EXPECT_EQ(fact(r, "locked"), fact(r, "expected"));
  EXPECT_LE(fact(r, "racy"), fact(r, "expected"));
}

TEST_F(Demos, DashboardTakesTheSlowestNotTheSum) {
  const auto r = run("003-dashboard");
  EXPECT_EQ(fact(r, "results"), 3);
  EXPECT_LT(fact(r, "async_s"), 0.9 * fact(r, "sum_s"));
  EXPECT_LT(fact(r, "threads_s"), 0.9 * fact(r, "sum_s"));
}

TEST_F(Demos, FetchFromALocalServerOverlapsRequests) {
  const auto r = run("003-fetch");
  EXPECT_EQ(fact(r, "ok_20"), fact(r, "urls"));
  EXPECT_EQ(fact(r, "ok_all"), fact(r, "urls"));
  EXPECT_GE(fact(r, "ok_serial"), 1);
  EXPECT_LT(fact(r, "threads20_s"), fact(r, "serial_per_url_s") * fact(r, "urls") / 4);
  EXPECT_LT(fact(r, "threads_all_s"), fact(r, "threads20_s"));
  EXPECT_EQ(fact(r, "ok_async"), fact(r, "urls"));
  EXPECT_LT(fact(r, "async_s"), fact(r, "threads20_s")) << "async beats 20 threads on 100 slow requests";
}

TEST_F(Demos, FuturesAnswerAndCompleteInOrderOfFinish) {
  const auto r = run("003-futures");
  EXPECT_EQ(fact(r, "answered"), 2);
  // as_completed yields the wait that finished first (20 ms on a quiet machine; on a loaded one, whichever
  // its thread let finish first: the demo notes each wait's finish time).
  EXPECT_EQ(fact(r, "first_completed_finished_first"), 1) << "first yielded: " << fact(r, "first_completed_ms");
}

TEST_F(Demos, ProcessSpeedupGilThreadsDoNotHelp) {
  const auto r = run("003-process-speedup");
  // Measured within the GIL run itself (see CpuBoundGilThreadsDoNotBeatSerial for why not against serial, and
  // why 1.5).
  EXPECT_LT(fact(r, "gil_cores_used"), 1.5);
}

TEST_F(Demos, IoThreadsSwitchVoluntarily) {
  const auto r = run("004-context-switches");
  EXPECT_GT(fact(r, "io_voluntary"), 10);
  EXPECT_GT(fact(r, "io_voluntary"), fact(r, "cpu_voluntary"));
}

TEST_F(Demos, CreationCostOrder) {
  const auto r = run("004-creation-cost");
  EXPECT_LT(fact(r, "task_us"), fact(r, "process_us"));
  // Intrinsic costs (fastest of many): means on a loaded 2-core machine are dominated by waiting for a core.
  EXPECT_LT(fact(r, "thread_min_us"), fact(r, "process_min_us"));
  EXPECT_GT(fact(r, "spindle_process_us"), 0);
}

TEST_F(Demos, ThreadsShareMemoryProcessesDoNot) {
  const auto r = run("004-memory");
  EXPECT_EQ(fact(r, "after_thread"), 1000);
  EXPECT_EQ(fact(r, "child_saw"), 2000);
  EXPECT_EQ(fact(r, "after_process"), 1000);
}

}  // namespace
