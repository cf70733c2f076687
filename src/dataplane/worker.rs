//! One worker lcore's poll loop.
//!
//! Each pass: drain neighbour updates other workers learned; rx a burst
//! from the inside port, sort it (`classify::inside_frame`), answer what
//! the box answers itself, hand the kernel's frames to the exception TAP,
//! run the NAT64 frames through `nat64::Worker::process_6to4`; the same
//! for the outside port with `process_4to6`; then packets other workers
//! rang over; (worker 0 only) frames the kernel sent out of its TAPs; then
//! every tx burst is flushed. Timers (session expiry, held SYNs, neighbour
//! retries) and the counters' publication run every millisecond.
//!
//! After the pipeline a buffer holds an L3 packet whose IP version says
//! where it goes: IPv4 out of the outside port, IPv6 out of the inside
//! port, each behind the next hop's MAC from this worker's neighbour cache
//! (a few packets wait while ARP / ND resolve it).
//!
//! Nothing is allocated per packet: bursts, staging arrays, caches and
//! rings are sized before the loop starts.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crossbeam::queue::ArrayQueue;

use super::classify::{self, L2Action, L2Drop, L2Verdict, LocalReply};
use super::exception::ExceptionRx;
use super::l2::{self, NextHop, ETHER_HDR};
use super::local;
use super::neigh::{NeighCache, NeighUpdate, Resolve};
use super::ratelimit::TokenBucket;
use super::stats::{DpCounters, Gauges, Snapshot, WorkerStats};
use super::{Mac, Own};
use crate::dpdk::{
    tsc_cycles, tsc_hz, Burst, Eal, Mbuf, MbufPacket, Mempool, RingConsumer, RingProducer, RxQueue,
    TxQueue,
};
use crate::nat64::pipeline::{Action, Emit, Worker as Nat64Worker};
use crate::nat64::{BlockEvent, Millis};
use crate::wire::ethertype;
use crate::xlat::buf::PacketBuf;

/// Frames per rx burst and per staging array.
pub const BURST: usize = 32;
/// Neighbour cache entries per family per worker.
const NEIGH_ENTRIES: usize = 1024;
/// Packets waiting per unresolved next hop.
const NEIGH_PENDING: usize = 8;
/// How often counters are published (ms).
const PUBLISH_MS: Millis = 10;
/// How often worker 0 polls the exception TAPs (µs).
const KERNEL_POLL_US: u64 = 20;
/// How often neighbour caches run their timers (ms).
const NEIGH_TICK_MS: Millis = 100;

/// Filler for the verdicts of a burst's empty slots (never acted on).
const UNSORTED: L2Verdict = L2Verdict {
    action: L2Action::Drop(L2Drop::Runt),
    learn: None,
};

/// What every worker shares: read-mostly, or lock-free queues.
#[derive(Debug)]
pub struct Shared {
    /// The box's addresses and MACs.
    pub own: Own,
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
    /// `translation.icmp_errors_per_second` (each worker's budget).
    pub icmp_errors_per_second: u32,
    /// The outside NIC fills IPv4 header checksums (tx offload enabled):
    /// IPv4 frames whose checksum field is 0 are marked for it.
    pub ipv4_cksum_offload: bool,
    /// Set by the control side to stop every worker.
    pub stop: AtomicBool,
}

/// A worker's queues on one side's exception TAP.
#[derive(Debug)]
pub struct KernelSide {
    /// This worker's tx queue on the TAP (frames for the kernel).
    pub tx: TxQueue,
    /// The TAP's rx queue (frames the kernel sends): worker 0 only.
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
    /// Exception TAPs (inside, outside); `None` with `--no-exception-path`.
    pub kernel: Option<(KernelSide, KernelSide)>,
    /// Rings to the other workers (index = destination; `None` for self).
    pub handoff_out: Vec<Option<RingProducer>>,
    /// Rings from the other workers.
    pub handoff_in: Vec<RingConsumer>,
    pub shared: Arc<Shared>,
}

/// Which port a frame came in on (and a reply goes out of).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Inside,
    Outside,
}

