use super::*;
use proptest::prelude::*;
use std::rc::Rc;

const M1: Mac = [0x02, 0, 0, 0, 0, 1];
const M2: Mac = [0x02, 0, 0, 0, 0, 2];

fn v4(last: u8) -> Ipv4Addr {
    Ipv4Addr::new(198, 51, 100, last)
}

/// Collects what `learn` flushes.
fn learn_all<A: NeighAddr, T>(
    c: &mut NeighCache<A, T>,
    ip: A,
    mac: Mac,
    now: Millis,
) -> Vec<(Mac, T)> {
    let mut out = Vec::new();
    c.learn(ip, mac, now, &mut |m, p| out.push((m, p)));
    out
}

fn tick_all<A: NeighAddr, T>(c: &mut NeighCache<A, T>, now: Millis) -> Vec<A> {
    let mut out = Vec::new();
    c.tick(now, &mut |ip| out.push(ip));
    out
}

/// Structural invariants: every used entry is indexed exactly once and
/// found by lookup, list membership matches the state, lists are
/// well linked, queue lengths are in range.
fn check<A: NeighAddr, T>(c: &NeighCache<A, T>) {
    let used: Vec<usize> = (0..c.entries.len())
        .filter(|&i| c.entries[i].state != NeighState::Free)
        .collect();
    assert_eq!(used.len(), c.len());
    assert_eq!(c.index.iter().filter(|&&v| v != 0).count(), used.len());
    for &i in &used {
        let e = &c.entries[i];
        let ip = e.ip.expect("used entry has an ip");
        assert_eq!(c.lookup(ip), Some(i));
        let want = match e.state {
            NeighState::Reachable => Some(ListId::Lru),
            NeighState::Incomplete | NeighState::Probe => Some(ListId::Wait),
            _ => None,
        };
        assert_eq!(e.list, want, "{e:?}");
        assert!(e.q_len <= c.per_hop);
        if e.state != NeighState::Incomplete {
            assert_eq!(e.q_len, 0);
        }
    }
    for (head, id) in [(c.lru, ListId::Lru), (c.wait, ListId::Wait)] {
        let mut n = 0;
        let mut prev = OptIndex::NONE;
        let mut cur = head.head;
        while let Some(i) = cur.get() {
            let e = &c.entries[i as usize];
            assert_eq!(e.list, Some(id));
            assert_eq!(e.links.prev, prev);
            prev = cur;
            cur = e.links.next;
            n += 1;
        }
        assert_eq!(head.tail, prev);
        assert_eq!(head.len, n);
    }
    let queued: usize = c.pending.iter().filter(|p| p.is_some()).count();
    let counted: u32 = c.entries.iter().map(|e| e.q_len).sum();
    assert_eq!(queued, counted as usize);
    assert_eq!(c.parked(), queued);
    let unresolved = used
        .iter()
        .filter(|&&i| c.entries[i].state == NeighState::Incomplete)
        .count();
    assert_eq!(c.unresolved, unresolved);
    for &i in &used {
        let e = &c.entries[i];
        assert_eq!(e.pinned, e.ip.is_some_and(|ip| c.pins.contains(&ip)));
    }
}

#[test]
fn rfc4861_7_2_2_resolve_queue_learn_flush_in_order() {
    let mut c: NeighCache<Ipv4Addr, u32> = NeighCache::new(16, 4);
    assert_eq!(c.resolve(v4(254), 1, 0), Resolve::Queued { solicit: true });
    assert_eq!(
        c.resolve(v4(254), 2, 10),
        Resolve::Queued { solicit: false }
    );
    assert_eq!(
        c.resolve(v4(254), 3, 20),
        Resolve::Queued { solicit: false }
    );
    assert_eq!(c.queued(v4(254)), 3);
    assert_eq!(c.get(v4(254)), Some(([0; 6], NeighState::Incomplete)));
    check(&c);
    assert_eq!(
        learn_all(&mut c, v4(254), M1, 30),
        vec![(M1, 1), (M1, 2), (M1, 3)]
    );
    assert_eq!(c.resolve(v4(254), 4, 40), Resolve::Ready(M1, 4));
    assert_eq!(c.get(v4(254)), Some((M1, NeighState::Reachable)));
    assert_eq!(c.queued(v4(254)), 0);
    let k = c.counters();
    assert_eq!((k.queued, k.solicits, k.resolved, k.hits), (3, 1, 1, 1));
    check(&c);
    // The ring wraps correctly on a second round.
    let mut c: NeighCache<Ipv4Addr, u32> = NeighCache::new(1, 2);
    for round in 0..3u32 {
        assert!(matches!(
            c.resolve(v4(1), round * 10, 0),
            Resolve::Queued { .. }
        ));
        assert!(matches!(
            c.resolve(v4(1), round * 10 + 1, 0),
            Resolve::Queued { .. }
        ));
        assert_eq!(
            learn_all(&mut c, v4(1), M1, 0),
            vec![(M1, round * 10), (M1, round * 10 + 1)]
        );
        c.release(0);
        check(&c);
    }
}

