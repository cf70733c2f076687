#!/usr/bin/env bash
# nat64-dpdk demo on DPDK net_tap ports.
#
# Installs what is missing, prepares hugepages, builds, starts nat64-dpdk
# with config/demo.toml on two net_tap ports (inside: IPv6, outside: IPv4),
# shows the ports it brought up, then stops it with SIGINT.
#
# Packet forwarding through the translator arrives with the dataplane
# (next milestone); today the demo shows EAL, the two ports and a clean
# shutdown, and runs the configuration check.
set -euo pipefail
cd "$(dirname "$0")/.."

[ "$(id -u)" -eq 0 ] || { echo "demo.sh: net_tap needs root; run it as root" >&2; exit 1; }

scripts/setup.sh
echo "== build =="
cargo build --release --locked
bin=target/release/nat64-dpdk

echo "== configuration check =="
"$bin" -- --config config/demo.toml --check

mem=(--no-huge -m 512)
if grep -qs ' /dev/hugepages hugetlbfs ' /proc/mounts && [ "$(cat /proc/sys/vm/nr_hugepages)" -ge 64 ]; then
  mem=(-m 128)
fi

log=$(mktemp /tmp/nat64-demo.XXXXXX.log)
pid=""
cleanup() {
  [ -n "$pid" ] && kill -INT "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
  rm -f "$log"
}
trap cleanup EXIT

echo "== start: $bin -l 0 --no-pci ${mem[*]} --vdev net_tap0,iface=n64-inside --vdev net_tap1,iface=n64-outside -- --config config/demo.toml =="
"$bin" -l 0 --no-pci "${mem[@]}" --file-prefix nat64-demo \
  --vdev net_tap0,iface=n64-inside --vdev net_tap1,iface=n64-outside \
  -- --config config/demo.toml >"$log" 2>&1 &
pid=$!

for _ in $(seq 1 100); do
  grep -q "forwarding is not implemented yet" "$log" && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.2
done
cat "$log"
echo "== the kernel sees the two net_tap interfaces =="
ip -brief link show n64-inside || true
ip -brief link show n64-outside || true

echo "== stop (SIGINT) =="
kill -INT "$pid"
rc=0; wait "$pid" || rc=$?
pid=""
tail -n 3 "$log"
echo "nat64-dpdk exited with status $rc"
echo
echo "Forwarding (an IPv6-only client fetching a page from an IPv4-only server"
echo "through the translator) comes next, with the DPDK dataplane."
exit "$rc"
