#!/usr/bin/env bash
# nat64-dpdk soak test: SECONDS (default 1800) of churn through the box on
# DPDK net_tap ports, sampling its memory, mbufs and tables as it goes.
#
#   scripts/soak.sh [SECONDS]        SOAK_INTERVAL=30 (seconds between samples)
#
#   client netns (IPv6 only)              nat64-dpdk                 server netns (IPv4 only)
#   2001:db8:5::2 + 8 subscribers ── 2001:db8:5::1 | 198.51.100.129 ── 198.51.100.130/25
#   2001:db8:100:{1..8}00::1 (one per /56)  prefix 2001:db8:64::/96, pool 203.0.113.64/28
#
# The same structure as scripts/demo.sh (setup.sh, release build, nsd on the
# box's loopback as the DNS64's upstream, TAP interfaces moved into two
# namespaces; the shared pieces are in scripts/lib/lab.sh), with its own
# addresses, interface names, namespaces and EAL --file-prefix so that it
# can run beside the demo or the tests. The box
# runs two workers (on a two-CPU machine both share CPU 1), short timeouts
# (udp 15 s, icmp 8 s, tcp_transitory 10 s, tcp_established 30 s: below
# the RFC minimums, warned about) so that sessions expire during the run,
# and its DNS64.
#
# Churn (scripts/soak_churn.py in the client namespace): 8 subscribers,
# each in cycles of 60 s of traffic and 45 s of silence (its sessions
# expire and its port blocks go back), staggered: a new UDP flow every
# 0.125 s to the server's echo ports 7000-7009 (every 20th one 3000 bytes:
# fragments both ways), curl of the server's page every 3 s, a ping every
# 2 s; DNS64 AAAA queries with dig at 4 a second (with NXDOMAIN and PTR
# ones). At 1/3 and 2/3 of the run a SIGHUP toggles
# translation.icmp_errors_per_second (1000 -> 999 -> 1000); the log must
# say it was applied.
#
# Every SOAK_INTERVAL seconds one row goes to soak.csv (and stdout):
# elapsed seconds, the process's VmRSS, and from /metrics the mbufs in use,
# sessions, BIB entries, port blocks in use, subscribers, fragment store
# (datagrams tracked, fragments held), held SYNs, DNS64 queries, sessions
# created, fragments translated, handoffs between the workers and drops
# (the DNS64's cache size is not exported). At the end
# the churn stops, the longest timeout passes (plus 15 s), and a last
# sample must show no sessions, BIB entries, port blocks, fragments or
# held SYNs, the mbufs in use back at the idle value sampled before
# the churn, and as many block releases as allocations in the event log. A summary gives first/min/max/last of each series and
# whether RSS and mbufs stayed flat (after a warm-up of one churn cycle,
# the last quarter's maximum within 5 % of the first quarter's). Exits
# non-zero if a check fails. Results (CSV, the box's log, its config, the
# churn's counts) stay in /tmp/soak-<UTC time>/. Run as root; not in CI.
set -euo pipefail
. "$(dirname "$0")/lib/lab.sh"
cd "$(dirname "$0")/.."

[ "$(id -u)" -eq 0 ] || { echo "soak.sh: net_tap and network namespaces need root; run it as root" >&2; exit 1; }
DURATION=${1:-1800}
INTERVAL=${SOAK_INTERVAL:-30}
for v in "$DURATION" "$INTERVAL"; do
  [[ "$v" =~ ^[1-9][0-9]*$ ]] || { echo "usage: scripts/soak.sh [SECONDS] (SOAK_INTERVAL=SECONDS): $v is not a positive whole number" >&2; exit 2; }
done

PREFIX=2001:db8:64::/96
BOX6=2001:db8:5::1
CLIENT6=2001:db8:5::2
BOX4=198.51.100.129
SERVER4=198.51.100.130
POOL=203.0.113.64/28
SERVER_VIA_NAT64=2001:db8:64::$SERVER4
SUBSCRIBERS=()
for i in 1 2 3 4 5 6 7 8; do SUBSCRIBERS+=("2001:db8:100:${i}00::1"); done
CLIENT_NS=nat64-soak-client
SERVER_NS=nat64-soak-server
IF_IN=n64soak-in
IF_OUT=n64soak-out
ZONE=soak.example
# Timeouts (seconds); the longest is what the end waits out.
T_UDP=15
T_ICMP=8
T_TCP_TRANS=10
T_TCP_EST=30
DRAIN_WAIT=$((T_TCP_EST + 15))

