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
        inbound: 0,
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

/// An IPv6 address of no flow's subscriber: asks a reclaim as a newcomer
/// (no session yet), who may evict anyone's stalest session.
const NEWCOMER: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0xffff, 0, 0, 0, 0, 1);

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
    assert_eq!(t.bib_get(id), Some(&e));
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
    assert!(t.bib_get(b).is_none());
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

#[test]
fn rfc6888_reclaim_evicts_stalest_of_cheapest_class() {
    let mut t = tables(16);
    let (_, u1) = flow(&mut t, L4::Udp, 1, 1, TimerClass::Udp, 0);
    let (_, e1) = flow(&mut t, L4::Tcp, 2, 2, TimerClass::TcpEstablished, 1);
    let (_, tr1) = flow(&mut t, L4::Tcp, 3, 3, TimerClass::TcpTransitory, 2);
    let (_, i1) = flow(&mut t, L4::Icmp, 4, 4, TimerClass::Icmp, 3);
    let (_, u2) = flow(&mut t, L4::Udp, 5, 5, TimerClass::Udp, 4);
    let (_, tr2) = flow(&mut t, L4::Tcp, 6, 6, TimerClass::TcpTransitory, 5);
    let (_, sy) = flow(&mut t, L4::Tcp, 7, 7, TimerClass::TcpIncomingSyn, 6);
    // tr1 refreshed: tr2 is now the stalest transitory session.
    t.touch(tr1, TimerClass::TcpTransitory, 10, &T);
    let now = 100;
    let order = [tr2, tr1, sy, i1, u1, u2, e1];
    for want in order {
        let mut got = None;
        let mut bibs = 0;
        assert!(t.reclaim_with(
            now,
            Some(&NEWCOMER),
            &mut |id, _, _| got = Some(id),
            &mut |_| bibs += 1
        ));
        assert_eq!(got, Some(want));
        assert_eq!(bibs, 1, "its BIB entry goes with it");
        t.check();
    }
    assert!(!t.reclaim(now, Some(&NEWCOMER), &mut |_| {}));
    assert_eq!((t.sessions_len(), t.bib_len()), (0, 0));
}

#[test]
fn rfc6888_reclaim_takes_an_expired_session_first() {
    let mut t = tables(16);
    let (_, tr) = flow(&mut t, L4::Tcp, 1, 1, TimerClass::TcpTransitory, 1000);
    let (_, ic) = flow(&mut t, L4::Icmp, 2, 2, TimerClass::Icmp, 0);
    let mut got = None;
    assert!(t.reclaim_with(
        T.icmp,
        Some(&NEWCOMER),
        &mut |id, _, _| got = Some(id),
        &mut |_| {}
    ));
    assert_eq!(got, Some(ic));
    assert!(t.session_get(tr).is_some());
}

#[test]
fn capacity_is_never_exceeded() {
    let mut t = Tables::with_seed(4, 3, 1);
    let (b1, _) = flow(&mut t, L4::Udp, 1, 1, TimerClass::Udp, 0);
    flow(&mut t, L4::Udp, 2, 2, TimerClass::Udp, 0);
    flow(&mut t, L4::Udp, 3, 3, TimerClass::Udp, 0);
    assert_eq!(t.bib_insert(bib(L4::Udp, 4)), Err(TableFull));
    t.session_insert(b1, remote(9), 9, TimerClass::Udp, 0, &T)
        .unwrap();
    assert_eq!(t.sessions_len(), 4);
    assert_eq!(
        t.session_insert(b1, remote(10), 10, TimerClass::Udp, 0, &T),
        Err(TableFull)
    );
    assert_eq!((t.sessions_len(), t.bib_len()), (4, 3));
    // Reclaim frees the stalest session: b1's first, whose entry lives on
    // with its second session; then flow 2's, with its BIB entry.
    let mut freed = Vec::new();
    assert!(t.reclaim(1, Some(&NEWCOMER), &mut |e| freed.push(*e)));
    assert_eq!((t.sessions_len(), t.bib_len(), freed.len()), (3, 3, 0));
    assert!(t.reclaim(1, Some(&NEWCOMER), &mut |e| freed.push(*e)));
    assert_eq!((t.sessions_len(), t.bib_len(), freed.len()), (2, 2, 1));
    assert_eq!(freed[0].v6, bib(L4::Udp, 2).v6);
    let b4 = t.bib_insert(bib(L4::Udp, 4)).unwrap();
    t.session_insert(b4, remote(4), 4, TimerClass::Udp, 1, &T)
        .unwrap();
    t.session_insert(b4, remote(6), 6, TimerClass::Udp, 1, &T)
        .unwrap();
    assert_eq!(
        t.session_insert(b4, remote(5), 5, TimerClass::Udp, 1, &T),
        Err(TableFull)
    );
    assert_eq!(t.bib_insert(bib(L4::Udp, 5)), Err(TableFull));
    assert_eq!((t.sessions_len(), t.bib_len()), (4, 3));
    t.check();
    // An empty table is always full.
    let mut z = Tables::new(0, 0);
    assert_eq!(z.bib_insert(bib(L4::Udp, 1)), Err(TableFull));
    assert!(!z.reclaim(0, Some(&NEWCOMER), &mut |_| {}));
    assert_eq!(z.expire(u64::MAX, &mut |_| {}), 0);
}

