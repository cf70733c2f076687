//! The DNS64 server (`nat64_dpdk::dns64::server`) end to end: nsd serving
//! the test zone (`tests/common/nsd.rs`) as the upstream, the server on
//! 127.0.0.1:0 and [::1]:0, queries over UDP and TCP built and answers
//! read with `hickory-proto`, an independent DNS library. No DPDK.
//!
//! The tests skip, with the reason printed, only when nsd is not installed,
//! and never under CI (`CI` set).

mod common;

use std::io::{Read, Write};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream, UdpSocket};
use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use common::dns::{query_msg, udp_exchange};
use common::nsd::{self, Nsd};
use hickory_proto::op::{Message, MessageType, ResponseCode};
use hickory_proto::rr::{RData, Record, RecordType};
use nat64_dpdk::config::{ClientList, Config, Ipv4Range};
use nat64_dpdk::dns64::server::{self, ServerHandle, ServerOptions};
use nat64_dpdk::xlat::rfc6052::Nat64Prefix;

const WKP: &str = "64:ff9b::/96";
/// A network-specific /40 (RFC 6052 §2.2: the u-octet splits the IPv4
/// address after its third octet).
const NSP40: &str = "2001:db8:6400::/40";

struct Lab {
    server: ServerHandle,
    _nsd: Option<Nsd>,
    _hole: Option<UdpSocket>,
}

impl Lab {
    fn addrs(&self) -> Vec<SocketAddr> {
        self.server.local_addrs()
    }
    fn v4(&self) -> SocketAddr {
        self.addrs()[0]
    }
}

fn base_config(prefix: &str) -> Config {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/cgn.toml");
    let mut cfg = Config::from_file(&path).expect("config/cgn.toml");
    let p: Nat64Prefix = prefix.parse().unwrap();
    cfg.translation.prefix = p;
    // The zone's addresses are documentation addresses, which RFC 6052
    // §3.1 counts as non-global: allowed under the well-known prefix here,
    // except in the test of that rule.
    cfg.translation.allow_non_global_ipv4 = true;
    cfg.dns64.prefix = p;
    cfg.dns64.listen = vec![
        (Ipv4Addr::LOCALHOST, 0).into(),
        (Ipv6Addr::LOCALHOST, 0).into(),
    ];
    cfg.dns64.timeout = Duration::from_millis(300);
    cfg.dns64.rate_limit_qps = 0;
    cfg.dns64.allow = ClientList::default();
    cfg
}

/// nsd and the server in front of it, or `None` (reason printed) when nsd
/// is not installed.
fn lab_with(prefix: &str, opts: ServerOptions, tweak: impl FnOnce(&mut Config)) -> Option<Lab> {
    if let Err(why) = nsd::can_run() {
        eprintln!("skipped: {why}");
        return None;
    }
    let nsd = Nsd::start();
    let mut cfg = base_config(prefix);
    cfg.dns64.upstream = vec![nsd.addr()];
    tweak(&mut cfg);
    let server = server::start(&cfg, opts).expect("server starts");
    Some(Lab {
        server,
        _nsd: Some(nsd),
        _hole: None,
    })
}

fn lab(prefix: &str) -> Option<Lab> {
    lab_with(prefix, ServerOptions::default(), |_| {})
}

/// The server in front of an upstream that never answers.
fn dead_lab(tweak: impl FnOnce(&mut Config)) -> Lab {
    let hole = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let mut cfg = base_config(WKP);
    cfg.dns64.upstream = vec![hole.local_addr().unwrap()];
    tweak(&mut cfg);
    let server = server::start(&cfg, ServerOptions::default()).expect("server starts");
    Lab {
        server,
        _nsd: None,
        _hole: Some(hole),
    }
}

/// `q` over UDP, waiting up to 3 s for the answer.
fn udp_raw(server: SocketAddr, q: &[u8]) -> Option<Vec<u8>> {
    udp_exchange(server, q, Duration::from_secs(3))
}

fn udp(server: SocketAddr, name: &str, rtype: RecordType, edns: Option<u16>) -> Message {
    let q = query_msg(0x4242, name, rtype, edns);
    let r = udp_raw(server, &q).expect("a UDP answer");
    let m = Message::from_vec(&r).expect("hickory parses the answer");
    assert_eq!(m.metadata.id, 0x4242);
    assert_eq!(m.metadata.message_type, MessageType::Response);
    m
}

