//! The counters a worker keeps, and their publication to the control side.
//!
//! A worker keeps its counters in plain integers on its own cache lines
//! ([`DpCounters`], the pipeline's, the neighbour caches') and, every few
//! milliseconds, copies them into its [`WorkerStats`]: a fixed array of
//! relaxed atomics, one per series, in the order that
//! [`visit`] walks them, plus its port blocks in use per pool address and
//! the millisecond of its last publication (how long ago its loop last
//! ran). Nothing here is touched per packet but the plain integers; the
//! control side sums the workers' arrays (or, for the metrics in
//! [`PER_WORKER`], shows each worker's) and exports them
//! (`crate::control::metrics`). [`visit`] is the schema both sides share:
//! every series' metric name, labels and kind, in one order.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::nat64::pipeline::{Counters, Nat64Drop, Worker as Nat64Worker};
use crate::nat64::{Millis, TimerClass};
use crate::xlat::{DropReason, L4};

use super::classify::L2Drop;
use super::neigh::NeighCounters;

/// What a worker counts itself (the pipeline, neighbour caches and
/// classification count the rest).
#[derive(Debug, Default, Clone)]
pub struct DpCounters {
    pub rx_inside: u64,
    pub rx_outside: u64,
    /// Non-empty rx bursts per port: packets / bursts is the average
    /// burst, the load gauge VPP calls vectors per call.
    pub rx_bursts_inside: u64,
    pub rx_bursts_outside: u64,
    /// Passes of the poll loop (idle ones included).
    pub polls: u64,
    pub tx_inside: u64,
    pub tx_outside: u64,
    /// Frames the NIC did not take (tx queue full): freed.
    pub tx_full_inside: u64,
    pub tx_full_outside: u64,
    /// Frames from the wire down the exception path (to the kernel's TAP),
    /// per side.
    pub to_exception_inside: u64,
    pub to_exception_outside: u64,
    /// Frames up the exception path (sent by the kernel) to the wire, per
    /// side.
    pub from_exception_inside: u64,
    pub from_exception_outside: u64,
    /// Frames for the exception path dropped (none configured, or its
    /// queue full).
    pub exception_drops: u64,
    /// Frames for the kernel refused by the side's allow list
    /// (`<side>.kernel_allow`).
    pub kernel_not_allowed: u64,
    /// Frames for the kernel over the side's rate
    /// (`<side>.kernel_pps`, `<side>.kernel_bytes_per_second`).
    pub kernel_policed: u64,
    /// Packets to a pool address no mapping claims: not the kernel's.
    pub kernel_not_owner: u64,
    /// Packets rung to another worker / received from one.
    pub handoff_out: u64,
    pub handoff_in: u64,
    /// Handoffs lost to a full ring.
    pub handoff_drops: u64,
    /// Answered in the dataplane.
    pub local_arp: u64,
    pub local_nd: u64,
    pub local_echo4: u64,
    pub local_echo6: u64,
    /// Multi-segment frames (the pipeline needs contiguous packets).
    pub chained_drops: u64,
    /// An mbuf could not be allocated (ARP/NS, ICMP from a timer, fragments).
    pub alloc_failures: u64,
    /// IPv6 fragments sent for `Action::Fragment`.
    pub fragments_out: u64,
    /// Neighbour updates lost because a worker's update queue was full.
    pub neigh_update_drops: u64,
    /// Port-block events lost because the queue to the control side was full.
    pub event_drops: u64,
    /// ICMP errors other than PMTU ones built but not sent: over
    /// `translation.icmp_errors_per_second` in their direction.
    pub icmp_rate_limited: u64,
    /// Packet Too Big / Fragmentation Needed built but not sent: over
    /// `translation.icmp_pmtu_errors_per_second` in their direction.
    pub icmp_pmtu_rate_limited: u64,
}

/// The protocols of the per-protocol gauges, as labelled, in [`Gauges`]
/// order.
pub const PROTOCOLS: [(&str, L4); 3] = [("tcp", L4::Tcp), ("udp", L4::Udp), ("icmp", L4::Icmp)];

