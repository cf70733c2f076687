//! An open-addressing hash index from a 64-bit hash to an entry index,
//! for tables of up to millions of entries (the session and BIB indexes).
//!
//! Promises: the entries live elsewhere (in the caller's arrays) and the
//! index holds their `u32` indexes; [`HashIndex::find`] returns an entry
//! only when the caller's key check accepts it, so hash collisions cost
//! probes, never wrong answers. Capacity is fixed by [`HashIndex::new`]
//! and nothing is allocated afterwards; the caller keeps the number of
//! entries within it.
//!
//! Design (linear probing with backward-shift deletion, Knuth, TAOCP
//! vol. 3, 6.4, Algorithm R): each slot is one `u64`, the hash's upper 32
//! bits (the tag) and the entry's `u32` index, so eight slots share a
//! cache line (lines are 64-byte aligned). The home slot is the tag scaled
//! onto the table (`tag * n >> 32`), which lets the table have any size (the load factor stays at most 3/4 for the capacity it was
//! built for, without rounding up to a power of two) and lets deletion find
//! every entry's home again from the slot alone. Collisions probe linearly;
//! deletion shifts the following run back (no tombstones), so a table that
//! churns for days probes as little as a fresh one. A tag match is only a
//! hint: the caller verifies the full key against the entry.

/// An empty slot (no entry can have index `u32::MAX`).
const EMPTY: u64 = u64::MAX;

/// Eight slots: one cache line.
#[derive(Debug, Clone, Copy)]
#[repr(align(64))]
struct Line([u64; 8]);

/// Hash index over entries `0..capacity` (see the module docs).
#[derive(Debug, Clone)]
pub struct HashIndex {
    lines: Box<[Line]>,
    /// Slots (a multiple of 8).
    n: usize,
}

impl HashIndex {
    /// An index for at most `capacity` entries (load factor <= 3/4).
    pub fn new(capacity: usize) -> HashIndex {
        // At least one slot always stays empty, so every probe ends.
        let n = (capacity + capacity.div_ceil(3) + 1)
            .max(8)
            .next_multiple_of(8);
        HashIndex {
            lines: vec![Line([EMPTY; 8]); n / 8].into_boxed_slice(),
            n,
        }
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.n * size_of::<u64>()
    }

    /// Slots in the table.
    #[cfg(test)]
    pub fn slots(&self) -> usize {
        self.n
    }

    #[inline(always)]
    fn get(&self, i: usize) -> u64 {
        self.lines[i >> 3].0[i & 7]
    }

    #[inline(always)]
    fn set(&mut self, i: usize, v: u64) {
        self.lines[i >> 3].0[i & 7] = v;
    }

    #[inline(always)]
    fn home(&self, tag: u32) -> usize {
        ((u64::from(tag) * self.n as u64) >> 32) as usize
    }

    #[inline(always)]
    fn next(&self, i: usize) -> usize {
        let j = i + 1;
        if j == self.n {
            0
        } else {
            j
        }
    }

    /// Distance going forward (with wrap) from slot `a` to slot `b`.
    #[inline(always)]
    fn dist(&self, a: usize, b: usize) -> usize {
        if b >= a {
            b - a
        } else {
            b + self.n - a
        }
    }

    /// The tag of hash `h`: its upper 32 bits, never all ones (an empty
    /// slot's tag), so a tag match never needs an emptiness check.
    #[inline(always)]
    fn tag_of(h: u64) -> u32 {
        ((h >> 32) as u32).min(u32::MAX - 1)
    }

    /// The slot value for entry `idx` under hash `h`.
    #[inline(always)]
    fn slot_of(h: u64, idx: u32) -> u64 {
        (u64::from(Self::tag_of(h)) << 32) | u64::from(idx)
    }

