//! Table tests: RFC 6146 §3.1/§3.2 lookups, §3.5 expiry, capacity, and a
//! model check against std's HashMap.

use super::*;

const T: Timeouts = Timeouts {
    udp: 300_000,
    tcp_established: 7_440_000,
    tcp_transitory: 240_000,
    icmp: 60_000,
    tcp_incoming_syn: 6_000,
};

fn v6(i: u32) -> Ipv6Addr {
    Ipv6Addr::new(0x2001, 0xdb8, 0, (i >> 16) as u16, 0, 0, 0, i as u16)
}

fn pool(i: u32) -> Ipv4Addr {
    Ipv4Addr::new(192, 0, 2, (i % 250) as u8)
}

fn remote(i: u32) -> Ipv4Addr {
    Ipv4Addr::new(198, 51, 100, (i % 250) as u8)
}

fn bib(proto: L4, i: u32) -> BibEntry {
    BibEntry {
        proto,
        v6: v6(i),
        v6_port: 1000 + (i % 50_000) as u16,
        v4: pool(i),
        v4_port: 2000 + (i % 60_000) as u16,
        is_static: false,
        sessions: 0,
    }
}

/// A fresh BIB entry + session; returns both ids.
fn flow(
    t: &mut Tables,
    proto: L4,
    i: u32,
    z: u32,
    class: TimerClass,
    now: Millis,
) -> (BibId, SessionId) {
    let e = bib(proto, i);
    let b = t
        .bib_by_v6(proto, &e.v6, e.v6_port)
        .unwrap_or_else(|| t.bib_insert(e).unwrap());
    let s = t
        .session_insert(b, remote(z), 80 + z as u16, class, now, &T)
        .unwrap();
    (b, s)
}

fn tables(n: usize) -> Tables {
    let mut t = Tables::with_seed(n, n, 7);
    t.set_touch_granularity(0);
    t
}

#[test]
fn rfc6146_3_1_bib_lookup_both_directions() {
    let mut t = tables(16);
    let e = bib(L4::Udp, 1);
    let id = t.bib_insert(e).unwrap();
    assert_eq!(t.bib_by_v6(L4::Udp, &e.v6, e.v6_port), Some(id));
    assert_eq!(t.bib_by_v4(L4::Udp, e.v4, e.v4_port), Some(id));
    // Protocol, address and port are all part of the key.
    assert_eq!(t.bib_by_v6(L4::Tcp, &e.v6, e.v6_port), None);
    assert_eq!(t.bib_by_v4(L4::Icmp, e.v4, e.v4_port), None);
    assert_eq!(t.bib_by_v6(L4::Udp, &v6(2), e.v6_port), None);
    assert_eq!(t.bib_by_v4(L4::Udp, e.v4, e.v4_port + 1), None);
    assert_eq!(*t.bib(id), e);
    assert_eq!(t.bib_len(), 1);
}

#[test]
fn rfc6146_3_2_session_lookup_both_directions() {
    let mut t = tables(16);
    let now = 5;
    let (b, s) = flow(&mut t, L4::Tcp, 1, 9, TimerClass::TcpTransitory, now);
    let e = *t.bib(b);
    let z = remote(9);
    assert_eq!(t.session_by_v6(L4::Tcp, &e.v6, e.v6_port, z, 89), Some(s));
    assert_eq!(t.session_by_v4(L4::Tcp, e.v4, e.v4_port, z, 89), Some(s));
    assert_eq!(t.session_by_v6(L4::Udp, &e.v6, e.v6_port, z, 89), None);
    assert_eq!(t.session_by_v6(L4::Tcp, &e.v6, e.v6_port, z, 90), None);
    assert_eq!(
        t.session_by_v4(L4::Tcp, e.v4, e.v4_port, remote(8), 89),
        None
    );
    let ss = t.session(s);
    assert_eq!((ss.bib, ss.remote, ss.remote_port), (b, z, 89));
    assert_eq!(ss.class, TimerClass::TcpTransitory);
    assert_eq!(ss.expires, now + T.tcp_transitory);
    assert_eq!(ss.tcp, TcpState::Closed);
    t.session_mut(s).tcp = TcpState::V6Init;
    assert_eq!(t.session(s).tcp, TcpState::V6Init);
    assert_eq!(t.bib(b).sessions, 1);
    // A second session on the same BIB entry (endpoint-independent mapping).
    let s2 = t
        .session_insert(b, remote(10), 443, TimerClass::TcpTransitory, now, &T)
        .unwrap();
    assert_ne!(s, s2);
    assert_eq!(
        t.session_by_v4(L4::Tcp, e.v4, e.v4_port, remote(10), 443),
        Some(s2)
    );
    assert_eq!(t.bib(b).sessions, 2);
    assert_eq!(t.sessions_len(), 2);
}

