// Protocol/Transport connections (asyncio's create_connection/create_server with a protocol factory): the
// callback order, echo both ways, eof_received keeping a half-open connection, pause/resume of writing and
// reading (flow control), TLS underneath, a protocol callback that throws, a factory that returns nothing.
// SPINDLE_TEST_ON_EACH_BACKEND: tests/CMakeLists.txt runs these on epoll and again on io_uring ("uring." names).

#include <gtest/gtest.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "census.hpp"
#include "spindle/aio/locks.hpp"
#include "spindle/aio/protocols.hpp"
#include "spindle/aio/run.hpp"
#include "spindle/aio/ssl.hpp"
#include "tls_pki.hpp"

namespace aio = spindle::aio;

namespace {

using Protocols = spindle::test::LeakCheckedTest;

/// What a test observes of one side: the callbacks in order, the bytes, and events to wait on.
struct Log {
  std::vector<std::string> calls;
  std::string received;
  std::size_t expect = 0;
  aio::Event got_all;
  aio::Event lost;
  std::exception_ptr lost_with;
};

class Recorder : public aio::Protocol {
 public:
  explicit Recorder(std::shared_ptr<Log> log) : log_(std::move(log)) {}
  void connection_made(aio::Transport& t) override {
    transport_ = t;
    log_->calls.push_back("made");
  }
  void data_received(std::string_view data) override {
    if (log_->calls.back() != "data") log_->calls.push_back("data");
    log_->received.append(data);
    if (log_->received.size() >= log_->expect) log_->got_all.set();
  }
  bool eof_received() override {
    log_->calls.push_back("eof");
    return false;
  }
  void connection_lost(std::exception_ptr e) override {
    log_->calls.push_back("lost");
    log_->lost_with = e;
    log_->lost.set();
    transport_ = aio::Transport();
  }
  aio::Transport transport_;