/// Metrics whose series are exported per worker (label `worker`) rather
/// than summed over the workers: how the load spreads.
pub const PER_WORKER: [&str; 4] = [
    "nat64_packets_total",
    "nat64_rx_bursts_total",
    "nat64_worker_polls_total",
    "nat64_handoff_total",
];

/// Gauges a worker reports.
#[derive(Debug, Default, Clone, Copy)]
pub struct Gauges {
    /// Sessions per protocol, [`PROTOCOLS`] order.
    pub sessions: [u64; 3],
    /// BIB entries per protocol (static ones included), [`PROTOCOLS`]
    /// order.
    pub bib_entries: [u64; 3],
    /// Subscribers holding port blocks.
    pub subscribers: u64,
    pub held_syns: u64,
    /// Fragmented datagrams tracked (RFC 6146 §3.4).
    pub fragment_datagrams: u64,
    /// Fragments parked until their first fragment comes.
    pub parked_fragments: u64,
}

impl Gauges {
    /// A NAT64 worker's gauges, read from its tables and allocator.
    pub fn of(nat: &Nat64Worker) -> Gauges {
        let t = nat.tables();
        let class = |c: TimerClass| t.class_len(c) as u64;
        let tcp = class(TimerClass::TcpEstablished)
            + class(TimerClass::TcpTransitory)
            + class(TimerClass::TcpIncomingSyn);
        Gauges {
            sessions: [tcp, class(TimerClass::Udp), class(TimerClass::Icmp)],
            bib_entries: PROTOCOLS.map(|(_, p)| t.bib_len_of(p) as u64),
            subscribers: nat.allocator().subscribers() as u64,
            held_syns: nat.held_syns() as u64,
            fragment_datagrams: nat.fragment_datagrams() as u64,
            parked_fragments: nat.parked_fragments() as u64,
        }
    }
}

/// Everything one worker publishes, borrowed for a walk.
pub struct Snapshot<'a> {
    pub dp: &'a DpCounters,
    pub nat64: &'a Counters,
    pub l2_drops: &'a [u64],
    pub neigh4: &'a NeighCounters,
    pub neigh6: &'a NeighCounters,
    pub gauges: Gauges,
    /// Port blocks in use per pool address (index = address index); not
    /// walked by [`visit`]: their number depends on the pool.
    pub blocks_by_address: &'a [u32],
    /// The worker's clock (ms since the shared epoch) at publication.
    pub now: Millis,
}

/// One worker's published counters.
#[derive(Debug)]
pub struct WorkerStats {
    cells: Box<[AtomicU64]>,
    blocks_by_address: Box<[AtomicU64]>,
    last_poll: AtomicU64,
}

struct Publisher<'a> {
    cells: &'a [AtomicU64],
    at: usize,
}

impl Visitor for Publisher<'_> {
    fn series(&mut self, _: &'static str, _: Kind, _: &[(&'static str, &'static str)], value: u64) {
        if let Some(c) = self.cells.get(self.at) {
            c.store(value, Ordering::Relaxed);
        }
        self.at += 1;
    }
}

/// Counts the series of a walk.
struct Count(usize);

impl Visitor for Count {
    fn series(&mut self, _: &'static str, _: Kind, _: &[(&'static str, &'static str)], _: u64) {
        self.0 += 1;
    }
}

/// How many series [`visit`] walks.
fn series_count() -> usize {
    let mut n = Count(0);
    Snapshot::with_zeros(|s| visit(s, &mut n));
    n.0
}

impl Snapshot<'_> {
    /// Runs `f` on a snapshot of zeros (for walks that only read the
    /// schema).
    pub fn with_zeros<R>(f: impl FnOnce(&Snapshot<'_>) -> R) -> R {
        let nc = NeighCounters::default();
        let l2 = [0; L2Drop::COUNT];
        f(&Snapshot {
            dp: &DpCounters::default(),
            nat64: &Counters::default(),
            l2_drops: &l2,
            neigh4: &nc,
            neigh6: &nc,
            gauges: Gauges::default(),
            blocks_by_address: &[],
            now: 0,
        })
    }
}

