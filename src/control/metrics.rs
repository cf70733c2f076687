//! Metrics: every series the box exports, gathered at scrape time by
//! `prometheus` collectors and encoded in the Prometheus text exposition
//! format (version 0.0.4) by `prometheus::TextEncoder`. The `--counters`
//! file and the metrics endpoint serve the same text,
//! [`Exporter::encode`].
//!
//! What it promises:
//! - One schema. The workers' series are laid out by walking [`visit`]
//!   (in `dataplane::stats`) with a recorder, and the workers publish by
//!   walking the same [`visit`] (`WorkerStats::publish`), so writer and
//!   reader can never disagree on an index. At scrape time the workers'
//!   collector sums each series over the workers (or, for the metrics in
//!   [`PER_WORKER`], gives each worker's with a `worker` label); every
//!   label value of every drop reason is there from the start, at zero.
//! - Nothing here touches the per-packet path: the workers only store
//!   plain values into their own `WorkerStats` every few milliseconds.
//! - DPDK is asked only on the main lcore: the control loop samples the
//!   ports (`rte_eth_stats_get`, link) and the mbuf pool
//!   ([`DpdkSample::take`]) every 100 ms and hands the sample to
//!   [`Exporter::set_dpdk`]; a scrape reads the last sample. So a scrape
//!   from any thread never races a port's close.
//! - Names follow the Prometheus conventions: `_total` for counters, base
//!   units (`_bytes`, `_seconds`), per-port series labelled `port`
//!   (`inside`, `outside`), per-worker ones `worker`. Every family has a
//!   HELP text (a test checks).
//!
//! Where it deviates: the workers' counters are as of their last
//! publication (every 10 ms), the ports' and the pool's as of the last
//! sample (every 100 ms), not of the scrape itself.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use prometheus::core::{Collector, Desc};
use prometheus::proto::{self, MetricFamily, MetricType};
use prometheus::{IntCounter, Registry, TextEncoder};

use crate::dataplane::stats::{visit, Kind, Snapshot, Visitor, WorkerStats, PER_WORKER};
use crate::dataplane::worker::Shared;
use crate::dns64::server::Dns64Stats;
use crate::dns64::upstream::LATENCY_BUCKETS_MS;
use crate::dpdk::{
    tsc_cycles, tsc_hz, Link, Mempool, Port, PortStats, QueueStats, QUEUE_STAT_COUNTERS,
};
use crate::nat64::pool4::PoolLayout;

/// One-line help per metric, for `# HELP`.
fn help(metric: &str) -> &'static str {
    match metric {
        "nat64_packets_total" => "Frames received and sent per port, per worker.",
        "nat64_rx_bursts_total" => {
            "Non-empty rx bursts per port, per worker (packets per burst: how loaded)."
        }
        "nat64_worker_polls_total" => "Passes of each worker's poll loop, idle ones included.",
        "nat64_tx_full_drops_total" => "Frames freed because the port's tx queue was full.",
        "nat64_translated_total" => "Packets translated and forwarded (RFC 6146 3.7).",
        "nat64_replies_total" => "ICMP errors built for a sender (rate-limited ones included).",
        "nat64_hairpinned_total" => "Packets hairpinned (RFC 6146 3.8).",
        "nat64_local_total" => "Packets to a pool or outside address that no BIB entry claims.",
        "nat64_sessions_created_total" => "Sessions created.",
        "nat64_sessions_expired_total" => {
            "Sessions removed by expiry, reclaim or a reload that forbids them."
        }
        "nat64_bib_created_total" => "Dynamic BIB entries created.",
        "nat64_syns_held_total" => "IPv4-initiated SYNs held (RFC 6146 3.5.2.2).",
        "nat64_held_syns_expired_total" => "Held SYNs answered with ICMP port unreachable.",
        "nat64_simultaneous_opens_total" => "Held SYNs matched by an IPv6 SYN.",
        "nat64_block_events_dropped_total" => {
            "Port-block events lost to a full queue (missing from the event log)."
        }
        "nat64_drops_total" => "Packets dropped, by layer and reason.",
        "nat64_handoff_total" => "Packets handed between workers, per worker.",
        "nat64_handoff_drops_total" => "Handoffs lost to a full handoff ring.",
        "nat64_local_replies_total" => "ARP, ND and echo answered in the dataplane.",
        "nat64_exception_total" => "Frames between the wire and the kernel's TAP interfaces.",
        "nat64_fragments_out_total" => "IPv6 fragments sent (RFC 7915 4.1, DF=0).",
        "nat64_neigh_total" => "Neighbour resolution events.",
        "nat64_sessions" => "Sessions in the tables, per protocol.",
        "nat64_bib_entries" => "BIB entries in the tables (static ones included), per protocol.",
        "nat64_subscribers" => "Subscribers holding port blocks.",
        "nat64_held_syns" => "IPv4 SYNs held right now.",
        "nat64_fragments_total" => "Fragments of fragmented datagrams, by event (RFC 6146 3.4).",
        "nat64_fragment_datagrams" => "Fragmented datagrams tracked right now.",
        "nat64_parked_fragments" => "Fragments held until their first fragment comes.",
        _ => "",
    }
}

