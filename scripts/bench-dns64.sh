#!/usr/bin/env bash
# DNS64 benchmark: dnsperf against our responder (`nat64-dpdk -- --config
# <generated> --dns64-only`, release build) and against BIND 9 configured
# as a DNS64, same upstream, same CPU, same run.
#
#   scripts/bench-dns64.sh [--quick] [--seconds S] [--server-cpu N]
#                          [--client-cpu N] [--bin PATH] [--no-build]
#                          [--clients N] [--outstanding N]
#
# Setup, all on loopback:
#
#   dnsperf (--client-cpu) ──> ours  (--server-cpu) ──┐
#                         └──> named (--server-cpu) ──┴──> nsd (--client-cpu)
#
# nsd serves a generated zone, bench.example.: h1..h300 with one A record
# each (A-only names) and a wildcard `*.miss.bench.example.` A (every
# label under miss. is an A-only name). Ours and BIND (`named -n 1`, one
# worker thread; `dns64 64:ff9b::/96`, forwarding bench.example. only to
# nsd) both synthesize AAAA answers from those A records. They run one
# after the other, each alone on --server-cpu (taskset), with dnsperf and
# nsd on --client-cpu.
#
# Two query mixes, AAAA queries (each needs the AAAA NODATA and the A
# answer upstream, then synthesis):
#   hit:  the 300 names asked over and over, after a warm-up pass (what a
#         cache serves);
#   miss: unique names (rN.miss.bench.example., N counting up, different
#         for each server), each asked once: every query goes upstream.
#
# Before measuring, the answers of both to a sample (hit and miss names,
# AAAA and A) are compared with dig; a difference stops the script.
# Prints, per mix and server, QPS, lost queries, latency (dnsperf 2.10
# of Debian 12 prints average, min, max and stddev; it has no
# percentiles), the server's CPU use over the run (user + system time of
# all its threads, from /proc/PID/stat, as a share of the run: under 100 %
# means something else, dnsperf or nsd, was the bound) and queries per
# server CPU-second, the user and system CPU microseconds per query (on
# loopback the system share includes the kernel delivering each answer
# into dnsperf's socket, the same for both servers), and the ratios
# ours/BIND. Needs dnsperf (installed here
# with apt-get when missing), nsd, named (bind9) and dig (scripts/setup.sh).
set -euo pipefail
. "$(dirname "$0")/lib/lab.sh"

seconds=20
server_cpu=0
client_cpu=1
build=1
bin=""
clients=20
outstanding=200
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) seconds=5 ;;
    --seconds) seconds=$2; shift ;;
    --server-cpu) server_cpu=$2; shift ;;
    --client-cpu) client_cpu=$2; shift ;;
    --bin) bin=$2; build=0; shift ;;
    --no-build) build=0 ;;
    --clients) clients=$2; shift ;;
    --outstanding) outstanding=$2; shift ;;
    -h|--help) awk 'NR > 1 && !/^#/ { exit } NR > 1' "$0"; exit 0 ;;
    *) echo "bench-dns64.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done

root=$(cd "$(dirname "$0")/.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}
[ -n "$bin" ] || bin=$target/release/nat64-dpdk

if ! command -v dnsperf >/dev/null; then
  echo "bench-dns64.sh: installing dnsperf"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends dnsperf >/dev/null
fi
NAMED=$(command -v named || echo /usr/sbin/named)
for t in "$(command -v nsd || echo /usr/sbin/nsd)" "$NAMED"; do
  [ -x "$t" ] || { echo "bench-dns64.sh: $t missing: run scripts/setup.sh" >&2; exit 1; }
done
command -v dig >/dev/null || { echo "bench-dns64.sh: dig missing: run scripts/setup.sh" >&2; exit 1; }

if [ "$build" = 1 ]; then
  (cd "$root" && cargo build --release --bin nat64-dpdk)
fi
[ -x "$bin" ] || { echo "bench-dns64.sh: no binary at $bin (build it or pass --bin)" >&2; exit 1; }

dir=$(mktemp -d /tmp/bench-dns64.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  sleep 0.3
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  rm -rf "$dir"
}
trap cleanup EXIT

# Free loopback ports (UDP and TCP), from python3.
free_port() {
  python3 - <<'EOF'
import socket
while True:
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("127.0.0.1", 0))
    p = u.getsockname()[1]
    t = socket.socket(); 
    try:
        t.bind(("127.0.0.1", p)); print(p); break
    except OSError:
        pass
EOF
}
nsd_port=$(free_port); ours_port=$(free_port); bind_port=$(free_port)

# --- nsd and its zone ---------------------------------------------------
{
  echo '$ORIGIN bench.example.'
  echo '$TTL 3600'
  echo '@ 3600 IN SOA ns.bench.example. hostmaster.bench.example. 1 3600 600 86400 3600'
  echo '@ NS ns'
  echo 'ns A 192.0.2.53'
  for i in $(seq 1 300); do echo "h$i A 198.51.100.$((i % 250 + 1))"; done
  echo '*.miss A 203.0.113.1'
} > "$dir/bench.example.zone"
# nsd's response rate limiting (200 QPS per client by default) off: the
# DNS64s are its only clients.
lab_nsd_conf "$dir" "$nsd_port" $'verbosity: 1\nrrl-ratelimit: 0\nrrl-whitelist-ratelimit: 0' \
  bench.example bench.example.zone
