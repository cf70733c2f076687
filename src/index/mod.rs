//! What the per-worker tables share to find their entries: one 64-bit
//! mix, one open-addressing hash index, and an entry index that may be
//! absent in the size of a `u32`.
//!
//! Promises:
//! - [`mix64`] is the crate's one integer mix (splitmix64's finaliser): a
//!   pure function, the same on every run and every box (subscriber
//!   ownership depends on it, see `nat64::subscriber_worker`).
//! - [`HashIndex`] maps a 64-bit hash to a `u32` entry index for entries
//!   kept elsewhere, the caller verifying its key on a tag match; O(1)
//!   expected lookups, no tombstones, nothing allocated after
//!   [`HashIndex::new`]. It serves the session and BIB indexes and their
//!   counts (`nat64::table`), built for millions of entries. The port
//!   allocator's subscriber map (`nat64::pool4`) and the neighbour cache
//!   (`dataplane::neigh`) keep their own smaller open-addressing tables
//!   of the same family (linear probing, backward-shift deletion): on
//!   this one they measured slower (callgrind numbers at each).
//! - [`OptIndex`] is `Option<u32>` in four bytes, for links and
//!   references between entries.
//!
//! Pure Rust, no DPDK: everything here is tested without EAL.

mod hash_index;

pub use hash_index::HashIndex;

/// splitmix64's finaliser (Steele, Lea and Flood, "Fast splittable
/// pseudorandom number generators", 2014): a cheap, well-spread 64-bit
/// mix, every input bit affecting every output bit.
#[inline]
pub fn mix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// An entry index or none, in the four bytes of a `u32` (`Option<u32>`
/// takes eight): what intrusive lists and entry references store. Index
/// `u32::MAX` cannot be represented; it stands for none.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct OptIndex(u32);

impl OptIndex {
    /// No entry.
    pub const NONE: OptIndex = OptIndex(u32::MAX);

    /// Entry `i` (`i < u32::MAX`).
    #[inline(always)]
    pub const fn some(i: u32) -> OptIndex {
        debug_assert!(i != u32::MAX);
        OptIndex(i)
    }

    /// The entry index, if there is one.
    #[inline(always)]
    pub const fn get(self) -> Option<u32> {
        if self.0 == u32::MAX {
            None
        } else {
            Some(self.0)
        }
    }

    /// Whether there is no entry.
    #[inline(always)]
    pub const fn is_none(self) -> bool {
        self.0 == u32::MAX
    }

    /// Whether there is an entry.
    #[inline(always)]
    pub const fn is_some(self) -> bool {
        self.0 != u32::MAX
    }
}

impl From<Option<u32>> for OptIndex {
    #[inline(always)]
    fn from(i: Option<u32>) -> OptIndex {
        i.map_or(OptIndex::NONE, OptIndex::some)
    }
}

impl std::fmt::Debug for OptIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.get() {
            Some(i) => write!(f, "{i}"),
            None => f.write_str("none"),
        }
    }
}

#[cfg(test)]
mod tests;