#[test]
fn queue_full_drops_are_counted_and_returned() {
    let mut c: NeighCache<Ipv4Addr, u32> = NeighCache::new(4, 2);
    assert!(matches!(
        c.resolve(v4(1), 1, 0),
        Resolve::Queued { solicit: true }
    ));
    assert!(matches!(
        c.resolve(v4(1), 2, 0),
        Resolve::Queued { solicit: false }
    ));
    assert_eq!(c.resolve(v4(1), 3, 0), Resolve::Dropped(3));
    assert_eq!(c.resolve(v4(1), 4, 0), Resolve::Dropped(4));
    assert_eq!(c.counters().queue_full_drops, 2);
    assert_eq!(c.counters().queued, 2);
    // The queued ones still go out, in order.
    assert_eq!(learn_all(&mut c, v4(1), M2, 5), vec![(M2, 1), (M2, 2)]);
    check(&c);
}

#[test]
fn rfc4861_7_3_3_retry_every_second_then_drop_after_three() {
    let mut c: NeighCache<Ipv6Addr, Rc<()>> = NeighCache::new(8, 4);
    let gw: Ipv6Addr = "2001:db8:1::fe".parse().unwrap();
    let token = Rc::new(());
    assert_eq!(
        c.resolve(gw, token.clone(), 0),
        Resolve::Queued { solicit: true }
    );
    assert!(tick_all(&mut c, 999).is_empty());
    assert_eq!(tick_all(&mut c, 1000), vec![gw]);
    // Rate limit: a packet in the same interval asks for nothing.
    assert_eq!(
        c.resolve(gw, token.clone(), 1500),
        Resolve::Queued { solicit: false }
    );
    assert!(tick_all(&mut c, 1999).is_empty());
    assert_eq!(tick_all(&mut c, 2000), vec![gw]);
    assert_eq!(c.counters().solicits, 3);
    assert_eq!(Rc::strong_count(&token), 3);
    check(&c);
    // Third interval passes without an answer: queue dropped (freed).
    assert!(tick_all(&mut c, 2999).is_empty());
    assert!(tick_all(&mut c, 3000).is_empty());
    assert_eq!(Rc::strong_count(&token), 1, "queued packets freed");
    assert_eq!(c.counters().timed_out_drops, 2);
    assert_eq!(c.counters().failed, 1);
    assert_eq!(c.get(gw), None);
    assert!(c.is_empty());
    check(&c);
    // The next packet starts over with a fresh solicitation.
    assert_eq!(
        c.resolve(gw, token.clone(), 3001),
        Resolve::Queued { solicit: true }
    );
    assert_eq!(c.counters().solicits, 4);
}

#[test]
fn resolve_solicits_when_the_retry_is_due_and_tick_does_not_repeat() {
    let mut c: NeighCache<Ipv4Addr, u8> = NeighCache::new(8, 8);
    assert_eq!(c.resolve(v4(9), 0, 0), Resolve::Queued { solicit: true });
    assert_eq!(c.resolve(v4(9), 0, 1000), Resolve::Queued { solicit: true });
    assert!(tick_all(&mut c, 1000).is_empty());
    assert!(tick_all(&mut c, 1999).is_empty());
    assert_eq!(tick_all(&mut c, 2000), vec![v4(9)]);
    // Three sent: no more, even when due.
    assert_eq!(
        c.resolve(v4(9), 0, 3000),
        Resolve::Queued { solicit: false }
    );
    assert_eq!(c.counters().solicits, 3);
    assert!(tick_all(&mut c, 3000).is_empty());
    assert_eq!(c.counters().timed_out_drops, 3);
}