lab_nsd_start "$dir" taskset -c "$client_cpu"
pids+=("$lab_nsd_pid")

# --- BIND as a DNS64 ----------------------------------------------------
mkdir -p "$dir/named"
cat > "$dir/named/named.conf" <<EOF
options {
    directory "$dir/named";
    pid-file "$dir/named/named.pid";
    session-keyfile "$dir/named/session.key";
    managed-keys-directory "$dir/named";
    listen-on port $bind_port { 127.0.0.1; };
    listen-on-v6 { none; };
    recursion yes;
    allow-query { any; };
    allow-recursion { any; };
    dnssec-validation no;
    notify no;
    querylog no;
    dns64 64:ff9b::/96 { clients { any; }; mapped { any; }; };
};
controls { };
logging { category default { null; }; category lame-servers { null; }; };
zone "bench.example" { type forward; forward only; forwarders { 127.0.0.1 port $nsd_port; }; };
EOF

# --- ours ---------------------------------------------------------------
python3 - "$root/config/cgn.toml" "$dir/ours.toml" "$ours_port" "$nsd_port" <<'EOF'
import re, sys
src, dst, port, up = sys.argv[1:]
section, out = None, []
for line in open(src):
    m = re.match(r"\s*\[+([a-z0-9_]+)\]+", line)
    if m:
        section = m.group(1)
    key = line.split("=")[0].strip() if "=" in line and not line.lstrip().startswith("#") else None
    if section == "translation" and key == "allow_non_global_ipv4":
        # The zone's addresses are documentation addresses, non-global
        # under RFC 6052 3.1; BIND synthesizes them (mapped { any; }).
        line = "allow_non_global_ipv4 = true\n"
    elif section == "dns64" and key == "listen":
        line = f'listen = ["127.0.0.1:{port}"]\n'
    elif section == "dns64" and key == "upstream":
        line = f'upstream = ["127.0.0.1:{up}"]\n'
    elif section == "dns64" and key == "rate_limit_qps":
        line = "rate_limit_qps = 0\n"
    elif section == "logging" and key == "level":
        line = 'level = "warn"\n'
    out.append(line)
open(dst, "w").write("".join(out))
EOF