impl WorkerStats {
    /// Zeroed cells for every series of [`visit`] and `addresses` pool
    /// addresses.
    pub fn new(addresses: usize) -> WorkerStats {
        let zeros = |n: usize| (0..n).map(|_| AtomicU64::new(0)).collect();
        WorkerStats {
            cells: zeros(series_count()),
            blocks_by_address: zeros(addresses),
            last_poll: AtomicU64::new(0),
        }
    }

    /// Copy a snapshot in (the worker, every few ms).
    pub fn publish(&self, s: &Snapshot<'_>) {
        visit(
            s,
            &mut Publisher {
                cells: &self.cells,
                at: 0,
            },
        );
        for (c, &n) in self.blocks_by_address.iter().zip(s.blocks_by_address) {
            c.store(u64::from(n), Ordering::Relaxed);
        }
        self.last_poll.store(s.now, Ordering::Relaxed);
    }

    /// Series `i` of [`visit`].
    pub fn get(&self, i: usize) -> u64 {
        self.cells.get(i).map_or(0, |c| c.load(Ordering::Relaxed))
    }

    /// Port blocks in use on pool address `i`.
    pub fn blocks_in_use(&self, i: usize) -> u64 {
        self.blocks_by_address
            .get(i)
            .map_or(0, |c| c.load(Ordering::Relaxed))
    }

    /// The worker's clock at its last publication (ms since the epoch).
    pub fn last_poll(&self) -> Millis {
        self.last_poll.load(Ordering::Relaxed)
    }
}

/// Whether a series only grows or goes up and down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
}

/// Receives every series in layout order.
pub trait Visitor {
    fn series(
        &mut self,
        metric: &'static str,
        kind: Kind,
        labels: &[(&'static str, &'static str)],
        value: u64,
    );
}

const C: Kind = Kind::Counter;
const G: Kind = Kind::Gauge;

