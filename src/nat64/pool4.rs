//! The IPv4 pool: port blocks handed to subscribers (RFC 6888, RFC 7422),
//! and the owner table that sends IPv4 return traffic to the right worker.
//!
//! Promises:
//! - [`PoolLayout`] numbers every block of the pool the same way on every
//!   worker: addresses in config order, `block = addr_index *
//!   blocks_per_address + (port - port_first) / block_size`; ports past the
//!   last whole block are never used. [`PoolLayout::owner`] answers "which
//!   worker must see IPv4 traffic to (address, port)" in O(1).
//! - Dynamic allocation ([`PortAllocator`]): worker `w` of `n` owns exactly
//!   the blocks with `block % n == w`, so every worker has blocks on every
//!   address (when there are at least `n` blocks per address) and no two
//!   workers ever hand out the same port. A subscriber gets whole blocks,
//!   all on one address when `paired` (RFC 4787 REQ-2), at most
//!   `max_blocks_per_subscriber` of them (RFC 6888 REQ-4). A block goes back
//!   when its last port of every protocol is freed, and waits
//!   [`HOLD_DOWN`] (120 s) before anyone gets it again (RFC 6888 REQ-8).
//!   Every allocation and release is a [`BlockEvent`] (time, subscriber
//!   prefix, address, port range; never a destination, RFC 6888 REQ-12).
//!   New blocks are rate limited (dynamic only): each subscriber may take
//!   [`SUBSCRIBER_BLOCK_BURST`] at once, then one per
//!   [`SUBSCRIBER_BLOCK_INTERVAL`]; each worker hands out at most
//!   `pool4.block_allocations_per_second`, with a burst of one second's
//!   worth. So a burst of new flows (from spoofed or from real sources)
//!   cannot drain a worker's share before anyone notices; a flow refused
//!   for the rate ([`AllocError::RateLimited`]) is counted, not logged.
//!   With `pool4.max_blocks_per_aggregate`, the subscribers of one
//!   aggregate prefix (`pool4.aggregate_prefix_len`, a customer's
//!   delegated /48) hold at most that many blocks on all workers together
//!   ([`AggregateShares`], shared through the layout, touched only when a
//!   block is taken or released; [`AllocError::AggregateLimit`], counted,
//!   no event).
//!   A refusal ([`AllocError`]) is an event too, at most one per
//!   subscriber (limit) or worker (pool exhausted) per
//!   [`REFUSAL_EVENT_INTERVAL`]; a full queue counts what it drops.
//! - A new subscriber starts on the address with the most free blocks of
//!   this worker (O(1), free counts are bucketed), leaving room for its
//!   paired growth.
//! - Within a subscriber's blocks the port keeps the source port's parity
//!   (RFC 4787 §4.2.2, asked by RFC 6146 §3.5.1.1) and, when the pool's port
//!   range holds both, its well-known (< 1024) or not class (RFC 4787 §4.2.1,
//!   RFC 6146 §3.5.1.1); the source port itself is kept when free. A new
//!   block is taken from the wanted class's free list when the address has
//!   one. Both are preferences: when only a port of the other parity or class
//!   is left and no new block can be had, that port is used. ICMP query
//!   identifiers are allocated the same way, with neither constraint (RFC
//!   6146 §3.5.3), from non-well-known blocks first.
//! - Deterministic allocation (RFC 7422): [`deterministic_range`] is a pure
//!   function from subscriber prefix to (address, port range) (formula
//!   there); the allocator only picks ports inside that range, allocates
//!   nothing and logs nothing per subscriber.
//! - Static BIB entries: the block holding a static entry's IPv4 port is
//!   taken out of dynamic allocation entirely (all protocols), so the logs
//!   never show a subscriber "owning" a port someone else has statically.
//!   With deterministic allocation only the port itself (of its protocol)
//!   is reserved inside the subscriber's range. Either way
//!   [`PoolLayout::owner`] answers a static entry with the worker of its
//!   IPv6 subscriber.
//! - Nothing allocates after construction: every table is sized in `new`.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::ops::Range;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use super::{subscriber_worker, BlockEvent, BlockEventKind, EventQueue, Millis, Subscriber, L4};
use crate::config::{self, Allocation};
use crate::index::{mix64, OptIndex};

/// How long a released block waits before it is handed out again
/// (RFC 6888 REQ-8: "at least 120 seconds").
pub const HOLD_DOWN: Millis = 120_000;

/// Refusal events ([`BlockEventKind::SubscriberLimit`] per subscriber,
/// [`BlockEventKind::PoolExhausted`] per worker) come at most this often,
/// so a flood of refused flows cannot fill the event queue.
pub const REFUSAL_EVENT_INTERVAL: Millis = 1_000;

/// New blocks one subscriber may take at once (its first included)...
pub const SUBSCRIBER_BLOCK_BURST: u64 = 4;

/// ...and then one every this many ms: a subscriber that fills its blocks
/// at once grows by one a second, so a burst of flows from one prefix
/// cannot take a worker's blocks faster than that.
pub const SUBSCRIBER_BLOCK_INTERVAL: Millis = 1_000;

/// A block of the pool: `addr_index * blocks_per_address + block_index`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BlockId(pub u32);

/// Why no port was handed out (each a counted drop for the caller).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AllocError {
    /// The subscriber holds `max_blocks_per_subscriber` blocks and they are
    /// full (deterministic: its whole range is in use).
    SubscriberLimit,
    /// No free block for the subscriber: this worker's share of the pool
    /// (or, paired, of the subscriber's address) is used up or held down.
    /// Deterministic: the subscriber has no range here (outside
    /// `pool4.deterministic_inside`, or owned by another worker).
    PoolExhausted,
    /// A new block was due, but the subscriber took its
    /// [`SUBSCRIBER_BLOCK_BURST`] already and the next is not due yet, or
    /// the worker gave out `pool4.block_allocations_per_second` blocks in
    /// the last second (dynamic only; no event: only counted).
    RateLimited,
    /// A new block was due, but the subscriber's aggregate prefix
    /// (`pool4.aggregate_prefix_len`) holds `pool4.max_blocks_per_aggregate`
    /// blocks on all workers together (dynamic only; no event: only
    /// counted).
    AggregateLimit,
}

/// Most counters in each row of [`AggregateShares`] (4 MiB a row).
const MAX_AGGREGATE_SLOTS: usize = 1 << 20;

/// Blocks held per aggregate prefix (`pool4.aggregate_prefix_len`, e.g. a
/// customer's delegated /48 seen as 256 subscribers of a /56), counted
/// across every worker, so that one aggregate cannot take more than
/// `pool4.max_blocks_per_aggregate` blocks of the pool.
///
/// Shared by all workers' allocators (through their [`PoolLayout`]) and
/// touched only when a block is taken or released, never per packet: a
/// fixed table of atomics, nothing allocated after [`AggregateShares::new`],
/// no lock. A count-min sketch (Cormode and Muthukrishnan, 2005): two rows
/// of counters, each aggregate counted in one counter of each row (two
/// independent hashes); its count is the smaller. That never undercounts,
/// so the cap always holds, also for two workers taking blocks at once
/// (the counters are incremented before the cap is checked, and put back
/// on a refusal). It may overcount when both of an aggregate's counters
/// are shared with other aggregates' blocks; rows of at least four
/// counters per block of the pool keep that rare.
#[derive(Debug)]
pub struct AggregateShares {
    prefix_len: u8,
    max_blocks: u32,
    rows: [Box<[AtomicU32]>; 2],
    /// Counters per row minus one (a power of two minus one).
    mask: u64,
}

impl AggregateShares {
    /// Shares of at most `max_blocks` blocks per /`prefix_len`, for a
    /// pool of `total_blocks` blocks.
    pub fn new(prefix_len: u8, max_blocks: u32, total_blocks: u32) -> AggregateShares {
        let slots = (total_blocks as usize)
            .saturating_mul(4)
            .next_power_of_two()
            .clamp(64, MAX_AGGREGATE_SLOTS);
        let row = || (0..slots).map(|_| AtomicU32::new(0)).collect();
        AggregateShares {
            prefix_len,
            max_blocks,
            rows: [row(), row()],
            mask: slots as u64 - 1,
        }
    }

    /// `sub`'s aggregate's counter in each row.
    #[inline]
    fn slots(&self, sub: &Subscriber) -> [usize; 2] {
        let h = Subscriber::of(&sub.0, self.prefix_len).hash64();
        [
            (h & self.mask) as usize,
            (mix64(h ^ 0x5bd1_e995_a3c6_4f2b) & self.mask) as usize,
        ]
    }

