#!/usr/bin/env bash
# nat64-dpdk demo: an IPv6-only client fetches a page from an IPv4-only
# HTTP server through the translator, on DPDK net_tap ports.
#
#   client netns (IPv6 only)          nat64-dpdk              server netns (IPv4 only)
#   2001:db8:1::2 ── n64-inside ── 2001:db8:1::1 | 198.51.100.1 ── n64-outside ── 198.51.100.2
#                                  prefix 2001:db8:64::/96, pool 203.0.113.0/28
#
# Installs what is missing (scripts/setup.sh), prepares hugepages, builds
# the release binary, creates the two network namespaces, starts
# nat64-dpdk with config/demo.toml, moves the TAP interfaces into the
# namespaces, then tells the story by name: nsd on the box's loopback
# (127.0.0.1:5300, the DNS64's upstream in config/demo.toml) serves
# www.demo.example with only an A record (the IPv4 server); the client's
# `dig AAAA www.demo.example @2001:db8:1::1` gets the address the box's
# DNS64 synthesizes under the prefix, `dig -x` of it gets the name back,
# and `curl -v http://www.demo.example/` (the client's resolver pointed at
# the box) fetches the page through the translator. Then ping and the
# counters. Everything is removed on exit (also on Ctrl-C or an error).
# Run as root. DEMO_DEBUG=1 uses a debug build instead of the release one.
set -euo pipefail
. "$(dirname "$0")/lib/lab.sh"
cd "$(dirname "$0")/.."

[ "$(id -u)" -eq 0 ] || { echo "demo.sh: net_tap and network namespaces need root; run it as root" >&2; exit 1; }

# Addresses: keep them in step with config/demo.toml.
PREFIX=2001:db8:64::/96
BOX6=2001:db8:1::1
CLIENT6=2001:db8:1::2
BOX4=198.51.100.1
SERVER4=198.51.100.2
POOL=203.0.113.0/28
SERVER_VIA_NAT64=2001:db8:64::198.51.100.2   # = 2001:db8:64::c633:6402 (RFC 6052 /96)
CLIENT_NS=nat64-demo-client
SERVER_NS=nat64-demo-server
IF_IN=n64-inside    # net_tap0 (inside.device)
IF_OUT=n64-outside  # net_tap1 (outside.device)

NAME=www.demo.example        # A 198.51.100.2 only, served by nsd
DNS64=$BOX6                  # dns64.listen in config/demo.toml
NSD_PORT=5300                # dns64.upstream = 127.0.0.1:5300

scripts/setup.sh
if [ "${DEMO_DEBUG:-0}" = 1 ]; then
  echo "== build (debug) =="
  cargo build --locked
  bin=${CARGO_TARGET_DIR:-target}/debug/nat64-dpdk
else
  echo "== build (release) =="
  cargo build --release --locked
  bin=${CARGO_TARGET_DIR:-target}/release/nat64-dpdk
fi

echo "== configuration check =="
"$bin" -- --config config/demo.toml --check

lab_hugepages 128
# lcore 0 runs the control side, lcore 1 the worker; on a one-CPU machine
# both share CPU 0.
if [ "$(nproc)" -ge 2 ]; then cores=(-l 0-1); else cores=(--lcores '0@0,1@0'); fi