/// Walks every series of a snapshot, always in the same order.
pub fn visit(s: &Snapshot<'_>, v: &mut dyn Visitor) {
    let dp = s.dp;
    let pk = "nat64_packets_total";
    v.series(pk, C, &[("port", "inside"), ("dir", "rx")], dp.rx_inside);
    v.series(pk, C, &[("port", "inside"), ("dir", "tx")], dp.tx_inside);
    v.series(pk, C, &[("port", "outside"), ("dir", "rx")], dp.rx_outside);
    v.series(pk, C, &[("port", "outside"), ("dir", "tx")], dp.tx_outside);
    let rb = "nat64_rx_bursts_total";
    v.series(rb, C, &[("port", "inside")], dp.rx_bursts_inside);
    v.series(rb, C, &[("port", "outside")], dp.rx_bursts_outside);
    v.series("nat64_worker_polls_total", C, &[], dp.polls);
    let tf = "nat64_tx_full_drops_total";
    v.series(tf, C, &[("port", "inside")], dp.tx_full_inside);
    v.series(tf, C, &[("port", "outside")], dp.tx_full_outside);

    let n = s.nat64;
    let tr = "nat64_translated_total";
    v.series(tr, C, &[("dir", "6to4")], n.translated_6to4);
    v.series(tr, C, &[("dir", "4to6")], n.translated_4to6);
    v.series("nat64_replies_total", C, &[], n.replied);
    v.series("nat64_hairpinned_total", C, &[], n.hairpinned);
    v.series("nat64_local_total", C, &[], n.local);
    v.series("nat64_sessions_created_total", C, &[], n.sessions_created);
    v.series("nat64_sessions_expired_total", C, &[], n.sessions_expired);
    v.series("nat64_bib_created_total", C, &[], n.bib_created);
    v.series("nat64_syns_held_total", C, &[], n.syns_held);
    v.series("nat64_held_syns_expired_total", C, &[], n.held_syn_expired);
    v.series(
        "nat64_simultaneous_opens_total",
        C,
        &[],
        n.simultaneous_opens,
    );
    v.series(
        "nat64_block_events_dropped_total",
        C,
        &[],
        n.block_events_dropped + dp.event_drops,
    );

    let dr = "nat64_drops_total";
    for &d in Nat64Drop::ALL {
        v.series(
            dr,
            C,
            &[("layer", "nat64"), ("reason", d.name())],
            n.nat64_drops(d),
        );
    }
    for &r in DropReason::ALL {
        v.series(
            dr,
            C,
            &[("layer", "xlat"), ("reason", r.name())],
            n.xlat_drops(r),
        );
    }
    for &d in L2Drop::ALL {
        let c = s.l2_drops.get(d.index()).copied().unwrap_or(0);
        v.series(dr, C, &[("layer", "l2"), ("reason", d.name())], c);
    }
    // `kernel_unavailable`: the exception path's drops (contract name).
    let dd = [
        ("chained_mbuf", dp.chained_drops),
        ("kernel_unavailable", dp.exception_drops),
        ("kernel_not_allowed", dp.kernel_not_allowed),
        ("kernel_policed", dp.kernel_policed),
        ("kernel_not_owner", dp.kernel_not_owner),
        ("handoff_ring_full", dp.handoff_drops),
        ("mbuf_alloc_failed", dp.alloc_failures),
        ("neigh_update_queue_full", dp.neigh_update_drops),
        ("icmp_rate_limited", dp.icmp_rate_limited),
        ("icmp_pmtu_rate_limited", dp.icmp_pmtu_rate_limited),
    ];
    for (reason, c) in dd {
        v.series(dr, C, &[("layer", "dataplane"), ("reason", reason)], c);
    }

    v.series("nat64_handoff_total", C, &[("dir", "out")], dp.handoff_out);
    v.series("nat64_handoff_total", C, &[("dir", "in")], dp.handoff_in);
    v.series("nat64_handoff_drops_total", C, &[], dp.handoff_drops);
    let lr = "nat64_local_replies_total";
    v.series(lr, C, &[("kind", "arp")], dp.local_arp);
    v.series(lr, C, &[("kind", "nd")], dp.local_nd);
    v.series(lr, C, &[("kind", "echo4")], dp.local_echo4);
    v.series(lr, C, &[("kind", "echo6")], dp.local_echo6);
    // The exception path's label values say where the frames go and come
    // from (the kernel): they are the metrics' contract, kept as they are.
    let ex = "nat64_exception_total";
    v.series(
        ex,
        C,
        &[("port", "inside"), ("dir", "to_kernel")],
        dp.to_exception_inside,
    );
    v.series(
        ex,
        C,
        &[("port", "inside"), ("dir", "from_kernel")],
        dp.from_exception_inside,
    );
    v.series(
        ex,
        C,
        &[("port", "outside"), ("dir", "to_kernel")],
        dp.to_exception_outside,
    );
    v.series(
        ex,
        C,
        &[("port", "outside"), ("dir", "from_kernel")],
        dp.from_exception_outside,
    );
    v.series("nat64_fragments_out_total", C, &[], dp.fragments_out);
    // RFC 6146 §3.4: the fragments of datagrams in several pieces.
    let fr = "nat64_fragments_total";
    v.series(fr, C, &[("event", "tracked")], n.fragments_tracked);
    v.series(fr, C, &[("event", "held")], n.fragments_held);
    v.series(fr, C, &[("event", "translated")], n.fragments_translated);
    v.series(fr, C, &[("event", "timed_out")], n.fragments_timed_out);
    v.series(fr, C, &[("event", "refused")], n.fragments_refused);

    for (fam, nc) in [("ipv4", s.neigh4), ("ipv6", s.neigh6)] {
        for (event, c) in nc.events() {
            v.series(
                "nat64_neigh_total",
                C,
                &[("family", fam), ("event", event)],
                c,
            );
        }
    }

    let g = s.gauges;
    for (i, (label, _)) in PROTOCOLS.iter().enumerate() {
        v.series("nat64_sessions", G, &[("protocol", label)], g.sessions[i]);
    }
    for (i, (label, _)) in PROTOCOLS.iter().enumerate() {
        let n = g.bib_entries[i];
        v.series("nat64_bib_entries", G, &[("protocol", label)], n);
    }
    v.series("nat64_subscribers", G, &[], g.subscribers);
    v.series("nat64_held_syns", G, &[], g.held_syns);
    v.series("nat64_fragment_datagrams", G, &[], g.fragment_datagrams);
    v.series("nat64_parked_fragments", G, &[], g.parked_fragments);
}