    /// Blocks held by `sub`'s aggregate (never less than the truth).
    pub fn held(&self, sub: &Subscriber) -> u32 {
        let [i, j] = self.slots(sub);
        self.rows[0][i]
            .load(Ordering::Relaxed)
            .min(self.rows[1][j].load(Ordering::Relaxed))
    }

    /// Counts one more block of `sub`'s aggregate, unless that holds
    /// `max_blocks` already (false, nothing counted).
    fn try_take(&self, sub: &Subscriber) -> bool {
        let [i, j] = self.slots(sub);
        let a = self.rows[0][i].fetch_add(1, Ordering::Relaxed);
        let b = self.rows[1][j].fetch_add(1, Ordering::Relaxed);
        if a.min(b) < self.max_blocks {
            return true;
        }
        self.give_back(sub);
        false
    }

    /// One block of `sub`'s aggregate is released.
    fn give_back(&self, sub: &Subscriber) {
        let [i, j] = self.slots(sub);
        self.rows[0][i].fetch_sub(1, Ordering::Relaxed);
        self.rows[1][j].fetch_sub(1, Ordering::Relaxed);
    }
}

/// One `pool4.addresses` entry with the index of its first address.
#[derive(Debug, Clone, Copy)]
struct AddrRange {
    first: u32,
    last: u32,
    base: u32,
}

/// The parameters of deterministic NAT (RFC 7422; see
/// [`deterministic_range`]).
#[derive(Debug, Clone, Copy)]
struct Deterministic {
    /// `deterministic_inside` address bits.
    inside: u128,
    /// `subscriber_prefix_len`.
    sub_len: u8,
    /// Subscribers under the inside prefix: 2^(sub_len - inside len).
    n_subs: u64,
    /// Blocks per slot: `max_blocks_per_subscriber`.
    slot_blocks: u32,
    /// Whole slots per address: `blocks_per_address / slot_blocks`.
    slots_per_addr: u32,
}

impl Deterministic {
    /// From the configuration; `None` when not deterministic. A missing or
    /// non-fitting prefix (the config refuses both) maps nobody.
    fn from_cfg(cfg: &config::Pool4) -> Option<Deterministic> {
        if cfg.allocation != Allocation::Deterministic {
            return None;
        }
        let slot_blocks = cfg.max_blocks_per_subscriber.max(1);
        let slots_per_addr = cfg.blocks_per_address() / slot_blocks;
        let sub_len = cfg.subscriber_prefix_len.clamp(1, 128);
        let (inside, n_subs) = match cfg.deterministic_inside {
            Some(p) if p.len <= sub_len => {
                let bits = u32::from(sub_len - p.len);
                let slots = cfg.address_count() * u64::from(slots_per_addr);
                let n = if bits >= 64 { u64::MAX } else { 1u64 << bits };
                (u128::from(p.addr), if n <= slots { n } else { 0 })
            }
            _ => (0, 0),
        };
        Some(Deterministic {
            inside,
            sub_len,
            n_subs,
            slot_blocks,
            slots_per_addr,
        })
    }

    /// The subscriber's index `k` under the inside prefix.
    fn index_of(&self, sub: Subscriber) -> Option<u64> {
        let shift = 128 - u32::from(self.sub_len);
        let v = u128::from(sub.0);
        let k = v.wrapping_sub(self.inside).checked_shr(shift).unwrap_or(0);
        // Under the prefix: the difference fits the subscriber bits and the
        // address's own bits below the subscriber prefix are ignored.
        if v < self.inside || k >= u128::from(self.n_subs) {
            return None;
        }
        Some(k as u64)
    }

    /// The `k`-th subscriber prefix.
    fn subscriber(&self, k: u64) -> Subscriber {
        let shift = 128 - u32::from(self.sub_len);
        let bits = u128::from(k).checked_shl(shift).unwrap_or(0);
        Subscriber(Ipv6Addr::from(self.inside | bits))
    }

    /// The slot (= subscriber index) holding global block `b`, if any.
    fn slot_of_block(&self, b: u32, blocks_per_addr: u32) -> Option<u64> {
        let (a, bi) = (b / blocks_per_addr, b % blocks_per_addr);
        let s = bi / self.slot_blocks;
        if s >= self.slots_per_addr {
            return None;
        }
        let k = u64::from(a) * u64::from(self.slots_per_addr) + u64::from(s);
        (k < self.n_subs).then_some(k)
    }

    /// Slot `k`'s first global block.
    fn first_block(&self, k: u64, blocks_per_addr: u32) -> u32 {
        let spa = u64::from(self.slots_per_addr.max(1));
        let (a, s) = (k / spa, k % spa);
        (a * u64::from(blocks_per_addr) + s * u64::from(self.slot_blocks)) as u32
    }
}

/// A static BIB entry's IPv4 side and the worker that owns it.
#[derive(Debug, Clone, Copy)]
struct StaticOwner {
    addr: u32,
    port: u16,
    proto: u8,
    worker: u16,
}

/// The whole pool, the same on every worker: addresses in config order,
/// blocks numbered `addr_index * blocks_per_address + block_index`.
#[derive(Debug, Clone)]
pub struct PoolLayout {
    /// Address ranges in config order (`base` ascending).
    by_index: Vec<AddrRange>,
    /// The same ranges sorted by address.
    by_addr: Vec<AddrRange>,
    n_addrs: u32,
    port_first: u16,
    port_last: u16,
    block_size: u32,
    /// ceil(2^32 / block_size): `off / block_size == off * magic >> 32`
    /// for every 16-bit `off` (see `div_block`).
    block_magic: u64,
    blocks_per_addr: u32,
    /// Lemire's fastdiv constant for `blocks_per_addr` (see `split_block`).
    bpa_magic: u64,
    total_blocks: u32,
    n_workers: u16,
    /// Lemire's fastmod constant for `n_workers` (see `mod_workers`).
    worker_magic: u64,
    sub_len: u8,
    /// RFC 7422 parameters; `None`: dynamic allocation.
    deterministic: Option<Deterministic>,
    /// Deterministic: the worker of each subscriber slot.
    slot_owner: Vec<u16>,
    /// One bit per block: holds a static entry's port.
    static_blocks: Vec<u64>,
    /// One bit per block: made static by a reload ([`PoolLayout::with_static_bib`])
    /// while it may still be a subscriber's; its other ports keep going to
    /// the block's dynamic owner.
    draining: Vec<u64>,
    /// Sorted by (addr, port, proto).
    statics: Vec<StaticOwner>,
    /// `pool4.max_blocks_per_aggregate`'s shares, the same for every
    /// worker (and every reload's layout); `None`: no cap, or
    /// deterministic allocation.
    aggregates: Option<Arc<AggregateShares>>,
}

/// Protocol index for per-protocol arrays.
#[inline]
fn proto_index(p: L4) -> usize {
    match p {
        L4::Tcp => 0,
        L4::Udp => 1,
        L4::Icmp => 2,
    }
}

impl PoolLayout {
    /// The layout of `cfg`'s pool shared by `n_workers` workers, with the
    /// static BIB entries' blocks marked. A pool of more than 2^32 - 1
    /// blocks is cut to its first whole addresses below that.
    pub fn new(
        cfg: &config::Pool4,
        static_bib: &[config::StaticBibEntry],
        n_workers: u16,
    ) -> PoolLayout {
        let n_workers = n_workers.max(1);
        let block_size = cfg.block_size.clamp(1, 1 << 15);
        let blocks_per_addr = (cfg.port_count() / block_size).max(1);
        let mut by_index = Vec::with_capacity(cfg.addresses.len());
        let mut base: u64 = 0;
        let max_addrs = u64::from((u32::MAX - 1) / blocks_per_addr);
        for r in &cfg.addresses {
            if base >= max_addrs {
                break;
            }
            let len = r.len().min(max_addrs - base);
            let first = u32::from(r.first);
            by_index.push(AddrRange {
                first,
                last: first + (len - 1) as u32,
                base: base as u32,
            });
            base += len;
        }
        let n_addrs = base as u32;
        let mut by_addr = by_index.clone();
        by_addr.sort_by_key(|r| r.first);
        let total_blocks = n_addrs * blocks_per_addr;
        let deterministic = Deterministic::from_cfg(cfg);
        let slot_owner = match &deterministic {
            Some(d) => (0..d.n_subs)
                .map(|k| subscriber_worker(&d.subscriber(k), n_workers))
                .collect(),
            None => Vec::new(),
        };
        let mut layout = PoolLayout {
            by_index,
            by_addr,
            n_addrs,
            port_first: cfg.port_range.0,
            port_last: cfg.port_range.1,
            block_size,
            block_magic: (1u64 << 32).div_ceil(u64::from(block_size)),
            blocks_per_addr,
            bpa_magic: (u64::MAX / u64::from(blocks_per_addr)).wrapping_add(1),
            total_blocks,
            n_workers,
            worker_magic: (u64::MAX / u64::from(n_workers)).wrapping_add(1),
            sub_len: cfg.subscriber_prefix_len,
            deterministic,
            slot_owner,
            static_blocks: vec![0; (total_blocks as usize).div_ceil(64)],
            draining: Vec::new(),
            statics: Vec::with_capacity(static_bib.len()),
            aggregates: (cfg.max_blocks_per_aggregate != 0
                && cfg.allocation == Allocation::Dynamic)
                .then(|| {
                    Arc::new(AggregateShares::new(
                        cfg.aggregate_prefix_len,
                        cfg.max_blocks_per_aggregate,
                        total_blocks,
                    ))
                }),
        };
        layout.add_statics(static_bib);
        layout
    }

