#pragma once
// The TLS engine of one connection: an OpenSSL SSL object over two memory BIOs. The transport feeds it the
// ciphertext it receives and sends the ciphertext it produces, so OpenSSL never touches the fd and TLS runs over
// whichever readiness backend the loop uses.

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "spindle/aio/ssl.hpp"

struct ssl_st;
struct bio_st;
struct ssl_ctx_st;

namespace spindle::aio::detail {

/// What an SslContext holds: the OpenSSL context and the settings Python keeps beside it.
struct SslContextImpl {
  ssl_ctx_st* ctx = nullptr;
  bool server = false;
  bool check_hostname = false;
  VerifyMode verify_mode = VerifyMode::CERT_NONE;
  std::string alpn_wire;  // the ALPN list in wire format (length-prefixed names)
  SslContextImpl() = default;
  SslContextImpl(const SslContextImpl&) = delete;
  SslContextImpl& operator=(const SslContextImpl&) = delete;
  ~SslContextImpl();
};

class TlsEngine {
 public:
  /// A client engine checks the certificate against `server_hostname` (when the context checks hostnames) and
  /// sends it as SNI (unless it is an IP address).
  TlsEngine(const SslContext& context, const std::string& server_hostname);
  ~TlsEngine();
  TlsEngine(const TlsEngine&) = delete;
  TlsEngine& operator=(const TlsEngine&) = delete;

  /// Ciphertext from the peer.
  void feed(const char* p, std::size_t n);
  /// Advances the handshake: true when done, false when it needs more ciphertext. **Errors:** SslError.
  bool handshake();
  /// Appends the plaintext the fed ciphertext decrypts to; true once the peer's close_notify arrived.
  /// **Errors:** SslError (a bad record, an alert).
  bool read_plain(std::string& out);
  /// Encrypts `d` (after the handshake).
  void write_plain(std::string_view d);
  /// Queues close_notify.
  void shutdown() noexcept;
  /// Appends the ciphertext waiting to be sent to `out`.
  void take_out(std::string& out);
  SslInfo info() const;

 private:
  std::shared_ptr<SslContextImpl> ctx_;  // the ALPN callback reads it while this connection lives
  ssl_st* ssl_ = nullptr;
  bio_st* in_ = nullptr;   // ciphertext received (owned by ssl_)
  bio_st* out_ = nullptr;  // ciphertext to send (owned by ssl_)
};

}  // namespace spindle::aio::detail
