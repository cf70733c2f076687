//! RFC 6146 §3.4-§3.8 tests of the whole worker pipeline. Inputs are built
//! and outputs checked with etherparse (an independent implementation):
//! addresses, ports, checksums, the action and the counter. The clock is
//! the `now` argument.

use super::*;
use crate::nat64::live::LiveSettings;
use crate::nat64::pool4::PoolLayout;
use crate::nat64::tcp;
use crate::nat64::{subscriber_worker, BlockEventKind};
use crate::nat64::{TcpState, L4};
use crate::xlat::DropReason;
use etherparse::{
    icmpv4, icmpv6, Icmpv4Header, Icmpv4Slice, Icmpv4Type, Icmpv6Header, Icmpv6Slice, Icmpv6Type,
    NetHeaders, PacketBuilder, PacketHeaders, TransportHeader,
};
use proptest::prelude::*;
use std::net::Ipv6Addr;

const HEADROOM: usize = 128;

/// The IPv6 client X' (subscriber 2001:db8:1::/56 -> 2001:db8:1:0::/56).
fn x6() -> Ipv6Addr {
    "2001:db8:1::10".parse().unwrap()
}
/// Another host of another subscriber.
fn x6b() -> Ipv6Addr {
    "2001:db8:2::20".parse().unwrap()
}
/// The IPv4 server Y.
const Y4: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 7);
/// A second IPv4 host.
const Z4: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 9);
/// A router on the IPv4 side.
const R4: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 1);
/// The network-specific prefix most tests use.
const NSP: &str = "2001:db8:64::/96";

fn pfx() -> Nat64Prefix {
    NSP.parse().unwrap()
}
fn y6() -> Ipv6Addr {
    pfx().embed(Y4)
}

/// Knobs of the test configuration.
struct Opts {
    prefix: &'static str,
    allow_non_global: bool,
    adf: bool,
    drop_ext: bool,
    pool: &'static str,
    port_range: &'static str,
    block_size: u32,
    max_blocks: u32,
    sessions: u32,
    static_bib: &'static str,
    /// `inside.subscribers` as TOML; empty: the key absent (any source).
    subscribers: &'static str,
    block_rate: u32,
    /// `pool4.max_sessions_per_subscriber`.
    session_cap: u32,
    /// `filtering.max_inbound_sessions_per_mapping`.
    inbound_cap: u32,
    /// `pool4.max_blocks_per_aggregate`.
    aggregate_cap: u32,
}

impl Default for Opts {
    fn default() -> Self {
        Opts {
            prefix: NSP,
            allow_non_global: false,
            adf: false,
            drop_ext: false,
            pool: "192.0.2.0/28",
            port_range: "1024-65535",
            block_size: 512,
            max_blocks: 8,
            sessions: 4096,
            static_bib: "",
            subscribers: "",
            block_rate: 100,
            session_cap: 4096,
            inbound_cap: 256,
            aggregate_cap: 0,
        }
    }
}