 protected:
  std::shared_ptr<Log> log_;
};

class Echo : public Recorder {
 public:
  using Recorder::Recorder;
  void data_received(std::string_view data) override {
    Recorder::data_received(data);
    transport_.write(data);
  }
};

aio::Task<void> echo_both_ways() {
  auto server_log = std::make_shared<Log>();
  // Factories are named before the co_await: g++ 12 would destroy a capturing temporary twice (PR c++/100611).
  auto echo = [server_log] { return std::make_shared<Echo>(server_log); };
  aio::Server server = co_await aio::create_server(echo, "127.0.0.1", 0);
  auto client_log = std::make_shared<Log>();
  client_log->expect = 11;
  auto recorder = [client_log] { return std::make_shared<Recorder>(client_log); };
  auto [transport, protocol] = co_await aio::create_connection(recorder, "127.0.0.1", server.port());
  static_assert(std::is_same_v<decltype(protocol), std::shared_ptr<Recorder>>);  // the factory's own type
  EXPECT_TRUE(transport.get_extra_info("peername").has_value());
  EXPECT_TRUE(transport.can_write_eof());
  transport.write("hello ");
  transport.write("world");
  co_await client_log->got_all.wait();
  EXPECT_EQ(client_log->received, "hello world");
  transport.close();
  co_await client_log->lost.wait();
  co_await server_log->lost.wait();
  EXPECT_EQ(client_log->calls, (std::vector<std::string>{"made", "data", "lost"}));
  EXPECT_EQ(server_log->calls, (std::vector<std::string>{"made", "data", "eof", "lost"}));
  EXPECT_FALSE(client_log->lost_with);
  EXPECT_FALSE(server_log->lost_with);
  EXPECT_TRUE(transport.is_closing());
  server.close();
  co_await server.wait_closed();
}

TEST_F(Protocols, EchoBothWaysWithTheCallbacksInAsyncioOrder) { aio::run(echo_both_ways()); }

/// Keeps its side open after the peer's EOF, answers, then closes.
class HalfOpen : public Recorder {
 public:
  using Recorder::Recorder;
  bool eof_received() override {
    Recorder::eof_received();
    transport_.write("bye after " + log_->received);
    transport_.close();
    return true;
  }
};

aio::Task<void> half_open() {
  auto server_log = std::make_shared<Log>();
  auto half_open = [server_log] { return std::make_shared<HalfOpen>(server_log); };
  aio::Server server = co_await aio::create_server(half_open, "127.0.0.1", 0);
  auto client_log = std::make_shared<Log>();
  client_log->expect = std::string("bye after hi").size();
  auto recorder = [client_log] { return std::make_shared<Recorder>(client_log); };
  auto [transport, protocol] = co_await aio::create_connection(recorder, "127.0.0.1", server.port());
  transport.write("hi");
  transport.write_eof();
  co_await client_log->got_all.wait();
  EXPECT_EQ(client_log->received, "bye after hi");
  co_await client_log->lost.wait();
  co_await server_log->lost.wait();
  server.close();
  co_await server.wait_closed();
}

TEST_F(Protocols, EofReceivedReturningTrueKeepsTheConnectionHalfOpen) { aio::run(half_open()); }

/// A server side that reads nothing until told.
class Stalled : public Recorder {
 public:
  using Recorder::Recorder;
  void connection_made(aio::Transport& t) override {
    Recorder::connection_made(t);
    t.pause_reading();
    EXPECT_FALSE(t.is_reading());
  }
};

/// A producer that writes until pause_writing, counts, and waits for resume_writing.
class Producer : public Recorder {
 public:
  using Recorder::Recorder;
  void pause_writing() override {
    ++pauses;
    paused.set();
  }
  void resume_writing() override {
    ++resumes;
    resumed.set();
  }
  int pauses = 0;
  int resumes = 0;
  aio::Event paused;
  aio::Event resumed;
};

aio::Task<void> flow_control() {
  auto server_log = std::make_shared<Log>();
  std::shared_ptr<Stalled> server_side;
  auto stalled = [server_log, &server_side] {
    server_side = std::make_shared<Stalled>(server_log);
    return server_side;
  };
  aio::Server server = co_await aio::create_server(stalled, "127.0.0.1", 0);
  auto client_log = std::make_shared<Log>();
  auto producing = [client_log] { return std::make_shared<Producer>(client_log); };
  auto [transport, producer] = co_await aio::create_connection(producing, "127.0.0.1", server.port());
  const std::string chunk(64 * 1024, 'p');
  std::size_t written = 0;
  while (producer->pauses == 0 && written < (256U << 20)) {  // until the buffer crosses the high-water mark
    transport.write(chunk);
    written += chunk.size();
  }
  EXPECT_EQ(producer->pauses, 1);
  EXPECT_GT(transport.get_write_buffer_size(), 64U * 1024U);
  server_log->expect = written;
  server_side->transport_.resume_reading();  // the server reads again: the buffer drains, writing resumes
  co_await producer->resumed.wait();
  EXPECT_EQ(producer->resumes, 1);
  co_await server_log->got_all.wait();
  EXPECT_EQ(server_log->received.size(), written);
  transport.close();
  co_await server_log->lost.wait();
  co_await client_log->lost.wait();
  server.close();
  co_await server.wait_closed();
}

TEST_F(Protocols, PauseAndResumeWritingAndReadingGiveFlowControl) { aio::run(flow_control()); }

aio::Task<void> over_tls() {
  const auto& pki = spindle::test::TestPki::get();
  aio::SslContext server_ctx(aio::SslProtocol::TLS_SERVER);
  server_ctx.load_cert_chain(pki.server_cert, pki.server_key);
  const aio::SslContext client_ctx = aio::create_default_context(aio::Purpose::SERVER_AUTH, pki.ca_cert);
  auto server_log = std::make_shared<Log>();
  auto echo = [server_log] { return std::make_shared<Echo>(server_log); };
  aio::Server server = co_await aio::create_server(echo, "127.0.0.1", 0, {.ssl = &server_ctx});
  auto client_log = std::make_shared<Log>();
  client_log->expect = 6;
  auto recorder = [client_log] { return std::make_shared<Recorder>(client_log); };
  auto [transport, protocol] = co_await aio::create_connection(recorder, "127.0.0.1", server.port(),
                                                               {.ssl = &client_ctx, .server_hostname = "localhost"});
  EXPECT_FALSE(transport.can_write_eof());
  EXPECT_TRUE(transport.ssl_info().has_value());
  transport.write("secret");
  co_await client_log->got_all.wait();
  EXPECT_EQ(client_log->received, "secret");
  transport.close();  // close_notify: the server's protocol sees EOF, then the loss
  co_await server_log->lost.wait();
  co_await client_log->lost.wait();
  EXPECT_EQ(server_log->calls, (std::vector<std::string>{"made", "data", "eof", "lost"}));
  server.close();
  co_await server.wait_closed();
}

TEST_F(Protocols, ProtocolsOverTls) { aio::run(over_tls()); }

class Throws : public Recorder {
 public:
  using Recorder::Recorder;
  void data_received(std::string_view) override { throw std::runtime_error("bad input"); }
};

aio::Task<void> throwing_callback() {
  auto& loop = aio::EventLoop::get_running_loop();
  std::string reported;
  loop.set_exception_handler([&reported](aio::EventLoop&, const aio::ExceptionContext& c) { reported = c.message; });
  auto server_log = std::make_shared<Log>();
  auto throwing = [server_log] { return std::make_shared<Throws>(server_log); };
  aio::Server server = co_await aio::create_server(throwing, "127.0.0.1", 0);
  auto client_log = std::make_shared<Log>();
  auto recorder = [client_log] { return std::make_shared<Recorder>(client_log); };
  auto [transport, protocol] = co_await aio::create_connection(recorder, "127.0.0.1", server.port());
  transport.write("boom");
  co_await server_log->lost.wait();
  EXPECT_TRUE(server_log->lost_with);  // connection_lost got the callback's error
  co_await client_log->lost.wait();    // and the peer saw the connection close
  EXPECT_NE(reported.find("protocol callback raised"), std::string::npos) << reported;
  server.close();
  co_await server.wait_closed();
}

TEST_F(Protocols, ACallbackThatThrowsClosesOnlyItsConnection) { aio::run(throwing_callback()); }

aio::Task<void> null_factory() {
  auto recorder = [] { return std::make_shared<Recorder>(std::make_shared<Log>()); };  // captures nothing
  aio::Server server = co_await aio::create_server(recorder, "127.0.0.1", 0);
  bool refused = false;
  try {
    auto pair = co_await aio::create_connection([] { return std::shared_ptr<Recorder>(); }, "127.0.0.1", server.port());
    (void)pair;
  } catch (const std::invalid_argument&) {
    refused = true;
  }
  EXPECT_TRUE(refused);
  server.close();
  co_await server.wait_closed();
}

TEST_F(Protocols, AFactoryThatReturnsNothingIsAClearError) { aio::run(null_factory()); }

}  // namespace