work=$(mktemp -d /tmp/nat64-demo.XXXXXX)
log=$work/nat64-dpdk.log
counters=$work/counters.prom
pid=""
http_pid=""
lab_nsd_pid=""
cleanup() {
  set +e
  [ -n "$http_pid" ] && kill "$http_pid" 2>/dev/null && wait "$http_pid" 2>/dev/null
  lab_nsd_stop "$lab_nsd_pid"
  rm -rf "/etc/netns/$CLIENT_NS"
  rmdir /etc/netns 2>/dev/null
  lab_box_stop "$pid"
  lab_netns_delete "$CLIENT_NS" "$SERVER_NS"
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== network namespaces: $CLIENT_NS (IPv6 only), $SERVER_NS (IPv4 only) =="
lab_netns_create "$CLIENT_NS" "$SERVER_NS"

echo "== nsd on 127.0.0.1:$NSD_PORT (the DNS64's upstream): $NAME has only an A record =="
lab_nsd_up "$work/nsd" "$NSD_PORT" demo.example "$SERVER4" www www
dig +noall +answer -p "$NSD_PORT" @127.0.0.1 A "$NAME"

echo "== start nat64-dpdk =="
lab_box_start "$log" "$bin" "${cores[@]}" --no-pci "${lab_mem[@]}" --file-prefix nat64-demo \
  --vdev "net_tap0,iface=$IF_IN" --vdev "net_tap1,iface=$IF_OUT" \
  -- --config config/demo.toml --counters "$counters"
pid=$lab_box_pid
lab_box_wait "$pid" "$log" || exit 1

echo "== the TAP interfaces move into the namespaces =="
lab_tap_client "$CLIENT_NS" "$IF_IN" 02:00:5e:64:01:02 "$CLIENT6/64" "$PREFIX" "$BOX6"
lab_tap_server "$SERVER_NS" "$IF_OUT" 02:00:5e:64:02:02 "$SERVER4/24" "$POOL" "$BOX4"
echo "client: $(in_client ip -brief addr show "$IF_IN")"
echo "        $(in_client ip -6 route show "$PREFIX")"
echo "server: $(in_server ip -brief addr show "$IF_OUT")"
echo "        $(in_server ip route show "$POOL")"

echo "== an IPv4-only web server at $SERVER4 =="
mkdir -p "$work/www"
cat >"$work/www/index.html" <<EOF
<!doctype html>
<title>IPv4-only server</title>
<p>Hello from $SERVER4, an IPv4-only web server, reached over IPv6 through nat64-dpdk.</p>
EOF
# Not through the in_server function: `&` on a function forks a subshell,
# and killing that would leave the server behind.
ip netns exec "$SERVER_NS" python3 -m http.server --bind "$SERVER4" --directory "$work/www" 80 >"$work/http.log" 2>&1 &
http_pid=$!
for _ in $(seq 1 50); do
  [ -n "$(in_server ss -Hltn 'sport = :80')" ] && break
  sleep 0.1
done

echo
echo "== client: dig AAAA $NAME @$DNS64 (the box's DNS64 synthesizes it) =="
in_client dig AAAA "$NAME" "@$DNS64"
echo "== client: the same over TCP =="
in_client dig +tcp +noall +answer AAAA "$NAME" "@$DNS64"
synth=$(in_client dig +short AAAA "$NAME" "@$DNS64" | head -n 1)
echo "== client: dig -x $synth @$DNS64 (the name back, RFC 6147 5.3.1) =="
in_client dig +noall +answer -x "$synth" "@$DNS64"

echo "== client: resolver = the box ($DNS64); curl -v http://$NAME/ =="
# `ip netns exec` bind-mounts /etc/netns/<ns>/resolv.conf over /etc/resolv.conf.
mkdir -p "/etc/netns/$CLIENT_NS"
echo "nameserver $DNS64" >"/etc/netns/$CLIENT_NS/resolv.conf"
in_client getent ahostsv6 "$NAME"
in_client curl -6 -v --max-time 15 "http://$NAME/"

echo
echo "== client: curl -v http://[$SERVER_VIA_NAT64]/ (by address) =="
in_client curl -v -g --max-time 15 "http://[$SERVER_VIA_NAT64]/"
echo
echo "== the server saw the request from a pool address ($POOL) =="
cat "$work/http.log"

echo "== client: ping -6 $SERVER_VIA_NAT64 (through the translator) =="
in_client ping -6 -n -c 3 -i 0.3 -W 2 "$SERVER_VIA_NAT64"
echo "== client: ping -6 $BOX6 (answered by the box) =="
in_client ping -6 -n -c 2 -i 0.3 -W 2 "$BOX6"
if command -v traceroute >/dev/null; then
  echo "== client: traceroute -6 $SERVER_VIA_NAT64 =="
  in_client traceroute -6 -n -q 1 -w 2 -m 4 "$SERVER_VIA_NAT64" || true
fi

echo "== the operator's view over HTTP (metrics.listen 127.0.0.1:9464): nat64-dpdk ctl =="
"$bin" ctl sessions
"$bin" ctl blocks

echo "== stop (SIGINT) =="
kill -INT "$pid"
rc=0; wait "$pid" || rc=$?
pid=""
tail -n 3 "$log"
echo "nat64-dpdk exited with status $rc"

echo "== counters (non-zero; the whole file: --counters PATH) =="
grep -v '^#' "$counters" | awk '$NF != 0' || true
exit "$rc"
