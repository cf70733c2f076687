use super::*;
use crate::config::Config;
use proptest::prelude::*;
use std::collections::{HashMap, HashSet};

const T0: Millis = 1_000_000;

/// A validated configuration from `[pool4]` keys plus extra sections.
fn config(pool4: &str, extra: &str) -> Config {
    let text = format!("[pool4]\n{pool4}\n{extra}");
    Config::from_str(&text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

/// One allocator over the whole pool (one worker).
fn single(pool4: &str, events: usize) -> (PoolLayout, PortAllocator, Config) {
    let c = config(pool4, "");
    let layout = PoolLayout::new(&c.pool4, &c.static_bib, 1);
    let a = PortAllocator::new(&layout, &c.pool4, 0, 1, events);
    (layout, a, c)
}

/// Subscriber `i` (a /56 under 2001:db8::/40).
fn sub(i: u32) -> Subscriber {
    let a = Ipv6Addr::new(
        0x2001,
        0xdb8,
        (i >> 8) as u16,
        (i as u16 & 0xff) << 8,
        0,
        0,
        0,
        1,
    );
    Subscriber::of(&a, 56)
}

fn ip(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

/// 4 addresses, 16 blocks of 64 per address, 4 blocks per subscriber.
const SMALL: &str = "addresses = [\"192.0.2.0/30\"]\nport_range = \"1024-2047\"\n\
                     block_size = 64\nmax_blocks_per_subscriber = 4\n";

#[test]
fn owner_arithmetic_without_division_is_exact() {
    let c = config(SMALL, "");
    // Every block size the configuration allows, every 16-bit offset.
    for bs in (1..=1u32 << 15).filter(|d| d.is_power_of_two() || d % 997 == 1 || *d < 70) {
        let l = PoolLayout {
            block_size: bs,
            block_magic: (1u64 << 32).div_ceil(u64::from(bs)),
            ..PoolLayout::new(&c.pool4, &[], 1)
        };
        for off in 0..=u32::from(u16::MAX) {
            assert_eq!(l.div_block(off), off / bs, "{off} / {bs}");
        }
    }
    // Block numbers split by every blocks-per-address count.
    for bpa in (1..=65_536u32).filter(|d| *d < 300 || d.is_power_of_two() || d % 991 == 7) {
        let l = PoolLayout {
            blocks_per_addr: bpa,
            bpa_magic: (u64::MAX / u64::from(bpa)).wrapping_add(1),
            ..PoolLayout::new(&c.pool4, &[], 1)
        };
        for b in [0, 1, bpa - 1, bpa, bpa + 1, 1 << 31, u32::MAX - 1, u32::MAX]
            .into_iter()
            .chain((0..16).map(|k| mix64(u64::from(bpa) * 16 + k) as u32))
        {
            assert_eq!(l.split_block(b), (b / bpa, b % bpa), "{b} / {bpa}");
        }
    }
    // Remainders by every worker count, over blocks spread on u32.
    for n in (1..=1024).chain([4099, 32_767, 32_768, 65_521, u16::MAX]) {
        let l = PoolLayout::new(&c.pool4, &[], n);
        for b in [
            0,
            1,
            2,
            63,
            64,
            65_535,
            65_536,
            1 << 31,
            u32::MAX - 1,
            u32::MAX,
        ]
        .into_iter()
        .chain((0..8).map(|k| mix64(u64::from(n) * 8 + k) as u32))
        {
            assert_eq!(u32::from(l.mod_workers(b)), b % u32::from(n), "{b} % {n}");
        }
    }
}

#[test]
fn layout_numbers_blocks_address_major_in_config_order() {
    let c = config(
        "addresses = [\"198.51.100.8/31\", \"192.0.2.5\"]\nport_range = \"1024-2047\"\n\
         block_size = 256\n",
        "",
    );
    let l = PoolLayout::new(&c.pool4, &[], 2);
    assert_eq!(l.address_count(), 3);
    assert_eq!(l.blocks_per_address(), 4);
    assert_eq!(l.total_blocks(), 12);
    assert_eq!(l.addr_index(ip("198.51.100.9")), Some(1));
    assert_eq!(l.addr_index(ip("192.0.2.5")), Some(2));
    assert_eq!(l.addr_index(ip("192.0.2.4")), None);
    assert!(!l.contains(ip("198.51.100.10")));
    assert_eq!(
        l.block_of(ip("192.0.2.5"), 1024 + 3 * 256),
        Some(BlockId(11))
    );
    assert_eq!(l.block_of(ip("198.51.100.8"), 1023), None);
    assert_eq!(l.block_of(ip("198.51.100.8"), 2048), None);
    assert_eq!(l.block_range(BlockId(5)), (ip("198.51.100.9"), 1280, 1535));
    assert_eq!(l.block_range(BlockId(11)), (ip("192.0.2.5"), 1792, 2047));
    // Dynamic owner: block % n_workers.
    assert_eq!(l.owner(ip("198.51.100.9"), 1300, L4::Udp), Some(1));
    assert_eq!(l.owner(ip("192.0.2.5"), 1100, L4::Udp), Some(0));
    assert_eq!(l.owner(ip("192.0.2.6"), 1100, L4::Udp), None);
    assert_eq!(l.owner(ip("192.0.2.5"), 80, L4::Tcp), None);
}

#[test]
fn rfc4787_req2_paired_pooling_all_blocks_on_one_address() {
    let (layout, mut a, _) = single(SMALL, 64);
    // Three subscribers fill all their blocks, interleaved.
    let mut addrs: HashMap<Subscriber, HashSet<Ipv4Addr>> = HashMap::new();
    let mut blocks: HashMap<Subscriber, HashSet<BlockId>> = HashMap::new();
    for i in 0..4 * 64 {
        for s in [sub(1), sub(2), sub(3)] {
            let (addr, port) = a.allocate(s, L4::Udp, 40000 + i as u16, T0).unwrap();
            addrs.entry(s).or_default().insert(addr);
            blocks
                .entry(s)
                .or_default()
                .insert(layout.block_of(addr, port).unwrap());
        }
    }
    for s in [sub(1), sub(2), sub(3)] {
        assert_eq!(addrs[&s].len(), 1, "{s:?} on {:?}", addrs[&s]);
        assert_eq!(blocks[&s].len(), 4);
    }
    // New subscribers go to the address with the most free blocks:
    // three addresses got one subscriber each, so all differ.
    let used: HashSet<Ipv4Addr> = addrs.values().flatten().copied().collect();
    assert_eq!(used.len(), 3);
    // The block events tell the same story.
    let evs: Vec<BlockEvent> = a.events().drain().collect();
    assert_eq!(evs.len(), 12);
    for e in &evs {
        assert_eq!(e.kind, BlockEventKind::Allocated);
        assert!(addrs[&e.subscriber].contains(&e.addr));
        assert_eq!(e.last_port - e.first_port, 63);
    }
    assert_eq!(a.subscribers(), 3);
    assert_eq!(a.blocks_in_use(), 12);
    assert_eq!(a.blocks_free(), 64 - 12);
}

#[test]
fn rfc6888_req4_subscriber_limit_leaves_others_unaffected() {
    let (_, mut a, _) = single(SMALL, 64);
    for i in 0..4 * 64 {
        a.allocate(sub(1), L4::Tcp, 1024 + i, T0).unwrap();
    }
    assert_eq!(
        a.allocate(sub(1), L4::Tcp, 5000, T0),
        Err(AllocError::SubscriberLimit)
    );
    // The subscriber's UDP ports are separate; another subscriber is fine.
    assert!(a.allocate(sub(1), L4::Udp, 5000, T0).is_ok());
    assert!(a.allocate(sub(2), L4::Tcp, 5000, T0).is_ok());
    assert_eq!(a.blocks_in_use(), 5);
    // One refusal event per subscriber and second, with its address.
    let addr = a.allocate(sub(1), L4::Udp, 5002, T0).unwrap().0;
    let refusals = |a: &mut PortAllocator| -> Vec<BlockEvent> {
        a.events()
            .drain()
            .filter(|e| e.kind == BlockEventKind::SubscriberLimit)
            .collect()
    };
    assert_eq!(
        refusals(&mut a),
        vec![BlockEvent {
            time: T0,
            kind: BlockEventKind::SubscriberLimit,
            subscriber: sub(1),
            prefix_len: 56,
            addr,
            first_port: 0,
            last_port: 0,
        }]
    );
    for t in [T0, T0 + 1, T0 + REFUSAL_EVENT_INTERVAL - 1] {
        assert_eq!(
            a.allocate(sub(1), L4::Tcp, 1, t),
            Err(AllocError::SubscriberLimit)
        );
    }
    assert!(refusals(&mut a).is_empty());
    let t = T0 + REFUSAL_EVENT_INTERVAL;
    assert_eq!(
        a.allocate(sub(1), L4::Tcp, 1, t),
        Err(AllocError::SubscriberLimit)
    );
    assert_eq!(
        refusals(&mut a).iter().map(|e| e.time).collect::<Vec<_>>(),
        vec![t]
    );
}

#[test]
fn rfc6888_pool_exhausted() {
    // One address, two blocks.
    let (_, mut a, _) = single(
        "addresses = [\"192.0.2.1\"]\nport_range = \"1024-1151\"\nblock_size = 64\n",
        8,
    );
    a.allocate(sub(1), L4::Udp, 1, T0).unwrap();
    a.allocate(sub(2), L4::Udp, 1, T0).unwrap();
    assert_eq!(
        a.allocate(sub(3), L4::Udp, 1, T0),
        Err(AllocError::PoolExhausted)
    );
    assert_eq!(a.blocks_free(), 0);
    // Not at its cap, but paired pooling has nothing on its address.
    for i in 0..63 {
        a.allocate(sub(1), L4::Udp, 1100 + i, T0).unwrap();
    }
    assert_eq!(
        a.allocate(sub(1), L4::Udp, 9, T0),
        Err(AllocError::PoolExhausted)
    );
    // One PoolExhausted event per worker and second: the new
    // subscriber's (no address yet) at T0, none for the second refusal.
    let ev: Vec<BlockEvent> = a
        .events()
        .drain()
        .filter(|e| e.kind == BlockEventKind::PoolExhausted)
        .collect();
    assert_eq!(ev.len(), 1);
    assert_eq!((ev[0].time, ev[0].subscriber), (T0, sub(3)));
    assert_eq!(ev[0].addr, Ipv4Addr::UNSPECIFIED);
    let t = T0 + REFUSAL_EVENT_INTERVAL;
    assert_eq!(
        a.allocate(sub(1), L4::Udp, 9, t),
        Err(AllocError::PoolExhausted)
    );
    let ev = a.events().pop().unwrap();
    assert_eq!(
        (ev.kind, ev.time, ev.subscriber, ev.addr),
        (BlockEventKind::PoolExhausted, t, sub(1), ip("192.0.2.1"))
    );
}

#[test]
fn rfc6146_3_5_1_1_want_port_kept_when_free_else_same_parity() {
    let (_, mut a, _) = single(SMALL, 8);
    let (addr, p0) = a.allocate(sub(1), L4::Udp, 40001, T0).unwrap();
    assert_eq!(p0 % 2, 1);
    // The block's first port is the lowest of the first block: 1024.
    assert_eq!(
        p0, 1025,
        "the first odd port at or after offset 40001 % 64 = 1"
    );
    // A port of the subscriber's block is kept as is.
    assert_eq!(a.allocate(sub(1), L4::Udp, 1050, T0), Ok((addr, 1050)));
    // Taken now: the next free one of the same parity.
    assert_eq!(a.allocate(sub(1), L4::Udp, 1050, T0), Ok((addr, 1052)));
    assert_eq!(a.allocate(sub(1), L4::Udp, 1051, T0), Ok((addr, 1051)));
    assert_eq!(a.allocate(sub(1), L4::Udp, 1051, T0), Ok((addr, 1053)));
    // The wrap-around: past the block's end, back at its start.
    assert_eq!(a.allocate(sub(1), L4::Tcp, 1086, T0), Ok((addr, 1086)));
    assert_eq!(a.allocate(sub(1), L4::Tcp, 1086, T0), Ok((addr, 1024)));
    // Every port allocated keeps the parity of the one asked for,
    // across a new block, while the subscriber may take blocks.
    for i in 0..200u16 {
        let want = 30000 + i;
        let (_, p) = a.allocate(sub(2), L4::Tcp, want, T0).unwrap();
        assert_eq!(p % 2, want % 2, "want {want} got {p}");
    }
}

#[test]
fn rfc4787_4_2_2_parity_given_up_only_at_the_limit() {
    // One block per subscriber: 32 even, 32 odd ports.
    let (_, mut a, _) = single(
        &SMALL.replace(
            "max_blocks_per_subscriber = 4",
            "max_blocks_per_subscriber = 1",
        ),
        8,
    );
    let mut odd = 0;
    for _ in 0..64 {
        let (_, p) = a.allocate(sub(1), L4::Udp, 2000, T0).unwrap();
        odd += p % 2;
    }
    // 32 evens first, then the odd ones rather than nothing.
    assert_eq!(odd, 32);
    assert_eq!(
        a.allocate(sub(1), L4::Udp, 2000, T0),
        Err(AllocError::SubscriberLimit)
    );
}

#[test]
fn rfc6146_3_5_1_1_well_known_ports_keep_their_class() {
    // Ports 512-2047: blocks 512-767 and 768-1023 hold well-known ports.
    let (_, mut a, _) = single(
        "addresses = [\"192.0.2.1\"]\nport_range = \"512-2047\"\nblock_size = 256\n",
        8,
    );
    // A non-well-known source never gets a well-known port, though the
    // lowest blocks are free.
    let (_, p) = a.allocate(sub(1), L4::Tcp, 40000, T0).unwrap();
    assert!(p >= 1024, "{p}");
    // ICMP identifiers spare the well-known blocks too.
    let (_, id) = a.allocate(sub(2), L4::Icmp, 7, T0).unwrap();
    assert!(id >= 1024, "{id}");
    // A well-known source gets a well-known port of the same parity
    // (from a well-known block).
    let (_, p) = a.allocate(sub(3), L4::Udp, 123, T0).unwrap();
    assert!(p < 1024 && p % 2 == 1, "{p}");
    let (_, p) = a.allocate(sub(3), L4::Udp, 700, T0).unwrap();
    assert_eq!(p, 700, "the subscriber's block holds 700: kept");
}

#[test]
fn rfc6146_3_5_3_icmp_identifiers_per_protocol() {
    let (_, mut a, _) = single(SMALL, 8);
    let (addr, id) = a.allocate(sub(1), L4::Icmp, 1030, T0).unwrap();
    assert_eq!(id, 1030);
    // Identifiers do not keep parity: the next free one, whatever it is.
    assert_eq!(a.allocate(sub(1), L4::Icmp, 1030, T0), Ok((addr, 1031)));
    // TCP and UDP port 1030 are separate from ICMP identifier 1030.
    assert_eq!(a.allocate(sub(1), L4::Tcp, 1030, T0), Ok((addr, 1030)));
    assert_eq!(a.allocate(sub(1), L4::Udp, 1030, T0), Ok((addr, 1030)));
    assert_eq!(a.blocks_in_use(), 1);
}

#[test]
fn rfc6888_req8_released_block_held_down_120_s() {
    // One address, two blocks.
    let (layout, mut a, c) = single(
        "addresses = [\"192.0.2.1\"]\nport_range = \"1024-1151\"\nblock_size = 64\n",
        8,
    );
    let (addr, p) = a.allocate(sub(1), L4::Tcp, 1030, T0).unwrap();
    let (q_addr, q) = a.allocate(sub(1), L4::Udp, 1031, T0).unwrap();
    assert_eq!(
        (addr, p, q_addr, q),
        (ip("192.0.2.1"), 1030, ip("192.0.2.1"), 1031)
    );
    a.events().drain().count();
    // Freeing the TCP port leaves the UDP one: no release.
    a.release(sub(1), L4::Tcp, addr, p, T0 + 500);
    assert_eq!(a.blocks_in_use(), 1);
    assert!(a.events().is_empty());
    // The last port: released, with its event.
    a.release(sub(1), L4::Udp, addr, q, T0 + 1000);
    assert_eq!(a.blocks_in_use(), 0);
    assert_eq!(a.subscribers(), 0);
    assert_eq!(a.blocks_held_down(), 1);
    assert_eq!(
        a.events().pop(),
        Some(BlockEvent {
            time: T0 + 1000,
            kind: BlockEventKind::Released,
            subscriber: sub(1),
            prefix_len: c.pool4.subscriber_prefix_len,
            addr,
            first_port: 1024,
            last_port: 1087,
        })
    );
    // Someone else gets the other block, then nothing is left.
    let (_, p2) = a.allocate(sub(2), L4::Tcp, 1030, T0 + 2000).unwrap();
    assert_eq!(layout.block_of(addr, p2), Some(BlockId(1)));
    assert_eq!(
        a.allocate(sub(3), L4::Tcp, 1030, T0 + 3000),
        Err(AllocError::PoolExhausted)
    );
    a.tick(T0 + 1000 + HOLD_DOWN - 1);
    assert_eq!(
        a.allocate(sub(3), L4::Tcp, 1030, T0 + 3000),
        Err(AllocError::PoolExhausted)
    );
    // 120 s after the release it is back.
    a.tick(T0 + 1000 + HOLD_DOWN);
    assert_eq!(a.blocks_held_down(), 0);
    assert_eq!(
        a.allocate(sub(3), L4::Tcp, 1030, T0 + 1000 + HOLD_DOWN),
        Ok((addr, 1030))
    );
}

#[test]
fn rfc6888_req12_events_carry_time_prefix_address_ports_and_overflow_counts() {
    let (_, mut a, _) = single(
        &SMALL.replace(
            "64\nmax_blocks_per_subscriber = 4",
            "64\nmax_blocks_per_subscriber = 4\nsubscriber_prefix_len = 48",
        ),
        2,
    );
    let s = Subscriber::of(&"2001:db8:7:1::5".parse().unwrap(), 48);
    for i in 0..3 * 64u64 {
        a.allocate(s, L4::Udp, 1024 + i as u16, T0 + i).unwrap();
    }
    // Three blocks allocated at T0, T0 + 64, T0 + 128; the queue holds 2.
    assert_eq!(a.events().dropped(), 1);
    let evs: Vec<BlockEvent> = a.events().drain().collect();
    assert_eq!(evs.len(), 2);
    let addr = evs[0].addr;
    assert_eq!(addr, evs[1].addr);
    assert!(layout_addr_ok(addr));
    for (e, t) in evs.iter().zip([T0, T0 + 64]) {
        assert_eq!(e.time, t);
        assert_eq!(e.kind, BlockEventKind::Allocated);
        assert_eq!(e.subscriber.0, "2001:db8:7::".parse::<Ipv6Addr>().unwrap());
        assert_eq!(e.prefix_len, 48);
        assert_eq!((e.first_port - 1024) % 64, 0);
        assert_eq!(e.last_port, e.first_port + 63);
    }
    assert_ne!(evs[0].first_port, evs[1].first_port);
}

fn layout_addr_ok(a: Ipv4Addr) -> bool {
    (u32::from(ip("192.0.2.0"))..=u32::from(ip("192.0.2.3"))).contains(&u32::from(a))
}

/// Every worker's allocator over one layout.
fn workers(c: &Config, n: u16) -> (PoolLayout, Vec<PortAllocator>) {
    let layout = PoolLayout::new(&c.pool4, &c.static_bib, n);
    let all = (0..n)
        .map(|w| PortAllocator::new(&layout, &c.pool4, w, n, 1024))
        .collect();
    (layout, all)
}

#[test]
fn owner_is_the_worker_that_allocated_for_1_3_7_workers() {
    let c = config(SMALL, "");
    for n in [1u16, 3, 7] {
        let (layout, mut all) = workers(&c, n);
        let mut seen: HashMap<BlockId, usize> = HashMap::new();
        for (w, a) in all.iter_mut().enumerate() {
            // Subscribers allocate until this worker's share is gone.
            'fill: for i in 0.. {
                for j in 0..64u16 {
                    match a.allocate(sub(i), L4::Tcp, 1024 + j, T0) {
                        Ok((addr, port)) => {
                            assert_eq!(layout.owner(addr, port, L4::Tcp), Some(w as u16));
                            assert_eq!(layout.owner(addr, port, L4::Icmp), Some(w as u16));
                            let b = layout.block_of(addr, port).unwrap();
                            assert_eq!(*seen.entry(b).or_insert(w), w, "{b:?} on two workers");
                        }
                        Err(AllocError::PoolExhausted) => break 'fill,
                        Err(e) => panic!("{e:?}"),
                    }
                }
            }
        }
        // Together the workers handed out every block, each from one worker.
        assert_eq!(seen.len(), 64, "n_workers {n}");
        let shares: usize = all.iter().map(|a| a.blocks_total()).sum();
        assert_eq!(shares, 64);
    }
}

/// Two static entries: one inside the dynamic range, one below it.
const STATICS: &str = "[[static_bib]]\nprotocol = \"tcp\"\nipv6 = \"[2001:db8:1::10]:443\"\n\
                       ipv4 = \"192.0.2.1:1100\"\n\
                       [[static_bib]]\nprotocol = \"udp\"\nipv6 = \"[2001:db8:2::20]:53\"\n\
                       ipv4 = \"192.0.2.2:53\"\n";

#[test]
fn static_bib_blocks_reserved_and_owned_by_the_subscribers_worker() {
    let c = config(SMALL, STATICS);
    for n in [1u16, 3, 7] {
        let (layout, mut all) = workers(&c, n);
        let w1 = subscriber_worker(&Subscriber::of(&"2001:db8:1::".parse().unwrap(), 56), n);
        let w2 = subscriber_worker(&Subscriber::of(&"2001:db8:2::".parse().unwrap(), 56), n);
        assert_eq!(layout.owner(ip("192.0.2.1"), 1100, L4::Tcp), Some(w1));
        assert_eq!(layout.owner(ip("192.0.2.2"), 53, L4::Udp), Some(w2));
        // The rest of the static entry's block (1088-1151) is nobody's.
        assert_eq!(layout.owner(ip("192.0.2.1"), 1100, L4::Udp), None);
        assert_eq!(layout.owner(ip("192.0.2.1"), 1101, L4::Tcp), None);
        assert_eq!(layout.owner(ip("192.0.2.2"), 54, L4::Udp), None);
        let free: usize = all.iter().map(|a| a.blocks_free()).sum();
        assert_eq!(free, 63, "the static block is out of circulation");
        for a in all.iter_mut() {
            'fill: for i in 0.. {
                for j in 0..64u16 {
                    match a.allocate(sub(i), L4::Tcp, 1100 + j, T0) {
                        Ok((addr, port)) => assert!(
                            addr != ip("192.0.2.1") || !(1088..=1151).contains(&port),
                            "{addr}:{port}"
                        ),
                        Err(_) => break 'fill,
                    }
                }
            }
        }
    }
}

#[test]
fn static_bib_added_on_reload_drains_its_block_and_removed_keeps_routing() {
    let before = config(SMALL, "");
    let after = config(SMALL, STATICS);
    for n in [1u16, 3, 7] {
        let (layout, mut all) = workers(&before, n);
        let w1 = subscriber_worker(&Subscriber::of(&"2001:db8:1::".parse().unwrap(), 56), n);
        let w2 = subscriber_worker(&Subscriber::of(&"2001:db8:2::".parse().unwrap(), 56), n);
        let block_owner = layout.owner(ip("192.0.2.1"), 1101, L4::Tcp);
        assert!(block_owner.is_some());
        let reloaded = layout.with_static_bib(&after.static_bib);
        assert_eq!(reloaded.owner(ip("192.0.2.1"), 1100, L4::Tcp), Some(w1));
        assert_eq!(reloaded.owner(ip("192.0.2.2"), 53, L4::Udp), Some(w2));
        // The rest of the block may still be a subscriber's: its owner.
        assert_eq!(reloaded.owner(ip("192.0.2.1"), 1101, L4::Tcp), block_owner);
        assert_eq!(reloaded.owner(ip("192.0.2.2"), 54, L4::Udp), None);
        // The block's owner takes it out of circulation.
        for a in all.iter_mut() {
            a.set_layout(&reloaded);
            for e in &after.static_bib {
                a.reserve_static(*e.ipv4.ip(), e.ipv4.port(), e.protocol);
            }
        }
        let free: usize = all.iter().map(|a| a.blocks_free()).sum();
        assert_eq!(free, 63, "n_workers {n}");
        // Removed: still routed to the subscriber's worker, where its
        // sessions expire; the block stays out of circulation.
        let removed = reloaded.with_static_bib(&[]);
        assert_eq!(removed.owner(ip("192.0.2.1"), 1100, L4::Tcp), Some(w1));
        assert_eq!(removed.owner(ip("192.0.2.2"), 53, L4::Udp), Some(w2));
        assert!(removed.is_static_block(reloaded.block_of(ip("192.0.2.1"), 1100).unwrap()));
    }
}

/// 5 addresses, 126 blocks of 512 each, 8 per subscriber: 15 slots of
/// 4096 ports per address; 64 subscribers (/64 under a /58).
const DET: &str =
    "addresses = [\"192.0.2.0/30\", \"198.51.100.7\"]\nallocation = \"deterministic\"\n\
                   subscriber_prefix_len = 64\ndeterministic_inside = \"2001:db8:100::/58\"\n";

/// Subscriber `k` of `DET`.
fn det_sub(k: u16) -> Subscriber {
    Subscriber(Ipv6Addr::new(0x2001, 0xdb8, 0x100, k, 0, 0, 0, 0))
}

#[test]
fn rfc7422_formula_first_last_and_between() {
    let c = config(DET, "");
    let layout = PoolLayout::new(&c.pool4, &[], 1);
    let addrs = [
        "192.0.2.0",
        "192.0.2.1",
        "192.0.2.2",
        "192.0.2.3",
        "198.51.100.7",
    ];
    for k in [0u16, 1, 14, 15, 29, 30, 44, 59, 62, 63] {
        // address = floor(k / 15); first = 1024 + (k mod 15) * 4096.
        let first = 1024 + u32::from(k % 15) * 4096;
        let want = (
            ip(addrs[usize::from(k / 15)]),
            first as u16,
            (first + 4095) as u16,
        );
        assert_eq!(
            deterministic_range(&layout, &c.pool4, det_sub(k)),
            Some(want),
            "k {k}"
        );
        assert_eq!(layout.deterministic_range(det_sub(k)), Some(want), "k {k}");
        assert_eq!(
            layout.deterministic_subscriber(want.0, want.2),
            Some(det_sub(k))
        );
    }
    assert_eq!(
        deterministic_range(&layout, &c.pool4, det_sub(63)),
        Some((ip("198.51.100.7"), 13312, 17407))
    );
    // Host bits below the subscriber prefix do not matter.
    let host = Subscriber("2001:db8:100:5:1234::1".parse().unwrap());
    assert_eq!(
        layout.deterministic_range(host),
        layout.deterministic_range(det_sub(5))
    );
    // Outside the inside prefix, or in an unmapped slot: nothing.
    let outside = Subscriber("2001:db8:101::".parse().unwrap());
    assert_eq!(deterministic_range(&layout, &c.pool4, outside), None);
    assert_eq!(
        layout.deterministic_subscriber(ip("198.51.100.7"), 17408),
        None
    );
    // Dynamic allocation has no deterministic ranges.
    let d = config(SMALL, "");
    let dl = PoolLayout::new(&d.pool4, &[], 1);
    assert_eq!(deterministic_range(&dl, &d.pool4, det_sub(0)), None);
}

#[test]
fn rfc7422_allocator_stays_in_range_logs_nothing_owner_is_subscribers_worker() {
    let c = config(DET, "");
    let n = 3;
    let (layout, mut all) = workers(&c, n);
    for k in 0..64u16 {
        let s = det_sub(k);
        let w = subscriber_worker(&s, n);
        let (addr, first, last) = layout.deterministic_range(s).unwrap();
        for proto in [L4::Tcp, L4::Udp, L4::Icmp] {
            let (a, p) = all[usize::from(w)].allocate(s, proto, 50000, T0).unwrap();
            assert_eq!(a, addr);
            assert!(
                (first..=last).contains(&p),
                "k {k}: {p} not in {first}-{last}"
            );
            assert_eq!(layout.owner(a, p, proto), Some(w));
        }
        // Another worker has no range for it.
        let other = usize::from((w + 1) % n);
        assert_eq!(
            all[other].allocate(s, L4::Udp, 1, T0),
            Err(AllocError::PoolExhausted)
        );
    }
    for a in all.iter_mut() {
        assert!(a.events().is_empty());
        assert_eq!(a.events().dropped(), 0);
        assert_eq!(a.subscribers(), 0);
    }
}

#[test]
fn rfc7422_range_exhaustion_and_static_port_inside_a_range() {
    // Two subscribers of one 64-port block each on one address.
    let c = config(
        "addresses = [\"192.0.2.1\"]\nport_range = \"1024-1151\"\nblock_size = 64\n\
         max_blocks_per_subscriber = 1\nallocation = \"deterministic\"\n\
         subscriber_prefix_len = 64\ndeterministic_inside = \"2001:db8:100::/63\"\n",
        "[[static_bib]]\nprotocol = \"udp\"\nipv6 = \"[2001:db8:9::1]:53\"\nipv4 = \"192.0.2.1:1030\"\n",
    );
    let layout = PoolLayout::new(&c.pool4, &c.static_bib, 1);
    let mut al = PortAllocator::new(&layout, &c.pool4, 0, 1, 4);
    let s0 = det_sub(0);
    let mut got = HashSet::new();
    for i in 0..63 {
        let (addr, p) = al.allocate(s0, L4::Udp, 1024 + i, T0).unwrap();
        assert_eq!(addr, ip("192.0.2.1"));
        assert!((1024..=1087).contains(&p) && p != 1030, "{p}");
        assert!(got.insert(p));
    }
    assert_eq!(
        al.allocate(s0, L4::Udp, 1024, T0),
        Err(AllocError::SubscriberLimit)
    );
    // TCP 1030 is the subscriber's; the other subscriber is unaffected.
    assert_eq!(
        al.allocate(s0, L4::Tcp, 1030, T0),
        Ok((ip("192.0.2.1"), 1030))
    );
    let (_, p) = al.allocate(det_sub(1), L4::Udp, 1030, T0).unwrap();
    assert!((1088..=1151).contains(&p));
    // Freed ports come back at once: no hold-down inside one's own range.
    al.release(s0, L4::Udp, ip("192.0.2.1"), 1040, T0);
    assert_eq!(
        al.allocate(s0, L4::Udp, 1041, T0),
        Ok((ip("192.0.2.1"), 1040))
    );
    // The static port is not the subscriber's to free, nor is its
    // port another subscriber's.
    al.release(s0, L4::Udp, ip("192.0.2.1"), 1030, T0);
    al.release(det_sub(1), L4::Udp, ip("192.0.2.1"), 1041, T0);
    assert_eq!(
        al.allocate(s0, L4::Udp, 1030, T0),
        Err(AllocError::SubscriberLimit)
    );
    let ws = subscriber_worker(&Subscriber::of(&"2001:db8:9::".parse().unwrap(), 64), 1);
    assert_eq!(layout.owner(ip("192.0.2.1"), 1030, L4::Udp), Some(ws));
}

#[test]
fn release_everything_then_120_s_every_block_is_free_again() {
    let (_, mut a, _) = single(SMALL, 1024);
    let total = a.blocks_free();
    assert_eq!(total, 64);
    let mut held = Vec::new();
    for i in 0..16 {
        for j in 0..4 * 64u16 {
            let (addr, p) = a.allocate(sub(i), L4::Udp, 1024 + j, T0).unwrap();
            held.push((sub(i), addr, p));
        }
    }
    assert_eq!(a.blocks_free(), 0);
    assert_eq!(
        a.allocate(sub(99), L4::Udp, 1, T0),
        Err(AllocError::PoolExhausted)
    );
    for (k, (s, addr, p)) in held.iter().enumerate() {
        a.release(*s, L4::Udp, *addr, *p, T0 + k as Millis);
    }
    let last = T0 + held.len() as Millis - 1;
    assert_eq!(a.subscribers(), 0);
    assert_eq!(a.blocks_in_use(), 0);
    assert_eq!(a.blocks_held_down(), 64);
    a.tick(last + HOLD_DOWN - 1);
    assert!(a.blocks_free() < 64);
    a.tick(last + HOLD_DOWN);
    assert_eq!(a.blocks_free(), 64);
    assert_eq!(a.blocks_held_down(), 0);
    let evs: Vec<BlockEvent> = a.events().drain().collect();
    assert_eq!(
        evs.iter()
            .filter(|e| e.kind == BlockEventKind::Released)
            .count(),
        64
    );
    // And the whole pool can be handed out again.
    for i in 0..16 {
        for j in 0..4 * 64u16 {
            a.allocate(sub(100 + i), L4::Udp, 1024 + j, last + HOLD_DOWN)
                .unwrap();
        }
    }
    assert_eq!(a.blocks_in_use(), 64);
}

proptest! {
    #[test]
    fn rfc7422_mappings_never_overlap(
        n_addrs in 1u32..4,
        bs_log in 4u32..11,
        max_blocks in 1u32..9,
        bits_frac in 0.0f64..=1.0,
        n_workers in 1u16..5,
    ) {
        let bs = 1u32 << bs_log;
        let bpa = 64512 / bs;
        prop_assume!(max_blocks <= bpa);
        let slots = u64::from(n_addrs) * u64::from(bpa / max_blocks);
        let max_bits = 63 - slots.leading_zeros(); // 2^max_bits <= slots
        let bits = (f64::from(max_bits) * bits_frac) as u32;
        let c = config(&format!(
            "addresses = [\"192.0.2.1-192.0.2.{n_addrs}\"]\nblock_size = {bs}\n\
             max_blocks_per_subscriber = {max_blocks}\nallocation = \"deterministic\"\n\
             subscriber_prefix_len = 64\ndeterministic_inside = \"2001:db8:100::/{}\"\n",
            64 - bits
        ), "");
        let layout = PoolLayout::new(&c.pool4, &[], n_workers);
        let size = max_blocks * bs;
        let mut ranges = Vec::new();
        for k in 0..(1u64 << bits) {
            let s = Subscriber(Ipv6Addr::from(
                u128::from("2001:db8:100::".parse::<Ipv6Addr>().unwrap()) | (u128::from(k) << 64),
            ));
            let (a, f, l) = deterministic_range(&layout, &c.pool4, s).unwrap();
            prop_assert_eq!(u32::from(l) - u32::from(f) + 1, size);
            prop_assert!(f >= 1024);
            prop_assert!(c.pool4.contains(a));
            prop_assert_eq!(layout.deterministic_subscriber(a, l), Some(s));
            prop_assert_eq!(layout.owner(a, f, L4::Udp), Some(subscriber_worker(&s, n_workers)));
            ranges.push((a, f, l));
        }
        ranges.sort();
        for w in ranges.windows(2) {
            prop_assert!(w[0].0 != w[1].0 || w[0].2 < w[1].1, "{:?} overlaps {:?}", w[0], w[1]);
        }
    }

    #[test]
    fn subscriber_map_matches_a_model(ops in proptest::collection::vec((any::<bool>(), 0u128..24), 1..300)) {
        let mut m = SubMap::new(8);
        let mut model: HashSet<u128> = HashSet::new();
        for (insert, key) in ops {
            // Keys spread over both halves, as prefixes do.
            let key = key << 72 | key;
            match (insert, m.find(key)) {
                (true, None) if model.len() < 8 => {
                    prop_assert!(m.insert(key, 7, 0, 0).is_some());
                    model.insert(key);
                }
                (false, Some(i)) => {
                    m.remove(i);
                    model.remove(&key);
                }
                _ => {}
            }
            prop_assert_eq!(m.len, model.len());
            for k in &model {
                prop_assert!(m.find(*k).is_some_and(|i| m.keys[i] == *k));
            }
            for k in 0..24u128 {
                let k = k << 72 | k;
                prop_assert_eq!(m.find(k).is_some(), model.contains(&k));
            }
        }
    }

    #[test]
    fn no_port_handed_out_twice(
        ops in proptest::collection::vec((0u8..3, 0u32..6, 0u8..3, any::<u16>(), any::<u16>()), 1..400),
    ) {
        // 2 addresses, 8 blocks of 32 each, 2 blocks per subscriber.
        let (layout, mut a, _) = single(
            "addresses = [\"192.0.2.1\", \"198.51.100.1\"]\nport_range = \"1024-1279\"\n\
             block_size = 32\nmax_blocks_per_subscriber = 2\n",
            64,
        );
        let protos = [L4::Tcp, L4::Udp, L4::Icmp];
        let mut released_at: HashMap<(Ipv4Addr, u16), Millis> = HashMap::new();
        let mut held: HashMap<(Ipv4Addr, u8, u16), Subscriber> = HashMap::new();
        let mut order: Vec<(Ipv4Addr, u8, u16)> = Vec::new();
        let mut now = T0;
        for (kind, si, pi, want, pick) in ops {
            match kind {
                0 | 1 => {
                    let s = sub(si);
                    // Half the wanted ports inside the pool range, so kept ones occur.
                    let want = if pick % 2 == 0 { 1024 + want % 256 } else { want };
                    match a.allocate(s, protos[usize::from(pi)], want, now) {
                        Ok((addr, port)) => {
                            prop_assert!(layout.block_of(addr, port).is_some());
                            prop_assert!(held.insert((addr, pi, port), s).is_none(),
                                "{addr}:{port} proto {pi} handed out twice");
                            // Paired: all of the subscriber's ports on one address.
                            prop_assert!(held.iter().all(|(k, v)| *v != s || k.0 == addr));
                            order.push((addr, pi, port));
                        }
                        Err(AllocError::SubscriberLimit) => {
                            let blocks: HashSet<BlockId> = held.iter()
                                .filter(|(_, v)| **v == s)
                                .map(|(k, _)| layout.block_of(k.0, k.2).unwrap())
                                .collect();
                            prop_assert_eq!(blocks.len(), 2);
                        }
                        Err(AllocError::PoolExhausted) | Err(AllocError::RateLimited) => {}
                        Err(AllocError::AggregateLimit) => {
                            prop_assert!(false, "no aggregate cap configured");
                        }
                    }
                }
                _ => {
                    if !order.is_empty() {
                        let k = order.swap_remove(usize::from(pick) % order.len());
                        let s = held.remove(&k).unwrap();
                        a.release(s, protos[usize::from(k.1)], k.0, k.2, now);
                    }
                    now += Millis::from(want % 4096) * 50;
                    a.tick(now);
                }
            }
            prop_assert_eq!(a.blocks_in_use() + a.blocks_free() + a.blocks_held_down(), 16);
            // RFC 6888 REQ-8: no block comes back within 120 s.
            prop_assert_eq!(a.events().dropped(), 0);
            for e in a.events().drain() {
                let key = (e.addr, e.first_port);
                match e.kind {
                    BlockEventKind::Released => {
                        released_at.insert(key, e.time);
                    }
                    BlockEventKind::Allocated => {
                        if let Some(t) = released_at.get(&key) {
                            prop_assert!(e.time >= t + HOLD_DOWN, "{key:?} back after {} ms", e.time - t);
                        }
                    }
                    _ => {}
                }
            }
        }
    }
}

/// Blocks in use per address, counted from what `allocate` handed out.
fn in_use_per_address(
    layout: &PoolLayout,
    got: &HashMap<Subscriber, HashSet<(Ipv4Addr, u32)>>,
) -> Vec<u32> {
    let mut n = vec![0; layout.address_count() as usize];
    for blocks in got.values() {
        for (addr, _) in blocks {
            n[layout.addr_index(*addr).unwrap() as usize] += 1;
        }
    }
    n
}

#[test]
fn blocks_in_use_per_address_follow_allocation_and_release() {
    for (pool4, subs) in [(SMALL, 6u16), (DET, 5)] {
        let c = config(pool4, "");
        let layout = PoolLayout::new(&c.pool4, &[], 1);
        let mut a = PortAllocator::new(&layout, &c.pool4, 0, 1, 4096);
        let det = layout.is_deterministic();
        let s = |k: u16| if det { det_sub(k) } else { sub(u32::from(k)) };
        // Per subscriber: the (address, block) pairs and the ports it holds.
        let mut blocks: HashMap<Subscriber, HashSet<(Ipv4Addr, u32)>> = HashMap::new();
        let mut ports = Vec::new();
        for k in 0..subs {
            for i in 0..3 {
                let (addr, port) = a.allocate(s(k), L4::Udp, 1024 + 600 * i, T0).unwrap();
                let block = layout.block_of(addr, port).unwrap().0;
                blocks.entry(s(k)).or_default().insert((addr, block));
                ports.push((s(k), addr, port));
            }
        }
        let by_addr = a.blocks_in_use_by_address().to_vec();
        assert_eq!(by_addr, in_use_per_address(&layout, &blocks), "{pool4}");
        let total: u32 = by_addr.iter().sum();
        assert_eq!(total as usize, a.blocks_in_use());
        for (sub, addr, port) in ports {
            a.release(sub, L4::Udp, addr, port, T0 + 1);
        }
        assert!(a.blocks_in_use_by_address().iter().all(|&n| n == 0));
        assert_eq!(a.blocks_in_use(), 0);
    }
}

/// Issue 15: one delegated /48 (256 subscribers of a /56) cannot take
/// more than `max_blocks_per_aggregate` blocks, on all workers together;
/// another /48 is not affected, and a released block's share comes back.
#[test]
fn aggregate_share_caps_a_delegated_48_across_workers() {
    let c = config(SMALL, "");
    let capped = config(&format!("{SMALL}max_blocks_per_aggregate = 5\n"), "");
    for (cfg, cap) in [(&c, None), (&capped, Some(5))] {
        let (layout, mut all) = workers(cfg, 3);
        let mut got = Vec::new();
        let mut refused = 0;
        // Ten subscribers of 2001:db8::/48, each on its own worker, one
        // mapping (one new block) each.
        for i in 0..10 {
            let s = sub(i);
            let w = usize::from(subscriber_worker(&s, 3));
            match all[w].allocate(s, L4::Udp, 40000, T0) {
                Ok((addr, port)) => {
                    assert_eq!(layout.owner(addr, port, L4::Udp), Some(w as u16));
                    got.push((i, w, addr, port));
                }
                Err(AllocError::AggregateLimit) => refused += 1,
                Err(e) => panic!("{e:?}"),
            }
        }
        let in_use: usize = all.iter().map(|a| a.blocks_in_use()).sum();
        match cap {
            None => assert_eq!((in_use, refused), (10, 0)),
            Some(cap) => {
                assert_eq!((in_use, refused), (cap, 10 - cap));
                assert!(all.iter().filter(|a| a.blocks_in_use() > 0).count() > 1);
                // Another /48 gets its block.
                let other = sub(256);
                let w = usize::from(subscriber_worker(&other, 3));
                assert!(all[w].allocate(other, L4::Udp, 40000, T0).is_ok());
                // A released block gives its share back: a refused
                // subscriber of the /48 gets one now.
                let (i, w, addr, port) = got[0];
                all[w].release(sub(i), L4::Udp, addr, port, T0 + 1);
                let late = sub(9);
                let lw = usize::from(subscriber_worker(&late, 3));
                assert!(all[lw].allocate(late, L4::Udp, 40000, T0 + 2).is_ok());
                assert_eq!(
                    all[lw].allocate(sub(8), L4::Udp, 40000, T0 + 2),
                    Err(AllocError::AggregateLimit)
                );
            }
        }
    }
}
