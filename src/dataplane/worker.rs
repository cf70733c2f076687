//! One worker lcore's poll loop ([`WorkerSetup::run`]).
//!
//! Each pass: apply the neighbour updates other workers learned, and a
//! reload's settings when the control side queued some (`Shared::settings`:
//! a bounded lock-free queue per worker, one atomic load when empty); rx a
//! burst from the inside port, sort it (`classify::inside_frame`), answer
//! what the box answers itself, send what is for the box itself down the
//! exception path, run the NAT64 frames through
//! `nat64::Worker::process_6to4` (RFC 6146 §3.4–§3.8); the same for the
//! outside port with `process_4to6`; then packets other workers handed over;
//! (worker 0 only) frames the kernel sent up the exception path; then every
//! tx burst is flushed. Timers (session expiry, held SYNs, neighbour
//! retries) and the counters' publication run every millisecond.
//!
//! After the pipeline a buffer holds an L3 packet whose IP version says
//! where it goes: IPv4 out of the outside port, IPv6 out of the inside
//! port, each behind the next hop's MAC from this worker's neighbour cache
//! (a few packets wait while ARP / ND resolve it, RFC 826 / RFC 4861 §7.2).
//!
//! The loop's state is `PollLoop`, made of named parts: the two ports'
//! queues (`Ports`), the exception path's queues (`ExceptionPath`),
//! the rings to and from the other workers (`Handoff`), the neighbour
//! caches with their parked packets (`Neighbours`) and the last next hop
//! resolved (`LastHop`). Each part is a plain struct held by value: no
//! indirection on the per-packet path.
//!
//! Nothing is allocated per packet: bursts, staging arrays, caches and
//! rings are sized before the loop starts.
//!
//! Control-side requests are answered between bursts, at most one per
//! pass: an inspection request (`Shared::inspect`) gets one bounded page
//! of this worker's tables (`nat64::inspect`), the only allocation, and
//! only for such requests. The counters it publishes every few
//! milliseconds carry the time of that pass (`WorkerStats::last_poll`),
//! which the health check and the poll-age metric read.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crossbeam::channel::Sender;
use crossbeam::queue::ArrayQueue;

use super::classify::{self, L2Action, L2Drop, L2Verdict, LocalReply};
use super::exception::ExceptionRx;
use super::guard::{self, KernelDrop, KernelGuard};
use super::l2::{self, NextHop, ETHER_HDR};
use super::local;
use super::neigh::{NeighCache, NeighLimits, NeighUpdate, Resolve};
use super::ratelimit::{IcmpBudget, IcmpClass};
use super::stats::{DpCounters, Gauges, Snapshot, WorkerStats};
use super::{BoxIdentity, Mac, Side};
use crate::dpdk::{
    tsc_cycles, tsc_hz, Burst, Eal, Mbuf, MbufPacket, Mempool, RingConsumer, RingProducer, RxQueue,
    TxQueue,
};
use crate::nat64::inspect::{Page, Query};
use crate::nat64::live::LiveSettings;
use crate::nat64::pipeline::{Action, Emit, Worker as Nat64Worker};
use crate::nat64::table::BURST;
use crate::nat64::{BlockEvent, Millis};
use crate::wire::ethertype;
use crate::xlat::buf::PacketBuf;

// `workers.burst` is validated against the capacity the bursts have.
const _: () = assert!(BURST == crate::config::Workers::MAX_BURST as usize);
// And the held fragments against the parking slots a worker numbers.
const _: () = assert!(
    crate::nat64::pipeline::MAX_SLOTS == crate::config::Workers::MAX_HELD_FRAGMENTS as usize
);

/// Neighbour cache entries per family per worker.
const NEIGH_ENTRIES: usize = 1024;
/// Packets waiting per unresolved next hop.
const NEIGH_PENDING: usize = 8;
/// How often counters are published (ms).
const PUBLISH_MS: Millis = 10;
/// How often worker 0 polls the exception path's TAPs (µs).
const EXCEPTION_POLL_US: u64 = 20;
/// How often neighbour caches run their timers (ms).
const NEIGH_TICK_MS: Millis = 100;
/// At most one log line per worker about neighbour conflicts this often (ms).
const CONFLICT_LOG_MS: Millis = 10_000;

/// Filler for the verdicts of a burst's empty slots (never acted on).
const UNSORTED: L2Verdict = L2Verdict {
    action: L2Action::Drop(L2Drop::Runt),
    learn: None,
};

/// What every worker shares: read-mostly, or lock-free queues.
#[derive(Debug)]
pub struct Shared {
    /// The box's addresses and MACs.
    pub own: BoxIdentity,
    /// `inside.gateway_mac` / `outside.gateway_mac`.
    pub inside_gateway_mac: Option<Mac>,
    pub outside_gateway_mac: Option<Mac>,
    /// Neighbour updates for each worker (index = worker id).
    pub neigh_updates: Vec<ArrayQueue<NeighUpdate>>,
    /// Each worker's published counters (index = worker id).
    pub stats: Vec<Arc<WorkerStats>>,
    /// Port-block events for the control side's log (index = worker id).
    pub events: Vec<ArrayQueue<BlockEvent>>,
    /// TSC value of every worker's millisecond 0 (one clock for all, so
    /// the control side can date events).
    pub epoch_tsc: u64,
    /// `translation.icmp_errors_per_second` at start-up (each worker's
    /// budget per direction for errors other than PMTU ones; a reload's
    /// comes with [`Shared::settings`]).
    pub icmp_errors_per_second: u32,
    /// `translation.icmp_pmtu_errors_per_second` at start-up (each
    /// worker's budget per direction for Packet Too Big / Fragmentation
    /// Needed).
    pub icmp_pmtu_errors_per_second: u32,
    /// The exception path's guards (inside, outside) at start-up, copied
    /// by each worker: `<side>.kernel_allow`, `<side>.kernel_pps`,
    /// `<side>.kernel_bytes_per_second`.
    pub kernel_guards: (KernelGuard, KernelGuard),
    /// The outside NIC fills IPv4 header checksums (tx offload enabled):
    /// IPv4 frames whose checksum field is 0 are marked for it.
    pub ipv4_cksum_offload: bool,
    /// `workers.burst`: frames asked of each port's rx queue per poll
    /// (the bursts hold [`BURST`]; more than that is asked as [`BURST`]).
    pub rx_burst: u16,
    /// Set by the control side to stop every worker.
    pub stop: AtomicBool,
    /// Inspection requests for each worker (index = worker id): the
    /// control side's only way to read a worker's tables.
    pub inspect: Vec<ArrayQueue<InspectRequest>>,
    /// Test only (`--test-stall-worker`): one worker stops polling for a
    /// while.
    pub test_stall: Option<TestStall>,
    /// A reload's settings for each worker (index = worker id), applied
    /// between bursts ([`SETTINGS_QUEUE`] deep).
    pub settings: Vec<ArrayQueue<Arc<LiveSettings>>>,
}

