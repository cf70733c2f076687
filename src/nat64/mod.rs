//! Stateful NAT64 (RFC 6146) with carrier-grade port blocks (RFC 6888,
//! RFC 7422). Pure Rust over byte slices: no DPDK here, so every rule is
//! tested and benchmarked without EAL.
//!
//! One [`pipeline::Worker`] per DPDK worker lcore owns its tables, its share
//! of the IPv4 pool and its counters (shared nothing). A subscriber (the
//! IPv6 source masked to `pool4.subscriber_prefix_len`) belongs to exactly
//! one worker ([`subscriber_worker`]); a port block belongs to the worker
//! that owns it ([`pool4::PoolLayout::owner`]). Time is always an argument
//! (`now`, monotonic milliseconds) so tests drive the clock.
//!
//! Layout: [`pipeline`] holds the `Worker` and its entry points; [`live`]
//! the settings a reload may change and how a worker applies them; `steps/`
//! one file per step of RFC 6146 §3.4-§3.8 (as Jool's `steps/`); `burst.rs`
//! the burst driver and the established fast path; `direction.rs` the two
//! directions as types, for the code written once for both; `fragments.rs`
//! the store of fragmented datagrams (§3.4); `held_syn.rs`
//! the §3.5.2.2 store of held IPv4 SYNs; `counters.rs` the counters and
//! drop reasons; [`tcp`] the §3.5.2.2 state machine; [`table`] the BIB and
//! session tables (§3.1, §3.2); [`pool4`] the IPv4 pool and its port
//! blocks (RFC 6888, RFC 7422).

mod burst;
mod counters;
mod direction;
mod fragments;
mod held_syn;
pub mod inspect;
pub mod live;
pub mod pipeline;
pub mod pool4;
mod steps;
pub mod table;
pub mod tcp;

use std::net::{Ipv4Addr, Ipv6Addr};

pub use crate::index::mix64;
pub use crate::xlat::L4;

/// Monotonic time in milliseconds.
pub type Millis = u64;

/// A subscriber: the IPv6 source address masked to
/// `pool4.subscriber_prefix_len` bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Subscriber(pub Ipv6Addr);

impl Subscriber {
    /// The subscriber `addr` belongs to.
    #[inline]
    pub fn of(addr: &Ipv6Addr, prefix_len: u8) -> Subscriber {
        let bits = u128::from(*addr);
        let mask = match prefix_len {
            0 => 0,
            n if n >= 128 => u128::MAX,
            n => !(u128::MAX >> n),
        };
        Subscriber(Ipv6Addr::from(bits & mask))
    }

    /// A stable 64-bit hash of the prefix (splitmix64 over both halves):
    /// the same on every run and every box, so ownership is reproducible.
    #[inline]
    pub fn hash64(&self) -> u64 {
        let v = u128::from(self.0);
        mix64(mix64(v as u64) ^ (v >> 64) as u64)
    }
}

/// `inside.subscribers`: the IPv6 prefixes the box serves. IPv6 from any
/// other source (for an ICMPv6 error: about a packet to any other
/// destination) is dropped before it can take a port or a session: the
/// unicast reverse-path check of BCP 38 (RFC 2827) and RFC 3704 §2.1 for
/// the inside, where every subscriber is behind the one port. The list is
/// short (`config::Inside::MAX_SUBSCRIBER_PREFIXES`) and checked in order:
/// one masked compare per prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Served {
    /// (network, mask) of each prefix.
    nets: Vec<(u128, u128)>,
    /// A prefix of length 0 is among them: every source is served, and
    /// the per-packet check is one test.
    any: bool,
}

impl Served {
    /// The prefixes of `inside` (any source when `inside.subscribers` is
    /// absent).
    pub fn from_config(inside: &crate::config::Inside) -> Served {
        let nets = inside
            .subscriber_prefixes()
            .iter()
            .map(|p| {
                let mask = Subscriber::of(&Ipv6Addr::from(u128::MAX), p.len).0;
                let mask = u128::from(mask);
                (u128::from(p.addr) & mask, mask)
            })
            .collect::<Vec<_>>();
        let any = nets.iter().any(|&(_, mask)| mask == 0);
        Served { nets, any }
    }

    /// Whether `addr` is under one of the prefixes.
    #[inline(always)]
    pub fn contains(&self, addr: &Ipv6Addr) -> bool {
        if self.any {
            return true;
        }
        let a = u128::from(*addr);
        self.nets.iter().any(|&(net, mask)| a & mask == net)
    }
}

/// The worker that owns `sub` among `n_workers` (at least 1).
#[inline]
pub fn subscriber_worker(sub: &Subscriber, n_workers: u16) -> u16 {
    let n = u64::from(n_workers.max(1));
    // Multiply-shift maps the hash onto 0..n without a division.
    ((u128::from(sub.hash64()) * u128::from(n)) >> 64) as u16
}