    /// Route `entries` to their owners (the worker of each IPv6
    /// subscriber) and mark their blocks static; `statics` sorted again.
    fn add_statics(&mut self, entries: &[config::StaticBibEntry]) {
        for e in entries {
            let sub = Subscriber::of(e.ipv6.ip(), self.sub_len);
            self.statics.push(StaticOwner {
                addr: u32::from(*e.ipv4.ip()),
                port: e.ipv4.port(),
                proto: proto_index(e.protocol) as u8,
                worker: subscriber_worker(&sub, self.n_workers),
            });
            if let Some(b) = self.block_of(*e.ipv4.ip(), e.ipv4.port()) {
                if let Some(w) = self.static_blocks.get_mut(b.0 as usize / 64) {
                    *w |= 1 << (b.0 % 64);
                }
            }
        }
        self.statics.sort_by_key(|s| (s.addr, s.port, s.proto));
    }

    /// This layout after a reload whose `[[static_bib]]` is `entries` (the
    /// pool itself cannot change on reload). An added entry is routed to
    /// its owner and its block marked static; a block that was not static
    /// is also marked draining: its other ports still go to the block's
    /// dynamic owner ([`PoolLayout::owner`]), which may hold a
    /// subscriber's mappings there until the block is released (the
    /// allocator then keeps it out of circulation,
    /// [`PortAllocator::reserve_static`]). A removed entry keeps routing to
    /// its owner and its block stays static until a restart, so its
    /// sessions expire normally where they are and its port is never
    /// handed out while one may remain.
    pub fn with_static_bib(&self, entries: &[config::StaticBibEntry]) -> PoolLayout {
        let mut next = self.clone();
        let key = |s: &StaticOwner| (s.addr, s.port, s.proto);
        let new_keys: Vec<(u32, u16, u8)> = entries
            .iter()
            .map(|e| {
                (
                    u32::from(*e.ipv4.ip()),
                    e.ipv4.port(),
                    proto_index(e.protocol) as u8,
                )
            })
            .collect();
        // Removed (retired) entries stay; the new ones replace any of the
        // same IPv4 transport address.
        next.statics.retain(|s| !new_keys.contains(&key(s)));
        next.add_statics(entries);
        next.draining.resize(next.static_blocks.len(), 0);
        for ((d, new), old) in next
            .draining
            .iter_mut()
            .zip(&next.static_blocks)
            .zip(&self.static_blocks)
        {
            *d |= new & !old;
        }
        next
    }

    /// Whether block `b` was made static by a reload (see
    /// [`PoolLayout::with_static_bib`]).
    #[inline]
    fn is_draining(&self, b: BlockId) -> bool {
        self.draining
            .get(b.0 as usize / 64)
            .is_some_and(|w| w & (1 << (b.0 % 64)) != 0)
    }

    /// Index of pool address `a` (config order), O(log ranges).
    #[inline]
    pub fn addr_index(&self, a: Ipv4Addr) -> Option<u32> {
        let a = u32::from(a);
        if let [r] = self.by_addr.as_slice() {
            // One range (the usual pool): no search.
            return (a >= r.first && a <= r.last).then(|| r.base + (a - r.first));
        }
        let i = self.by_addr.partition_point(|r| r.first <= a);
        let r = self.by_addr.get(i.checked_sub(1)?)?;
        (a <= r.last).then(|| r.base + (a - r.first))
    }

    /// The pool address with index `i`.
    pub fn address(&self, i: u32) -> Option<Ipv4Addr> {
        if i >= self.n_addrs {
            return None;
        }
        if let [r] = self.by_index.as_slice() {
            // One range (the usual pool): no search.
            return Some(Ipv4Addr::from(r.first + i));
        }
        let j = self.by_index.partition_point(|r| r.base <= i);
        let r = self.by_index.get(j.checked_sub(1)?)?;
        Some(Ipv4Addr::from(r.first + (i - r.base)))
    }

    /// Whether `a` is a pool address.
    pub fn contains(&self, a: Ipv4Addr) -> bool {
        self.addr_index(a).is_some()
    }

    /// The block holding `(a, port)`; `None` off the pool or past the last
    /// whole block.
    #[inline]
    pub fn block_of(&self, a: Ipv4Addr, port: u16) -> Option<BlockId> {
        let i = self.addr_index(a)?;
        let off = u32::from(port.checked_sub(self.port_first)?);
        if port > self.port_last {
            return None;
        }
        let bi = self.div_block(off);
        (bi < self.blocks_per_addr).then_some(BlockId(i * self.blocks_per_addr + bi))
    }

    /// Block number `b` as (address index, block within the address), by a
    /// multiply (Lemire's fastdiv, exact for 32-bit `b`; the constant
    /// would wrap to 0 for one block per address, which needs no division).
    #[inline(always)]
    fn split_block(&self, b: u32) -> (u32, u32) {
        if self.blocks_per_addr == 1 {
            return (b, 0);
        }
        let a = ((u128::from(self.bpa_magic) * u128::from(b)) >> 64) as u32;
        (a, b - a * self.blocks_per_addr)
    }

    /// `off / block_size` for a 16-bit `off`, by a multiply: with
    /// m = ceil(2^32 / d) = 2^32 / d + e (0 <= e < 1), off * m / 2^32 =
    /// off / d + off * e / 2^32, and the error term stays below
    /// 2^-16 <= 1 / d (d <= 2^15), too small to reach the next integer.
    #[inline(always)]
    fn div_block(&self, off: u32) -> u32 {
        debug_assert!(off <= u32::from(u16::MAX));
        ((u64::from(off) * self.block_magic) >> 32) as u32
    }

    /// `b % n_workers` without a division (Lemire, Kaser and Kurz,
    /// "Faster remainder by direct computation", exact for 32-bit `b`).
    #[inline(always)]
    fn mod_workers(&self, b: u32) -> u16 {
        let low = self.worker_magic.wrapping_mul(u64::from(b));
        ((u128::from(low) * u128::from(self.n_workers)) >> 64) as u16
    }

    /// Block `b`'s address, first and last port. `b` must be below
    /// [`total_blocks`](Self::total_blocks) (else the last block's values).
    #[inline]
    pub fn block_range(&self, b: BlockId) -> (Ipv4Addr, u16, u16) {
        let b = b.0.min(self.total_blocks.saturating_sub(1));
        let (a, bi) = self.split_block(b);
        let first = u32::from(self.port_first) + bi * self.block_size;
        let addr = self.address(a).unwrap_or(Ipv4Addr::UNSPECIFIED);
        (addr, first as u16, (first + self.block_size - 1) as u16)
    }

    /// O(1): which worker must see IPv4 traffic to `(a, port, proto)`:
    /// a static BIB entry's owner (the worker of its IPv6 subscriber)
    /// first, then the block's owner (dynamic: `block % n_workers`;
    /// deterministic: the worker of the subscriber whose range holds the
    /// port). `None`: not a pool address/port, a port past the last whole
    /// block, an unmapped deterministic slot, or (dynamic) a port of a
    /// static entry's block that is no static entry.
    #[inline]
    pub fn owner(&self, a: Ipv4Addr, port: u16, proto: L4) -> Option<u16> {
        let Some(b) = self.block_of(a, port) else {
            // Static entries may lie outside the dynamic port range.
            return self.static_owner(a, port, proto);
        };
        if self.is_static_block(b) {
            if let Some(w) = self.static_owner(a, port, proto) {
                return Some(w);
            }
            // Dynamic: the rest of a static entry's block is nobody's,
            // unless a reload made it static while it may be in use.
            if self.deterministic.is_none() && !self.is_draining(b) {
                return None;
            }
        }
        match &self.deterministic {
            None => Some(self.mod_workers(b.0)),
            Some(d) => {
                let k = d.slot_of_block(b.0, self.blocks_per_addr)?;
                self.slot_owner.get(k as usize).copied()
            }
        }
    }

