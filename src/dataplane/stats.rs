//! The counters a worker keeps, and their publication to the control side.
//!
//! A worker keeps its counters in plain integers on its own cache lines
//! ([`DpCounters`], the pipeline's, the neighbour caches') and, every few
//! milliseconds, copies them into its [`WorkerStats`]: a fixed array of
//! relaxed atomics, one per series, in the order that
//! [`metrics::visit`] walks them. Nothing here is touched per packet but
//! the plain integers; the control side sums the workers' arrays and
//! renders them (`crate::control::metrics`).

use std::sync::atomic::{AtomicU64, Ordering};

use crate::control::metrics::{self, Kind, Visitor};
use crate::nat64::pipeline::Counters;

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
    /// ICMP errors built but not sent: over `translation.icmp_errors_per_second`.
    pub icmp_rate_limited: u64,
}

/// Gauges a worker reports.
#[derive(Debug, Default, Clone, Copy)]
pub struct Gauges {
    pub sessions: u64,
    pub bib_entries: u64,
    pub blocks_in_use: u64,
    pub held_syns: u64,
}

/// Everything one worker publishes, borrowed for a walk.
pub struct Snapshot<'a> {
    pub dp: &'a DpCounters,
    pub nat64: &'a Counters,
    pub l2_drops: &'a [u64],
    pub neigh4: &'a NeighCounters,
    pub neigh6: &'a NeighCounters,
    pub gauges: Gauges,
}

/// One worker's published counters.
#[derive(Debug)]
pub struct WorkerStats {
    cells: Box<[AtomicU64]>,
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

impl WorkerStats {
    /// Zeroed cells for `n` series.
    pub fn new(n: usize) -> WorkerStats {
        WorkerStats {
            cells: (0..n).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    /// Copy a snapshot in (the worker, every few ms).
    pub fn publish(&self, s: &Snapshot<'_>) {
        metrics::visit(
            s,
            &mut Publisher {
                cells: &self.cells,
                at: 0,
            },
        );
    }

    /// Series `i`.
    pub fn get(&self, i: usize) -> u64 {
        self.cells.get(i).map_or(0, |c| c.load(Ordering::Relaxed))
    }
}