#[test]
fn rfc4861_7_3_2_stale_entry_still_sends_and_is_probed() {
    let mut c: NeighCache<Ipv4Addr, u8> = NeighCache::new(8, 2);
    assert!(learn_all(&mut c, v4(254), M1, 0).is_empty());
    assert_eq!(
        c.resolve(v4(254), 1, REACHABLE_MS - 1),
        Resolve::Ready(M1, 1)
    );
    assert!(tick_all(&mut c, REACHABLE_MS - 1).is_empty());
    // Past the lifetime: sent with the old MAC, probed at the next tick.
    let t = REACHABLE_MS;
    assert_eq!(c.resolve(v4(254), 2, t), Resolve::Ready(M1, 2));
    assert_eq!(c.get(v4(254)), Some((M1, NeighState::Probe)));
    check(&c);
    assert_eq!(tick_all(&mut c, t), vec![v4(254)]);
    assert!(tick_all(&mut c, t + 500).is_empty());
    assert_eq!(c.resolve(v4(254), 3, t + 500), Resolve::Ready(M1, 3));
    // The answer brings a new MAC.
    assert!(learn_all(&mut c, v4(254), M2, t + 600).is_empty());
    assert_eq!(c.resolve(v4(254), 4, t + 700), Resolve::Ready(M2, 4));
    assert_eq!(c.get(v4(254)), Some((M2, NeighState::Reachable)));
    check(&c);
    // A probe that is never answered deletes the entry after 3 tries.
    let t = t + 600 + REACHABLE_MS;
    assert_eq!(c.resolve(v4(254), 5, t), Resolve::Ready(M2, 5));
    assert_eq!(tick_all(&mut c, t), vec![v4(254)]);
    assert_eq!(tick_all(&mut c, t + 1000), vec![v4(254)]);
    assert_eq!(tick_all(&mut c, t + 2000), vec![v4(254)]);
    assert!(tick_all(&mut c, t + 3000).is_empty());
    assert_eq!(c.get(v4(254)), None);
    assert_eq!(c.counters().failed, 1);
    assert_eq!(c.counters().timed_out_drops, 0);
    assert_eq!(
        c.resolve(v4(254), 6, t + 3001),
        Resolve::Queued { solicit: true }
    );
    check(&c);
}

#[test]
fn static_entry_never_expires_nor_learns_nor_solicits() {
    let mut c: NeighCache<Ipv4Addr, u8> = NeighCache::new(2, 2);
    c.set_static(v4(254), M1);
    for t in [0, REACHABLE_MS, 10 * REACHABLE_MS, Millis::MAX / 2] {
        assert_eq!(c.resolve(v4(254), 1, t), Resolve::Ready(M1, 1));
        assert!(tick_all(&mut c, t).is_empty());
    }
    assert!(learn_all(&mut c, v4(254), M2, 5).is_empty());
    assert_eq!(c.get(v4(254)), Some((M1, NeighState::Static)));
    assert_eq!(c.counters().learn_ignored, 1);
    assert_eq!(c.counters().solicits, 0);
    // A static entry is never reclaimed for a new one.
    c.set_static(v4(253), M2);
    assert_eq!(c.resolve(v4(1), 7, 0), Resolve::Dropped(7));
    assert_eq!(c.counters().cache_full_drops, 1);
    // set_static over a pending entry turns it static.
    let mut c: NeighCache<Ipv4Addr, u8> = NeighCache::new(2, 2);
    assert!(matches!(c.resolve(v4(7), 1, 0), Resolve::Queued { .. }));
    c.set_static(v4(7), M2);
    assert_eq!(c.resolve(v4(7), 2, 0), Resolve::Ready(M2, 2));
    check(&c);
}

#[test]
fn full_cache_reclaims_least_recently_used_resolved_entry() {
    let mut c: NeighCache<Ipv4Addr, u8> = NeighCache::new(3, 2);
    c.set_static(v4(254), M1);
    learn_all(&mut c, v4(1), M1, 0);
    learn_all(&mut c, v4(2), M2, 1);
    // v4(1) used last, so v4(2) is the least recently used.
    assert_eq!(c.resolve(v4(1), 0, 2), Resolve::Ready(M1, 0));
    assert_eq!(c.resolve(v4(3), 9, 3), Resolve::Queued { solicit: true });
    assert_eq!(c.get(v4(2)), None);
    assert!(c.get(v4(1)).is_some());
    assert_eq!(c.counters().evicted, 1);
    check(&c);
    // Now: static, v4(1) reachable, v4(3) incomplete. Next evicts v4(1).
    assert_eq!(c.resolve(v4(4), 8, 4), Resolve::Queued { solicit: true });
    assert_eq!(c.get(v4(1)), None);
    // Full of static and unresolved entries: counted drop.
    assert_eq!(c.resolve(v4(5), 7, 5), Resolve::Dropped(7));
    assert_eq!(c.counters().cache_full_drops, 1);
    // An unsolicited pair never evicts.
    learn_all(&mut c, v4(6), M2, 6);
    assert_eq!(c.get(v4(6)), None);
    assert_eq!(c.counters().learn_ignored, 1);
    // Answers for the pending ones still flush them.
    assert_eq!(learn_all(&mut c, v4(3), M2, 7), vec![(M2, 9)]);
    check(&c);
}

