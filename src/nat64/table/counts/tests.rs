//! Count map tests: agreement with a `HashMap` model under random adds
//! and subs, including colliding hashes.

use std::collections::HashMap;

use proptest::prelude::*;

use super::CountMap;

/// A poor hash on purpose (many keys share it), so probe runs and
/// backward shifts are exercised.
fn h(k: u32) -> u64 {
    u64::from(k % 5) << 40
}

proptest! {
    #[test]
    fn counts_agree_with_a_hashmap(ops in proptest::collection::vec((any::<bool>(), 0u32..12), 1..400)) {
        let cap = 12;
        let mut m: CountMap<1> = CountMap::new(cap);
        let mut model: HashMap<u32, u32> = HashMap::new();
        for (add, k) in ops {
            if add {
                m.add(h(k), [k]);
                *model.entry(k).or_insert(0) += 1;
            } else if model.contains_key(&k) {
                m.sub(h(k), [k]);
                let n = model.get_mut(&k).unwrap();
                *n -= 1;
                if *n == 0 {
                    model.remove(&k);
                }
            }
            for q in 0..12 {
                prop_assert_eq!(m.get(h(q), [q]), model.get(&q).copied().unwrap_or(0));
            }
            prop_assert_eq!(m.len(), model.len());
            let mut listed: Vec<(u32, u32)> = m.iter().map(|(k, n)| (k[0], n)).collect();
            listed.sort_unstable();
            let mut want: Vec<(u32, u32)> = model.iter().map(|(&k, &n)| (k, n)).collect();
            want.sort_unstable();
            prop_assert_eq!(listed, want);
        }
    }
}
