// Seed 002: "Mixed pipeline -> Hybrid: async + threads + processes; bounded queues between stages". A realistic
// hybrid run against a slow local HTTP service (a spindle::aio server on 127.0.0.1, a port the kernel picks,
// answering each GET after a delay): fetch records (aio: many requests wait at once), parse them (threads: a
// blocking parser), score them (processes: CPU-heavy), write the results back (aio sink: a POST per result).
// The pipeline prints each stage's utilisation and names the bottleneck. Beside it, the same work the naive
// way: one model for everything, a thread pool sized for the CPU work doing fetch + parse + score + write per
// record. Every record must arrive, and the service counts every result written.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <future>
#include <string>
#include <vector>

#include "common.hpp"
#include "spindle/aio/run.hpp"
#include "spindle/aio/server.hpp"
#include "spindle/aio/streams.hpp"
#include "spindle/aio/task.hpp"
#include "spindle/core/range.hpp"
#include "spindle/pipeline.hpp"
#include "spindle/thread/thread.hpp"
#include "spindle/thread/thread_pool_executor.hpp"

namespace spindle::labs {
namespace {

namespace pl = spindle::pipeline;

constexpr std::uint64_t kScoreWork = 1'500'000;  // multiply-adds per record: about 1.5 ms of CPU

// The service: `GET /record/<i>` answers `id=<i>` after `delay`; `POST /result/<i>/<score>` is counted at
// once; `GET /quit` closes the server. Runs its own event loop on its own thread.
class RecordService {
 public:
  RecordService(std::chrono::milliseconds delay, int records)
      : delay_(delay), results_(static_cast<std::size_t>(records)) {
    std::future<int> bound = port_promise_.get_future();
    thread_ = Thread([this] { aio::run(serve()); });
    thread_.start();
    port_ = bound.get();  // rethrows a failure to listen
  }
  ~RecordService() {
    request(port_, "GET /quit HTTP/1.0\r\n\r\n");
    thread_.join();
  }
  RecordService(const RecordService&) = delete;
  RecordService& operator=(const RecordService&) = delete;

  int port() const { return port_; }
  /// Results received for distinct records (after the run: the pipeline's writes are all answered).
  int distinct_results() const {
    int n = 0;
    for (const auto& r : results_) n += r.load() > 0 ? 1 : 0;
    return n;
  }
  /// Forgets the results (between the two runs).
  void reset() {
    for (auto& r : results_) r.store(0);
  }

  /// A blocking HTTP/1.0 exchange: the whole response ("" on failure).
  static std::string request(int port, const std::string& text) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return {};
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    std::string resp;
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
        ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size())) {
      char buf[256];
      ssize_t got;
      while ((got = ::read(fd, buf, sizeof buf)) > 0) resp.append(buf, static_cast<std::size_t>(got));
    }
    ::close(fd);
    return resp;
  }

 private:
  aio::Task<void> handle(aio::StreamReader reader, aio::StreamWriter writer) {
    const std::string line = co_await reader.readline();
    std::string body = "ok";
    if (line.rfind("GET /record/", 0) == 0) {
      co_await aio::sleep(delay_);  // the slow service
      body = "id=" + std::to_string(std::stol(line.substr(12)));
    } else if (line.rfind("POST /result/", 0) == 0) {
      const long id = std::stol(line.substr(13));
      if (id >= 0 && static_cast<std::size_t>(id) < results_.size()) ++results_[static_cast<std::size_t>(id)];
    } else if (line.rfind("GET /quit", 0) == 0) {
      server_->close();
    }
    writer.write("HTTP/1.0 200 OK\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body);
    co_await writer.drain();
  }
  aio::Task<void> serve() {
    // The two-step form (Server(handler) then listen): the handler is stored by a plain statement.
    aio::ConnectionHandler handler = [this](aio::StreamReader r, aio::StreamWriter w) {
      return handle(std::move(r), std::move(w));
    };
    aio::Server server(handler, {.backlog = 1024});
    server_ = &server;
    try {
      co_await server.listen("127.0.0.1", 0);
    } catch (...) {
      port_promise_.set_exception(std::current_exception());
      co_return;
    }
    port_promise_.set_value(server.port());
    co_await server.wait_closed();  // until GET /quit
  }

  std::chrono::milliseconds delay_;
  std::vector<std::atomic<int>> results_;
  aio::Server* server_ = nullptr;   // the loop thread only
  std::promise<int> port_promise_;  // the bound port, for the constructor
  int port_ = 0;
  Thread thread_;
};

// The stages. fetch and write are coroutines (aio), parse is a plain blocking function (thread), score is a
// function of this program run in worker processes.
aio::Task<std::string> fetch_record(int port, long id) {
  auto [reader, writer] = co_await aio::open_connection("127.0.0.1", port);
  writer.write("GET /record/" + std::to_string(id) + " HTTP/1.0\r\n\r\n");
  co_await writer.drain();
  std::string resp = co_await reader.read();  // until EOF: the service closes after its answer
  writer.close();
  co_await writer.wait_closed();
  co_return resp;
}
std::int64_t parse_record(const std::string& resp) {
  const auto at = resp.find("\r\n\r\nid=");
  if (resp.rfind("HTTP/1.0 200", 0) != 0 || at == std::string::npos) throw std::runtime_error("bad response");
  return std::stoll(resp.substr(at + 7));
}
// Returns id * 1000 + a score in [0, 1000): the sink can tell which record a result belongs to.
std::int64_t score_record(std::int64_t id) {
  const std::uint64_t h = cpu_task(kScoreWork + static_cast<std::uint64_t>(id % 7));
  return id * 1000 + static_cast<std::int64_t>(h % 1000);
}
aio::Task<void> write_result(int port, std::int64_t scored) {
  auto [reader, writer] = co_await aio::open_connection("127.0.0.1", port);
  writer.write("POST /result/" + std::to_string(scored / 1000) + "/" + std::to_string(scored % 1000) +
               " HTTP/1.0\r\n\r\n");
  co_await writer.drain();
  const std::string resp = co_await reader.read();
  writer.close();
  co_await writer.wait_closed();
  if (resp.rfind("HTTP/1.0 200", 0) != 0) throw std::runtime_error("write refused");
}

