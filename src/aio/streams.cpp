// StreamReader/StreamWriter (the coroutine API over a StreamTransport) and open_connection.

#include "spindle/aio/streams.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "spindle/aio/detail/io_wait.hpp"
#include "spindle/aio/detail/wait_list.hpp"
#include "spindle/aio/event_loop.hpp"
#include "spindle/aio/sock.hpp"
#include "spindle/aio/timeout.hpp"
#include "stream_transport.hpp"

namespace spindle::aio {

// ---------------- StreamReader ----------------

namespace {
void check(const std::shared_ptr<detail::StreamTransport>& t) {
  if (!t) throw InvalidStateError("empty stream");
}
}  // namespace

Task<std::string> StreamReader::read(std::ptrdiff_t n) {
  check(t_);
  auto t = t_;  // the frame keeps the transport alive
  if (n == 0) co_return std::string();
  if (n < 0) {
    while (!t->eof()) co_await t->wait_data();
    if (t->avail() == 0) t->rethrow_read_error();
    co_return t->take(t->avail());
  }
  while (t->avail() == 0 && !t->eof()) co_await t->wait_data();
  if (t->avail() == 0) t->rethrow_read_error();
  co_return t->take(std::min(t->avail(), static_cast<std::size_t>(n)));
}

Task<std::string> StreamReader::readuntil(std::string separator) {
  check(t_);
  if (separator.empty()) throw std::invalid_argument("readuntil: empty separator");
  auto t = t_;
  std::size_t searched = 0;  // where the next search starts (no rescanning of old data)
  for (;;) {
    const std::string_view d = t->data();
    const std::size_t at = d.find(separator, searched);
    if (at != std::string_view::npos) {
      const std::size_t end = at + separator.size();
      if (end > t->limit()) throw LimitOverrunError("Separator is found, but chunk is longer than limit", at);
      co_return t->take(end);
    }
    if (d.size() > t->limit()) throw LimitOverrunError("Separator is not found, and chunk exceed the limit", d.size());
    if (t->eof()) {
      if (d.empty()) t->rethrow_read_error();
      std::string partial = t->take(d.size());
      throw IncompleteReadError(std::move(partial), 0);
    }
    searched = d.size() + 1 > separator.size() ? d.size() + 1 - separator.size() : 0;
    co_await t->wait_data();
  }
}

Task<std::string> StreamReader::readline() {
  check(t_);
  auto t = t_;
  // The awaited task is a named local: g++ 12 mishandles temporaries with destructors in a co_await expression.
  Task<std::string> line = readuntil("\n");
  try {
    co_return co_await std::move(line);
  } catch (const IncompleteReadError& e) {
    co_return e.partial();
  } catch (const LimitOverrunError& e) {
    // asyncio's policy: drop the offending line (through the newline if it is here, else what is buffered).
    const std::string_view d = t->data();
    if (d.substr(e.consumed(), 1) == "\n") {
      t->consume(e.consumed() + 1);
    } else {
      t->consume(d.size());
    }
    throw;
  }
}

Task<std::string> StreamReader::readexactly(std::size_t n) {
  check(t_);
  auto t = t_;
  while (t->avail() < n && !t->eof()) co_await t->wait_data();
  if (t->avail() < n) {
    if (t->avail() == 0) t->rethrow_read_error();
    throw IncompleteReadError(t->take(t->avail()), n);
  }
  co_return t->take(n);
}

bool StreamReader::at_eof() const noexcept { return t_ == nullptr || t_->at_eof(); }
std::size_t StreamReader::limit() const noexcept { return t_ ? t_->limit() : kDefaultStreamLimit; }
std::size_t StreamReader::buffered() const noexcept { return t_ ? t_->avail() : 0; }

// ---------------- StreamWriter ----------------

void StreamWriter::write(std::string_view data) {
  check(t_);
  t_->write(data);
}

void StreamWriter::writelines(const std::vector<std::string>& pieces) {
  for (const auto& p : pieces) write(p);
}

void StreamWriter::write_eof() {
  check(t_);
  t_->write_eof();
}

Task<void> StreamWriter::drain() {
  check(t_);
  auto t = t_;
  if (t->write_error()) std::rethrow_exception(t->write_error());
  while (t->pending() > t->high() && t->fd() >= 0) co_await detail::ListWait(t->drainers());
  if (t->write_error()) std::rethrow_exception(t->write_error());
}

void StreamWriter::close() {
  if (t_) t_->close();
}

bool StreamWriter::is_closing() const noexcept { return !t_ || t_->closing() || t_->fd() < 0; }

Task<void> StreamWriter::wait_closed() {
  check(t_);
  auto t = t_;
  while (t->fd() >= 0) co_await detail::ListWait(t->closers());
}

std::size_t StreamWriter::write_buffer_size() const noexcept { return t_ ? t_->pending() : 0; }

void StreamWriter::set_write_buffer_limits(std::size_t high, std::optional<std::size_t> low) {
  check(t_);
  t_->set_limits(high, low);
}

std::optional<SockAddr> StreamWriter::get_extra_info(std::string_view name) const {
  if (!t_) return std::nullopt;
  if (name == "peername") return t_->name(true);
  if (name == "sockname") return t_->name(false);
  return std::nullopt;
}

int StreamWriter::fileno() const noexcept { return t_ ? t_->fd() : -1; }

Task<void> StreamWriter::start_tls(SslContext context, StartTlsOptions options) {
  check(t_);  // not a coroutine: the hostname view is copied now
  return detail::start_tls(t_, std::move(context), std::string(options.server_hostname), options.ssl_handshake_timeout,
                           options.ssl_shutdown_timeout);
}

std::optional<SslInfo> StreamWriter::ssl_info() const { return t_ ? t_->ssl_info() : std::nullopt; }

// ---------------- open_connection ----------------

namespace detail {
namespace {

StreamPair make_pair(int fd, std::size_t limit) {
  auto t = make_stream_transport(fd, true, true, true, limit);
  return StreamPair{StreamReader(t), StreamWriter(t)};
}

/// What open_connection's TLS options name, copied by the call (the options only point at them).
struct TlsRequest {
  std::optional<SslContext> context;
  std::string hostname;
};

TlsRequest tls_request(const ConnectOptions& o, std::string_view host) {
  TlsRequest r;
  if (o.ssl == nullptr) return r;
  if (o.ssl->is_server()) throw std::invalid_argument("open_connection: ssl is a server context (TLS_SERVER)");
  r.context = *o.ssl;
  r.hostname = std::string(o.server_hostname.empty() ? host : o.server_hostname);
  return r;
}

/// The TLS handshake of a fresh client connection (open_connection with ssl).
Task<StreamPair> secure(StreamPair plain, const ConnectOptions& o, TlsRequest tls) {
  Task<void> handshake = start_tls(plain.writer.transport(), std::move(*tls.context), std::move(tls.hostname),
                                   o.ssl_handshake_timeout, o.ssl_shutdown_timeout);
  co_await std::move(handshake);
  co_return plain;
}

/// One address after another (Python's default, and what a name with one address needs).
Task<int> sequential_connect(std::vector<SockAddr> addresses) {
  std::exception_ptr last;
  for (const SockAddr& a : addresses) {
    FdGuard g(make_socket(a.family(), SOCK_STREAM));
    bool ok = true;
    try {
      co_await sock_connect(g.get(), a);
    } catch (const CancelledError&) {
      throw;
    } catch (...) {
      last = std::current_exception();
      ok = false;
    }
    if (ok) co_return g.release();
  }
  if (last) std::rethrow_exception(last);
  throw GaiError(0, "no address to connect to");
}

Task<StreamPair> connect_tcp(std::string host, int port, ConnectOptions o, TlsRequest tls) {
  const std::vector<AddrInfo> infos = co_await getaddrinfo(host, port, SOCK_STREAM, false);
  std::vector<SockAddr> addresses;
  for (const AddrInfo& ai : infos) addresses.push_back(ai.addr);
  if (addresses.empty()) throw GaiError(0, "open_connection: no address for " + host);
  const bool staggered = o.happy_eyeballs_delay > std::chrono::nanoseconds::zero() && addresses.size() > 1;
  const int interleave = o.interleave >= 0 ? o.interleave : (staggered ? 1 : 0);
  addresses = interleave_families(std::move(addresses), static_cast<std::size_t>(interleave));
  Task<int> connecting = staggered ? staggered_connect(std::move(addresses), o.happy_eyeballs_delay)
                                   : sequential_connect(std::move(addresses));
  FdGuard g(co_await std::move(connecting));
  if (o.nodelay) {
    const int one = 1;
    ::setsockopt(g.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  StreamPair pair = make_pair(g.release(), o.limit);
  if (!tls.context) co_return pair;
  Task<StreamPair> secured = secure(std::move(pair), o, std::move(tls));
  co_return co_await std::move(secured);
}

Task<StreamPair> connect_unix(std::string path, ConnectOptions o, TlsRequest tls) {
  const SockAddr addr = SockAddr::unix_path(path);
  FdGuard g(make_socket(AF_UNIX, SOCK_STREAM));
  co_await sock_connect(g.get(), addr);
  StreamPair pair = make_pair(g.release(), o.limit);
  if (!tls.context) co_return pair;
  Task<StreamPair> secured = secure(std::move(pair), o, std::move(tls));
  co_return co_await std::move(secured);
}

}  // namespace
}  // namespace detail

// Not coroutines: what the options point to (the TLS context, the hostname) is copied by the call itself.
Task<StreamPair> open_connection(std::string host, int port, ConnectOptions options) {
  detail::TlsRequest tls = detail::tls_request(options, host);
  Task<StreamPair> connect = detail::connect_tcp(std::move(host), port, options, std::move(tls));
  if (options.timeout > std::chrono::nanoseconds::zero()) return wait_for(std::move(connect), options.timeout);
  return connect;
}

Task<StreamPair> open_unix_connection(std::string path, ConnectOptions options) {
  if (options.ssl != nullptr && options.server_hostname.empty() && options.ssl->check_hostname())
    throw std::invalid_argument("open_unix_connection with ssl: give server_hostname (or turn check_hostname off)");
  detail::TlsRequest tls = detail::tls_request(options, "");
  Task<StreamPair> connect = detail::connect_unix(std::move(path), options, std::move(tls));
  if (options.timeout > std::chrono::nanoseconds::zero()) return wait_for(std::move(connect), options.timeout);
  return connect;
}

}  // namespace spindle::aio
