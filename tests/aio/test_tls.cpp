// TLS streams: echo over TLS (client and server), what the client learns (version, peer, ALPN), certificate
// failures that name their reason (wrong hostname, unknown CA), handshake timeouts on both sides, a plain-text
// client that costs only its own connection, readline limits and drain backpressure over TLS, STARTTLS, client
// certificates, close_notify, and the misuse errors. The certificates are made by the test (tls_pki.hpp).
// SPINDLE_TEST_ON_EACH_BACKEND: tests/CMakeLists.txt runs these on epoll and again on io_uring ("uring." names).

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <system_error>

#include "aio_echo.hpp"
#include "census.hpp"
#include "spindle/aio/errors.hpp"
#include "spindle/aio/gather.hpp"
#include "spindle/aio/locks.hpp"
#include "spindle/aio/run.hpp"
#include "spindle/aio/server.hpp"
#include "spindle/aio/ssl.hpp"
#include "spindle/aio/streams.hpp"
#include "spindle/aio/timeout.hpp"
#include "tls_pki.hpp"

namespace aio = spindle::aio;
using namespace std::chrono_literals;
using spindle::test::TestPki;

namespace {

using TlsTest = spindle::test::LeakCheckedTest;

aio::SslContext server_context() {
  aio::SslContext ctx(aio::SslProtocol::TLS_SERVER);
  ctx.load_cert_chain(TestPki::get().server_cert, TestPki::get().server_key);
  return ctx;
}

aio::SslContext client_context() {
  return aio::create_default_context(aio::Purpose::SERVER_AUTH, TestPki::get().ca_cert);
}

// Configured once and shared by the tests, as a program shares its contexts.
const aio::SslContext& shared_server_context() {
  static const aio::SslContext ctx = server_context();
  return ctx;
}

const aio::SslContext& shared_client_context() {
  static const aio::SslContext ctx = client_context();
  return ctx;
}

using spindle::test::echo_lines;

aio::Task<void> echo_over_tls() {
  aio::SslContext sctx = server_context();
  sctx.set_alpn_protocols({"h2", "echo/1"});
  aio::Server server = co_await aio::start_server(echo_lines, "127.0.0.1", 0, {.limit = 1 << 20, .ssl = &sctx});
  aio::SslContext cctx = client_context();
  cctx.set_alpn_protocols({"echo/1"});
  auto [r, w] = co_await aio::open_connection("127.0.0.1", server.port(),
                                              {.limit = 1 << 20, .ssl = &cctx, .server_hostname = "localhost"});
  w.write("hello\n");
  w.writelines({"wor", "ld\n"});
  co_await w.drain();
  EXPECT_EQ(co_await r.readline(), "hello\n");
  EXPECT_EQ(co_await r.readline(), "world\n");
  const std::string big(300 * 1024, 'x');  // many records, both ways
  w.write(big + "\n");
  const std::string echoed = co_await r.readline();
  EXPECT_EQ(echoed.size(), big.size() + 1);
  EXPECT_TRUE(echoed == big + "\n");
  const auto info = w.ssl_info();
  EXPECT_TRUE(info.has_value());
  if (info) {
    EXPECT_EQ(info->version, "TLSv1.3");
    EXPECT_FALSE(info->cipher.empty());
    EXPECT_EQ(info->peer_subject, "CN=localhost");
    EXPECT_EQ(info->alpn_protocol, "echo/1");
  }
  EXPECT_TRUE(w.get_extra_info("peername").has_value());
  w.close();
  co_await w.wait_closed();
  EXPECT_EQ(server.tls_handshake_failures(), 0U);
  server.close();
  co_await server.wait_closed();
}

TEST_F(TlsTest, EchoOverTls) { aio::run(echo_over_tls()); }

aio::Task<void> ip_address_and_tls12() {
  aio::SslContext sctx = server_context();
  sctx.set_maximum_version(aio::TLSVersion::TLSv1_2);
  aio::Server server = co_await aio::start_server(echo_lines, "127.0.0.1", 0, {.ssl = &sctx});
  // No server_hostname: the certificate's IP address entry is checked against 127.0.0.1.
  auto [r, w] = co_await aio::open_connection("127.0.0.1", server.port(), {.ssl = &shared_client_context()});
  w.write("v12\n");
  EXPECT_EQ(co_await r.readline(), "v12\n");
  EXPECT_EQ(w.ssl_info()->version, "TLSv1.2");
  w.close();
  co_await w.wait_closed();
  server.close();
  co_await server.wait_closed();
}

TEST_F(TlsTest, AnIpAddressIsCheckedAgainstTheCertificateAndTls12Works) { aio::run(ip_address_and_tls12()); }

aio::Task<aio::SslError> connect_expecting_ssl_error(aio::SslContext cctx, std::string server_hostname) {
  aio::Server server = co_await aio::start_server(echo_lines, "127.0.0.1", 0, {.ssl = &shared_server_context()});
  aio::SslError caught("NONE", "no error");
  bool failed = false;
  try {
    auto pair =
        co_await aio::open_connection("127.0.0.1", server.port(), {.ssl = &cctx, .server_hostname = server_hostname});
    (void)pair;
  } catch (const aio::SslError& e) {
    caught = e;
    failed = true;
  }
  EXPECT_TRUE(failed);
  server.close();
  co_await server.wait_closed();
  co_return caught;
}

TEST_F(TlsTest, AWrongHostnameFailsNamingTheReason) {
  const aio::SslError e = aio::run(connect_expecting_ssl_error(client_context(), "example.com"));
  EXPECT_EQ(e.reason(), "CERTIFICATE_VERIFY_FAILED");
  EXPECT_EQ(e.verify_message(), "hostname mismatch");
  EXPECT_NE(std::string(e.what()).find("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: hostname mismatch"),
            std::string::npos)
      << e.what();
}

TEST_F(TlsTest, AnUnknownCaFailsNamingTheReason) {
  const aio::SslError e = aio::run(connect_expecting_ssl_error(
      aio::create_default_context(aio::Purpose::SERVER_AUTH, TestPki::get().other_ca_cert), "localhost"));
  EXPECT_EQ(e.reason(), "CERTIFICATE_VERIFY_FAILED");
  EXPECT_EQ(e.verify_message(), "unable to get local issuer certificate") << e.what();
  // The system store does not know the test CA either.
  const aio::SslError sys = aio::run(connect_expecting_ssl_error(aio::create_default_context(), "localhost"));
  EXPECT_EQ(sys.reason(), "CERTIFICATE_VERIFY_FAILED");
}

aio::Task<void> never_answers(aio::StreamReader r, aio::StreamWriter) {
  std::string all = co_await r.read();  // until the client gives up
  (void)all;
}

aio::Task<void> client_handshake_timeout() {
  aio::Server plain = co_await aio::start_server(never_answers, "127.0.0.1", 0);
  bool timed_out = false;
  try {
    auto pair = co_await aio::open_connection(
        "127.0.0.1", plain.port(),
        {.ssl = &shared_client_context(), .server_hostname = "localhost", .ssl_handshake_timeout = 50ms});
    (void)pair;
  } catch (const spindle::TimeoutError& e) {
    timed_out = true;
    EXPECT_NE(std::string(e.what()).find("SSL handshake is taking longer than 0.05 seconds"), std::string::npos)
        << e.what();
  }
  EXPECT_TRUE(timed_out);
  plain.close();
  co_await plain.wait_closed();  // the server's read saw the aborted connection: nothing was left open
}

TEST_F(TlsTest, AServerThatStallsTheHandshakeIsCutAtTheTimeout) { aio::run(client_handshake_timeout()); }

aio::Task<void> server_handshake_timeout() {
  aio::Server server = co_await aio::start_server(echo_lines, "127.0.0.1", 0,
                                                  {.ssl = &shared_server_context(), .ssl_handshake_timeout = 50ms});
  auto [r, w] = co_await aio::open_connection("127.0.0.1", server.port());  // plain, and silent
  std::string got;
  try {
    got = co_await r.read();
  } catch (const std::system_error&) {  // a reset is as good as EOF here
  }
  EXPECT_EQ(got, "");
  EXPECT_EQ(server.tls_handshake_failures(), 1U);
  w.close();
  server.close();
  co_await server.wait_closed();
}

TEST_F(TlsTest, AClientThatStallsTheHandshakeIsCutAtTheTimeout) { aio::run(server_handshake_timeout()); }

aio::Task<void> plain_client_rejected() {
  aio::Server server = co_await aio::start_server(echo_lines, "127.0.0.1", 0, {.ssl = &shared_server_context()});
  auto [tr, tw] = co_await aio::open_connection("127.0.0.1", server.port(),
                                                {.ssl = &shared_client_context(), .server_hostname = "localhost"});
  tw.write("before\n");
  EXPECT_EQ(co_await tr.readline(), "before\n");
  {
    auto [pr, pw] = co_await aio::open_connection("127.0.0.1", server.port());
    pw.write("GET / HTTP/1.0\r\n\r\n");
    std::string got;
    try {
      got = co_await pr.read();
    } catch (const std::system_error&) {
    }
    EXPECT_EQ(got.find("HTTP"), std::string::npos);  // nothing plain comes back
    pw.close();
  }
  EXPECT_EQ(server.tls_handshake_failures(), 1U);
  tw.write("after\n");  // the TLS connection did not notice
  EXPECT_EQ(co_await tr.readline(), "after\n");
  tw.close();
  co_await tw.wait_closed();
  server.close();
  co_await server.wait_closed();
}

TEST_F(TlsTest, APlainTextClientIsRejectedWithoutAffectingOthers) { aio::run(plain_client_rejected()); }

aio::Task<void> long_then_short(aio::StreamReader r, aio::StreamWriter w) {
  w.write(std::string(200, 'a') + "\nok\n");
  co_await w.drain();
  std::string rest = co_await r.read();  // until the client closes
  (void)rest;
}

aio::Task<void> readline_limit_over_tls() {
  aio::Server server = co_await aio::start_server(long_then_short, "127.0.0.1", 0, {.ssl = &shared_server_context()});
  auto [r, w] = co_await aio::open_connection(
      "127.0.0.1", server.port(), {.limit = 64, .ssl = &shared_client_context(), .server_hostname = "localhost"});
  bool overran = false;
  try {
    std::string line = co_await r.readline();
    (void)line;
  } catch (const spindle::LimitOverrunError&) {
    overran = true;
  }
  EXPECT_TRUE(overran);
  EXPECT_EQ(co_await r.readline(), "ok\n");  // the stream stays usable, as on plain streams
  w.close();
  co_await w.wait_closed();
  server.close();
  co_await server.wait_closed();
}

TEST_F(TlsTest, ReadlineLimitsBehaveAsOnPlainStreams) { aio::run(readline_limit_over_tls()); }

struct SlowReader {
  aio::Event go;
  std::size_t received = 0;
  aio::Task<void> operator()(aio::StreamReader r, aio::StreamWriter) {
    co_await go.wait();  // reads nothing until the writer has felt the backpressure
    for (;;) {
      std::string chunk = co_await r.read(1 << 20);
      if (chunk.empty()) break;
      received += chunk.size();
    }
  }
};

aio::Task<void> drain_over_tls() {
  SlowReader sink;
  auto handler = [&sink](aio::StreamReader r, aio::StreamWriter w) { return sink(std::move(r), std::move(w)); };
  aio::Server server = co_await aio::start_server(handler, "127.0.0.1", 0, {.ssl = &shared_server_context()});
  auto [r, w] = co_await aio::open_connection("127.0.0.1", server.port(),
                                              {.ssl = &shared_client_context(), .server_hostname = "localhost"});
  const std::string chunk(64 * 1024, 'z');
  std::size_t sent = 0;
  // Write without draining until the kernel refuses (the peer reads nothing): bytes then wait in our buffer.
  for (int i = 0; i < 400 && w.write_buffer_size() <= 64U * 1024U; ++i) {
    w.write(chunk);
    sent += chunk.size();
  }
  EXPECT_GT(w.write_buffer_size(), 64U * 1024U) << "kernel buffers absorbed " << sent << " bytes";
  sink.go.set();
  co_await w.drain();  // returns once the peer's reading brought the buffer down to the mark
  EXPECT_LE(w.write_buffer_size(), 64U * 1024U);
  w.close();  // close_notify after the data: the server's read then ends
  co_await w.wait_closed();
  server.close();
  co_await server.wait_closed();
  EXPECT_EQ(sink.received, sent);
}

TEST_F(TlsTest, DrainAppliesBackpressureAsOnPlainStreams) { aio::run(drain_over_tls()); }

aio::Task<void> starttls_server(aio::StreamReader r, aio::StreamWriter w) {
  EXPECT_EQ(co_await r.readline(), "STARTTLS\n");
  w.write("OK\n");
  co_await w.drain();
  co_await w.start_tls(server_context());
  std::string line = co_await r.readline();
  w.write("secure " + line);
  co_await w.drain();
}

aio::Task<void> starttls() {
  aio::Server server = co_await aio::start_server(starttls_server, "127.0.0.1", 0);
  auto [r, w] = co_await aio::open_connection("127.0.0.1", server.port());
  w.write("STARTTLS\n");
  EXPECT_EQ(co_await r.readline(), "OK\n");
  EXPECT_FALSE(w.ssl_info().has_value());
  co_await w.start_tls(client_context(), {.server_hostname = "localhost"});
  EXPECT_TRUE(w.ssl_info().has_value());
  w.write("hello\n");
  EXPECT_EQ(co_await r.readline(), "secure hello\n");
  bool refused = false;
  try {
    co_await w.start_tls(client_context(), {.server_hostname = "localhost"});
  } catch (const spindle::InvalidStateError&) {
    refused = true;  // already TLS
  }
  EXPECT_TRUE(refused);
  w.close();
  co_await w.wait_closed();
  server.close();
  co_await server.wait_closed();
}

TEST_F(TlsTest, StartTlsUpgradesAPlainConnection) { aio::run(starttls()); }

aio::Task<void> says_bye(aio::StreamReader, aio::StreamWriter w) {
  w.write("bye\n");
  co_return;  // the server closes the writer: close_notify follows the data
}

aio::Task<void> close_notify_and_write_eof() {
  aio::Server server = co_await aio::start_server(says_bye, "127.0.0.1", 0, {.ssl = &shared_server_context()});
  auto [r, w] = co_await aio::open_connection("127.0.0.1", server.port(),
                                              {.ssl = &shared_client_context(), .server_hostname = "localhost"});
  EXPECT_EQ(co_await r.read(), "bye\n");  // read() to EOF: the data, then a clean end
  EXPECT_TRUE(r.at_eof());
  EXPECT_THROW(w.write_eof(), spindle::InvalidStateError);  // TLS has no half-close (asyncio: NotImplementedError)
  w.close();
  co_await w.wait_closed();
  server.close();
  co_await server.wait_closed();
}

TEST_F(TlsTest, CloseSendsCloseNotifyAndWriteEofIsRefused) { aio::run(close_notify_and_write_eof()); }

aio::Task<void> floods(aio::StreamReader, aio::StreamWriter w) {
  w.write(std::string(32 << 20, 'f'));  // far more than the socket buffers take while the client reads nothing
  co_return;                            // the server closes: close_notify waits behind the data
}

aio::Task<void> shutdown_timeout() {
  aio::Server server = co_await aio::start_server(floods, "127.0.0.1", 0,
                                                  {.ssl = &shared_server_context(), .ssl_shutdown_timeout = 100ms});
  auto [r, w] = co_await aio::open_connection("127.0.0.1", server.port(),
                                              {.ssl = &shared_client_context(), .server_hostname = "localhost"});
  server.close();
  // The flush can never finish (the client does not read): the shutdown timeout cuts the connection, so the
  // server's wait for its connections ends. Without it, this would wait as long as the client stays.
  co_await server.wait_closed();
  EXPECT_EQ(server.active_connections(), 0U);
  w.close();
  co_await w.wait_closed();
}

TEST_F(TlsTest, AShutdownThatCannotFlushIsCutAtTheShutdownTimeout) { aio::run(shutdown_timeout()); }

aio::Task<void> client_certificates() {
  aio::SslContext sctx = server_context();
  sctx.set_verify_mode(aio::VerifyMode::CERT_REQUIRED);
  sctx.load_verify_locations(TestPki::get().ca_cert);
  std::string seen_subject;
  auto handler = [&seen_subject](aio::StreamReader r, aio::StreamWriter w) -> aio::Task<void> {
    seen_subject = w.ssl_info()->peer_subject;
    return echo_lines(std::move(r), std::move(w));
  };
  aio::Server server = co_await aio::start_server(handler, "127.0.0.1", 0, {.ssl = &sctx});
  // Without a certificate: refused (in TLS 1.3 the client learns it on its first read).
  {
    bool refused = false;
    try {
      auto [r, w] = co_await aio::open_connection("127.0.0.1", server.port(),
                                                  {.ssl = &shared_client_context(), .server_hostname = "localhost"});
      w.write("x\n");
      const std::string got = co_await r.readline();
      refused = got.empty();
    } catch (const aio::SslError& e) {
      refused = true;
      EXPECT_NE(std::string(e.what()).find("certificate required"), std::string::npos) << e.what();
    } catch (const std::system_error&) {
      refused = true;
    }
    EXPECT_TRUE(refused);
  }
  // With one (the server's own certificate will do as a client's: it carries no usage restriction).
  aio::SslContext cctx = client_context();
  cctx.load_cert_chain(TestPki::get().server_cert, TestPki::get().server_key);
  auto [r, w] =
      co_await aio::open_connection("127.0.0.1", server.port(), {.ssl = &cctx, .server_hostname = "localhost"});
  w.write("me\n");
  EXPECT_EQ(co_await r.readline(), "me\n");
  EXPECT_EQ(seen_subject, "CN=localhost");
  EXPECT_EQ(server.tls_handshake_failures(), 1U);  // the connection without a certificate
  w.close();
  co_await w.wait_closed();
  server.close();
  co_await server.wait_closed();
}

TEST_F(TlsTest, ClientCertificatesAreRequiredWhenAsked) { aio::run(client_certificates()); }

aio::Task<void> misuse() {
  aio::Server plain = co_await aio::start_server(echo_lines, "127.0.0.1", 0);
  bool refused = false;
  try {
    auto pair = co_await aio::open_connection("127.0.0.1", plain.port(), {.ssl = &shared_server_context()});
    (void)pair;
  } catch (const std::invalid_argument&) {
    refused = true;
  }
  EXPECT_TRUE(refused);
  refused = false;
  try {
    aio::Server s = co_await aio::start_server(echo_lines, "127.0.0.1", 0, {.ssl = &shared_client_context()});
    (void)s;
  } catch (const std::invalid_argument&) {
    refused = true;
  }
  EXPECT_TRUE(refused);
  plain.close();
  co_await plain.wait_closed();
}

TEST_F(TlsTest, AContextOfTheWrongSideIsAClearError) { aio::run(misuse()); }

TEST_F(TlsTest, ContextSettingsFailClearly) {
  aio::SslContext server(aio::SslProtocol::TLS_SERVER);
  EXPECT_THROW(server.load_cert_chain("/nonexistent/cert.pem"), std::system_error);
  // A key that is not the certificate's.
  EXPECT_THROW(server.load_cert_chain(TestPki::get().ca_cert, TestPki::get().server_key), aio::SslError);
  EXPECT_THROW(server.set_ciphers("NO-SUCH-CIPHER"), aio::SslError);
  aio::SslContext client(aio::SslProtocol::TLS_CLIENT);
  EXPECT_TRUE(client.check_hostname());
  EXPECT_EQ(client.verify_mode(), aio::VerifyMode::CERT_REQUIRED);
  EXPECT_THROW(client.set_verify_mode(aio::VerifyMode::CERT_NONE), std::invalid_argument);  // as Python
  client.set_check_hostname(false);
  client.set_verify_mode(aio::VerifyMode::CERT_NONE);
  EXPECT_EQ(client.verify_mode(), aio::VerifyMode::CERT_NONE);
  EXPECT_THROW(client.load_verify_data("not a certificate"), aio::SslError);
  EXPECT_THROW(client.set_alpn_protocols({""}), std::invalid_argument);
  EXPECT_FALSE(client.is_server());
  EXPECT_TRUE(server.is_server());
}

aio::Task<void> unverified_client() {
  aio::Server server = co_await aio::start_server(echo_lines, "127.0.0.1", 0, {.ssl = &shared_server_context()});
  aio::SslContext cctx(aio::SslProtocol::TLS_CLIENT);  // Python: check_hostname = False; verify_mode = CERT_NONE
  cctx.set_check_hostname(false);
  cctx.set_verify_mode(aio::VerifyMode::CERT_NONE);
  auto [r, w] = co_await aio::open_connection("127.0.0.1", server.port(), {.ssl = &cctx});
  w.write("trusting\n");
  EXPECT_EQ(co_await r.readline(), "trusting\n");
  w.close();
  co_await w.wait_closed();
  server.close();
  co_await server.wait_closed();
}

TEST_F(TlsTest, VerificationCanBeTurnedOffExplicitly) { aio::run(unverified_client()); }

}  // namespace