/// A page of a worker's tables asked for by the control side, with where
/// to send it. The worker answers at most one per poll pass, between
/// bursts (`nat64::Worker::inspect` bounds the work); a closed reply
/// channel (the asker gave up) is ignored.
#[derive(Debug)]
pub struct InspectRequest {
    pub query: Query,
    pub reply: Sender<Page>,
}

/// Test only (`--test-stall-worker ID:AT_MS:FOR_MS`): worker `worker`
/// sleeps `for_ms` once its clock reaches millisecond `at_ms`, so that the
/// health check can be seen to notice. Costs one comparison per poll
/// pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TestStall {
    pub worker: u16,
    pub at_ms: Millis,
    pub for_ms: Millis,
}

/// Reloads queued per worker before the oldest is replaced: each holds a
/// whole configuration, so only the newest matters.
pub const SETTINGS_QUEUE: usize = 4;

impl Shared {
    /// Hand a reload's `settings` to every worker; each applies them
    /// between two bursts. A worker that has not taken the previous ones
    /// yet gets the newest in their place (each is complete).
    pub fn push_settings(&self, settings: &Arc<LiveSettings>) {
        for q in &self.settings {
            let _ = q.force_push(Arc::clone(settings));
        }
    }
}

/// A worker's queues on one side's exception path (its TAP).
#[derive(Debug)]
pub struct ExceptionQueues {
    /// This worker's tx queue on the TAP (frames for the kernel).
    pub tx: TxQueue,
    /// The TAP's rx queues (frames the kernel sends): worker 0 only.
    pub rx: Option<ExceptionRx>,
}

/// Everything one worker owns, moved onto its lcore.
pub struct WorkerSetup {
    pub id: u16,
    pub eal: Eal,
    pub pool: Mempool,
    pub nat: Nat64Worker,
    pub inside_rx: RxQueue,
    pub inside_tx: TxQueue,
    pub outside_rx: RxQueue,
    pub outside_tx: TxQueue,
    /// Exception path (inside, outside); `None` with `--no-exception-path`.
    pub exception: Option<(ExceptionQueues, ExceptionQueues)>,
    /// Rings to the other workers (index = destination; `None` for self).
    pub handoff_out: Vec<Option<RingProducer>>,
    /// Rings from the other workers.
    pub handoff_in: Vec<RingConsumer>,
    pub shared: Arc<Shared>,
}

/// A tx queue and the burst that collects frames for it.
struct Tx<'e> {
    q: TxQueue,
    burst: Burst<'e, BURST>,
}

impl<'e> Tx<'e> {
    fn new(eal: &'e Eal, q: TxQueue) -> Tx<'e> {
        Tx {
            q,
            burst: Burst::new(eal),
        }
    }

    /// Queue `m`; a full burst is sent first. Frames the NIC refuses are
    /// freed and counted in `full`.
    fn push(&mut self, m: Mbuf<'e>, sent: &mut u64, full: &mut u64) {
        if let Err(m) = self.burst.push(m) {
            self.flush(sent, full);
            // The burst is empty after a flush.
            let _ = self.burst.push(m);
        }
    }

    fn flush(&mut self, sent: &mut u64, full: &mut u64) {
        let n = self.burst.len();
        if n == 0 {
            return;
        }
        let s = self.q.tx_burst(&mut self.burst);
        *sent += s as u64;
        *full += (n - s) as u64;
    }
}

/// The two ports' queues of this worker: one rx and one tx queue each,
/// with the tx bursts that collect frames for them.
struct Ports<'e> {
    inside_rx: RxQueue,
    outside_rx: RxQueue,
    inside_tx: Tx<'e>,
    outside_tx: Tx<'e>,
    /// Frames asked of each rx queue per poll: `workers.burst`, at most
    /// [`BURST`].
    rx_burst: usize,
    /// `Shared::ipv4_cksum_offload`, at hand: the outside port's NIC fills
    /// IPv4 header checksums.
    ipv4_cksum_offload: bool,
}

/// This worker's end of the exception path: the queues of the TAP
/// interfaces that carry traffic for the box itself to and from its kernel.
/// All `None` with `--no-exception-path`.
struct ExceptionPath<'e> {
    /// Frames for the kernel on the inside / outside TAP.
    inside_tx: Option<Tx<'e>>,
    outside_tx: Option<Tx<'e>>,
    /// What may go down each (inside, outside), and how fast.
    inside_guard: KernelGuard,
    outside_guard: KernelGuard,
    /// The TAPs' rx queues (inside, outside): frames the kernel sends.
    /// Worker 0 only.
    rx: Option<(ExceptionRx, ExceptionRx)>,
}

/// The single-producer, single-consumer rings between this worker and the
/// others, for packets that belong to another worker (its subscriber, its
/// port block).
struct Handoff<'e> {
    /// Rings to the other workers (index = destination; `None` for self),
    /// each with the burst staged for it until the next flush.
    out: Vec<Option<(RingProducer, Burst<'e, BURST>)>>,
    /// Rings from the other workers.
    inbound: Vec<RingConsumer>,
}

/// This worker's neighbour caches (ARP for the outside link, RFC 826; ND
/// for the inside link, RFC 4861 §7.2), each holding the few packets
/// parked while their next hop is resolved.
struct Neighbours<'e> {
    v4: NeighCache<Ipv4Addr, Mbuf<'e>>,
    v6: NeighCache<Ipv6Addr, Mbuf<'e>>,
    /// Conflicts (IPv4, IPv6) when the last were logged.
    conflicts_logged: (u64, u64),
    /// When a conflict may be logged again ([`CONFLICT_LOG_MS`]).
    next_conflict_log: Millis,
}

/// The last next hop resolved on each family and its MAC, so the
/// neighbour cache is asked once per next hop and neighbour tick
/// (`NEIGH_TICK_MS`), not per packet: most packets go to the same next hop
/// (the gateway). Forgotten whenever a neighbour is learned and at every
/// neighbour tick, so an entry's ageing (REACHABLE -> probe, RFC 4861
/// §7.3.3) is seen within a tick.
#[derive(Default)]
struct LastHop {
    v4: Option<(Ipv4Addr, Mac)>,
    v6: Option<(Ipv6Addr, Mac)>,
    /// Packets sent to the last hop without asking the cache (reported as
    /// neighbour cache hits).
    hits4: u64,
    hits6: u64,
}