    /// The worker of a static BIB entry `(a, port, proto)`.
    fn static_owner(&self, a: Ipv4Addr, port: u16, proto: L4) -> Option<u16> {
        if self.statics.is_empty() {
            return None;
        }
        let key = (u32::from(a), port, proto_index(proto) as u8);
        self.statics
            .binary_search_by_key(&key, |s| (s.addr, s.port, s.proto))
            .ok()
            .and_then(|i| self.statics.get(i))
            .map(|s| s.worker)
    }

    /// Whether block `b` holds a static BIB entry's port.
    #[inline]
    pub fn is_static_block(&self, b: BlockId) -> bool {
        self.static_blocks
            .get(b.0 as usize / 64)
            .is_some_and(|w| w & (1 << (b.0 % 64)) != 0)
    }

    /// RFC 7422: the subscriber's (address, first port, last port); see
    /// [`deterministic_range`]. `None` when not deterministic or `sub` is
    /// outside `pool4.deterministic_inside`.
    pub fn deterministic_range(&self, sub: Subscriber) -> Option<(Ipv4Addr, u16, u16)> {
        let d = self.deterministic.as_ref()?;
        let k = d.index_of(sub)?;
        let first = d.first_block(k, self.blocks_per_addr);
        let (addr, first_port, _) = self.block_range(BlockId(first));
        let last = u32::from(first_port) + d.slot_blocks * self.block_size - 1;
        Some((addr, first_port, last as u16))
    }

    /// RFC 7422 reverse: the subscriber whose deterministic range holds
    /// `(a, port)` ("who had 192.0.2.7 port 40000?"), without any log.
    pub fn deterministic_subscriber(&self, a: Ipv4Addr, port: u16) -> Option<Subscriber> {
        let d = self.deterministic.as_ref()?;
        let b = self.block_of(a, port)?;
        Some(d.subscriber(d.slot_of_block(b.0, self.blocks_per_addr)?))
    }

    /// Number of pool addresses.
    pub fn address_count(&self) -> u32 {
        self.n_addrs
    }

    /// Whole blocks per address.
    pub fn blocks_per_address(&self) -> u32 {
        self.blocks_per_addr
    }

    /// Blocks in the pool.
    pub fn total_blocks(&self) -> u32 {
        self.total_blocks
    }

    /// Ports per block.
    pub fn block_size(&self) -> u32 {
        self.block_size
    }

    /// `pool4.subscriber_prefix_len`.
    pub fn subscriber_prefix_len(&self) -> u8 {
        self.sub_len
    }

    /// Workers the pool is shared among.
    pub fn n_workers(&self) -> u16 {
        self.n_workers
    }

    /// Whether allocation is deterministic (RFC 7422).
    pub fn is_deterministic(&self) -> bool {
        self.deterministic.is_some()
    }
}

/// RFC 7422 deterministic mapping, a pure function of the configuration:
///
/// ```text
/// S   = max_blocks_per_subscriber * block_size      ports per subscriber
/// P   = blocks_per_address / max_blocks_per_subscriber   (whole slots per address)
/// k   = (sub - deterministic_inside) >> (128 - subscriber_prefix_len)
///                                                    subscriber index, 0 <= k < 2^(subscriber_prefix_len - inside len)
/// address    = pool address number floor(k / P)      (addresses in config order)
/// first_port = port_range.first + (k mod P) * S
/// last_port  = first_port + S - 1
/// ```
///
/// Slots are numbered address-major: subscriber 0 gets the lowest ports of
/// the first address, subscriber P the lowest of the second. The config
/// refuses an inside prefix whose subscribers do not all fit. `None` when
/// allocation is dynamic or `sub` is outside the inside prefix.
pub fn deterministic_range(
    layout: &PoolLayout,
    cfg: &config::Pool4,
    sub: Subscriber,
) -> Option<(Ipv4Addr, u16, u16)> {
    let d = Deterministic::from_cfg(cfg)?;
    let k = d.index_of(Subscriber::of(&sub.0, d.sub_len))?;
    let p = u64::from(d.slots_per_addr);
    let size = d.slot_blocks * cfg.block_size;
    let addr = layout.address(u32::try_from(k / p).ok()?)?;
    let first = u32::from(cfg.port_range.0) + (k % p) as u32 * size;
    Some((addr, first as u16, (first + size - 1) as u16))
}

/// Where a worker's block is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BlockState {
    /// In its address's free list.
    Free,
    /// Held by `Block::sub`.
    InUse,
    /// Released, waiting in the hold-down queue.
    HeldDown,
    /// Out of dynamic allocation (a static entry's block).
    Reserved,
}

/// A worker's block.
#[derive(Debug, Clone, Copy)]
struct Block {
    sub: Subscriber,
    /// Links in the free list or the subscriber's list (never both).
    prev: OptIndex,
    next: OptIndex,
    used: [u16; 3],
    state: BlockState,
    /// Becomes `Reserved` instead of free when released.
    reserved: bool,
    /// When it was last taken into use (for inspection: its age).
    since: Millis,
}

/// A block in use, as [`PortAllocator::blocks_in`] shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockInUse {
    /// The pool address and the block's first port.
    pub addr: Ipv4Addr,
    pub first_port: u16,
    /// Ports in the block.
    pub size: u32,
    /// The subscriber holding it (deterministic: the one the block's range
    /// belongs to).
    pub owner: Subscriber,
    /// When it was taken into use (dynamic: allocated to `owner`;
    /// deterministic: its first port in use).
    pub since: Millis,
}

/// Push `l` at the front of the list starting at `head`; the new head.
fn list_push(blocks: &mut [Block], head: OptIndex, l: u32) -> OptIndex {
    if let Some(b) = blocks.get_mut(l as usize) {
        b.prev = OptIndex::NONE;
        b.next = head;
    }
    if let Some(h) = head.get().and_then(|h| blocks.get_mut(h as usize)) {
        h.prev = OptIndex::some(l);
    }
    OptIndex::some(l)
}

/// Unlink `l` from the list starting at `head`; the new head.
fn list_remove(blocks: &mut [Block], head: OptIndex, l: u32) -> OptIndex {
    let Some(&Block { prev, next, .. }) = blocks.get(l as usize) else {
        return head;
    };
    if let Some(p) = prev.get().and_then(|p| blocks.get_mut(p as usize)) {
        p.next = next;
    }
    if let Some(n) = next.get().and_then(|n| blocks.get_mut(n as usize)) {
        n.prev = prev;
    }
    if let Some(b) = blocks.get_mut(l as usize) {
        b.prev = OptIndex::NONE;
        b.next = OptIndex::NONE;
    }
    if head == OptIndex::some(l) {
        next
    } else {
        head
    }
}

/// Subscriber -> its block list: open addressing, linear probing,
/// backward-shift deletion, at most half full, the entries in the slots.
///
/// Not the crate's [`HashIndex`](crate::index::HashIndex): on that (the
/// entries in arrays, found through the index) a new subscriber's first
/// port and its last block's release took 67 and 114 more instructions
/// (callgrind, `cargo bench --bench nat64` case `new-udp-session/empty`:
/// 1135 against 1068 per allocation, 544 against 430 per release), for a
/// map that every new flow looks up.
#[derive(Debug)]
struct SubMap {
    keys: Vec<u128>,
    /// First block of the subscriber's list; none: empty slot.
    head: Vec<OptIndex>,
    count: Vec<u32>,
    /// The subscriber's address (paired pooling).
    addr: Vec<u32>,
    /// When its last SubscriberLimit event was queued.
    limit_at: Vec<Option<Millis>>,
    /// Its block-rate schedule (GCRA): when its next block is due.
    block_due: Vec<Millis>,
    mask: usize,
    len: usize,
}

impl SubMap {
    fn new(max_entries: usize) -> SubMap {
        let size = (max_entries.max(1) * 2).next_power_of_two();
        SubMap {
            keys: vec![0; size],
            head: vec![OptIndex::NONE; size],
            count: vec![0; size],
            addr: vec![0; size],
            limit_at: vec![None; size],
            block_due: vec![0; size],
            mask: size - 1,
            len: 0,
        }
    }

    fn home(&self, key: u128) -> usize {
        // Decorrelated from subscriber_worker, which uses the high bits.
        (mix64((key as u64) ^ mix64((key >> 64) as u64) ^ 0x6a09_e667_f3bc_c908) as usize)
            & self.mask
    }

    fn find(&self, key: u128) -> Option<usize> {
        let mut i = self.home(key);
        for _ in 0..=self.mask {
            if self.head.get(i)?.is_none() {
                return None;
            }
            if self.keys.get(i) == Some(&key) {
                return Some(i);
            }
            i = (i + 1) & self.mask;
        }
        None
    }