fn config(o: &Opts) -> Config {
    let text = format!(
        "[translation]\nprefix = \"{}\"\nallow_non_global_ipv4 = {}\n\
         [pool4]\naddresses = [\"{}\"]\nport_range = \"{}\"\nblock_size = {}\nmax_blocks_per_subscriber = {}\n\
         block_allocations_per_second = {}\nmax_sessions_per_subscriber = {}\n\
         max_blocks_per_aggregate = {}\n\
         [filtering]\naddress_dependent = {}\ndrop_externally_initiated_tcp = {}\n\
         max_inbound_sessions_per_mapping = {}\n\
         [workers]\nmax_sessions_per_worker = {}\n{}{}",
        o.prefix,
        o.allow_non_global,
        o.pool,
        o.port_range,
        o.block_size,
        o.max_blocks,
        o.block_rate,
        o.session_cap,
        o.aggregate_cap,
        o.adf,
        o.drop_ext,
        o.inbound_cap,
        o.sessions,
        if o.subscribers.is_empty() {
            String::new()
        } else {
            format!("[inside]\nsubscribers = {}\n", o.subscribers)
        },
        o.static_bib
    );
    Config::from_str(&text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

fn worker_n(o: &Opts, id: u16, n: u16) -> Worker {
    let cfg = config(o);
    let layout = Arc::new(PoolLayout::new(&cfg.pool4, &cfg.static_bib, n));
    Worker::new(&cfg, layout, id, n)
}

fn worker(o: &Opts) -> Worker {
    worker_n(o, 0, 1)
}

/// Runs `pkt` through `process_6to4` (or `process_4to6`); the action and the
/// resulting buffer contents.
fn run(w: &mut Worker, pkt: &[u8], now: Millis, six: bool) -> (Action, Vec<u8>) {
    let mut mem = vec![0u8; HEADROOM + pkt.len() + 1600];
    mem[HEADROOM..HEADROOM + pkt.len()].copy_from_slice(pkt);
    let mut b = PacketBuf::new(&mut mem, HEADROOM, pkt.len()).unwrap();
    let a = if six {
        w.process_6to4(&mut b, now)
    } else {
        w.process_4to6(&mut b, now)
    };
    (a, b.data().to_vec())
}
fn run6(w: &mut Worker, pkt: &[u8], now: Millis) -> (Action, Vec<u8>) {
    run(w, pkt, now, true)
}
fn run4(w: &mut Worker, pkt: &[u8], now: Millis) -> (Action, Vec<u8>) {
    run(w, pkt, now, false)
}

// ---- packet builders (etherparse) ----

fn udp6(src: Ipv6Addr, sp: u16, dst: Ipv6Addr, dp: u16) -> Vec<u8> {
    let b = PacketBuilder::ipv6(src.octets(), dst.octets(), 64).udp(sp, dp);
    let mut v = Vec::new();
    b.write(&mut v, b"hello nat64").unwrap();
    v
}
fn udp4(src: Ipv4Addr, sp: u16, dst: Ipv4Addr, dp: u16) -> Vec<u8> {
    let b = PacketBuilder::ipv4(src.octets(), dst.octets(), 64).udp(sp, dp);
    let mut v = Vec::new();
    b.write(&mut v, b"hello back").unwrap();
    v
}

/// TCP flags as `tcp::flags`.
fn tcp6(src: Ipv6Addr, sp: u16, dst: Ipv6Addr, dp: u16, f: u8) -> Vec<u8> {
    let mut b = PacketBuilder::ipv6(src.octets(), dst.octets(), 64).tcp(sp, dp, 1000, 65000);
    b = set_flags(b, f);
    let mut v = Vec::new();
    b.write(&mut v, &[]).unwrap();
    v
}
fn tcp4(src: Ipv4Addr, sp: u16, dst: Ipv4Addr, dp: u16, f: u8) -> Vec<u8> {
    let mut b = PacketBuilder::ipv4(src.octets(), dst.octets(), 64).tcp(sp, dp, 5000, 65000);
    b = set_flags(b, f);
    let mut v = Vec::new();
    b.write(&mut v, &[]).unwrap();
    v
}
fn set_flags(
    mut b: etherparse::PacketBuilderStep<etherparse::TcpHeader>,
    f: u8,
) -> etherparse::PacketBuilderStep<etherparse::TcpHeader> {
    if f & tcp::flags::SYN != 0 {
        b = b.syn();
    }
    if f & tcp::flags::FIN != 0 {
        b = b.fin();
    }
    if f & tcp::flags::RST != 0 {
        b = b.rst();
    }
    if f & tcp::flags::ACK != 0 {
        b = b.ack(77);
    }
    b
}
fn echo6(src: Ipv6Addr, dst: Ipv6Addr, id: u16) -> Vec<u8> {
    let b = PacketBuilder::ipv6(src.octets(), dst.octets(), 64).icmpv6_echo_request(id, 1);
    let mut v = Vec::new();
    b.write(&mut v, b"ping").unwrap();
    v
}
fn echo_reply4(src: Ipv4Addr, dst: Ipv4Addr, id: u16) -> Vec<u8> {
    let b = PacketBuilder::ipv4(src.octets(), dst.octets(), 64).icmpv4_echo_reply(id, 1);
    let mut v = Vec::new();
    b.write(&mut v, b"ping").unwrap();
    v
}
fn echo_request4(src: Ipv4Addr, dst: Ipv4Addr, id: u16) -> Vec<u8> {
    let b = PacketBuilder::ipv4(src.octets(), dst.octets(), 64).icmpv4_echo_request(id, 1);
    let mut v = Vec::new();
    b.write(&mut v, b"ping").unwrap();
    v
}

// ---- output checks (etherparse) ----

/// What a translated packet says, every checksum verified.
#[derive(Debug)]
struct Seen<A> {
    src: A,
    dst: A,
    sport: u16,
    dport: u16,
    /// ICMP (type, code), if ICMP.
    icmp: Option<(u8, u8)>,
    /// The quoted packet of an ICMP error.
    quoted: Vec<u8>,
    tcp_flags: (bool, bool, bool),
}

fn seen4(pkt: &[u8]) -> Seen<Ipv4Addr> {
    let h = PacketHeaders::from_ip_slice(pkt).expect("valid IPv4");
    let Some(NetHeaders::Ipv4(ip, _)) = &h.net else {
        panic!("not IPv4")
    };
    assert_eq!(
        ip.header_checksum,
        ip.calc_header_checksum(),
        "IPv4 header checksum"
    );
    let payload = h.payload.slice();
    let mut s = Seen {
        src: Ipv4Addr::from(ip.source),
        dst: Ipv4Addr::from(ip.destination),
        sport: 0,
        dport: 0,
        icmp: None,
        quoted: Vec::new(),
        tcp_flags: (false, false, false),
    };
    match &h.transport {
        Some(TransportHeader::Udp(u)) => {
            assert_eq!(
                u.checksum,
                u.calc_checksum_ipv4(ip, payload).unwrap(),
                "UDP checksum"
            );
            (s.sport, s.dport) = (u.source_port, u.destination_port);
        }
        Some(TransportHeader::Tcp(t)) => {
            assert_eq!(
                t.checksum,
                t.calc_checksum_ipv4(ip, payload).unwrap(),
                "TCP checksum"
            );
            (s.sport, s.dport) = (t.source_port, t.destination_port);
            s.tcp_flags = (t.syn, t.fin, t.rst);
        }
        Some(TransportHeader::Icmpv4(i)) => {
            let want = Icmpv4Header::with_checksum(i.icmp_type.clone(), payload);
            assert_eq!(i.checksum, want.checksum, "ICMPv4 checksum");
            let sl = Icmpv4Slice::from_slice(&pkt[ip.header_len()..]).unwrap();
            s.icmp = Some((sl.type_u8(), sl.code_u8()));
            if let Icmpv4Type::EchoRequest(e) | Icmpv4Type::EchoReply(e) = i.icmp_type {
                (s.sport, s.dport) = (e.id, e.id);
            } else {
                s.quoted = payload.to_vec();
            }
        }
        other => panic!("unexpected transport {other:?}"),
    }
    s
}

fn seen6(pkt: &[u8]) -> Seen<Ipv6Addr> {
    let h = PacketHeaders::from_ip_slice(pkt).expect("valid IPv6");
    let Some(NetHeaders::Ipv6(ip, _)) = &h.net else {
        panic!("not IPv6")
    };
    let payload = h.payload.slice();
    let mut s = Seen {
        src: Ipv6Addr::from(ip.source),
        dst: Ipv6Addr::from(ip.destination),
        sport: 0,
        dport: 0,
        icmp: None,
        quoted: Vec::new(),
        tcp_flags: (false, false, false),
    };
    match &h.transport {
        Some(TransportHeader::Udp(u)) => {
            assert_eq!(
                u.checksum,
                u.calc_checksum_ipv6(ip, payload).unwrap(),
                "UDP checksum"
            );
            (s.sport, s.dport) = (u.source_port, u.destination_port);
        }
        Some(TransportHeader::Tcp(t)) => {
            assert_eq!(
                t.checksum,
                t.calc_checksum_ipv6(ip, payload).unwrap(),
                "TCP checksum"
            );
            (s.sport, s.dport) = (t.source_port, t.destination_port);
            s.tcp_flags = (t.syn, t.fin, t.rst);
        }
        Some(TransportHeader::Icmpv6(i)) => {
            let want = Icmpv6Header::with_checksum(i.icmp_type, ip.source, ip.destination, payload)
                .unwrap();
            assert_eq!(i.checksum, want.checksum, "ICMPv6 checksum");
            let sl = Icmpv6Slice::from_slice(&pkt[40..]).unwrap();
            s.icmp = Some((sl.type_u8(), sl.code_u8()));
            if let Icmpv6Type::EchoRequest(e) | Icmpv6Type::EchoReply(e) = i.icmp_type {
                (s.sport, s.dport) = (e.id, e.id);
            } else {
                s.quoted = payload.to_vec();
            }
        }
        other => panic!("unexpected transport {other:?}"),
    }
    s
}

fn nd(d: Nat64Drop) -> Action {
    Action::Drop(DropCause::Nat64(d))
}

/// Opens a UDP mapping X':x -> Y:y; returns (T, t).
fn open_udp(
    w: &mut Worker,
    x: Ipv6Addr,
    xp: u16,
    y: Ipv4Addr,
    yp: u16,
    now: Millis,
) -> (Ipv4Addr, u16) {
    let (a, out) = run6(w, &udp6(x, xp, pfx().embed(y), yp), now);
    assert_eq!(a, Action::Forward);
    let s = seen4(&out);
    (s.src, s.sport)
}

fn tcp_state(w: &Worker, x: Ipv6Addr, xp: u16, y: Ipv4Addr, yp: u16) -> Option<TcpState> {
    let t = w.tables();
    t.session_by_v6(L4::Tcp, &x, xp, y, yp)
        .map(|s| t.session(s).tcp)
}

/// Past `ms` plus the tables' lazy-touch slack.
fn after(t: Millis, ms: Millis) -> Millis {
    t + ms + crate::nat64::table::DEFAULT_TOUCH_GRANULARITY + 1
}

fn tick(w: &mut Worker, now: Millis) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    w.tick(now, &mut |e| match e {
        Emit::Outside(p) => out.push(p.to_vec()),
    });
    out
}

// ---- §3.5.1 UDP ----

#[test]
fn rfc6146_3_5_1_udp_6to4_creates_mapping_and_4to6_returns() {
    let mut w = worker(&Opts::default());
    let (a, out) = run6(&mut w, &udp6(x6(), 40000, y6(), 53), 1000);
    assert_eq!(a, Action::Forward);
    let s = seen4(&out);
    assert!(
        w.layout.contains(s.src),
        "source {} is a pool address",
        s.src
    );
    assert_eq!((s.dst, s.dport), (Y4, 53));
    assert_eq!(s.sport % 2, 40000 % 2, "RFC 4787 parity preserved");
    assert_eq!(w.counters().translated_6to4, 1);
    assert_eq!(w.counters().sessions_created, 1);
    assert_eq!(w.counters().bib_created, 1);
    // Endpoint-independent mapping: the same (X', x) to another server
    // gets the same (T, t).
    let (t4, tp) = (s.src, s.sport);
    let (a, out) = run6(&mut w, &udp6(x6(), 40000, pfx().embed(Z4), 123), 1001);
    assert_eq!(a, Action::Forward);
    let s2 = seen4(&out);
    assert_eq!((s2.src, s2.sport), (t4, tp));
    assert_eq!(w.counters().bib_created, 1);
    // The answer goes back to X'.
    let (a, out) = run4(&mut w, &udp4(Y4, 53, t4, tp), 1002);
    assert_eq!(a, Action::Forward);
    let r = seen6(&out);
    assert_eq!((r.src, r.sport, r.dst, r.dport), (y6(), 53, x6(), 40000));
    assert_eq!(w.counters().translated_4to6, 1);
}

#[test]
fn rfc6146_3_5_1_udp_session_expires_after_udp_timeout() {
    let mut w = worker(&Opts::default());
    let (t4, tp) = open_udp(&mut w, x6(), 40000, Y4, 53, 0);
    let udp = w.timeouts.udp;
    assert!(tick(&mut w, udp - 1).is_empty());
    assert_eq!(w.tables().sessions_len(), 1);
    tick(&mut w, after(0, udp));
    assert_eq!(w.tables().sessions_len(), 0);
    assert_eq!(w.tables().bib_len(), 0);
    assert_eq!(w.counters().sessions_expired, 1);
    // Unsolicited now: no BIB entry.
    let (a, _) = run4(&mut w, &udp4(Y4, 53, t4, tp), after(0, udp) + 1);
    assert!(matches!(a, Action::Reply(_)));
    assert_eq!(w.counters().nat64_drops(Nat64Drop::NoBib), 1);
}

#[test]
fn rfc6146_3_5_1_unsolicited_ipv4_dropped_and_counted() {
    let mut w = worker(&Opts::default());
    let t4 = Ipv4Addr::new(192, 0, 2, 3);
    // UDP: discarded, ICMP destination unreachable (port unreachable, as
    // a host answers for a closed port) from T.
    let (a, out) = run4(&mut w, &udp4(Y4, 53, t4, 5000), 1);
    assert_eq!(a, Action::Reply(ReplyReason::DestinationUnreachable));
    let s = seen4(&out);
    assert_eq!((s.src, s.dst, s.icmp), (t4, Y4, Some((3, 3))));
    assert_eq!(w.counters().nat64_drops(Nat64Drop::NoBib), 1);
    // TCP other than SYN: silently dropped.
    let (a, _) = run4(&mut w, &tcp4(Y4, 80, t4, 5000, tcp::flags::ACK), 2);
    assert_eq!(a, nd(Nat64Drop::NoSession));
    assert_eq!(w.counters().nat64_drops(Nat64Drop::NoSession), 1);
    // ICMP query with no BIB: silently dropped (§3.5.3).
    let (a, _) = run4(&mut w, &echo_reply4(Y4, t4, 5000), 3);
    assert_eq!(a, nd(Nat64Drop::NoBib));
    assert_eq!(w.counters().nat64_drops(Nat64Drop::NoBib), 2);
    // Not a pool address at all.
    let (a, _) = run4(&mut w, &udp4(Y4, 53, Z4, 5000), 4);
    assert_eq!(a, nd(Nat64Drop::NotPool));
    assert_eq!(w.tables().sessions_len(), 0);
}

#[test]
fn outside_address_and_pool_echo_without_bib_are_local() {
    let mut w = worker(&Opts::default());
    let own = Ipv4Addr::new(192, 0, 2, 254); // [outside] default address
    let (a, out) = run4(&mut w, &udp4(Y4, 53, own, 22), 1);
    assert_eq!(a, Action::Local);
    assert_eq!(out, udp4(Y4, 53, own, 22), "buffer untouched");
    let (a, _) = run4(
        &mut w,
        &echo_request4(Y4, Ipv4Addr::new(192, 0, 2, 1), 7),
        2,
    );
    assert_eq!(a, Action::Local);
    assert_eq!(w.counters().local, 2);
}

// ---- §3.5.1 filtering ----

#[test]
fn rfc6146_3_5_1_endpoint_independent_filtering_admits_any_remote() {
    let mut w = worker(&Opts::default());
    let (t4, tp) = open_udp(&mut w, x6(), 40000, Y4, 53, 0);
    let (a, out) = run4(&mut w, &udp4(Z4, 999, t4, tp), 1);
    assert_eq!(a, Action::Forward);
    let s = seen6(&out);
    assert_eq!(
        (s.src, s.sport, s.dst, s.dport),
        (pfx().embed(Z4), 999, x6(), 40000)
    );
    assert_eq!(w.tables().sessions_len(), 2, "inbound creates the session");
}

#[test]
fn rfc6146_3_5_1_address_dependent_filtering_refuses_other_remotes() {
    let mut w = worker(&Opts {
        adf: true,
        ..Opts::default()
    });
    let (t4, tp) = open_udp(&mut w, x6(), 40000, Y4, 53, 0);
    let (a, out) = run4(&mut w, &udp4(Z4, 999, t4, tp), 1);
    assert_eq!(a, Action::Reply(ReplyReason::DestinationUnreachable));
    let s = seen4(&out);
    assert_eq!((s.src, s.dst, s.icmp), (t4, Z4, Some((3, 13))));
    assert_eq!(w.counters().nat64_drops(Nat64Drop::Filtered), 1);
    // The same address from another port is admitted (address-dependent).
    let (a, _) = run4(&mut w, &udp4(Y4, 54, t4, tp), 2);
    assert_eq!(a, Action::Forward);
    // ICMP query: filtered silently.
    let (a, out) = run6(&mut w, &echo6(x6(), y6(), 77), 3);
    assert_eq!(a, Action::Forward);
    let e = seen4(&out);
    let (a, _) = run4(&mut w, &echo_reply4(Z4, e.src, e.sport), 4);
    assert_eq!(a, nd(Nat64Drop::Filtered));
    let (a, out) = run4(&mut w, &echo_reply4(Y4, e.src, e.sport), 5);
    assert_eq!(a, Action::Forward);
    let r = seen6(&out);
    assert_eq!((r.src, r.dst, r.sport), (y6(), x6(), 77));
}

// ---- §3.5.3 ICMP query ----

#[test]
fn rfc6146_3_5_3_echo_round_trip_and_icmp_timeout() {
    let mut w = worker(&Opts::default());
    let (a, out) = run6(&mut w, &echo6(x6(), y6(), 4242), 0);
    assert_eq!(a, Action::Forward);
    let e = seen4(&out);
    assert_eq!(e.icmp, Some((8, 0)));
    assert!(w.layout.contains(e.src));
    let (a, out) = run4(&mut w, &echo_reply4(Y4, e.src, e.sport), 10);
    assert_eq!(a, Action::Forward);
    let r = seen6(&out);
    assert_eq!(
        (r.src, r.dst, r.sport, r.icmp),
        (y6(), x6(), 4242, Some((129, 0)))
    );
    let icmp = w.timeouts.icmp;
    tick(&mut w, icmp - 1);
    assert_eq!(w.tables().sessions_len(), 1);
    tick(&mut w, after(10, icmp));
    assert_eq!(w.tables().sessions_len(), 0);
    assert_eq!(w.tables().bib_len(), 0);
}

// ---- §3.5.2 TCP ----

#[test]
fn rfc6146_3_5_2_tcp_open_established_fin_fin_and_transitory_timeout() {
    use tcp::flags::*;
    let mut w = worker(&Opts::default());
    // V6 SYN: CLOSED -> V6 INIT.
    let (a, out) = run6(&mut w, &tcp6(x6(), 50000, y6(), 80, SYN), 0);
    assert_eq!(a, Action::Forward);
    let s = seen4(&out);
    assert_eq!(s.tcp_flags, (true, false, false));
    let (t4, tp) = (s.src, s.sport);
    assert_eq!(tcp_state(&w, x6(), 50000, Y4, 80), Some(TcpState::V6Init));
    // V4 SYN+ACK: V6 INIT -> ESTABLISHED.
    let (a, out) = run4(&mut w, &tcp4(Y4, 80, t4, tp, SYN | ACK), 10);
    assert_eq!(a, Action::Forward);
    let r = seen6(&out);
    assert_eq!((r.src, r.sport, r.dst, r.dport), (y6(), 80, x6(), 50000));
    assert_eq!(
        tcp_state(&w, x6(), 50000, Y4, 80),
        Some(TcpState::Established)
    );
    // V4 FIN -> V4 FIN RCV; V6 FIN -> V4 FIN + V6 FIN RCV.
    run4(&mut w, &tcp4(Y4, 80, t4, tp, FIN | ACK), 20);
    assert_eq!(tcp_state(&w, x6(), 50000, Y4, 80), Some(TcpState::V4FinRcv));
    run6(&mut w, &tcp6(x6(), 50000, y6(), 80, FIN | ACK), 30);
    assert_eq!(
        tcp_state(&w, x6(), 50000, Y4, 80),
        Some(TcpState::V4FinV6FinRcv)
    );
    // Only TCP_TRANS ends it now; the last ACK changes nothing.
    let (a, _) = run4(&mut w, &tcp4(Y4, 80, t4, tp, ACK), 40);
    assert_eq!(a, Action::Forward);
    let trans = w.timeouts.tcp_transitory;
    tick(&mut w, 30 + trans - 1);
    assert_eq!(
        tcp_state(&w, x6(), 50000, Y4, 80),
        Some(TcpState::V4FinV6FinRcv)
    );
    tick(&mut w, after(30, trans));
    assert_eq!(tcp_state(&w, x6(), 50000, Y4, 80), None);
    assert_eq!(w.tables().bib_len(), 0);
}

#[test]
fn rfc6146_3_5_2_tcp_v6_fin_first() {
    use tcp::flags::*;
    let mut w = worker(&Opts::default());
    let (_, out) = run6(&mut w, &tcp6(x6(), 50000, y6(), 80, SYN), 0);
    let s = seen4(&out);
    run4(&mut w, &tcp4(Y4, 80, s.src, s.sport, SYN | ACK), 1);
    run6(&mut w, &tcp6(x6(), 50000, y6(), 80, FIN | ACK), 2);
    assert_eq!(tcp_state(&w, x6(), 50000, Y4, 80), Some(TcpState::V6FinRcv));
    run4(&mut w, &tcp4(Y4, 80, s.src, s.sport, FIN | ACK), 3);
    assert_eq!(
        tcp_state(&w, x6(), 50000, Y4, 80),
        Some(TcpState::V4FinV6FinRcv)
    );
}

#[test]
fn rfc6146_3_5_2_tcp_rst_to_trans_back_to_established_and_trans_timeout() {
    use tcp::flags::*;
    let mut w = worker(&Opts::default());
    let (_, out) = run6(&mut w, &tcp6(x6(), 50001, y6(), 80, SYN), 0);
    let s = seen4(&out);
    run4(&mut w, &tcp4(Y4, 80, s.src, s.sport, SYN | ACK), 1);
    // RST from IPv4: ESTABLISHED -> TRANS, forwarded.
    let (a, out) = run4(&mut w, &tcp4(Y4, 80, s.src, s.sport, RST), 2);
    assert_eq!(a, Action::Forward);
    assert_eq!(seen6(&out).tcp_flags, (false, false, true));
    assert_eq!(tcp_state(&w, x6(), 50001, Y4, 80), Some(TcpState::Trans));
    // Data in TRANS: back to ESTABLISHED.
    run6(&mut w, &tcp6(x6(), 50001, y6(), 80, ACK), 3);
    assert_eq!(
        tcp_state(&w, x6(), 50001, Y4, 80),
        Some(TcpState::Established)
    );
    // RST from IPv6, then silence: gone after TCP_TRANS.
    run6(&mut w, &tcp6(x6(), 50001, y6(), 80, RST), 4);
    assert_eq!(tcp_state(&w, x6(), 50001, Y4, 80), Some(TcpState::Trans));
    let trans = w.timeouts.tcp_transitory;
    tick(&mut w, 4 + trans - 1);
    assert_eq!(tcp_state(&w, x6(), 50001, Y4, 80), Some(TcpState::Trans));
    tick(&mut w, after(4, trans));
    assert_eq!(tcp_state(&w, x6(), 50001, Y4, 80), None);
}

#[test]
fn rfc6146_3_5_2_tcp_established_timeout_and_v6_init_timeout() {
    use tcp::flags::*;
    let mut w = worker(&Opts::default());
    // An unanswered V6 SYN: V6 INIT lives TCP_TRANS.
    run6(&mut w, &tcp6(x6(), 50002, y6(), 81, SYN), 0);
    // An established connection lives TCP_EST.
    let (_, out) = run6(&mut w, &tcp6(x6(), 50003, y6(), 80, SYN), 0);
    let s = seen4(&out);
    run4(&mut w, &tcp4(Y4, 80, s.src, s.sport, SYN | ACK), 0);
    let (trans, est) = (w.timeouts.tcp_transitory, w.timeouts.tcp_established);
    tick(&mut w, after(0, trans));
    assert_eq!(tcp_state(&w, x6(), 50002, Y4, 81), None);
    assert_eq!(
        tcp_state(&w, x6(), 50003, Y4, 80),
        Some(TcpState::Established)
    );
    tick(&mut w, est - 1);
    assert_eq!(
        tcp_state(&w, x6(), 50003, Y4, 80),
        Some(TcpState::Established)
    );
    // Deviation (commented in tcp.rs): no probe; the session goes.
    tick(&mut w, after(0, est));
    assert_eq!(tcp_state(&w, x6(), 50003, Y4, 80), None);
    assert_eq!(w.tables().bib_len(), 0);
}

#[test]
fn rfc6146_3_5_2_tcp_non_syn_without_session_dropped() {
    let mut w = worker(&Opts::default());
    let (a, _) = run6(&mut w, &tcp6(x6(), 50000, y6(), 80, tcp::flags::ACK), 0);
    assert_eq!(a, nd(Nat64Drop::NoSession));
    assert_eq!(w.counters().nat64_drops(Nat64Drop::NoSession), 1);
    assert_eq!(w.tables().bib_len(), 0);
}

#[test]
fn rfc6146_3_5_2_2_held_v4_syn_answered_with_port_unreachable() {
    let mut w = worker(&Opts::default());
    let t4 = Ipv4Addr::new(192, 0, 2, 4);
    let syn = tcp4(Y4, 33000, t4, 6000, tcp::flags::SYN);
    let (a, _) = run4(&mut w, &syn, 1000);
    assert_eq!(a, Action::Held);
    assert_eq!(w.held_syns(), 1);
    assert_eq!(w.counters().syns_held, 1);
    // A retransmission is dropped; the first copy keeps its deadline.
    let (a, _) = run4(&mut w, &syn, 2000);
    assert_eq!(a, nd(Nat64Drop::HeldSynRetransmit));
    let incoming = w.timeouts.tcp_incoming_syn;
    assert!(tick(&mut w, 1000 + incoming - 1).is_empty());
    let out = tick(&mut w, 1000 + incoming);
    assert_eq!(out.len(), 1);
    let e = seen4(&out[0]);
    assert_eq!((e.src, e.dst, e.icmp), (t4, Y4, Some((3, 3))));
    // It quotes the SYN.
    assert_eq!(&e.quoted[..], &syn[..]);
    assert_eq!(w.held_syns(), 0);
    assert_eq!(w.counters().held_syn_expired, 1);
    assert!(tick(&mut w, 1000 + 2 * incoming).is_empty());
}

#[test]
fn rfc6146_3_5_2_2_simultaneous_open_completes_held_syn() {
    use tcp::flags::*;
    let mut w = worker(&Opts::default());
    // Learn the subscriber's block, then aim a V4 SYN at a free port in it.
    let (t4, tp) = open_udp(&mut w, x6(), 40000, Y4, 53, 0);
    let port = tp ^ 2; // same block (512-aligned), same parity, free for TCP
    let (a, _) = run4(&mut w, &tcp4(Y4, 7000, t4, port, SYN), 10);
    assert_eq!(a, Action::Held);
    // The IPv6 SYN from that port to (Y, 7000) within TCP_INCOMING_SYN.
    let (a, out) = run6(&mut w, &tcp6(x6(), port, y6(), 7000, SYN), 20);
    assert_eq!(a, Action::Forward);
    let s = seen4(&out);
    assert_eq!((s.src, s.sport, s.dst, s.dport), (t4, port, Y4, 7000));
    assert_eq!(
        tcp_state(&w, x6(), port, Y4, 7000),
        Some(TcpState::Established)
    );
    assert_eq!(w.held_syns(), 0);
    assert_eq!(w.counters().simultaneous_opens, 1);
    // The held SYN is silently dropped: no ICMP later.
    let incoming = w.timeouts.tcp_incoming_syn;
    assert!(tick(&mut w, 10 + incoming + 1).is_empty());
}

#[test]
fn rfc6146_3_5_2_2_drop_externally_initiated_tcp() {
    let mut w = worker(&Opts {
        drop_ext: true,
        ..Opts::default()
    });
    let (a, _) = run4(
        &mut w,
        &tcp4(
            Y4,
            33000,
            Ipv4Addr::new(192, 0, 2, 4),
            6000,
            tcp::flags::SYN,
        ),
        0,
    );
    assert_eq!(a, nd(Nat64Drop::ExternalTcp));
    assert_eq!(w.counters().nat64_drops(Nat64Drop::ExternalTcp), 1);
    assert_eq!(w.held_syns(), 0);
}

#[test]
fn rfc6146_3_5_2_2_held_syn_store_is_bounded() {
    let mut w = worker(&Opts::default());
    let t4 = Ipv4Addr::new(192, 0, 2, 4);
    for i in 0..HELD_SYN_SLOTS as u16 {
        let (a, _) = run4(&mut w, &tcp4(Y4, 10000 + i, t4, 6000, tcp::flags::SYN), 0);
        assert_eq!(a, Action::Held);
    }
    let (a, _) = run4(&mut w, &tcp4(Z4, 1, t4, 6000, tcp::flags::SYN), 0);
    assert_eq!(a, nd(Nat64Drop::HeldSynFull));
    let incoming = w.timeouts.tcp_incoming_syn;
    let out = tick(&mut w, incoming);
    assert_eq!(out.len(), HELD_SYN_SLOTS);
}

// ---- rule 7: static BIB ----

const STATIC: &str = "[[static_bib]]\nprotocol = \"udp\"\nipv6 = \"[2001:db8:1::10]:53\"\nipv4 = \"192.0.2.1:53\"\n\
                      [[static_bib]]\nprotocol = \"tcp\"\nipv6 = \"[2001:db8:1::10]:80\"\nipv4 = \"192.0.2.1:8080\"\n";

#[test]
fn static_bib_inbound_creates_session_and_never_expires() {
    let mut w = worker(&Opts {
        static_bib: STATIC,
        ..Opts::default()
    });
    let t4 = Ipv4Addr::new(192, 0, 2, 1);
    assert_eq!(w.tables().bib_len(), 2);
    let (a, out) = run4(&mut w, &udp4(Y4, 5353, t4, 53), 0);
    assert_eq!(a, Action::Forward);
    let s = seen6(&out);
    assert_eq!((s.src, s.sport, s.dst, s.dport), (y6(), 5353, x6(), 53));
    assert_eq!(w.tables().sessions_len(), 1);
    // The answer leaves from the static address and port.
    let (a, out) = run6(&mut w, &udp6(x6(), 53, y6(), 5353), 1);
    assert_eq!(a, Action::Forward);
    let r = seen4(&out);
    assert_eq!((r.src, r.sport), (t4, 53));
    // TCP SYN to the static mapping: V4 INIT, forwarded.
    let (a, out) = run4(&mut w, &tcp4(Y4, 40000, t4, 8080, tcp::flags::SYN), 2);
    assert_eq!(a, Action::Forward);
    assert_eq!(seen6(&out).dport, 80);
    assert_eq!(tcp_state(&w, x6(), 80, Y4, 40000), Some(TcpState::V4Init));
    // Long after every timeout: sessions gone, static entries stay.
    let longest = w.timeouts.longest();
    tick(&mut w, after(0, longest));
    assert_eq!(w.tables().sessions_len(), 0);
    assert_eq!(w.tables().bib_len(), 2);
    assert!(w.tables().bib_by_v4(L4::Udp, t4, 53).is_some());
}

#[test]
fn static_bib_v4_init_times_out_after_incoming_syn() {
    let mut w = worker(&Opts {
        static_bib: STATIC,
        ..Opts::default()
    });
    let t4 = Ipv4Addr::new(192, 0, 2, 1);
    run4(&mut w, &tcp4(Y4, 40000, t4, 8080, tcp::flags::SYN), 0);
    let incoming = w.timeouts.tcp_incoming_syn;
    tick(&mut w, incoming - 1);
    assert_eq!(tcp_state(&w, x6(), 80, Y4, 40000), Some(TcpState::V4Init));
    tick(&mut w, after(0, incoming));
    assert_eq!(tcp_state(&w, x6(), 80, Y4, 40000), None);
}

// ---- §3.4 / §3.6 ICMP errors ----

#[test]
fn rfc6146_3_4_icmpv4_error_from_router_reaches_inside_host() {
    let mut w = worker(&Opts::default());
    let (t4, tp) = open_udp(&mut w, x6(), 40000, Y4, 53, 0);
    // A router says TTL exceeded about T:t -> Y:53.
    let quoted = udp4(t4, tp, Y4, 53);
    let b = PacketBuilder::ipv4(R4.octets(), t4.octets(), 64).icmpv4(Icmpv4Type::TimeExceeded(
        icmpv4::TimeExceededCode::TtlExceededInTransit,
    ));
    let mut err = Vec::new();
    b.write(&mut err, &quoted).unwrap();
    let (a, out) = run4(&mut w, &err, 1);
    assert_eq!(a, Action::Forward);
    let s = seen6(&out);
    assert_eq!(
        (s.src, s.dst, s.icmp),
        (pfx().embed(R4), x6(), Some((3, 0)))
    );
    let inner = PacketHeaders::from_ip_slice(&s.quoted).unwrap();
    let Some(NetHeaders::Ipv6(ih, _)) = inner.net else {
        panic!("inner not IPv6")
    };
    assert_eq!(Ipv6Addr::from(ih.source), x6());
    assert_eq!(Ipv6Addr::from(ih.destination), y6());
    let Some(TransportHeader::Udp(u)) = inner.transport else {
        panic!("inner not UDP")
    };
    assert_eq!((u.source_port, u.destination_port), (40000, 53));
    // Errors do not refresh: still one session, and one for an unknown
    // flow is dropped.
    let quoted = udp4(t4, tp ^ 2, Y4, 53);
    let mut err = Vec::new();
    PacketBuilder::ipv4(R4.octets(), t4.octets(), 64)
        .icmpv4(Icmpv4Type::TimeExceeded(
            icmpv4::TimeExceededCode::TtlExceededInTransit,
        ))
        .write(&mut err, &quoted)
        .unwrap();
    let (a, _) = run4(&mut w, &err, 2);
    assert_eq!(a, nd(Nat64Drop::NoSession));
}

#[test]
fn rfc6146_3_4_icmpv6_error_from_client_reaches_ipv4_server() {
    let mut w = worker(&Opts::default());
    let (t4, tp) = open_udp(&mut w, x6(), 40000, Y4, 53, 0);
    // X' answers a packet Y' -> X' with port unreachable.
    let quoted = udp6(y6(), 53, x6(), 40000);
    let mut err = Vec::new();
    PacketBuilder::ipv6(x6().octets(), y6().octets(), 64)
        .icmpv6(Icmpv6Type::DestinationUnreachable(
            icmpv6::DestUnreachableCode::Port,
        ))
        .write(&mut err, &quoted)
        .unwrap();
    let (a, out) = run6(&mut w, &err, 1);
    assert_eq!(a, Action::Forward);
    let s = seen4(&out);
    assert_eq!((s.src, s.dst, s.icmp), (t4, Y4, Some((3, 3))));
    let inner = PacketHeaders::from_ip_slice(&s.quoted).unwrap();
    let Some(NetHeaders::Ipv4(ih, _)) = inner.net else {
        panic!("inner not IPv4")
    };
    assert_eq!(
        (Ipv4Addr::from(ih.source), Ipv4Addr::from(ih.destination)),
        (Y4, t4)
    );
    let Some(TransportHeader::Udp(u)) = inner.transport else {
        panic!("inner not UDP")
    };
    assert_eq!((u.source_port, u.destination_port), (53, tp));
    assert_eq!(w.counters().translated_6to4, 2);
}

#[test]
fn rfc6146_3_5_1_no_bib_port_unreachable_quotes_up_to_576_bytes() {
    let mut w = worker(&Opts::default());
    let t4 = Ipv4Addr::new(192, 0, 2, 3);
    for len in [20, 540, 1400] {
        let mut pkt = Vec::new();
        PacketBuilder::ipv4(Y4.octets(), t4.octets(), 64)
            .udp(53, 5000)
            .write(&mut pkt, &vec![0x5a; len])
            .unwrap();
        let (a, out) = run4(&mut w, &pkt, 1);
        assert_eq!(a, Action::Reply(ReplyReason::DestinationUnreachable));
        let s = seen4(&out);
        assert_eq!(s.icmp, Some((3, 3)));
        // RFC 1812 §4.3.2.3: as much of the packet as 576 bytes allow.
        assert_eq!(out.len(), (pkt.len() + 28).min(576));
        assert_eq!(s.quoted, pkt[..out.len() - 28]);
    }
}

// ---- §3.8 hairpinning ----

#[test]
fn rfc6146_3_8_hairpin_udp() {
    let mut w = worker(&Opts::default());
    // X1 has a mapping (T1, t1).
    let (t1, tp1) = open_udp(&mut w, x6(), 40000, Y4, 53, 0);
    // X2 sends to T1:t1 through the prefix.
    let (a, out) = run6(&mut w, &udp6(x6b(), 41000, pfx().embed(t1), tp1), 1);
    assert_eq!(a, Action::Hairpin);
    let s = seen6(&out);
    assert_eq!((s.dst, s.dport), (x6(), 40000));
    // The packet crossed one router: its hop limit (64) went down by one.
    let hop = etherparse::Ipv6HeaderSlice::from_slice(&out)
        .unwrap()
        .hop_limit();
    assert_eq!(hop, 63);
    let t2 = pfx().extract(&s.src).unwrap();
    assert!(w.layout.contains(t2), "source is X2's pool address {t2}");
    assert_ne!((t2, s.sport), (t1, tp1));
    assert_eq!(w.counters().hairpinned, 1);
    // And back: X1 answers T2:t2, hairpinned to X2.
    let (a, out) = run6(&mut w, &udp6(x6(), 40000, s.src, s.sport), 2);
    assert_eq!(a, Action::Hairpin);
    let r = seen6(&out);
    assert_eq!(
        (r.src, r.sport, r.dst, r.dport),
        (pfx().embed(t1), tp1, x6b(), 41000)
    );
}

#[test]
fn rfc6146_3_8_hairpin_tcp() {
    use tcp::flags::*;
    let mut w = worker(&Opts::default());
    // X1 listens behind a mapping made by an earlier connection.
    let (_, out) = run6(&mut w, &tcp6(x6(), 8443, y6(), 443, SYN), 0);
    let m = seen4(&out);
    let (a, out) = run6(
        &mut w,
        &tcp6(x6b(), 42000, pfx().embed(m.src), m.sport, SYN),
        1,
    );
    assert_eq!(a, Action::Hairpin);
    let s = seen6(&out);
    assert_eq!(
        (s.dst, s.dport, s.tcp_flags),
        (x6(), 8443, (true, false, false))
    );
    // Both halves have sessions: X2's V6 INIT, and X1's V4 INIT.
    assert_eq!(w.tables().sessions_len(), 3);
    let t2 = pfx().extract(&s.src).unwrap();
    assert_eq!(
        tcp_state(&w, x6(), 8443, t2, s.sport),
        Some(TcpState::V4Init)
    );
}

#[test]
fn rfc6146_3_8_hairpin_loop_dropped() {
    let mut w = worker(&Opts::default());
    let (a, _) = run6(&mut w, &udp6(y6(), 1, x6(), 2), 0);
    assert_eq!(a, nd(Nat64Drop::HairpinLoop));
}

// ---- RFC 6052 §3.1 ----

#[test]
fn rfc6052_3_1_well_known_prefix_refuses_non_global_ipv4() {
    let wkp = Opts {
        prefix: "64:ff9b::/96",
        ..Opts::default()
    };
    let mut w = worker(&wkp);
    let private = Nat64Prefix::WELL_KNOWN.embed(Ipv4Addr::new(10, 1, 2, 3));
    let (a, out) = run6(&mut w, &udp6(x6(), 40000, private, 53), 0);
    assert_eq!(a, Action::Reply(ReplyReason::DestinationUnreachable));
    let s = seen6(&out);
    assert_eq!((s.dst, s.icmp), (x6(), Some((1, 1))));
    assert_eq!(w.counters().nat64_drops(Nat64Drop::NonGlobalIpv4), 1);
    assert_eq!(w.tables().bib_len(), 0);
    let mut w = worker(&Opts {
        allow_non_global: true,
        ..wkp
    });
    let (a, _) = run6(&mut w, &udp6(x6(), 40000, private, 53), 0);
    assert_eq!(a, Action::Forward);
}

/// RFC 6052 §2.2 with a /64 and a /40 prefix (the IPv4 bytes around the
/// u-octet, bits 64-71): addresses written out by hand, a round trip
/// through both halves, a source under the prefix is a loop, a
/// destination just outside it is not ours.
#[test]
fn rfc6052_2_2_non_96_prefixes_round_trip() {
    // (prefix, Y' for Y = 198.51.100.7, an address just outside the prefix)
    let cases = [
        (
            "2001:db8:64:1::/64",
            "2001:db8:64:1:c6:3364:700::",
            "2001:db8:64:2:c6:3364:700::",
        ),
        (
            "2001:db8:6400::/40",
            "2001:db8:64c6:3364:7::",
            "2001:db8:6500:c633:64:700::",
        ),
    ];
    for (prefix, y6s, off) in cases {
        let mut w = worker(&Opts {
            prefix,
            ..Opts::default()
        });
        let y6: Ipv6Addr = y6s.parse().unwrap();
        let (a, out) = run6(&mut w, &udp6(x6(), 40000, y6, 53), 0);
        assert_eq!(a, Action::Forward, "{prefix}");
        let s = seen4(&out);
        assert_eq!((s.dst, s.dport), (Y4, 53), "{prefix}");
        let (a, back) = run4(&mut w, &udp4(Y4, 53, s.src, s.sport), 1);
        assert_eq!(a, Action::Forward, "{prefix}");
        let b = seen6(&back);
        assert_eq!(
            (b.src, b.sport, b.dst, b.dport),
            (y6, 53, x6(), 40000),
            "{prefix}"
        );
        // A source under the prefix came back from our own IPv4 side.
        let (a, _) = run6(&mut w, &udp6(y6, 1, y6, 2), 2);
        assert_eq!(a, nd(Nat64Drop::HairpinLoop), "{prefix}");
        let (a, _) = run6(&mut w, &udp6(x6(), 1, off.parse().unwrap(), 2), 2);
        assert_eq!(a, nd(Nat64Drop::NotNat64Prefix), "{prefix}");
    }
}

#[test]
fn not_under_prefix_dropped() {
    let mut w = worker(&Opts::default());
    let (a, _) = run6(&mut w, &udp6(x6(), 1, x6b(), 2), 0);
    assert_eq!(a, nd(Nat64Drop::NotNat64Prefix));
}

// ---- rule 6: limits ----

#[test]
fn rfc6888_req11_subscriber_cap_refused_others_unaffected() {
    let mut w = worker(&Opts {
        block_size: 64,
        max_blocks: 1,
        ..Opts::default()
    });
    let mut refused = None;
    for p in 0..1000u16 {
        let (a, out) = run6(&mut w, &udp6(x6(), 20000 + p, y6(), 53), u64::from(p));
        if a != Action::Forward {
            refused = Some((a, out));
            break;
        }
    }
    let (a, out) = refused.expect("the cap is reached");
    assert_eq!(a, Action::Reply(ReplyReason::DestinationUnreachable));
    let s = seen6(&out);
    assert_eq!(
        (s.src, s.dst, s.icmp),
        (w.xcfg.own_ipv6, x6(), Some((1, 3)))
    );
    assert_eq!(w.counters().nat64_drops(Nat64Drop::SubscriberLimit), 1);
    let ev = w
        .events()
        .drain()
        .find(|e| e.kind == BlockEventKind::SubscriberLimit)
        .expect("a subscriber-limit event");
    assert_eq!(ev.subscriber, Subscriber::of(&x6(), 56));
    assert_eq!(ev.prefix_len, 56);
    // Existing mappings still work; another subscriber still gets one.
    let (a, _) = run6(&mut w, &udp6(x6(), 20000, y6(), 53), 2000);
    assert_eq!(a, Action::Forward);
    let (a, _) = run6(&mut w, &udp6(x6b(), 20000, y6(), 53), 2000);
    assert_eq!(a, Action::Forward);
}

#[test]
fn rfc6888_req11_pool_exhausted() {
    let mut w = worker(&Opts {
        pool: "192.0.2.1/32",
        port_range: "1024-1151",
        block_size: 64,
        max_blocks: 1,
        ..Opts::default()
    });
    let subs: Vec<Ipv6Addr> = (1..=3u16)
        .map(|i| Ipv6Addr::new(0x2001, 0xdb8, i, 0, 0, 0, 0, 1))
        .collect();
    assert_eq!(
        run6(&mut w, &udp6(subs[0], 1, y6(), 53), 0).0,
        Action::Forward
    );
    assert_eq!(
        run6(&mut w, &udp6(subs[1], 1, y6(), 53), 0).0,
        Action::Forward
    );
    let (a, out) = run6(&mut w, &udp6(subs[2], 1, y6(), 53), 0);
    assert_eq!(a, Action::Reply(ReplyReason::DestinationUnreachable));
    assert_eq!(seen6(&out).dst, subs[2]);
    // RFC 6146 §3.5.1.1: destination unreachable, address unreachable.
    assert_eq!(seen6(&out).icmp, Some((1, 3)));
    assert_eq!(w.counters().nat64_drops(Nat64Drop::PoolExhausted), 1);
    assert!(
        w.events()
            .drain()
            .any(|e| e.kind == BlockEventKind::PoolExhausted),
        "a pool-exhausted event"
    );
}

// ---- spoofed subscribers and block allocation rates (issue 15) ----

/// A source under none of `inside.subscribers`.
fn spoofed(i: u32) -> Ipv6Addr {
    Ipv6Addr::new(0x2001, 0xdb8, 0xbad, (i >> 16) as u16, i as u16, 0, 0, 1)
}

#[test]
fn urpf_spoofed_source_flood_takes_no_block_and_is_counted() {
    // The box serves 2001:db8:1::/48 and 2001:db8:2::/48 (x6, x6b).
    let mut w = worker(&Opts {
        subscribers: "[\"2001:db8:1::/48\", \"2001:db8:2::/48\"]",
        ..Opts::default()
    });
    let free = w.allocator().blocks_free();
    let n = 10_000u32;
    for i in 0..n {
        // Every flood packet from another made-up /56, as a scan would.
        let pkt = udp6(spoofed(i), 40000, y6(), 53);
        let (a, _) = run6(&mut w, &pkt, u64::from(i));
        assert_eq!(
            a,
            Action::Drop(DropCause::Nat64(Nat64Drop::NotSubscriber)),
            "{}",
            spoofed(i)
        );
    }
    // An ICMPv6 error about a packet to a made-up destination: the same.
    let quoted = udp6(y6(), 53, spoofed(n), 40000);
    let b = PacketBuilder::ipv6(x6().octets(), y6().octets(), 64).icmpv6(
        Icmpv6Type::DestinationUnreachable(icmpv6::DestUnreachableCode::Port),
    );
    let mut err = Vec::new();
    b.write(&mut err, &quoted).unwrap();
    let (a, _) = run6(&mut w, &err, u64::from(n));
    assert_eq!(a, Action::Drop(DropCause::Nat64(Nat64Drop::NotSubscriber)));
    // Nothing was taken: no block, no mapping; every packet counted.
    assert_eq!(w.allocator().blocks_free(), free);
    assert_eq!(w.allocator().blocks_in_use(), 0);
    assert_eq!(w.tables().bib_len(), 0);
    assert_eq!(
        w.counters().nat64_drops(Nat64Drop::NotSubscriber),
        u64::from(n) + 1
    );
    // The subscribers served are translated as before.
    for x in [x6(), x6b()] {
        let (a, _) = run6(&mut w, &udp6(x, 40000, y6(), 53), u64::from(n));
        assert_eq!(a, Action::Forward, "{x}");
    }
    assert_eq!(w.allocator().blocks_in_use(), 2);
}

#[test]
fn urpf_any_source_without_the_key() {
    // The key absent: any source is served (and warned about at start).
    let mut w = worker(&Opts::default());
    let (a, _) = run6(&mut w, &udp6(spoofed(1), 40000, y6(), 53), 0);
    assert_eq!(a, Action::Forward);
    assert_eq!(w.counters().nat64_drops(Nat64Drop::NotSubscriber), 0);
}

#[test]
fn block_allocations_beyond_the_subscriber_rate_are_refused_and_counted() {
    use crate::nat64::pool4::{SUBSCRIBER_BLOCK_BURST, SUBSCRIBER_BLOCK_INTERVAL};
    let mut w = worker(&Opts {
        block_size: 64,
        max_blocks: 8,
        ..Opts::default()
    });
    let t0 = 1_000_000;
    // One subscriber opens flows as fast as it can, all at one instant:
    // it fills SUBSCRIBER_BLOCK_BURST blocks, then the next block is
    // refused for the rate (not the cap of 8).
    let mut refused = None;
    for p in 0..2000u16 {
        let (a, out) = run6(&mut w, &udp6(x6(), 10000 + p, y6(), 53), t0);
        if a != Action::Forward {
            refused = Some((p, a, out));
            break;
        }
    }
    let (p, a, out) = refused.expect("the rate is reached");
    assert_eq!(u64::from(p), SUBSCRIBER_BLOCK_BURST * 64);
    assert_eq!(w.allocator().blocks_in_use() as u64, SUBSCRIBER_BLOCK_BURST);
    assert_eq!(a, Action::Reply(ReplyReason::DestinationUnreachable));
    assert_eq!(seen6(&out).icmp, Some((1, 3)));
    assert_eq!(w.counters().nat64_drops(Nat64Drop::BlockRateLimited), 1);
    assert_eq!(w.counters().nat64_drops(Nat64Drop::SubscriberLimit), 0);
    // Another subscriber still gets a block at that same instant.
    let (a, _) = run6(&mut w, &udp6(x6b(), 10000, y6(), 53), t0);
    assert_eq!(a, Action::Forward);
    // The first one gets its next block one interval later, not before.
    let again = udp6(x6(), 10000 + p, y6(), 53);
    let (a, _) = run6(&mut w, &again, t0 + SUBSCRIBER_BLOCK_INTERVAL - 1);
    assert_ne!(a, Action::Forward);
    assert_eq!(w.counters().nat64_drops(Nat64Drop::BlockRateLimited), 2);
    let (a, _) = run6(&mut w, &again, t0 + SUBSCRIBER_BLOCK_INTERVAL);
    assert_eq!(a, Action::Forward);
    assert_eq!(
        w.allocator().blocks_in_use() as u64,
        SUBSCRIBER_BLOCK_BURST + 2
    );
}

#[test]
fn block_allocations_beyond_the_worker_rate_are_refused_and_counted() {
    let mut w = worker(&Opts {
        block_rate: 3,
        ..Opts::default()
    });
    let t0 = 1_000_000;
    let subs: Vec<Ipv6Addr> = (1..=5u16)
        .map(|i| Ipv6Addr::new(0x2001, 0xdb8, 0x100 + i, 0, 0, 0, 0, 1))
        .collect();
    // A burst of five new subscribers at one instant: three blocks (the
    // bucket holds one second's worth), then refusals, counted.
    let actions: Vec<Action> = subs
        .iter()
        .map(|x| run6(&mut w, &udp6(*x, 40000, y6(), 53), t0).0)
        .collect();
    assert_eq!(&actions[..3], &[Action::Forward; 3]);
    assert_eq!(
        &actions[3..],
        &[Action::Reply(ReplyReason::DestinationUnreachable); 2]
    );
    assert_eq!(w.counters().nat64_drops(Nat64Drop::BlockRateLimited), 2);
    assert_eq!(w.allocator().blocks_in_use(), 3);
    // A subscriber with a block keeps mapping new flows inside it.
    let (a, _) = run6(&mut w, &udp6(subs[0], 40001, y6(), 53), t0);
    assert_eq!(a, Action::Forward);
    // One token comes back every 1000 / 3 ms.
    let (a, _) = run6(&mut w, &udp6(subs[3], 40000, y6(), 53), t0 + 333);
    assert_ne!(a, Action::Forward);
    let (a, _) = run6(&mut w, &udp6(subs[3], 40000, y6(), 53), t0 + 334);
    assert_eq!(a, Action::Forward);
    assert_eq!(w.allocator().blocks_in_use(), 4);
}

// ---- translation.deny4 (issue 15) ----

#[test]
fn deny4_destinations_refused_with_their_reason_pool_and_routers_not() {
    // A network-specific prefix and no deny4 key: the default denies the
    // outside link (192.0.2.0/24 by default, less the pool 192.0.2.0/28)
    // and RFC 1918 space.
    let mut w = worker(&Opts::default());
    let on_link = Ipv4Addr::new(192, 0, 2, 77);
    let private = Ipv4Addr::new(10, 1, 2, 3);
    for (n, dst) in [on_link, private].into_iter().enumerate() {
        let (a, out) = run6(&mut w, &udp6(x6(), 40000, pfx().embed(dst), 53), 0);
        assert_eq!(
            a,
            Action::Reply(ReplyReason::DestinationUnreachable),
            "{dst}"
        );
        let s = seen6(&out);
        // RFC 4443 §3.1: code 1, communication administratively prohibited.
        assert_eq!((s.dst, s.icmp), (x6(), Some((1, 1))), "{dst}");
        assert_eq!(
            w.counters().nat64_drops(Nat64Drop::DeniedIpv4),
            n as u64 + 1
        );
    }
    // Refused before any state: no block, no mapping.
    assert_eq!(w.allocator().blocks_in_use(), 0);
    assert_eq!(w.tables().bib_len(), 0);
    assert_eq!(w.counters().nat64_drops(Nat64Drop::NonGlobalIpv4), 0);
    // A global destination goes out; a pool address hairpins.
    let (t1, tp1) = open_udp(&mut w, x6(), 40000, Y4, 53, 1);
    let (a, _) = run6(&mut w, &udp6(x6b(), 41000, pfx().embed(t1), tp1), 2);
    assert_eq!(a, Action::Hairpin);
    // From the IPv4 side: a denied source is dropped with the reason
    // (endpoint-independent filtering would let it in otherwise)...
    let (a, _) = run4(&mut w, &udp4(private, 53, t1, tp1), 3);
    assert_eq!(a, Action::Drop(DropCause::Nat64(Nat64Drop::DeniedIpv4)));
    assert_eq!(w.counters().nat64_drops(Nat64Drop::DeniedIpv4), 3);
    // ...but an ICMP error from a router on the outside link (here: the
    // outside gateway) about a flow to a reachable host still arrives.
    let gw = Ipv4Addr::new(192, 0, 2, 253);
    let quoted = udp4(t1, tp1, Y4, 53);
    let b = PacketBuilder::ipv4(gw.octets(), t1.octets(), 64).icmpv4(Icmpv4Type::TimeExceeded(
        icmpv4::TimeExceededCode::TtlExceededInTransit,
    ));
    let mut err = Vec::new();
    b.write(&mut err, &quoted).unwrap();
    let (a, out) = run4(&mut w, &err, 4);
    assert_eq!(a, Action::Forward);
    assert_eq!(seen6(&out).src, pfx().embed(gw));
}

#[test]
fn deny4_reload_sweeps_the_sessions_it_forbids() {
    let mut w = worker(&Opts::default());
    let (t1, tp1) = open_udp(&mut w, x6(), 40000, Y4, 53, 0);
    let (_, tpz) = open_udp(&mut w, x6(), 40001, Z4, 53, 0);
    assert_eq!((w.tables().sessions_len(), w.tables().bib_len()), (2, 2));
    // The operator denies Y's /24 on reload: the next tick sweeps the
    // session to Y away (its mapping and port with it), not Z's.
    let mut cfg = config(&Opts::default());
    cfg.translation.deny4 = Some(vec![crate::config::Ipv4Range {
        first: Ipv4Addr::new(198, 51, 100, 0),
        last: Ipv4Addr::new(198, 51, 100, 255),
    }]);
    w.apply(&LiveSettings::new(&cfg, Arc::clone(&w.layout)));
    assert_eq!(w.sweep, Some(0));
    tick(&mut w, 1);
    assert_eq!(w.sweep, None);
    assert_eq!((w.tables().sessions_len(), w.tables().bib_len()), (1, 1));
    assert!(w.tables().bib_by_v4(L4::Udp, t1, tp1).is_none());
    assert_eq!(w.counters().sessions_expired, 1);
    // The next packet either way takes the general path and is refused.
    let (a, _) = run6(&mut w, &udp6(x6(), 40000, y6(), 53), 2);
    assert_eq!(a, Action::Reply(ReplyReason::DestinationUnreachable));
    let acts = run_bursts(&mut w, &[udp4(Y4, 53, t1, tp1)], 3, false, 32);
    assert_eq!(
        acts[0].0,
        Action::Drop(DropCause::Nat64(Nat64Drop::DeniedIpv4))
    );
    assert_eq!(w.counters().nat64_drops(Nat64Drop::DeniedIpv4), 2);
    // Z's session carries on, through the fast path.
    let acts = run_bursts(&mut w, &[udp4(Z4, 53, t1, tpz)], 4, false, 32);
    assert_eq!(acts[0].0, Action::Forward);
    assert_eq!(seen6(&acts[0].1).dport, 40001);
}

#[test]
fn subscribers_reload_sweeps_the_sessions_of_sources_no_longer_served() {
    let o = Opts {
        subscribers: "[\"2001:db8:1::/48\", \"2001:db8:2::/48\"]",
        ..Opts::default()
    };
    let mut w = worker(&o);
    open_udp(&mut w, x6(), 40000, Y4, 53, 0);
    let (tb, tpb) = open_udp(&mut w, x6b(), 40000, Y4, 53, 0);
    // x6b's /48 is no longer served.
    let cfg = config(&Opts {
        subscribers: "[\"2001:db8:1::/48\"]",
        ..Opts::default()
    });
    w.apply(&reloaded(&w, &cfg));
    tick(&mut w, 1);
    assert_eq!((w.tables().sessions_len(), w.tables().bib_len()), (1, 1));
    assert!(w.tables().bib_by_v6(L4::Udp, &x6b(), 40000).is_none());
    assert_eq!(w.counters().sessions_expired, 1);
    let (a, _) = run6(&mut w, &udp6(x6b(), 40000, y6(), 53), 2);
    assert_eq!(a, nd(Nat64Drop::NotSubscriber));
    // Nothing reaches it from the IPv4 side either: no mapping is left.
    let (a, _) = run4(&mut w, &udp4(Y4, 53, tb, tpb), 3);
    assert_ne!(a, Action::Forward);
    let (a, _) = run6(&mut w, &udp6(x6(), 40000, y6(), 53), 4);
    assert_eq!(a, Action::Forward);
}

#[test]
fn a_sweep_checks_sweep_slots_a_tick_and_only_when_reach_changes() {
    use crate::nat64::live::SWEEP_SLOTS;
    let o = Opts {
        sessions: (2 * SWEEP_SLOTS + 1) as u32,
        ..Opts::default()
    };
    let mut w = worker(&o);
    let cap = w.tables().capacity();
    assert!(cap > 2 * SWEEP_SLOTS);
    // A reload of timeouts only: nothing to sweep.
    let mut cfg = config(&o);
    cfg.timeouts.udp = std::time::Duration::from_secs(60);
    w.apply(&reloaded(&w, &cfg));
    assert_eq!(w.sweep, None);
    // Allowing non-global addresses changes who may reach what: the
    // table is swept, SWEEP_SLOTS slots a tick.
    cfg.translation.allow_non_global_ipv4 = true;
    w.apply(&reloaded(&w, &cfg));
    let mut ticks = 0;
    while let Some(at) = w.sweep {
        assert_eq!(at, ticks * SWEEP_SLOTS);
        tick(&mut w, 1 + ticks as Millis);
        ticks += 1;
    }
    assert_eq!(ticks, cap.div_ceil(SWEEP_SLOTS));
}

#[test]
fn deny4_none_beyond_rfc6052_with_the_well_known_prefix() {
    // The well-known prefix, no deny4 key: §3.1 alone (a private address
    // is non-global, not "denied"); an explicit list adds to it.
    let wkp = Opts {
        prefix: "64:ff9b::/96",
        ..Opts::default()
    };
    let mut w = worker(&wkp);
    let private = Nat64Prefix::WELL_KNOWN.embed(Ipv4Addr::new(10, 1, 2, 3));
    let (a, _) = run6(&mut w, &udp6(x6(), 40000, private, 53), 0);
    assert_eq!(a, Action::Reply(ReplyReason::DestinationUnreachable));
    assert_eq!(w.counters().nat64_drops(Nat64Drop::NonGlobalIpv4), 1);
    assert_eq!(w.counters().nat64_drops(Nat64Drop::DeniedIpv4), 0);
}

// ---- ownership ----

#[test]
fn wrong_worker_packets_are_handed_off() {
    let o = Opts::default();
    let n = 4;
    // A subscriber not owned by worker 0.
    let host = (1..1000u16)
        .map(|i| Ipv6Addr::new(0x2001, 0xdb8, i, 0, 0, 0, 0, 1))
        .find(|a| subscriber_worker(&Subscriber::of(a, 56), n) != 0)
        .unwrap();
    let owner = subscriber_worker(&Subscriber::of(&host, 56), n);
    let mut w0 = worker_n(&o, 0, n);
    let pkt = udp6(host, 1, y6(), 53);
    let (a, out) = run6(&mut w0, &pkt, 0);
    assert_eq!(
        a,
        Action::Handoff {
            worker: owner,
            dir: Direction::SixToFour
        }
    );
    assert_eq!(out, pkt, "untouched");
    assert_eq!(w0.counters().handed_off, 1);
    // The owner translates it.
    let mut wn = worker_n(&o, owner, n);
    let (a, out) = run6(&mut wn, &pkt, 0);
    assert_eq!(a, Action::Forward);
    let s = seen4(&out);
    assert_eq!(wn.layout.owner(s.src, s.sport, L4::Udp), Some(owner));
    // Its answer arriving at worker 0 is handed to the owner too.
    let (a, _) = run4(&mut w0, &udp4(Y4, 53, s.src, s.sport), 1);
    assert_eq!(
        a,
        Action::Handoff {
            worker: owner,
            dir: Direction::FourToSix
        }
    );
}

/// Workers 0 and 1 of two, and a subscriber host owned by each.
fn two_workers() -> (Worker, Worker, Ipv6Addr, Ipv6Addr) {
    let o = Opts::default();
    let n = 2;
    let w_of = |a: &Ipv6Addr| subscriber_worker(&Subscriber::of(a, 56), n);
    let hosts: Vec<Ipv6Addr> = (1..200u16)
        .map(|i| Ipv6Addr::new(0x2001, 0xdb8, i, 0, 0, 0, 0, 1))
        .collect();
    let x1 = hosts.iter().copied().find(|a| w_of(a) == 0).unwrap();
    let x2 = hosts.iter().copied().find(|a| w_of(a) == 1).unwrap();
    (worker_n(&o, 0, n), worker_n(&o, 1, n), x1, x2)
}

#[test]
fn rfc6146_3_8_hairpin_across_workers_hands_off_the_ipv4_half() {
    let (mut w0, mut w1, x1, x2) = two_workers();
    let (t1, tp1) = open_udp(&mut w0, x1, 40000, Y4, 53, 0);
    // X2 (worker 1) sends to X1's mapping, owned by worker 0.
    let (a, v4) = run6(&mut w1, &udp6(x2, 41000, pfx().embed(t1), tp1), 1);
    assert_eq!(
        a,
        Action::Handoff {
            worker: 0,
            dir: Direction::FourToSix
        }
    );
    let mid = seen4(&v4);
    assert_eq!((mid.dst, mid.dport), (t1, tp1));
    assert_eq!(w1.layout.owner(mid.src, mid.sport, L4::Udp), Some(1));
    // Worker 0 runs the IPv4 half and sends the result inside.
    let (a, out) = run4(&mut w0, &v4, 2);
    assert_eq!(a, Action::Forward);
    let s = seen6(&out);
    assert_eq!((s.src, s.sport), (pfx().embed(mid.src), mid.sport));
    assert_eq!((s.dst, s.dport), (x1, 40000));
}

#[test]
fn drop_counters_one_per_variant_in_all_order() {
    let mut names = std::collections::HashSet::new();
    for (i, d) in Nat64Drop::ALL.iter().enumerate() {
        assert_eq!(d.index(), i);
        assert!(names.insert(d.name()), "duplicate name {}", d.name());
    }
    // `Counters` indexes xlat reasons by discriminant: ALL must be in
    // declaration order.
    for (i, r) in DropReason::ALL.iter().enumerate() {
        assert_eq!(*r as usize, i, "{}", r.name());
    }
}

// ---- properties ----

/// A random flow: subscriber, host, port, protocol, server.
fn flow_strategy() -> impl Strategy<Value = (u16, u16, u16, u8, u8)> {
    (0u16..6, 1u16..4, 1024u16..1100, 0u8..3, 1u8..5)
}

fn send(w: &mut Worker, f: (u16, u16, u16, u8, u8), now: Millis) {
    let (sub, host, port, proto, srv) = f;
    let x = Ipv6Addr::new(0x2001, 0xdb8, sub, 0, 0, 0, 0, host);
    let y = pfx().embed(Ipv4Addr::new(198, 51, 100, srv));
    let pkt = match proto {
        0 => udp6(x, port, y, 53),
        1 => tcp6(x, port, y, 80, tcp::flags::SYN),
        _ => echo6(x, y, port),
    };
    let _ = run6(w, &pkt, now);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// After the longest timeout with no traffic every table is empty and
    /// every block is free again (after the 120 s hold-down).
    #[test]
    fn prop_everything_frees_after_longest_timeout(flows in proptest::collection::vec(flow_strategy(), 1..60)) {
        let mut w = worker(&Opts { block_size: 64, ..Opts::default() });
        let free0 = w.allocator().blocks_free();
        for (i, f) in flows.iter().enumerate() {
            send(&mut w, *f, i as Millis);
        }
        prop_assert!(w.tables().sessions_len() > 0);
        let end = after(flows.len() as Millis, w.timeouts.longest());
        tick(&mut w, end);
        prop_assert_eq!(w.tables().sessions_len(), 0);
        prop_assert_eq!(w.tables().bib_len(), 0);
        prop_assert_eq!(w.allocator().blocks_in_use(), 0);
        tick(&mut w, end + 120_001);
        prop_assert_eq!(w.allocator().blocks_free(), free0);
    }

    /// Whatever the bytes, both halves return an action and never panic;
    /// a mutated packet that is not forwarded is counted.
    #[test]
    fn prop_arbitrary_and_mutated_packets_never_panic(
        junk in proptest::collection::vec(any::<u8>(), 0..200),
        flips in proptest::collection::vec((0usize..120, any::<u8>()), 1..6),
    ) {
        let mut w = worker(&Opts::default());
        let (t4, tp) = open_udp(&mut w, x6(), 40000, Y4, 53, 0);
        let _ = run6(&mut w, &junk, 1);
        let _ = run4(&mut w, &junk, 1);
        let mut p6 = tcp6(x6(), 40000, y6(), 80, tcp::flags::SYN);
        let mut p4 = udp4(Y4, 53, t4, tp);
        for (at, v) in &flips {
            if let Some(b) = p6.get_mut(*at) { *b ^= *v; }
            if let Some(b) = p4.get_mut(*at) { *b ^= *v; }
        }
        let drops = |w: &Worker| {
            Nat64Drop::ALL.iter().map(|d| w.counters().nat64_drops(*d)).sum::<u64>()
                + DropReason::ALL.iter().map(|r| w.counters().xlat_drops(*r)).sum::<u64>()
        };
        for (pkt, six) in [(&p6, true), (&p4, false)] {
            let before = drops(&w);
            let (a, _) = run(&mut w, pkt, 2, six);
            if let Action::Drop(c) = a {
                prop_assert!(w.counters().drops(c) > 0);
                prop_assert_eq!(drops(&w), before + 1);
            }
        }
    }

    /// The session table never holds more than its capacity; a full table
    /// reclaims the stalest session instead of refusing.
    #[test]
    fn prop_capacity_never_exceeded(flows in proptest::collection::vec(flow_strategy(), 1..200)) {
        let mut w = worker(&Opts { sessions: 16, ..Opts::default() });
        for (i, f) in flows.iter().enumerate() {
            send(&mut w, *f, i as Millis);
            prop_assert!(w.tables().sessions_len() <= 16);
            prop_assert!(w.tables().bib_len() <= 16);
        }
    }
}

// ---- bursts ----

/// The IPv4 answer to a translated IPv4 packet `out` (addresses and ports
/// swapped: UDP back, TCP SYN+ACK, echo reply); `None` if `out` is not a
/// plain IPv4 UDP/TCP/echo packet.
fn reverse4(out: &[u8]) -> Option<Vec<u8>> {
    let h = PacketHeaders::from_ip_slice(out).ok()?;
    let Some(NetHeaders::Ipv4(ip, _)) = &h.net else {
        return None;
    };
    let (s, d) = (Ipv4Addr::from(ip.source), Ipv4Addr::from(ip.destination));
    match &h.transport {
        Some(TransportHeader::Udp(u)) => Some(udp4(d, u.destination_port, s, u.source_port)),
        Some(TransportHeader::Tcp(t)) => Some(tcp4(
            d,
            t.destination_port,
            s,
            t.source_port,
            tcp::flags::SYN | tcp::flags::ACK,
        )),
        Some(TransportHeader::Icmpv4(i)) => match &i.icmp_type {
            Icmpv4Type::EchoRequest(e) => Some(echo_reply4(d, s, e.id)),
            _ => None,
        },
        _ => None,
    }
}

/// Runs `pkts` through `process_*_burst` in bursts of `burst` (with one
/// spare action slot each, which must stay untouched); actions and the
/// resulting buffers, in order.
fn run_bursts(
    w: &mut Worker,
    pkts: &[Vec<u8>],
    now: Millis,
    six: bool,
    burst: usize,
) -> Vec<(Action, Vec<u8>)> {
    let mut res = Vec::new();
    for chunk in pkts.chunks(burst.max(1)) {
        let mut mems: Vec<Vec<u8>> = chunk
            .iter()
            .map(|p| {
                let mut m = vec![0u8; HEADROOM + p.len() + 1600];
                m[HEADROOM..HEADROOM + p.len()].copy_from_slice(p);
                m
            })
            .collect();
        let mut bufs: Vec<PacketBuf> = mems
            .iter_mut()
            .zip(chunk)
            .map(|(m, p)| PacketBuf::new(m, HEADROOM, p.len()).unwrap())
            .collect();
        let mut refs: Vec<&mut PacketBuf> = bufs.iter_mut().collect();
        let sentinel = Action::Drop(DropCause::Nat64(Nat64Drop::HairpinUnanswerable));
        let mut actions = vec![sentinel; chunk.len() + 1];
        if six {
            w.process_6to4_burst(&mut refs, now, &mut actions);
        } else {
            w.process_4to6_burst(&mut refs, now, &mut actions);
        }
        assert_eq!(actions[chunk.len()], sentinel, "spare action slot written");
        for (a, b) in actions.iter().zip(&bufs) {
            res.push((*a, b.data().to_vec()));
        }
    }
    res
}

/// A random IPv6 packet: (kind, subscriber, host, port, server).
fn burst6_strategy() -> impl Strategy<Value = (u8, u16, u16, u16, u8)> {
    (0u8..13, 0u16..4, 1u16..3, 1024u16..1032, 1u8..3)
}

fn burst6_packet(k: (u8, u16, u16, u16, u8)) -> Vec<u8> {
    let (kind, sub, host, port, srv) = k;
    let x = Ipv6Addr::new(0x2001, 0xdb8, sub, 0, 0, 0, 0, host);
    let y = pfx().embed(Ipv4Addr::new(198, 51, 100, srv));
    match kind {
        0 | 1 => udp6(x, port, y, 53),
        2 => tcp6(x, port, y, 80, tcp::flags::SYN),
        3 => echo6(x, y, port),
        // §3.8: to a pool transport address (hairpin, or no BIB).
        4 => udp6(
            x,
            port,
            pfx().embed(Ipv4Addr::new(192, 0, 2, srv)),
            1024 + port,
        ),
        // Not under the prefix.
        5 => udp6(x, port, x6b(), 53),
        // Later segments of the TCP flow: the state machine (§3.5.2.2)
        // on established sessions.
        7 => tcp6(x, port, y, 80, tcp::flags::ACK),
        8 => tcp6(x, port, y, 80, tcp::flags::FIN | tcp::flags::ACK),
        9 => tcp6(x, port, y, 80, tcp::flags::RST),
        // Hop limit 1: Time Exceeded (RFC 7915 §5.1) after the session
        // was found.
        10 => {
            let mut p = udp6(x, port, y, 53);
            p[7] = 1;
            p
        }
        // A traffic class (RFC 7915 §5.1 copies it).
        11 => {
            let mut p = udp6(x, port, y, 53);
            p[0] = 0x6b;
            p[1] |= 0x80;
            p
        }
        // UDP checksum 0, which IPv6 forbids (RFC 8200 §8.1).
        12 => {
            let mut p = udp6(x, port, y, 53);
            p[46] = 0;
            p[47] = 0;
            p
        }
        // Truncated: the translator's drop.
        _ => udp6(x, port, y, 53)[..30].to_vec(),
    }
}

/// `process_*_burst` gives exactly what `process_*` gives one packet at a
/// time, in order: same actions, same bytes, same counters and table
/// sizes, then the same expiries. The IPv6 packets `six` (see
/// `burst6_packet`) go first, then their answers with `unsolicited` IPv4
/// packets among them, then `six` again on established sessions.
fn burst_equals_one_by_one(
    six: &[(u8, u16, u16, u16, u8)],
    unsolicited: &[(u8, u16, bool)],
    burst: usize,
    workers: u16,
) {
    let o = Opts {
        block_size: 64,
        ..Opts::default()
    };
    let mut one = worker_n(&o, 0, workers);
    let mut many = worker_n(&o, 0, workers);
    let pkts6: Vec<Vec<u8>> = six.iter().map(|k| burst6_packet(*k)).collect();
    let want6: Vec<(Action, Vec<u8>)> = pkts6.iter().map(|p| run6(&mut one, p, 10)).collect();
    let got6 = run_bursts(&mut many, &pkts6, 10, true, burst);
    assert_eq!(&got6, &want6);
    // The answers, in the same order, and unsolicited IPv4 packets
    // (no BIB, held SYNs) between them.
    let mut pkts4: Vec<Vec<u8>> = want6
        .iter()
        .filter(|(a, _)| *a == Action::Forward)
        .filter_map(|(_, out)| reverse4(out))
        .collect();
    for (i, (host, port, tcp)) in unsolicited.iter().enumerate() {
        let t4 = Ipv4Addr::new(192, 0, 2, *host);
        let p = if *tcp {
            tcp4(Z4, 5000, t4, *port, tcp::flags::SYN)
        } else {
            udp4(Z4, 5000, t4, *port)
        };
        let at = (i * 7) % (pkts4.len() + 1);
        pkts4.insert(at, p);
    }
    let want4: Vec<(Action, Vec<u8>)> = pkts4.iter().map(|p| run4(&mut one, p, 20)).collect();
    let got4 = run_bursts(&mut many, &pkts4, 20, false, burst);
    assert_eq!(&got4, &want4);
    // And the IPv6 side again, now with established sessions.
    let again6: Vec<(Action, Vec<u8>)> = pkts6.iter().map(|p| run6(&mut one, p, 30)).collect();
    let got6 = run_bursts(&mut many, &pkts6, 30, true, burst);
    assert_eq!(&got6, &again6);
    assert_eq!(
        format!("{:?}", one.counters()),
        format!("{:?}", many.counters())
    );
    assert_eq!(one.tables().sessions_len(), many.tables().sessions_len());
    assert_eq!(one.tables().bib_len(), many.tables().bib_len());
    assert_eq!(one.held_syns(), many.held_syns());
    // The same TCP states and timers: past the transitory lifetime
    // (sessions a FIN or RST moved) but within the others, the same
    // sessions expire and the same held SYNs are answered.
    let later = after(30, one.timeouts.tcp_transitory);
    assert!(later < 30 + one.timeouts.udp.min(one.timeouts.tcp_established));
    assert_eq!(tick(&mut one, later), tick(&mut many, later));
    assert_eq!(one.tables().sessions_len(), many.tables().sessions_len());
    assert_eq!(one.tables().bib_len(), many.tables().bib_len());
    assert_eq!(
        format!("{:?}", one.counters()),
        format!("{:?}", many.counters())
    );
}

/// Mostly whole TCP and UDP packets (kinds 0, 1, 2, 7, 8, 9, 11), now and
/// then something else: short bursts of these are often plain throughout,
/// which sends them down the fast path (`pipeline::fast`).
fn plain6_strategy() -> impl Strategy<Value = (u8, u16, u16, u16, u8)> {
    (
        prop::sample::select(vec![0u8, 0, 1, 2, 7, 7, 8, 9, 11, 0, 1, 7, 3, 10, 12, 4]),
        0u16..4,
        1u16..3,
        1024u16..1030,
        1u8..3,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// `burst_equals_one_by_one` over any mix: packets of one new flow
    /// share bursts, other workers' subscribers are handed off, junk is
    /// dropped, hairpins and held SYNs happen, bursts are shorter and
    /// longer than `BURST`.
    #[test]
    fn prop_burst_equals_one_by_one(
        six in proptest::collection::vec(burst6_strategy(), 1..120),
        unsolicited in proptest::collection::vec((0u8..16, 1024u16..1100, any::<bool>()), 0..20),
        burst in 1usize..70,
        workers in 1u16..3,
    ) {
        burst_equals_one_by_one(&six, &unsolicited, burst, workers);
    }

    /// `burst_equals_one_by_one` over mostly plain packets in short bursts:
    /// the fast path, its fallback for a new flow or an unsolicited IPv4
    /// packet in a plain burst, and the general path for the other bursts.
    #[test]
    fn prop_plain_bursts_equal_one_by_one(
        six in proptest::collection::vec(plain6_strategy(), 1..150),
        unsolicited in proptest::collection::vec((0u8..16, 1024u16..1100, any::<bool>()), 0..6),
        burst in 1usize..12,
        workers in 1u16..3,
    ) {
        burst_equals_one_by_one(&six, &unsolicited, burst, workers);
    }
}

#[test]
fn burst_matches_single_for_the_same_new_flow_in_one_burst() {
    let mut one = worker(&Opts::default());
    let mut many = worker(&Opts::default());
    // Three packets of one new flow, one of another, in one burst: the
    // first creates the session, the others find it.
    let a = udp6(x6(), 40000, y6(), 53);
    let b = udp6(x6b(), 40001, y6(), 53);
    let pkts = vec![a.clone(), a.clone(), b, a];
    let want: Vec<_> = pkts.iter().map(|p| run6(&mut one, p, 0)).collect();
    let got = run_bursts(&mut many, &pkts, 0, true, 32);
    assert_eq!(got, want);
    assert!(got.iter().all(|(a, _)| *a == Action::Forward));
    assert_eq!(many.tables().sessions_len(), 2);
    assert_eq!(many.counters().sessions_created, 2);
    assert_eq!(many.counters().translated_6to4, 4);
    // The mapping is the same for all three packets of the flow.
    let s: Vec<_> = [0, 1, 3].iter().map(|&i| seen4(&got[i].1)).collect();
    assert!(s.iter().all(|x| (x.src, x.sport) == (s[0].src, s[0].sport)));
}

// ---- IPv4 header checksum left to the outside NIC ----

/// With the NIC filling IPv4 header checksums, a translated packet leaves
/// with 0 there, and the hairpinned IPv4 half (which never meets the NIC)
/// is checked and translated as without: the checksum is filled first.
#[test]
fn ipv4_checksum_offload_forward_and_hairpin() {
    let mut soft = worker(&Opts::default());
    let mut nic = worker(&Opts::default());
    nic.set_ipv4_checksum_offload(true);
    let pkt = udp6(x6(), 40000, y6(), 53);
    let (a, s_out) = run6(&mut soft, &pkt, 0);
    let (b, n_out) = run6(&mut nic, &pkt, 0);
    assert_eq!((a, b), (Action::Forward, Action::Forward));
    seen4(&s_out);
    assert_eq!(&n_out[10..12], &[0, 0]);
    assert_eq!(n_out[..10], s_out[..10]);
    assert_eq!(n_out[12..], s_out[12..]);

    // §3.8 on the offloading worker: X2 to X1's mapping.
    let (t1, tp1) = {
        let m = seen4(&s_out);
        (m.src, m.sport)
    };
    let (a, out) = run6(&mut nic, &udp6(x6b(), 41000, pfx().embed(t1), tp1), 1);
    assert_eq!(a, Action::Hairpin);
    let s = seen6(&out);
    assert_eq!((s.dst, s.dport), (x6(), 40000));
    // The packet crossed one router: its hop limit (64) went down by one.
    let hop = etherparse::Ipv6HeaderSlice::from_slice(&out)
        .unwrap()
        .hop_limit();
    assert_eq!(hop, 63);
    assert_eq!(nic.counters().hairpinned, 1);
    assert_eq!(nic.counters().xlat_drops(DropReason::BadIpv4Checksum), 0);
}

/// The IPv4 half of a hairpin handed to another worker carries a valid
/// header checksum (that worker checks it), with the offload on.
#[test]
fn ipv4_checksum_offload_hairpin_handoff_carries_checksum() {
    let (mut w0, mut w1, x1, x2) = two_workers();
    // (open_udp checks the translated header's checksum: offload after.)
    let (t1, tp1) = open_udp(&mut w0, x1, 40000, Y4, 53, 0);
    w0.set_ipv4_checksum_offload(true);
    w1.set_ipv4_checksum_offload(true);
    let (a, v4) = run6(&mut w1, &udp6(x2, 41000, pfx().embed(t1), tp1), 1);
    assert!(matches!(a, Action::Handoff { worker: 0, .. }), "{a:?}");
    // seen4 checks the header checksum.
    assert_eq!(seen4(&v4).dst, t1);
    let (a, _) = run4(&mut w0, &v4, 2);
    assert_eq!(a, Action::Forward);
}

// ---- reload (`live.rs`) ----

/// `cfg`'s live settings for `w`, the static entries routed from `w`'s
/// layout as a reload routes them.
fn reloaded(w: &Worker, cfg: &Config) -> LiveSettings {
    let layout = Arc::new(w.layout.with_static_bib(&cfg.static_bib));
    LiveSettings::new(cfg, layout)
}

#[test]
fn reload_keeps_sessions_and_new_timeouts_apply_from_the_next_refresh() {
    let o = Opts::default();
    let mut w = worker(&o);
    let (t4, tp) = open_udp(&mut w, x6(), 40000, Y4, 53, 0);
    let old_udp = w.timeouts.udp;
    let mut cfg = config(&o);
    cfg.timeouts.udp = std::time::Duration::from_secs(60);
    w.apply(&reloaded(&w, &cfg));
    assert_eq!(w.timeouts.udp, 60_000);
    // The session and its mapping are still there; the running deadline
    // (set at 0 with the old timeout) is kept: past the new timeout
    // without a packet the session is still there.
    assert_eq!((w.tables().sessions_len(), w.tables().bib_len()), (1, 1));
    tick(&mut w, after(0, 60_000));
    assert_eq!(w.tables().sessions_len(), 1);
    // It still carries traffic, and that refresh sets the new timeout.
    let t1 = 70_000;
    let (a, out) = run4(&mut w, &udp4(Y4, 53, t4, tp), t1);
    assert_eq!(a, Action::Forward);
    assert_eq!(seen6(&out).dport, 40000);
    tick(&mut w, t1 + 60_000 - 1);
    assert_eq!(w.tables().sessions_len(), 1);
    tick(&mut w, after(t1, 60_000));
    assert_eq!(w.tables().sessions_len(), 0);
    assert!(
        after(t1, 60_000) < old_udp,
        "expired before the old timeout"
    );
    assert_eq!(w.counters().sessions_created, 1);
    assert_eq!(w.counters().sessions_expired, 1);
}

#[test]
fn reload_of_filtering_applies_to_the_next_packet() {
    let o = Opts::default();
    let mut w = worker(&o);
    let (t4, tp) = open_udp(&mut w, x6(), 40000, Y4, 53, 0);
    let mut cfg = config(&o);
    cfg.filtering.address_dependent = true;
    w.apply(&reloaded(&w, &cfg));
    // RFC 6146 §3.5.1 address-dependent filtering: Z never was sent to.
    let (a, _) = run4(&mut w, &udp4(Z4, 999, t4, tp), 1);
    assert!(
        matches!(a, Action::Drop(_) | Action::Reply(_)),
        "Z admitted: {a:?}"
    );
    let (a, _) = run4(&mut w, &udp4(Y4, 53, t4, tp), 2);
    assert_eq!(a, Action::Forward);
    assert_eq!(w.tables().sessions_len(), 1);
}

#[test]
fn reload_adds_and_removes_static_bib_entries() {
    let o = Opts::default();
    let mut w = worker(&o);
    let (t4, tp) = open_udp(&mut w, x6b(), 40000, Y4, 53, 0);
    let s4 = Ipv4Addr::new(192, 0, 2, 1);
    // Nothing forwards to the IPv6 server yet.
    let (a, _) = run4(&mut w, &udp4(Y4, 5353, s4, 53), 1);
    assert_ne!(a, Action::Forward);
    // Added: both entries installed, the dynamic mapping untouched.
    let with = config(&Opts {
        static_bib: STATIC,
        ..Opts::default()
    });
    w.apply(&reloaded(&w, &with));
    assert_eq!(w.tables().bib_len(), 3);
    let (a, out) = run4(&mut w, &udp4(Y4, 5353, s4, 53), 2);
    assert_eq!(a, Action::Forward);
    let s = seen6(&out);
    assert_eq!((s.dst, s.dport), (x6(), 53));
    let (a, out) = run4(&mut w, &tcp4(Y4, 40001, s4, 8080, tcp::flags::SYN), 3);
    assert_eq!(a, Action::Forward);
    assert_eq!(seen6(&out).dport, 80);
    let (a, _) = run4(&mut w, &udp4(Y4, 53, t4, tp), 4);
    assert_eq!(a, Action::Forward, "the dynamic session survives");
    // The same settings again change nothing.
    w.apply(&reloaded(&w, &with));
    assert_eq!(w.tables().bib_len(), 3);
    // Removed: the TCP entry has no session left once its V4 INIT one
    // expired; the UDP entry has one (from 2), which expires normally.
    let without = config(&o);
    let incoming = w.timeouts.tcp_incoming_syn;
    tick(&mut w, after(3, incoming));
    assert!(w.tables().bib_by_v4(L4::Tcp, s4, 8080).is_some(), "static");
    w.apply(&reloaded(&w, &without));
    assert!(w.tables().bib_by_v4(L4::Tcp, s4, 8080).is_none());
    let udp = w
        .tables()
        .bib_by_v4(L4::Udp, s4, 53)
        .expect("kept for its session");
    assert!(!w.tables().bib(udp).is_static);
    // Its session still carries traffic, then goes with its timeout.
    let (a, _) = run4(&mut w, &udp4(Y4, 5353, s4, 53), 5);
    assert_eq!(a, Action::Forward);
    let udp = w.timeouts.udp;
    tick(&mut w, after(5, udp));
    assert!(w.tables().bib_by_v4(L4::Udp, s4, 53).is_none());
    assert_eq!(w.tables().bib_len(), 0);
}

#[test]
fn reload_static_entry_waits_for_the_dynamic_mapping_in_its_way() {
    let o = Opts::default();
    let mut w = worker(&o);
    // X' sends from port 53 first: a dynamic mapping holds [X']:53/udp.
    let (t4, tp) = open_udp(&mut w, x6(), 53, Y4, 5353, 0);
    let s4 = Ipv4Addr::new(192, 0, 2, 1);
    assert_ne!((t4, tp), (s4, 53));
    let with = config(&Opts {
        static_bib: STATIC,
        ..Opts::default()
    });
    w.apply(&reloaded(&w, &with));
    // The TCP entry is in; the UDP one waits: the dynamic mapping goes on.
    assert!(w.tables().bib_by_v4(L4::Tcp, s4, 8080).is_some());
    assert!(w.tables().bib_by_v4(L4::Udp, s4, 53).is_none());
    let (a, _) = run4(&mut w, &udp4(Y4, 5353, t4, tp), 1);
    assert_eq!(a, Action::Forward);
    // Once it expired, the static entry is installed.
    let udp = w.timeouts.udp;
    tick(&mut w, after(1, udp));
    tick(&mut w, after(1, udp) + crate::nat64::live::STATIC_RETRY);
    assert!(w.tables().bib_by_v4(L4::Udp, s4, 53).is_some());
    let (a, out) = run4(&mut w, &udp4(Y4, 5353, s4, 53), after(1, udp) + 2000);
    assert_eq!(a, Action::Forward);
    assert_eq!(seen6(&out).dport, 53);
}

// ---- Session floods (issue 15) ----

#[test]
fn one_subscribers_session_flood_leaves_anothers_new_flows_working() {
    let mut w = worker(&Opts {
        session_cap: 20,
        ..Opts::default()
    });
    let t0 = 1_000;
    // Subscriber A opens 30 flows (to 30 destination ports): 20 sessions,
    // then refusals with ICMPv6 unreachable code 3, counted.
    let mut refused = 0;
    for p in 0..30u16 {
        let (a, out) = run6(&mut w, &udp6(x6(), 10000, y6(), 2000 + p), t0);
        if p < 20 {
            assert_eq!(a, Action::Forward, "flow {p}");
        } else {
            assert_eq!(a, Action::Reply(ReplyReason::DestinationUnreachable));
            assert_eq!(seen6(&out).icmp, Some((1, 3)));
            refused += 1;
        }
    }
    assert_eq!(
        w.counters().nat64_drops(Nat64Drop::SubscriberSessionLimit),
        refused
    );
    assert_eq!(w.counters().sessions_created, 20);
    assert_eq!(w.tables().subscriber_sessions(&x6()), 20);
    // Another host of A's /56 (2001:db8:1::/56) is A too: refused.
    let other: Ipv6Addr = "2001:db8:1:ff::99".parse().unwrap();
    let (a, _) = run6(&mut w, &udp6(other, 10000, y6(), 53), t0);
    assert_eq!(a, Action::Reply(ReplyReason::DestinationUnreachable));
    // A's existing flows keep working, both ways.
    let (a, out) = run6(&mut w, &udp6(x6(), 10000, y6(), 2000), t0);
    assert_eq!(a, Action::Forward);
    let m = seen4(&out);
    let (a, _) = run4(&mut w, &udp4(Y4, 2000, m.src, m.sport), t0);
    assert_eq!(a, Action::Forward);
    // An outside host cannot open a 21st session of A's either (silently).
    let (a, _) = run4(&mut w, &udp4(Z4, 9, m.src, m.sport), t0);
    assert_eq!(
        a,
        Action::Drop(DropCause::Nat64(Nat64Drop::SubscriberSessionLimit))
    );
    assert_eq!(
        w.counters().nat64_drops(Nat64Drop::SubscriberSessionLimit),
        refused + 2
    );
    // Subscriber B's new flows all work meanwhile.
    for p in 0..20u16 {
        let (a, _) = run6(&mut w, &udp6(x6b(), 10000 + p, y6(), 53), t0);
        assert_eq!(a, Action::Forward, "B's flow {p}");
    }
    assert_eq!(w.counters().sessions_created, 40);
    // Once A's sessions expire, A may open new ones again.
    tick(&mut w, t0 + 301_000);
    assert_eq!(w.tables().subscriber_sessions(&x6()), 0);
    let (a, _) = run6(&mut w, &udp6(x6(), 10000, y6(), 2029), t0 + 301_000);
    assert_eq!(a, Action::Forward);
}

#[test]
fn a_full_table_is_not_reclaimed_from_smaller_subscribers() {
    // 64 sessions, no per-subscriber cap: only reclaim decides.
    let mut w = worker(&Opts {
        sessions: 64,
        session_cap: 0,
        ..Opts::default()
    });
    // Subscriber B's four flows come first: the stalest of the table.
    let mut b_maps = Vec::new();
    for p in 0..4u16 {
        let (a, out) = run6(&mut w, &udp6(x6b(), 20000 + p, y6(), 53), 1_000);
        assert_eq!(a, Action::Forward);
        b_maps.push(seen4(&out));
    }
    // Subscriber A floods 200 new flows (one mapping, 200 destinations):
    // once the table is full each evicts one of A's own sessions.
    for p in 0..200u16 {
        let (a, _) = run6(
            &mut w,
            &udp6(x6(), 10000, y6(), 1 + p),
            2_000 + Millis::from(p),
        );
        assert_eq!(a, Action::Forward, "A's flow {p}");
    }
    assert_eq!(w.tables().sessions_len(), 64);
    assert_eq!(w.tables().subscriber_sessions(&x6b()), 4);
    assert_eq!(w.tables().subscriber_sessions(&x6()), 60);
    assert_eq!(w.counters().sessions_expired, 200 - 60);
    // B's sessions are alive: replies get through.
    for (i, m) in b_maps.iter().enumerate() {
        let (a, _) = run4(&mut w, &udp4(Y4, 53, m.src, m.sport), 3_000);
        assert_eq!(a, Action::Forward, "reply to B's flow {i}");
    }
    // B's new flow works too, at A's expense (A holds more).
    let (a, _) = run6(&mut w, &udp6(x6b(), 20010, y6(), 53), 3_000);
    assert_eq!(a, Action::Forward);
    assert_eq!(w.tables().subscriber_sessions(&x6b()), 5);
    assert_eq!(w.tables().subscriber_sessions(&x6()), 59);
    // An outsider's flood at B's mapping evicts nothing live: refused.
    let before = w.counters().nat64_drops(Nat64Drop::TableFull);
    for zp in 0..10u16 {
        let (a, _) = run4(
            &mut w,
            &udp4(Z4, 40000 + zp, b_maps[0].src, b_maps[0].sport),
            3_000,
        );
        assert_eq!(a, Action::Drop(DropCause::Nat64(Nat64Drop::TableFull)));
    }
    assert_eq!(w.counters().nat64_drops(Nat64Drop::TableFull), before + 10);
    assert_eq!(w.tables().subscriber_sessions(&x6b()), 5);
    assert_eq!(w.tables().subscriber_sessions(&x6()), 59);
}

#[test]
fn rfc6146_3_5_1_inbound_sessions_per_mapping_are_capped_under_eif() {
    let mut w = worker(&Opts {
        inbound_cap: 4,
        ..Opts::default()
    });
    let (a, out) = run6(&mut w, &udp6(x6(), 5000, y6(), 3478), 1_000);
    assert_eq!(a, Action::Forward);
    let m = seen4(&out);
    // Endpoint-independent filtering: any outside host may open a
    // session on the mapping, four of them here; the rest are dropped
    // silently, counted.
    for zp in 0..10u16 {
        let (a, out) = run4(&mut w, &udp4(Z4, 30000 + zp, m.src, m.sport), 1_000);
        if zp < 4 {
            assert_eq!(a, Action::Forward);
            let s = seen6(&out);
            assert_eq!((s.dst, s.dport), (x6(), 5000));
        } else {
            assert_eq!(
                a,
                Action::Drop(DropCause::Nat64(Nat64Drop::InboundSessionLimit))
            );
        }
    }
    assert_eq!(w.counters().nat64_drops(Nat64Drop::InboundSessionLimit), 6);
    let b = w.tables().bib_by_v6(L4::Udp, &x6(), 5000).unwrap();
    assert_eq!(w.tables().bib(b).inbound, 4);
    assert_eq!(w.tables().bib(b).sessions, 5);
    // Sessions the inside host opens do not count: it still reaches new
    // destinations from the same mapping.
    for dp in 0..10u16 {
        let (a, _) = run6(&mut w, &udp6(x6(), 5000, y6(), 6000 + dp), 1_000);
        assert_eq!(a, Action::Forward);
    }
    // ... and packets of the inbound sessions already open still pass.
    let (a, _) = run4(&mut w, &udp4(Z4, 30000, m.src, m.sport), 1_000);
    assert_eq!(a, Action::Forward);
    // A TCP SYN or an echo request would be refused the same way on a
    // mapping at its cap; here, once the inbound sessions expire, the
    // mapping admits new ones again.
    tick(&mut w, 1_000 + 300_000);
    assert_eq!(w.tables().sessions_len(), 0);
    let (a, out) = run6(&mut w, &udp6(x6(), 5000, y6(), 3478), 301_000);
    assert_eq!(a, Action::Forward);
    let m = seen4(&out);
    let (a, _) = run4(&mut w, &udp4(Z4, 31000, m.src, m.sport), 301_000);
    assert_eq!(a, Action::Forward);
    assert_eq!(w.counters().nat64_drops(Nat64Drop::InboundSessionLimit), 6);
}

#[test]
fn rfc6146_3_5_1_adf_admits_only_the_right_peer_of_a_mapping_with_many_sessions() {
    let mut w = worker(&Opts {
        adf: true,
        ..Opts::default()
    });
    // One mapping with 3000 sessions: 3000 destinations on 30 addresses.
    let dst = |i: u16| pfx().embed(Ipv4Addr::new(198, 51, 100, 10 + (i % 30) as u8));
    let mut m = None;
    for i in 0..3000u16 {
        let (a, out) = run6(&mut w, &udp6(x6(), 5000, dst(i), 1000 + i), 1_000);
        assert_eq!(a, Action::Forward);
        m.get_or_insert_with(|| seen4(&out));
    }
    let m = m.unwrap();
    let b = w.tables().bib_by_v6(L4::Udp, &x6(), 5000).unwrap();
    assert_eq!(w.tables().bib(b).sessions, 3000);
    // Nothing reaches the inside host without a BIB entry...
    let (a, _) = run4(&mut w, &udp4(Y4, 53, m.src, m.sport.wrapping_add(2)), 1_000);
    assert_eq!(a, Action::Reply(ReplyReason::DestinationUnreachable));
    assert_eq!(w.counters().nat64_drops(Nat64Drop::NoBib), 1);
    // ... nor from a peer it never sent to ...
    let (a, _) = run4(&mut w, &udp4(Z4, 53, m.src, m.sport), 1_000);
    assert_eq!(a, Action::Reply(ReplyReason::DestinationUnreachable));
    assert_eq!(w.counters().nat64_drops(Nat64Drop::Filtered), 1);
    // ... while a peer it sent to may answer from any port.
    let peer = Ipv4Addr::new(198, 51, 100, 39);
    let (a, out) = run4(&mut w, &udp4(peer, 4444, m.src, m.sport), 1_000);
    assert_eq!(a, Action::Forward);
    assert_eq!(seen6(&out).dst, x6());
    // Each check looked at a key or two, not the mapping's 3000 sessions.
    assert!(w.tables().adf_keys_compared() <= 4);
}

#[test]
fn one_delegated_48_takes_no_more_than_its_block_share() {
    let mut w = worker(&Opts {
        aggregate_cap: 2,
        ..Opts::default()
    });
    // Three subscribers (/56) of 2001:db8:1::/48, one block each: the
    // third is refused with ICMPv6 unreachable code 3, counted.
    let host = |third: u16, fourth: u16| Ipv6Addr::new(0x2001, 0xdb8, third, fourth, 0, 0, 0, 1);
    for (i, h) in [host(1, 0x100), host(1, 0x200)].into_iter().enumerate() {
        let (a, _) = run6(&mut w, &udp6(h, 5000, y6(), 53), 1_000);
        assert_eq!(a, Action::Forward, "subscriber {i}");
    }
    let (a, out) = run6(&mut w, &udp6(host(1, 0x300), 5000, y6(), 53), 1_000);
    assert_eq!(a, Action::Reply(ReplyReason::DestinationUnreachable));
    assert_eq!(seen6(&out).icmp, Some((1, 3)));
    assert_eq!(w.counters().nat64_drops(Nat64Drop::AggregateLimit), 1);
    assert_eq!(w.allocator().blocks_in_use(), 2);
    // The subscribers holding a block keep mapping new flows in it.
    let (a, _) = run6(&mut w, &udp6(host(1, 0x100), 5001, y6(), 53), 1_000);
    assert_eq!(a, Action::Forward);
    // Another /48 is not affected.
    let (a, _) = run6(&mut w, &udp6(host(2, 0x100), 5000, y6(), 53), 1_000);
    assert_eq!(a, Action::Forward);
    assert_eq!(w.counters().nat64_drops(Nat64Drop::AggregateLimit), 1);
}
