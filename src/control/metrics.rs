//! Metrics: the name, labels and kind of every series the workers
//! publish, and their text in the Prometheus exposition format (version
//! 0.0.4), the same text the metrics endpoint serves, so tests can read a
//! file today.
//!
//! What it promises: a series is a metric name plus fixed labels, and
//! every series has one place in a fixed layout. The layout is built once,
//! by walking [`visit`] (in `dataplane::stats`, the schema the worker's
//! counters define) with a recorder, and the workers publish by walking
//! the same [`visit`] (`dataplane::stats::WorkerStats::publish`), so writer
//! and reader can never disagree on an index. The interface is narrow on
//! purpose: [`Metrics::totals`] takes a snapshot of the workers' counters,
//! [`Metrics::render`] turns it into text, and nothing else of the layout
//! is visible outside this module.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::dataplane::classify::L2Drop;
use crate::dataplane::neigh::NeighCounters;
use crate::dataplane::stats::{visit, DpCounters, Gauges, Kind, Snapshot, Visitor, WorkerStats};
use crate::dns64::server::Dns64Stats;
use crate::dns64::upstream::LATENCY_BUCKETS_MS;
use crate::nat64::pipeline::Counters;

/// One series: a metric and its labels.
#[derive(Debug, Clone)]
struct Series {
    metric: &'static str,
    kind: Kind,
    labels: Vec<(&'static str, &'static str)>,
}

/// One-line help per metric, for `# HELP`.
fn help(metric: &str) -> &'static str {
    match metric {
        "nat64_packets_total" => "Frames received and sent per port.",
        "nat64_rx_bursts_total" => "Non-empty rx bursts per port (packets per burst: how loaded).",
        "nat64_worker_polls_total" => "Passes of the workers' poll loops, idle ones included.",
        "nat64_tx_full_drops_total" => "Frames freed because the port's tx queue was full.",
        "nat64_translated_total" => "Packets translated and forwarded (RFC 6146 3.7).",
        "nat64_replies_total" => "ICMP errors built for a sender (rate-limited ones included).",
        "nat64_hairpinned_total" => "Packets hairpinned (RFC 6146 3.8).",
        "nat64_local_total" => "Packets to a pool or outside address that no BIB entry claims.",
        "nat64_sessions_created_total" => "Sessions created.",
        "nat64_sessions_expired_total" => "Sessions removed by expiry or reclaim.",
        "nat64_bib_created_total" => "Dynamic BIB entries created.",
        "nat64_syns_held_total" => "IPv4-initiated SYNs held (RFC 6146 3.5.2.2).",
        "nat64_held_syns_expired_total" => "Held SYNs answered with ICMP port unreachable.",
        "nat64_simultaneous_opens_total" => "Held SYNs matched by an IPv6 SYN.",
        "nat64_block_events_dropped_total" => "Port-block events lost to a full queue.",
        "nat64_drops_total" => "Packets dropped, by layer and reason.",
        "nat64_handoff_total" => "Packets handed between workers.",
        "nat64_handoff_drops_total" => "Handoffs lost to a full ring.",
        "nat64_local_replies_total" => "ARP, ND and echo answered in the dataplane.",
        "nat64_exception_total" => "Frames between the wire and the kernel's TAP interfaces.",
        "nat64_fragments_out_total" => "IPv6 fragments sent (RFC 7915 4.1, DF=0).",
        "nat64_neigh_total" => "Neighbour resolution events.",
        "nat64_sessions" => "Sessions in the tables.",
        "nat64_bib_entries" => "BIB entries in the tables.",
        "nat64_port_blocks_in_use" => "Port blocks held by subscribers.",
        "nat64_held_syns" => "IPv4 SYNs held right now.",
        "nat64_fragments_total" => "Fragments of fragmented datagrams, by event (RFC 6146 3.4).",
        "nat64_fragment_datagrams" => "Fragmented datagrams tracked right now.",
        "nat64_parked_fragments" => "Fragments held until their first fragment comes.",
        _ => "",
    }
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

/// Runs `f` on a snapshot of `dp`, `nat64` and `gauges` with no L2 drops
/// and empty neighbour counters.
fn with_snapshot<R>(
    dp: &DpCounters,
    nat64: &Counters,
    gauges: Gauges,
    f: impl FnOnce(&Snapshot<'_>) -> R,
) -> R {
    let nc = NeighCounters::default();
    let l2 = [0; L2Drop::COUNT];
    f(&Snapshot {
        dp,
        nat64,
        l2_drops: &l2,
        neigh4: &nc,
        neigh6: &nc,
        gauges,
    })
}

/// The series layout, in [`visit`] order.
fn layout() -> Vec<Series> {
    let mut r = Recorder(Vec::new());
    with_snapshot(
        &DpCounters::default(),
        &Counters::default(),
        Gauges::default(),
        |s| visit(s, &mut r),
    );
    r.0
}

/// The sum over every worker of each series, in layout order: a snapshot
/// of the counters, taken by [`Metrics::totals`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Totals(Vec<u64>);

/// The series layout, and what the control side asks of it.
#[derive(Debug, Clone)]
pub struct Metrics {
    layout: Vec<Series>,
    /// Where the series of received frames are (for idleness).
    rx_series: Vec<usize>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// The layout of every series a worker publishes.
    pub fn new() -> Metrics {
        let layout = layout();
        let rx_series = layout
            .iter()
            .enumerate()
            .filter(|(_, s)| {
                s.metric == "nat64_packets_total"
                    && s.labels.iter().any(|&(k, v)| k == "dir" && v == "rx")
            })
            .map(|(i, _)| i)
            .collect();
        Metrics { layout, rx_series }
    }

    /// How many series a worker publishes (the size of its
    /// [`WorkerStats`]).
    pub fn series(&self) -> usize {
        self.layout.len()
    }

    /// Sums of every series over `workers`.
    pub fn totals(&self, workers: &[Arc<WorkerStats>]) -> Totals {
        Totals(
            (0..self.layout.len())
                .map(|i| workers.iter().map(|w| w.get(i)).sum())
                .collect(),
        )
    }

    /// Frames received on both ports, in `totals`.
    pub fn rx_packets(&self, totals: &Totals) -> u64 {
        self.rx_series
            .iter()
            .map(|&i| totals.0.get(i).copied().unwrap_or(0))
            .sum()
    }

    /// Prometheus text exposition of `totals`. Series of one metric are
    /// adjacent in the layout, so HELP/TYPE go before the first.
    pub fn render(&self, totals: &Totals) -> String {
        let mut out = String::with_capacity(self.layout.len() * 64);
        let mut last: &str = "";
        for (s, v) in self.layout.iter().zip(&totals.0) {
            if s.metric != last {
                let kind = match s.kind {
                    Kind::Counter => "counter",
                    Kind::Gauge => "gauge",
                };
                let _ = writeln!(out, "# HELP {} {}", s.metric, help(s.metric));
                let _ = writeln!(out, "# TYPE {} {kind}", s.metric);
                last = s.metric;
            }
            out.push_str(s.metric);
            if !s.labels.is_empty() {
                out.push('{');
                for (i, (k, val)) in s.labels.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    let _ = write!(out, "{k}=\"{val}\"");
                }
                out.push('}');
            }
            let _ = writeln!(out, " {v}");
        }
        out
    }
}

