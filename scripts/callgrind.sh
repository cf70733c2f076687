#!/usr/bin/env bash
# The worker's instructions per packet, counted by callgrind in the real
# release binary over net_pcap captures: deterministic where timings on a
# shared machine are not, so it is the figure to compare before and after a
# change to the per-packet path.
#
#   scripts/callgrind.sh [--flows N] [--packets N] [--fn NAME] [--no-build]
#                        [--keep DIR] [--tree DIR]
#
# --flows N     UDP flows (default 1000)
# --packets N   packets per flow, sent round robin (default 32)
# --fn NAME     the worker's per-burst function whose inclusive cost is
#               counted (default PollLoop::frames, matched as a suffix of the
#               full path); if none matches, the one function of the crate
#               with the same last segment is counted (and named), else
#               the script lists the crate's biggest functions and fails
# --no-build    use target/release/nat64-dpdk as it is
# --keep DIR    keep the captures, configs, logs, counters and callgrind
#               profiles in DIR (created) instead of a temporary folder
# --tree DIR    build and measure the checkout in DIR (default: the one
#               holding this script), e.g. another worktree with this
#               script's method
#
# Method:
#
# 1. Build release (`cargo build --release --locked`); write a config (one
#    worker, gateway MACs fixed so nothing is resolved) and, with scapy
#    (/usr/bin/python3, Debian's python3-scapy), a capture of N flows x P
#    packets of IPv6 UDP, round robin: flow i comes from its own subscriber
#    2001:db8:a0SS:SS00::1 (SSSS = i, so each flow's first packet also
#    allocates a port block) port 1024 and goes to
#    [2001:db8:64::192.0.2.1]:7000.
# 2. Run the binary once without valgrind on two net_pcap ports (inside
#    reads the capture, outside reads nothing) and build the replies from
#    what it sent out of the outside port: each translated packet answered
#    from 192.0.2.1:7000 to its pool address and port, in the same order.
# 3. 6to4: run it under `valgrind --tool=callgrind` with the same input.
#    4to6: run it again with the replies on the outside port as well.
#    net_pcap reads a capture as fast as it is polled; the worker polls a
#    burst (32) of the inside port, then one of the outside port, so every
#    reply meets the session its request made.
# 4. From `callgrind_annotate --inclusive=yes`: 6to4 = cost of the function
#    in the first run / requests; 4to6 = (cost in the second run - cost in
#    the first) / replies. Every run's counters (--counters) must show all
#    requests (and replies) translated and no drop, or the script fails.
#
# Prints `6to4 N instr/pkt, 4to6 M instr/pkt`. Two runs of the same binary
# agree within a few instructions per packet (timers fire at other points).
# Takes under a minute after the build on a 2-core VM.
set -euo pipefail
tree="$(dirname "$0")/.."

flows=1000
packets=32
fn_name="PollLoop::frames"
build=1
keep=""
while [ $# -gt 0 ]; do
  case "$1" in
    --flows) flows="$2"; shift 2 ;;
    --packets) packets="$2"; shift 2 ;;
    --fn) fn_name="$2"; shift 2 ;;
    --no-build) build=0; shift ;;
    --keep) keep="$2"; shift 2 ;;
    --tree) tree="$2"; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed 's/^# \{0,1\}//; /^set -euo/d'; exit 0 ;;
    *) echo "callgrind.sh: unknown argument $1 (see --help)" >&2; exit 1 ;;
  esac
done

die() { echo "callgrind.sh: $*" >&2; exit 1; }
[ -z "$keep" ] || { mkdir -p "$keep" && keep=$(cd "$keep" && pwd); }
cd "$tree" || die "no folder $tree"
command -v valgrind >/dev/null || die "valgrind not found (apt-get install valgrind)"
command -v callgrind_annotate >/dev/null || die "callgrind_annotate not found (it comes with valgrind)"
/usr/bin/python3 -c 'import scapy' 2>/dev/null || die "scapy not found (apt-get install python3-scapy)"

if [ "$build" -eq 1 ]; then
  echo "== build (release) =="
  cargo build --release --locked --bin nat64-dpdk
fi
bin="${CARGO_TARGET_DIR:-target}/release/nat64-dpdk"
[ -x "$bin" ] || die "$bin not found (build it, or drop --no-build)"

# EAL's runtime folders of the runs (--file-prefix) go too.
prefix="nat64-cg-$$"
cleanup() {
  local d
  for d in /var/run/dpdk "${XDG_RUNTIME_DIR:-/tmp}/dpdk"; do
    rm -rf "$d/$prefix"-* 2>/dev/null || true
  done
  [ -n "$keep" ] || rm -rf "$tmp"
}
if [ -n "$keep" ]; then
  tmp=$keep