    /// Insert a key known to be absent, with its first block `head` on
    /// address index `addr` and its next block due at `due`; `None` only if the map is full (cannot happen
    /// at the sizes `PortAllocator` uses: a subscriber holds a block).
    fn insert(&mut self, key: u128, head: u32, addr: u32, due: Millis) -> Option<usize> {
        let mut i = self.home(key);
        for _ in 0..=self.mask {
            if self.head.get(i)?.is_none() {
                self.keys[i] = key;
                self.head[i] = OptIndex::some(head);
                self.count[i] = 1;
                self.addr[i] = addr;
                self.limit_at[i] = None;
                self.block_due[i] = due;
                self.len += 1;
                return Some(i);
            }
            i = (i + 1) & self.mask;
        }
        None
    }

    /// Removes slot `i` (one `find` or `insert` returned): backward-shift
    /// deletion (Knuth, TAOCP vol. 3, 6.4, Algorithm R), no tombstones.
    fn remove(&mut self, mut i: usize) {
        let mut j = i;
        loop {
            j = (j + 1) & self.mask;
            if self.head[j].is_none() {
                break;
            }
            let k = self.home(self.keys[j]);
            // Entry j stays if its home lies cyclically in (i, j].
            let stays = if i <= j {
                i < k && k <= j
            } else {
                i < k || k <= j
            };
            if !stays {
                self.keys[i] = self.keys[j];
                self.head[i] = self.head[j];
                self.count[i] = self.count[j];
                self.addr[i] = self.addr[j];
                self.limit_at[i] = self.limit_at[j];
                self.block_due[i] = self.block_due[j];
                i = j;
            }
        }
        self.head[i] = OptIndex::NONE;
        self.len -= 1;
    }
}

/// Addresses bucketed by their number of free blocks, so the emptiest
/// address is found in O(1) (counts change by one at a time).
#[derive(Debug)]
struct FreeBuckets {
    /// Per free count: the first address with that many free blocks.
    head: Vec<OptIndex>,
    /// Per address: its neighbours in its bucket.
    prev: Vec<OptIndex>,
    next: Vec<OptIndex>,
    max: usize,
}

impl FreeBuckets {
    fn new(n_addrs: usize, max_count: usize) -> FreeBuckets {
        FreeBuckets {
            head: vec![OptIndex::NONE; max_count + 2],
            prev: vec![OptIndex::NONE; n_addrs],
            next: vec![OptIndex::NONE; n_addrs],
            max: 0,
        }
    }

    fn unlink(&mut self, a: u32, count: usize) {
        let (p, n) = (self.prev[a as usize], self.next[a as usize]);
        if let Some(np) = n.get().and_then(|n| self.prev.get_mut(n as usize)) {
            *np = p;
        }
        match p.get().and_then(|p| self.next.get_mut(p as usize)) {
            Some(pn) => *pn = n,
            None => {
                if let Some(h) = self.head.get_mut(count) {
                    *h = n;
                }
            }
        }
    }

    fn link(&mut self, a: u32, count: usize) {
        let Some(&h) = self.head.get(count) else {
            return;
        };
        self.prev[a as usize] = OptIndex::NONE;
        self.next[a as usize] = h;
        if let Some(hp) = h.get().and_then(|h| self.prev.get_mut(h as usize)) {
            *hp = OptIndex::some(a);
        }
        self.head[count] = OptIndex::some(a);
    }

    /// Address `a`'s free count went from `old` to `new` (differing by 1).
    fn moved(&mut self, a: u32, old: usize, new: usize) {
        if old > 0 {
            self.unlink(a, old);
        }
        if new > 0 {
            self.link(a, new);
        }
        // Up past the top, or down from a top bucket left empty.
        if new > self.max || (old == self.max && self.head.get(old) == Some(&OptIndex::NONE)) {
            self.max = new;
        }
    }

    /// An address with the most free blocks.
    fn best(&self) -> Option<u32> {
        if self.max == 0 {
            return None;
        }
        self.head.get(self.max).and_then(|a| a.get())
    }
}

/// One worker's allocator: its share of blocks, per-subscriber block lists,
/// per-block per-protocol port bitmaps, the 120 s hold-down queue, the
/// event queue.
#[derive(Debug)]
pub struct PortAllocator {
    layout: PoolLayout,
    worker: u16,
    n: u32,
    prefix_len: u8,
    max_blocks: u32,
    paired: bool,
    /// Offsets and ports keep the < 1024 / >= 1024 class (the pool holds both).
    split_classes: bool,
    /// Bitmap words per block and protocol.
    wpb: usize,
    blocks: Vec<Block>,
    bits: Vec<u64>,
    /// Deterministic: slot -> its first local block (none: another worker's).
    local_of_slot: Vec<OptIndex>,
    /// Deterministic: local block -> global block.
    global_of_local: Vec<u32>,
    /// Per address: free lists of blocks with well-known ports (index 1,
    /// only when the pool range holds both classes) and without (index 0).
    free_head: Vec<[OptIndex; 2]>,
    free_count: Vec<u32>,
    buckets: FreeBuckets,
    /// Hold-down FIFO of (local block, reusable at), a ring.
    hold: Vec<(u32, Millis)>,
    hold_start: usize,
    hold_len: usize,
    subs: SubMap,
    events: EventQueue,
    /// When the last PoolExhausted event was queued.
    exhausted_at: Option<Millis>,
    /// New blocks per second this worker may hand out
    /// (`pool4.block_allocations_per_second`), a token bucket holding at
    /// most one second's worth: tokens in thousandths, and when they were
    /// last refilled.
    block_rate: u64,
    block_tokens: u64,
    block_refilled_at: Millis,
    in_use: usize,
    /// `in_use` per pool address (index = address index), for the metrics.
    in_use_by_addr: Vec<u32>,
    free: usize,
}

/// What a port search inside one block prefers: the port the flow asks
/// for, and whether to keep its parity (RFC 4787 §4.2.2) and its
/// well-known or not class (RFC 4787 §4.2.1).
#[derive(Debug, Clone, Copy)]
struct PortPreference {
    port: u16,
    keep_parity: bool,
    keep_class: bool,
}

impl PortAllocator {
    /// Worker `worker`'s allocator over `layout` (whose worker count wins
    /// over `n_workers` should they differ). Every table is allocated here;
    /// the layout's static entries are already reserved.
    pub fn new(
        layout: &PoolLayout,
        cfg: &config::Pool4,
        worker: u16,
        n_workers: u16,
        event_capacity: usize,
    ) -> Self {
        let _ = n_workers;
        let n = u32::from(layout.n_workers);
        let w = u32::from(worker);
        let bpa = layout.blocks_per_addr;
        let mut local_of_slot = Vec::new();
        let mut global_of_local = Vec::new();
        let n_local = match &layout.deterministic {
            None => {
                if w < layout.total_blocks {
                    (layout.total_blocks - w - 1) / n + 1
                } else {
                    0
                }
            }
            Some(d) => {
                local_of_slot = vec![OptIndex::NONE; layout.slot_owner.len()];
                let mut next = 0u32;
                for (k, &o) in layout.slot_owner.iter().enumerate() {
                    if o == worker {
                        local_of_slot[k] = OptIndex::some(next);
                        let first = d.first_block(k as u64, bpa);
                        global_of_local.extend(first..first + d.slot_blocks);
                        next += d.slot_blocks;
                    }
                }
                next
            }
        };
        let wpb = (layout.block_size as usize).div_ceil(64);
        let empty = Block {
            sub: Subscriber(Ipv6Addr::UNSPECIFIED),
            prev: OptIndex::NONE,
            next: OptIndex::NONE,
            used: [0; 3],
            state: BlockState::Free,
            reserved: false,
            since: 0,
        };
        let n_addrs = layout.n_addrs as usize;
        let per_addr = (bpa / n + 1) as usize;
        let mut a = PortAllocator {
            layout: layout.clone(),
            worker,
            n,
            prefix_len: cfg.subscriber_prefix_len,
            max_blocks: cfg.max_blocks_per_subscriber.max(1),
            paired: cfg.paired,
            split_classes: layout.port_first < 1024 && layout.port_last >= 1024,
            wpb,
            blocks: vec![empty; n_local as usize],
            bits: vec![0; n_local as usize * 3 * wpb],
            local_of_slot,
            global_of_local,
            free_head: vec![[OptIndex::NONE; 2]; n_addrs],
            free_count: vec![0; n_addrs],
            buckets: FreeBuckets::new(n_addrs, per_addr),
            hold: vec![(0, 0); n_local as usize],
            hold_start: 0,
            hold_len: 0,
            subs: SubMap::new(if layout.deterministic.is_some() {
                1
            } else {
                n_local as usize
            }),
            events: EventQueue::new(event_capacity),
            exhausted_at: None,
            block_rate: u64::from(cfg.block_allocations_per_second),
            block_tokens: u64::from(cfg.block_allocations_per_second) * 1000,
            block_refilled_at: 0,
            in_use: 0,
            in_use_by_addr: vec![0; layout.address_count() as usize],
            free: 0,
        };
        if layout.deterministic.is_none() {
            // Highest first, so the lowest block of each address pops first.
            for l in (0..n_local).rev() {
                if layout.is_static_block(BlockId(a.global(l))) {
                    a.blocks[l as usize].state = BlockState::Reserved;
                } else {
                    a.push_free(l);
                }
            }
        } else {
            a.free = n_local as usize;
        }
        for s in &layout.statics {
            let proto = [L4::Tcp, L4::Udp, L4::Icmp][s.proto as usize % 3];
            a.reserve_static(Ipv4Addr::from(s.addr), s.port, proto);
        }
        a
    }

