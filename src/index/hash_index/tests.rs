use super::*;
use proptest::prelude::*;
use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};

fn h(x: u64) -> u64 {
    crate::index::mix64(x)
}

#[test]
fn index_insert_find_remove_with_collisions() {
    let mut ix = HashIndex::new(100);
    assert!(ix.slots() >= 134 && ix.slots().is_multiple_of(8));
    // Force collisions: many keys share a tag neighbourhood.
    let keys: Vec<u64> = (0..100).map(|i| h(i) & 0xff00_0000_ffff_ffff).collect();
    for (i, &k) in keys.iter().enumerate() {
        ix.insert(k, i as u32);
    }
    assert_eq!(ix.check(), 100);
    for (i, &k) in keys.iter().enumerate() {
        assert_eq!(ix.find(k, |e| e == i as u32), Some(i as u32));
    }
    let mut gone = HashSet::new();
    for i in (0..100).step_by(3) {
        assert!(ix.remove(keys[i], i as u32));
        assert!(!ix.remove(keys[i], i as u32));
        gone.insert(i);
        ix.check();
    }
    for (i, &k) in keys.iter().enumerate() {
        let found = ix.find(k, |e| e == i as u32);
        assert_eq!(found.is_none(), gone.contains(&i), "{i}");
    }
    assert_eq!(ix.check(), 100 - gone.len());
}

#[derive(Clone, Debug)]
enum Op {
    Insert(u64),
    Remove(u64),
    Find(u64),
}

fn op() -> impl Strategy<Value = Op> {
    // Few keys, so inserts meet present keys and removes absent ones.
    prop_oneof![
        3 => (0u64..48).prop_map(Op::Insert),
        2 => (0u64..48).prop_map(Op::Remove),
        2 => (0u64..48).prop_map(Op::Find),
    ]
}

proptest! {
    /// Random inserts, removes and lookups give the answers of a
    /// `HashMap` from key to entry index, with entries kept in the
    /// caller's array as the tables keep them. Half the runs squeeze
    /// the hashes into few tags and homes, so runs collide, wrap
    /// around the end and shift back on removal.
    #[test]
    fn matches_a_hashmap_model(
        ops in proptest::collection::vec(op(), 1..400),
        capacity in 1usize..40,
        squeeze in any::<bool>(),
    ) {
        let hash = |k: u64| {
            let x = h(k);
            if squeeze { x & 0xe000_0000_0000_0000 } else { x }
        };
        let mut ix = HashIndex::new(capacity);
        let mut keys: Vec<Option<u64>> = vec![None; capacity];
        let mut free: Vec<u32> = (0..capacity as u32).rev().collect();
        let mut model: HashMap<u64, u32> = HashMap::new();
        for op in ops {
            match op {
                Op::Insert(k) => {
                    if let Entry::Vacant(v) = model.entry(k) {
                        if let Some(i) = free.pop() {
                            ix.insert(hash(k), i);
                            keys[i as usize] = Some(k);
                            v.insert(i);
                        }
                    }
                }
                Op::Remove(k) => {
                    let found = ix.find(hash(k), |i| keys[i as usize] == Some(k));
                    prop_assert_eq!(found, model.get(&k).copied());
                    if let Some(i) = model.remove(&k) {
                        prop_assert!(ix.remove(hash(k), i));
                        prop_assert!(!ix.remove(hash(k), i));
                        keys[i as usize] = None;
                        free.push(i);
                    }
                }
                Op::Find(k) => {
                    let found = ix.find(hash(k), |i| keys[i as usize] == Some(k));
                    prop_assert_eq!(found, model.get(&k).copied());
                    let c = ix.candidate(hash(k));
                    match found {
                        // The first tag match may be a colliding key.
                        Some(_) => prop_assert!(c != u32::MAX),
                        None => prop_assert!(
                            c == u32::MAX || keys[c as usize] != Some(k)
                        ),
                    }
                }
            }
            prop_assert_eq!(ix.check(), model.len());
            for (&k, &i) in &model {
                prop_assert_eq!(ix.find(hash(k), |e| keys[e as usize] == Some(k)), Some(i));
            }
        }
    }
}

#[test]
fn index_wraps_around_the_end() {
    let mut ix = HashIndex::new(6);
    let n = ix.slots();
    // Tags homing on the last slot.
    let last = ((u64::from(u32::MAX)) << 32) | 7;
    for i in 0..5 {
        ix.insert(last, i);
    }
    assert_eq!(ix.check(), 5);
    assert!(ix.remove(last, 0));
    assert_eq!(ix.check(), 4);
    for i in 1..5 {
        assert_eq!(ix.find(last, |e| e == i), Some(i));
    }
    // An all-ones tag never matches an empty slot.
    let empty = HashIndex::new(6);
    assert_eq!(empty.find(last, |e| panic!("empty slot {e} matched")), None);
    assert_eq!(empty.candidate(last), u32::MAX);
    assert_eq!(ix.find(last, |e| e == 99), None);
    assert!(n >= 9);
}