else
  tmp=$(mktemp -d /tmp/nat64-callgrind.XXXXXX)
fi
trap cleanup EXIT
trap 'exit 130' INT TERM

# net_pcap gives its ports the MACs 02:70:63:61:70:<n> in probe order
# (DPDK 22.11 drivers/net/pcap/pcap_ethdev.c); the gateways' MACs are fixed
# in the config, so no ARP or ND is needed.
IN_MAC=02:70:63:61:70:00
OUT_MAC=02:70:63:61:70:01
GW6_MAC=02:00:00:00:01:02
GW4_MAC=02:00:00:00:02:01
sessions=$(( flows < 1024 ? 4096 : flows * 4 ))

cat >"$tmp/cg.toml" <<EOF
[translation]
prefix = "2001:db8:64::/96"
[pool4]
addresses = ["203.0.113.0/24"]
block_size = 512
max_blocks_per_subscriber = 8
subscriber_prefix_len = 56
# Every flow's first packet takes a block: the protection against bursts
# of new subscribers would refuse most of an offline replay's.
block_allocations_per_second = 1000000
# Nor a cap on the sessions of one subscriber (a measurement, not a
# defence).
max_sessions_per_subscriber = 0
[inside]
device = "net_pcap0"
address = "2001:db8:1::1/64"
gateway = "2001:db8:1::2"
gateway_mac = "$GW6_MAC"
mtu = 1500
kernel_iface = "cg$$i"
[outside]
device = "net_pcap1"
address = "198.51.100.254/24"
gateway = "198.51.100.1"
gateway_mac = "$GW4_MAC"
mtu = 1500
kernel_iface = "cg$$o"
[workers]
burst = 32
mbufs_per_worker = 4096
max_sessions_per_worker = $sessions
[dns64]
enabled = false
[metrics]
listen = "127.0.0.1:0"
[logging]
level = "info"
events = "file:$tmp/events.log"
EOF

echo "== captures: $flows flows x $packets packets =="
/usr/bin/python3 - "$tmp" "$flows" "$packets" "$IN_MAC" "$GW6_MAC" <<'EOF'
import struct, sys
from scapy.all import IPv6, UDP, Ether, Raw, wrpcap
tmp, flows, packets, in_mac, gw_mac = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
frames = []
for i in range(flows):
    s = i
    src = "2001:db8:%x:%x::1" % (0xa000 | (s >> 8), (s & 0xff) << 8)
    p = Ether(dst=in_mac, src=gw_mac) / IPv6(src=src, dst="2001:db8:64::c000:201", hlim=64) / \
        UDP(sport=1024, dport=7000) / Raw(struct.pack("!I", i) + bytes(14))
    frames.append(p)
# Round robin: packet k of every flow before packet k + 1 of any.
wrpcap(tmp + "/requests.pcap", frames * packets)
# An empty capture (header only) for a port that receives nothing.
with open(tmp + "/empty.pcap", "wb") as f:
    f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
EOF
requests=$(( flows * packets ))

# One run of the binary: run NAME INSIDE_PCAP OUTSIDE_PCAP [wrapper...]
run() {
  local name=$1 in=$2 out=$3
  shift 3
  "$@" "$bin" -l 0,1 --no-pci --no-huge -m 512 --file-prefix "$prefix-$name" \
    --vdev "net_pcap0,rx_pcap=$in,tx_pcap=$tmp/$name.inside.pcap" \
    --vdev "net_pcap1,rx_pcap=$out,tx_pcap=$tmp/$name.outside.pcap" \
    -- --config "$tmp/cg.toml" --exit-after-idle 500 --no-exception-path \
    --counters "$tmp/$name.prom" >"$tmp/$name.log" 2>&1 </dev/null ||
    { tail -n 30 "$tmp/$name.log" >&2; die "run $name failed (log above)"; }
}

# The value of a counter line (labels as written), 0 when absent.
counter() { # file name{labels}
  awk -v k="$2" '$1 == k { v = $2 } END { print v + 0 }' "$1"
}

# Every request (and reply) translated, nothing dropped.
check() { # name replies
  local p="$tmp/$1.prom" t6 t4 drops
  [ -s "$p" ] || die "run $1 wrote no counters"
  t6=$(awk '$1 ~ /^nat64_translated_total\{/ && $1 ~ /dir="6to4"/ { s += $2 } END { print s + 0 }' "$p")
  t4=$(awk '$1 ~ /^nat64_translated_total\{/ && $1 ~ /dir="4to6"/ { s += $2 } END { print s + 0 }' "$p")
  drops=$(awk '$1 ~ /^nat64_(tx_full_|handoff_)?drops_total/ { s += $2 } END { print s + 0 }' "$p")
  if [ "$t6" -ne "$requests" ] || [ "$t4" -ne "$2" ] || [ "$drops" -ne 0 ]; then
    grep -E '^nat64_(translated|drops|tx_full_drops|handoff_drops|packets)_total' "$p" >&2 || true
    die "run $1: translated 6to4 $t6 of $requests, 4to6 $t4 of $2, drops $drops: the count would mean nothing"
  fi
}