/// One series of the workers' schema: a metric and its labels.
#[derive(Debug, Clone)]
struct Series {
    metric: &'static str,
    kind: Kind,
    labels: Vec<(&'static str, &'static str)>,
}

/// Records the layout.
struct Recorder(Vec<Series>);

impl Visitor for Recorder {
    fn series(
        &mut self,
        metric: &'static str,
        kind: Kind,
        labels: &[(&'static str, &'static str)],
        _: u64,
    ) {
        self.0.push(Series {
            metric,
            kind,
            labels: labels.to_vec(),
        });
    }
}

/// The workers' series, in [`visit`] order.
fn layout() -> Vec<Series> {
    let mut r = Recorder(Vec::new());
    Snapshot::with_zeros(|s| visit(s, &mut r));
    r.0
}

/// An empty family.
fn family(name: &str, help: &str, kind: MetricType) -> MetricFamily {
    let mut mf = MetricFamily::default();
    mf.set_name(name.to_string());
    mf.set_help(help.to_string());
    mf.set_field_type(kind);
    mf
}

/// `labels` as label pairs.
fn label_pairs(labels: &[(&str, &str)]) -> Vec<proto::LabelPair> {
    labels
        .iter()
        .map(|&(k, v)| {
            let mut p = proto::LabelPair::default();
            p.set_name(k.to_string());
            p.set_value(v.to_string());
            p
        })
        .collect()
}

/// Add a sample of a counter or gauge family.
fn sample(mf: &mut MetricFamily, labels: &[(&str, &str)], value: f64) {
    let mut m = proto::Metric::default();
    m.set_label(label_pairs(labels));
    if mf.get_field_type() == MetricType::COUNTER {
        let mut c = proto::Counter::default();
        c.set_value(value);
        m.set_counter(c);
    } else {
        let mut g = proto::Gauge::default();
        g.set_value(value);
        m.set_gauge(g);
    }
    mf.mut_metric().push(m);
}

/// A counter family with one sample per `(labels, value)`.
fn counters(name: &str, help: &str, series: &[(&[(&str, &str)], u64)]) -> MetricFamily {
    let mut mf = family(name, help, MetricType::COUNTER);
    for &(labels, v) in series {
        sample(&mut mf, labels, v as f64);
    }
    mf
}

/// A gauge family with one sample per `(labels, value)`.
fn gauges(name: &str, help: &str, series: &[(&[(&str, &str)], f64)]) -> MetricFamily {
    let mut mf = family(name, help, MetricType::GAUGE);
    for &(labels, v) in series {
        sample(&mut mf, labels, v);
    }
    mf
}

/// What a collector gathers, as families.
trait Families: Send + Sync {
    fn families(&self) -> Vec<MetricFamily>;
}

/// A [`Families`] source as a `prometheus` collector: its descriptors are
/// those of the families it gathers at construction (one copy of every
/// name, help and label set).
struct Collected<T> {
    source: Arc<T>,
    descs: Vec<Desc>,
}