#[test]
fn rfc6146_3_5_1_adf_bib_has_remote_addr() {
    let mut t = tables(16);
    let (b, s1) = flow(&mut t, L4::Udp, 1, 1, TimerClass::Udp, 0);
    let s2 = t
        .session_insert(b, remote(1), 5353, TimerClass::Udp, 0, &T)
        .unwrap();
    let s3 = t
        .session_insert(b, remote(2), 53, TimerClass::Udp, 0, &T)
        .unwrap();
    let (other, _) = flow(&mut t, L4::Udp, 7, 3, TimerClass::Udp, 0);
    assert!(t.bib_has_remote_addr(b, remote(1)));
    assert!(t.bib_has_remote_addr(b, remote(2)));
    assert!(
        !t.bib_has_remote_addr(b, remote(3)),
        "remote 3 talks to another entry"
    );
    assert!(t.bib_has_remote_addr(other, remote(3)));
    let mut ids: Vec<_> = t.bib_sessions(b).collect();
    ids.sort();
    assert_eq!(ids, vec![s1, s2, s3]);
    t.remove_session(s3, &mut |_| {});
    assert!(!t.bib_has_remote_addr(b, remote(2)));
    t.remove_session(s1, &mut |_| {});
    assert!(
        t.bib_has_remote_addr(b, remote(1)),
        "s2 still talks to remote 1"
    );
    t.check();
}

/// Issue 15: with address-dependent filtering, one mapping with 100k
/// sessions must not make the filter walk them: each check compares a
/// key or two (the per-(entry, remote) counts), where the walk it replaced
/// read every session of the entry.
#[test]
fn rfc6146_3_5_1_adf_check_does_not_walk_a_mapping_with_100k_sessions() {
    let n = 100_000u32;
    let mut t = Tables::with_seed(n as usize, 16, 3);
    let b = t.bib_insert(bib(L4::Udp, 1)).unwrap();
    // Remotes 10.0.0.0 + i/4: four sessions (ports) per remote address.
    let z = |i: u32| Ipv4Addr::from(0x0a00_0000 + i / 4);
    for i in 0..n {
        t.session_insert(b, z(i), (i % 4) as u16 + 1, TimerClass::Udp, 0, &T)
            .unwrap();
    }
    assert_eq!(t.bib_sessions(b).count(), n as usize);
    let before = t.per_remote.compared();
    let queries = 2_000u32;
    for q in 0..queries {
        // Half present (spread over the whole range), half absent.
        let present = q % 2 == 0;
        let addr = if present {
            z(q * (n / queries))
        } else {
            Ipv4Addr::from(0x0b00_0000 + q)
        };
        assert_eq!(t.bib_has_remote_addr(b, addr), present, "{addr}");
    }
    let compared = t.per_remote.compared() - before;
    // A hit compares its own key once; tag collisions are rare (32-bit
    // tags), so the total stays near the number of hits.
    assert!(
        compared <= u64::from(queries),
        "{compared} keys compared for {queries} checks"
    );
    // Removing sessions keeps the counts exact: a remote goes with its
    // last session.
    let gone: Vec<SessionId> = t
        .bib_sessions(b)
        .filter(|&s| t.session(s).remote == z(0))
        .collect();
    assert_eq!(gone.len(), 4);
    for (k, s) in gone.into_iter().enumerate() {
        assert!(t.bib_has_remote_addr(b, z(0)));
        t.remove_session(s, &mut |_| {});
        assert_eq!(t.bib_has_remote_addr(b, z(0)), k < 3);
    }
}

