# shellcheck shell=bash
# The lab pieces that scripts/demo.sh, scripts/soak.sh and
# scripts/bench-dns64.sh share: one copy of each. Sourced, not run:
#
#   . "$(dirname "$0")/lib/lab.sh"     (before any cd)
#
# Each function takes what differs between the scripts (namespaces,
# interfaces, addresses, ports, directories) as parameters. Those that
# start a process leave its PID in a global (named in their comment), so
# that the caller's cleanup can stop it; nothing here installs traps.

# in_client CMD...: CMD in the namespace $CLIENT_NS; in_server CMD...: in
# $SERVER_NS (both set by the sourcing script). Not for `&`: that forks a
# subshell, and killing it would leave CMD behind; use ip netns exec there.
in_client() { ip netns exec "$CLIENT_NS" "$@"; }
in_server() { ip netns exec "$SERVER_NS" "$@"; }

# lab_netns_create NS...: each network namespace afresh (one left over by
# an earlier run is deleted first), with its loopback up.
lab_netns_create() {
  local ns
  for ns in "$@"; do
    ip netns del "$ns" 2>/dev/null || true
    ip netns add "$ns"
    ip netns exec "$ns" ip link set lo up
  done
}

# lab_netns_delete NS...: whatever still runs in each namespace is killed
# and the namespace deleted. Never fails (for cleanups).
lab_netns_delete() {
  local ns
  for ns in "$@"; do
    ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null
    ip netns del "$ns" 2>/dev/null
  done
  return 0
}

# lab_hugepages MB: sets the array lab_mem to the EAL memory options:
# `-m MB --huge-unlink` when hugetlbfs is mounted on /dev/hugepages with
# MB free, else `--no-huge -m 512`. --huge-unlink removes the page files
# at once, so none is left behind in /dev/hugepages.
lab_hugepages() {
  local free_kb
  free_kb=$(awk '/^HugePages_Free:/ { f = $2 } /^Hugepagesize:/ { s = $2 } END { print f * s }' /proc/meminfo)
  if grep -qs ' /dev/hugepages hugetlbfs ' /proc/mounts && [ "$free_kb" -ge $(($1 * 1024)) ]; then
    lab_mem=(-m "$1" --huge-unlink)
  else
    lab_mem=(--no-huge -m 512)
  fi
}

