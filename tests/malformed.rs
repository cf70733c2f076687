//! Malformed traffic through the running dataplane (issue 15, item 8):
//! scapy in the client (IPv6) and the server (IPv4) namespaces writes raw
//! frames (`L2socket`, so that no kernel fixes them up) at the box's net_tap
//! ports: truncated headers at every layer, lengths that disagree with the
//! frame, bad checksums, IPv4 options, long and unknown IPv6 extension
//! header chains, tiny, overlapping, orphan and never completed fragments,
//! ICMP errors inside ICMP errors and with truncated inner packets, TTL /
//! hop limit 0 and 1, multicast and broadcast sources, frames the link
//! layer refuses (VLAN, ethertype, family, MAC), runt and jumbo frames.
//!
//! For each case the counters file is read before and after: exactly the
//! drop reasons the case names move (every other `nat64_drops_total`
//! series stays), a case that is not translated creates no session, and a
//! case the box handles shows the translation or reply it makes, with the
//! receiving kernel's own statistics (`/proc/net/snmp`, `snmp6`) saying
//! what arrived. After each batch a ping still goes through, the fragment
//! store is empty and the mbufs in use are back at their baseline.
//!
//! Deviation: a frame shorter than the Ethernet header cannot be sent
//! through a Linux interface (the kernel pads it to 14 bytes), so the
//! `runt` reason itself is left to the unit tests. Run as root with
//! `cargo test --features fuzzing --test malformed -- --test-threads=1`.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// The scapy driver: `iface box_mac me peer`; reads case names on
/// stdin, writes each case's frames raw on `iface` and answers
/// `sent NAME N` (an `error` line first for a frame the kernel refused).
const DRIVER_PY: &str = r##"
import sys
from scapy.all import (Ether, IP, IPv6, UDP, TCP, ICMP, ICMPv6EchoRequest,
    ICMPv6DestUnreach, IPv6ExtHdrDestOpt, IPv6ExtHdrFragment,
    IPv6ExtHdrHopByHop, IPv6ExtHdrRouting, IPOption_NOP, IPOption_RR,
    IPOption_LSRR, Dot1Q, conf, get_if_hwaddr)
conf.verb = 0
iface, box_mac, me, peer = sys.argv[1:5]
sock = conf.L2socket(iface=iface)
mac = get_if_hwaddr(iface)
def eth(t): return Ether(src=mac, dst=box_mac, type=t)
def cut(p, n): return bytes(p)[:n]
def v6(p): return eth(0x86dd) / p
def v4(p): return eth(0x0800) / p
def ip6(**k): return IPv6(src=me, dst=peer, **k)
def ip4(**k): return IP(src=me, dst=peer, **k)
def udp6(**k): return UDP(sport=9000, dport=9, **k)
def udp4(**k): return UDP(sport=9, dport=9000, **k)
def chain(n):
    p = ip6()
    for _ in range(n):
        p = p / IPv6ExtHdrDestOpt()
    return p / udp6() / b"chain"
def frag6(off, m, data, fid=0x15):
    return v6(ip6() / IPv6ExtHdrFragment(id=fid, offset=off, m=m, nh=17) / data)
def frag4(off, mf, data, fid=0x15):
    return v4(ip4(id=fid, flags="MF" if mf else 0, frag=off, proto=17) / data)