impl LastHop {
    /// The MAC for `hop`, and the side it leaves by, if `hop` is the last
    /// next hop resolved on its family.
    fn get(&self, hop: NextHop) -> Option<(Side, Mac)> {
        match (hop, self.v4, self.v6) {
            (NextHop::V4(h), Some((m, mac)), _) if h == m => Some((Side::Outside, mac)),
            (NextHop::V6(h), _, Some((m, mac))) if h == m => Some((Side::Inside, mac)),
            _ => None,
        }
    }

    /// A packet sent to the last hop (reported as a neighbour cache hit).
    fn count_hit(&mut self, side: Side) {
        match side {
            Side::Outside => self.hits4 += 1,
            Side::Inside => self.hits6 += 1,
        }
    }

    /// Forget both: the neighbour cache changed (a neighbour learned) or
    /// may change (its tick: entries age, RFC 4861 §7.3.3).
    fn forget(&mut self) {
        self.v4 = None;
        self.v6 = None;
    }
}

/// A worker's poll loop and everything it works on; `'e` borrows the EAL
/// handle and the mbuf pool.
struct PollLoop<'e> {
    id: u16,
    eal: &'e Eal,
    shared: Arc<Shared>,
    pool: &'e Mempool,
    nat: Nat64Worker,
    ports: Ports<'e>,
    exception: ExceptionPath<'e>,
    handoff: Handoff<'e>,
    neighbours: Neighbours<'e>,
    last_hop: LastHop,
    /// ICMP errors this worker may still send, per direction and class
    /// (`translation.icmp_errors_per_second`,
    /// `translation.icmp_pmtu_errors_per_second`).
    icmp: IcmpBudget,
    dp: DpCounters,
    l2_drops: Vec<u64>,
    /// The burst being worked on (rx, handoff, exception path).
    rx: Burst<'e, BURST>,
    /// Frames sorted as NAT64 in the current rx burst, and how many bytes
    /// of L2 header each had.
    nat_batch: Burst<'e, BURST>,
    nat_l3: [usize; BURST],
    /// Fragments parked until their datagram's first fragment comes
    /// (`Action::Park`, RFC 6146 §3.4), by slot; freed with the loop.
    parked: Vec<Option<Mbuf<'e>>>,
    stats: Arc<WorkerStats>,
}

impl WorkerSetup {
    /// The worker's body: poll until `shared.stop`; returns 0.
    pub fn run(self) -> i32 {
        let WorkerSetup {
            id,
            eal,
            pool,
            nat,
            inside_rx,
            inside_tx,
            outside_rx,
            outside_tx,
            exception,
            handoff_out,
            handoff_in,
            shared,
        } = self;
        let eal = &eal;
        let pool = &pool;
        let exception = match exception {
            Some((ei, eo)) => ExceptionPath {
                inside_tx: Some(Tx::new(eal, ei.tx)),
                outside_tx: Some(Tx::new(eal, eo.tx)),
                inside_guard: shared.kernel_guards.0.clone(),
                outside_guard: shared.kernel_guards.1.clone(),
                rx: match (ei.rx, eo.rx) {
                    (Some(a), Some(b)) => Some((a, b)),
                    _ => None,
                },
            },
            None => ExceptionPath {
                inside_tx: None,
                outside_tx: None,
                inside_guard: shared.kernel_guards.0.clone(),
                outside_guard: shared.kernel_guards.1.clone(),
                rx: None,
            },
        };
        // The gateways are pinned: never reclaimed, never held back by the
        // limits on unresolved next hops (a flood from spoofed on-link
        // sources cannot blackhole the worker).
        let mut neighbours = Neighbours {
            v4: NeighCache::new(NEIGH_ENTRIES, NEIGH_PENDING).with_limits(NeighLimits::WORKER),
            v6: NeighCache::new(NEIGH_ENTRIES, NEIGH_PENDING).with_limits(NeighLimits::WORKER),
            conflicts_logged: (0, 0),
            next_conflict_log: 0,
        };
        neighbours.v4.pin(shared.own.outside_gateway);
        neighbours.v6.pin(shared.own.inside_gateway);
        if let Some(mac) = shared.outside_gateway_mac {
            neighbours.v4.set_static(shared.own.outside_gateway, mac);
        }
        if let Some(mac) = shared.inside_gateway_mac {
            neighbours.v6.set_static(shared.own.inside_gateway, mac);
        }
        let stats = Arc::clone(&shared.stats[usize::from(id)]);
        let parked = (0..nat.parking_slots()).map(|_| None).collect();
        let mut lp = PollLoop {
            id,
            eal,
            pool,
            nat,
            ports: Ports {
                inside_rx,
                outside_rx,
                inside_tx: Tx::new(eal, inside_tx),
                outside_tx: Tx::new(eal, outside_tx),
                rx_burst: usize::from(shared.rx_burst).clamp(1, BURST),
                ipv4_cksum_offload: shared.ipv4_cksum_offload,
            },
            exception,
            handoff: Handoff {
                out: handoff_out
                    .into_iter()
                    .map(|p| p.map(|p| (p, Burst::new(eal))))
                    .collect(),
                inbound: handoff_in,
            },
            neighbours,
            last_hop: LastHop::default(),
            dp: DpCounters::default(),
            icmp: IcmpBudget::new(
                shared.icmp_errors_per_second,
                shared.icmp_pmtu_errors_per_second,
            ),
            l2_drops: vec![0; L2Drop::ALL.len()],
            rx: Burst::new(eal),
            nat_batch: Burst::new(eal),
            nat_l3: [0; BURST],
            parked,
            stats,
            shared,
        };
        lp.poll();
        0
    }
}

/// A frame of at most `room` bytes built by `build` (which returns its
/// length, 0 on failure) in a fresh mbuf.
fn frame<'p>(
    pool: &'p Mempool,
    room: usize,
    build: impl FnOnce(&mut [u8]) -> usize,
) -> Option<Mbuf<'p>> {
    let mut m = pool.alloc()?;
    let n = build(m.append(u16::try_from(room).ok()?)?);
    if n == 0 || n > room || !m.trim((room - n) as u16) {
        return None;
    }
    Some(m)
}

/// Milliseconds since `start` on the TSC.
struct Clock {
    start: u64,
    per_ms: u64,
}

