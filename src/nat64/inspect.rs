//! Live inspection of one worker's NAT64 state: pages of its sessions
//! (RFC 6146 §3.2), BIB entries (§3.1) and port blocks (RFC 6888 REQ-12's
//! subjects), for the control side's inspection routes.
//!
//! What it promises:
//! - [`Worker::inspect`] reads the worker's own tables only, on the worker
//!   (the control side sends a [`Query`] and gets a [`Page`] back; it never
//!   touches the tables). It copies at most [`Query::limit`] rows and looks
//!   at no more than [`SCAN_SLOTS`] table slots per call, whatever the
//!   filter: a worker spends a bounded time on a request, between bursts.
//! - Pages are a resumable walk in slot order: [`Page::next`] is the slot
//!   to start the next call at (`None`: the walk is over). An entry that
//!   stays in the table while the walk goes on is shown exactly once;
//!   entries created or removed meanwhile may or may not be.
//! - A page may hold fewer than `limit` rows (even none) while `next` is
//!   `Some`: the slot budget ran out first. The caller asks again.
//!
//! Allocation happens here, for these rare requests only: the rows of one
//! page.

#[cfg(test)]
mod tests;

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use super::pipeline::Worker;
use super::{Millis, Subscriber, TcpState, L4};

/// Table slots one call looks at, at most.
pub const SCAN_SLOTS: usize = 65_536;

/// An IPv6 prefix (address and length, the bits past the length zero):
/// the subscriber filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Prefix {
    addr: Ipv6Addr,
    len: u8,
}

impl Prefix {
    /// `addr/len`, the bits past `len` cleared; `None` when `len` > 128.
    pub fn new(addr: Ipv6Addr, len: u8) -> Option<Prefix> {
        (len <= 128).then(|| Prefix {
            addr: Subscriber::of(&addr, len).0,
            len,
        })
    }

    /// Whether `a` is inside the prefix.
    pub fn contains(&self, a: &Ipv6Addr) -> bool {
        Subscriber::of(a, self.len).0 == self.addr
    }

    /// Whether the two prefixes share an address (one holds the other).
    pub fn overlaps(&self, other: &Prefix) -> bool {
        let len = self.len.min(other.len);
        Subscriber::of(&self.addr, len) == Subscriber::of(&other.addr, len)
    }
}

/// `2001:db8::/56`, or a bare address (a /128).
impl FromStr for Prefix {
    type Err = String;

    fn from_str(s: &str) -> Result<Prefix, String> {
        let (a, len) = match s.split_once('/') {
            Some((a, l)) => (
                a,
                l.parse::<u8>()
                    .map_err(|_| format!("bad prefix length in {s:?}"))?,
            ),
            None => (s, 128),
        };
        let addr: Ipv6Addr = a
            .parse()
            .map_err(|_| format!("{a:?} is not an IPv6 address"))?;
        Prefix::new(addr, len).ok_or_else(|| format!("prefix length {len} is over 128"))
    }
}

impl fmt::Display for Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

/// Which table a query walks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    Sessions,
    Bib,
    Blocks,
}

/// One page request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Query {
    pub table: Table,
    /// Only entries of subscribers inside this prefix (blocks: whose
    /// owner's prefix overlaps it).
    pub subscriber: Option<Prefix>,
    /// Only entries of this protocol (sessions and BIB; blocks hold every
    /// protocol).
    pub proto: Option<L4>,
    /// The slot to start at (0, or a previous page's `next`).
    pub from: usize,
    /// Rows wanted, at most.
    pub limit: usize,
}

/// A session (RFC 6146 §3.2) as inspection shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionRow {
    pub proto: L4,
    /// The subscriber's transport address (X',x).
    pub inside: (Ipv6Addr, u16),
    /// The pool transport address it is mapped to (T,t).
    pub outside: (Ipv4Addr, u16),
    /// The remote transport address (Z,z) ...
    pub remote: (Ipv4Addr, u16),
    /// ... and the IPv6 form the subscriber uses, Z in the NAT64 prefix
    /// (RFC 6052 §2.2).
    pub remote6: Ipv6Addr,
    /// The TCP state (RFC 6146 §3.5.2); `None` for UDP and ICMP.
    pub tcp: Option<TcpState>,
    /// Milliseconds left before it expires.
    pub expires_in: Millis,
}

/// A BIB entry (RFC 6146 §3.1) as inspection shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BibRow {
    pub proto: L4,
    pub inside: (Ipv6Addr, u16),
    pub outside: (Ipv4Addr, u16),
    /// Configured (`[[static_bib]]`).
    pub is_static: bool,
    /// Its sessions.
    pub sessions: u32,
}

/// A port block in use as inspection shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockRow {
    pub addr: Ipv4Addr,
    pub first_port: u16,
    pub size: u32,
    /// The owner's prefix (`pool4.subscriber_prefix_len` long).
    pub owner: Prefix,
    /// Milliseconds since it was taken into use.
    pub age: Millis,
}

/// The rows of one page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rows {
    Sessions(Vec<SessionRow>),
    Bib(Vec<BibRow>),
    Blocks(Vec<BlockRow>),
}

impl Rows {
    /// How many rows.
    pub fn len(&self) -> usize {
        match self {
            Rows::Sessions(r) => r.len(),
            Rows::Bib(r) => r.len(),
            Rows::Blocks(r) => r.len(),
        }
    }