# First fragments of 48-byte UDP datagrams (a checksum, if not a right one:
# the datagrams never complete).
first6 = bytes(UDP(sport=9000, dport=9, len=8 + 40, chksum=0x1111)) + b"a" * 16
first4 = bytes(UDP(sport=9, dport=9000, len=8 + 40, chksum=0x1111)) + b"a" * 16
first4_zero = bytes(UDP(sport=9, dport=9000, len=8 + 40, chksum=0)) + b"a" * 16
CASES = {
    # inside: IPv6 from the client to the server's mapped address
    "runt6": lambda: [bytes(eth(0x86dd))[:10]],
    "eth_only6": lambda: [eth(0x86dd)],
    "ipv6_truncated": lambda: [v6(cut(ip6() / udp6(), 30))],
    "ipv6_plen_long": lambda: [v6(ip6(plen=200) / udp6() / (b"x" * 8))],
    "ipv6_plen_short": lambda: [v6(ip6(plen=4) / udp6() / (b"x" * 8))],
    "udp6_truncated": lambda: [v6(ip6(nh=17) / (b"\x23\x28" * 2))],
    "tcp6_truncated": lambda: [v6(ip6(nh=6) / (b"\x23\x29\x00\x09" + b"\x00" * 6))],
    "icmp6_truncated": lambda: [v6(ip6(nh=58) / b"\x80\x00")],
    "udp6_bad_checksum": lambda: [v6(ip6() / udp6(chksum=0x1234) / b"hello")],
    "tcp6_bad_checksum": lambda: [v6(ip6() / TCP(sport=9001, dport=9, flags="S", chksum=0x1234))],
    "icmp6_bad_checksum": lambda: [v6(ip6() / ICMPv6EchoRequest(id=0x77, cksum=0x1234))],
    "ext_chain_long": lambda: [v6(chain(12))],
    "ext_unknown": lambda: [v6(ip6(nh=143) / (b"\x11\x00" + b"\x00" * 6) / udp6())],
    "frag6_tiny": lambda: [frag6(0, 1, b"\x23\x28\x00\x09", 0x61)],
    "frag6_overlap": lambda: [frag6(0, 1, first6, 0x62), frag6(1, 1, b"b" * 16, 0x62)],
    "frag6_incomplete": lambda: [frag6(0, 1, first6, 0x63)],
    "frag6_orphan": lambda: [frag6(3, 1, b"c" * 16, 0x64)],
    "ipv6_trailer": lambda: [v6(ip6() / udp6() / b"t") / (b"\xee" * 20)],
    "ipv6_routing_left": lambda: [v6(ip6() / IPv6ExtHdrRouting(addresses=["2001:db8:1::9"], segleft=1) / udp6())],
    "ipv6_hop_by_hop": lambda: [v6(ip6() / IPv6ExtHdrHopByHop() / udp6() / b"hbh")],
    "hlim1_on_error": lambda: [v6(ip6(hlim=1) / ICMPv6DestUnreach(code=4)
        / IPv6(src=peer, dst=me) / UDP(sport=9, dport=9000))],
    "icmp6_error_in_error": lambda: [v6(ip6() / ICMPv6DestUnreach(code=4)
        / IPv6(src=peer, dst=me) / ICMPv6DestUnreach(code=4) / IPv6(src=me, dst=peer) / udp6())],
    "icmp6_error_truncated_inner": lambda: [v6(ip6() / ICMPv6DestUnreach(code=4)
        / cut(IPv6(src=peer, dst=me) / UDP(sport=9, dport=9000), 20))],
    "hlim0": lambda: [v6(ip6(hlim=0) / udp6() / b"h0")],
    "hlim1": lambda: [v6(ip6(hlim=1) / udp6() / b"h1")],
    "mcast_src6": lambda: [v6(IPv6(src="ff0e::1", dst=peer) / udp6())],
    "group_src_mac6": lambda: [Ether(src="01:00:5e:00:00:01", dst=box_mac) / ip6() / udp6()],
    "vlan6": lambda: [Ether(src=mac, dst=box_mac) / Dot1Q(vlan=7) / ip6() / udp6()],
    "ethertype_unknown6": lambda: [eth(0x88b5) / (b"\x00" * 46)],
    "ipv4_on_inside": lambda: [v4(IP(src="192.0.2.9", dst="192.0.2.1") / udp6())],
    "other_mac6": lambda: [Ether(src=mac, dst="02:00:5e:64:01:99") / ip6() / udp6()],
    "jumbo6": lambda: [v6(ip6() / udp6() / (b"j" * 8900))],
    # outside: IPv4 from the server to the static pool address
    "runt4": lambda: [bytes(eth(0x0800))[:10]],
    "eth_only4": lambda: [eth(0x0800)],
    "ipv4_truncated": lambda: [v4(cut(ip4() / udp4(), 12))],
    "ipv4_ihl_short": lambda: [v4(ip4(ihl=4) / udp4() / (b"x" * 8))],
    "ipv4_len_long": lambda: [v4(ip4(len=200) / udp4() / (b"x" * 8))],
    "ipv4_len_below_header": lambda: [v4(ip4(len=10) / udp4() / (b"x" * 8))],
    "ipv4_bad_header_checksum": lambda: [v4(ip4(chksum=0x1234) / udp4() / b"x")],
    "udp4_truncated": lambda: [v4(ip4(proto=17) / (b"\x00\x09\x23\x28"))],
    "tcp4_truncated": lambda: [v4(ip4(proto=6) / (b"\x00\x09\x23\x29" + b"\x00" * 6))],
    "icmp4_truncated": lambda: [v4(ip4(proto=1) / b"\x08\x00")],
    "udp4_bad_checksum": lambda: [v4(ip4() / udp4(chksum=0x1234) / b"hello")],
    "tcp4_bad_checksum": lambda: [v4(ip4() / TCP(sport=9, dport=9001, flags="S", chksum=0x1234))],
    "icmp4_bad_checksum": lambda: [v4(ip4() / ICMP(type=8, id=0x77, chksum=0x1234))],
    "ipv4_record_route": lambda: [v4(ip4(options=[IPOption_RR(routers=["0.0.0.0"])]) / udp4() / b"rr")],
    "ipv4_lsrr": lambda: [v4(ip4(options=[IPOption_LSRR(routers=["198.51.100.9"])]) / udp4() / b"sr")],
    "frag4_tiny": lambda: [frag4(0, 1, b"\x00\x09\x23\x28", 0x41)],
    "frag4_overlap": lambda: [frag4(0, 1, first4, 0x42), frag4(1, 1, b"b" * 16, 0x42)],
    "frag4_incomplete": lambda: [frag4(0, 1, first4, 0x43)],
    "frag4_udp_checksum_zero": lambda: [frag4(0, 1, first4_zero, 0x44)],
    "frag4_orphan": lambda: [frag4(3, 1, b"c" * 16, 0x45)],
    "ipv4_trailer": lambda: [v4(ip4() / udp4() / b"t") / (b"\xee" * 20)],
    "ipv4_options_40": lambda: [v4(ip4(options=[IPOption_NOP()] * 40) / udp4() / b"nop")],
    "ttl1_on_error": lambda: [v4(ip4(ttl=1) / ICMP(type=3, code=3)
        / IP(src=peer, dst=me) / UDP(sport=9000, dport=9))],
    "icmp4_error_in_error": lambda: [v4(ip4() / ICMP(type=3, code=1)
        / IP(src=peer, dst=me) / ICMP(type=3, code=1) / IP(src=me, dst=peer) / udp4())],
    "icmp4_error_truncated_inner": lambda: [v4(ip4() / ICMP(type=3, code=3)
        / cut(IP(src=peer, dst=me) / UDP(sport=9000, dport=9), 16))],
    "ttl0": lambda: [v4(ip4(ttl=0) / udp4() / b"t0")],
    "ttl1": lambda: [v4(ip4(ttl=1) / udp4() / b"t1")],
    "bcast_src4": lambda: [v4(IP(src="255.255.255.255", dst=peer) / udp4())],
    "mcast_src4": lambda: [v4(IP(src="224.0.0.1", dst=peer) / udp4())],
    "group_src_mac4": lambda: [Ether(src="01:00:5e:00:00:01", dst=box_mac) / ip4() / udp4()],
    "ipv6_on_outside": lambda: [v6(IPv6(src="2001:db8:9::1", dst="2001:db8:9::2") / udp4())],
    "jumbo4": lambda: [v4(ip4() / udp4() / (b"j" * 8900))],
}
for line in sys.stdin:
    name = line.strip()
    n = 0
    for f in CASES[name]():
        try:
            sock.send(bytes(f))
            n += 1
        except OSError as e:
            print("error %s %s" % (name, e), flush=True)
    print("sent %s %d" % (name, n), flush=True)
