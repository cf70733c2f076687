//! The DNS64's upstream client (`nat64_dpdk::dns64::upstream`) against a
//! real nsd serving the test zone (`tests/common/nsd.rs`) and against fake
//! servers on loopback: one that never answers, a closed port, one that
//! records what it gets, one that answers wrongly before it answers right.
//! Queries are built and answers read with `hickory-proto`, an independent
//! DNS library. No DPDK, no root.
//!
//! The tests that need nsd skip, with the reason printed, only when it is
//! not installed, and never under CI (`CI` set).

mod common;

use std::net::{Ipv4Addr, SocketAddr, UdpSocket as StdUdpSocket};
use std::time::{Duration, Instant};

use common::nsd::{self, Nsd};
use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{Name, RData, RecordType};
use nat64_dpdk::dns64::upstream::{Upstream, UpstreamError};
use tokio::net::UdpSocket;

/// nsd, or `None` (with the reason printed) when it is not installed.
fn nsd() -> Option<Nsd> {
    match nsd::can_run() {
        Ok(()) => Some(Nsd::start()),
        Err(why) => {
            eprintln!("skipped: {why}");
            None
        }
    }
}

/// A query without EDNS, built by hickory.
fn query(id: u16, name: &str, rtype: RecordType) -> Vec<u8> {
    let mut m = Message::new(id, MessageType::Query, OpCode::Query);
    m.add_query(Query::query(Name::from_ascii(name).unwrap(), rtype));
    m.to_vec().unwrap()
}

/// The A records of an answer.
fn a_records(m: &Message) -> Vec<Ipv4Addr> {
    m.answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::A(a) => Some(a.0),
            _ => None,
        })
        .collect()
}

/// A UDP socket that is bound and never read: an upstream that never
/// answers. Keep it alive for the test.
fn black_hole() -> (StdUdpSocket, SocketAddr) {
    let s = StdUdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let a = s.local_addr().unwrap();
    (s, a)
}

/// A loopback UDP port nothing listens on (ICMP port unreachable).
fn closed_port() -> SocketAddr {
    black_hole().1
}

const TIMEOUT: Duration = Duration::from_millis(300);

#[tokio::test]
async fn answer_over_udp_with_the_client_id_restored() {
    let Some(nsd) = nsd() else { return };
    let up = Upstream::new(vec![nsd.addr()], TIMEOUT, 16);
    for (i, name) in ["v4only.n64.example.", "V4ONLY.n64.Example."]
        .into_iter()
        .enumerate()
    {
        let id = 0xbeef + i as u16;
        let r = up.query(&query(id, name, RecordType::A)).await.unwrap();
        let m = Message::from_vec(&r.message).unwrap();
        assert_eq!(m.metadata.id, id);
        assert_eq!(m.metadata.message_type, MessageType::Response);
        assert_eq!(m.metadata.response_code, ResponseCode::NoError);
        assert_eq!(a_records(&m), [Ipv4Addr::new(192, 0, 2, 1)]);
        assert_eq!(r.server, nsd.addr());
        assert!(!r.tcp);
    }
    // What the zone serves passes through as it is: a two-level CNAME
    // chain, a DNAME, an NXDOMAIN with the zone's SOA.
    let r = up
        .query(&query(9, "chain.n64.example.", RecordType::A))
        .await
        .unwrap();
    let m = Message::from_vec(&r.message).unwrap();
    let cnames = m
        .answers
        .iter()
        .filter(|r| r.record_type() == RecordType::CNAME)
        .count();
    assert_eq!((cnames, a_records(&m).len()), (2, 1), "{m:?}");
    let r = up
        .query(&query(10, "host.old.n64.example.", RecordType::A))
        .await
        .unwrap();
    let m = Message::from_vec(&r.message).unwrap();
    assert_eq!(a_records(&m), [Ipv4Addr::new(192, 0, 2, 30)], "{m:?}");
    let r = up
        .query(&query(11, "absent.n64.example.", RecordType::AAAA))
        .await
        .unwrap();
    let m = Message::from_vec(&r.message).unwrap();
    assert_eq!(m.metadata.response_code, ResponseCode::NXDomain);
    let soa = m
        .authorities
        .iter()
        .find_map(|r| match &r.data {
            RData::SOA(soa) => Some(soa.minimum),
            _ => None,
        })
        .expect("SOA in the authority section");
    assert_eq!(soa, 30);
    let c = up.stats().counts();
    assert_eq!((c.queries, c.answered, c.udp), (5, 5, 5));
    assert_eq!(
        (c.timeouts, c.errors, c.failures, c.mismatched),
        (0, 0, 0, 0)
    );
    assert_eq!(c.latency.iter().sum::<u64>(), 5);
}

