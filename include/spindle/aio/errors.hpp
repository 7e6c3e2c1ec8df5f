#pragma once
/// @file
/// Errors specific to spindle::aio. CancelledError and TimeoutError are spindle's core errors.

#include <exception>
#include <string>
#include <vector>

#include "spindle/core/errors.hpp"
#include "spindle/core/unhandled.hpp"

namespace spindle::aio {

/// Several exceptions raised together (a TaskGroup whose children failed). `exceptions()` lists them in the
/// order they happened; `what()` names each. Python equivalent: `ExceptionGroup` (PEP 654).
class ExceptionGroup : public Error {
 public:
  ExceptionGroup(const std::string& message, std::vector<std::exception_ptr> errors)
      : Error(compose(message, errors)), message_(message), errors_(std::move(errors)) {}
  /// The group's own message. Python: `message`.
  const std::string& message() const noexcept { return message_; }
  /// The exceptions. Python: `exceptions`.
  const std::vector<std::exception_ptr>& exceptions() const noexcept { return errors_; }

 private:
  static std::string compose(const std::string& message, const std::vector<std::exception_ptr>& errors) {
    std::string s =
        message + " (" + std::to_string(errors.size()) + " sub-exception" + (errors.size() == 1 ? "" : "s") + ")";
    for (std::size_t i = 0; i < errors.size(); ++i)
      s += "\n  [" + std::to_string(i + 1) + "] " + describe_exception(errors[i]);
    return s;
  }
  std::string message_;
  std::vector<std::exception_ptr> errors_;
};

/// Ctrl-C interrupted run(): the main task was cancelled and its clean-up ran. Python: `KeyboardInterrupt`.
class KeyboardInterrupt : public Error {
 public:
  KeyboardInterrupt() : Error("KeyboardInterrupt") {}
};

/// A TLS failure: a handshake the peer or OpenSSL refused, a certificate that did not verify, a record that did
/// not decrypt. `what()` reads as Python's ("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: hostname
/// mismatch"). Python equivalent: `ssl.SSLError` (and `ssl.SSLCertVerificationError`, whose `verify_message`
/// and `verify_code` this carries too).
class SslError : public Error {
 public:
  SslError(std::string reason, const std::string& message, std::string verify_message = {}, long verify_code = 0)
      : Error("[SSL: " + reason + "] " + message + (verify_message.empty() ? "" : ": " + verify_message)),
        reason_(std::move(reason)),
        verify_message_(std::move(verify_message)),
        verify_code_(verify_code) {}
  /// OpenSSL's reason in Python's spelling, e.g. "CERTIFICATE_VERIFY_FAILED", "WRONG_VERSION_NUMBER".
  /// Python: `reason`.
  const std::string& reason() const noexcept { return reason_; }
  /// Why the certificate did not verify ("hostname mismatch", "unable to get local issuer certificate"), empty
  /// for other failures. Python: `SSLCertVerificationError.verify_message`.
  const std::string& verify_message() const noexcept { return verify_message_; }
  /// OpenSSL's X509_V_ERR_* code, 0 for other failures. Python: `SSLCertVerificationError.verify_code`.
  long verify_code() const noexcept { return verify_code_; }

 private:
  std::string reason_;
  std::string verify_message_;
  long verify_code_;
};

}  // namespace spindle::aio