impl<T: Families> Collected<T> {
    /// The collector of `source`; an invalid name or help is an error.
    fn new(source: Arc<T>) -> Result<Collected<T>, prometheus::Error> {
        let descs = source
            .families()
            .iter()
            .map(|mf| {
                let labels = mf
                    .get_metric()
                    .first()
                    .map(|m| {
                        m.get_label()
                            .iter()
                            .map(|l| l.get_name().to_string())
                            .collect()
                    })
                    .unwrap_or_default();
                Desc::new(
                    mf.get_name().to_string(),
                    mf.get_help().to_string(),
                    labels,
                    Default::default(),
                )
            })
            .collect::<Result<_, _>>()?;
        Ok(Collected { source, descs })
    }
}

impl<T: Families> Collector for Collected<T> {
    fn desc(&self) -> Vec<&Desc> {
        self.descs.iter().collect()
    }

    fn collect(&self) -> Vec<MetricFamily> {
        self.source.families()
    }
}

/// The workers' published counters and gauges, read at scrape time.
struct Workers {
    layout: Vec<Series>,
    /// Where the series of received frames are (for idleness).
    rx_series: Vec<usize>,
    stats: Vec<Arc<WorkerStats>>,
    pool: Arc<PoolLayout>,
    /// The workers' shared clock: TSC at millisecond 0, TSC cycles per ms
    /// (0: unknown, no poll ages).
    epoch_tsc: u64,
    tsc_per_ms: u64,
}

impl Workers {
    /// The collector of `stats` (index = worker id) over `pool`, on the
    /// clock whose millisecond 0 is `epoch_tsc`.
    fn new(stats: Vec<Arc<WorkerStats>>, pool: Arc<PoolLayout>, epoch_tsc: u64) -> Workers {
        let layout = layout();
        let rx_series = layout
            .iter()
            .enumerate()
            .filter(|(_, s)| s.metric == "nat64_packets_total" && s.labels.contains(&("dir", "rx")))
            .map(|(i, _)| i)
            .collect();
        Workers {
            layout,
            rx_series,
            stats,
            pool,
            epoch_tsc,
            tsc_per_ms: tsc_hz() / 1000,
        }
    }

    /// Series `i` summed over the workers.
    fn total(&self, i: usize) -> u64 {
        self.stats.iter().map(|w| w.get(i)).sum()
    }

    /// The port-block families: in use (summed over the workers) and in
    /// all, per pool address.
    fn blocks(&self) -> [MetricFamily; 2] {
        let mut used = family(
            "nat64_port_blocks_in_use",
            "Port blocks held by subscribers, per pool address.",
            MetricType::GAUGE,
        );
        let mut total = family(
            "nat64_port_blocks",
            "Port blocks in the pool, per pool address.",
            MetricType::GAUGE,
        );
        let per_addr = f64::from(self.pool.blocks_per_address());
        for i in 0..self.pool.address_count() {
            let Some(a) = self.pool.address(i) else {
                continue;
            };
            let a = a.to_string();
            let labels = [("address", a.as_str())];
            let n: u64 = self.stats.iter().map(|w| w.blocks_in_use(i as usize)).sum();
            sample(&mut used, &labels, n as f64);
            sample(&mut total, &labels, per_addr);
        }
        [used, total]
    }

    /// Seconds since each worker last published (it does every 10 ms of
    /// its poll loop): a stuck worker's grows.
    fn poll_ages(&self) -> MetricFamily {
        let mut mf = family(
            "nat64_worker_last_poll_age_seconds",
            "Seconds since each worker's poll loop last published its counters (every 10 ms).",
            MetricType::GAUGE,
        );
        let now = tsc_cycles().saturating_sub(self.epoch_tsc) / self.tsc_per_ms.max(1);
        for (w, s) in self.stats.iter().enumerate() {
            let w = w.to_string();
            let age = now.saturating_sub(s.last_poll()) as f64 / 1000.0;
            sample(&mut mf, &[("worker", &w)], age);
        }
        mf
    }
}