start_ours() {
  taskset -c "$server_cpu" "$bin" -- --config "$dir/ours.toml" --dns64-only \
    >"$dir/ours.log" 2>&1 &
  ours_pid=$!
  pids+=("$ours_pid")
}
start_bind() {
  taskset -c "$server_cpu" "$NAMED" -g -4 -n 1 -c "$dir/named/named.conf" \
    >"$dir/named.log" 2>&1 &
  bind_pid=$!
  pids+=("$bind_pid")
}
stop() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }
wait_answer() { # port name type
  for _ in $(seq 1 100); do
    if dig +time=1 +tries=1 -p "$1" @127.0.0.1 "$2" "$3" +short 2>/dev/null | grep -q .; then
      return 0
    fi
    sleep 0.1
  done
  echo "bench-dns64.sh: nothing answers on port $1" >&2
  cat "$dir"/*.log >&2 || true
  exit 1
}

start_ours
start_bind
wait_answer "$nsd_port" ns.bench.example. A
wait_answer "$ours_port" h1.bench.example. AAAA
wait_answer "$bind_port" h1.bench.example. AAAA

# --- the answers must be equal ------------------------------------------
answers() { # port name type
  dig +time=2 +tries=1 -p "$1" @127.0.0.1 "$2" "$3" +noall +answer +comments |
    awk '/status:/ { for (i = 1; i <= NF; i++) if ($i == "status:") print "status", $(i + 1) }
         /^[^;]/ && NF >= 5 { print tolower($1), $4, $5 }' | sort
}
diffs=0
for n in h1 h2 h150 h300 sample1.miss sample2.miss; do
  for t in AAAA A; do
    o=$(answers "$ours_port" "$n.bench.example." "$t")
    b=$(answers "$bind_port" "$n.bench.example." "$t")
    if [ "$o" != "$b" ] || [ -z "$o" ]; then
      echo "bench-dns64.sh: answers differ for $n $t:" >&2
      echo "  ours: $o" >&2
      echo "  BIND: $b" >&2
      diffs=$((diffs + 1))
    fi
  done
done
[ "$diffs" = 0 ] || exit 1
echo "answers equal on the sample (6 names x AAAA, A)"

# --- query files --------------------------------------------------------
for i in $(seq 1 300); do echo "h$i.bench.example. AAAA"; done > "$dir/hit.txt"
# Enough unique names for 60k QPS over the run, per server.
nmiss=$((seconds * 60000))
awk -v n="$nmiss" 'BEGIN { for (i = 1; i <= n; i++) printf "o%d.miss.bench.example. AAAA\n", i }' > "$dir/miss-ours.txt"
awk -v n="$nmiss" 'BEGIN { for (i = 1; i <= n; i++) printf "b%d.miss.bench.example. AAAA\n", i }' > "$dir/miss-bind.txt"

# dnsperf MIX PORT FILE -> "qps lost avg_ms min_ms max_ms stddev_ms"
# CPU time of process $1 so far (all threads), in clock ticks: "user system".
cpu_ticks() { awk '{ print $14, $15 }' "/proc/$1/stat"; }
# perf MIX PORT FILE PID -> "qps lost avg_ms min_ms max_ms stddev_ms
# server_cpu_share qps_per_server_cpu_second user_us_per_query
# system_us_per_query"
perf() {
  local once=() u0 s0 u1 s1
  [ "$1" = miss ] && once=(-n 1)
  read -r u0 s0 <<<"$(cpu_ticks "$4")"
  taskset -c "$client_cpu" dnsperf -s 127.0.0.1 -p "$2" -d "$3" -l "$seconds" \
    -c "$clients" -q "$outstanding" "${once[@]}" > "$dir/perf.out" 2>&1 || true
  read -r u1 s1 <<<"$(cpu_ticks "$4")"
  awk -v user=$((u1 - u0)) -v sys=$((s1 - s0)) -v hz="$(getconf CLK_TCK)" \
      '/Queries completed:/ { done = $3 }
       /Queries lost:/ { lost = $3 }
       /Queries per second:/ { qps = $4 }
       /Run time \(s\):/ { run = $4 }
       /Average Latency/ { avg = $4; gsub(/[(,]/, "", $6); min = $6; gsub(/[),]/, "", $8); max = $8 }
       /Latency StdDev/ { sd = $4 }
       END { cpu = (user + sys) / hz
             printf "%.0f %s %.3f %.3f %.3f %.3f %.0f%% %.0f %.2f %.2f\n", qps, lost, avg * 1000, min * 1000,
                    max * 1000, sd * 1000, (run > 0 ? 100 * cpu / run : 0), (cpu > 0 ? done / cpu : 0),
                    (done > 0 ? 1e6 * user / hz / done : 0), (done > 0 ? 1e6 * sys / hz / done : 0) }' \
    "$dir/perf.out"
}

# Warm-up of the hit mix: every name once through each (both caches,
# BIND's A and negative AAAA, ours when it has one).
for p in "$ours_port" "$bind_port"; do
  taskset -c "$client_cpu" dnsperf -s 127.0.0.1 -p "$p" -d "$dir/hit.txt" -n 2 -c 4 >/dev/null 2>&1 || true
done

declare -A res
res[hit,ours]=$(perf hit "$ours_port" "$dir/hit.txt" "$ours_pid")
res[hit,bind]=$(perf hit "$bind_port" "$dir/hit.txt" "$bind_pid")
res[miss,ours]=$(perf miss "$ours_port" "$dir/miss-ours.txt" "$ours_pid")
res[miss,bind]=$(perf miss "$bind_port" "$dir/miss-bind.txt" "$bind_pid")

echo
echo "DNS64 benchmark: ${seconds}s per run, dnsperf -c $clients -q $outstanding on CPU $client_cpu,"
echo "servers alone on CPU $server_cpu, nsd upstream on CPU $client_cpu; AAAA queries"
fmt='%-5s %-5s %9s %7s %9s %9s %9s %9s %6s %11s %8s %8s\n'
printf "$fmt" mix server QPS lost avg_ms min_ms max_ms sd_ms cpu QPS/cpu-s usr_us/q sys_us/q
for mix in hit miss; do
  for s in ours bind; do
    read -r q l a mn mx sd c qc us ss <<<"${res[$mix,$s]}"
    printf "$fmt" "$mix" "$s" "$q" "$l" "$a" "$mn" "$mx" "$sd" "$c" "$qc" "$us" "$ss"
  done
done
for mix in hit miss; do
  read -r qo _ _ _ _ _ _ co uo <<<"${res[$mix,ours]}"
  read -r qb _ _ _ _ _ _ cb ub <<<"${res[$mix,bind]}"
  awk -v o="$qo" -v b="$qb" -v co="$co" -v cb="$cb" -v uo="$uo" -v ub="$ub" -v m="$mix" 'BEGIN {
    if (b > 0 && cb > 0) printf "%s: ours/BIND = %.2f (QPS), %.2f (QPS per server CPU-second)", m, o / b, co / cb
    if (uo > 0) printf ", BIND/ours = %.2f (user CPU per query)", ub / uo
    print "" }'
done
if ! grep -qE 'Cache::new|(super|dns64)::cache' "$root/src/dns64/server.rs"; then
  echo "note: src/dns64/server.rs has no answer cache wired yet: ours sends every query upstream in both mixes"
fi