    /// No row.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Keep the first `n` rows.
    pub fn truncate(&mut self, n: usize) {
        match self {
            Rows::Sessions(r) => r.truncate(n),
            Rows::Bib(r) => r.truncate(n),
            Rows::Blocks(r) => r.truncate(n),
        }
    }
}

/// One page of a walk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub rows: Rows,
    /// The slot of each row, in order: a walk that resumes at a row's
    /// slot shows that row again and everything after it.
    pub slots: Vec<usize>,
    /// Where the walk goes on; `None`: it is over.
    pub next: Option<usize>,
}

/// The rows among `items` (slot, entry) that `row` keeps, at most `limit`,
/// from a walk of slots `from..scan_end` of a table of `capacity` slots;
/// the rows, their slots and where the walk goes on.
fn page<T, R>(
    items: impl Iterator<Item = (usize, T)>,
    scan_end: usize,
    capacity: usize,
    limit: usize,
    mut row: impl FnMut(T) -> Option<R>,
) -> (Vec<R>, Vec<usize>, Option<usize>) {
    let mut rows = Vec::with_capacity(limit.min(1024));
    let mut slots = Vec::with_capacity(limit.min(1024));
    for (slot, item) in items {
        if rows.len() == limit {
            return (rows, slots, Some(slot));
        }
        if let Some(r) = row(item) {
            rows.push(r);
            slots.push(slot);
        }
    }
    (rows, slots, (scan_end < capacity).then_some(scan_end))
}

impl Worker {
    /// One page of this worker's `q.table` at millisecond `now` (see the
    /// module docs).
    pub fn inspect(&self, q: &Query, now: Millis) -> Page {
        let scan = q.from..q.from.saturating_add(SCAN_SLOTS);
        let sub_ok = |a: &Ipv6Addr| q.subscriber.is_none_or(|p| p.contains(a));
        let proto_ok = |p: L4| q.proto.is_none_or(|w| w == p);
        let t = &self.tables;
        let (rows, slots, next) = match q.table {
            Table::Sessions => {
                let cap = t.capacity();
                let items = t.sessions_in(scan.clone()).map(|(id, s)| (id.index(), s));
                let (rows, slots, next) = page(items, scan.end, cap, q.limit, |s| {
                    let b = t.bib(s.bib);
                    (sub_ok(&b.v6) && proto_ok(b.proto)).then(|| SessionRow {
                        proto: b.proto,
                        inside: (b.v6, b.v6_port),
                        outside: (b.v4, b.v4_port),
                        remote: (s.remote, s.remote_port),
                        remote6: self.prefix.embed(s.remote),
                        tcp: (b.proto == L4::Tcp).then_some(s.tcp),
                        expires_in: s.expires.saturating_sub(now),
                    })
                });
                (Rows::Sessions(rows), slots, next)
            }
            Table::Bib => {
                let cap = t.bib_capacity();
                let items = t.bibs_in(scan.clone()).map(|(id, b)| (id.index(), b));
                let (rows, slots, next) = page(items, scan.end, cap, q.limit, |b| {
                    (sub_ok(&b.v6) && proto_ok(b.proto)).then_some(BibRow {
                        proto: b.proto,
                        inside: (b.v6, b.v6_port),
                        outside: (b.v4, b.v4_port),
                        is_static: b.is_static,
                        sessions: b.sessions,
                    })
                });
                (Rows::Bib(rows), slots, next)
            }
            Table::Blocks => {
                let a = &self.alloc;
                let len = self.subscriber_len;
                let (rows, slots, next) = page(
                    a.blocks_in(scan.clone()),
                    scan.end,
                    a.blocks_total(),
                    q.limit,
                    |b| {
                        let owner = Prefix::new(b.owner.0, len)?;
                        q.subscriber
                            .is_none_or(|p| p.overlaps(&owner))
                            .then(|| BlockRow {
                                addr: b.addr,
                                first_port: b.first_port,
                                size: b.size,
                                owner,
                                age: now.saturating_sub(b.since),
                            })
                    },
                );
                (Rows::Blocks(rows), slots, next)
            }
        };
        Page { rows, slots, next }
    }
}

impl TcpState {
    /// The state's name in RFC 6146 §3.5.2.2 (Figure 4).
    pub fn name(self) -> &'static str {
        match self {
            TcpState::Closed => "CLOSED",
            TcpState::V4Init => "V4 INIT",
            TcpState::V6Init => "V6 INIT",
            TcpState::Established => "ESTABLISHED",
            TcpState::V4FinRcv => "V4 FIN RCV",
            TcpState::V6FinRcv => "V6 FIN RCV",
            TcpState::V4FinV6FinRcv => "V4 FIN + V6 FIN RCV",
            TcpState::Trans => "TRANS",
        }
    }
}

/// A protocol's name as the inspection routes write it.
pub fn proto_name(p: L4) -> &'static str {
    match p {
        L4::Tcp => "tcp",
        L4::Udp => "udp",
        L4::Icmp => "icmp",
    }
}

/// `tcp`, `udp` or `icmp`.
pub fn parse_proto(s: &str) -> Option<L4> {
    [L4::Tcp, L4::Udp, L4::Icmp]
        .into_iter()
        .find(|&p| proto_name(p) == s)
}