/// Issue 15: one subscriber's flood cannot evict a smaller subscriber's
/// live sessions; a session opened from the IPv4 side evicts only expired
/// ones; the per-subscriber counts follow every insert and removal.
#[test]
fn reclaim_is_fair_to_smaller_subscribers() {
    let mut t = Tables::with_seed(8, 16, 5);
    t.set_touch_granularity(0);
    t.set_subscriber_prefix_len(56);
    // Subscriber B (2001:db8:0:200::/56) first: its two sessions are the
    // stalest of the table.
    let host = |sub: u16, h: u16| Ipv6Addr::new(0x2001, 0xdb8, 0, sub, 0, 0, 0, h);
    let add = |t: &mut Tables, sub: u16, h: u16, z: u32, now: Millis| {
        let e = BibEntry {
            v6: host(sub, h),
            v6_port: 4000 + h,
            v4_port: 5000 + (sub << 4) + h,
            ..bib(L4::Udp, 1)
        };
        let b = t.bib_insert(e).unwrap();
        t.session_insert(b, remote(z), 53, TimerClass::Udp, now, &T)
            .unwrap()
    };
    let b1 = add(&mut t, 0x200, 1, 1, 0);
    let b2 = add(&mut t, 0x200, 2, 2, 1);
    // Subscriber A (2001:db8:0:100::/56) fills the rest.
    let mut a = Vec::new();
    for h in 0..6 {
        a.push(add(
            &mut t,
            0x100,
            h,
            10 + u32::from(h),
            2 + Millis::from(h),
        ));
    }
    assert_eq!(t.subscriber_sessions(&host(0x200, 99)), 2);
    assert_eq!(t.subscriber_sessions(&host(0x100, 99)), 6);
    assert_eq!(t.sessions_len(), t.capacity());
    t.check();
    // A asks: B's two sessions are the stalest, yet A's own stalest goes.
    let mut got = None;
    assert!(t.reclaim_with(
        10,
        Some(&host(0x100, 7)),
        &mut |id, _, _| got = Some(id),
        &mut |_| {}
    ));
    assert_eq!(got, Some(a[0]));
    assert_eq!(t.subscriber_sessions(&host(0x100, 7)), 5);
    assert!(t.session_get(b1).is_some() && t.session_get(b2).is_some());
    // From the IPv4 side: nothing live goes.
    assert!(!t.reclaim(10, None, &mut |_| {}));
    assert_eq!(t.sessions_len(), 7);
    // B asks (2 sessions, A holds 5): A's stalest goes, B's stay.
    assert!(t.reclaim_with(
        10,
        Some(&host(0x200, 7)),
        &mut |id, _, _| got = Some(id),
        &mut |_| {}
    ));
    assert_eq!(got, Some(a[1]));
    assert!(t.session_get(b1).is_some() && t.session_get(b2).is_some());
    t.check();
    // Once B's sessions expire, they go first, whoever asks.
    assert!(t.reclaim_with(T.udp + 1, None, &mut |id, _, _| got = Some(id), &mut |_| {}));
    assert_eq!(got, Some(b1));
    assert_eq!(t.subscriber_sessions(&host(0x200, 7)), 1);
    t.check();
}

#[test]
fn bib_remove_takes_its_sessions() {
    let mut t = tables(16);
    let mut st = bib(L4::Tcp, 1);
    st.is_static = true;
    let b = t.bib_insert(st).unwrap();
    for z in 0..3 {
        t.session_insert(b, remote(z), 80, TimerClass::TcpEstablished, 0, &T)
            .unwrap();
    }
    flow(&mut t, L4::Tcp, 2, 2, TimerClass::TcpEstablished, 0);
    assert_eq!(t.bib_remove(b), st);
    assert_eq!((t.sessions_len(), t.bib_len()), (1, 1));
    assert_eq!(t.bib_by_v6(L4::Tcp, &st.v6, st.v6_port), None);
    assert_eq!(
        t.session_by_v4(L4::Tcp, st.v4, st.v4_port, remote(1), 80),
        None
    );
    t.check();
}