impl Clock {
    fn new(start: u64) -> Clock {
        Clock {
            start,
            per_ms: (tsc_hz() / 1000).max(1),
        }
    }

    /// The millisecond of TSC value `tsc`.
    fn at(&self, tsc: u64) -> Millis {
        tsc.saturating_sub(self.start) / self.per_ms
    }
}

impl<'e> PollLoop<'e> {
    fn poll(&mut self) {
        let clock = Clock::new(self.shared.epoch_tsc);
        let mut next_tick: Millis = 0;
        let mut next_publish: Millis = 0;
        let mut next_neigh: Millis = 0;
        let exception_period = tsc_hz() / 1_000_000 * EXCEPTION_POLL_US;
        let mut next_exception = 0u64;
        let mut stall = self
            .shared
            .test_stall
            .filter(|s| s.worker == self.id)
            .map_or((Millis::MAX, 0), |s| (s.at_ms, s.for_ms));
        while !self.shared.stop.load(Ordering::Relaxed) {
            // One TSC read per pass: the millisecond clock and the
            // exception poll timer both come from it.
            let tsc = tsc_cycles();
            let now = clock.at(tsc);
            self.dp.polls += 1;
            self.neigh_updates(now);
            self.answer_inspect(now);
            self.settings();

            // Inside port: IPv6 from the subscribers.
            if self
                .ports
                .inside_rx
                .rx_burst_max(&mut self.rx, self.ports.rx_burst)
                > 0
            {
                self.dp.rx_inside += self.rx.len() as u64;
                self.dp.rx_bursts_inside += 1;
                self.frames(Side::Inside, now);
            }
            // Outside port: IPv4 from the Internet.
            if self
                .ports
                .outside_rx
                .rx_burst_max(&mut self.rx, self.ports.rx_burst)
                > 0
            {
                self.dp.rx_outside += self.rx.len() as u64;
                self.dp.rx_bursts_outside += 1;
                self.frames(Side::Outside, now);
            }
            // Packets other workers received for this one.
            for i in 0..self.handoff.inbound.len() {
                if self.handoff.inbound[i].dequeue_burst(&mut self.rx) > 0 {
                    self.dp.handoff_in += self.rx.len() as u64;
                    self.handed_in(now);
                }
            }
            // What the kernel sends up the exception path leaves
            // unchanged. A TAP poll is a system call, so it is done every
            // EXCEPTION_POLL_US, not every pass: the kernel's own traffic
            // (ssh, BGP, DNS64 answers) waits at most that long.
            if tsc >= next_exception {
                next_exception = tsc + exception_period;
                self.poll_exception();
            }
            // Parked fragments handed back (their first fragment came, or
            // their window passed at the last tick).
            if self.nat.has_unparked() {
                self.unpark(now);
            }
            self.flush();

            if now >= next_tick {
                next_tick = now + 1;
                self.tick(now);
            }
            if now >= next_neigh {
                next_neigh = now + NEIGH_TICK_MS;
                self.neigh_tick(now);
            }
            if now >= next_publish {
                next_publish = now + PUBLISH_MS;
                self.publish(now);
            }
            if now >= stall.0 {
                // Test only (`TestStall`).
                std::thread::sleep(Duration::from_millis(stall.1));
                stall.0 = Millis::MAX;
            }
        }
        self.flush();
        self.publish(clock.at(tsc_cycles()));
    }

    /// Sort the frames in `self.rx` that came in on `side`, and run the
    /// NAT64 ones through the pipeline.
    ///
    /// Each frame is viewed once for its classification, L2 strip,
    /// translation and new Ethernet header when the whole burst is NAT64
    /// traffic (the common case); otherwise the frames are sorted one by
    /// one (`sort_frames`) and the NAT64 ones batched (`run_nat`).
    fn frames(&mut self, side: Side, now: Millis) {
        let mut rx = std::mem::replace(&mut self.rx, Burst::new(self.eal));
        // Headers of the whole burst on their way into the cache while the
        // first frames are sorted.
        for m in rx.as_slice() {
            m.prefetch();
        }
        let mut verdicts = [UNSORTED; BURST];
        let mut actions = [Action::Held; BURST];
        let mut out = (0u32, 0u32);
        let mut all_nat = true;
        {
            // The pipeline needs contiguous packets: chains are dropped.
            let (mut views, chained) = rx.views();
            self.dp.chained_drops += chained as u64;
            let pkts = views.as_mut_slice();
            for (i, v) in pkts.iter_mut().enumerate().take(BURST) {
                let mut verdict = match side {
                    Side::Inside => classify::inside_frame(v, &self.shared.own),
                    Side::Outside => classify::outside_frame(v, &self.shared.own),
                };
                // Strip a NAT64 frame's L2 header while its view is at hand.
                if let L2Action::Nat64 { l3 } = verdict.action {
                    if l2::decap(v, l3) {
                        self.nat_l3[i] = l3;
                    } else {
                        verdict.action = L2Action::Drop(L2Drop::Runt);
                    }
                }
                all_nat &=
                    matches!(verdict.action, L2Action::Nat64 { .. }) && verdict.learn.is_none();
                verdicts[i] = verdict;
            }
            if all_nat && !pkts.is_empty() {
                out = self.translate_burst(side, pkts, now, &mut actions);
            }
        }
        if all_nat {
            self.send_burst(&mut rx, side, now, &actions, out);
        } else {
            self.sort_frames(&mut rx, side, now, &verdicts);
            self.run_nat(side, now);
        }
        self.rx = rx;
    }

    /// The frames of a burst that is not all NAT64 traffic, each as its
    /// verdict says; NAT64 ones (L2 header already stripped) go to
    /// `nat_batch`.
    fn sort_frames(
        &mut self,
        rx: &mut Burst<'e, BURST>,
        side: Side,
        now: Millis,
        verdicts: &[L2Verdict; BURST],
    ) {
        for (i, m) in rx.drain().enumerate() {
            let verdict = verdicts.get(i).copied().unwrap_or(UNSORTED);
            if let Some((ip, mac)) = verdict.learn {
                self.learn(ip, mac, now, true);
            }
            match verdict.action {
                L2Action::Nat64 { l3 } => {
                    let j = self.nat_batch.len();
                    if j < BURST {
                        self.nat_l3[j] = l3;
                    }
                    // Same capacity as the rx burst: never full here.
                    let _ = self.nat_batch.push(m);
                }
                L2Action::Reply => {
                    self.count_local_reply(m.data());
                    self.tx(side, m);
                }
                L2Action::Exception => self.divert_to_exception(side, m, now),
                L2Action::Drop(r) => self.count_l2(r),
            }
        }
    }