impl Families for Workers {
    fn families(&self) -> Vec<MetricFamily> {
        let workers: Vec<String> = (0..self.stats.len()).map(|w| w.to_string()).collect();
        let mut out: Vec<MetricFamily> = Vec::new();
        for (i, s) in self.layout.iter().enumerate() {
            if out.last().map(|mf| mf.get_name()) != Some(s.metric) {
                let kind = match s.kind {
                    Kind::Counter => MetricType::COUNTER,
                    Kind::Gauge => MetricType::GAUGE,
                };
                out.push(family(s.metric, help(s.metric), kind));
            }
            let Some(mf) = out.last_mut() else {
                continue;
            };
            if PER_WORKER.contains(&s.metric) {
                for (w, stats) in workers.iter().zip(&self.stats) {
                    let mut labels = s.labels.clone();
                    labels.push(("worker", w));
                    sample(mf, &labels, stats.get(i) as f64);
                }
            } else {
                sample(mf, &s.labels, self.total(i) as f64);
            }
        }
        out.extend(self.blocks());
        if self.tsc_per_ms > 0 {
            out.push(self.poll_ages());
        }
        out
    }
}

/// A family of a port's DPDK counters: name, help, which counter.
type PortCounter = (&'static str, &'static str, fn(&PortStats) -> u64);

/// One port's DPDK counters and link, as sampled.
#[derive(Debug, Clone, Copy)]
struct PortSample {
    role: &'static str,
    stats: Option<PortStats>,
    link: Option<Link>,
}

/// What the main lcore reads of DPDK for the metrics: both ports'
/// counters (`rte_eth_stats_get`) and links, and the mbuf pool's use.
#[derive(Debug, Clone)]
pub struct DpdkSample {
    ports: Vec<PortSample>,
    /// Workers: worker `i` owns queue `i` of each port.
    workers: usize,
    /// (pool name, mbufs in use, mbufs free).
    pools: Vec<(String, u32, u32)>,
}

impl DpdkSample {
    /// Read the ports and the pool now (on the main lcore, which owns
    /// them). A port whose query fails is left out.
    pub fn take(inside: &Port, outside: &Port, pool: &Mempool, workers: usize) -> DpdkSample {
        let port = |role, p: &Port| PortSample {
            role,
            stats: p.stats().ok(),
            link: p.link().ok(),
        };
        DpdkSample {
            ports: vec![port("inside", inside), port("outside", outside)],
            workers,
            pools: vec![(pool.name().to_string(), pool.in_use(), pool.available())],
        }
    }

    /// Both ports' links as read (inside, outside; `None` where the query
    /// failed): the control loop logs their changes and `/healthz` reports
    /// them, with no second reading.
    pub fn links(&self) -> [Option<Link>; 2] {
        let of = |role| {
            self.ports
                .iter()
                .find(|p| p.role == role)
                .and_then(|p| p.link)
        };
        [of("inside"), of("outside")]
    }
}

/// Per-worker packets and bytes on each port, from the driver's per-queue
/// counters (worker `i` owns rx and tx queue `i`): nothing is counted on
/// the per-packet path. Only the first [`QUEUE_STAT_COUNTERS`] workers
/// have them; a driver that does not count per queue reports 0.
fn queue_families(s: &DpdkSample) -> Vec<MetricFamily> {
    type QueueCounter = (&'static str, &'static str, fn(&QueueStats) -> u64);
    let per_queue: [QueueCounter; 4] = [
        (
            "nat64_worker_rx_packets_total",
            "Frames the worker's rx queue received (driver's per-queue counter).",
            |q| q.ipackets,
        ),
        (
            "nat64_worker_rx_bytes_total",
            "Bytes the worker's rx queue received (driver's per-queue counter).",
            |q| q.ibytes,
        ),
        (
            "nat64_worker_tx_packets_total",
            "Frames the worker's tx queue sent (driver's per-queue counter).",
            |q| q.opackets,
        ),
        (
            "nat64_worker_tx_bytes_total",
            "Bytes the worker's tx queue sent (driver's per-queue counter).",
            |q| q.obytes,
        ),
    ];
    let workers: Vec<String> = (0..s.workers.min(QUEUE_STAT_COUNTERS))
        .map(|w| w.to_string())
        .collect();
    per_queue
        .into_iter()
        .map(|(name, help, get)| {
            let mut mf = family(name, help, MetricType::COUNTER);
            for p in &s.ports {
                if let Some(st) = &p.stats {
                    for (w, q) in workers.iter().zip(&st.queues) {
                        sample(&mut mf, &[("port", p.role), ("worker", w)], get(q) as f64);
                    }
                }
            }
            mf
        })
        .collect()
}