#[test]
fn lazy_touch_moves_rarely_and_expires_within_the_granularity() {
    let mut t = Tables::with_seed(16, 16, 3);
    t.set_touch_granularity(1000);
    let (_, a) = flow(&mut t, L4::Udp, 1, 1, TimerClass::Udp, 0);
    let (_, b) = flow(&mut t, L4::Udp, 2, 2, TimerClass::Udp, 10);
    assert_eq!(t.session(b).expires, 10 + T.udp);
    // A touch within the granularity only writes `expires`: a stays ahead of b.
    t.touch(a, TimerClass::Udp, 500, &T);
    assert_eq!(t.session(a).expires, 500 + T.udp);
    t.check();
    // b is due at 10 + udp but queued behind a: removed no later than a
    // granularity after it is due, and a is removed exactly when due.
    assert_eq!(t.expire(10 + T.udp, &mut |_| {}), 0);
    assert_eq!(t.expire(500 + T.udp - 1, &mut |_| {}), 0);
    assert_eq!(t.expire(500 + T.udp, &mut |_| {}), 2);
    // A touch that moves the expiry by the granularity or more re-queues.
    let (_, c) = flow(&mut t, L4::Udp, 3, 3, TimerClass::Udp, 1_000_000);
    let (_, d) = flow(&mut t, L4::Udp, 4, 4, TimerClass::Udp, 1_000_010);
    t.touch(c, TimerClass::Udp, 1_001_000, &T);
    assert_eq!(t.expire(1_000_010 + T.udp, &mut |_| {}), 1);
    assert!(t.session_get(d).is_none());
    assert!(t.session_get(c).is_some());
    t.check();
}

#[test]
fn memory_per_session_at_most_176_bytes() {
    let n = 1 << 16;
    let t = Tables::new(n, n);
    let per = t.memory_bytes() as f64 / n as f64;
    assert!(per <= 176.0, "{per} bytes/session");
    assert_eq!(size_of::<Session>(), 32);
    assert_eq!(size_of::<BibEntry>(), 32);
}

#[test]
fn memory_per_session_at_most_146_bytes_with_a_workers_subscriber_room() {
    // A worker sizes the per-subscriber counts by its pool's blocks, far
    // fewer than sessions (here one subscriber room per 64 sessions).
    let n = 1 << 16;
    let t = Tables::sized(n, n, n / 64);
    let per = t.memory_bytes() as f64 / n as f64;
    assert!(per <= 146.0, "{per} bytes/session");
}

#[test]
fn hash_spreads_sequential_keys() {
    // Sequential subscribers, ports and remotes at full load keep every
    // index's probe runs short (a weak hash would pile them up).
    let n = 20_000u32;
    let mut t = Tables::with_seed(n as usize, n as usize, 11);
    for i in 0..n {
        flow(&mut t, L4::Udp, i, i, TimerClass::Udp, 0);
    }
    let worst = t.check();
    assert!(worst < 100, "longest probe {worst}");
}

// ---- model check against std's HashMap ----

mod model {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    /// RFC 6888-style sacrifice order, written out independently.
    const CHEAPEST_FIRST: [TimerClass; 5] = [
        TimerClass::TcpTransitory,
        TimerClass::TcpIncomingSyn,
        TimerClass::Icmp,
        TimerClass::Udp,
        TimerClass::TcpEstablished,
    ];

    /// Short timeouts so that sequences see plenty of expiry.
    const MT: Timeouts = Timeouts {
        udp: 50,
        tcp_established: 200,
        tcp_transitory: 40,
        icmp: 30,
        tcp_incoming_syn: 10,
    };

    /// (proto, subscriber, its port, remote, remote port): small domains so
    /// keys collide, BIB entries get several sessions, tables fill up.
    type Key = (u8, u8, u8, u8, u8);

    #[derive(Debug, Clone)]
    enum Op {
        Insert(Key, u8),
        Lookup(Key),
        Touch(u8, u8),
        Remove(u8),
        Advance(u8),
        Reclaim,
    }

