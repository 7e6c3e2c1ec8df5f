// TLS: SslContext (an OpenSSL SSL_CTX with Python's defaults), the per-connection TlsEngine over memory BIOs,
// and the handshake every TLS stream starts with (open_connection with ssl, TLS servers, start_tls).

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <stdexcept>
#include <system_error>

#include "spindle/aio/errors.hpp"
#include "spindle/aio/ssl.hpp"
#include "spindle/aio/streams.hpp"
#include "spindle/aio/timeout.hpp"
#include "stream_transport.hpp"
#include "tls_engine.hpp"

namespace spindle::aio {
namespace detail {
namespace {

/// "certificate verify failed" -> "CERTIFICATE_VERIFY_FAILED": OpenSSL's reason in Python's spelling.
std::string reason_name(const std::string& text) {
  std::string r;
  for (char c : text)
    r.push_back(std::isalnum(static_cast<unsigned char>(c)) ? static_cast<char>(std::toupper(c)) : '_');
  return r;
}

/// Throws the error at the top of OpenSSL's (thread-local) queue as an SslError, and clears the queue.
[[noreturn]] void throw_ssl(const char* fallback, const SSL* ssl = nullptr) {
  const unsigned long e = ERR_peek_last_error();
  std::string message = fallback;
  std::string reason = "SSL";
  if (e != 0) {
    if (const char* r = ERR_reason_error_string(e); r != nullptr) {
      message = r;
      reason = reason_name(message);
    } else {
      reason = "UNKNOWN";
    }
  }
  std::string verify_message;
  long verify_code = 0;
  if (ssl != nullptr && e != 0 && ERR_GET_REASON(e) == SSL_R_CERTIFICATE_VERIFY_FAILED) {
    verify_code = SSL_get_verify_result(ssl);
    verify_message = X509_verify_cert_error_string(verify_code);
  }
  ERR_clear_error();
  throw SslError(std::move(reason), message, std::move(verify_message), verify_code);
}

void require_readable(const std::string& path, const char* what) {
  if (::access(path.c_str(), R_OK) != 0)
    throw std::system_error(errno, std::generic_category(), std::string(what) + ": " + path);
}

int version_code(TLSVersion v) noexcept { return v == TLSVersion::TLSv1_3 ? TLS1_3_VERSION : TLS1_2_VERSION; }

void apply_verify_mode(SslContextImpl& impl) {
  int flags = SSL_VERIFY_NONE;
  if (impl.verify_mode != VerifyMode::CERT_NONE) flags = SSL_VERIFY_PEER;
  if (impl.verify_mode == VerifyMode::CERT_REQUIRED && impl.server) flags |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
  SSL_CTX_set_verify(impl.ctx, flags, nullptr);
}

/// A server picks the first of its own ALPN protocols that the client offers (Python's choice).
int select_alpn(SSL* /*ssl*/, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
                unsigned int inlen, void* arg) {
  const auto* impl = static_cast<const SslContextImpl*>(arg);
  unsigned char* chosen = nullptr;
  const auto* mine = reinterpret_cast<const unsigned char*>(impl->alpn_wire.data());
  if (SSL_select_next_proto(&chosen, outlen, mine, static_cast<unsigned int>(impl->alpn_wire.size()), in, inlen) !=
      OPENSSL_NPN_NEGOTIATED)
    return SSL_TLSEXT_ERR_NOACK;
  *out = chosen;
  return SSL_TLSEXT_ERR_OK;
}

bool is_ip_literal(const std::string& host) {
  unsigned char buf[sizeof(in6_addr)];
  return ::inet_pton(AF_INET, host.c_str(), buf) == 1 || ::inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

}  // namespace

SslContextImpl::~SslContextImpl() {
  if (ctx != nullptr) SSL_CTX_free(ctx);
}

// ---------------- TlsEngine ----------------

TlsEngine::TlsEngine(const SslContext& context, const std::string& server_hostname) : ctx_(context.impl()) {
  ERR_clear_error();
  ssl_ = SSL_new(ctx_->ctx);
  if (ssl_ == nullptr) throw_ssl("SSL_new failed");
  in_ = BIO_new(BIO_s_mem());
  out_ = BIO_new(BIO_s_mem());
  if (in_ == nullptr || out_ == nullptr) {
    if (in_ != nullptr) BIO_free(in_);
    if (out_ != nullptr) BIO_free(out_);
    SSL_free(ssl_);
    throw std::bad_alloc();
  }
  BIO_ctrl(in_, BIO_C_SET_BUF_MEM_EOF_RETURN, -1, nullptr);  // empty input: "want more", not EOF
  // (the functions behind OpenSSL's macros: the macros use C casts, which -Wold-style-cast refuses)
  SSL_set_bio(ssl_, in_, out_);  // ssl_ owns both now
  if (ctx_->server) {
    SSL_set_accept_state(ssl_);
    return;
  }
  SSL_set_connect_state(ssl_);
  const bool ip = is_ip_literal(server_hostname);
  if (!server_hostname.empty() && !ip)
    SSL_ctrl(ssl_, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name, const_cast<char*>(server_hostname.c_str()));
  if (!ctx_->check_hostname) return;
  if (server_hostname.empty()) {
    SSL_free(ssl_);
    throw std::invalid_argument("TLS: check_hostname is on but no server_hostname was given");
  }
  const int ok = ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_), server_hostname.c_str())
                    : SSL_set1_host(ssl_, server_hostname.c_str());
  if (ok != 1) {
    SSL_free(ssl_);
    throw std::invalid_argument("TLS: not a usable server_hostname: " + server_hostname);
  }
  SSL_set_hostflags(ssl_, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
}

TlsEngine::~TlsEngine() { SSL_free(ssl_); }

void TlsEngine::feed(const char* p, std::size_t n) {
  while (n > 0) {
    const int chunk = static_cast<int>(std::min<std::size_t>(n, 1 << 30));
    const int w = BIO_write(in_, p, chunk);
    if (w <= 0) throw std::bad_alloc();  // a memory BIO only fails when memory does
    p += w;
    n -= static_cast<std::size_t>(w);
  }
}

bool TlsEngine::handshake() {
  ERR_clear_error();
  const int r = SSL_do_handshake(ssl_);
  if (r == 1) return true;
  const int e = SSL_get_error(ssl_, r);
  if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return false;
  throw_ssl("the TLS handshake failed", ssl_);
}

bool TlsEngine::read_plain(std::string& out) {
  char buf[16 * 1024];
  for (;;) {
    std::size_t got = 0;
    ERR_clear_error();
    const int r = SSL_read_ex(ssl_, buf, sizeof buf, &got);
    if (r == 1) {
      out.append(buf, got);
      continue;
    }
    const int e = SSL_get_error(ssl_, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return false;
    if (e == SSL_ERROR_ZERO_RETURN) return true;
    throw_ssl("TLS read failed", ssl_);
  }
}

void TlsEngine::write_plain(std::string_view d) {
  while (!d.empty()) {
    std::size_t written = 0;
    ERR_clear_error();
    if (SSL_write_ex(ssl_, d.data(), d.size(), &written) != 1) throw_ssl("TLS write failed", ssl_);
    d.remove_prefix(written);
  }
}

void TlsEngine::shutdown() noexcept {
  ERR_clear_error();
  SSL_shutdown(ssl_);  // 0: close_notify queued, the peer's not (yet) seen; that is all a closing side needs
  ERR_clear_error();
}

void TlsEngine::take_out(std::string& out) {
  const std::size_t n = BIO_ctrl_pending(out_);
  if (n == 0) return;
  const std::size_t old = out.size();
  out.resize(old + n);
  const int r = BIO_read(out_, out.data() + old, static_cast<int>(n));
  out.resize(old + static_cast<std::size_t>(r > 0 ? r : 0));
}

SslInfo TlsEngine::info() const {
  SslInfo i;
  i.version = SSL_get_version(ssl_);
  if (const char* c = SSL_get_cipher_name(ssl_); c != nullptr) i.cipher = c;
  const unsigned char* alpn = nullptr;
  unsigned int alpn_len = 0;
  SSL_get0_alpn_selected(ssl_, &alpn, &alpn_len);
  if (alpn != nullptr) i.alpn_protocol.assign(reinterpret_cast<const char*>(alpn), alpn_len);
  if (X509* peer = SSL_get1_peer_certificate(ssl_); peer != nullptr) {
    if (BIO* b = BIO_new(BIO_s_mem()); b != nullptr) {
      X509_NAME_print_ex(b, X509_get_subject_name(peer), 0, XN_FLAG_RFC2253);
      char* p = nullptr;
      const long n = BIO_ctrl(b, BIO_CTRL_INFO, 0, static_cast<void*>(&p));
      if (n > 0) i.peer_subject.assign(p, static_cast<std::size_t>(n));
      BIO_free(b);
    }
    X509_free(peer);
  }
  return i;
}

// ---------------- the handshake ----------------

namespace {

Task<void> handshake_loop(std::shared_ptr<StreamTransport> t) {
  while (!t->handshake_step()) co_await t->wait_data();
}

}  // namespace

Task<void> start_tls(std::shared_ptr<StreamTransport> t, SslContext context, std::string server_hostname,
                     std::chrono::nanoseconds handshake_timeout, std::chrono::nanoseconds shutdown_timeout) {
  t->begin_tls(std::make_unique<TlsEngine>(context, server_hostname), shutdown_timeout);
  std::exception_ptr failure;
  bool timed_out = false;
  try {
    if (handshake_timeout > std::chrono::nanoseconds::zero()) {
      Task<void> bounded = wait_for(handshake_loop(t), handshake_timeout);
      co_await std::move(bounded);
    } else {
      Task<void> unbounded = handshake_loop(t);
      co_await std::move(unbounded);
    }
  } catch (const TimeoutError&) {
    timed_out = true;
  } catch (...) {
    failure = std::current_exception();
  }
  if (timed_out) {
    t->abort();
    char secs[32];
    std::snprintf(secs, sizeof secs, "%g", std::chrono::duration<double>(handshake_timeout).count());
    throw TimeoutError(std::string("SSL handshake is taking longer than ") + secs +
                       " seconds: aborting the connection");
  }
  if (failure) {
    t->abort();  // cancelled or refused: nothing half-secure stays open
    std::rethrow_exception(failure);
  }
}

}  // namespace detail

// ---------------- SslContext ----------------

SslContext::SslContext(SslProtocol protocol) : impl_(std::make_shared<detail::SslContextImpl>()) {
  auto& i = *impl_;
  i.server = protocol == SslProtocol::TLS_SERVER;
  ERR_clear_error();
  i.ctx = SSL_CTX_new(i.server ? TLS_server_method() : TLS_client_method());
  if (i.ctx == nullptr) detail::throw_ssl("SSL_CTX_new failed");
  SSL_CTX_set_min_proto_version(i.ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(
      i.ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | (i.server ? SSL_OP_CIPHER_SERVER_PREFERENCE : 0));
  SSL_CTX_set_mode(i.ctx, SSL_MODE_RELEASE_BUFFERS);  // idle connections give their record buffers back
  if (!i.server) {
    i.check_hostname = true;  // Python's PROTOCOL_TLS_CLIENT defaults
    i.verify_mode = VerifyMode::CERT_REQUIRED;
  }
  detail::apply_verify_mode(i);
}

void SslContext::load_cert_chain(const std::string& certfile, const std::string& keyfile, const std::string& password) {
  detail::require_readable(certfile, "load_cert_chain: certfile");
  const std::string& key = keyfile.empty() ? certfile : keyfile;
  if (!keyfile.empty()) detail::require_readable(keyfile, "load_cert_chain: keyfile");
  ERR_clear_error();
  SSL_CTX_set_default_passwd_cb_userdata(impl_->ctx, const_cast<char*>(password.c_str()));
  const bool ok = SSL_CTX_use_certificate_chain_file(impl_->ctx, certfile.c_str()) == 1 &&
                  SSL_CTX_use_PrivateKey_file(impl_->ctx, key.c_str(), SSL_FILETYPE_PEM) == 1 &&
                  SSL_CTX_check_private_key(impl_->ctx) == 1;
  SSL_CTX_set_default_passwd_cb_userdata(impl_->ctx, nullptr);
  if (!ok) detail::throw_ssl("load_cert_chain failed");
}

void SslContext::load_verify_locations(const std::string& cafile, const std::string& capath) {
  if (cafile.empty() && capath.empty()) throw std::invalid_argument("load_verify_locations: cafile or capath needed");
  if (!cafile.empty()) detail::require_readable(cafile, "load_verify_locations: cafile");
  ERR_clear_error();
  if (SSL_CTX_load_verify_locations(impl_->ctx, cafile.empty() ? nullptr : cafile.c_str(),
                                    capath.empty() ? nullptr : capath.c_str()) != 1)
    detail::throw_ssl("load_verify_locations failed");
}

void SslContext::load_verify_data(const std::string& cadata) {
  ERR_clear_error();
  BIO* b = BIO_new_mem_buf(cadata.data(), static_cast<int>(cadata.size()));
  if (b == nullptr) throw std::bad_alloc();
  X509_STORE* store = SSL_CTX_get_cert_store(impl_->ctx);
  int added = 0;
  while (X509* cert = PEM_read_bio_X509(b, nullptr, nullptr, nullptr)) {
    const int ok = X509_STORE_add_cert(store, cert);
    X509_free(cert);
    if (ok != 1) {
      BIO_free(b);
      detail::throw_ssl("load_verify_data: a certificate was refused");
    }
    ++added;
  }
  BIO_free(b);
  ERR_clear_error();  // the loop ends on "no start line"
  if (added == 0) throw SslError("NO_CERTIFICATE", "load_verify_data: no PEM certificate in cadata");
}

void SslContext::load_default_certs() {
  ERR_clear_error();
  if (SSL_CTX_set_default_verify_paths(impl_->ctx) != 1) detail::throw_ssl("load_default_certs failed");
}

void SslContext::set_verify_mode(VerifyMode mode) {
  if (mode == VerifyMode::CERT_NONE && impl_->check_hostname)
    throw std::invalid_argument("Cannot set verify_mode to CERT_NONE when check_hostname is enabled.");
  impl_->verify_mode = mode;
  detail::apply_verify_mode(*impl_);
}

VerifyMode SslContext::verify_mode() const noexcept { return impl_->verify_mode; }

void SslContext::set_check_hostname(bool on) {
  impl_->check_hostname = on;
  if (on && impl_->verify_mode == VerifyMode::CERT_NONE) set_verify_mode(VerifyMode::CERT_REQUIRED);
}

bool SslContext::check_hostname() const noexcept { return impl_->check_hostname; }

void SslContext::set_alpn_protocols(const std::vector<std::string>& protocols) {
  std::string wire;
  for (const auto& p : protocols) {
    if (p.empty() || p.size() > 255) throw std::invalid_argument("set_alpn_protocols: a name must be 1..255 bytes");
    wire.push_back(static_cast<char>(p.size()));
    wire += p;
  }
  impl_->alpn_wire = wire;
  if (impl_->server) {
    SSL_CTX_set_alpn_select_cb(impl_->ctx, detail::select_alpn, impl_.get());
  } else if (SSL_CTX_set_alpn_protos(impl_->ctx, reinterpret_cast<const unsigned char*>(impl_->alpn_wire.data()),
                                     static_cast<unsigned int>(impl_->alpn_wire.size())) != 0) {
    detail::throw_ssl("set_alpn_protocols failed");
  }
}

void SslContext::set_ciphers(const std::string& ciphers) {
  ERR_clear_error();
  if (SSL_CTX_set_cipher_list(impl_->ctx, ciphers.c_str()) != 1)
    detail::throw_ssl("set_ciphers: no cipher can be selected");
}

void SslContext::set_minimum_version(TLSVersion v) {
  SSL_CTX_set_min_proto_version(impl_->ctx, detail::version_code(v));
}

void SslContext::set_maximum_version(TLSVersion v) {
  SSL_CTX_set_max_proto_version(impl_->ctx, detail::version_code(v));
}

bool SslContext::is_server() const noexcept { return impl_->server; }

SslContext create_default_context(Purpose purpose, const std::string& cafile) {
  SslContext ctx(purpose == Purpose::SERVER_AUTH ? SslProtocol::TLS_CLIENT : SslProtocol::TLS_SERVER);
  if (!cafile.empty()) {
    ctx.load_verify_locations(cafile);
  } else {
    ctx.load_default_certs();
  }
  return ctx;
}

}  // namespace spindle::aio