#[test]
fn learn_of_unknown_address_fills_a_free_slot() {
    let mut c: NeighCache<IpAddr, u8> = NeighCache::new(4, 1);
    let a = IpAddr::V4(v4(1));
    let b = IpAddr::V6("2001:db8:1::1".parse().unwrap());
    learn_all(&mut c, a, M1, 0);
    learn_all(&mut c, b, M2, 0);
    assert_eq!(c.resolve(a, 1, 1), Resolve::Ready(M1, 1));
    assert_eq!(c.resolve(b, 2, 1), Resolve::Ready(M2, 2));
    assert_eq!(c.counters().resolved, 2);
    let events = c.counters().events();
    assert_eq!(events[0], ("hit", 2));
    assert_eq!(events[1], ("resolved", 2));
    let u = NeighUpdate::from((a, M1));
    assert_eq!((u.ip, u.mac), (a, M1));
    let mut sum = NeighCounters::default();
    sum.add(c.counters());
    sum.add(c.counters());
    assert_eq!(sum.hits, 4);
}

#[test]
fn dropping_the_cache_frees_queued_packets() {
    let token = Rc::new(());
    {
        let mut c: NeighCache<Ipv4Addr, Rc<()>> = NeighCache::new(4, 4);
        for i in 0..4 {
            let _ = c.resolve(v4(i), token.clone(), 0);
        }
        assert_eq!(Rc::strong_count(&token), 5);
    }
    assert_eq!(Rc::strong_count(&token), 1);
}

#[derive(Clone, Debug)]
enum Op {
    Resolve(u8),
    Learn(u8, u8),
    Tick(u16),
    Static(u8),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => any::<u8>().prop_map(|a| Op::Resolve(a % 24)),
        3 => (any::<u8>(), any::<u8>()).prop_map(|(a, m)| Op::Learn(a % 24, m)),
        2 => any::<u16>().prop_map(Op::Tick),
        1 => any::<u8>().prop_map(|a| Op::Static(a % 24)),
    ]
}

proptest! {
    /// Random operations keep the index, lists and queues consistent,
    /// and account for every packet: sent, still queued, or counted.
    #[test]
    fn random_operations_keep_invariants(ops in prop::collection::vec(op(), 1..200), cap in 1usize..10, per in 1usize..4, limited in any::<bool>()) {
        let mut c: NeighCache<Ipv4Addr, u32> = NeighCache::new(cap, per);
        if limited {
            c = c.with_limits(NeighLimits { max_unresolved: 2, new_per_second: 5, max_parked: 3 });
            c.pin(v4(0));
        }
        let mut now: Millis = 0;
        let (mut sent, mut offered, mut refused) = (0u64, 0u64, 0u64);
        for op in ops {
            match op {
                Op::Resolve(a) => {
                    offered += 1;
                    match c.resolve(v4(a), 0, now) {
                        Resolve::Ready(..) => sent += 1,
                        Resolve::Queued { .. } => {}
                        Resolve::Dropped(_) => refused += 1,
                    }
                }
                Op::Learn(a, m) => {
                    c.learn(v4(a), [2, 0, 0, 0, 0, m], now, &mut |_, _| sent += 1);
                }
                Op::Tick(dt) => {
                    now += Millis::from(dt);
                    c.tick(now, &mut |_| {});
                }
                Op::Static(a) => c.set_static(v4(a), [2, 0, 0, 0, 1, a]),
            }
            check(&c);
            let k = c.counters();
            let waiting: u64 = c.entries.iter().map(|e| u64::from(e.q_len)).sum();
            prop_assert_eq!(
                refused,
                k.queue_full_drops
                    + k.cache_full_drops
                    + k.unresolved_full_drops
                    + k.rate_limited_drops
                    + k.parked_full_drops
            );
            if limited {
                let pinned_q = c.queued(v4(0));
                prop_assert!(c.parked() <= 3 + pinned_q);
                let pinned_incomplete = usize::from(c.get(v4(0)).is_some_and(|(_, s)| s == NeighState::Incomplete));
                prop_assert!(c.unresolved <= 2 + pinned_incomplete);
            }
            prop_assert_eq!(sent + waiting + refused + k.timed_out_drops, offered);
        }
    }
}