    fn op() -> impl Strategy<Value = Op> {
        let key = (0..3u8, 0..6u8, 0..3u8, 0..4u8, 0..3u8);
        prop_oneof![
            4 => (key.clone(), 0..5u8).prop_map(|(k, c)| Op::Insert(k, c)),
            3 => key.prop_map(Op::Lookup),
            2 => (any::<u8>(), 0..5u8).prop_map(|(i, c)| Op::Touch(i, c)),
            1 => any::<u8>().prop_map(Op::Remove),
            2 => (0..40u8).prop_map(Op::Advance),
            1 => Just(Op::Reclaim),
        ]
    }

    fn proto(p: u8) -> L4 {
        [L4::Tcp, L4::Udp, L4::Icmp][usize::from(p)]
    }

    fn v6k(k: &Key) -> (L4, Ipv6Addr, u16) {
        (proto(k.0), v6(u32::from(k.1)), 1000 + u16::from(k.2))
    }

    /// The outside address the test binds (proto, subscriber, port) to.
    fn v4k(k: &Key) -> (Ipv4Addr, u16) {
        (
            pool(u32::from(k.1)),
            2000 + u16::from(k.1) * 8 + u16::from(k.2),
        )
    }

    fn zk(k: &Key) -> (Ipv4Addr, u16) {
        (remote(u32::from(k.3)), 80 + u16::from(k.4))
    }

    fn key6(k: &Key) -> V6Key {
        let (proto, v6, port) = v6k(k);
        let (remote, remote_port) = zk(k);
        V6Key {
            proto,
            v6,
            port,
            remote,
            remote_port,
        }
    }

    fn key4(k: &Key) -> V4Key {
        let (v4, port) = v4k(k);
        let (remote, remote_port) = zk(k);
        V4Key {
            proto: proto(k.0),
            v4,
            port,
            remote,
            remote_port,
        }
    }

    /// Burst lookups of every key of the domain (many bursts, mostly
    /// misses) agree with the model.
    fn all_keys_agree(w: &World) {
        let mut keys = Vec::new();
        for a in 0..3 {
            for b in 0..6 {
                for c in 0..3 {
                    for d in 0..4 {
                        for e in 0..3 {
                            keys.push((a, b, c, d, e));
                        }
                    }
                }
            }
        }
        let k6: Vec<V6Key> = keys.iter().map(key6).collect();
        let k4: Vec<V4Key> = keys.iter().map(key4).collect();
        let mut o6 = vec![None; keys.len()];
        let mut o4 = vec![None; keys.len()];
        w.t.sessions_by_v6(&k6, &mut o6);
        w.t.sessions_by_v4(&k4, &mut o4);
        for (i, k) in keys.iter().enumerate() {
            let want = w.sessions.get(k).map(|m| m.id);
            assert_eq!(o6[i], want, "{k:?}");
            assert_eq!(o4[i], want, "{k:?}");
        }
    }

    #[derive(Debug, Clone, Copy)]
    struct M {
        id: SessionId,
        class: TimerClass,
        expires: Millis,
        /// Order of the last move to a list's tail (G = 0: every touch).
        seq: u64,
    }

    struct World {
        t: Tables,
        g: Millis,
        now: Millis,
        seq: u64,
        sessions: HashMap<Key, M>,
        /// (proto, subscriber, port) -> sessions
        bibs: HashMap<(u8, u8, u8), u32>,
    }

    impl World {
        fn new(cap: usize, bib_cap: usize, g: Millis, seed: u64) -> World {
            let mut t = Tables::with_seed(cap, bib_cap, seed);
            t.set_touch_granularity(g);
            World {
                t,
                g,
                now: 0,
                seq: 0,
                sessions: HashMap::new(),
                bibs: HashMap::new(),
            }
        }

        fn key_of(&self, id: SessionId) -> Key {
            *self
                .sessions
                .iter()
                .find(|(_, m)| m.id == id)
                .expect("session in model")
                .0
        }

        /// The model forgets a session the table removed.
        fn forget(&mut self, id: SessionId, s: &Session, b: &BibEntry) {
            let k = self.key_of(id);
            let (p, a, port) = v6k(&k);
            assert_eq!((b.proto, b.v6, b.v6_port), (p, a, port));
            assert_eq!((s.remote, s.remote_port), zk(&k));
            self.sessions.remove(&k);
            let bk = (k.0, k.1, k.2);
            let n = self.bibs.get_mut(&bk).expect("bib in model");
            *n -= 1;
            if *n == 0 {
                self.bibs.remove(&bk);
            }
        }

