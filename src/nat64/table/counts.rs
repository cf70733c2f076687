//! A fixed-capacity counting map: how many live sessions share a key (a
//! subscriber; a BIB entry and remote address), so that a question about
//! all of them (how many sessions does this subscriber hold, does this
//! mapping have a session with that remote) is one hashed lookup instead
//! of a walk.
//!
//! Promises: [`CountMap::add`] and [`CountMap::sub`] keep one entry per
//! key with a positive count, and none for a key at zero; lookups, adds
//! and subs are O(1) expected (the crate's [`HashIndex`], with the
//! caller's keyed hash, so outsiders cannot choose colliding keys). All
//! memory is allocated in [`CountMap::new`]: `capacity` distinct keys,
//! which the tables size so that it is never exceeded (each key counts at
//! least one live session, and sessions are at most the session
//! capacity). An add beyond capacity is not counted (and caught by a
//! debug assertion).

#[cfg(test)]
mod tests;

use crate::index::HashIndex;

/// No free entry (the end of the free chain).
const NONE: u32 = u32::MAX;

/// One key of `N` words and its count (>= 1 while in use). A free entry
/// has count 0 and chains the next free one in `key[0]`.
#[derive(Debug, Clone, Copy)]
struct Counted<const N: usize> {
    key: [u32; N],
    count: u32,
}

/// Counts per key of `N` words (see the module docs).
#[derive(Debug, Clone)]
pub(super) struct CountMap<const N: usize> {
    index: HashIndex,
    entries: Box<[Counted<N>]>,
    /// The first free entry (`NONE`: none).
    free: u32,
    n_free: usize,
    /// Keys compared by [`CountMap::get`] so far (tests: proof that a
    /// lookup does not walk).
    #[cfg(test)]
    compared: std::cell::Cell<u64>,
}

impl<const N: usize> CountMap<N> {
    /// A map for at most `capacity` (< `u32::MAX`) distinct keys.
    pub(super) fn new(capacity: usize) -> CountMap<N> {
        let capacity = capacity.min(NONE as usize - 1);
        CountMap {
            index: HashIndex::new(capacity),
            entries: (0..capacity as u32)
                .map(|i| {
                    let mut key = [0; N];
                    key[0] = if i as usize + 1 < capacity {
                        i + 1
                    } else {
                        NONE
                    };
                    Counted { key, count: 0 }
                })
                .collect(),
            free: if capacity > 0 { 0 } else { NONE },
            n_free: capacity,
            #[cfg(test)]
            compared: std::cell::Cell::new(0),
        }
    }

    /// The entry of `key` (hashed: `h`).
    #[inline]
    fn find(&self, h: u64, key: [u32; N]) -> Option<u32> {
        self.index.find(h, |i| self.entries[i as usize].key == key)
    }

    /// The count of `key` (0 if absent).
    #[inline]
    pub(super) fn get(&self, h: u64, key: [u32; N]) -> u32 {
        self.index
            .find(h, |i| {
                #[cfg(test)]
                self.compared.set(self.compared.get() + 1);
                self.entries[i as usize].key == key
            })
            .map_or(0, |i| self.entries[i as usize].count)
    }

    /// One more for `key`.
    pub(super) fn add(&mut self, h: u64, key: [u32; N]) {
        if let Some(i) = self.find(h, key) {
            self.entries[i as usize].count += 1;
            return;
        }
        debug_assert_ne!(self.free, NONE, "count map over capacity");
        let Some(e) = self.entries.get_mut(self.free as usize) else {
            return;
        };
        let i = self.free;
        self.free = e.key[0];
        self.n_free -= 1;
        *e = Counted { key, count: 1 };
        self.index.insert(h, i);
    }

    /// One fewer for `key` (present); the entry goes at zero.
    pub(super) fn sub(&mut self, h: u64, key: [u32; N]) {
        let Some(i) = self.find(h, key) else {
            debug_assert!(false, "count map: sub of an absent key");
            return;
        };
        let e = &mut self.entries[i as usize];
        e.count -= 1;
        if e.count == 0 {
            e.key[0] = self.free;
            self.free = i;
            self.n_free += 1;
            self.index.remove(h, i);
        }
    }

    /// Distinct keys counted (test helper).
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.entries.len() - self.n_free
    }

    /// Bytes held.
    pub(super) fn bytes(&self) -> usize {
        self.index.bytes() + self.entries.len() * size_of::<Counted<N>>()
    }

    /// Keys compared by [`CountMap::get`] so far (test helper).
    #[cfg(test)]
    pub(super) fn compared(&self) -> u64 {
        self.compared.get()
    }

    /// Every counted key and its count (test helper).
    #[cfg(test)]
    pub(super) fn iter(&self) -> impl Iterator<Item = ([u32; N], u32)> + '_ {
        self.entries
            .iter()
            .filter(|e| e.count > 0)
            .map(|e| (e.key, e.count))
    }
}
