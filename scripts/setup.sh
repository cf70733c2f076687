#!/usr/bin/env bash
# Prepare a Debian 12 machine for nat64-dpdk: build and test dependencies
# (Debian packages, idempotent) and hugepages.
#
#   scripts/setup.sh                 packages + hugepages
#   scripts/setup.sh --no-hugepages  packages only (tests use --no-huge -m 512)
set -euo pipefail

want_huge=1
for a in "$@"; do
  case "$a" in
    --no-hugepages) want_huge=0 ;;
    -h|--help) sed -n '2,6p' "$0"; exit 0 ;;
    *) echo "setup.sh: unknown option $a" >&2; exit 2 ;;
  esac
done

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "setup.sh: run as root (or install sudo)" >&2; exit 1; }
  SUDO="sudo"
fi

# Build: DPDK 22.11 headers and PMDs, libclang for bindgen, a C compiler.
# Run/test: iproute2 (namespaces), real clients for the end-to-end tests
# (ping, curl, iperf3, traceroute, nc, python3's http.server, sha256sum
# from coreutils) and scapy/dnspython for the integration tests; nsd (the
# DNS64 tests' upstream, started by them on a free loopback port) and dig;
# bind9 (named: the differential test's reference DNS64, tests/dns64_bind.rs,
# also started by the test on a free loopback port); rsyslog (the real
# syslog receiver of the block-event test, on a free loopback port);
# prometheus for promtool (the e2e tests check the metrics text with
# `promtool check metrics`).
pkgs=(build-essential pkg-config libdpdk-dev dpdk-dev libclang-dev
      iproute2 iputils-ping curl python3 python3-scapy python3-dnspython
      procps coreutils iperf3 traceroute netcat-openbsd nsd dnsutils bind9
      rsyslog prometheus)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup.sh: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # Debian's nsd and bind9 packages start a system server on port 53,
  # and prometheus a server on port 9090, where there is an init system;
  # the tests need none, so one we just installed is stopped and disabled
  # (one that was there before is left alone). bind9's service is `named`
  # (`bind9` is its old name).
  stop_service() {
    if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
      $SUDO systemctl disable --now "$1" >/dev/null 2>&1 || true
    elif command -v service >/dev/null; then
      $SUDO service "$1" stop >/dev/null 2>&1 || true
      if command -v update-rc.d >/dev/null; then
        $SUDO update-rc.d "$1" disable >/dev/null 2>&1 || true
      fi
    fi
  }
  if [[ " ${missing[*]} " == *" nsd "* ]]; then
    stop_service nsd
  fi
  # Likewise the system logger rsyslog starts (the test runs its own).
  if [[ " ${missing[*]} " == *" rsyslog "* ]]; then
    stop_service rsyslog
  fi
  # And the Prometheus server (only its promtool is used).
  if [[ " ${missing[*]} " == *" prometheus "* ]]; then
    stop_service prometheus
  fi
  if [[ " ${missing[*]} " == *" bind9 "* ]]; then
    stop_service named
    stop_service bind9
    # The package's AppArmor profile confines named to /etc/bind and
    # /var/cache/bind; the differential test runs it with a configuration
    # in a temp directory, so where AppArmor is active the profile of the
    # named just installed is disabled.
    prof=/etc/apparmor.d/usr.sbin.named
    if [ -f "$prof" ] && [ -d /sys/kernel/security/apparmor ] &&
       command -v apparmor_parser >/dev/null; then
      $SUDO mkdir -p /etc/apparmor.d/disable
      $SUDO ln -sf "$prof" /etc/apparmor.d/disable/
      $SUDO apparmor_parser -R "$prof" >/dev/null 2>&1 || true
    fi
  fi
fi

if ! command -v cargo >/dev/null; then
  if [ -x "$HOME/.cargo/bin/cargo" ]; then
    echo "setup.sh: cargo is in ~/.cargo/bin; add it to PATH" >&2
  else
    echo "setup.sh: no Rust toolchain: install one with rustup (Rust 1.80 or newer)" >&2
  fi
  exit 1
fi

# The lint gates of scripts/test.sh need rustfmt and clippy.
for c in rustfmt clippy; do
  if ! cargo "${c/rustfmt/fmt}" --version >/dev/null 2>&1; then
    command -v rustup >/dev/null && rustup component add "$c" >/dev/null 2>&1 || true
    cargo "${c/rustfmt/fmt}" --version >/dev/null 2>&1 ||
      { echo "setup.sh: cargo $c is missing: install the $c component" >&2; exit 1; }
  fi
done

if [ "$want_huge" = 1 ]; then
  cur=$(cat /proc/sys/vm/nr_hugepages 2>/dev/null || echo 0)
  if [ "$cur" -lt 256 ]; then
    echo 256 | $SUDO tee /proc/sys/vm/nr_hugepages >/dev/null 2>&1 || true
  fi
  if ! grep -qs ' /dev/hugepages hugetlbfs ' /proc/mounts; then
    $SUDO mkdir -p /dev/hugepages
    $SUDO mount -t hugetlbfs nodev /dev/hugepages 2>/dev/null || true
  fi
  got=$(cat /proc/sys/vm/nr_hugepages 2>/dev/null || echo 0)
  if [ "$got" -ge 64 ] && grep -qs ' /dev/hugepages hugetlbfs ' /proc/mounts; then
    echo "setup.sh: $got hugepages ready on /dev/hugepages"
  else
    echo "setup.sh: hugepages unavailable here ($got); run EAL with --no-huge -m 512"
  fi
fi
echo "setup.sh: ready"