impl Families for Mutex<DpdkSample> {
    fn families(&self) -> Vec<MetricFamily> {
        let s = self.lock().unwrap_or_else(PoisonError::into_inner).clone();
        let mut in_use = family(
            "nat64_mbufs_in_use",
            "Mbufs taken from the pool (rings, bursts, queues): a leak grows it.",
            MetricType::GAUGE,
        );
        let mut free = family(
            "nat64_mbufs_free",
            "Mbufs free in the pool (per-lcore caches included).",
            MetricType::GAUGE,
        );
        for (name, used, avail) in &s.pools {
            sample(&mut in_use, &[("pool", name)], f64::from(*used));
            sample(&mut free, &[("pool", name)], f64::from(*avail));
        }
        let stat_families: [PortCounter; 8] = [
            (
                "nat64_port_rx_packets_total",
                "Frames the port received (NIC counter).",
                |s| s.ipackets,
            ),
            (
                "nat64_port_tx_packets_total",
                "Frames the port sent (NIC counter).",
                |s| s.opackets,
            ),
            (
                "nat64_port_rx_bytes_total",
                "Bytes the port received (NIC counter).",
                |s| s.ibytes,
            ),
            (
                "nat64_port_tx_bytes_total",
                "Bytes the port sent (NIC counter).",
                |s| s.obytes,
            ),
            (
                "nat64_port_rx_missed_total",
                "Frames the NIC dropped: no free rx descriptor (the workers fell behind).",
                |s| s.imissed,
            ),
            (
                "nat64_port_rx_errors_total",
                "Erroneous frames the port received.",
                |s| s.ierrors,
            ),
            (
                "nat64_port_tx_errors_total",
                "Frames the port failed to send.",
                |s| s.oerrors,
            ),
            (
                "nat64_port_rx_nombuf_total",
                "Rx mbuf allocation failures (pool empty).",
                |s| s.rx_nombuf,
            ),
        ];
        let mut out = vec![in_use, free];
        for (name, help, get) in stat_families {
            let mut mf = family(name, help, MetricType::COUNTER);
            for p in &s.ports {
                if let Some(st) = &p.stats {
                    sample(&mut mf, &[("port", p.role)], get(st) as f64);
                }
            }
            out.push(mf);
        }
        out.extend(queue_families(&s));
        let mut up = family(
            "nat64_port_up",
            "1 when the port's link is up.",
            MetricType::GAUGE,
        );
        let mut speed = family(
            "nat64_port_speed_bytes_per_second",
            "The port's link speed (0: down or unknown).",
            MetricType::GAUGE,
        );
        for p in &s.ports {
            if let Some(l) = p.link {
                let bps = match l.speed_mbps {
                    _ if !l.up => 0.0,
                    u32::MAX => 0.0,
                    m => f64::from(m) * 1e6 / 8.0,
                };
                sample(&mut up, &[("port", p.role)], f64::from(u8::from(l.up)));
                sample(&mut speed, &[("port", p.role)], bps);
            }
        }
        out.push(up);
        out.push(speed);
        out
    }
}

/// `nat64_build_info`: what this build is (`build.rs` sets the values).
struct BuildInfo;

impl Families for BuildInfo {
    fn families(&self) -> Vec<MetricFamily> {
        let labels: &[(&str, &str)] = &[
            ("version", env!("NAT64_VERSION")),
            ("commit", env!("NAT64_GIT_COMMIT")),
            ("dpdk", env!("NAT64_DPDK_VERSION")),
        ];
        vec![gauges(
            "nat64_build_info",
            "Always 1; the labels say which build runs.",
            &[(labels, 1.0)],
        )]
    }
}