    /// Run the NAT64 batch through the pipeline: the burst form overlaps
    /// the table lookups' cache misses; the result is that of running the
    /// packets one by one, in order.
    fn run_nat(&mut self, side: Side, now: Millis) {
        if self.nat_batch.is_empty() {
            return;
        }
        let mut actions = [Action::Held; BURST];
        let mut batch = std::mem::replace(&mut self.nat_batch, Burst::new(self.eal));
        let out = {
            // Chained mbufs never reach the batch (dropped in `frames`).
            let (mut views, chained) = batch.views();
            self.dp.chained_drops += chained as u64;
            self.translate_burst(side, views.as_mut_slice(), now, &mut actions)
        };
        self.send_burst(&mut batch, side, now, &actions, out);
        self.nat_batch = batch;
    }

    /// The pipeline over L3 packets that came in on `side`; then, while the
    /// views are at hand, a forwarded packet whose next hop is the last hop
    /// gets its Ethernet header. Returns which did, as bit masks: (leaving
    /// by the IPv4 port, leaving by the IPv6 port).
    fn translate_burst(
        &mut self,
        side: Side,
        pkts: &mut [MbufPacket<'_>],
        now: Millis,
        actions: &mut [Action; BURST],
    ) -> (u32, u32) {
        match side {
            Side::Inside => self.nat.process_6to4_burst(pkts, now, actions),
            Side::Outside => self.nat.process_4to6_burst(pkts, now, actions),
        }
        let (mut out4, mut out6) = (0u32, 0u32);
        for (i, v) in pkts.iter_mut().enumerate().take(BURST) {
            if matches!(actions[i], Action::Forward | Action::Hairpin) {
                match self.encap_last_hop(v) {
                    Some(Side::Outside) => out4 |= 1 << i,
                    Some(Side::Inside) => out6 |= 1 << i,
                    None => {}
                }
            }
        }
        (out4, out6)
    }

    /// After `translate_burst`: send what got its Ethernet header, and do
    /// what the pipeline decided for the rest (`dispatch`).
    fn send_burst(
        &mut self,
        burst: &mut Burst<'e, BURST>,
        side: Side,
        now: Millis,
        actions: &[Action; BURST],
        (out4, out6): (u32, u32),
    ) {
        for (i, m) in burst.drain().enumerate() {
            let bit = 1u32.checked_shl(i as u32).unwrap_or(0);
            if out4 & bit != 0 {
                let mut m = m;
                self.mark_cksum(&mut m);
                self.tx(Side::Outside, m);
            } else if out6 & bit != 0 {
                self.tx(Side::Inside, m);
            } else {
                let l3 = self.nat_l3.get(i).copied();
                let action = actions.get(i).copied().unwrap_or(Action::Held);
                self.dispatch(m, action, side, l3, now);
            }
        }
    }

    /// Packets rung over by other workers: L3, the version says which half.
    fn handed_in(&mut self, now: Millis) {
        let mut rx = std::mem::replace(&mut self.rx, Burst::new(self.eal));
        for mut m in rx.drain() {
            let (action, side) = {
                let Some(mut v) = m.packet_buf() else {
                    self.dp.chained_drops += 1;
                    continue;
                };
                match v.data().first().map(|b| b >> 4) {
                    Some(6) => (self.nat.process_6to4(&mut v, now), Side::Inside),
                    Some(4) => (self.nat.process_handed_4to6(&mut v, now), Side::Outside),
                    _ => continue,
                }
            };
            self.dispatch(m, action, side, None, now);
        }
        self.rx = rx;
    }

    /// Parked fragments the pipeline hands back: through it again (their
    /// datagram's first fragment came) or freed (their window passed).
    fn unpark(&mut self, now: Millis) {
        while let Some(u) = self.nat.next_unparked() {
            let Some(mut m) = self.parked.get_mut(u.slot as usize).and_then(Option::take) else {
                continue;
            };
            if !u.retry {
                continue;
            }
            let (action, side) = {
                let Some(mut v) = m.packet_buf() else {
                    continue;
                };
                match v.data().first().map(|b| b >> 4) {
                    Some(6) => (self.nat.process_6to4(&mut v, now), Side::Inside),
                    Some(4) => (self.nat.process_4to6(&mut v, now), Side::Outside),
                    _ => continue,
                }
            };
            self.dispatch(m, action, side, None, now);
        }
    }

    /// Do what the pipeline decided for `m` (which came in on `side`, with
    /// `l3` bytes of L2 header still in its headroom when known).
    fn dispatch(
        &mut self,
        mut m: Mbuf<'e>,
        action: Action,
        side: Side,
        l3: Option<usize>,
        now: Millis,
    ) {
        match action {
            Action::Forward | Action::Hairpin => self.send_l3(m, now),
            Action::Reply(reason) => self.send_icmp_error(m, IcmpClass::of(reason), now),
            Action::Fragment { mtu } => self.send_fragments(m, mtu, now),
            Action::Handoff { worker, .. } => self.handoff(m, worker),
            Action::Local => {
                // RFC 792: an echo request to one of our addresses is
                // answered here; anything else is the kernel's.
                let echo = m
                    .packet_buf()
                    .is_some_and(|mut v| local::echo_reply_ipv4(v.data_mut()));
                if echo {
                    self.dp.local_echo4 += 1;
                    if side == Side::Inside {
                        // Hairpinned to a pool address (§3.8): the reply is
                        // for the client's own mapping, so it goes back
                        // through the IPv4 -> IPv6 half.
                        let a = match m.packet_buf() {
                            Some(mut v) => self.nat.process_4to6(&mut v, now),
                            None => return,
                        };
                        match a {
                            Action::Local => {}
                            a => self.dispatch(m, a, Side::Outside, None, now),
                        }
                    } else {
                        self.send_l3(m, now);
                    }
                    return;
                }
                // Only the outside address is the kernel's: a pool address
                // no mapping claims (a refused echo request, say) is not.
                if !guard::kernel_owns_v4(m.data(), self.shared.own.outside) {
                    self.dp.kernel_not_owner += 1;
                    return;
                }
                // To the outside kernel: put back the header it arrived
                // with when it is still in the headroom, else a fresh one.
                let restored = match (side, l3) {
                    (Side::Outside, Some(n)) => m.packet_buf().is_some_and(|mut v| v.prepend(n)),
                    _ => false,
                };
                if !restored {
                    let own = self.shared.own.outside_mac;
                    let ok = m
                        .packet_buf()
                        .is_some_and(|mut v| l2::encap(&mut v, own, own, ethertype::IPV4));
                    if !ok {
                        self.dp.exception_drops += 1;
                        return;
                    }
                }
                self.divert_to_exception(Side::Outside, m, now);
            }
            Action::Park { slot } => match self.parked.get_mut(slot as usize) {
                Some(p) => *p = Some(m),
                None => drop(m),
            },
            Action::Held | Action::Drop(_) => drop(m),
        }
    }

    /// An ICMP error this box originates (an L3 packet), sent if its
    /// direction's budget for `class` allows: RFC 4443 §2.4 (f), RFC 1812
    /// §4.3.2.8 (see `ratelimit`). An ICMPv6 error leaves by the inside.
    fn send_icmp_error(&mut self, m: Mbuf<'e>, class: IcmpClass, now: Millis) {
        let side = match m.data().first().map(|b| b >> 4) {
            Some(6) => Side::Inside,
            _ => Side::Outside,
        };
        if self.icmp.allow(side, class, now) {
            self.send_l3(m, now);
        } else {
            match class {
                IcmpClass::Pmtu => self.dp.icmp_pmtu_rate_limited += 1,
                IcmpClass::Other => self.dp.icmp_rate_limited += 1,
            }
        }
    }

    /// An L3 packet's Ethernet header from the last hop resolved: the side
    /// it leaves by, or `None` (packet unchanged) when its next hop is not
    /// the last hop or the headroom is short; `send_l3` then takes it.
    fn encap_last_hop(&mut self, v: &mut PacketBuf<'_>) -> Option<Side> {
        let (side, mac) = self
            .last_hop
            .get(l2::next_hop(&self.shared.own, v.data())?)?;
        let (src, ethertype) = self.l2_source(side);
        if !l2::encap(v, mac, src, ethertype) {
            return None;
        }
        self.last_hop.count_hit(side);
        Some(side)
    }

    /// Source MAC and ethertype of what leaves by `side`.
    fn l2_source(&self, side: Side) -> (Mac, u16) {
        match side {
            Side::Inside => (self.shared.own.inside_mac, ethertype::IPV6),
            Side::Outside => (self.shared.own.outside_mac, ethertype::IPV4),
        }
    }

    /// An L3 packet out of the port of its family, behind its next hop's MAC.
    fn send_l3(&mut self, m: Mbuf<'e>, now: Millis) {
        let Some(hop) = l2::next_hop(&self.shared.own, m.data()) else {
            return drop(m);
        };
        // Most packets go to the same next hop.
        if let Some((side, mac)) = self.last_hop.get(hop) {
            self.last_hop.count_hit(side);
            return self.send_to(side, mac, m);
        }
        match hop {
            NextHop::V4(hop) => match self.neighbours.v4.resolve(hop, m, now) {
                Resolve::Ready(mac, m) => {
                    self.last_hop.v4 = Some((hop, mac));
                    self.send_to(Side::Outside, mac, m)
                }
                Resolve::Queued { solicit } => {
                    if solicit {
                        self.solicit4(hop);
                    }
                }
                Resolve::Dropped(m) => drop(m),
            },
            NextHop::V6(hop) => match self.neighbours.v6.resolve(hop, m, now) {
                Resolve::Ready(mac, m) => {
                    self.last_hop.v6 = Some((hop, mac));
                    self.send_to(Side::Inside, mac, m)
                }
                Resolve::Queued { solicit } => {
                    if solicit {
                        self.solicit6(hop);
                    }
                }
                Resolve::Dropped(m) => drop(m),
            },
        }
    }

    /// Put an Ethernet header to `mac` on an L3 packet and queue it.
    fn send_to(&mut self, side: Side, mac: Mac, mut m: Mbuf<'e>) {
        let (src, ethertype) = self.l2_source(side);
        if m.packet_buf()
            .is_some_and(|mut v| l2::encap(&mut v, mac, src, ethertype))
        {
            if side == Side::Outside {
                self.mark_cksum(&mut m);
            }
            self.tx(side, m);
        } else {
            self.dp.alloc_failures += 1;
        }
    }

    /// With the outside NIC filling IPv4 header checksums: mark an
    /// untagged IPv4 frame whose checksum field is 0 for it. A translated
    /// packet's was left 0 for the NIC (`XlatConfig::ipv4_checksum_offload`);
    /// any other whose checksum is 0 comes out of the NIC the same, since
    /// the NIC sums the header with the field 0.
    fn mark_cksum(&self, m: &mut Mbuf<'e>) {
        if !self.ports.ipv4_cksum_offload {
            return;
        }
        let d = m.data();
        if d.len() >= ETHER_HDR + 20
            && d[12..14] == ethertype::IPV4.to_be_bytes()
            && d[ETHER_HDR] >> 4 == 4
            && d[ETHER_HDR + 10..ETHER_HDR + 12] == [0, 0]
        {
            let l3 = u16::from(d[ETHER_HDR] & 0x0f) * 4;
            m.offload_ipv4_cksum(ETHER_HDR as u8, l3);
        }
    }

    /// Queue a finished frame on `side`'s tx burst.
    fn tx(&mut self, side: Side, m: Mbuf<'e>) {
        match side {
            Side::Inside => {
                self.ports
                    .inside_tx
                    .push(m, &mut self.dp.tx_inside, &mut self.dp.tx_full_inside)
            }
            Side::Outside => {
                self.ports
                    .outside_tx
                    .push(m, &mut self.dp.tx_outside, &mut self.dp.tx_full_outside)
            }
        }
    }

    /// RFC 7915 §4 (DF=0 fragmented to the IPv6 side's MTU): write each
    /// fragment into its own mbuf and send it.
    fn send_fragments(&mut self, m: Mbuf<'e>, mtu: u16, now: Millis) {
        let mut frags: Burst<'e, BURST> = Burst::new(self.eal);
        let pool = self.pool;
        let mut failed = 0u64;
        let res =
            crate::xlat::v4to6::fragment_ipv6(m.data(), mtu, &mut |head: &[u8], piece: &[u8]| {
                let Some(mut f) = pool.alloc() else {
                    failed += 1;
                    return false;
                };
                // Written straight into the new mbuf (the Ethernet header
                // goes in its headroom later).
                let Ok(n) = u16::try_from(head.len() + piece.len()) else {
                    return false;
                };
                match f.append(n) {
                    Some(buf) => {
                        let (h, p) = buf.split_at_mut(head.len());
                        h.copy_from_slice(head);
                        p.copy_from_slice(piece);
                    }
                    None => {
                        failed += 1;
                        return false;
                    }
                }
                frags.push(f).is_ok()
            });
        drop(m);
        self.dp.alloc_failures += failed;
        if res.is_err() {
            return;
        }
        for f in frags.drain() {
            self.dp.fragments_out += 1;
            self.send_l3(f, now);
        }
    }

    /// Ring `m` to its owner; a full ring is a counted drop.
    fn handoff(&mut self, m: Mbuf<'e>, worker: u16) {
        match self.handoff.out.get_mut(usize::from(worker)) {
            Some(Some((_, staged))) => {
                self.dp.handoff_out += 1;
                if let Err(m) = staged.push(m) {
                    drop(m);
                    self.dp.handoff_drops += 1;
                }
            }
            _ => drop(m),
        }
    }

    /// A frame for the box itself, down `side`'s exception path to the
    /// kernel if that side's guard admits it (allow list, policer).
    fn divert_to_exception(&mut self, side: Side, m: Mbuf<'e>, now: Millis) {
        let (tx, count, guard) = match side {
            Side::Inside => (
                &mut self.exception.inside_tx,
                &mut self.dp.to_exception_inside,
                &mut self.exception.inside_guard,
            ),
            Side::Outside => (
                &mut self.exception.outside_tx,
                &mut self.dp.to_exception_outside,
                &mut self.exception.outside_guard,
            ),
        };
        match guard.admit(m.data(), now) {
            Ok(()) => {}
            Err(KernelDrop::NotAllowed) => {
                self.dp.kernel_not_allowed += 1;
                return;
            }
            Err(KernelDrop::Policed) => {
                self.dp.kernel_policed += 1;
                return;
            }
        }
        match tx {
            Some(tx) => tx.push(m, count, &mut self.dp.exception_drops),
            None => {
                drop(m);
                self.dp.exception_drops += 1;
            }
        }
    }

    /// Worker 0: frames the kernel sent up the exception path go out of the
    /// real ports unchanged (the TAPs carry the ports' MACs).
    fn poll_exception(&mut self) {
        let Some((rx_in, _)) = self.exception.rx.as_mut() else {
            return;
        };
        let mut rx = std::mem::replace(&mut self.rx, Burst::new(self.eal));
        if rx_in.rx_burst(&mut rx) > 0 {
            self.dp.from_exception_inside += rx.len() as u64;
            for m in rx.drain() {
                self.tx(Side::Inside, m);
            }
        }
        if let Some((_, rx_out)) = self.exception.rx.as_mut() {
            if rx_out.rx_burst(&mut rx) > 0 {
                self.dp.from_exception_outside += rx.len() as u64;
                for m in rx.drain() {
                    self.tx(Side::Outside, m);
                }
            }
        }
        self.rx = rx;
    }

    /// Send every staged burst.
    fn flush(&mut self) {
        self.ports
            .inside_tx
            .flush(&mut self.dp.tx_inside, &mut self.dp.tx_full_inside);
        self.ports
            .outside_tx
            .flush(&mut self.dp.tx_outside, &mut self.dp.tx_full_outside);
        if let Some(k) = self.exception.inside_tx.as_mut() {
            k.flush(
                &mut self.dp.to_exception_inside,
                &mut self.dp.exception_drops,
            );
        }
        if let Some(k) = self.exception.outside_tx.as_mut() {
            k.flush(
                &mut self.dp.to_exception_outside,
                &mut self.dp.exception_drops,
            );
        }
        for (ring, staged) in self.handoff.out.iter_mut().flatten() {
            if staged.is_empty() {
                continue;
            }
            ring.enqueue_burst(staged);
            // What did not fit stays in the burst: a full ring drops it.
            self.dp.handoff_drops += staged.len() as u64;
            staged.clear();
        }
    }

    /// A neighbour learned here: release what waited for it, and tell the
    /// other workers (their replies may land on this worker's queue).
    fn learn(&mut self, ip: IpAddr, mac: Mac, now: Millis, broadcast: bool) {
        self.last_hop.forget();
        if broadcast {
            for (j, q) in self.shared.neigh_updates.iter().enumerate() {
                if j != usize::from(self.id) && q.push(NeighUpdate { ip, mac }).is_err() {
                    self.dp.neigh_update_drops += 1;
                }
            }
        }
        let mut released: Burst<'e, BURST> = Burst::new(self.eal);
        let mut overflow = 0u64;
        let side = match ip {
            IpAddr::V4(a) => {
                self.neighbours.v4.learn(a, mac, now, &mut |_, m| {
                    if released.push(m).is_err() {
                        overflow += 1;
                    }
                });
                Side::Outside
            }
            IpAddr::V6(a) => {
                self.neighbours.v6.learn(a, mac, now, &mut |_, m| {
                    if released.push(m).is_err() {
                        overflow += 1;
                    }
                });
                Side::Inside
            }
        };
        self.dp.alloc_failures += overflow;
        for m in released.drain() {
            self.send_to(side, mac, m);
        }
    }

    /// Apply what other workers learned.
    fn neigh_updates(&mut self, now: Millis) {
        let id = usize::from(self.id);
        // One atomic load when nothing is queued (the usual case).
        if self
            .shared
            .neigh_updates
            .get(id)
            .is_none_or(ArrayQueue::is_empty)
        {
            return;
        }
        let shared = Arc::clone(&self.shared);
        if let Some(q) = shared.neigh_updates.get(id) {
            while let Some(u) = q.pop() {
                self.learn(u.ip, u.mac, now, false);
            }
        }
    }

    /// Answer one inspection request of the control side, if one waits
    /// (one atomic load when none does, the usual case).
    fn answer_inspect(&mut self, now: Millis) {
        let Some(q) = self.shared.inspect.get(usize::from(self.id)) else {
            return;
        };
        if q.is_empty() {
            return;
        }
        if let Some(req) = q.pop() {
            // The asker may have timed out and gone: nothing to do then.
            let _ = req.reply.try_send(self.nat.inspect(&req.query, now));
        }
    }

    /// Apply a reload's settings (`nat64::live`): the pipeline's, and
    /// fresh ICMP error buckets at the new rates.
    fn settings(&mut self) {
        // One atomic load when nothing is queued (the usual case).
        let Some(q) = self.shared.settings.get(usize::from(self.id)) else {
            return;
        };
        if q.is_empty() {
            return;
        }
        while let Some(s) = q.pop() {
            self.nat.apply(&s);
            self.icmp = IcmpBudget::new(s.icmp_errors_per_second, s.icmp_pmtu_errors_per_second);
        }
    }

    /// ARP request for `ip` out of the outside port (RFC 826).
    fn solicit4(&mut self, ip: Ipv4Addr) {
        let own = &self.shared.own;
        let (mac, src) = (own.outside_mac, own.outside);
        match frame(self.pool, l2::ARP_FRAME_LEN, |b| {
            l2::arp_request(b, mac, src, ip)
        }) {
            Some(m) => self.tx(Side::Outside, m),
            None => self.dp.alloc_failures += 1,
        }
    }

    /// Neighbor Solicitation for `ip` out of the inside port (RFC 4861 §7.2.2).
    fn solicit6(&mut self, ip: Ipv6Addr) {
        let own = &self.shared.own;
        let (mac, src) = (own.inside_mac, own.inside);
        match frame(self.pool, l2::NS_FRAME_LEN, |b| {
            l2::neighbor_solicit(b, mac, src, ip)
        }) {
            Some(m) => self.tx(Side::Inside, m),
            None => self.dp.alloc_failures += 1,
        }
    }

    /// Every millisecond: the pipeline's timers (expiry, hold-down, held
    /// SYNs answered with ICMP).
    fn tick(&mut self, now: Millis) {
        let pool = self.pool;
        let mut out: Burst<'e, BURST> = Burst::new(self.eal);
        let mut failed = 0u64;
        self.nat.tick(now, &mut |e: Emit| match e {
            Emit::Outside(bytes) => {
                let Some(mut m) = pool.alloc() else {
                    failed += 1;
                    return;
                };
                let Ok(n) = u16::try_from(bytes.len()) else {
                    return;
                };
                match m.append(n) {
                    Some(b) => b.copy_from_slice(bytes),
                    None => {
                        failed += 1;
                        return;
                    }
                }
                if out.push(m).is_err() {
                    failed += 1;
                }
            }
        });
        self.dp.alloc_failures += failed;
        for m in out.drain() {
            // Port unreachables for held SYNs are errors too.
            self.send_icmp_error(m, IcmpClass::Other, now);
        }
    }

    /// Neighbour retries and ageing; a rate-limited log line about
    /// conflicts (pairs refused for contradicting a resolved MAC).
    fn neigh_tick(&mut self, now: Millis) {
        self.last_hop.forget();
        self.log_conflicts(now);
        let own = &self.shared.own;
        let pool = self.pool;
        let dp = &mut self.dp;
        let (mac, src) = (own.outside_mac, own.outside);
        let tx = &mut self.ports.outside_tx;
        self.neighbours
            .v4
            .tick(now, &mut |ip| match frame(pool, l2::ARP_FRAME_LEN, |b| {
                l2::arp_request(b, mac, src, ip)
            }) {
                Some(m) => tx.push(m, &mut dp.tx_outside, &mut dp.tx_full_outside),
                None => dp.alloc_failures += 1,
            });
        let (mac, src) = (own.inside_mac, own.inside);
        let tx = &mut self.ports.inside_tx;
        self.neighbours
            .v6
            .tick(now, &mut |ip| match frame(pool, l2::NS_FRAME_LEN, |b| {
                l2::neighbor_solicit(b, mac, src, ip)
            }) {
                Some(m) => tx.push(m, &mut dp.tx_inside, &mut dp.tx_full_inside),
                None => dp.alloc_failures += 1,
            });
    }

    /// At most every [`CONFLICT_LOG_MS`]: a warning naming the last
    /// conflict when any happened since the last warning.
    fn log_conflicts(&mut self, now: Millis) {
        let n = &mut self.neighbours;
        let seen = (n.v4.counters().conflicts, n.v6.counters().conflicts);
        if seen == n.conflicts_logged || now < n.next_conflict_log {
            return;
        }
        // The newest family's last conflict names an example.
        let last = if seen.1 != n.conflicts_logged.1 {
            n.v6.last_conflict()
                .map(|(ip, kept, refused)| (IpAddr::V6(ip), kept, refused))
        } else {
            n.v4.last_conflict()
                .map(|(ip, kept, refused)| (IpAddr::V4(ip), kept, refused))
        };
        let fmt = |m: Mac| m.map(|b| format!("{b:02x}")).join(":");
        if let Some((ip, kept, refused)) = last {
            tracing::warn!(
                worker = self.id,
                conflicts = (seen.0 + seen.1) - (n.conflicts_logged.0 + n.conflicts_logged.1),
                "neighbour {ip} claimed by {} while resolved to {}: ignored until a solicitation confirms it",
                fmt(refused),
                fmt(kept)
            );
        }
        n.conflicts_logged = seen;
        n.next_conflict_log = now + CONFLICT_LOG_MS;
    }

    fn count_l2(&mut self, r: L2Drop) {
        if let Some(c) = self.l2_drops.get_mut(r.index()) {
            *c += 1;
        }
    }

    /// Which local responder produced the reply frame `f`.
    fn count_local_reply(&mut self, f: &[u8]) {
        match classify::reply_kind(f) {
            Some(LocalReply::Arp) => self.dp.local_arp += 1,
            Some(LocalReply::Nd) => self.dp.local_nd += 1,
            Some(LocalReply::Echo4) => self.dp.local_echo4 += 1,
            Some(LocalReply::Echo6) => self.dp.local_echo6 += 1,
            None => {}
        }
    }

    /// Copy the counters and gauges into this worker's `WorkerStats`;
    /// `now` dates the pass (the control side's poll age).
    fn publish(&mut self, now: Millis) {
        // RFC 6888 REQ-12: block events to the control side's log.
        if let Some(q) = self.shared.events.get(usize::from(self.id)) {
            for ev in self.nat.events().drain() {
                if q.push(ev).is_err() {
                    self.dp.event_drops += 1;
                }
            }
        }
        let (mut n4, mut n6) = (
            *self.neighbours.v4.counters(),
            *self.neighbours.v6.counters(),
        );
        n4.hits += self.last_hop.hits4;
        n6.hits += self.last_hop.hits6;
        let snap = Snapshot {
            dp: &self.dp,
            nat64: self.nat.counters(),
            l2_drops: &self.l2_drops,
            neigh4: &n4,
            neigh6: &n6,
            gauges: Gauges::of(&self.nat),
            blocks_by_address: self.nat.allocator().blocks_in_use_by_address(),
            now,
        };
        self.stats.publish(&snap);
    }
}