"##;

/// Where a case's effect shows in a kernel's own statistics.
#[derive(Clone, Copy)]
enum Host {
    /// The peer namespace's counter (group, field; "" = /proc/net/snmp6)
    /// moves by one: the packet was translated and reached it.
    Peer(&'static str, &'static str),
    /// The sender's namespace counter moves by one: the box answered.
    Sender(&'static str, &'static str),
}

/// One malformed input and what the box must do with it.
struct Case {
    name: &'static str,
    /// `layer/reason` of each drop it causes (a reason twice: two drops);
    /// every other `nat64_drops_total` series must stay.
    drops: &'static [&'static str],
    /// Other counters and how much each moves.
    moves: &'static [(&'static str, f64)],
    host: Option<Host>,
}

const fn dropped(name: &'static str, drops: &'static [&'static str]) -> Case {
    Case {
        name,
        drops,
        moves: &[],
        host: None,
    }
}

const T64: &str = "nat64_translated_total{dir=\"6to4\"}";
const T46: &str = "nat64_translated_total{dir=\"4to6\"}";
const REPLIED: &str = "nat64_replies_total";
const SESSIONS: &str = "nat64_sessions_created_total";
const HELD: &str = "nat64_fragments_total{event=\"held\"}";
const TRACKED: &str = "nat64_fragments_total{event=\"tracked\"}";

/// Drop reasons the namespaces' own kernels cause now and then (neighbour
/// solicitations and ARP requests about other addresses on the link, and
/// the multicast listener reports and router solicitations that the
/// exception path's allow list keeps from the box's kernel): not
/// compared, as no case here causes them.
const BACKGROUND: &[&str] = &[
    "l2/nd_not_for_us",
    "l2/arp_not_for_us",
    "dataplane/kernel_not_allowed",
];

/// The scapy driver running in one namespace.
struct Driver {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Driver {
    fn start(
        lab: &Lab,
        ns: &Netns,
        side: &str,
        iface: &str,
        box_ip: &str,
        me: &str,
        peer: &str,
    ) -> Driver {
        // The box's MAC, as the namespace's kernel learnt it.
        ns.ok(&format!("ping -n -c 1 -W 3 {box_ip} >/dev/null"));
        let mac = ns.ok(&format!(
            "ip neigh show {box_ip} dev {iface} | awk '{{print $3}}'"
        ));
        let py = lab.file(&format!("driver_{side}.py"), DRIVER_PY.as_bytes());
        let mut child = Command::new("ip")
            .args(["netns", "exec", &ns.name, "/usr/bin/python3", "-u"])
            .arg(&py)
            .args([iface, mac.trim(), me, peer])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn the scapy driver");
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        Driver {
            child,
            stdin,
            stdout,
        }
    }

    /// Sends case `name`; the number of frames written.
    fn send(&mut self, name: &str) -> u64 {
        writeln!(self.stdin, "{name}").expect("driver stdin");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let mut line = String::new();
            let n = self.stdout.read_line(&mut line).expect("driver stdout");
            assert!(
                n > 0 && Instant::now() < deadline,
                "the scapy driver died on {name}"
            );
            if let Some(rest) = line.trim().strip_prefix(&format!("sent {name} ")) {
                return rest.parse().unwrap();
            }
            eprintln!("driver: {}", line.trim());
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The value of one `nat64_drops_total` series key for `layer/reason`.
fn drop_key(lr: &str) -> String {
    let (layer, reason) = lr.split_once('/').expect("layer/reason");
    format!("nat64_drops_total{{layer=\"{layer}\",reason=\"{reason}\"}}")
}

/// Reads `ns`'s kernel counter (`group` "" = snmp6).
fn snmp(ns: &Netns, (group, field): (&str, &str)) -> u64 {
    ns.snmp(group, field)
}

/// Runs `cases` through `driver`, one at a time, comparing the counters
/// around each; the failures, one line each.
fn run_cases(
    lab: &Lab,
    driver: &mut Driver,
    sender: &Netns,
    peer: &Netns,
    cases: &[Case],
) -> Vec<String> {
    let mut failures = Vec::new();
    let mut before = lab.nat.counters_fresh();
    for case in cases {
        let host = case.host.map(|h| match h {
            Host::Peer(g, f) => (peer, (g, f)),
            Host::Sender(g, f) => (sender, (g, f)),
        });
        let host_before = host.map(|(ns, q)| snmp(ns, q));
        let sent = driver.send(case.name);
        let mut after = lab.nat.counters_fresh();
        // Wait for the counters to move (the dataplane polls; the control
        // thread writes the file every 100 ms).
        let deadline = Instant::now() + Duration::from_secs(2);
        while after.values == before.values && Instant::now() < deadline {
            after = lab.nat.counters_fresh();
        }
        let mut want: std::collections::BTreeMap<String, f64> = Default::default();
        for d in case.drops {
            *want.entry(drop_key(d)).or_default() += 1.0;
        }
        let mut msg = Vec::new();
        if sent == 0 {
            msg.push("no frame sent".to_string());
        }
        for (k, v) in &after.values {
            let delta = v - before.values.get(k).copied().unwrap_or(0.0);
            if k.starts_with("nat64_drops_total{") && !BACKGROUND.iter().any(|b| *k == drop_key(b))
            {
                let w = want.get(k).copied().unwrap_or(0.0);
                if delta != w {
                    msg.push(format!("{k} moved {delta}, expected {w}"));
                }
            }
        }
        // A packet that is not translated takes no state (a session under
        // one of the static BIB entries would outlive it).
        let translated = case.moves.iter().any(|(q, _)| *q == T64 || *q == T46);
        let created = after.get(SESSIONS) - before.get(SESSIONS);
        if !translated && created != 0.0 {
            msg.push(format!("{created} sessions created"));
        }
        for (q, w) in case.moves {
            let delta = after.get(q) - before.get(q);
            if delta != *w {
                msg.push(format!("{q} moved {delta}, expected {w}"));
            }
        }
        if let (Some((ns, q)), Some(b)) = (host, host_before) {
            // The receiving kernel may take a moment.
            let deadline = Instant::now() + Duration::from_secs(2);
            let mut got = snmp(ns, q);
            while got == b && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(100));
                got = snmp(ns, q);
            }
            if got != b + 1 {
                msg.push(format!(
                    "{} {} {} moved {}, expected 1",
                    ns.name,
                    q.0,
                    q.1,
                    got - b
                ));
            }
        }
        let others: Vec<String> = after
            .values
            .iter()
            .filter(|(k, v)| {
                [
                    "nat64_translated",
                    "nat64_replies",
                    "nat64_fragments_total",
                    "nat64_sessions_created",
                ]
                .iter()
                .any(|p| k.starts_with(p))
                    && **v != before.values.get(*k).copied().unwrap_or(0.0)
            })
            .map(|(k, v)| format!("{k}+{}", v - before.values.get(k).copied().unwrap_or(0.0)))
            .collect();
        eprintln!(
            "case {}: sent {sent}; {} {:?}",
            case.name,
            if msg.is_empty() { "ok" } else { "FAILED" },
            others
        );
        if !msg.is_empty() {
            failures.push(format!("{}: {}", case.name, msg.join("; ")));
        }
        before = after;
    }
    failures
}

/// Waits (10 s at most) for the box to settle after a batch: the
/// never-completed datagrams expired (`timeouts.fragment`, 2 s here: the
/// fragment store is empty) and the mbufs in use back at `baseline` (the
/// held fragments' buffers freed, nothing leaked on a drop path).
fn assert_settled(lab: &Lab, baseline: f64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let c = lab.nat.counters_fresh();
        let (mbufs, datagrams) = (
            c.get("nat64_mbufs_in_use"),
            c.get("nat64_fragment_datagrams"),
        );
        if mbufs <= baseline && datagrams == 0.0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "mbufs in use {mbufs} (baseline {baseline}), datagrams in the fragment store {datagrams}:\n{}",
            c.dump()
        );
    }
}