lab::Result run_hybrid_pipeline(const lab::Options& o) {
  const int records = o.quick ? 120 : 400;
  const auto delay = 20ms;
  const std::size_t cpu_workers = static_cast<std::size_t>(std::max(2, cores()));
  RecordService service(delay, records);
  const int port = service.port();
  lab::Result r;

  // Hybrid: each stage on its model, bounded channels between them.
  std::atomic<int> written{0};
  pl::Pipeline p =
      pl::from(spindle::range(records))
          .aio([port](long& id) { return fetch_record(port, id); }, {.concurrency = 32, .name = "fetch (aio)"})
          .thread([](std::string& resp) { return parse_record(resp); }, {.concurrency = 2, .name = "parse (threads)"})
          .process(&score_record, {.concurrency = cpu_workers, .name = "score (processes)", .chunksize = 4})
          .sink(
              [port, &written](std::int64_t& s) {
                ++written;
                return write_result(port, s);
              },
              {.concurrency = 16, .name = "write (aio)"});
  pl::Report report;
  const double hybrid_s = timed([&] { report = p.run(); });
  const int hybrid_results = service.distinct_results();
  service.reset();

  // Naive: one thread pool, sized for the CPU work, doing everything for a record in one task.
  std::atomic<int> naive_ok{0};
  const double naive_s = timed([&] {
    ThreadPoolExecutor pool(cpu_workers);
    std::vector<Future<void>> fs;
    for (int id = 0; id < records; ++id) {
      fs.push_back(pool.submit([port, id, &naive_ok] {
        const std::string resp =
            RecordService::request(port, "GET /record/" + std::to_string(id) + " HTTP/1.0\r\n\r\n");
        const std::int64_t scored = score_record(parse_record(resp));
        const std::string ack = RecordService::request(port, "POST /result/" + std::to_string(scored / 1000) + "/" +
                                                                 std::to_string(scored % 1000) + " HTTP/1.0\r\n\r\n");
        if (ack.rfind("HTTP/1.0 200", 0) == 0) ++naive_ok;
      }));
    }
    for (auto& f : fs) f.result();
  });
  const int naive_results = service.distinct_results();

  // The ideal: the slowest stage alone (the CPU work spread over the workers, or the fetches 32 at a time).
  const double cpu_s =
      static_cast<double>(records) * static_cast<double>(kScoreWork) * 1e-9 / static_cast<double>(cpu_workers);
  const double io_s = std::ceil(records / 32.0) * std::chrono::duration<double>(delay).count();
  const std::string workers = std::to_string(cpu_workers);
  r.rows.push_back({"hybrid pipeline: all records", hybrid_s, lab::kNone, std::max(cpu_s, io_s), "s",
                    "aio x32 -> threads x2 -> processes x" + workers + " -> aio x16"});
  r.rows.push_back({"naive: one thread pool of " + workers, naive_s, lab::kNone, lab::kNone, "s",
                    "fetch + parse + score + write per task"});
  bool named = false;
  lab::Chart busy;
  busy.title = "per-stage utilisation: the bottleneck is the stage that stays busy";
  busy.unit = "% busy";
  for (const auto& s : report.stages) {
    busy.bars.emplace_back(s.name, 100.0 * s.busy);
    r.rows.push_back({"busy: " + s.name, 100.0 * s.busy, lab::kNone, lab::kNone, "%",
                      s.name == report.bottleneck ? "the bottleneck" : ""});
    named = named || s.name == report.bottleneck;
  }
  r.notes.emplace_back("the pipeline's own report:");
  std::string table = report.str();
  for (std::size_t at = 0; at < table.size();) {
    const auto nl = table.find('\n', at);
    r.notes.push_back(table.substr(at, nl == std::string::npos ? std::string::npos : nl - at));
    at = nl == std::string::npos ? table.size() : nl + 1;
  }
  r.chart.title = "the same " + std::to_string(records) + " records: hybrid pipeline vs one thread pool (s)";
  r.chart.unit = "s";
  r.chart.bars = {{"hybrid pipeline", hybrid_s}, {"naive thread pool", naive_s}};
  r.more_charts.push_back(std::move(busy));
  r.facts = {{"records", records},
             {"hybrid_s", hybrid_s},
             {"naive_s", naive_s},
             {"hybrid_done", static_cast<double>(report.items_done())},
             {"hybrid_written", written.load()},
             {"hybrid_results", hybrid_results},
             {"hybrid_completed", report.state == pl::State::completed ? 1 : 0},
             {"naive_ok", naive_ok.load()},
             {"naive_results", naive_results},
             {"stages", static_cast<double>(report.stages.size())},
             {"bottleneck_named", named ? 1 : 0}};
  r.lesson =
      "one model for everything sizes one pool for two different limits; a pipeline gives the waiting work "
      "many cheap coroutines, the CPU work one process per core, and names the stage that sets the pace";
  return r;
}

const lab::Register register_hybrid_pipeline(
    {"002-hybrid-pipeline", "002", "Hybrid pipeline: fetch (aio) -> parse (threads) -> score (processes) -> write",
     run_hybrid_pipeline});

}  // namespace
}  // namespace spindle::labs