# lab_nsd_conf DIR PORT EXTRA ZONE FILE [ZONE FILE]...: writes DIR/nsd.conf
# for an nsd on 127.0.0.1:PORT (IPv4 only, one server process, no chroot,
# no database, no remote control, its state, PID file and log in DIR)
# serving each ZONE from DIR/FILE. EXTRA: more server options, one a line
# ("" for none).
lab_nsd_conf() {
  local dir=$1 port=$2 extra=$3
  shift 3
  {
    cat <<EOF
server:
    ip-address: 127.0.0.1
    port: $port
    do-ip6: no
    server-count: 1
    username: ""
    chroot: ""
    database: ""
    zonesdir: "$dir"
    zonelistfile: "$dir/zone.list"
    pidfile: "$dir/nsd.pid"
    xfrdfile: "$dir/xfrd.state"
    xfrdir: "$dir"
    logfile: "$dir/nsd.log"
EOF
    [ -z "$extra" ] || printf '%s\n' "$extra" | sed 's/^/    /'
    printf '%s\n' "remote-control:" "    control-enable: no"
    while [ $# -ge 2 ]; do
      printf '%s\n' "zone:" "    name: \"$1.\"" "    zonefile: \"$2\""
      shift 2
    done
  } >"$dir/nsd.conf"
}

# lab_nsd_start DIR [WRAPPER...]: starts nsd in the foreground (-d) with
# DIR/nsd.conf, in the background, as the leader of a new session (its
# server processes go into its group), under WRAPPER (e.g. taskset -c 1)
# when given. Sets lab_nsd_pid; stop it with lab_nsd_stop.
lab_nsd_start() {
  local dir=$1 nsd
  shift
  nsd=$(command -v nsd || echo /usr/sbin/nsd)
  setsid "$@" "$nsd" -d -c "$dir/nsd.conf" >/dev/null 2>&1 &
  lab_nsd_pid=$!
}

# lab_zone_head ORIGIN ZONE: prints the start of a zone file for ORIGIN: a
# TTL, the SOA and the NS record, naming ns.ZONE. and hostmaster.ZONE.
lab_zone_head() {
  printf '%s\n' "\$ORIGIN $1." "\$TTL 300" \
    "@ 60 IN SOA ns.$2. hostmaster.$2. 1 3600 600 86400 30" "@ NS ns.$2."
}

# lab_nsd_up DIR PORT ZONE ADDR4 PTR HOST...: the DNS64's upstream: nsd
# on 127.0.0.1:PORT (files in DIR, created) serving ZONE, where ns and
# each HOST have one A record, ADDR4, and the reverse zone of ADDR4's /24,
# where ADDR4 points back to PTR.ZONE. Starts it (lab_nsd_start) and waits
# (10 s at most) until it answers; returns 1 with a message when it does
# not.
lab_nsd_up() {
  local dir=$1 port=$2 zone=$3 addr4=$4 ptr=$5 a b c d h
  shift 5
  IFS=. read -r a b c d <<<"$addr4"
  mkdir -p "$dir"
  {
    lab_zone_head "$zone" "$zone"
    for h in ns "$@"; do echo "$h A $addr4"; done
  } >"$dir/forward.zone"
  {
    lab_zone_head "$c.$b.$a.in-addr.arpa" "$zone"
    echo "$d PTR $ptr.$zone."
  } >"$dir/reverse.zone"
  lab_nsd_conf "$dir" "$port" "" "$zone" forward.zone "$c.$b.$a.in-addr.arpa" reverse.zone
  lab_nsd_start "$dir"
  for _ in $(seq 1 50); do
    dig +short +time=1 +tries=1 -p "$port" @127.0.0.1 SOA "$zone" | grep -q hostmaster && return 0
    sleep 0.2
  done
  echo "$(basename "$0"): nsd does not answer for $zone on 127.0.0.1:$port" >&2
  return 1
}

# lab_nsd_stop PID: stops the nsd lab_nsd_start started (its whole process
# group). Never fails (for cleanups).
lab_nsd_stop() {
  [ -n "$1" ] && kill -TERM -- "-$1" 2>/dev/null && wait "$1" 2>/dev/null
  return 0
}

# lab_box_start LOG BIN EAL_ARG... -- APP_ARG...: starts nat64-dpdk (BIN)
# in the background with its output in LOG, showing the command line (as
# set -x does). Sets lab_box_pid.
lab_box_start() {
  local log=$1
  shift
  set -x
  "$@" >"$log" 2>&1 &
  { set +x; } 2>/dev/null
  lab_box_pid=$!
}

# lab_box_wait PID LOG: waits (60 s at most) for the box's "forwarding:"
# log line, then prints LOG. Returns 1 when the line does not come (the
# process exited or the time ran out), after printing LOG and a message.
lab_box_wait() {
  for _ in $(seq 1 300); do
    grep -q "forwarding:" "$2" && break
    kill -0 "$1" 2>/dev/null || break
    sleep 0.2
  done
  cat "$2"
  grep -q "forwarding:" "$2" && return 0
  echo "$(basename "$0"): nat64-dpdk did not start forwarding (log above)" >&2
  return 1
}

# lab_box_stop PID: SIGINT to the box, SIGKILL when it has not exited 10 s
# later. Never fails (for cleanups).
lab_box_stop() {
  if [ -n "$1" ] && kill -0 "$1" 2>/dev/null; then
    kill -INT "$1"
    for _ in $(seq 1 100); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$1" 2>/dev/null
    wait "$1" 2>/dev/null
  fi
  return 0
}

# lab_tap_client NS IFACE MAC ADDR6/LEN PREFIX VIA6: moves the box's inside
# TAP interface IFACE into NS, IPv6 side: no router advertisements, MAC,
# ADDR6/LEN (no DAD), and the NAT64 PREFIX routed via the box (VIA6).
lab_tap_client() {
  ip link set "$2" netns "$1"
  ip netns exec "$1" sysctl -qw net.ipv6.conf.all.accept_ra=0
  ip netns exec "$1" ip link set "$2" address "$3" up
  ip netns exec "$1" ip addr add "$4" dev "$2" nodad
  ip netns exec "$1" ip -6 route add "$5" via "$6" dev "$2"
}

# lab_tap_server NS IFACE MAC ADDR4/LEN POOL VIA4: moves the box's outside
# TAP interface IFACE into NS, IPv4 only (IPv6 off): MAC, ADDR4/LEN, and
# the box's IPv4 POOL routed via the box (VIA4).
lab_tap_server() {
  ip link set "$2" netns "$1"
  ip netns exec "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
  ip netns exec "$1" ip link set "$2" address "$3" up
  ip netns exec "$1" ip addr add "$4" dev "$2"
  ip netns exec "$1" ip route add "$5" via "$6" dev "$2"
}