/// Every try's ID is random and never the client's, and every try comes
/// from a fresh source port.
#[tokio::test]
async fn upstream_ids_and_ports_are_random() {
    let server = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
    let addr = server.local_addr().unwrap();
    let seen = tokio::spawn(async move {
        let mut seen = Vec::new();
        let mut buf = [0; 512];
        for _ in 0..8 {
            let (n, from) = server.recv_from(&mut buf).await.unwrap();
            seen.push((u16::from_be_bytes([buf[0], buf[1]]), from.port()));
            buf[2] |= 0x80;
            server.send_to(&buf[..n], from).await.unwrap();
        }
        seen
    });
    let up = Upstream::new(vec![addr], TIMEOUT, 16);
    for _ in 0..8 {
        let r = up
            .query(&query(0x1234, "v4only.n64.example.", RecordType::A))
            .await
            .unwrap();
        assert_eq!(Message::from_vec(&r.message).unwrap().metadata.id, 0x1234);
    }
    let seen = seen.await.unwrap();
    assert!(seen.iter().all(|&(id, _)| id != 0x1234), "{seen:?}");
    let mut ids: Vec<_> = seen.iter().map(|s| s.0).collect();
    ids.sort();
    ids.dedup();
    assert!(ids.len() >= 6, "IDs hardly vary: {seen:?}");
    let mut ports: Vec<_> = seen.iter().map(|s| s.1).collect();
    ports.sort();
    ports.dedup();
    assert!(ports.len() >= 2, "one source port for all: {seen:?}");
}

/// 40 A records do not fit 512 bytes: nsd answers TC over UDP without
/// EDNS, the client asks again over TCP and gets all 40.
#[tokio::test]
async fn truncated_answer_is_retried_over_tcp() {
    let Some(nsd) = nsd() else { return };
    let up = Upstream::new(vec![nsd.addr()], TIMEOUT, 16);
    let r = up
        .query(&query(0x4040, "many.n64.example.", RecordType::A))
        .await
        .unwrap();
    assert!(r.tcp);
    assert_eq!(r.server, nsd.addr());
    let m = Message::from_vec(&r.message).unwrap();
    assert_eq!(m.metadata.id, 0x4040);
    assert!(!m.metadata.truncation);
    let mut got = a_records(&m);
    got.sort();
    let want: Vec<_> = (1..=40).map(|i| Ipv4Addr::new(198, 51, 100, i)).collect();
    assert_eq!(got, want);
    let c = up.stats().counts();
    assert_eq!((c.udp, c.tcp_retries, c.answered), (1, 1, 1));
}

/// A first upstream that never answers: the try times out and the next
/// server answers; the latency includes the wait.
#[tokio::test]
async fn silent_upstream_fails_over_in_order() {
    let Some(nsd) = nsd() else { return };
    let (_hole, silent) = black_hole();
    let up = Upstream::new(vec![silent, nsd.addr()], TIMEOUT, 16);
    let r = up
        .query(&query(7, "dual.n64.example.", RecordType::AAAA))
        .await
        .unwrap();
    assert_eq!(r.server, nsd.addr());
    assert!(r.latency >= TIMEOUT, "{:?}", r.latency);
    assert!(r.latency < 2 * TIMEOUT, "{:?}", r.latency);
    let m = Message::from_vec(&r.message).unwrap();
    assert_eq!(m.metadata.id, 7);
    assert!(m
        .answers
        .iter()
        .any(|r| matches!(&r.data, RData::AAAA(a) if a.0 == "2001:db8::10".parse::<std::net::Ipv6Addr>().unwrap())));
    let c = up.stats().counts();
    assert_eq!((c.udp, c.timeouts, c.answered, c.failures), (2, 1, 1, 0));
}

/// Every upstream dead (two silent, one closed port): `AllFailed` after
/// every server was tried once, within tries × timeout.
#[tokio::test]
async fn all_upstreams_dead() {
    let (_a, silent_a) = black_hole();
    let (_b, silent_b) = black_hole();
    let closed = closed_port();
    let up = Upstream::new(vec![silent_a, closed, silent_b], TIMEOUT, 16);
    let start = Instant::now();
    let e = up
        .query(&query(7, "v4only.n64.example.", RecordType::A))
        .await
        .unwrap_err();
    let took = start.elapsed();
    match &e {
        UpstreamError::AllFailed { tries, last } => {
            assert_eq!(*tries, 3);
            assert!(matches!(**last, UpstreamError::Timeout), "{e}");
        }
        _ => panic!("not AllFailed: {e}"),
    }
    assert!(took >= 2 * TIMEOUT, "{took:?}");
    assert!(took < 3 * TIMEOUT, "{took:?}");
    let c = up.stats().counts();
    assert_eq!(
        (c.udp, c.timeouts, c.errors, c.failures, c.answered),
        (3, 2, 1, 1, 0)
    );
}

