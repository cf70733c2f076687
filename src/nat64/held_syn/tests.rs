use super::*;

fn key(i: u32) -> HeldKey {
    HeldKey {
        t4: Ipv4Addr::new(192, 0, 2, (i % 16) as u8),
        t_port: 1024 + (i % 4096) as u16,
        y4: Ipv4Addr::from(u32::from(Ipv4Addr::new(203, 0, 113, 0)) + i / 7),
        y_port: 40_000 + (i % 7) as u16,
    }
}

/// Issue 15: the store holds its every slot and finds each key through the
/// hash index (no scan), also after churn: retransmissions are recognised,
/// removed keys are gone, freed slots are reused, a full store refuses.
#[test]
fn full_store_finds_every_key_after_churn() {
    let n = HELD_SYN_SLOTS;
    let mut h = HeldSyns::new(n);
    assert_eq!(h.find(&key(0)), None);
    for i in 0..n as u32 {
        assert!(h.hold(key(i), &i.to_be_bytes(), Millis::from(i)));
    }
    assert_eq!(h.len(), n);
    assert!(!h.hold(key(n as u32), &[], 0), "full");
    // Every key found, at the slot holding its bytes.
    for i in 0..n as u32 {
        let s = h.find(&key(i)).expect("held");
        assert_eq!(h.slots[s].bytes[..4], i.to_be_bytes());
        assert_eq!(h.slots[s].key, key(i));
    }
    // A key differing in any one field is not found.
    let k = key(3);
    for other in [
        HeldKey {
            t_port: k.t_port ^ 1,
            ..k
        },
        HeldKey {
            y_port: k.y_port ^ 1,
            ..k
        },
        HeldKey {
            t4: Ipv4Addr::new(198, 51, 100, 1),
            ..k
        },
        HeldKey {
            y4: Ipv4Addr::new(198, 51, 100, 1),
            ..k
        },
    ] {
        assert_eq!(h.find(&other), None);
    }
    // Remove every third; the rest still found, the removed gone.
    for i in (0..n as u32).step_by(3) {
        let s = h.find(&key(i)).unwrap();
        h.remove(s);
        h.remove(s); // twice is harmless
    }
    let removed = n.div_ceil(3);
    assert_eq!(h.len(), n - removed);
    assert_eq!(h.index.check(), n - removed);
    for i in 0..n as u32 {
        assert_eq!(h.find(&key(i)).is_some(), i % 3 != 0, "key {i}");
    }
    // The freed slots take new keys, then the store is full again.
    for i in 0..removed as u32 {
        assert!(h.hold(key(10_000 + i), &[], 0));
    }
    assert!(!h.hold(key(20_000), &[], 0));
    for i in 0..removed as u32 {
        assert!(h.find(&key(10_000 + i)).is_some());
    }
    assert_eq!(h.index.check(), n);
}