scripts/setup.sh
echo "== build (release) =="
cargo build --release --locked
bin=${CARGO_TARGET_DIR:-target}/release/nat64-dpdk

results=/tmp/soak-$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$results"
conf=$results/soak.toml
log=$results/nat64-dpdk.log
csv=$results/soak.csv
scrape=$results/metrics.txt
nsd_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

write_config() { # $1: translation.icmp_errors_per_second
  cat >"$conf" <<EOF
# Written by scripts/soak.sh.
[translation]
prefix = "2001:db8:64::/96"
deny4 = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]
icmp_errors_per_second = $1
[pool4]
addresses = ["$POOL"]
[timeouts]
udp = $T_UDP
icmp = $T_ICMP
tcp_transitory = $T_TCP_TRANS
tcp_established = $T_TCP_EST
[inside]
device = "net_tap0"
address = "$BOX6/64"
gateway = "$CLIENT6"
kernel_iface = "n64soak-kin"
subscribers = ["2001:db8:5::/64", "2001:db8:100::/48"]
[outside]
device = "net_tap1"
address = "$BOX4/25"
gateway = "$SERVER4"
kernel_iface = "n64soak-kout"
[workers]
mbufs_per_worker = 4096
max_sessions_per_worker = 65536
[dns64]
enabled = true
listen = ["[$BOX6]:53"]
upstream = ["127.0.0.1:$nsd_port"]
[metrics]
listen = "127.0.0.1:0"
[logging]
level = "info"
events = "file:$results/events.log"
EOF
}
write_config 1000
echo "== configuration check =="
"$bin" -- --config "$conf" --check

lab_hugepages 256
# lcore 0 runs the control side, lcores 1 and 2 the two workers.
case "$(nproc)" in
  1) cores=(--lcores '0@0,(1-2)@0') ;;
  2) cores=(--lcores '0@0,(1-2)@1') ;;
  *) cores=(-l 0-2) ;;
esac

