// A TLS echo server and its clients on one event loop. The example makes its own self-signed certificate with
// the `openssl` command (run as an asyncio-style subprocess), serves TLS on a free port of 127.0.0.1, and three
// clients that trust exactly that certificate connect, check the server's name, and echo a line each.
//
// Python equivalent:
//   server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); server_ctx.load_cert_chain("cert.pem", "key.pem")
//   server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=server_ctx)
//   client_ctx = ssl.create_default_context(cafile="cert.pem")
//   reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=client_ctx,
//                                                  server_hostname="localhost")

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "spindle/aio/gather.hpp"
#include "spindle/aio/run.hpp"
#include "spindle/aio/server.hpp"
#include "spindle/aio/ssl.hpp"
#include "spindle/aio/streams.hpp"
#include "spindle/aio/subprocess.hpp"

namespace aio = spindle::aio;

namespace {

aio::Task<void> handle(aio::StreamReader reader, aio::StreamWriter writer) {
  for (;;) {
    std::string line = co_await reader.readline();
    if (line.empty()) break;  // the client closed (its close_notify arrived)
    writer.write(line);
    co_await writer.drain();
  }
}

aio::Task<bool> client(int port, const aio::SslContext& trust, int id) {
  auto [reader, writer] =
      co_await aio::open_connection("127.0.0.1", port, {.ssl = &trust, .server_hostname = "localhost"});
  const std::string msg = "secret " + std::to_string(id) + "\n";
  writer.write(msg);
  const std::string back = co_await reader.readline();
  const auto info = writer.ssl_info();
  std::printf("client %d: %s over %s (%s), server is %s\n", id, back == msg ? "echoed" : "MISMATCH",
              info->version.c_str(), info->cipher.c_str(), info->peer_subject.c_str());
  writer.close();
  co_await writer.wait_closed();
  co_return back == msg;
}

/// A one-day self-signed certificate for localhost / 127.0.0.1 (what `openssl req -x509` makes).
aio::Task<int> make_certificate(std::string cert, std::string key) {
  aio::Process openssl = co_await aio::create_subprocess_exec(
      "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1",
      "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", key, "-out", cert,
      aio::SubprocessOptions{.stderr_ = aio::Redirect::devnull});
  co_return co_await openssl.wait();
}

aio::Task<int> main_task() {
  char dir_template[] = "/tmp/spindle-tls-example-XXXXXX";
  if (::mkdtemp(dir_template) == nullptr) co_return 1;
  const std::string dir = dir_template;
  const std::string cert = dir + "/cert.pem";
  const std::string key = dir + "/key.pem";
  const int made = co_await make_certificate(cert, key);
  if (made != 0) {
    std::printf("openssl req failed (%d): is the openssl command installed?\n", made);
    co_return 1;
  }

  aio::SslContext server_ctx(aio::SslProtocol::TLS_SERVER);  // ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
  server_ctx.load_cert_chain(cert, key);
  aio::ConnectionHandler handler = handle;
  aio::Server server = co_await aio::start_server(std::move(handler), "127.0.0.1", 0, {.ssl = &server_ctx});
  std::printf("serving TLS on %s\n", server.sockets().front().to_string().c_str());

  // ssl.create_default_context(cafile=cert): verify the server, check its name, trust only this certificate.
  const aio::SslContext trust = aio::create_default_context(aio::Purpose::SERVER_AUTH, cert);
  std::vector<aio::Task<bool>> clients;
  for (int id = 0; id < 3; ++id) clients.push_back(client(server.port(), trust, id));
  const std::vector<bool> ok = co_await aio::gather(std::move(clients));
  server.close();
  co_await server.wait_closed();
  ::unlink(cert.c_str());
  ::unlink(key.c_str());
  ::rmdir(dir.c_str());
  int good = 0;
  for (bool b : ok) good += b ? 1 : 0;
  std::printf("%d of 3 clients echoed over TLS\n", good);
  co_return good == 3 ? 0 : 1;
}

}  // namespace

int main() { return aio::run(main_task()); }
