use super::*;
use crate::config::{Ipv4Range, Ipv6Prefix};
use std::net::Ipv4Addr;

#[test]
fn acl_inside_loopback_and_allow() {
    let mut acl = Acl {
        allow_loopback: true,
        allow: ClientList {
            v4: vec![Ipv4Range {
                first: Ipv4Addr::new(192, 0, 2, 0),
                last: Ipv4Addr::new(192, 0, 2, 255),
            }],
            v6: vec![Ipv6Prefix {
                addr: "2001:db8:1::".parse().unwrap(),
                len: 48,
            }],
        },
    };
    let lo4: IpAddr = Ipv4Addr::LOCALHOST.into();
    let lo6: IpAddr = Ipv6Addr::LOCALHOST.into();
    assert!(acl.allows(lo4, false));
    assert!(acl.allows(lo6, false));
    assert!(acl.allows("192.0.2.7".parse().unwrap(), false));
    assert!(acl.allows("::ffff:192.0.2.7".parse().unwrap(), false));
    assert!(acl.allows("2001:db8:1:5::1".parse().unwrap(), false));
    assert!(!acl.allows("2001:db8:2::1".parse().unwrap(), false));
    assert!(!acl.allows("198.51.100.1".parse().unwrap(), false));
    assert!(acl.allows("198.51.100.1".parse().unwrap(), true));
    acl.allow_loopback = false;
    assert!(!acl.allows(lo4, false));
    assert!(!acl.allows(lo6, false));
    assert!(acl.allows(lo6, true));
}

#[test]
fn rate_limit_per_subscriber_prefix() {
    let mut rl = RateLimiter::new(5, 56, 2);
    let t0 = Instant::now();
    let a: IpAddr = "2001:db8:0:100::1".parse().unwrap();
    let b: IpAddr = "2001:db8:0:1ff::2".parse().unwrap(); // same /56
    assert_eq!(rl.key(a), rl.key(b));
    let passed = (0..10)
        .filter(|i| rl.allow(if i % 2 == 0 { a } else { b }, t0))
        .count();
    assert_eq!(passed, 5);
    // 200 ms later: one more token.
    assert!(rl.allow(a, t0 + Duration::from_millis(200)));
    assert!(!rl.allow(a, t0 + Duration::from_millis(200)));
    // Off.
    let mut off = RateLimiter::new(0, 56, 2);
    assert!((0..1000).all(|_| off.allow(a, t0)));
}

#[test]
fn rate_table_is_bounded_and_reuses_the_oldest() {
    let mut rl = RateLimiter::new(1, 128, 2);
    let t0 = Instant::now();
    let ips: Vec<IpAddr> = (1..=3)
        .map(|i| IpAddr::V4(Ipv4Addr::new(192, 0, 2, i)))
        .collect();
    assert!(rl.allow(ips[0], t0));
    assert!(!rl.allow(ips[0], t0));
    assert!(rl.allow(ips[1], t0));
    assert!(rl.allow(ips[2], t0)); // evicts ips[0]
    assert_eq!(rl.buckets.len(), 2);
    assert!(rl.allow(ips[0], t0)); // a fresh bucket
}

#[test]
fn refused_keeps_question_and_ignores_responses_and_garbage() {
    let q = Question {
        name: domain::base::Name::vec_from_str("v4only.n64.example.").unwrap(),
        qtype: domain::base::iana::Rtype::AAAA,
        qclass: domain::base::iana::Class::IN,
        recursion_desired: true,
        edns: false,
        dnssec_ok: false,
        checking_disabled: false,
    }
    .to_query(0x1234);
    let r = refused(&q).expect("refused");
    let m = Message::from_slice(&r).unwrap();
    assert_eq!(m.header().id(), 0x1234);
    assert!(m.header().qr());
    assert_eq!(m.header().rcode(), Rcode::REFUSED);
    assert_eq!(m.header_counts().qdcount(), 1);
    assert!(refused(&r).is_none(), "a response gets nothing");
    assert!(refused(&[1, 2, 3]).is_none());
    assert_eq!(udp_limit(&q), 512);
    let (cut, tc) = fit(vec![0; 600], 512);
    assert!(tc);
    assert_eq!(cut.len(), 12);
}