/// The gateway and `n` spoofed on-link sources of the flood.
fn spoofed(i: u32) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(Ipv4Addr::new(100, 64, 0, 0)) + i)
}

/// Issue 15: ICMP errors to thousands of spoofed on-link sources (each a
/// next hop never answering) while the gateway carries traffic: the
/// gateway stays resolved and every packet to it goes out, the parked
/// packets stay bounded, the flood's excess is counted.
#[test]
fn spoofed_neighbour_flood_keeps_the_gateway_and_bounds_parked_packets() {
    let gw = v4(1);
    let mut c: NeighCache<Ipv4Addr, Rc<()>> = worker_cache();
    let token = Rc::new(());
    assert!(matches!(
        c.resolve(gw, token.clone(), 0),
        Resolve::Queued { .. }
    ));
    assert_eq!(learn_all(&mut c, gw, M1, 1).len(), 1);
    let mut max_parked = 0;
    // 20 000 spoofed sources over 20 s, one new one every millisecond, a
    // gateway packet between each; the timers run every 100 ms.
    for t in 0..20_000u32 {
        let now = Millis::from(t) + 2;
        for _ in 0..4 {
            let _ = c.resolve(spoofed(t), token.clone(), now);
        }
        match c.resolve(gw, token.clone(), now) {
            Resolve::Ready(mac, _) => assert_eq!(mac, M1, "at {now} ms"),
            r => panic!("gateway not ready at {now} ms: {r:?}"),
        }
        if now % 100 == 0 {
            tick_all(&mut c, now);
        }
        max_parked = max_parked.max(Rc::strong_count(&token) - 1);
    }
    check(&c);
    assert_eq!(c.get(gw), Some((M1, NeighState::Reachable)));
    assert!(max_parked <= 512, "{max_parked} packets parked at once");
    let k = c.counters();
    assert_eq!(k.evicted, 0, "{k:?}");
    assert!(k.solicits <= 3 * 20 * 100 + 3, "{k:?}");
}

/// Issue 15 / RFC 826, RFC 4861 §7.2.5: an unsolicited ARP reply, NA or
/// gratuitous ARP claiming a resolved neighbour's address does not replace
/// its MAC (counted as a conflict); an answer to a solicitation (the entry
/// being probed) does.
#[test]
fn unsolicited_pair_does_not_replace_a_resolved_mac() {
    let mut c: NeighCache<Ipv4Addr, u8> = NeighCache::new(8, 2);
    assert!(matches!(c.resolve(v4(1), 1, 0), Resolve::Queued { .. }));
    assert_eq!(learn_all(&mut c, v4(1), M1, 1), vec![(M1, 1)]);
    // An attacker's announcement.
    assert!(learn_all(&mut c, v4(1), M2, 2).is_empty());
    assert_eq!(c.resolve(v4(1), 2, 3), Resolve::Ready(M1, 2));
    assert_eq!(c.get(v4(1)), Some((M1, NeighState::Reachable)));
    assert_eq!(c.counters().conflicts, 1);
    // The same MAC again is no conflict.
    learn_all(&mut c, v4(1), M1, 4);
    assert_eq!(c.counters().conflicts, 1);
    check(&c);
    // Once stale and probed, the answer brings the new MAC.
    let t = 4 + REACHABLE_MS;
    assert_eq!(c.resolve(v4(1), 3, t), Resolve::Ready(M1, 3));
    assert_eq!(tick_all(&mut c, t), vec![v4(1)]);
    learn_all(&mut c, v4(1), M2, t + 1);
    assert_eq!(c.get(v4(1)), Some((M2, NeighState::Reachable)));
    check(&c);
}

/// A cache as each worker builds it: the dataplane's sizes and limits, the
/// gateway pinned.
fn worker_cache<T>() -> NeighCache<Ipv4Addr, T> {
    let mut c = NeighCache::new(1024, 8).with_limits(NeighLimits::WORKER);
    c.pin(v4(1));
    c
}