/// The DNS64 server's counters ([`Dns64Stats`]), every metric named
/// `nat64_dns64_*`, and its upstream latency as a histogram.
struct Dns64(Arc<Dns64Stats>);

impl Families for Dns64 {
    fn families(&self) -> Vec<MetricFamily> {
        let stats = &self.0;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let up = stats.upstream().counts();
        vec![
            counters(
                "nat64_dns64_queries_total",
                "DNS64 client queries received, per transport.",
                &[
                    (&[("transport", "udp")], get(&stats.udp_queries)),
                    (&[("transport", "tcp")], get(&stats.tcp_queries)),
                ],
            ),
            counters(
                "nat64_dns64_answers_total",
                "DNS64 answers built by the core, per kind (cache hits not included).",
                &[
                    (&[("kind", "synthesized")], get(&stats.synthesized)),
                    (&[("kind", "passthrough")], get(&stats.passthrough)),
                    (&[("kind", "local")], get(&stats.local)),
                ],
            ),
            counters(
                "nat64_dns64_cache_total",
                "DNS64 answer cache lookups, per result; coalesced: answered by an identical \
                 question in flight.",
                &[
                    (&[("result", "hit")], get(&stats.cache_hits)),
                    (&[("result", "miss")], get(&stats.cache_misses)),
                    (&[("result", "coalesced")], get(&stats.coalesced)),
                ],
            ),
            counters(
                "nat64_dns64_rejected_total",
                "DNS64 queries not answered normally, per reason.",
                &[
                    (&[("reason", "refused")], get(&stats.refused)),
                    (&[("reason", "rate_limited")], get(&stats.rate_limited)),
                    (&[("reason", "formerr")], get(&stats.formerr)),
                    (&[("reason", "dropped")], get(&stats.dropped)),
                    (&[("reason", "truncated")], get(&stats.truncated)),
                    (&[("reason", "tcp_rejected")], get(&stats.tcp_rejected)),
                    (
                        &[("reason", "tcp_idle_closed")],
                        get(&stats.tcp_idle_closed),
                    ),
                ],
            ),
            counters(
                "nat64_dns64_upstream_total",
                "DNS64 upstream queries and what became of them.",
                &[
                    (&[("result", "queries")], up.queries),
                    (&[("result", "answered")], up.answered),
                    (&[("result", "timeouts")], up.timeouts),
                    (&[("result", "errors")], up.errors),
                    (&[("result", "failures")], up.failures),
                    (&[("result", "busy")], up.busy),
                    (&[("result", "tcp_retries")], up.tcp_retries),
                    (&[("result", "mismatched")], up.mismatched),
                ],
            ),
            latency_histogram(&up.latency, up.latency_sum_us),
        ]
    }
}

/// `nat64_dns64_upstream_latency_seconds` from the upstream client's
/// per-bucket counts (`counts[i]`: at most `LATENCY_BUCKETS_MS[i]` ms and
/// above the bucket before; the last, slower ones) and their sum in µs.
fn latency_histogram(counts: &[u64], sum_us: u64) -> MetricFamily {
    let mut mf = family(
        "nat64_dns64_upstream_latency_seconds",
        "Latency of the answered DNS64 upstream queries.",
        MetricType::HISTOGRAM,
    );
    let mut cumulative = 0;
    let mut buckets = Vec::with_capacity(LATENCY_BUCKETS_MS.len());
    for (&ms, &n) in LATENCY_BUCKETS_MS.iter().zip(counts) {
        cumulative += n;
        let mut b = proto::Bucket::default();
        b.set_upper_bound(ms as f64 / 1000.0);
        b.set_cumulative_count(cumulative);
        buckets.push(b);
    }
    let mut h = proto::Histogram::default();
    h.set_bucket(buckets);
    h.set_sample_count(counts.iter().sum());
    h.set_sample_sum(sum_us as f64 / 1e6);
    let mut m = proto::Metric::default();
    m.set_histogram(h);
    mf.mut_metric().push(m);
    mf
}