fn tcp_send(s: &mut TcpStream, q: &[u8]) {
    let mut framed = (q.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(q);
    s.write_all(&framed).unwrap();
}

fn tcp_recv(s: &mut TcpStream) -> Message {
    let mut len = [0; 2];
    s.read_exact(&mut len).unwrap();
    let mut buf = vec![0; usize::from(u16::from_be_bytes(len))];
    s.read_exact(&mut buf).unwrap();
    Message::from_vec(&buf).expect("hickory parses the answer")
}

fn tcp_connect(server: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(server).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    s
}

fn tcp(server: SocketAddr, name: &str, rtype: RecordType) -> Message {
    let mut s = tcp_connect(server);
    tcp_send(&mut s, &query_msg(0x5151, name, rtype, None));
    let m = tcp_recv(&mut s);
    assert_eq!(m.metadata.id, 0x5151);
    m
}

/// Over UDP and TCP, on both listeners.
fn ask_all(lab: &Lab, name: &str, rtype: RecordType) -> Vec<Message> {
    let mut out = Vec::new();
    for a in lab.addrs() {
        out.push(udp(a, name, rtype, None));
        out.push(tcp(a, name, rtype));
    }
    out
}

/// The TTL answer `i` of a series of identical questions should carry:
/// `full` for the first (from upstream), for the others (from the cache)
/// the TTL they carry when it is `full` counted down by at most 2 s
/// (a loaded machine may cross a second boundary between two questions).
fn cached_ttl(i: usize, full: u32, m: &Message) -> u32 {
    let got = m.answers.first().map_or(full, |r| r.ttl);
    if i == 0 {
        full
    } else {
        assert!(
            (full.saturating_sub(2)..=full).contains(&got),
            "cached TTL {got}, stored {full}"
        );
        got
    }
}

fn aaaa(m: &Message) -> Vec<(Ipv6Addr, u32)> {
    m.answers
        .iter()
        .filter_map(|r: &Record| match &r.data {
            RData::AAAA(a) => Some((a.0, r.ttl)),
            _ => None,
        })
        .collect()
}

/// RFC 6052 §2.2, written here independently of the crate.
fn embed(prefix: &str, v4: Ipv4Addr) -> Ipv6Addr {
    let (addr, len) = prefix.split_once('/').unwrap();
    let mut b = addr.parse::<Ipv6Addr>().unwrap().octets();
    let o = v4.octets();
    let len: usize = len.parse().unwrap();
    let start = len / 8;
    let mut i = start;
    for x in o {
        if i == 8 {
            i += 1; // the u-octet stays 0
        }
        b[i] = x;
        i += 1;
    }
    Ipv6Addr::from(b)
}

#[test]
fn embed_helper_matches_rfc6052_examples() {
    let v4 = Ipv4Addr::new(192, 0, 2, 33);
    assert_eq!(
        embed("2001:db8:100::/40", v4),
        "2001:db8:1c0:2:21::".parse::<Ipv6Addr>().unwrap()
    );
    assert_eq!(
        embed("64:ff9b::/96", v4),
        "64:ff9b::192.0.2.33".parse::<Ipv6Addr>().unwrap()
    );
}

#[test]
fn a_only_name_is_synthesized_under_either_prefix_over_udp_and_tcp() {
    for prefix in [WKP, NSP40] {
        let Some(lab) = lab(prefix) else { return };
        for (i, m) in ask_all(&lab, "v4only.n64.example.", RecordType::AAAA)
            .into_iter()
            .enumerate()
        {
            assert_eq!(m.metadata.response_code, ResponseCode::NoError);
            assert!(!m.metadata.truncation);
            assert!(!m.metadata.authentic_data);
            // TTL = min(A TTL 300, SOA TTL 60, SOA MINIMUM 30) (§5.1.7),
            // counted down in the cached answers after the first.
            assert_eq!(
                aaaa(&m),
                [(
                    embed(prefix, Ipv4Addr::new(192, 0, 2, 1)),
                    cached_ttl(i, 30, &m)
                )],
                "{prefix}"
            );
        }
        let st = lab.server.stats();
        // The first query synthesizes (AAAA then A upstream); the other
        // three, the same question, are answered from the cache.
        assert_eq!(st.synthesized.load(Ordering::Relaxed), 1);
        assert_eq!(st.cache_misses.load(Ordering::Relaxed), 1);
        assert_eq!(st.cache_hits.load(Ordering::Relaxed), 3);
        assert_eq!(st.udp_queries.load(Ordering::Relaxed), 2);
        assert_eq!(st.tcp_queries.load(Ordering::Relaxed), 2);
        assert_eq!(st.upstream().answered.load(Ordering::Relaxed), 2);
        lab.server.stop();
    }
}

#[test]
fn dual_stack_name_keeps_its_real_aaaa() {
    // The server thread pinned to CPU 0, as beside the main lcore.
    let opts = ServerOptions {
        pin_cpu: Some(0),
        ..ServerOptions::default()
    };
    let Some(lab) = lab_with(WKP, opts, |_| {}) else {
        return;
    };
    for (i, m) in ask_all(&lab, "dual.n64.example.", RecordType::AAAA)
        .into_iter()
        .enumerate()
    {
        assert_eq!(m.metadata.response_code, ResponseCode::NoError);
        // The first from upstream; the others from the cache, their TTL
        // counted down by the whole seconds since (RFC 1035 §7.3).
        assert_eq!(
            aaaa(&m),
            [("2001:db8::10".parse().unwrap(), cached_ttl(i, 300, &m))]
        );
    }
    let st = lab.server.stats();
    // One upstream exchange; the same question three more times: cache.
    assert_eq!(st.passthrough.load(Ordering::Relaxed), 1);
    assert_eq!(st.cache_hits.load(Ordering::Relaxed), 3);
    assert_eq!(st.synthesized.load(Ordering::Relaxed), 0);
}

#[test]
fn mapped_aaaa_is_excluded_and_synthesized() {
    let Some(lab) = lab(WKP) else { return };
    for m in ask_all(&lab, "mapped.n64.example.", RecordType::AAAA) {
        assert_eq!(m.metadata.response_code, ResponseCode::NoError);
        assert_eq!(
            aaaa(&m),
            [(embed(WKP, Ipv4Addr::new(192, 0, 2, 20)), 300)],
            "the mapped AAAA answer is positive: no SOA, TTL = A TTL"
        );
    }
}

#[test]
fn cname_chain_is_kept_and_synthesized_at_its_end() {
    let Some(lab) = lab(WKP) else { return };
    for m in ask_all(&lab, "chain.n64.example.", RecordType::AAAA) {
        assert_eq!(m.metadata.response_code, ResponseCode::NoError);
        let cnames: Vec<(String, String)> = m
            .answers
            .iter()
            .filter_map(|r| match &r.data {
                RData::CNAME(c) => Some((r.name.to_ascii(), c.0.to_ascii())),
                _ => None,
            })
            .collect();
        assert_eq!(
            cnames,
            [
                ("chain.n64.example.".into(), "chain2.n64.example.".into()),
                ("chain2.n64.example.".into(), "v4only.n64.example.".into()),
            ]
        );
        let last = m.answers.last().unwrap();
        assert_eq!(last.name.to_ascii(), "v4only.n64.example.");
        assert_eq!(aaaa(&m), [(embed(WKP, Ipv4Addr::new(192, 0, 2, 1)), 30)]);
    }
}

#[test]
fn nxdomain_is_returned_as_is() {
    let Some(lab) = lab(WKP) else { return };
    for m in ask_all(&lab, "absent.n64.example.", RecordType::AAAA) {
        assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
        assert!(m.answers.is_empty());
        assert!(m
            .authorities
            .iter()
            .any(|r| r.record_type() == RecordType::SOA));
    }
}

#[test]
fn non_global_a_is_not_synthesized_under_the_well_known_prefix_nor_deny4() {
    let no = ServerOptions::default();
    let Some(lab) = lab_with(WKP, no.clone(), |c| {
        c.translation.allow_non_global_ipv4 = false;
    }) else {
        return;
    };
    // 10.0.0.1 and the documentation address 192.0.2.1: both non-global.
    for name in ["private.n64.example.", "v4only.n64.example."] {
        for m in ask_all(&lab, name, RecordType::AAAA) {
            assert_eq!(m.metadata.response_code, ResponseCode::NoError);
            assert!(aaaa(&m).is_empty(), "{name}: {:?}", m.answers);
        }
    }
    drop(lab);
    // The rule is the well-known prefix's only (RFC 6052 §3.1), but a
    // network-specific prefix denies RFC 1918 space by default
    // (`translation.deny4`, the translator's own list)...
    let Some(lab) = lab_with(NSP40, no.clone(), |c| {
        c.translation.allow_non_global_ipv4 = false;
    }) else {
        return;
    };
    let m = udp(lab.v4(), "private.n64.example.", RecordType::AAAA, None);
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert!(aaaa(&m).is_empty(), "{:?}", m.answers);
    drop(lab);
    // ...and with deny4 explicitly empty, 10.0.0.1 is synthesized.
    let Some(lab) = lab_with(NSP40, no, |c| {
        c.translation.allow_non_global_ipv4 = false;
        c.translation.deny4 = Some(Vec::new());
    }) else {
        return;
    };
    let m = udp(lab.v4(), "private.n64.example.", RecordType::AAAA, None);
    assert_eq!(aaaa(&m), [(embed(NSP40, Ipv4Addr::new(10, 0, 0, 1)), 30)]);
}

#[test]
fn forty_a_records_truncate_over_udp_without_edns_and_fit_with_edns_or_tcp() {
    let Some(lab) = lab(WKP) else { return };
    let want: Vec<Ipv6Addr> = (1..=40)
        .map(|i| embed(WKP, Ipv4Addr::new(198, 51, 100, i)))
        .collect();
    let sorted = |m: &Message| {
        let mut v: Vec<Ipv6Addr> = aaaa(m).into_iter().map(|(a, _)| a).collect();
        v.sort();
        v
    };
    for a in lab.addrs() {
        let m = udp(a, "many.n64.example.", RecordType::AAAA, None);
        assert_eq!(m.metadata.response_code, ResponseCode::NoError);
        assert!(m.metadata.truncation, "TC=1 without EDNS");
        assert!(m.answers.is_empty());
        assert!(m.authorities.is_empty() && m.edns.is_none());
        assert!(udp_raw(
            a,
            &query_msg(7, "many.n64.example.", RecordType::AAAA, None)
        )
        .is_some_and(|r| r.len() <= 512));
        assert_eq!(m.queries.len(), 1);
        assert_eq!(m.queries[0].name().to_ascii(), "many.n64.example.");
        let m = tcp(a, "many.n64.example.", RecordType::AAAA);
        assert!(!m.metadata.truncation);
        assert_eq!(sorted(&m), want);
        let m = udp(a, "many.n64.example.", RecordType::AAAA, Some(4096));
        assert!(!m.metadata.truncation, "fits in 4096");
        assert_eq!(sorted(&m), want);
        // EDNS with a size below 512 counts as 512: still truncated, and
        // the OPT record stays (RFC 6891 §7).
        let m = udp(a, "many.n64.example.", RecordType::AAAA, Some(100));
        assert!(m.metadata.truncation);
        assert!(m.answers.is_empty());
        assert!(m.edns.is_some(), "OPT kept in the truncated answer");
    }
    assert_eq!(lab.server.stats().truncated.load(Ordering::Relaxed), 6);
}

#[test]
fn pipelined_queries_on_one_tcp_connection() {
    let Some(lab) = lab(WKP) else { return };
    let names = [
        ("v4only.n64.example.", Some(Ipv4Addr::new(192, 0, 2, 1))),
        ("dual.n64.example.", None),
        ("absent.n64.example.", None),
        ("v4multi.n64.example.", Some(Ipv4Addr::new(192, 0, 2, 2))),
        ("mapped.n64.example.", Some(Ipv4Addr::new(192, 0, 2, 20))),
    ];
    for a in lab.addrs() {
        let mut s = tcp_connect(a);
        for (i, (n, _)) in names.iter().enumerate() {
            tcp_send(
                &mut s,
                &query_msg(100 + i as u16, n, RecordType::AAAA, None),
            );
        }
        let mut seen = vec![false; names.len()];
        for _ in 0..names.len() {
            let m = tcp_recv(&mut s);
            let i = usize::from(m.metadata.id - 100);
            assert!(!seen[i], "one answer per query");
            seen[i] = true;
            let (n, v4) = names[i];
            assert_eq!(m.queries[0].name().to_ascii(), n);
            if let Some(v4) = v4 {
                assert!(aaaa(&m).iter().any(|(a, _)| *a == embed(WKP, v4)), "{n}");
            }
            if n.starts_with("absent") {
                assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
            }
            if n.starts_with("dual") {
                assert_eq!(aaaa(&m), [("2001:db8::10".parse().unwrap(), 300)]);
            }
        }
    }
}

#[test]
fn ipv4only_arpa_is_answered_with_the_upstream_dead() {
    let lab = dead_lab(|_| {});
    for m in ask_all(&lab, "ipv4only.arpa.", RecordType::AAAA) {
        assert_eq!(m.metadata.response_code, ResponseCode::NoError);
        let mut got: Vec<Ipv6Addr> = aaaa(&m).into_iter().map(|(a, _)| a).collect();
        got.sort();
        assert_eq!(
            got,
            [
                embed(WKP, Ipv4Addr::new(192, 0, 0, 170)),
                embed(WKP, Ipv4Addr::new(192, 0, 0, 171))
            ]
        );
    }
    let st = lab.server.stats();
    assert_eq!(st.local.load(Ordering::Relaxed), 1);
    assert_eq!(st.cache_hits.load(Ordering::Relaxed), 3);
    assert_eq!(st.upstream().queries.load(Ordering::Relaxed), 0);
}

#[test]
fn dead_upstream_gets_servfail_within_the_timeout() {
    for synthesize_on_error in [true, false] {
        let lab = dead_lab(|c| c.dns64.synthesize_on_error = synthesize_on_error);
        let start = Instant::now();
        let m = udp(lab.v4(), "v4only.n64.example.", RecordType::AAAA, None);
        // Both the AAAA and the A query time out (300 ms each): nothing to
        // synthesize from, whatever synthesize_on_error says.
        assert_eq!(m.metadata.response_code, ResponseCode::ServFail);
        assert!(m.answers.is_empty());
        assert!(start.elapsed() < Duration::from_millis(1500));
        let st = lab.server.stats();
        assert!(st.upstream().timeouts.load(Ordering::Relaxed) >= 1);
        assert!(st.upstream_failed.load(Ordering::Relaxed) >= 1);
        let want_failed = if synthesize_on_error { 2 } else { 1 };
        assert_eq!(st.upstream_failed.load(Ordering::Relaxed), want_failed);
    }
}

#[test]
fn clients_outside_the_acl_are_refused() {
    let opts = ServerOptions {
        allow_loopback: false,
        ..ServerOptions::default()
    };
    let Some(lab) = lab_with(WKP, opts.clone(), |c| {
        c.dns64.allow.v4 = vec![Ipv4Range {
            first: Ipv4Addr::new(192, 0, 2, 0),
            last: Ipv4Addr::new(192, 0, 2, 255),
        }];
    }) else {
        return;
    };
    for m in ask_all(&lab, "v4only.n64.example.", RecordType::AAAA) {
        assert_eq!(m.metadata.response_code, ResponseCode::Refused);
        assert!(m.answers.is_empty());
        assert_eq!(m.queries[0].name().to_ascii(), "v4only.n64.example.");
    }
    let st = lab.server.stats();
    assert_eq!(st.refused.load(Ordering::Relaxed), 4);
    assert_eq!(st.upstream().queries.load(Ordering::Relaxed), 0);
    drop(lab);
    // dns64.allow widens it: 127.0.0.0/8 allowed, ::1 still refused.
    let Some(lab) = lab_with(WKP, opts, |c| {
        c.dns64.allow.v4 = vec![Ipv4Range {
            first: Ipv4Addr::new(127, 0, 0, 0),
            last: Ipv4Addr::new(127, 255, 255, 255),
        }];
    }) else {
        return;
    };
    let m = udp(
        lab.addrs()[0],
        "v4only.n64.example.",
        RecordType::AAAA,
        None,
    );
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert_eq!(aaaa(&m).len(), 1);
    let m = udp(
        lab.addrs()[1],
        "v4only.n64.example.",
        RecordType::AAAA,
        None,
    );
    assert_eq!(m.metadata.response_code, ResponseCode::Refused);
}

#[test]
fn rate_limit_drops_the_excess_and_counts_it() {
    let Some(lab) = lab_with(WKP, ServerOptions::default(), |c| {
        c.dns64.rate_limit_qps = 5
    }) else {
        return;
    };
    let s = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let start = Instant::now();
    for i in 0..50u16 {
        s.send_to(
            &query_msg(i, "dual.n64.example.", RecordType::AAAA, None),
            lab.v4(),
        )
        .unwrap();
    }
    let sent_in = start.elapsed();
    let mut answers = 0u64;
    let mut buf = [0; 4096];
    while let Ok((n, _)) = s.recv_from(&mut buf) {
        let m = Message::from_vec(&buf[..n]).unwrap();
        assert_eq!(m.metadata.response_code, ResponseCode::NoError);
        answers += 1;
    }
    // A burst of 5, then 5 per second.
    let max = 5 + (sent_in.as_secs_f64() * 5.0).ceil() as u64 + 1;
    assert!((5..=max).contains(&answers), "{answers} answers");
    let st = lab.server.stats();
    assert_eq!(st.rate_limited.load(Ordering::Relaxed), 50 - answers);
    assert_eq!(st.udp_queries.load(Ordering::Relaxed), 50);
}

#[test]
fn a_listen_address_that_cannot_be_bound_is_named() {
    let mut cfg = base_config(WKP);
    cfg.dns64.listen = vec!["[2001:db8::53]:53".parse().unwrap()];
    let e = server::start(&cfg, ServerOptions::default())
        .err()
        .expect("not an address of this host");
    let msg = e.to_string();
    assert!(msg.starts_with("dns64.listen [2001:db8::53]:53: "), "{msg}");
}

#[test]
fn queries_arriving_on_the_inside_interface_are_allowed() {
    // "lo" stands for the inside TAP: a socket on the wildcard address bound
    // (SO_BINDTODEVICE) to it answers what arrives there, loopback
    // allowance off.
    let opts = ServerOptions {
        inside_iface: Some("lo".into()),
        allow_loopback: false,
        ..ServerOptions::default()
    };
    let Some(lab) = lab_with(WKP, opts, |c| {
        c.dns64.listen = vec![
            (Ipv4Addr::UNSPECIFIED, 0).into(),
            (Ipv6Addr::UNSPECIFIED, 0).into(),
        ];
    }) else {
        return;
    };
    let ports: Vec<u16> = lab.addrs().iter().map(|a| a.port()).collect();
    let v4: SocketAddr = (Ipv4Addr::LOCALHOST, ports[0]).into();
    let v6: SocketAddr = (Ipv6Addr::LOCALHOST, ports[1]).into();
    for a in [v4, v6] {
        let m = udp(a, "v4only.n64.example.", RecordType::AAAA, None);
        assert_eq!(m.metadata.response_code, ResponseCode::NoError);
        assert_eq!(aaaa(&m), [(embed(WKP, Ipv4Addr::new(192, 0, 2, 1)), 30)]);
        let m = tcp(a, "v4only.n64.example.", RecordType::AAAA);
        assert_eq!(aaaa(&m), [(embed(WKP, Ipv4Addr::new(192, 0, 2, 1)), 30)]);
    }
    assert_eq!(lab.server.stats().refused.load(Ordering::Relaxed), 0);
}

#[test]
fn an_inside_interface_that_does_not_exist_is_named() {
    let mut cfg = base_config(WKP);
    cfg.dns64.listen = vec![(Ipv4Addr::UNSPECIFIED, 0).into()];
    let opts = ServerOptions {
        inside_iface: Some("nosuchif64".into()),
        ..ServerOptions::default()
    };
    let e = server::start(&cfg, opts).err().expect("no such device");
    let msg = e.to_string();
    assert!(msg.starts_with("dns64.listen 0.0.0.0:0: "), "{msg}");
}

#[test]
fn malformed_queries_get_formerr_or_nothing_and_are_never_forwarded() {
    let Some(lab) = lab(WKP) else { return };
    // A header that says one question, and no question.
    let q = [0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    let r = udp_raw(lab.v4(), &q).expect("FORMERR");
    let m = Message::from_vec(&r).unwrap();
    assert_eq!(m.metadata.id, 0x1234);
    assert_eq!(m.metadata.response_code, ResponseCode::FormErr);
    // Not even a header: nothing.
    let s = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    s.send_to(&[1, 2, 3], lab.v4()).unwrap();
    assert!(s.recv_from(&mut [0; 512]).is_err());
    // The server still answers.
    let m = udp(lab.v4(), "dual.n64.example.", RecordType::AAAA, None);
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    let st = lab.server.stats();
    assert_eq!(st.formerr.load(Ordering::Relaxed), 1);
    assert_eq!(st.dropped.load(Ordering::Relaxed), 1);
    assert_eq!(st.upstream().queries.load(Ordering::Relaxed), 1);
}

#[test]
fn dns64_only_runs_the_server_until_sigterm() {
    let Some(nsd) = (match nsd::can_run() {
        Ok(()) => Some(Nsd::start()),
        Err(why) => {
            eprintln!("skipped: {why}");
            None
        }
    }) else {
        return;
    };
    let port = {
        let u = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        u.local_addr().unwrap().port()
    };
    let text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("config/cgn.toml"))
            .unwrap()
            .replace(
                "listen = [\"[2001:db8:1::53]:53\"]",
                &format!("listen = [\"127.0.0.1:{port}\"]"),
            )
            .replace(
                "upstream = [\"198.51.100.53:53\", \"198.51.100.54:53\"]",
                &format!("upstream = [\"{}\"]", nsd.addr()),
            );
    let dir = std::env::temp_dir().join(format!("nat64-dns64-only-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let conf = dir.join("dns64.toml");
    std::fs::write(&conf, text).unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_nat64-dpdk"))
        .args(["--", "--config", conf.to_str().unwrap(), "--dns64-only"])
        .stdin(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let server: SocketAddr = (Ipv4Addr::LOCALHOST, port).into();
    let q = query_msg(9, "ipv4only.arpa.", RecordType::A, None);
    let until = Instant::now() + Duration::from_secs(30);
    let r = loop {
        if let Some(r) = udp_raw(server, &q) {
            break r;
        }
        assert!(Instant::now() < until, "--dns64-only does not answer");
    };
    let m = Message::from_vec(&r).unwrap();
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert_eq!(m.answers.len(), 2);
    // cgn.toml's prefix is the well-known one; the zone's documentation
    // addresses are not synthesized under it (RFC 6052 §3.1).
    let m = udp(server, "dual.n64.example.", RecordType::AAAA, None);
    assert_eq!(aaaa(&m), [("2001:db8::10".parse().unwrap(), 300)]);
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_idle_tcp_connection_is_closed() {
    let opts = ServerOptions {
        tcp_idle: Duration::from_millis(300),
        ..ServerOptions::default()
    };
    let Some(lab) = lab_with(WKP, opts, |_| {}) else {
        return;
    };
    let mut s = tcp_connect(lab.v4());
    tcp_send(
        &mut s,
        &query_msg(1, "dual.n64.example.", RecordType::AAAA, None),
    );
    assert_eq!(
        tcp_recv(&mut s).metadata.response_code,
        ResponseCode::NoError
    );
    let start = Instant::now();
    let mut buf = [0; 16];
    assert_eq!(s.read(&mut buf).unwrap_or(0), 0, "closed by the server");
    assert!(start.elapsed() < Duration::from_secs(2));
    assert_eq!(
        lab.server.stats().tcp_idle_closed.load(Ordering::Relaxed),
        1
    );
}

/// The answer cache (RFC 1035 §7.3, RFC 2308 §5): a second identical
/// question is answered without the upstream, with the client's own ID and
/// name spelling, and its TTLs counted down by the seconds it was held.
#[test]
fn cached_answers_count_their_ttl_down_and_skip_the_upstream() {
    let Some(lab) = lab(NSP40) else {
        return;
    };
    let first = udp(lab.v4(), "v4only.n64.example.", RecordType::AAAA, None);
    assert_eq!(first.metadata.response_code, ResponseCode::NoError);
    let want = embed(NSP40, Ipv4Addr::new(192, 0, 2, 1));
    assert_eq!(aaaa(&first), [(want, 30)]);
    let st = lab.server.stats();
    let upstream = st.upstream().queries.load(Ordering::Relaxed);
    assert_eq!(upstream, 2, "AAAA, then A");
    std::thread::sleep(Duration::from_millis(2100));
    // Another ID and the 0x20 mixed case of a resolver.
    let q = query_msg(0x7777, "V4oNlY.n64.EXAMPLE.", RecordType::AAAA, None);
    let r = udp_raw(lab.v4(), &q).expect("a cached answer");
    let m = Message::from_vec(&r).expect("hickory parses the cached answer");
    assert_eq!(m.metadata.id, 0x7777);
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert!(!m.metadata.authentic_data);
    assert_eq!(m.queries[0].name().to_ascii(), "V4oNlY.n64.EXAMPLE.");
    let got = aaaa(&m);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].0, want);
    assert!(
        (26..=28).contains(&got[0].1),
        "TTL {} after 2.1 s",
        got[0].1
    );
    assert_eq!(st.cache_hits.load(Ordering::Relaxed), 1);
    assert_eq!(st.cache_misses.load(Ordering::Relaxed), 1);
    assert_eq!(st.synthesized.load(Ordering::Relaxed), 1);
    assert_eq!(st.upstream().queries.load(Ordering::Relaxed), upstream);
}

/// Identical questions in flight at once share one upstream exchange: with
/// an upstream that never answers, eight clients asking the same question
/// together cost the upstream what one costs, and all get SERVFAIL.
#[test]
fn identical_questions_in_flight_share_one_upstream_exchange() {
    let lab = dead_lab(|c| c.dns64.synthesize_on_error = false);
    let server = lab.v4();
    let clients: Vec<_> = (0..8u16)
        .map(|i| {
            std::thread::spawn(move || {
                let q = query_msg(0x100 + i, "v4only.n64.example.", RecordType::AAAA, None);
                let r = udp_raw(server, &q).expect("an answer");
                Message::from_vec(&r).expect("hickory parses it")
            })
        })
        .collect();
    for (i, c) in clients.into_iter().enumerate() {
        let m = c.join().unwrap();
        assert_eq!(m.metadata.id, 0x100 + i as u16);
        assert_eq!(m.metadata.response_code, ResponseCode::ServFail);
    }
    let st = lab.server.stats();
    let coalesced = st.coalesced.load(Ordering::Relaxed);
    // The threads start within microseconds and the leader waits 300 ms
    // for the upstream: all but the first follow it (on a loaded machine
    // a late thread may lead a second exchange: each leader is one failed
    // upstream exchange, each follower none).
    assert!(coalesced >= 4, "coalesced {coalesced}");
    assert_eq!(st.upstream_failed.load(Ordering::Relaxed), 8 - coalesced);
    // SERVFAIL is never cached (RFC 2308 §7.1 allows it; we do not).
    assert_eq!(st.cache_misses.load(Ordering::Relaxed), 8);
    assert_eq!(st.cache_hits.load(Ordering::Relaxed), 0);
}

/// A reload (`ServerHandle::reload`, SIGHUP) swaps the settings while the
/// sockets stay: the ACL, the synthesis prefix (the cache is emptied, so
/// no answer built under the old prefix is served) and the upstream.
#[test]
fn reload_swaps_acl_prefix_and_upstream_keeping_the_sockets() {
    let opts = ServerOptions {
        allow_loopback: false,
        ..ServerOptions::default()
    };
    let loopback = Ipv4Range {
        first: Ipv4Addr::new(127, 0, 0, 0),
        last: Ipv4Addr::new(127, 255, 255, 255),
    };
    let mut cfg = None;
    let Some(lab) = lab_with(WKP, opts, |c| {
        c.dns64.allow.v4 = vec![loopback];
        cfg = Some(c.clone());
    }) else {
        return;
    };
    let mut cfg = cfg.unwrap();
    let addrs = lab.addrs();
    let ask = || udp(lab.v4(), "v4only.n64.example.", RecordType::AAAA, None);
    let m = ask();
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    let under_wkp = aaaa(&m);
    assert_eq!(under_wkp.len(), 1);
    assert_eq!(
        under_wkp[0].0,
        embed(WKP, Ipv4Addr::new(192, 0, 2, 1)),
        "{m:?}"
    );
    // The ACL without loopback: refused on the same socket.
    cfg.dns64.allow.v4.clear();
    lab.server.reload(&cfg);
    assert_eq!(ask().metadata.response_code, ResponseCode::Refused);
    // Allowed again, under another prefix: synthesized anew, not the
    // cached answer.
    cfg.dns64.allow.v4 = vec![loopback];
    cfg.dns64.prefix = NSP40.parse().unwrap();
    lab.server.reload(&cfg);
    let m = ask();
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    let got: Vec<Ipv6Addr> = aaaa(&m).into_iter().map(|(a, _)| a).collect();
    assert_eq!(got, [embed(NSP40, Ipv4Addr::new(192, 0, 2, 1))]);
    // An upstream that never answers: what is not cached fails.
    let hole = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    cfg.dns64.upstream = vec![hole.local_addr().unwrap()];
    lab.server.reload(&cfg);
    let m = udp(lab.v4(), "dual.n64.example.", RecordType::AAAA, None);
    assert_eq!(m.metadata.response_code, ResponseCode::ServFail);
    assert_eq!(lab.addrs(), addrs, "the sockets stay");
}

/// RFC 7766 §6.2.2 leaves the number of connections to the server: at
/// most `TCP_CONNECTIONS` are served at once; one more is closed at once
/// and counted, and a freed slot serves a new one.
#[test]
fn tcp_connections_beyond_the_limit_are_closed_at_once() {
    let lab = dead_lab(|_| {});
    let addr = lab.v4();
    // ipv4only.arpa is answered locally: an answer on a connection shows
    // the server has accepted it.
    let served = |s: &mut TcpStream| {
        tcp_send(s, &query_msg(7, "ipv4only.arpa.", RecordType::A, None));
        tcp_recv(s).metadata.response_code == ResponseCode::NoError
    };
    let mut open: Vec<TcpStream> = (0..server::TCP_CONNECTIONS)
        .map(|i| {
            let mut s = tcp_connect(addr);
            assert!(served(&mut s), "connection {i} served");
            s
        })
        .collect();
    let mut extra = tcp_connect(addr);
    let _ = extra.write_all(&[0, 12]);
    let mut buf = [0; 16];
    assert_eq!(extra.read(&mut buf).unwrap_or(0), 0, "closed at once");
    let st = lab.server.stats();
    assert_eq!(st.tcp_rejected.load(Ordering::Relaxed), 1);
    // Close one: its slot serves the next connection.
    drop(open.pop());
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        // Until the server has seen the close, a new connection may still
        // be refused: write and read without unwrapping.
        let mut s = tcp_connect(addr);
        let q = query_msg(8, "ipv4only.arpa.", RecordType::A, None);
        let mut framed = (q.len() as u16).to_be_bytes().to_vec();
        framed.extend_from_slice(&q);
        let mut len = [0; 2];
        if s.write_all(&framed).is_ok() && s.read_exact(&mut len).is_ok() {
            break;
        }
        assert!(Instant::now() < deadline, "a freed slot serves again");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(served(&mut open[0]), "the others are still served");
}

/// RFC 7766 §6.2.1.1: queries on one connection are answered concurrently,
/// at most `TCP_IN_FLIGHT` at a time; reading pauses beyond, and every
/// query is answered in the end.
#[test]
fn tcp_queries_in_flight_per_connection_are_bounded() {
    let lab = dead_lab(|c| {
        c.dns64.timeout = Duration::from_millis(1000);
        c.dns64.synthesize_on_error = false;
    });
    let hole = lab._hole.as_ref().unwrap();
    let total = server::TCP_IN_FLIGHT + 4;
    let mut s = tcp_connect(lab.v4());
    s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    for i in 0..total {
        let q = query_msg(
            i as u16,
            &format!("q{i}.n64.example."),
            RecordType::AAAA,
            None,
        );
        tcp_send(&mut s, &q);
    }
    // What the (silent) upstream is asked, by name, in a window shorter
    // than one upstream timeout.
    let asked_within = |window: Duration| {
        let mut names = std::collections::BTreeSet::new();
        let end = Instant::now() + window;
        let mut buf = [0; 512];
        while let Some(left) = end.checked_duration_since(Instant::now()) {
            hole.set_read_timeout(Some(left.max(Duration::from_millis(1))))
                .unwrap();
            let Ok((n, _)) = hole.recv_from(&mut buf) else {
                break;
            };
            let m = Message::from_vec(&buf[..n]).expect("hickory parses our query");
            names.insert(m.queries[0].name().to_ascii());
        }
        names
    };
    let first = asked_within(Duration::from_millis(700));
    assert_eq!(first.len(), server::TCP_IN_FLIGHT, "{first:?}");
    // The first ones time out (SERVFAIL): the rest go upstream.
    let later = asked_within(Duration::from_millis(1500));
    assert_eq!(later.len(), total - server::TCP_IN_FLIGHT, "{later:?}");
    assert!(first.is_disjoint(&later));
    let mut ids: Vec<u16> = (0..total)
        .map(|_| {
            let m = tcp_recv(&mut s);
            assert_eq!(m.metadata.response_code, ResponseCode::ServFail);
            m.metadata.id
        })
        .collect();
    ids.sort();
    assert_eq!(ids, (0..total as u16).collect::<Vec<_>>());
}