/// Timer classes, each with its own expiry list (RFC 6146 §3.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimerClass {
    Udp,
    TcpEstablished,
    TcpTransitory,
    Icmp,
    /// An IPv4-initiated SYN held waiting for the IPv6 side (§3.5.2.2).
    TcpIncomingSyn,
}

impl TimerClass {
    /// Every class, in `index()` order.
    pub const ALL: [TimerClass; 5] = [
        TimerClass::Udp,
        TimerClass::TcpEstablished,
        TimerClass::TcpTransitory,
        TimerClass::Icmp,
        TimerClass::TcpIncomingSyn,
    ];

    /// 0..5, for per-class arrays.
    #[inline]
    pub fn index(self) -> usize {
        self as usize
    }
}

/// `[timeouts]` in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    pub udp: Millis,
    pub tcp_established: Millis,
    pub tcp_transitory: Millis,
    pub icmp: Millis,
    pub tcp_incoming_syn: Millis,
}

impl Timeouts {
    /// From the configuration's `[timeouts]`.
    pub fn from_config(t: &crate::config::Timeouts) -> Timeouts {
        let ms = |d: std::time::Duration| d.as_millis().min(u128::from(u64::MAX)) as Millis;
        Timeouts {
            udp: ms(t.udp),
            tcp_established: ms(t.tcp_established),
            tcp_transitory: ms(t.tcp_transitory),
            icmp: ms(t.icmp),
            tcp_incoming_syn: ms(t.tcp_incoming_syn),
        }
    }

    /// The lifetime of a session in `class`.
    #[inline]
    pub fn of(&self, class: TimerClass) -> Millis {
        match class {
            TimerClass::Udp => self.udp,
            TimerClass::TcpEstablished => self.tcp_established,
            TimerClass::TcpTransitory => self.tcp_transitory,
            TimerClass::Icmp => self.icmp,
            TimerClass::TcpIncomingSyn => self.tcp_incoming_syn,
        }
    }

    /// The longest of them all: after this long with no traffic every
    /// dynamic entry has expired.
    pub fn longest(&self) -> Millis {
        TimerClass::ALL
            .iter()
            .map(|c| self.of(*c))
            .max()
            .unwrap_or(0)
    }
}

impl Default for Timeouts {
    /// The defaults of `[timeouts]` (RFC 6146 §4 recommendations).
    fn default() -> Self {
        Timeouts {
            udp: 300_000,
            tcp_established: 7_440_000,
            tcp_transitory: 240_000,
            icmp: 60_000,
            tcp_incoming_syn: 6_000,
        }
    }
}

/// TCP session states of RFC 6146 §3.5.2 (Figure 4). Non-TCP sessions
/// stay `Closed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum TcpState {
    #[default]
    Closed,
    V4Init,
    V6Init,
    Established,
    V4FinRcv,
    V6FinRcv,
    V4FinV6FinRcv,
    Trans,
}

/// What happened to a port block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockEventKind {
    Allocated,
    Released,
    /// A subscriber at `max_blocks_per_subscriber` was refused a port
    /// (`addr`: its address; ports 0-0). Rate-limited per subscriber.
    SubscriberLimit,
    /// No free block for a subscriber (`addr`: its paired address, or
    /// 0.0.0.0 for a new one; ports 0-0). Rate-limited per worker.
    PoolExhausted,
}

/// A port-block allocation or release (RFC 6888 REQ-12/13): who had which
/// ports of which address, when. Never a destination address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockEvent {
    pub time: Millis,
    pub kind: BlockEventKind,
    pub subscriber: Subscriber,
    pub prefix_len: u8,
    pub addr: Ipv4Addr,
    pub first_port: u16,
    pub last_port: u16,
}

/// A bounded FIFO of [`BlockEvent`]s that the control side drains. A full
/// queue drops the new event and counts it: the data path never blocks.
#[derive(Debug)]
pub struct EventQueue {
    ring: std::collections::VecDeque<BlockEvent>,
    capacity: usize,
    dropped: u64,
}

impl EventQueue {
    /// A queue holding at most `capacity` events (all memory allocated now).
    pub fn new(capacity: usize) -> EventQueue {
        EventQueue {
            ring: std::collections::VecDeque::with_capacity(capacity),
            capacity,
            dropped: 0,
        }
    }

    /// Queue `ev`; false (and counted) if the queue is full.
    pub fn push(&mut self, ev: BlockEvent) -> bool {
        if self.ring.len() >= self.capacity {
            self.dropped += 1;
            return false;
        }
        self.ring.push_back(ev);
        true
    }

    /// The oldest event.
    pub fn pop(&mut self) -> Option<BlockEvent> {
        self.ring.pop_front()
    }

    /// Takes every queued event, oldest first.
    pub fn drain(&mut self) -> impl Iterator<Item = BlockEvent> + '_ {
        self.ring.drain(..)
    }

    /// Events waiting.
    pub fn len(&self) -> usize {
        self.ring.len()
    }

    /// True if no event waits.
    pub fn is_empty(&self) -> bool {
        self.ring.is_empty()
    }

    /// Events lost to a full queue since start.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }
}

#[cfg(test)]
mod tests;