/// The static pool address the server's packets are sent to.
const STATIC4: &str = "203.0.113.1";

/// The lab: static BIB entries on the client's ports 9000 (UDP), 9001
/// (TCP) and ICMP identifier 0x77, so that packets from the server reach
/// the client; both TAPs take 9000-byte frames (the jumbo cases).
fn lab() -> Option<Lab> {
    let lab = Lab::start(Setup {
        static_bib: vec![
            (
                "udp",
                format!("[{CLIENT6}]:9000"),
                format!("{STATIC4}:9000"),
            ),
            (
                "tcp",
                format!("[{CLIENT6}]:9001"),
                format!("{STATIC4}:9001"),
            ),
            ("icmp", format!("[{CLIENT6}]:119"), format!("{STATIC4}:119")),
        ],
        ..Setup::default()
    })?;
    lab.client
        .ok(&format!("ip link set {} mtu 9000", lab.client_if));
    lab.server
        .ok(&format!("ip link set {} mtu 9000", lab.server_if));
    Some(lab)
}

/// A normal exchange after a batch: pings through the box both ways.
fn assert_alive(lab: &Lab) {
    lab.client
        .ok(&format!("ping -6 -n -c 2 -i 0.2 -W 3 {}", mapped(SERVER4)));
}

fn run_side(inside: bool, cases: &[Case]) {
    let Some(mut lab) = lab() else {
        return;
    };
    let started = Instant::now();
    assert_alive(&lab);
    let baseline = lab.nat.counters_fresh().get("nat64_mbufs_in_use");
    let mut driver = if inside {
        Driver::start(
            &lab,
            &lab.client,
            "inside",
            &lab.client_if,
            &BOX6.to_string(),
            &CLIENT6.to_string(),
            &mapped(SERVER4).to_string(),
        )
    } else {
        Driver::start(
            &lab,
            &lab.server,
            "outside",
            &lab.server_if,
            &BOX4.to_string(),
            &SERVER4.to_string(),
            STATIC4,
        )
    };
    let (sender, peer) = if inside {
        (&lab.client, &lab.server)
    } else {
        (&lab.server, &lab.client)
    };
    let failures = run_cases(&lab, &mut driver, sender, peer, cases);
    drop(driver);
    assert_alive(&lab);
    assert_settled(&lab, baseline);
    let c = lab.stop();
    eprintln!("{} cases in {:?}", cases.len(), started.elapsed());
    assert!(
        failures.is_empty(),
        "{}\ncounters:\n{}",
        failures.join("\n"),
        c.dump()
    );
}