    /// Global block of local block `l`.
    fn global(&self, l: u32) -> u32 {
        match self.layout.deterministic {
            None => l * self.n + u32::from(self.worker),
            Some(_) => self.global_of_local.get(l as usize).copied().unwrap_or(0),
        }
    }

    /// Local block holding `(a, port)`, if this worker owns it.
    fn local_of(&self, a: Ipv4Addr, port: u16) -> Option<u32> {
        let b = self.layout.block_of(a, port)?.0;
        match &self.layout.deterministic {
            None => (b % self.n == u32::from(self.worker)).then_some(b / self.n),
            Some(d) => {
                let k = d.slot_of_block(b, self.layout.blocks_per_addr)?;
                let base = self.local_of_slot.get(k as usize)?.get()?;
                Some(base + (b % self.layout.blocks_per_addr) % d.slot_blocks)
            }
        }
    }

    /// Address index of local block `l`.
    fn addr_of(&self, l: u32) -> u32 {
        self.global(l) / self.layout.blocks_per_addr
    }

    /// Block `l` became in use (`up`) or stopped being: the totals, and
    /// its address's.
    fn count_in_use(&mut self, l: u32, up: bool) {
        let a = self.addr_of(l) as usize;
        if up {
            self.in_use += 1;
        } else {
            self.in_use -= 1;
        }
        if let Some(n) = self.in_use_by_addr.get_mut(a) {
            *n = if up { *n + 1 } else { n.saturating_sub(1) };
        }
    }

    /// 1 if block `l` holds well-known ports and the pool also has others.
    fn class_of(&self, l: u32) -> usize {
        let (_, first, _) = self.layout.block_range(BlockId(self.global(l)));
        usize::from(self.split_classes && first < 1024)
    }

    /// Put `l` on its address's free list.
    fn push_free(&mut self, l: u32) {
        let a = self.addr_of(l) as usize;
        let c = self.class_of(l);
        let (Some(&[h0, h1]), Some(&n)) = (self.free_head.get(a), self.free_count.get(a)) else {
            return;
        };
        let head = [h0, h1][c];
        self.free_head[a][c] = list_push(&mut self.blocks, head, l);
        self.blocks[l as usize].state = BlockState::Free;
        self.free_count[a] = n + 1;
        self.buckets.moved(a as u32, n as usize, n as usize + 1);
        self.free += 1;
    }

    /// Take `l` off its address's free list.
    fn unlink_free(&mut self, l: u32) {
        let a = self.addr_of(l) as usize;
        let c = self.class_of(l);
        let (Some(&[h0, h1]), Some(&n)) = (self.free_head.get(a), self.free_count.get(a)) else {
            return;
        };
        let head = [h0, h1][c];
        self.free_head[a][c] = list_remove(&mut self.blocks, head, l);
        self.free_count[a] = n - 1;
        self.buckets.moved(a as u32, n as usize, n as usize - 1);
        self.free -= 1;
    }

    /// A free block of address `a`, of the class `proto`/`want_port` asks
    /// for if there is one (ICMP and other ports spare the well-known ones).
    fn pop_free(&mut self, a: u32, proto: L4, want_port: u16) -> Option<u32> {
        let heads = *self.free_head.get(a as usize)?;
        let c = usize::from(proto != L4::Icmp && want_port < 1024);
        let l = if heads[c].is_some() {
            heads[c]
        } else {
            heads[1 - c]
        };
        let l = l.get()?;
        self.unlink_free(l);
        Some(l)
    }

    /// The first free port offset of `l`/`pi` in `[from, to)` among `pat`'s bits.
    fn scan(&self, l: u32, pi: usize, from: u32, to: u32, pat: u64) -> Option<u32> {
        if from >= to {
            return None;
        }
        let base = (l as usize * 3 + pi) * self.wpb;
        let (fw, lw) = (from / 64, (to - 1) / 64);
        for wi in fw..=lw {
            let mut free = !*self.bits.get(base + wi as usize)? & pat;
            if wi == fw {
                free &= u64::MAX << (from % 64);
            }
            if wi == lw {
                free &= u64::MAX >> (63 - (to - 1) % 64);
            }
            if free != 0 {
                return Some(wi * 64 + free.trailing_zeros());
            }
        }
        None
    }

    /// A free port of block `l` for `pref`, as an offset: the first at or
    /// after the wanted port's offset, wrapping, of the wanted parity and
    /// class where asked.
    fn find(&self, l: u32, pi: usize, pref: PortPreference) -> Option<u32> {
        let bs = self.layout.block_size;
        let (_, first, _) = self.layout.block_range(BlockId(self.global(l)));
        let (first, port) = (u32::from(first), u32::from(pref.port));
        let (mut lo, mut hi) = (0, bs);
        if pref.keep_class && self.split_classes {
            let split = 1024u32.saturating_sub(first).min(bs);
            if port < 1024 {
                hi = split;
            } else {
                lo = split;
            }
        }
        let pat = if pref.keep_parity && bs > 1 {
            // Offset parity giving the wanted port parity.
            if (port ^ first) & 1 == 0 {
                0x5555_5555_5555_5555
            } else {
                0xaaaa_aaaa_aaaa_aaaa
            }
        } else {
            u64::MAX
        };
        let pref = if (first..first + bs).contains(&port) {
            port - first
        } else {
            port % bs
        };
        let start = if (lo..hi).contains(&pref) { pref } else { lo };
        self.scan(l, pi, start, hi, pat)
            .or_else(|| self.scan(l, pi, lo, start, pat))
    }

    /// Mark offset `off` of `l` used for protocol `pi` at `now`; the
    /// (addr, port).
    fn take(&mut self, l: u32, pi: usize, off: u32, now: Millis) -> (Ipv4Addr, u16) {
        let i = (l as usize * 3 + pi) * self.wpb + off as usize / 64;
        if let Some(w) = self.bits.get_mut(i) {
            *w |= 1 << (off % 64);
        }
        let deterministic = self.layout.deterministic.is_some();
        let first = self.blocks.get_mut(l as usize).is_some_and(|b| {
            let first = b.used == [0; 3] && deterministic;
            b.used[pi] += 1;
            if first {
                b.since = now;
            }
            first
        });
        if first {
            self.count_in_use(l, true);
            self.free -= 1;
        }
        let (addr, first, _) = self.layout.block_range(BlockId(self.global(l)));
        (addr, first + off as u16)
    }

    /// Whether offset `off` of `l` is free for protocol `pi`.
    fn is_free(&self, l: u32, pi: usize, off: u32) -> bool {
        let i = (l as usize * 3 + pi) * self.wpb + off as usize / 64;
        self.bits.get(i).is_some_and(|w| w & (1 << (off % 64)) == 0)
    }