#[test]
fn rfc6146_3_5_1_remove_session_then_lookup_misses() {
    let mut t = tables(16);
    let (b, s1) = flow(&mut t, L4::Udp, 1, 1, TimerClass::Udp, 0);
    let s2 = t
        .session_insert(b, remote(2), 82, TimerClass::Udp, 0, &T)
        .unwrap();
    let e = *t.bib(b);
    let mut reported = Vec::new();
    t.remove_session(s1, &mut |e| reported.push(*e));
    assert!(reported.is_empty(), "BIB entry still has a session");
    assert_eq!(
        t.session_by_v6(L4::Udp, &e.v6, e.v6_port, remote(1), 81),
        None
    );
    assert_eq!(
        t.session_by_v4(L4::Udp, e.v4, e.v4_port, remote(1), 81),
        None
    );
    assert_eq!(
        t.session_by_v4(L4::Udp, e.v4, e.v4_port, remote(2), 82),
        Some(s2)
    );
    assert!(t.session_get(s1).is_none());
    // Removing twice is harmless.
    t.remove_session(s1, &mut |e| reported.push(*e));
    t.remove_session(s2, &mut |e| reported.push(*e));
    assert_eq!(reported, vec![BibEntry { sessions: 0, ..e }]);
    assert_eq!(t.bib_by_v6(L4::Udp, &e.v6, e.v6_port), None);
    assert_eq!(t.bib_by_v4(L4::Udp, e.v4, e.v4_port), None);
    assert_eq!((t.sessions_len(), t.bib_len()), (0, 0));
}

#[test]
fn rfc6146_3_5_touch_moves_expiry_and_class() {
    let mut t = tables(16);
    let (_, a) = flow(&mut t, L4::Tcp, 1, 1, TimerClass::TcpTransitory, 0);
    let (_, b) = flow(&mut t, L4::Tcp, 2, 2, TimerClass::TcpTransitory, 0);
    // a is refreshed: b is now the stalest transitory session.
    t.touch(a, TimerClass::TcpTransitory, 1000, &T);
    assert_eq!(t.session(a).expires, 1000 + T.tcp_transitory);
    assert_eq!(t.expire(T.tcp_transitory, &mut |_| {}), 1);
    assert!(t.session_get(b).is_none());
    assert!(t.session_get(a).is_some());
    // Class change: established lifetime.
    t.touch(a, TimerClass::TcpEstablished, 2000, &T);
    assert_eq!(t.session(a).class, TimerClass::TcpEstablished);
    assert_eq!(t.class_len(TimerClass::TcpEstablished), 1);
    assert_eq!(t.class_len(TimerClass::TcpTransitory), 0);
    assert_eq!(t.expire(1000 + T.tcp_transitory, &mut |_| {}), 0);
    assert_eq!(t.expire(2000 + T.tcp_established - 1, &mut |_| {}), 0);
    assert_eq!(t.expire(2000 + T.tcp_established, &mut |_| {}), 1);
}

#[test]
fn rfc6146_3_5_expire_exactly_the_expired_per_class() {
    let mut t = tables(64);
    let classes = [
        (L4::Udp, TimerClass::Udp),
        (L4::Tcp, TimerClass::TcpEstablished),
        (L4::Tcp, TimerClass::TcpTransitory),
        (L4::Icmp, TimerClass::Icmp),
        (L4::Tcp, TimerClass::TcpIncomingSyn),
    ];
    let mut all = Vec::new();
    for (k, &(p, c)) in classes.iter().enumerate() {
        for j in 0..4u32 {
            let i = k as u32 * 10 + j;
            let (b, s) = flow(&mut t, p, i, i, c, Millis::from(j) * 10);
            all.push((b, s, c, Millis::from(j) * 10 + T.of(c)));
        }
    }
    // A static entry with a session: the session expires, the entry stays.
    let mut st = bib(L4::Udp, 99);
    st.is_static = true;
    let sb = t.bib_insert(st).unwrap();
    let ss = t
        .session_insert(sb, remote(1), 1, TimerClass::Udp, 30, &T)
        .unwrap();
    all.push((sb, ss, TimerClass::Udp, 30 + T.udp));
    let mut times: Vec<Millis> = all.iter().map(|x| x.3).collect();
    times.sort_unstable();
    times.dedup();
    let mut reported = Vec::new();
    for &now in &times {
        // Just before: nothing due.
        assert_eq!(t.expire(now - 1, &mut |e| reported.push(*e)), 0);
        let mut removed = Vec::new();
        let n = t.expire_with(now, &mut |id, s, _| removed.push((id, s.class)), &mut |e| {
            reported.push(*e)
        });
        let mut due: Vec<_> = all
            .iter()
            .filter(|x| x.3 == now)
            .map(|x| (x.1, x.2))
            .collect();
        due.sort_by_key(|x| x.0);
        removed.sort_by_key(|x| x.0);
        assert_eq!(n, due.len(), "at {now}");
        assert_eq!(removed, due, "at {now}");
        for x in all.iter().filter(|x| x.3 > now) {
            assert!(
                t.session_get(x.1).is_some(),
                "{:?} expired early at {now}",
                x.2
            );
        }
    }
    // Every dynamic flow had its own BIB entry: each is reported once.
    assert_eq!(reported.len(), all.len() - 1);
    assert!(reported.iter().all(|e| !e.is_static && e.sessions == 0));
    assert_eq!(t.bib_by_v6(L4::Udp, &st.v6, st.v6_port), Some(sb));
    assert_eq!(t.bib(sb).sessions, 0);
    assert_eq!((t.sessions_len(), t.bib_len()), (0, 1));
}