#[test]
fn malformed_ipv6_from_the_inside() {
    run_side(true, INSIDE);
}

#[test]
fn malformed_ipv4_from_the_outside() {
    run_side(false, OUTSIDE);
}

const INSIDE: &[Case] = &[
    // A frame shorter than its Ethernet header cannot leave a Linux
    // interface: the kernel pads it to 14 bytes (`dev_validate_header`),
    // so the box sees ethertype 0 (the `runt` counter is the unit tests').
    dropped("runt6", &["l2/unknown_ethertype"]),
    dropped("eth_only6", &["l2/bad_ipv6"]),
    dropped("ipv6_truncated", &["l2/bad_ipv6"]),
    dropped("ipv6_plen_long", &["l2/bad_ipv6"]),
    dropped("ipv6_plen_short", &["xlat/truncated"]),
    dropped("udp6_truncated", &["xlat/truncated"]),
    dropped("tcp6_truncated", &["xlat/truncated"]),
    dropped("icmp6_truncated", &["xlat/truncated"]),
    // A stateful NAT64 adjusts transport checksums incrementally (RFC 7915
    // §5.1 / RFC 1624) and never verifies them: a bad one stays bad, and
    // the receiving kernel counts it.
    Case {
        name: "udp6_bad_checksum",
        drops: &[],
        moves: &[(T64, 1.0)],
        host: Some(Host::Peer("Udp", "InCsumErrors")),
    },
    Case {
        name: "tcp6_bad_checksum",
        drops: &[],
        moves: &[(T64, 1.0)],
        host: Some(Host::Peer("Tcp", "InCsumErrors")),
    },
    Case {
        name: "icmp6_bad_checksum",
        drops: &[],
        moves: &[(T64, 1.0)],
        host: Some(Host::Peer("Icmp", "InCsumErrors")),
    },
    dropped("ext_chain_long", &["xlat/bad_extension_header"]),
    dropped("ext_unknown", &["xlat/unknown_protocol"]),
    // RFC 7112 / RFC 6146 §3.4: a first fragment without the whole
    // transport header has no ports to map.
    dropped("frag6_tiny", &["xlat/first_fragment_short"]),
    // The first fragment is translated (RFC 6146 §3.4), the one overlapping
    // it refused.
    Case {
        name: "frag6_overlap",
        drops: &["nat64/fragment_overlap"],
        moves: &[(TRACKED, 1.0), (T64, 1.0)],
        host: None,
    },
    Case {
        name: "frag6_incomplete",
        drops: &[],
        moves: &[(TRACKED, 1.0), (T64, 1.0)],
        host: None,
    },
    // RFC 7915 §5.3: an ICMPv6 error quoting an error is not translated.
    dropped("icmp6_error_in_error", &["xlat/icmp_inner_bad"]),
    dropped("icmp6_error_truncated_inner", &["xlat/icmp_inner_bad"]),
    // RFC 7915 §5.1 / RFC 4443 §3.3: hop limit 0 or 1 cannot be forwarded:
    // ICMPv6 Time Exceeded to the sender.
    Case {
        name: "hlim0",
        drops: &[],
        moves: &[(REPLIED, 1.0)],
        host: Some(Host::Sender("", "Icmp6InTimeExcds")),
    },
    Case {
        name: "hlim1",
        drops: &[],
        moves: &[(REPLIED, 1.0)],
        host: Some(Host::Sender("", "Icmp6InTimeExcds")),
    },
    // RFC 4291 §2.7: never a source address.
    dropped("mcast_src6", &["l2/bad_ipv6"]),
    // A fragment before its first: held (its mbuf parked) until the first
    // comes or `timeouts.fragment` passes (then freed: `assert_settled`).
    Case {
        name: "frag6_orphan",
        drops: &[],
        moves: &[(HELD, 1.0), (TRACKED, 1.0)],
        host: None,
    },
    // Bytes after the payload length are link padding: trimmed, and the
    // datagram reaches the server (no socket on its port).
    Case {
        name: "ipv6_trailer",
        drops: &[],
        moves: &[(T64, 1.0)],
        host: Some(Host::Peer("Udp", "NoPorts")),
    },
    // RFC 7915 §5.1: a Routing header with Segments Left != 0 is not
    // translated; ICMPv6 Parameter Problem to the sender.
    Case {
        name: "ipv6_routing_left",
        drops: &[],
        moves: &[(REPLIED, 1.0)],
        host: Some(Host::Sender("", "Icmp6InParmProblems")),
    },
    // RFC 7915 §5.1: other extension headers are skipped; translated.
    Case {
        name: "ipv6_hop_by_hop",
        drops: &[],
        moves: &[(T64, 1.0)],
        host: Some(Host::Peer("Udp", "NoPorts")),
    },
    // RFC 4443 §2.4 (e): no Time Exceeded for an error.
    dropped("hlim1_on_error", &["xlat/ttl_expired_on_error"]),
    dropped("group_src_mac6", &["l2/bad_src_mac"]),
    dropped("vlan6", &["l2/unknown_vlan"]),
    dropped("ethertype_unknown6", &["l2/unknown_ethertype"]),
    dropped("ipv4_on_inside", &["l2/wrong_family"]),
    dropped("other_mac6", &["l2/not_for_us"]),
    // 9000 bytes do not fit the mbufs net_tap receives into: the port
    // refuses the frame (a receive error), before any worker sees it.
    Case {
        name: "jumbo6",
        drops: &[],
        moves: &[("nat64_port_rx_errors_total{port=\"inside\"}", 1.0)],
        host: None,
    },
];