pid=""
lab_nsd_pid=""
server_pids=()
churn_pid=""
cleanup() {
  set +e
  [ -n "$churn_pid" ] && kill "$churn_pid" 2>/dev/null && wait "$churn_pid" 2>/dev/null
  for p in "${server_pids[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
  lab_nsd_stop "$lab_nsd_pid"
  lab_box_stop "$pid"
  lab_netns_delete "$CLIENT_NS" "$SERVER_NS"
  echo "soak.sh: results in $results"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== network namespaces: $CLIENT_NS (IPv6 only), $SERVER_NS (IPv4 only) =="
lab_netns_create "$CLIENT_NS" "$SERVER_NS"

echo "== nsd on 127.0.0.1:$nsd_port (the DNS64's upstream): h0 .. h49.$ZONE have only A records =="
# shellcheck disable=SC2046 # one host name a word
lab_nsd_up "$results/nsd" "$nsd_port" "$ZONE" "$SERVER4" h0 $(seq -f "h%g" 0 49)

echo "== start nat64-dpdk =="
lab_box_start "$log" "$bin" "${cores[@]}" --no-pci "${lab_mem[@]}" --file-prefix nat64-soak \
  --vdev "net_tap0,iface=$IF_IN" --vdev "net_tap1,iface=$IF_OUT" \
  -- --config "$conf"
pid=$lab_box_pid
lab_box_wait "$pid" "$log" || exit 1
metrics_addr=$(sed -n 's/.*http: listening on \([0-9.]*:[0-9]*\) .*/\1/p' "$log" | head -n 1)
[ -n "$metrics_addr" ] || { echo "soak.sh: no 'http: listening on' line in the log" >&2; exit 1; }

echo "== the TAP interfaces move into the namespaces =="
lab_tap_client "$CLIENT_NS" "$IF_IN" 02:00:5e:65:01:02 "$CLIENT6/64" "$PREFIX" "$BOX6"
for s in "${SUBSCRIBERS[@]}"; do in_client ip addr add "$s/128" dev "$IF_IN" nodad; done
lab_tap_server "$SERVER_NS" "$IF_OUT" 02:00:5e:65:02:02 "$SERVER4/25" "$POOL" "$BOX4"

echo "== servers at $SERVER4: HTTP on 80, UDP echo on 7000-7009 =="
mkdir -p "$results/www"
echo "soak" >"$results/www/index.html"
# Not through the in_server function: `&` on a function forks a subshell,
# and killing that would leave the server behind.
ip netns exec "$SERVER_NS" python3 -m http.server --bind "$SERVER4" --directory "$results/www" 80 >/dev/null 2>&1 &
server_pids+=($!)
ip netns exec "$SERVER_NS" python3 -c '
import socket, sys, threading
def echo(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((sys.argv[1], port))
    while True:
        data, peer = s.recvfrom(65535)
        s.sendto(data, peer)
for p in range(7000, 7010):
    threading.Thread(target=echo, args=(p,), daemon=True).start()
threading.Event().wait()
' "$SERVER4" &
server_pids+=($!)
for _ in $(seq 1 50); do
  [ -n "$(in_server ss -Hltn 'sport = :80')" ] && [ "$(in_server ss -Hlun 'sport >= :7000 and sport <= :7009' | wc -l)" -eq 10 ] && break
  sleep 0.1
done
in_client curl -sS -g -o /dev/null --max-time 10 "http://[$SERVER_VIA_NAT64]/"
in_client dig +short AAAA "h0.$ZONE" "@$BOX6" | grep -q "^2001:db8:64::"
echo "first fetch and AAAA through the box: ok"

# One sample: sums over the labels of each metric in one scrape.
header="elapsed_s,phase,rss_kb,mbufs_in_use,sessions,bib_entries,blocks_in_use,subscribers,fragment_datagrams,parked_fragments,held_syns,dns64_queries,sessions_created,fragments_translated,handoffs,drops_total"
# The sum of a metric's series, or of those whose labels contain $2.
metric() {
  awk -v m="$1" -v l="${2:-}" '($1 == m || index($1, m "{") == 1) && (l == "" || index($1, l)) { s += $NF }
    END { printf "%.0f", s }' "$scrape"
}
t0=$(date +%s)
sample() { # $1: phase
  curl -sS --max-time 5 "http://$metrics_addr/metrics" >"$scrape"
  local rss row
  rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status")
  row="$(( $(date +%s) - t0 )),$1,$rss"
  for m in nat64_mbufs_in_use nat64_sessions nat64_bib_entries nat64_port_blocks_in_use \
    nat64_subscribers nat64_fragment_datagrams nat64_parked_fragments nat64_held_syns \
    nat64_dns64_queries_total nat64_sessions_created_total \
    'nat64_fragments_total event="translated"' 'nat64_handoff_total dir="out"' nat64_drops_total; do
    # shellcheck disable=SC2086 # name and label filter
    row+=",$(metric $m)"
  done
  echo "$row" >>"$csv"
  echo "$row"
}
col() { # the value of column $1 in the CSV's last row
  tail -n 1 "$csv" | cut -d, -f"$(echo "$header" | tr , '\n' | grep -nx "$1" | cut -d: -f1)"
}

echo "== idle sample (the baseline), then $DURATION s of churn, a sample every $INTERVAL s =="
echo "$header" | tee "$csv"
sleep 3
sample idle
idle_mbufs=$(col mbufs_in_use)
ip netns exec "$CLIENT_NS" python3 scripts/soak_churn.py --src "${SUBSCRIBERS[@]}" \
  --dst "$SERVER_VIA_NAT64" --server4 "$SERVER4" --prefix "$PREFIX" --dns "$BOX6" \
  --zone "$ZONE" >"$results/churn.log" 2>&1 &
churn_pid=$!

reloads_ok=0
reload() { # $1: the new translation.icmp_errors_per_second
  write_config "$1"
  local before
  before=$(grep -c "reload: $conf: applied translation.icmp_errors_per_second" "$log" || true)
  kill -HUP "$pid"
  for _ in $(seq 1 50); do
    if [ "$(grep -c "reload: $conf: applied translation.icmp_errors_per_second" "$log" || true)" -gt "$before" ]; then
      echo "SIGHUP: translation.icmp_errors_per_second = $1 applied"
      reloads_ok=$((reloads_ok + 1))
      return
    fi
    sleep 0.1
  done
  echo "SIGHUP: translation.icmp_errors_per_second = $1 NOT applied (log: $(tail -n 1 "$log"))"
}

start=$(date +%s)
hup1=$((start + DURATION / 3))
hup2=$((start + 2 * DURATION / 3))
next=$((start + INTERVAL))
end=$((start + DURATION))
while :; do
  now=$(date +%s)
  [ "$now" -ge "$end" ] && break
  kill -0 "$pid" 2>/dev/null || { echo "soak.sh: nat64-dpdk exited during the churn" >&2; tail -n 20 "$log"; exit 1; }
  kill -0 "$churn_pid" 2>/dev/null || { echo "soak.sh: the churn exited" >&2; cat "$results/churn.log"; exit 1; }
  if [ "$hup1" -gt 0 ] && [ "$now" -ge "$hup1" ]; then reload 999; hup1=0; fi
  if [ "$hup2" -gt 0 ] && [ "$now" -ge "$hup2" ]; then reload 1000; hup2=0; fi
  if [ "$now" -ge "$next" ]; then sample churn; next=$((next + INTERVAL)); fi
  sleep 1
done
[ "$hup1" -eq 0 ] || reload 999
[ "$hup2" -eq 0 ] || reload 1000
sample churn

echo "== churn stopped; waiting out the longest timeout ($T_TCP_EST s) + 15 s =="
kill -TERM "$churn_pid"
wait "$churn_pid" || true
churn_pid=""
cat "$results/churn.log"
sleep "$DRAIN_WAIT"
sample drained

echo "== summary =="
fail=0
check() { # $1: description, $2: 0 when it holds
  if [ "$2" -eq 0 ]; then echo "ok   $1"; else echo "FAIL $1"; fail=1; fi
}
for c in sessions bib_entries blocks_in_use subscribers fragment_datagrams parked_fragments held_syns; do
  check "$c drained: $(col "$c")" "$(col "$c")"
done
check "mbufs in use back at the idle value: $(col mbufs_in_use) (idle $idle_mbufs)" "$(( $(col mbufs_in_use) != idle_mbufs ))"
check "SIGHUPs applied: $reloads_ok of 2" "$(( reloads_ok != 2 ))"
allocated=$(grep -c ' allocated ' "$results/events.log" || true)
released=$(grep -c ' released ' "$results/events.log" || true)
check "event log: $allocated block allocations, $released releases" "$(( allocated == 0 || allocated != released ))"
# Churn health: nine in ten flows of each kind got through.
read -r -a kinds <<<"$(sed -n 's/^churn: //p' "$results/churn.log")"
for k in "${kinds[@]}"; do
  ok=${k#*=}; ok=${ok%/*}; all=${k#*/}
  check "churn ${k%%=*}: $ok of $all answered" "$(( all == 0 || ok * 10 < all * 9 ))"
done
[ ${#kinds[@]} -gt 0 ] || check "churn counts printed" 1

# first/min/max/last of each series over the churn and the drained sample;
# flatness over the churn rows after a warm-up of one cycle (105 s).
awk -F, -v warm=105 '
  NR == 1 { for (i = 1; i <= NF; i++) name[i] = $i; n = NF; next }
  $2 == "idle" { next }
  {
    rows++
    for (i = 3; i <= n; i++) {
      if (rows == 1) { first[i] = $i; min[i] = $i; max[i] = $i }
      if ($i < min[i]) min[i] = $i
      if ($i > max[i]) max[i] = $i
      last[i] = $i
    }
    if ($2 == "churn" && $1 >= warm) { k++; rss[k] = $3; mb[k] = $4 }
  }
  END {
    printf "%-20s %12s %12s %12s %12s\n", "series", "first", "min", "max", "last"
    for (i = 3; i <= n; i++) printf "%-20s %12s %12s %12s %12s\n", name[i], first[i], min[i], max[i], last[i]
    if (k < 4) { print "flat: too few samples after the warm-up to judge (run longer)"; exit 0 }
    q = int(k / 4)
    for (s = 0; s < 2; s++) {
      f = 0; l = 0
      for (j = 1; j <= q; j++) { v = s ? mb[j] : rss[j]; if (v > f) f = v }
      for (j = k - q + 1; j <= k; j++) { v = s ? mb[j] : rss[j]; if (v > l) l = v }
      ok = (l <= f * 1.05)
      printf "%s %s flat: last-quarter max %d, first-quarter max %d (%+.1f%%)\n", ok ? "ok  " : "FAIL", s ? "mbufs_in_use" : "rss_kb", l, f, f ? (l - f) * 100 / f : 0
      if (!ok) bad = 1
    }
    exit bad
  }' "$csv" || fail=1

echo "CSV: $csv"
[ "$fail" -eq 0 ] && echo "soak: all checks passed" || echo "soak: checks FAILED"
exit "$fail"