echo "== plain run (for the replies) =="
run plain "$tmp/requests.pcap" "$tmp/empty.pcap"
check plain 0
replies=$(/usr/bin/python3 - "$tmp" "$OUT_MAC" "$GW4_MAC" <<'EOF'
import sys
from scapy.all import IP, UDP, Ether, Raw, rdpcap, wrpcap
tmp, out_mac, gw_mac = sys.argv[1], sys.argv[2], sys.argv[3]
replies = []
for f in rdpcap(tmp + "/plain.outside.pcap"):
    if IP not in f or UDP not in f:
        continue
    ip, udp = f[IP], f[UDP]
    replies.append(Ether(dst=out_mac, src=gw_mac) /
                   IP(src=ip.dst, dst=ip.src, ttl=64) /
                   UDP(sport=udp.dport, dport=udp.sport) / Raw(bytes(udp.payload)))
wrpcap(tmp + "/replies.pcap", replies)
print(len(replies))
EOF
)
[ "$replies" -eq "$requests" ] || die "$replies replies from $requests requests"

cg=(valgrind --tool=callgrind --fair-sched=yes)
echo "== callgrind: 6to4 =="
run 6to4 "$tmp/requests.pcap" "$tmp/empty.pcap" "${cg[@]}" --callgrind-out-file="$tmp/6to4.callgrind"
check 6to4 0
echo "== callgrind: 6to4 + 4to6 =="
run both "$tmp/requests.pcap" "$tmp/replies.pcap" "${cg[@]}" --callgrind-out-file="$tmp/both.callgrind"
check both "$replies"

# The inclusive cost of the function named $fn_name in a profile.
# callgrind_annotate lists a function once with its object (`[...]` at the
# end of the line): that line's inclusive count is the whole function with
# everything it calls or inlines (the same as collecting only inside it with
# --toggle-collect). Lines without an object are the shares of code inlined
# from other files, already part of it.
cost() { # profile
  local ann="$1.annotate" hits
  callgrind_annotate --inclusive=yes --auto=no --threshold=100 "$1" >"$ann" 2>/dev/null
  # `COUNT (PCT)  FILE:FUNCTION [OBJECT]` -> `COUNT<tab>FUNCTION`
  sed -nE 's/^ *([0-9,]+) \([ 0-9.]+%\)  [^: ]*:([^ ].*) \[[^]]*\]$/\1\t\2/p' "$ann" | tr -d , >"$ann.fns"
  hits=$(awk -F'\t' -v f="$fn_name" '$2 == f || substr($2, length($2) - length(f) - 1) == "::" f' "$ann.fns")
  if [ -z "$hits" ]; then
    # Renamed type or module: the same method name anywhere in the crate.
    local m=${fn_name##*::}
    hits=$(awk -F'\t' -v m="$m" '$2 ~ /^nat64_dpdk::/ && substr($2, length($2) - length(m) - 1) == "::" m' "$ann.fns")
    [ -n "$hits" ] && [ "$(printf '%s\n' "$hits" | wc -l)" -eq 1 ] &&
      echo "callgrind.sh: no $fn_name in the profile; counting $(printf '%s' "$hits" | cut -f2)" >&2
  fi
  case "$(printf '%s\n' "$hits" | grep -c .)" in
    1) printf '%s\n' "$hits" | cut -f1 ;;
    0) echo "callgrind.sh: no function named $fn_name in $1; the crate's biggest functions:" >&2
       grep -P '\tnat64_dpdk::' "$ann.fns" | head -n 20 >&2 || true
       die "pass the worker's per-burst function with --fn" ;;
    *) echo "callgrind.sh: several functions match $fn_name:" >&2
       printf '%s\n' "$hits" >&2
       die "pass a more specific --fn" ;;
  esac
}

c6=$(cost "$tmp/6to4.callgrind")
cb=$(cost "$tmp/both.callgrind")
echo "== $fn_name inclusive: $c6 (6to4 run, $requests requests), $cb (both, + $replies replies) =="
awk -v c6="$c6" -v cb="$cb" -v q="$requests" -v r="$replies" \
  'BEGIN { printf "6to4 %.0f instr/pkt, 4to6 %.0f instr/pkt\n", c6 / q, (cb - c6) / r }'