const OUTSIDE: &[Case] = &[
    // Padded by the sending kernel, as `runt6`.
    dropped("runt4", &["l2/unknown_ethertype"]),
    dropped("eth_only4", &["l2/bad_ipv4"]),
    dropped("ipv4_truncated", &["l2/bad_ipv4"]),
    dropped("ipv4_ihl_short", &["l2/bad_ipv4"]),
    dropped("ipv4_len_long", &["l2/bad_ipv4"]),
    dropped("ipv4_len_below_header", &["l2/bad_ipv4"]),
    dropped("ipv4_bad_header_checksum", &["xlat/bad_ipv4_checksum"]),
    dropped("udp4_truncated", &["xlat/truncated"]),
    dropped("tcp4_truncated", &["xlat/truncated"]),
    dropped("icmp4_truncated", &["xlat/truncated"]),
    // Checksums adjusted, never verified (as the IPv6 side).
    Case {
        name: "udp4_bad_checksum",
        drops: &[],
        moves: &[(T46, 1.0)],
        host: Some(Host::Peer("", "Udp6InCsumErrors")),
    },
    Case {
        name: "tcp4_bad_checksum",
        drops: &[],
        moves: &[(T46, 1.0)],
        host: Some(Host::Peer("Tcp", "InCsumErrors")),
    },
    Case {
        name: "icmp4_bad_checksum",
        drops: &[],
        moves: &[(T46, 1.0)],
        host: Some(Host::Peer("", "Icmp6InCsumErrors")),
    },
    // RFC 7915 §4.1: options other than an unexpired source route are
    // ignored; the datagram reaches the client (no socket on its port).
    Case {
        name: "ipv4_record_route",
        drops: &[],
        moves: &[(T46, 1.0)],
        host: Some(Host::Peer("", "Udp6NoPorts")),
    },
    // RFC 7915 §4.1: an unexpired source route: dropped, answered with
    // Destination Unreachable / Source Route Failed (3/5).
    Case {
        name: "ipv4_lsrr",
        drops: &[],
        moves: &[(REPLIED, 1.0)],
        host: Some(Host::Sender("Icmp", "InDestUnreachs")),
    },
    dropped("frag4_tiny", &["xlat/first_fragment_short"]),
    Case {
        name: "frag4_overlap",
        drops: &["nat64/fragment_overlap"],
        moves: &[(TRACKED, 1.0), (T46, 1.0)],
        host: None,
    },
    Case {
        name: "frag4_incomplete",
        drops: &[],
        moves: &[(TRACKED, 1.0), (T46, 1.0)],
        host: None,
    },
    // RFC 7915 §4.5: a fragmented UDP datagram with checksum 0 cannot be
    // given one.
    dropped("frag4_udp_checksum_zero", &["xlat/udp_checksum_zero"]),
    // RFC 7915 §4.3: an ICMPv4 error quoting an error is not translated.
    dropped("icmp4_error_in_error", &["xlat/icmp_inner_bad"]),
    dropped("icmp4_error_truncated_inner", &["xlat/icmp_inner_bad"]),
    // RFC 7915 §4.1 / RFC 1812 §5.3.1: TTL 0 or 1: Time Exceeded.
    Case {
        name: "ttl0",
        drops: &[],
        moves: &[(REPLIED, 1.0)],
        host: Some(Host::Sender("Icmp", "InTimeExcds")),
    },
    Case {
        name: "ttl1",
        drops: &[],
        moves: &[(REPLIED, 1.0)],
        host: Some(Host::Sender("Icmp", "InTimeExcds")),
    },
    // RFC 7915 §4.1 "Source Address" / RFC 1812 §5.3.7.
    dropped("bcast_src4", &["xlat/martian_source"]),
    dropped("mcast_src4", &["xlat/martian_source"]),
    Case {
        name: "frag4_orphan",
        drops: &[],
        moves: &[(HELD, 1.0), (TRACKED, 1.0)],
        host: None,
    },
    Case {
        name: "ipv4_trailer",
        drops: &[],
        moves: &[(T46, 1.0)],
        host: Some(Host::Peer("", "Udp6NoPorts")),
    },
    // RFC 7915 §4.1: 40 bytes of options (no source route) are ignored.
    Case {
        name: "ipv4_options_40",
        drops: &[],
        moves: &[(T46, 1.0)],
        host: Some(Host::Peer("", "Udp6NoPorts")),
    },
    // RFC 1812 §4.3.2.7: no Time Exceeded for an error.
    dropped("ttl1_on_error", &["xlat/ttl_expired_on_error"]),
    dropped("group_src_mac4", &["l2/bad_src_mac"]),
    dropped("ipv6_on_outside", &["l2/wrong_family"]),
    Case {
        name: "jumbo4",
        drops: &[],
        moves: &[("nat64_port_rx_errors_total{port=\"outside\"}", 1.0)],
        host: None,
    },
];
