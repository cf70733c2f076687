use super::*;

#[test]
fn subscriber_masks_to_prefix_len() {
    let a: Ipv6Addr = "2001:db8:1:2345:6789::10".parse().unwrap();
    assert_eq!(
        Subscriber::of(&a, 56).0,
        "2001:db8:1:2300::".parse::<Ipv6Addr>().unwrap()
    );
    assert_eq!(
        Subscriber::of(&a, 64).0,
        "2001:db8:1:2345::".parse::<Ipv6Addr>().unwrap()
    );
    assert_eq!(Subscriber::of(&a, 128).0, a);
    assert_eq!(Subscriber::of(&a, 0).0, Ipv6Addr::UNSPECIFIED);
}

#[test]
fn subscriber_worker_is_stable_in_range_and_spreads() {
    let mut counts = [0u32; 7];
    for i in 0..7000u32 {
        let a = Ipv6Addr::new(
            0x2001,
            0xdb8,
            (i >> 8) as u16,
            (i & 0xff) as u16 * 0x100,
            0,
            0,
            0,
            1,
        );
        let s = Subscriber::of(&a, 56);
        let w = subscriber_worker(&s, 7);
        assert_eq!(w, subscriber_worker(&s, 7));
        counts[usize::from(w)] += 1;
    }
    // Every worker gets a fair share (within 20 % of 1000).
    assert!(
        counts.iter().all(|&c| (800..1200).contains(&c)),
        "{counts:?}"
    );
    assert_eq!(subscriber_worker(&Subscriber(Ipv6Addr::LOCALHOST), 1), 0);
    assert_eq!(subscriber_worker(&Subscriber(Ipv6Addr::LOCALHOST), 0), 0);
}

#[test]
fn event_queue_is_bounded_and_counts_overflow() {
    let ev = BlockEvent {
        time: 1,
        kind: BlockEventKind::Allocated,
        subscriber: Subscriber(Ipv6Addr::UNSPECIFIED),
        prefix_len: 56,
        addr: Ipv4Addr::new(192, 0, 2, 1),
        first_port: 1024,
        last_port: 1535,
    };
    let mut q = EventQueue::new(2);
    assert!(q.push(ev));
    assert!(q.push(ev));
    assert!(!q.push(ev));
    assert_eq!(q.dropped(), 1);
    assert_eq!(q.drain().count(), 2);
    assert!(q.is_empty());
}

#[test]
fn timeouts_from_config_defaults() {
    let cfg: crate::config::Config = "".parse().unwrap();
    assert_eq!(Timeouts::from_config(&cfg.timeouts), Timeouts::default());
    assert_eq!(Timeouts::default().longest(), 7_440_000);
}