    /// The entry with hash `h` for which `eq` holds.
    ///
    /// A plain probe loop (measured faster than matching the home cache
    /// line's eight tags at once, which compiles to scalar code), walked a
    /// line at a time: one bounds check per line instead of one per slot,
    /// and the wrap-around is decided only at the end of a line (`n` is a
    /// multiple of 8, so a line never wraps).
    #[inline(always)]
    pub fn find(&self, h: u64, mut eq: impl FnMut(u32) -> bool) -> Option<u32> {
        let tag = Self::tag_of(h);
        let mut i = self.home(tag);
        loop {
            let line = &self.lines[i >> 3].0;
            for &s in &line[i & 7..] {
                if s == EMPTY {
                    return None;
                }
                if (s >> 32) as u32 == tag && eq(s as u32) {
                    return Some(s as u32);
                }
            }
            i = self.next_line(i);
        }
    }

    /// The first slot of the line after slot `i`'s (with wrap).
    #[inline(always)]
    fn next_line(&self, i: usize) -> usize {
        let j = (i | 7) + 1;
        if j >= self.n {
            0
        } else {
            j
        }
    }

    /// Loads the home slot of hash `h`: its cache line is on the way when
    /// [`HashIndex::find`] or [`HashIndex::candidate`] follow.
    #[inline(always)]
    pub fn touch(&self, h: u64) {
        std::hint::black_box(self.get(self.home(Self::tag_of(h))));
    }

    /// The first entry of hash `h`'s probe run whose tag matches
    /// (unverified), or `u32::MAX`: what a burst lookup reads for many keys
    /// before verifying any, so that their cache misses overlap.
    #[inline(always)]
    pub fn candidate(&self, h: u64) -> u32 {
        let tag = Self::tag_of(h);
        let mut i = self.home(tag);
        loop {
            let line = &self.lines[i >> 3].0;
            for &s in &line[i & 7..] {
                if s == EMPTY {
                    return u32::MAX;
                }
                if (s >> 32) as u32 == tag {
                    return s as u32;
                }
            }
            i = self.next_line(i);
        }
    }

    /// Adds entry `idx` under hash `h`. The caller keeps the number of
    /// entries within the capacity.
    #[inline]
    pub fn insert(&mut self, h: u64, idx: u32) {
        let mut i = self.home(Self::tag_of(h));
        while self.get(i) != EMPTY {
            i = self.next(i);
        }
        self.set(i, Self::slot_of(h, idx));
    }

    /// Removes entry `idx` filed under hash `h`; false if it is not there.
    pub fn remove(&mut self, h: u64, idx: u32) -> bool {
        let want = Self::slot_of(h, idx);
        let mut i = self.home(Self::tag_of(h));
        loop {
            let s = self.get(i);
            if s == EMPTY {
                return false;
            }
            if s == want {
                break;
            }
            i = self.next(i);
        }
        // Backward-shift deletion: move each following entry of the run
        // into the hole unless that would put it before its home slot.
        let mut hole = i;
        let mut j = i;
        loop {
            j = self.next(j);
            let s = self.get(j);
            if s == EMPTY {
                break;
            }
            let home = self.home((s >> 32) as u32);
            if self.dist(home, j) >= self.dist(hole, j) {
                self.set(hole, s);
                hole = j;
            }
        }
        self.set(hole, EMPTY);
        true
    }

    /// The longest distance of an entry from its home slot. Test helper.
    #[cfg(test)]
    pub fn max_displacement(&self) -> usize {
        (0..self.n)
            .filter(|&j| self.get(j) != EMPTY)
            .map(|j| self.dist(self.home((self.get(j) >> 32) as u32), j))
            .max()
            .unwrap_or(0)
    }

    /// Checks that every entry is reachable from its home slot (no empty
    /// slot between home and position). Test helper.
    #[cfg(test)]
    pub fn check(&self) -> usize {
        let mut count = 0;
        for (j, s) in (0..self.n).map(|j| (j, self.get(j))) {
            if s == EMPTY {
                continue;
            }
            count += 1;
            let mut i = self.home((s >> 32) as u32);
            while i != j {
                assert_ne!(self.get(i), EMPTY, "hole between home {i} and slot {j}");
                i = self.next(i);
            }
        }
        count
    }
}

#[cfg(test)]
mod tests;