/// The DNS64 server's counters ([`Dns64Stats`]) in the same text format,
/// appended to the workers' when `dns64.enabled`. Every metric is named
/// `nat64_dns64_*`. The upstream latency is a Prometheus histogram
/// (cumulative `_bucket{le}` in seconds and `_count`) without `_sum`: the
/// upstream client counts buckets, not the total time.
pub fn render_dns64(stats: &Dns64Stats) -> String {
    let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
    let up = stats.upstream().counts();
    let mut out = String::with_capacity(4096);
    let mut metric = |name: &str, kind: &str, help: &str, series: &[(&str, u64)]| {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} {kind}");
        for (labels, v) in series {
            if labels.is_empty() {
                let _ = writeln!(out, "{name} {v}");
            } else {
                let _ = writeln!(out, "{name}{{{labels}}} {v}");
            }
        }
    };
    metric(
        "nat64_dns64_queries_total",
        "counter",
        "DNS64 client queries received, per transport.",
        &[
            ("transport=\"udp\"", get(&stats.udp_queries)),
            ("transport=\"tcp\"", get(&stats.tcp_queries)),
        ],
    );
    metric(
        "nat64_dns64_answers_total",
        "counter",
        "DNS64 answers built by the core, per kind (cache hits not included).",
        &[
            ("kind=\"synthesized\"", get(&stats.synthesized)),
            ("kind=\"passthrough\"", get(&stats.passthrough)),
            ("kind=\"local\"", get(&stats.local)),
        ],
    );
    metric(
        "nat64_dns64_cache_total",
        "counter",
        "DNS64 answer cache lookups, per result; coalesced: answered by an identical question in flight.",
        &[
            ("result=\"hit\"", get(&stats.cache_hits)),
            ("result=\"miss\"", get(&stats.cache_misses)),
            ("result=\"coalesced\"", get(&stats.coalesced)),
        ],
    );
    metric(
        "nat64_dns64_rejected_total",
        "counter",
        "DNS64 queries not answered normally, per reason.",
        &[
            ("reason=\"refused\"", get(&stats.refused)),
            ("reason=\"rate_limited\"", get(&stats.rate_limited)),
            ("reason=\"formerr\"", get(&stats.formerr)),
            ("reason=\"dropped\"", get(&stats.dropped)),
            ("reason=\"truncated\"", get(&stats.truncated)),
            ("reason=\"tcp_rejected\"", get(&stats.tcp_rejected)),
            ("reason=\"tcp_idle_closed\"", get(&stats.tcp_idle_closed)),
        ],
    );
    metric(
        "nat64_dns64_upstream_total",
        "counter",
        "DNS64 upstream queries and what became of them.",
        &[
            ("result=\"queries\"", up.queries),
            ("result=\"answered\"", up.answered),
            ("result=\"timeouts\"", up.timeouts),
            ("result=\"errors\"", up.errors),
            ("result=\"failures\"", up.failures),
            ("result=\"busy\"", up.busy),
            ("result=\"tcp_retries\"", up.tcp_retries),
            ("result=\"mismatched\"", up.mismatched),
        ],
    );
    let mut cumulative = 0;
    let mut buckets: Vec<(String, u64)> = Vec::with_capacity(up.latency.len());
    for (i, n) in up.latency.iter().enumerate() {
        cumulative += n;
        let le = LATENCY_BUCKETS_MS.get(i).map_or_else(
            || "+Inf".to_string(),
            |ms| format!("{}", *ms as f64 / 1000.0),
        );
        buckets.push((format!("le=\"{le}\""), cumulative));
    }
    let name = "nat64_dns64_upstream_latency_seconds";
    let _ = writeln!(
        out,
        "# HELP {name} Latency of the answered DNS64 upstream queries."
    );
    let _ = writeln!(out, "# TYPE {name} histogram");
    for (labels, v) in &buckets {
        let _ = writeln!(out, "{name}_bucket{{{labels}}} {v}");
    }
    let _ = writeln!(out, "{name}_count {cumulative}");
    out
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
