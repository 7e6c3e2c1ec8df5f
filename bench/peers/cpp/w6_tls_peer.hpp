#pragma once
// What W6-TLS's native peers share (bench/peers/cpp/w6_tls_*.cpp): the command line of `spindle bench W6-TLS`,
// the certificate (tests/support/tls_pki.hpp, as spindle's side makes it), the server thread, and the load
// generator spindle's W6-TLS uses too (bench/tls_loadgen.hpp), so that only the server differs. A peer
// implements peer::EchoServer (w6_peer.hpp) over TLS; run_w6_tls() does the rest and prints spindle's line:
// `W6-TLS peer=NAME handshakes=N handshakes_per_s=N server_cpu_us_per_handshake=... conns=N ...`.

#include <cstdio>

#include "peer_cli.hpp"
#include "tls_loadgen.hpp"
#include "tls_pki.hpp"
#include "w6_peer.hpp"

namespace peer {

/// The server's certificate chain and key, and the CA the load generator trusts (made once per program).
inline const spindle::test::TestPki& tls_pki() { return spindle::test::TestPki::get(); }

/// Parses W6-TLS's command line, serves on a thread of its own, drives it, prints the line; the exit status.
inline int run_w6_tls(int argc, char** argv, const char* name, EchoServer& server) {
  const Cli cli = echo_cli(argc, argv, "W6-TLS");
  const int conns = static_cast<int>(cli["connections"]);
  const bool quick = cli.quick();
  const auto r = serve_and_drive("W6-TLS", name, server, [&](int port, clockid_t clock) {
    return tls_load::drive(port, conns, quick ? 0.3 : 2.0, quick ? 0.2 : 1.0, quick ? 0.5 : 5.0, clock,
                           tls_pki().ca_cert);
  });
  if (!r) return 1;
  Line line(cli, name);
  tls_load::add_figures(line, conns, *r).emit();
  if (!r->error.empty()) {
    std::fprintf(stderr, "W6-TLS %s: %s\n", name, r->error.c_str());
    return 1;
  }
  return 0;
}

}  // namespace peer