/// A tx queue and the burst that collects frames for it.
struct Tx<'e> {
    q: TxQueue,
    burst: Burst<'e, BURST>,
}

impl<'e> Tx<'e> {
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

/// The loop's state; `'e` borrows the EAL handle and the mbuf pool.
struct Loop<'e> {
    id: u16,
    eal: &'e Eal,
    shared: Arc<Shared>,
    pool: &'e Mempool,
    nat: Nat64Worker,
    inside_rx: RxQueue,
    outside_rx: RxQueue,
    inside_tx: Tx<'e>,
    outside_tx: Tx<'e>,
    kernel_inside: Option<Tx<'e>>,
    kernel_outside: Option<Tx<'e>>,
    kernel_rx: Option<(ExceptionRx, ExceptionRx)>,
    handoff_out: Vec<Option<(RingProducer, Burst<'e, BURST>)>>,
    handoff_in: Vec<RingConsumer>,
    neigh4: NeighCache<Ipv4Addr, Mbuf<'e>>,
    neigh6: NeighCache<Ipv6Addr, Mbuf<'e>>,
    dp: DpCounters,
    /// The last next hop resolved, and its MAC: the neighbour cache is
    /// asked once per hop and neighbour tick (NEIGH_TICK_MS), not per
    /// packet. Cleared whenever a neighbour is learned and at every tick,
    /// so an entry's ageing (REACHABLE -> probe) is seen within a tick.
    hop4: Option<(Ipv4Addr, Mac)>,
    hop6: Option<(Ipv6Addr, Mac)>,
    /// Packets sent through the memo (reported as neighbour cache hits).
    hop_hits4: u64,
    hop_hits6: u64,
    /// ICMP errors this worker may still send (`translation.icmp_errors_per_second`).
    icmp: TokenBucket,
    /// `Shared::ipv4_cksum_offload`, at hand.
    cksum_offload: bool,
    l2_drops: Vec<u64>,
    /// Frames sorted as NAT64 in the current rx burst, and how many bytes
    /// of L2 header each had.
    nat_batch: Burst<'e, BURST>,
    nat_l3: [usize; BURST],
    rx: Burst<'e, BURST>,
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
            kernel,
            handoff_out,
            handoff_in,
            shared,
        } = self;
        let eal = &eal;
        let pool = &pool;
        let (kernel_inside, kernel_outside, kernel_rx) = match kernel {
            Some((ki, ko)) => {
                let rx = match (ki.rx, ko.rx) {
                    (Some(a), Some(b)) => Some((a, b)),
                    _ => None,
                };
                (
                    Some(Tx {
                        q: ki.tx,
                        burst: Burst::new(eal),
                    }),
                    Some(Tx {
                        q: ko.tx,
                        burst: Burst::new(eal),
                    }),
                    rx,
                )
            }
            None => (None, None, None),
        };
        let mut neigh4 = NeighCache::new(NEIGH_ENTRIES, NEIGH_PENDING);
        let mut neigh6 = NeighCache::new(NEIGH_ENTRIES, NEIGH_PENDING);
        if let Some(mac) = shared.outside_gateway_mac {
            neigh4.set_static(shared.own.outside_gateway, mac);
        }
        if let Some(mac) = shared.inside_gateway_mac {
            neigh6.set_static(shared.own.inside_gateway, mac);
        }
        let stats = Arc::clone(&shared.stats[usize::from(id)]);
        let mut lp = Loop {
            id,
            eal,
            pool,
            nat,
            inside_rx,
            outside_rx,
            inside_tx: Tx {
                q: inside_tx,
                burst: Burst::new(eal),
            },
            outside_tx: Tx {
                q: outside_tx,
                burst: Burst::new(eal),
            },
            kernel_inside,
            kernel_outside,
            kernel_rx,
            handoff_out: handoff_out
                .into_iter()
                .map(|p| p.map(|p| (p, Burst::new(eal))))
                .collect(),
            handoff_in,
            neigh4,
            neigh6,
            dp: DpCounters::default(),
            hop4: None,
            hop6: None,
            hop_hits4: 0,
            hop_hits6: 0,
            icmp: TokenBucket::new(shared.icmp_errors_per_second),
            cksum_offload: shared.ipv4_cksum_offload,
            l2_drops: vec![0; L2Drop::ALL.len()],
            nat_batch: Burst::new(eal),
            nat_l3: [0; BURST],
            rx: Burst::new(eal),
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

impl<'e> Loop<'e> {
    fn poll(&mut self) {
        let clock = Clock::new(self.shared.epoch_tsc);
        let mut next_tick: Millis = 0;
        let mut next_publish: Millis = 0;
        let mut next_neigh: Millis = 0;
        let kernel_period = tsc_hz() / 1_000_000 * KERNEL_POLL_US;
        let mut next_kernel = 0u64;
        while !self.shared.stop.load(Ordering::Relaxed) {
            // One TSC read per pass: the millisecond clock and the
            // exception poll timer both come from it.
            let tsc = tsc_cycles();
            let now = clock.at(tsc);
            self.dp.polls += 1;
            self.neigh_updates(now);

            // Inside port: IPv6 from the subscribers.
            if self.inside_rx.rx_burst(&mut self.rx) > 0 {
                self.dp.rx_inside += self.rx.len() as u64;
                self.dp.rx_bursts_inside += 1;
                self.frames(Side::Inside, now);
            }
            // Outside port: IPv4 from the Internet.
            if self.outside_rx.rx_burst(&mut self.rx) > 0 {
                self.dp.rx_outside += self.rx.len() as u64;
                self.dp.rx_bursts_outside += 1;
                self.frames(Side::Outside, now);
            }
            // Packets other workers received for this one.
            for i in 0..self.handoff_in.len() {
                if self.handoff_in[i].dequeue_burst(&mut self.rx) > 0 {
                    self.dp.handoff_in += self.rx.len() as u64;
                    self.handed_in(now);
                }
            }
            // What the kernel sends out of its TAPs leaves unchanged. A
            // TAP poll is a system call, so it is done every
            // KERNEL_POLL_US, not every pass: the kernel's own traffic
            // (ssh, BGP, DNS64 answers) waits at most that long.
            if tsc >= next_kernel {
                next_kernel = tsc + kernel_period;
                self.from_kernel();
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
                self.publish();
            }
        }
        self.flush();
        self.publish();
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
                L2Action::Kernel => self.to_kernel(side, m),
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
    /// views are at hand, a forwarded packet whose next hop is in the memo
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
                match self.encap_memo(v) {
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
                    Some(4) => (self.nat.process_4to6(&mut v, now), Side::Outside),
                    _ => continue,
                }
            };
            self.dispatch(m, action, side, None, now);
        }
        self.rx = rx;
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
            // RFC 4443 §2.4 (f), RFC 1812 §4.3.2.8: the errors this box
            // originates are rate limited.
            Action::Reply(_) => {
                if self.icmp.allow(now) {
                    self.send_l3(m, now);
                } else {
                    self.dp.icmp_rate_limited += 1;
                }
            }
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
                        self.dp.kernel_drops += 1;
                        return;
                    }
                }
                self.to_kernel(Side::Outside, m);
            }
            Action::Held | Action::Drop(_) => drop(m),
        }
    }

    /// An L3 packet's Ethernet header from the next-hop memo: the side it
    /// leaves by, or `None` (packet unchanged) when its next hop is not the
    /// memo's or the headroom is short; `send_l3` then takes it.
    fn encap_memo(&mut self, v: &mut PacketBuf<'_>) -> Option<Side> {
        let (side, mac) = self.memo(l2::next_hop(&self.shared.own, v.data())?)?;
        let (src, ethertype) = self.l2_source(side);
        if !l2::encap(v, mac, src, ethertype) {
            return None;
        }
        self.count_memo_hit(side);
        Some(side)
    }

    /// The memo's MAC for `hop`, and the side it leaves by, if the memo
    /// holds that hop.
    fn memo(&self, hop: NextHop) -> Option<(Side, Mac)> {
        match (hop, self.hop4, self.hop6) {
            (NextHop::V4(h), Some((m, mac)), _) if h == m => Some((Side::Outside, mac)),
            (NextHop::V6(h), _, Some((m, mac))) if h == m => Some((Side::Inside, mac)),
            _ => None,
        }
    }

    /// A packet sent through the memo (reported as a neighbour cache hit).
    fn count_memo_hit(&mut self, side: Side) {
        match side {
            Side::Outside => self.hop_hits4 += 1,
            Side::Inside => self.hop_hits6 += 1,
        }
    }

    /// Source MAC and ethertype of what leaves by `side`.
    fn l2_source(&self, side: Side) -> (Mac, u16) {
        match side {
            Side::Inside => (self.shared.own.inside_mac, ethertype::IPV6),
            Side::Outside => (self.shared.own.outside_mac, ethertype::IPV4),
        }
    }

    /// Drop the next-hop memo: the neighbour cache changed (a neighbour
    /// learned) or may change (its tick: entries age, RFC 4861 §7.3.3).
    fn forget_hops(&mut self) {
        self.hop4 = None;
        self.hop6 = None;
    }

    /// An L3 packet out of the port of its family, behind its next hop's MAC.
    fn send_l3(&mut self, m: Mbuf<'e>, now: Millis) {
        let Some(hop) = l2::next_hop(&self.shared.own, m.data()) else {
            return drop(m);
        };
        // Most packets go to the same next hop.
        if let Some((side, mac)) = self.memo(hop) {
            self.count_memo_hit(side);
            return self.send_to(side, mac, m);
        }
        match hop {
            NextHop::V4(hop) => match self.neigh4.resolve(hop, m, now) {
                Resolve::Ready(mac, m) => {
                    self.hop4 = Some((hop, mac));
                    self.send_to(Side::Outside, mac, m)
                }
                Resolve::Queued { solicit } => {
                    if solicit {
                        self.solicit4(hop);
                    }
                }
                Resolve::Dropped(m) => drop(m),
            },
            NextHop::V6(hop) => match self.neigh6.resolve(hop, m, now) {
                Resolve::Ready(mac, m) => {
                    self.hop6 = Some((hop, mac));
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
        if !self.cksum_offload {
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
                self.inside_tx
                    .push(m, &mut self.dp.tx_inside, &mut self.dp.tx_full_inside)
            }
            Side::Outside => {
                self.outside_tx
                    .push(m, &mut self.dp.tx_outside, &mut self.dp.tx_full_outside)
            }
        }
    }

    /// RFC 7915 §4 (DF=0 fragmented to the IPv6 side's MTU): copy each
    /// fragment into its own mbuf and send it.
    fn send_fragments(&mut self, m: Mbuf<'e>, mtu: u16, now: Millis) {
        let mut frags: Burst<'e, BURST> = Burst::new(self.eal);
        let pool = self.pool;
        let mut failed = 0u64;
        let res = crate::xlat::v4to6::fragment_ipv6(m.data(), mtu, &mut |piece: &[u8]| {
            let Some(mut f) = pool.alloc() else {
                failed += 1;
                return false;
            };
            // Room for the Ethernet header in front.
            let Ok(n) = u16::try_from(piece.len()) else {
                return false;
            };
            match f.append(n) {
                Some(buf) => buf.copy_from_slice(piece),
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
        match self.handoff_out.get_mut(usize::from(worker)) {
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

    /// A frame for the kernel, through `side`'s exception TAP.
    fn to_kernel(&mut self, side: Side, m: Mbuf<'e>) {
        let (tx, count) = match side {
            Side::Inside => (&mut self.kernel_inside, &mut self.dp.to_kernel_inside),
            Side::Outside => (&mut self.kernel_outside, &mut self.dp.to_kernel_outside),
        };
        match tx {
            Some(tx) => tx.push(m, count, &mut self.dp.kernel_drops),
            None => {
                drop(m);
                self.dp.kernel_drops += 1;
            }
        }
    }

    /// Worker 0: frames the kernel sent out of its TAPs go out of the real
    /// ports unchanged (the TAPs carry the ports' MACs).
    fn from_kernel(&mut self) {
        let Some((rx_in, _)) = self.kernel_rx.as_mut() else {
            return;
        };
        let mut rx = std::mem::replace(&mut self.rx, Burst::new(self.eal));
        if rx_in.rx_burst(&mut rx) > 0 {
            self.dp.from_kernel_inside += rx.len() as u64;
            for m in rx.drain() {
                self.tx(Side::Inside, m);
            }
        }
        if let Some((_, rx_out)) = self.kernel_rx.as_mut() {
            if rx_out.rx_burst(&mut rx) > 0 {
                self.dp.from_kernel_outside += rx.len() as u64;
                for m in rx.drain() {
                    self.tx(Side::Outside, m);
                }
            }
        }
        self.rx = rx;
    }

    /// Send every staged burst.
    fn flush(&mut self) {
        self.inside_tx
            .flush(&mut self.dp.tx_inside, &mut self.dp.tx_full_inside);
        self.outside_tx
            .flush(&mut self.dp.tx_outside, &mut self.dp.tx_full_outside);
        if let Some(k) = self.kernel_inside.as_mut() {
            k.flush(&mut self.dp.to_kernel_inside, &mut self.dp.kernel_drops);
        }
        if let Some(k) = self.kernel_outside.as_mut() {
            k.flush(&mut self.dp.to_kernel_outside, &mut self.dp.kernel_drops);
        }
        for (ring, staged) in self.handoff_out.iter_mut().flatten() {
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
        self.forget_hops();
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
                self.neigh4.learn(a, mac, now, &mut |_, m| {
                    if released.push(m).is_err() {
                        overflow += 1;
                    }
                });
                Side::Outside
            }
            IpAddr::V6(a) => {
                self.neigh6.learn(a, mac, now, &mut |_, m| {
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
            if self.icmp.allow(now) {
                self.send_l3(m, now);
            } else {
                self.dp.icmp_rate_limited += 1;
            }
        }
    }

    /// Neighbour retries and ageing.
    fn neigh_tick(&mut self, now: Millis) {
        self.forget_hops();
        let own = &self.shared.own;
        let pool = self.pool;
        let dp = &mut self.dp;
        let (mac, src) = (own.outside_mac, own.outside);
        let tx = &mut self.outside_tx;
        self.neigh4
            .tick(now, &mut |ip| match frame(pool, l2::ARP_FRAME_LEN, |b| {
                l2::arp_request(b, mac, src, ip)
            }) {
                Some(m) => tx.push(m, &mut dp.tx_outside, &mut dp.tx_full_outside),
                None => dp.alloc_failures += 1,
            });
        let (mac, src) = (own.inside_mac, own.inside);
        let tx = &mut self.inside_tx;
        self.neigh6
            .tick(now, &mut |ip| match frame(pool, l2::NS_FRAME_LEN, |b| {
                l2::neighbor_solicit(b, mac, src, ip)
            }) {
                Some(m) => tx.push(m, &mut dp.tx_inside, &mut dp.tx_full_inside),
                None => dp.alloc_failures += 1,
            });
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

    fn publish(&mut self) {
        // RFC 6888 REQ-12: block events to the control side's log.
        if let Some(q) = self.shared.events.get(usize::from(self.id)) {
            for ev in self.nat.events().drain() {
                if q.push(ev).is_err() {
                    self.dp.event_drops += 1;
                }
            }
        }
        let t = self.nat.tables();
        let gauges = Gauges {
            sessions: t.sessions_len() as u64,
            bib_entries: t.bib_len() as u64,
            blocks_in_use: self.nat.allocator().blocks_in_use() as u64,
            held_syns: self.nat.held_syns() as u64,
        };
        let (mut n4, mut n6) = (*self.neigh4.counters(), *self.neigh6.counters());
        n4.hits += self.hop_hits4;
        n6.hits += self.hop_hits6;
        let snap = Snapshot {
            dp: &self.dp,
            nat64: self.nat.counters(),
            l2_drops: &self.l2_drops,
            neigh4: &n4,
            neigh6: &n6,
            gauges,
        };
        self.stats.publish(&snap);
    }
}