        fn step(&mut self, op: &Op) {
            match *op {
                Op::Insert(k, c) => {
                    if self.sessions.contains_key(&k) {
                        return;
                    }
                    let class = TimerClass::ALL[usize::from(c)];
                    let (p, a, port) = v6k(&k);
                    let (v4, v4p) = v4k(&k);
                    let bk = (k.0, k.1, k.2);
                    let b = match self.t.bib_by_v6(p, &a, port) {
                        Some(b) => {
                            assert!(self.bibs.contains_key(&bk));
                            b
                        }
                        None => {
                            assert!(!self.bibs.contains_key(&bk));
                            let e = BibEntry {
                                proto: p,
                                v6: a,
                                v6_port: port,
                                v4,
                                v4_port: v4p,
                                is_static: false,
                                sessions: 0,
                                inbound: 0,
                            };
                            match self.t.bib_insert(e) {
                                Ok(b) => b,
                                Err(TableFull) => {
                                    assert_eq!(self.bibs.len(), self.t.bib_capacity());
                                    return;
                                }
                            }
                        }
                    };
                    let (z, zp) = zk(&k);
                    match self.t.session_insert(b, z, zp, class, self.now, &MT) {
                        Ok(id) => {
                            // Every other class: opened from the IPv4
                            // side (`check` recounts `inbound`).
                            if c % 2 == 1 {
                                self.t.set_opened_from_v4(id);
                            }
                            self.seq += 1;
                            self.sessions.insert(
                                k,
                                M {
                                    id,
                                    class,
                                    expires: self.now + MT.of(class),
                                    seq: self.seq,
                                },
                            );
                            *self.bibs.entry(bk).or_insert(0) += 1;
                        }
                        Err(TableFull) => {
                            assert_eq!(self.sessions.len(), self.t.capacity());
                            if !self.bibs.contains_key(&bk) {
                                // The entry made for this session goes again.
                                self.t.bib_remove(b);
                            }
                        }
                    }
                }
                Op::Lookup(k) => {
                    let (p, a, port) = v6k(&k);
                    let (v4, v4p) = v4k(&k);
                    let (z, zp) = zk(&k);
                    let want = self.sessions.get(&k).map(|m| m.id);
                    assert_eq!(self.t.session_by_v6(p, &a, port, z, zp), want);
                    assert_eq!(self.t.session_by_v4(p, v4, v4p, z, zp), want);
                    let mut out = [None, None];
                    self.t.sessions_by_v6(&[key6(&k)], &mut out);
                    assert_eq!(out, [want, None]);
                    self.t.sessions_by_v4(&[key4(&k)], &mut out);
                    assert_eq!(out, [want, None]);
                    let bk = (k.0, k.1, k.2);
                    let b6 = self.t.bib_by_v6(p, &a, port);
                    assert_eq!(b6.is_some(), self.bibs.contains_key(&bk));
                    assert_eq!(self.t.bib_by_v4(p, v4, v4p), b6);
                    if let Some(b) = b6 {
                        assert_eq!(self.t.bib(b).sessions, self.bibs[&bk]);
                        let any_z = self
                            .sessions
                            .keys()
                            .any(|x| (x.0, x.1, x.2) == bk && x.3 == k.3);
                        assert_eq!(self.t.bib_has_remote_addr(b, z), any_z);
                    }
                    if let Some(m) = self.sessions.get(&k) {
                        let s = self.t.session(m.id);
                        assert_eq!((s.class, s.expires), (m.class, m.expires));
                    }
                }
                Op::Touch(i, c) => {
                    let mut keys: Vec<Key> = self.sessions.keys().copied().collect();
                    if keys.is_empty() {
                        return;
                    }
                    keys.sort_unstable();
                    let k = keys[usize::from(i) % keys.len()];
                    let class = TimerClass::ALL[usize::from(c)];
                    let m = self.sessions.get_mut(&k).unwrap();
                    self.t.touch(m.id, class, self.now, &MT);
                    m.expires = self.now + MT.of(class);
                    if class != m.class || self.g == 0 {
                        self.seq += 1;
                        m.seq = self.seq;
                    }
                    m.class = class;
                }
                Op::Remove(i) => {
                    let mut keys: Vec<Key> = self.sessions.keys().copied().collect();
                    if keys.is_empty() {
                        return;
                    }
                    keys.sort_unstable();
                    let k = keys[usize::from(i) % keys.len()];
                    let id = self.sessions[&k].id;
                    let bk = (k.0, k.1, k.2);
                    let mut gone = Vec::new();
                    self.t.remove_session(id, &mut |e| gone.push(*e));
                    let s = *self.t.session(id);
                    let (p, a, port) = v6k(&k);
                    let (v4, v4p) = v4k(&k);
                    let b = BibEntry {
                        proto: p,
                        v6: a,
                        v6_port: port,
                        v4,
                        v4_port: v4p,
                        is_static: false,
                        sessions: 0,
                        inbound: 0,
                    };
                    self.forget(id, &s, &b);
                    // Reported exactly when its last session went.
                    assert_eq!(
                        gone,
                        if self.bibs.contains_key(&bk) {
                            vec![]
                        } else {
                            vec![b]
                        }
                    );
                }
                Op::Advance(dt) => {
                    self.now += Millis::from(dt);
                    let now = self.now;
                    let mut removed = Vec::new();
                    let mut gone = 0;
                    self.t.expire_with(
                        now,
                        &mut |id, s, b| removed.push((id, *s, *b)),
                        &mut |_| gone += 1,
                    );
                    let bibs_before = self.bibs.len();
                    for (id, s, b) in &removed {
                        assert!(s.expires <= now, "removed early");
                        self.forget(*id, s, b);
                    }
                    assert_eq!(gone, bibs_before - self.bibs.len());
                    // Nothing due is left, except (lazy touch) within G.
                    for m in self.sessions.values() {
                        assert!(m.expires + self.g > now, "{m:?} still there at {now}");
                    }
                }
                Op::Reclaim => {
                    let mut got = None;
                    let r = self.t.reclaim_with(
                        self.now,
                        Some(&NEWCOMER),
                        &mut |id, s, b| got = Some((id, *s, *b)),
                        &mut |_| {},
                    );
                    assert_eq!(r, !self.sessions.is_empty());
                    if let Some((id, s, b)) = got {
                        let victim = self.sessions[&self.key_of(id)];
                        if self.g == 0 {
                            // Expired first (lists in ALL order), else the stalest of the cheapest class.
                            let want = TimerClass::ALL
                                .iter()
                                .find_map(|&c| self.oldest(c).filter(|m| m.expires <= self.now))
                                .or_else(|| CHEAPEST_FIRST.iter().find_map(|&c| self.oldest(c)))
                                .unwrap();
                            assert_eq!(victim.id, want.id);
                        } else {
                            let cheapest = CHEAPEST_FIRST
                                .iter()
                                .find(|&&c| self.oldest(c).is_some())
                                .unwrap();
                            assert!(victim.expires <= self.now || victim.class == *cheapest);
                        }
                        self.forget(id, &s, &b);
                    }
                }
            }
            assert_eq!(self.t.sessions_len(), self.sessions.len());
            assert_eq!(self.t.bib_len(), self.bibs.len());
            assert!(self.t.sessions_len() <= self.t.capacity());
            assert!(self.t.bib_len() <= self.t.bib_capacity());
            for c in TimerClass::ALL {
                assert_eq!(
                    self.t.class_len(c),
                    self.sessions.values().filter(|m| m.class == c).count()
                );
            }
        }

        fn oldest(&self, c: TimerClass) -> Option<M> {
            self.sessions
                .values()
                .filter(|m| m.class == c)
                .min_by_key(|m| m.seq)
                .copied()
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn tables_agree_with_a_hashmap_model(
            ops in proptest::collection::vec(op(), 1..300),
            cap in 1usize..40,
            bib_cap in 1usize..40,
            lazy in any::<bool>(),
            seed in any::<u64>(),
        ) {
            let g = if lazy { 15 } else { 0 };
            let mut w = World::new(cap, bib_cap, g, seed);
            for op in &ops {
                w.step(op);
                w.t.check();
            }
            all_keys_agree(&w);
            // After the longest timeout (plus G) without traffic, all is gone.
            w.step(&Op::Advance(0));
            let longest = MT.longest() + g;
            w.now += longest;
            w.step(&Op::Advance(0));
            prop_assert_eq!(w.t.sessions_len(), 0);
            prop_assert_eq!(w.t.bib_len(), 0);
            w.t.check();
        }
    }
}