/// Everything the box exports, in one registry: the workers' counters,
/// the ports' and the pool's (as last sampled), the build, and the DNS64
/// server's when it runs. Shared (`Arc`) between the control loop, which
/// writes `--counters` and refreshes the DPDK sample, and the metrics
/// endpoint's thread.
pub struct Exporter {
    registry: Registry,
    workers: Arc<Workers>,
    dpdk: Arc<Mutex<DpdkSample>>,
    http_refused: IntCounter,
}

impl std::fmt::Debug for Exporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Exporter")
            .field("workers", &self.workers.stats.len())
            .finish_non_exhaustive()
    }
}

impl Exporter {
    /// The exporter of `shared`'s workers, the ports and pool as `first`
    /// read them, and the DNS64 server's counters when it runs.
    pub fn new(
        shared: &Shared,
        first: DpdkSample,
        dns64: Option<Arc<Dns64Stats>>,
    ) -> Result<Exporter, prometheus::Error> {
        let workers = Workers::new(
            shared.stats.clone(),
            Arc::clone(&shared.own.pool),
            shared.epoch_tsc,
        );
        Exporter::with(workers, first, dns64)
    }

    /// The exporter of `workers`, the DPDK sample `first` and the DNS64
    /// server's counters.
    fn with(
        workers: Workers,
        first: DpdkSample,
        dns64: Option<Arc<Dns64Stats>>,
    ) -> Result<Exporter, prometheus::Error> {
        let registry = Registry::new();
        let workers = Arc::new(workers);
        let dpdk = Arc::new(Mutex::new(first));
        registry.register(Box::new(Collected::new(Arc::clone(&workers))?))?;
        registry.register(Box::new(Collected::new(Arc::clone(&dpdk))?))?;
        registry.register(Box::new(Collected::new(Arc::new(BuildInfo))?))?;
        if let Some(stats) = dns64 {
            registry.register(Box::new(Collected::new(Arc::new(Dns64(stats)))?))?;
        }
        let http_refused = IntCounter::new(
            "nat64_http_refused_total",
            "HTTP requests refused: the client is not in metrics.allow.",
        )?;
        registry.register(Box::new(http_refused.clone()))?;
        Ok(Exporter {
            registry,
            workers,
            dpdk,
            http_refused,
        })
    }

    /// Every metric in the Prometheus text format (version 0.0.4), as of
    /// now.
    pub fn encode(&self) -> String {
        let mut text = String::with_capacity(32 * 1024);
        if let Err(e) = TextEncoder::new().encode_utf8(&self.registry.gather(), &mut text) {
            tracing::warn!("metrics: {e}");
        }
        text
    }

    /// The counter of refused HTTP requests, for the listener to count in.
    pub fn http_refused(&self) -> IntCounter {
        self.http_refused.clone()
    }

    /// Replace the DPDK sample (the control loop, every 100 ms).
    pub fn set_dpdk(&self, sample: DpdkSample) {
        *self.dpdk.lock().unwrap_or_else(PoisonError::into_inner) = sample;
    }

    /// The workers' series of `metric` that carry every label of
    /// `labels`, summed over the workers (and over the series): e.g.
    /// `("nat64_fragments_total", &[("event", "refused")])`.
    pub fn workers_total(&self, metric: &str, labels: &[(&str, &str)]) -> u64 {
        self.workers
            .layout
            .iter()
            .enumerate()
            .filter(|(_, s)| s.metric == metric && labels.iter().all(|l| s.labels.contains(l)))
            .map(|(i, _)| self.workers.total(i))
            .sum()
    }

    /// Frames the workers have received on both ports (for idleness).
    pub fn rx_packets(&self) -> u64 {
        self.workers
            .rx_series
            .iter()
            .map(|&i| self.workers.total(i))
            .sum()
    }
}

/// Write `text` to `path` atomically (a temporary file, then rename), so a
/// reader never sees half a file.
pub fn write_atomic(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests;
