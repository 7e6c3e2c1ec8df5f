#pragma once
// Certificates the TLS tests and the W6-TLS benchmark make for themselves (OpenSSL's X509 API, EC P-256): a CA,
// a server certificate it signs for "localhost", 127.0.0.1 and ::1, and a second CA nobody trusts. Written as
// PEM files to a fresh directory, removed when the program ends.

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>

namespace spindle::test {

class TestPki {
 public:
  std::string dir;
  std::string ca_cert;      // trusted by the clients that should succeed
  std::string server_cert;  // localhost / 127.0.0.1 / ::1, signed by ca
  std::string server_key;
  std::string other_ca_cert;  // a CA that signed nothing we use

  /// One per program: key generation is the slow part.
  static const TestPki& get() {
    static TestPki pki;
    return pki;
  }

  ~TestPki() {
    for (const auto* f : {&ca_cert, &server_cert, &server_key, &other_ca_cert}) ::unlink(f->c_str());
    ::rmdir(dir.c_str());
  }
  TestPki(const TestPki&) = delete;
  TestPki& operator=(const TestPki&) = delete;

 private:
  TestPki() {
    char tmpl[] = "/tmp/spindle-tls-XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) throw std::runtime_error("mkdtemp failed");
    dir = tmpl;
    ca_cert = dir + "/ca.pem";
    server_cert = dir + "/server.pem";
    server_key = dir + "/server.key";
    other_ca_cert = dir + "/other-ca.pem";

    EVP_PKEY* ca_key = EVP_EC_gen("P-256");
    X509* ca = make_cert(ca_key, "spindle test CA", nullptr, ca_key, 1, true);
    EVP_PKEY* key = EVP_EC_gen("P-256");
    X509* leaf = make_cert(key, "localhost", ca, ca_key, 2, false);
    EVP_PKEY* other_key = EVP_EC_gen("P-256");
    X509* other = make_cert(other_key, "spindle other CA", nullptr, other_key, 3, true);
    write_cert(ca_cert, ca);
    write_cert(server_cert, leaf);
    write_cert(other_ca_cert, other);
    FILE* f = std::fopen(server_key.c_str(), "w");
    if (f == nullptr || PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr) != 1)
      throw std::runtime_error("cannot write the key");
    std::fclose(f);
    X509_free(ca);
    X509_free(leaf);
    X509_free(other);
    EVP_PKEY_free(ca_key);
    EVP_PKEY_free(key);
    EVP_PKEY_free(other_key);
  }

  static void add_ext(X509* cert, X509* issuer, int nid, const char* value) {
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, issuer != nullptr ? issuer : cert, cert, nullptr, nullptr, 0);
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
    if (ext == nullptr) throw std::runtime_error("bad extension");
    X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
  }

  static X509* make_cert(EVP_PKEY* key, const char* cn, X509* issuer, EVP_PKEY* issuer_key, long serial, bool ca) {
    X509* x = X509_new();
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 7 * 24 * 3600);
    X509_set_pubkey(x, key);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn),
                               -1, -1, 0);
    X509_set_issuer_name(x, X509_get_subject_name(issuer != nullptr ? issuer : x));
    add_ext(x, issuer, NID_subject_key_identifier, "hash");
    add_ext(x, issuer, NID_authority_key_identifier, "keyid:always");
    if (ca) {
      add_ext(x, issuer, NID_basic_constraints, "critical,CA:TRUE");
      add_ext(x, issuer, NID_key_usage, "critical,keyCertSign,cRLSign");
    } else {
      add_ext(x, issuer, NID_basic_constraints, "critical,CA:FALSE");
      add_ext(x, issuer, NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1,IP:::1");
    }
    if (X509_sign(x, issuer_key, EVP_sha256()) == 0) throw std::runtime_error("X509_sign failed");
    return x;
  }

  static void write_cert(const std::string& path, X509* x) {
    FILE* f = std::fopen(path.c_str(), "w");
    if (f == nullptr || PEM_write_X509(f, x) != 1) throw std::runtime_error("cannot write " + path);
    std::fclose(f);
  }
};

}  // namespace spindle::test