    /// The search levels for `proto`, strictest first: parity and class,
    /// parity, anything. ICMP identifiers: anything.
    fn levels(proto: L4) -> &'static [PortPreference] {
        const fn level(keep_parity: bool, keep_class: bool) -> PortPreference {
            PortPreference {
                port: 0,
                keep_parity,
                keep_class,
            }
        }
        const PORTS: [PortPreference; 3] =
            [level(true, true), level(true, false), level(false, false)];
        const IDS: [PortPreference; 1] = [level(false, false)];
        match proto {
            L4::Icmp => &IDS,
            L4::Tcp | L4::Udp => &PORTS,
        }
    }

    /// The next block of a walk from `l` after `steps` blocks: `run == 0`
    /// follows the subscriber's list, else `run` consecutive local blocks.
    fn step(&self, l: u32, steps: u32, run: u32) -> OptIndex {
        if run == 0 {
            self.blocks
                .get(l as usize)
                .map_or(OptIndex::NONE, |b| b.next)
        } else if steps < run {
            OptIndex::some(l + 1)
        } else {
            OptIndex::NONE
        }
    }

    /// A free port at the first of `levels` that has one, over the blocks
    /// walked from `first` (see [`step`](Self::step); at most `max_blocks`).
    fn search(
        &self,
        first: OptIndex,
        pi: usize,
        want_port: u16,
        levels: &[PortPreference],
        run: u32,
    ) -> Option<(u32, u32)> {
        // No blocks (a new subscriber): nothing to walk, decided before
        // the walk's set-up.
        let first = first.get()?;
        for level in levels {
            let pref = PortPreference {
                port: want_port,
                ..*level
            };
            let (mut l, mut steps) = (first, 0);
            while steps < self.max_blocks {
                if let Some(off) = self.find(l, pi, pref) {
                    return Some((l, off));
                }
                steps += 1;
                match self.step(l, steps, run).get() {
                    Some(next) => l = next,
                    None => break,
                }
            }
        }
        None
    }

    /// The wanted port if free in the blocks walked from `start`.
    fn wanted(&self, start: OptIndex, pi: usize, want_port: u16, run: u32) -> Option<(u32, u32)> {
        // No blocks (a new subscriber): decided before the walk's set-up.
        let (mut l, mut steps) = (start.get()?, 0);
        while steps < self.max_blocks {
            let (_, first, last) = self.layout.block_range(BlockId(self.global(l)));
            if (first..=last).contains(&want_port) {
                let off = u32::from(want_port - first);
                return self.is_free(l, pi, off).then_some((l, off));
            }
            steps += 1;
            l = self.step(l, steps, run).get()?;
        }
        None
    }

    /// A free (addr, port) for a new BIB entry of `sub` (RFC 6146
    /// §3.5.1.1 / RFC 4787): `want_port` itself if free in the subscriber's
    /// blocks (on their address), else one of the same parity and, if the
    /// pool range holds both, the same privileged/non-privileged class.
    /// Takes a new block (paired: on the subscriber's address; a first
    /// block on the address with the most free blocks) when its blocks
    /// have no such port; only at the block limit or with no free block
    /// does it settle for another parity or class. ICMP identifiers are
    /// allocated the same way, without parity or class. Deterministic:
    /// inside the subscriber's RFC 7422 range only, no events.
    /// Errors queue a rate-limited refusal event (dynamic only).
    pub fn allocate(
        &mut self,
        sub: Subscriber,
        proto: L4,
        want_port: u16,
        now: Millis,
    ) -> Result<(Ipv4Addr, u16), AllocError> {
        let sub = Subscriber::of(&sub.0, self.prefix_len);
        let pi = proto_index(proto);
        let levels = Self::levels(proto);
        if let Some(d) = self.layout.deterministic {
            // RFC 7422: only inside the subscriber's own range.
            let k = d.index_of(sub).ok_or(AllocError::PoolExhausted)?;
            // None: the slot is another worker's.
            let base = *self
                .local_of_slot
                .get(k as usize)
                .filter(|b| b.is_some())
                .ok_or(AllocError::PoolExhausted)?;
            let found = self
                .wanted(base, pi, want_port, d.slot_blocks)
                .or_else(|| self.search(base, pi, want_port, levels, d.slot_blocks));
            return match found {
                Some((l, off)) => Ok(self.take(l, pi, off, now)),
                None => Err(AllocError::SubscriberLimit),
            };
        }
        let key = u128::from(sub.0);
        let slot = self.subs.find(key);
        let (head, count, sub_addr) = match slot {
            Some(s) => (
                self.subs.head[s],
                self.subs.count[s],
                OptIndex::some(self.subs.addr[s]),
            ),
            None => (OptIndex::NONE, 0, OptIndex::NONE),
        };
        if let Some((l, off)) = self
            .wanted(head, pi, want_port, 0)
            .or_else(|| self.search(head, pi, want_port, &levels[..1], 0))
        {
            return Ok(self.take(l, pi, off, now));
        }
        // A new block: paired pooling keeps the subscriber's address.
        let free_on_sub_addr =
            sub_addr.get().and_then(|a| self.free_count.get(a as usize)) > Some(&0);
        let addr = if count >= self.max_blocks {
            None
        } else if count > 0 && (self.paired || free_on_sub_addr) {
            sub_addr.get().filter(|_| free_on_sub_addr)
        } else {
            self.buckets.best()
        };
        let due = slot.map_or(now, |s| self.subs.block_due[s]);
        let rate_ok = addr.is_some() && self.block_rate_admits(due, now);
        // The aggregate's share, shared with the other workers: taken
        // before the block, given back if no block comes of it.
        let shares = self.layout.aggregates.clone();
        let share_ok = !rate_ok || shares.as_ref().is_none_or(|g| g.try_take(&sub));
        let Some(a) = addr.filter(|_| rate_ok && share_ok) else {
            // No new block: settle for another parity or class.
            if let Some((l, off)) = self.search(head, pi, want_port, &levels[1..], 0) {
                return Ok(self.take(l, pi, off, now));
            }
            if addr.is_some() {
                return Err(if share_ok {
                    AllocError::RateLimited
                } else {
                    AllocError::AggregateLimit
                });
            }
            return Err(self.refused(slot, sub, sub_addr, count, now));
        };
        let Some(l) = self.pop_free(a, proto, want_port) else {
            if let Some(g) = &shares {
                g.give_back(&sub);
            }
            return Err(self.refused(slot, sub, sub_addr, count, now));
        };
        // The block is taken: one token of the worker's, and the
        // subscriber's schedule moves on by one interval.
        self.block_tokens -= 1000;
        let next_due = due.max(now) + SUBSCRIBER_BLOCK_INTERVAL;
        let new_head = list_push(&mut self.blocks, head, l);
        if let Some(b) = self.blocks.get_mut(l as usize) {
            b.state = BlockState::InUse;
            b.sub = sub;
            b.used = [0; 3];
            b.since = now;
        }
        match slot {
            Some(s) => {
                self.subs.head[s] = new_head;
                self.subs.count[s] += 1;
                self.subs.block_due[s] = next_due;
            }
            None => {
                self.subs.insert(key, l, a, next_due);
            }
        }
        self.count_in_use(l, true);
        let (addr, first_port, last_port) = self.layout.block_range(BlockId(self.global(l)));
        self.events.push(BlockEvent {
            time: now,
            kind: BlockEventKind::Allocated,
            subscriber: sub,
            prefix_len: self.prefix_len,
            addr,
            first_port,
            last_port,
        });
        // The new block has every port free: the wanted one, or a search
        // of it alone at each level (the first level that finds one).
        let found = self
            .wanted(new_head, pi, want_port, 1)
            .or_else(|| self.search(new_head, pi, want_port, levels, 1));
        match found {
            Some((l, off)) => Ok(self.take(l, pi, off, now)),
            None => Err(AllocError::PoolExhausted),
        }
    }

    /// Whether a new block may be handed out at `now` to a subscriber
    /// whose next block is due at `due`: the subscriber's schedule (GCRA,
    /// ITU-T I.371: up to [`SUBSCRIBER_BLOCK_BURST`] ahead of it) and a
    /// token of the worker's bucket (refilled here, at
    /// `block_allocations_per_second`, up to one second's worth). Takes
    /// nothing: `allocate` does once the block is had.
    fn block_rate_admits(&mut self, due: Millis, now: Millis) -> bool {
        let elapsed = now.saturating_sub(self.block_refilled_at);
        self.block_refilled_at = self.block_refilled_at.max(now);
        let cap = self.block_rate * 1000;
        self.block_tokens = (self
            .block_tokens
            .saturating_add(elapsed.saturating_mul(self.block_rate)))
        .min(cap);
        let tolerance = (SUBSCRIBER_BLOCK_BURST - 1) * SUBSCRIBER_BLOCK_INTERVAL;
        due <= now + tolerance && self.block_tokens >= 1000
    }

    /// Why `sub` (in map slot `slot`, `count` blocks on address index
    /// `sub_addr`) gets no port, with its rate-limited event.
    fn refused(
        &mut self,
        slot: Option<usize>,
        sub: Subscriber,
        sub_addr: OptIndex,
        count: u32,
        now: Millis,
    ) -> AllocError {
        let due = |last: Option<Millis>| last.is_none_or(|t| now >= t + REFUSAL_EVENT_INTERVAL);
        let (err, kind) = if count >= self.max_blocks {
            let Some(last) = slot.and_then(|s| self.subs.limit_at.get_mut(s)) else {
                return AllocError::SubscriberLimit;
            };
            if !due(*last) {
                return AllocError::SubscriberLimit;
            }
            *last = Some(now);
            (AllocError::SubscriberLimit, BlockEventKind::SubscriberLimit)
        } else {
            if !due(self.exhausted_at) {
                return AllocError::PoolExhausted;
            }
            self.exhausted_at = Some(now);
            (AllocError::PoolExhausted, BlockEventKind::PoolExhausted)
        };
        let addr = sub_addr
            .get()
            .and_then(|a| self.layout.address(a))
            .unwrap_or(Ipv4Addr::UNSPECIFIED);
        self.events.push(BlockEvent {
            time: now,
            kind,
            subscriber: sub,
            prefix_len: self.prefix_len,
            addr,
            first_port: 0,
            last_port: 0,
        });
        err
    }

    /// Frees a port; a block whose last port (all protocols) is freed is
    /// released: Released event, then held down 120 s (RFC 6888 REQ-8)
    /// before reuse. Freeing a port that is not `sub`'s or not in use does
    /// nothing. Deterministic: the port is just free again.
    pub fn release(&mut self, sub: Subscriber, proto: L4, addr: Ipv4Addr, port: u16, now: Millis) {
        let sub = Subscriber::of(&sub.0, self.prefix_len);
        let pi = proto_index(proto);
        let Some(l) = self.local_of(addr, port) else {
            return;
        };
        let (_, first, _) = self.layout.block_range(BlockId(self.global(l)));
        let off = u32::from(port - first);
        let deterministic = self.layout.deterministic.is_some();
        let mine = match (&self.layout.deterministic, self.blocks.get(l as usize)) {
            // Deterministic: a port of the subscriber's own range.
            (Some(d), Some(_)) => d.index_of(sub).is_some_and(|k| {
                let b = self.global(l);
                d.slot_of_block(b, self.layout.blocks_per_addr) == Some(k)
            }),
            (None, Some(b)) => b.state == BlockState::InUse && b.sub == sub,
            (_, None) => false,
        };
        // A static entry's port is never freed.
        let static_port = self.layout.is_static_block(BlockId(self.global(l)))
            && self.layout.static_owner(addr, port, proto).is_some();
        if !mine || static_port {
            return;
        }
        if self.is_free(l, pi, off) {
            return;
        }
        let i = (l as usize * 3 + pi) * self.wpb + off as usize / 64;
        self.bits[i] &= !(1 << (off % 64));
        let b = &mut self.blocks[l as usize];
        b.used[pi] -= 1;
        if b.used != [0; 3] {
            return;
        }
        if deterministic {
            self.count_in_use(l, false);
            self.free += 1;
            return;
        }
        self.release_block(l, sub, now);
    }

    /// Block `l` of `sub` has no port left: off the subscriber, Released
    /// event, into hold-down.
    fn release_block(&mut self, l: u32, sub: Subscriber, now: Millis) {
        if let Some(g) = &self.layout.aggregates {
            g.give_back(&sub);
        }
        let key = u128::from(sub.0);
        if let Some(s) = self.subs.find(key) {
            self.subs.head[s] = list_remove(&mut self.blocks, self.subs.head[s], l);
            self.subs.count[s] -= 1;
            if self.subs.count[s] == 0 {
                self.subs.remove(s);
            }
        }
        self.count_in_use(l, false);
        let (addr, first_port, last_port) = self.layout.block_range(BlockId(self.global(l)));
        self.events.push(BlockEvent {
            time: now,
            kind: BlockEventKind::Released,
            subscriber: sub,
            prefix_len: self.prefix_len,
            addr,
            first_port,
            last_port,
        });
        let b = &mut self.blocks[l as usize];
        if b.reserved {
            b.state = BlockState::Reserved;
            return;
        }
        b.state = BlockState::HeldDown;
        let cap = self.hold.len();
        if cap > 0 && self.hold_len < cap {
            self.hold[(self.hold_start + self.hold_len) % cap] = (l, now + HOLD_DOWN);
            self.hold_len += 1;
        }
    }

    /// Reserve a port for a static BIB entry (never allocated
    /// dynamically): dynamic, its whole block leaves circulation (now if
    /// free, else when released); deterministic, the port itself is marked
    /// used in its subscriber's range. Not this worker's block: nothing.
    /// `new` already reserves the layout's static entries.
    pub fn reserve_static(&mut self, addr: Ipv4Addr, port: u16, proto: L4) {
        let Some(l) = self.local_of(addr, port) else {
            return;
        };
        if self.layout.deterministic.is_some() {
            let (_, first, _) = self.layout.block_range(BlockId(self.global(l)));
            let pi = proto_index(proto);
            let off = u32::from(port - first);
            if self.is_free(l, pi, off) {
                // Reserved from start-up: in use since millisecond 0.
                self.take(l, pi, off, 0);
            }
            return;
        }
        match self.blocks.get(l as usize).map(|b| b.state) {
            Some(BlockState::Free) => {
                self.unlink_free(l);
                self.blocks[l as usize].state = BlockState::Reserved;
            }
            Some(BlockState::InUse | BlockState::HeldDown) => {
                self.blocks[l as usize].reserved = true;
            }
            _ => {}
        }
    }

    /// A reload's layout ([`PoolLayout::with_static_bib`]): the same pool,
    /// other static entries. The caller reserves the added entries' ports
    /// ([`PortAllocator::reserve_static`]).
    pub fn set_layout(&mut self, layout: &PoolLayout) {
        self.layout = layout.clone();
    }

    /// A reload's `pool4.max_blocks_per_subscriber` (dynamic allocation):
    /// a subscriber holding more keeps its blocks and mappings, new
    /// mappings are sought in its first `max_blocks` blocks, and it gets
    /// no new block until it is below the cap.
    pub fn set_max_blocks(&mut self, max_blocks: u32) {
        self.max_blocks = max_blocks.max(1);
    }

    /// A reload's `pool4.block_allocations_per_second` (at least 1): the
    /// bucket keeps what it holds, up to the new second's worth.
    pub fn set_block_rate(&mut self, per_second: u32) {
        self.block_rate = u64::from(per_second.max(1));
        self.block_tokens = self.block_tokens.min(self.block_rate * 1000);
    }

    /// Moves blocks whose hold-down ended by `now` back to their free list.
    pub fn tick(&mut self, now: Millis) {
        let cap = self.hold.len();
        while self.hold_len > 0 {
            let (l, until) = self.hold[self.hold_start];
            if until > now {
                break;
            }
            self.hold_start = (self.hold_start + 1) % cap;
            self.hold_len -= 1;
            if self.blocks[l as usize].reserved {
                self.blocks[l as usize].state = BlockState::Reserved;
            } else {
                self.push_free(l);
            }
        }
    }

    /// The block events waiting for the control side.
    pub fn events(&mut self) -> &mut EventQueue {
        &mut self.events
    }

    /// Blocks held by subscribers (deterministic: with a port in use).
    pub fn blocks_in_use(&self) -> usize {
        self.in_use
    }

    /// Blocks held by subscribers per pool address (index = address
    /// index, [`PoolLayout::address`]).
    pub fn blocks_in_use_by_address(&self) -> &[u32] {
        &self.in_use_by_addr
    }

    /// Blocks ready to hand out (not in use, not held down, not reserved).
    pub fn blocks_free(&self) -> usize {
        self.free
    }

    /// Blocks waiting out their hold-down.
    pub fn blocks_held_down(&self) -> usize {
        self.hold_len
    }

    /// This worker's share of blocks.
    pub fn blocks_total(&self) -> usize {
        self.blocks.len()
    }

    /// Subscribers holding blocks (deterministic: 0, nothing is kept per
    /// subscriber).
    pub fn subscribers(&self) -> usize {
        self.subs.len
    }

    /// This allocator's worker.
    pub fn worker(&self) -> u16 {
        self.worker
    }

    /// The blocks in use among this worker's blocks `slots` (cut to
    /// [`PortAllocator::blocks_total`]), in slot order, each with its slot:
    /// a walk that resumes after the last slot it saw. O(`slots.len()`),
    /// for inspection.
    pub fn blocks_in(&self, slots: Range<usize>) -> impl Iterator<Item = (usize, BlockInUse)> + '_ {
        let end = slots.end.min(self.blocks.len());
        let start = slots.start.min(end);
        let deterministic = self.layout.deterministic.is_some();
        (start..end)
            .zip(&self.blocks[start..end])
            .filter_map(move |(i, b)| {
                let in_use = if deterministic {
                    b.used != [0; 3]
                } else {
                    b.state == BlockState::InUse
                };
                if !in_use {
                    return None;
                }
                let (addr, first_port, last_port) =
                    self.layout.block_range(BlockId(self.global(i as u32)));
                let owner = if deterministic {
                    self.layout.deterministic_subscriber(addr, first_port)?
                } else {
                    b.sub
                };
                Some((
                    i,
                    BlockInUse {
                        addr,
                        first_port,
                        size: u32::from(last_port - first_port) + 1,
                        owner,
                        since: b.since,
                    },
                ))
            })
    }
}

#[cfg(test)]
mod tests;
