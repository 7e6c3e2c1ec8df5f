#pragma once
/// @file
/// TLS for spindle::aio streams: `SslContext` (Python: `ssl.SSLContext`) and `create_default_context`
/// (Python: `ssl.create_default_context`). The streams use it through `ConnectOptions::ssl`,
/// `ServerOptions::ssl` and `StreamWriter::start_tls`; OpenSSL 3 does the cryptography over memory BIOs, so TLS
/// runs over the loop's readiness on either backend and no OpenSSL header reaches this one.

#include <memory>
#include <string>
#include <vector>

namespace spindle::aio {

namespace detail {
struct SslContextImpl;
}

/// Which side a context is for. Python: `ssl.PROTOCOL_TLS_CLIENT` / `ssl.PROTOCOL_TLS_SERVER`.
enum class SslProtocol { TLS_CLIENT, TLS_SERVER };

/// What a default context authenticates. Python: `ssl.Purpose.SERVER_AUTH` (a client's context: it checks the
/// server) / `ssl.Purpose.CLIENT_AUTH` (a server's context).
enum class Purpose { SERVER_AUTH, CLIENT_AUTH };

/// Whether the peer's certificate is requested and checked. Python: `ssl.CERT_NONE` / `CERT_OPTIONAL` /
/// `CERT_REQUIRED`.
enum class VerifyMode { CERT_NONE, CERT_OPTIONAL, CERT_REQUIRED };

/// A protocol version bound. Python: `ssl.TLSVersion.TLSv1_2` / `TLSv1_3`.
enum class TLSVersion { TLSv1_2, TLSv1_3 };

/// What a finished handshake agreed on. Python: `writer.get_extra_info('ssl_object')`'s `version()`, `cipher()`,
/// `selected_alpn_protocol()` and `getpeercert()['subject']`.
struct SslInfo {
  std::string version;        ///< "TLSv1.3", "TLSv1.2"
  std::string cipher;         ///< e.g. "TLS_AES_256_GCM_SHA384"
  std::string alpn_protocol;  ///< the protocol ALPN selected, empty if none
  std::string peer_subject;   ///< the peer certificate's subject ("CN=localhost"), empty without one
};

/// TLS settings shared by connections: certificates, trust, verification, protocol versions, ALPN. Copies share
/// one OpenSSL context (as Python shares one `SSLContext` object); configure it before connections use it.
///
/// **Thread safety:** configuring is not thread-safe; a configured context may be used by loops on several
/// threads. **Errors:** SslError for what OpenSSL refuses (a key that does not match its certificate, a bad
/// cipher string), std::system_error for a file that cannot be read, std::invalid_argument for a setting Python
/// also refuses (CERT_NONE while check_hostname is on). **Python equivalent:** `ssl.SSLContext`.
class SslContext {
 public:
  /// A bare context for one side: a client context verifies the server and checks its hostname but trusts no
  /// CA until told (load_verify_locations, load_default_certs); a server context asks for no client
  /// certificate. TLS 1.2 is the minimum. Python: `ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)`.
  explicit SslContext(SslProtocol protocol);

  /// Certificate chain (PEM, leaf first) and private key (PEM; empty: in `certfile` too), with the password of an
  /// encrypted key. Python: `load_cert_chain(certfile, keyfile=None, password=None)`.
  void load_cert_chain(const std::string& certfile, const std::string& keyfile = "", const std::string& password = "");
  /// Trusts the CA certificates of a PEM file and/or a hashed directory. Python: `load_verify_locations(cafile,
  /// capath)`.
  void load_verify_locations(const std::string& cafile, const std::string& capath = "");
  /// Trusts the CA certificates given as PEM text. Python: `load_verify_locations(cadata=...)`.
  void load_verify_data(const std::string& cadata);
  /// Trusts the system's CA store (Debian: /etc/ssl/certs). Python: `load_default_certs()`.
  void load_default_certs();
  /// Python: `verify_mode = ...`. **Errors:** std::invalid_argument for CERT_NONE while check_hostname is on.
  void set_verify_mode(VerifyMode mode);
  /// Python: `verify_mode`.
  VerifyMode verify_mode() const noexcept;
  /// Whether a client checks that the server's certificate names the host it asked for. Turning it on sets
  /// CERT_REQUIRED when the mode was CERT_NONE (as Python). Python: `check_hostname = ...`.
  void set_check_hostname(bool on);
  /// Python: `check_hostname`.
  bool check_hostname() const noexcept;
  /// The protocols this side offers (a client) or accepts, by its own preference (a server).
  /// Python: `set_alpn_protocols(protocols)`.
  void set_alpn_protocols(const std::vector<std::string>& protocols);
  /// The cipher suites of TLS 1.2 (OpenSSL cipher-list syntax). Python: `set_ciphers(ciphers)`.
  void set_ciphers(const std::string& ciphers);
  /// The lowest protocol version allowed (default TLSv1_2). Python: `minimum_version = ...`.
  void set_minimum_version(TLSVersion v);
  /// The highest protocol version allowed (default: the newest OpenSSL knows). Python: `maximum_version = ...`.
  void set_maximum_version(TLSVersion v);
  /// True for a server's context. Python: `context.protocol == ssl.PROTOCOL_TLS_SERVER`.
  bool is_server() const noexcept;

  /// Internal: the shared state.
  const std::shared_ptr<detail::SslContextImpl>& impl() const noexcept { return impl_; }

 private:
  std::shared_ptr<detail::SslContextImpl> impl_;
};

/// A context with Python's defaults: for SERVER_AUTH (a client) the system CA store, CERT_REQUIRED, hostname
/// checking and TLS 1.2+; for CLIENT_AUTH (a server) no client certificate asked, TLS 1.2+. `cafile`, when given,
/// is trusted instead of the system store. Python: `ssl.create_default_context(purpose, cafile=None)`.
SslContext create_default_context(Purpose purpose = Purpose::SERVER_AUTH, const std::string& cafile = "");

}  // namespace spindle::aio
