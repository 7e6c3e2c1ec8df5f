#!/usr/bin/env bash
# Installs the Debian packages spindle builds with, and only those that are missing, so that `make lab` and
# `make test` work on a fresh Debian 12 machine. apt-get runs only when something is actually missing.
# `--tests` adds what only the test suite needs (Chromium, which renders the lab's report in a test), so that
# `make lab` does not pull a browser onto a newcomer's machine. `--peers` adds the libraries the native
# benchmark peers are built with (bench/peers/cpp: oneTBB, libuv, moodycamel's queue, Asio), for
# `spindle bench --compare`; `--tests` includes them, so that the test suite builds and runs every peer.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git
  g++ clang lld libclang-rt-14-dev clang-format clang-tidy
  libgtest-dev libgmock-dev googletest libbenchmark-dev
  libcli11-dev libfmt-dev libcereal-dev liburing-dev nlohmann-json3-dev libssl-dev openssl
  python3
  libopenmpi-dev openmpi-bin python3-mpi4py
)
peers=(libtbb-dev libuv1-dev libconcurrentqueue-dev libasio-dev)
case "${1:-}" in
  --tests) packages+=(chromium "${peers[@]}") ;;
  --peers) packages+=("${peers[@]}") ;;
  "") ;;
  *)
    echo "usage: $0 [--tests|--peers]" >&2
    exit 2
    ;;
esac

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "install-deps: installing ${missing[*]}" >&2
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
