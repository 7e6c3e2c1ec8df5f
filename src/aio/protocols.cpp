// Protocol mode of the stream transport (data to callbacks instead of a read buffer), Transport, and
// create_connection / create_server over the streams' connect and accept paths.

#include "spindle/aio/protocols.hpp"

#include <stdexcept>

#include "spindle/aio/detail/io_wait.hpp"
#include "stream_transport.hpp"

namespace spindle::aio {
namespace detail {

// ---------------- StreamTransport, protocol mode ----------------

void StreamTransport::begin_protocol(std::shared_ptr<Protocol> protocol) {
  if (!protocol) throw std::invalid_argument("the protocol factory returned no protocol");
  if (proto_) throw InvalidStateError("this connection already has a protocol");
  proto_ = std::move(protocol);
  self_ = shared_from_this();  // the connection lives until it closes, whoever holds the Transport
  Transport transport(shared_from_this());
  call_protocol([&] { proto_->connection_made(transport); });
  if (fd_ < 0) return;  // connection_made closed it
  deliver();            // what arrived with the handshake, or before the protocol was attached
  if (eof_ && fd_ >= 0) {
    protocol_eof();
  } else {
    start_reading();
  }
}

void StreamTransport::pause_reading() {
  if (reading_paused_ || closing_) return;
  reading_paused_ = true;
  stop_reading();
}

void StreamTransport::resume_reading() {
  if (!reading_paused_ || closing_) return;
  reading_paused_ = false;
  deliver();
  start_reading();
}

void StreamTransport::deliver() {
  if (!proto_ || reading_paused_ || avail() == 0) return;
  const std::size_t n = avail();
  call_protocol([&] { proto_->data_received(data()); });
  consume(n);
}

void StreamTransport::protocol_eof() {
  bool keep_open = false;
  call_protocol([&] { keep_open = proto_->eof_received(); });
  if (!keep_open || tls_) close();  // TLS cannot stay half-open
}

void StreamTransport::protocol_failed(std::exception_ptr err) {
  if (loop_usable()) {
    loop_->call_exception_handler(
        ExceptionContext{"Fatal error: a protocol callback raised; the connection is closed", err, {}, {}});
  }
  fail_with(std::move(err));
}

void StreamTransport::schedule_connection_lost() noexcept {
  if (lost_scheduled_) return;
  lost_scheduled_ = true;
  auto self = shared_from_this();  // finish_close runs before self_ is released, so this cannot fail
  std::exception_ptr err = werr_ ? werr_ : rerr_;
  auto lost = [self, err] {
    auto p = std::move(self->proto_);  // breaks the transport <-> protocol cycle
    try {
      p->connection_lost(err);
    } catch (...) {
      if (self->loop_usable())
        self->loop_->call_exception_handler(
            ExceptionContext{"Exception in a protocol's connection_lost", std::current_exception(), {}, {}});
    }
  };
  try {
    if (loop_usable()) {
      loop_->call_soon(std::move(lost));  // asyncio calls connection_lost in a later step too
      return;
    }
  } catch (...) {
  }
  lost();  // the loop is gone or closing: now rather than never
}

// ---------------- create_connection / create_server ----------------

Transport attach_protocol(const std::shared_ptr<StreamTransport>& t, std::shared_ptr<Protocol> protocol) {
  t->begin_protocol(std::move(protocol));
  return Transport(t);
}

namespace {

Task<std::pair<Transport, std::shared_ptr<Protocol>>> attach_when_connected(Task<StreamPair> connecting,
                                                                            ProtocolFactory factory) {
  StreamPair pair = co_await std::move(connecting);
  std::shared_ptr<Protocol> protocol = factory();
  Transport transport = attach_protocol(pair.writer.transport(), protocol);
  co_return std::pair<Transport, std::shared_ptr<Protocol>>(std::move(transport), std::move(protocol));
}

Task<void> serve_protocol(std::shared_ptr<StreamTransport> t, std::shared_ptr<Protocol> protocol) {
  attach_protocol(t, std::move(protocol));
  // The server counts the connection until it is closed (by the protocol, the peer or close_clients()).
  while (t->fd() >= 0) co_await ListWait(t->closers());
}

}  // namespace

Task<std::pair<Transport, std::shared_ptr<Protocol>>> create_connection(ProtocolFactory factory, std::string host,
                                                                        int port, ConnectOptions options) {
  if (!factory) throw std::invalid_argument("create_connection: no protocol factory");
  // open_connection copies what the options point to now; the protocol is made once connected.
  return attach_when_connected(open_connection(std::move(host), port, options), std::move(factory));
}

ConnectionHandler protocol_handler(ProtocolFactory factory) {
  if (!factory) throw std::invalid_argument("create_server: no protocol factory");
  return [factory = std::move(factory)](StreamReader, StreamWriter writer) {
    return serve_protocol(writer.transport(), factory());
  };
}

}  // namespace detail

// ---------------- Transport ----------------

namespace {
detail::StreamTransport& checked(const std::shared_ptr<detail::StreamTransport>& t) {
  if (!t) throw InvalidStateError("empty transport");
  return *t;
}
}  // namespace

void Transport::write(std::string_view data) { checked(t_).write(data); }
void Transport::write_eof() { checked(t_).write_eof(); }
bool Transport::can_write_eof() const noexcept { return t_ && !t_->is_tls(); }
void Transport::close() {
  if (t_) t_->close();
}
void Transport::abort() noexcept {
  if (t_) t_->abort();
}
bool Transport::is_closing() const noexcept { return !t_ || t_->closing() || t_->fd() < 0; }
void Transport::pause_reading() { checked(t_).pause_reading(); }
void Transport::resume_reading() { checked(t_).resume_reading(); }
bool Transport::is_reading() const noexcept { return t_ && t_->is_reading(); }
std::size_t Transport::get_write_buffer_size() const noexcept { return t_ ? t_->pending() : 0; }
void Transport::set_write_buffer_limits(std::size_t high, std::optional<std::size_t> low) {
  checked(t_).set_limits(high, low);
}
std::optional<SockAddr> Transport::get_extra_info(std::string_view name) const {
  if (!t_) return std::nullopt;
  if (name == "peername") return t_->name(true);
  if (name == "sockname") return t_->name(false);
  return std::nullopt;
}
std::optional<SslInfo> Transport::ssl_info() const { return t_ ? t_->ssl_info() : std::nullopt; }

}  // namespace spindle::aio