/// A fake upstream answers with garbage, a wrong ID and a wrong question
/// before the right answer (its name in other case): the three are dropped
/// and counted, the right one returned.
#[tokio::test]
async fn mismatched_answers_are_ignored() {
    let server = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
    let addr = server.local_addr().unwrap();
    let fake = tokio::spawn(async move {
        let mut buf = [0; 512];
        let (n, from) = server.recv_from(&mut buf).await.unwrap();
        let mut right = buf[..n].to_vec();
        right[2] |= 0x80;
        let name_end = n - 4;
        let mut wrong_id = right.clone();
        wrong_id[1] ^= 1;
        let mut wrong_name = right.clone();
        wrong_name[13] = if wrong_name[13] == b'z' { b'y' } else { b'z' };
        right[12..name_end].make_ascii_uppercase();
        for m in [&b"\x01\x02\x03"[..], &wrong_id, &wrong_name, &right] {
            server.send_to(m, from).await.unwrap();
        }
        right
    });
    let up = Upstream::new(vec![addr], TIMEOUT, 16);
    let r = up
        .query(&query(0x0a0a, "v4only.n64.example.", RecordType::A))
        .await
        .unwrap();
    let mut right = fake.await.unwrap();
    right[..2].copy_from_slice(&0x0a0au16.to_be_bytes());
    assert_eq!(r.message, right);
    let m = Message::from_vec(&r.message).unwrap();
    assert_eq!(m.queries[0].name().to_ascii(), "V4ONLY.N64.EXAMPLE.");
    let c = up.stats().counts();
    assert_eq!((c.mismatched, c.answered, c.timeouts), (3, 1, 0));
}

/// The in-flight bound: with one query under way (at a silent upstream)
/// a second is refused at once.
#[tokio::test]
async fn in_flight_queries_are_bounded() {
    let (_hole, silent) = black_hole();
    let up = std::sync::Arc::new(Upstream::new(vec![silent], TIMEOUT, 1));
    let first = tokio::spawn({
        let up = up.clone();
        async move {
            up.query(&query(1, "v4only.n64.example.", RecordType::A))
                .await
        }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    let e = up
        .query(&query(2, "v4only.n64.example.", RecordType::A))
        .await
        .unwrap_err();
    assert!(matches!(e, UpstreamError::Busy), "{e}");
    assert!(matches!(
        first.await.unwrap(),
        Err(UpstreamError::AllFailed { tries: 1, .. })
    ));
    let c = up.stats().counts();
    assert_eq!((c.queries, c.busy, c.failures), (2, 1, 1));
}

/// The fixture serves every case the DNS64 tests rely on (the zone file's
/// header lists them), read through the client.
#[tokio::test]
async fn fixture_serves_every_case() {
    let Some(nsd) = nsd() else { return };
    let up = Upstream::new(vec![nsd.addr()], TIMEOUT, 16);
    let ask = |name: &'static str, rtype| {
        let up = &up;
        async move {
            let r = up.query(&query(1, name, rtype)).await.unwrap();
            Message::from_vec(&r.message).unwrap()
        }
    };
    let aaaa = |m: &Message| -> Vec<std::net::Ipv6Addr> {
        m.answers
            .iter()
            .filter_map(|r| match &r.data {
                RData::AAAA(a) => Some(a.0),
                _ => None,
            })
            .collect()
    };
    // A only: NODATA for AAAA, with the SOA (negative TTL 30 s).
    let m = ask("v4only.n64.example.", RecordType::AAAA).await;
    assert_eq!(m.metadata.response_code, ResponseCode::NoError);
    assert!(m.answers.is_empty(), "{m:?}");
    let soa = m
        .authorities
        .iter()
        .find(|r| r.record_type() == RecordType::SOA);
    assert_eq!(soa.map(|r| r.ttl), Some(30), "{m:?}");
    let m = ask("v4multi.n64.example.", RecordType::A).await;
    assert_eq!(a_records(&m).len(), 2);
    let m = ask("v6only.n64.example.", RecordType::AAAA).await;
    assert_eq!(
        aaaa(&m),
        ["2001:db8::11".parse::<std::net::Ipv6Addr>().unwrap()]
    );
    let m = ask("v6only.n64.example.", RecordType::A).await;
    assert!(m.answers.is_empty(), "{m:?}");
    let m = ask("mapped.n64.example.", RecordType::AAAA).await;
    assert_eq!(
        aaaa(&m),
        [Ipv4Addr::new(192, 0, 2, 20).to_ipv6_mapped()],
        "{m:?}"
    );
    let m = ask("mapped.n64.example.", RecordType::A).await;
    assert_eq!(a_records(&m), [Ipv4Addr::new(192, 0, 2, 20)]);
    let m = ask("private.n64.example.", RecordType::A).await;
    assert_eq!(a_records(&m), [Ipv4Addr::new(10, 0, 0, 1)]);
    // The chain for AAAA: two CNAMEs, then NODATA at v4only.
    let m = ask("chain.n64.example.", RecordType::AAAA).await;
    let kinds: Vec<_> = m.answers.iter().map(|r| r.record_type()).collect();
    assert_eq!(kinds, [RecordType::CNAME, RecordType::CNAME], "{m:?}");
    // The DNAME comes with its synthesized CNAME.
    let m = ask("host.old.n64.example.", RecordType::AAAA).await;
    let kinds: Vec<_> = m.answers.iter().map(|r| r.record_type()).collect();
    assert_eq!(kinds, [RecordType::DNAME, RecordType::CNAME], "{m:?}");
}
