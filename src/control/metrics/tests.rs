use super::*;

use std::collections::BTreeMap;

use crate::config::Config;
use crate::dataplane::classify::L2Drop;
use crate::dataplane::neigh::NeighCounters;
use crate::dataplane::stats::{DpCounters, Gauges};
use crate::nat64::pipeline::{Counters, Nat64Drop};
use crate::xlat::DropReason;

fn config() -> Config {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/cgn.toml");
    Config::from_file(&path).expect("config/cgn.toml")
}

/// What a worker publishes in these tests, from a seed (so each worker's
/// values differ).
struct Published {
    dp: DpCounters,
    nat: Counters,
    gauges: Gauges,
    blocks: Vec<u32>,
}

fn published(seed: u64, addresses: usize) -> Published {
    let mut nat = Counters::default();
    nat.translated_6to4 = 7 * seed;
    Published {
        dp: DpCounters {
            rx_inside: 3 * seed,
            rx_outside: 2 * seed,
            handoff_drops: seed,
            ..DpCounters::default()
        },
        nat,
        gauges: Gauges {
            sessions: [seed, 2 * seed, 3 * seed],
            bib_entries: [seed, seed, 1],
            subscribers: seed,
            held_syns: 0,
            fragment_datagrams: seed,
            parked_fragments: 2 * seed,
        },
        blocks: (0..addresses)
            .map(|i| (i as u32 + 1) * seed as u32)
            .collect(),
    }
}

fn publish(stats: &WorkerStats, p: &Published) {
    let nc = NeighCounters::default();
    let l2 = [0; L2Drop::COUNT];
    stats.publish(&Snapshot {
        dp: &p.dp,
        nat64: &p.nat,
        l2_drops: &l2,
        neigh4: &nc,
        neigh6: &nc,
        gauges: p.gauges,
        blocks_by_address: &p.blocks,
        now: 5,
    });
}

fn dpdk_sample() -> DpdkSample {
    let port = |role, n: u64, up| PortSample {
        role,
        stats: Some(PortStats {
            ipackets: n,
            opackets: n + 1,
            ibytes: 100 * n,
            obytes: 100 * n + 1,
            // Per queue: one value per worker, a third queue unused.
            queues: std::array::from_fn(|q| QueueStats {
                ipackets: n + 10 * q as u64,
                ibytes: 100 * n + 10 * q as u64,
                opackets: n + 1 + 10 * q as u64,
                obytes: 100 * n + 1 + 10 * q as u64,
            }),
            ..PortStats::default()
        }),
        link: Some(Link {
            up,
            speed_mbps: 10_000,
            full_duplex: true,
            autoneg: false,
        }),
    };
    DpdkSample {
        ports: vec![port("inside", 10, true), port("outside", 20, false)],
        workers: 2,
        pools: vec![("nat64_mbufs".into(), 42, 1000)],
    }
}

/// An exporter over `workers` fresh workers, each published with its
/// seed (1, 2, ...); the pool layout and the seeds' values.
fn exporter(workers: u64) -> (Exporter, Arc<PoolLayout>, Vec<Published>) {
    let c = config();
    let pool = Arc::new(PoolLayout::new(&c.pool4, &c.static_bib, workers as u16));
    let n = pool.address_count() as usize;
    let pubs: Vec<Published> = (1..=workers).map(|s| published(s, n)).collect();
    let stats: Vec<Arc<WorkerStats>> = pubs
        .iter()
        .map(|p| {
            let w = Arc::new(WorkerStats::new(n));
            publish(&w, p);
            w
        })
        .collect();
    let e = Exporter::with(
        Workers::new(stats, Arc::clone(&pool), 0),
        dpdk_sample(),
        None,
    )
    .expect("registers");
    (e, pool, pubs)
}

/// Every sample of the gathered families: "name{k=v,...}" (labels
/// sorted) -> value, and each family's type.
fn samples(e: &Exporter) -> (BTreeMap<String, f64>, BTreeMap<String, MetricType>) {
    let mut values = BTreeMap::new();
    let mut kinds = BTreeMap::new();
    for mf in e.registry.gather() {
        kinds.insert(mf.get_name().to_string(), mf.get_field_type());
        for m in mf.get_metric() {
            let mut labels: Vec<String> = m
                .get_label()
                .iter()
                .map(|l| format!("{}={}", l.get_name(), l.get_value()))
                .collect();
            labels.sort();
            let v = match mf.get_field_type() {
                MetricType::COUNTER => m.get_counter().get_value(),
                MetricType::GAUGE => m.get_gauge().get_value(),
                MetricType::HISTOGRAM => m.get_histogram().get_sample_count() as f64,
                _ => f64::NAN,
            };
            let key = format!("{}{{{}}}", mf.get_name(), labels.join(","));
            assert!(values.insert(key.clone(), v).is_none(), "{key} twice");
        }
    }
    (values, kinds)
}

#[test]
fn layout_metrics_are_contiguous_unique_and_helped() {
    let l = layout();
    let mut seen: Vec<&str> = Vec::new();
    for w in l.windows(2) {
        if w[0].metric != w[1].metric {
            assert!(
                !seen.contains(&w[1].metric),
                "{} split in the layout",
                w[1].metric
            );
            seen.push(w[0].metric);
        }
    }
    for s in &l {
        assert!(!help(s.metric).is_empty(), "{} has no help", s.metric);
        match s.kind {
            Kind::Counter => assert!(s.metric.ends_with("_total"), "{}", s.metric),
            Kind::Gauge => assert!(!s.metric.ends_with("_total"), "{}", s.metric),
        }
    }
    let mut keys: Vec<String> = l
        .iter()
        .map(|s| format!("{}{:?}", s.metric, s.labels))
        .collect();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), l.len(), "duplicate series");
}

#[test]
fn the_collector_sums_the_workers_and_splits_per_worker_metrics() {
    let (e, pool, pubs) = exporter(3);
    let (v, kinds) = samples(&e);
    let sum = |f: &dyn Fn(&Published) -> u64| pubs.iter().map(f).sum::<u64>() as f64;
    assert_eq!(
        v["nat64_translated_total{dir=6to4}"],
        sum(&|p| p.nat.translated_6to4)
    );
    assert_eq!(
        v["nat64_handoff_drops_total{}"],
        sum(&|p| p.dp.handoff_drops)
    );
    for (i, (proto, _)) in crate::dataplane::stats::PROTOCOLS.iter().enumerate() {
        assert_eq!(
            v[&format!("nat64_sessions{{protocol={proto}}}")],
            sum(&|p| p.gauges.sessions[i])
        );
        assert_eq!(
            v[&format!("nat64_bib_entries{{protocol={proto}}}")],
            sum(&|p| p.gauges.bib_entries[i])
        );
    }
    assert_eq!(v["nat64_subscribers{}"], sum(&|p| p.gauges.subscribers));
    // Per worker: each worker's own value, labelled.
    for (w, p) in pubs.iter().enumerate() {
        let key = format!("nat64_packets_total{{dir=rx,port=inside,worker={w}}}");
        assert_eq!(v[&key], p.dp.rx_inside as f64, "{key}");
    }
    assert_eq!(
        e.rx_packets() as f64,
        sum(&|p| p.dp.rx_inside + p.dp.rx_outside)
    );
    // Port blocks per pool address: in use summed, in all from the pool.
    for i in 0..pool.address_count() {
        let a = pool.address(i).unwrap();
        let used = sum(&|p| u64::from(p.blocks[i as usize]));
        assert_eq!(v[&format!("nat64_port_blocks_in_use{{address={a}}}")], used);
        assert_eq!(
            v[&format!("nat64_port_blocks{{address={a}}}")],
            f64::from(pool.blocks_per_address())
        );
    }
    // The DPDK sample, as sampled.
    let s = dpdk_sample();
    for p in &s.ports {
        let st = p.stats.unwrap();
        let port = p.role;
        assert_eq!(
            v[&format!("nat64_port_rx_bytes_total{{port={port}}}")],
            st.ibytes as f64
        );
        assert_eq!(
            v[&format!("nat64_port_tx_packets_total{{port={port}}}")],
            st.opackets as f64
        );
        // Per worker (2 here), from the driver's per-queue counters; no
        // series for the queues no worker owns.
        for (w, q) in st.queues.iter().enumerate() {
            let key = |m: &str| format!("{m}{{port={port},worker={w}}}");
            let want = [
                ("nat64_worker_rx_packets_total", q.ipackets),
                ("nat64_worker_rx_bytes_total", q.ibytes),
                ("nat64_worker_tx_packets_total", q.opackets),
                ("nat64_worker_tx_bytes_total", q.obytes),
            ];
            for (m, n) in want {
                if w < s.workers {
                    assert_eq!(v[&key(m)], n as f64, "{m}");
                } else {
                    assert!(!v.contains_key(&key(m)), "{m} for queue {w}");
                }
            }
        }
        let link = p.link.unwrap();
        assert_eq!(
            v[&format!("nat64_port_up{{port={port}}}")],
            f64::from(u8::from(link.up))
        );
        let speed = if link.up {
            f64::from(link.speed_mbps) * 1e6 / 8.0
        } else {
            0.0
        };
        assert_eq!(
            v[&format!("nat64_port_speed_bytes_per_second{{port={port}}}")],
            speed
        );
    }
    let (name, used, free) = &s.pools[0];
    assert_eq!(
        v[&format!("nat64_mbufs_in_use{{pool={name}}}")],
        f64::from(*used)
    );
    assert_eq!(
        v[&format!("nat64_mbufs_free{{pool={name}}}")],
        f64::from(*free)
    );
    // A new sample replaces the old.
    let mut next = dpdk_sample();
    next.pools[0].1 = used + 5;
    e.set_dpdk(next);
    let (v2, _) = samples(&e);
    assert_eq!(
        v2[&format!("nat64_mbufs_in_use{{pool={name}}}")],
        f64::from(used + 5)
    );
    // The build, from build.rs.
    let info = format!(
        "nat64_build_info{{commit={},dpdk={},version={}}}",
        env!("NAT64_GIT_COMMIT"),
        env!("NAT64_DPDK_VERSION"),
        env!("NAT64_VERSION")
    );
    assert_eq!(v[&info], 1.0);
    // Conventions: counters end in _total, nothing else does.
    for (name, kind) in &kinds {
        assert_eq!(
            *kind == MetricType::COUNTER,
            name.ends_with("_total"),
            "{name}: {kind:?}"
        );
    }
}

#[test]
fn every_drop_reason_is_there_at_zero_from_the_start() {
    let (e, _, _) = exporter(2);
    let (v, _) = samples(&e);
    let mut want: Vec<String> = Vec::new();
    for &d in Nat64Drop::ALL {
        want.push(format!("layer=nat64,reason={}", d.name()));
    }
    for &r in DropReason::ALL {
        want.push(format!("layer=xlat,reason={}", r.name()));
    }
    for &d in L2Drop::ALL {
        want.push(format!("layer=l2,reason={}", d.name()));
    }
    for labels in want {
        let key = format!("nat64_drops_total{{{labels}}}");
        assert_eq!(v.get(&key), Some(&0.0), "{key}");
    }
    // ... and the dataplane's own, the handoff ring's among them.
    let ring = v["nat64_drops_total{layer=dataplane,reason=handoff_ring_full}"];
    assert_eq!(ring, v["nat64_handoff_drops_total{}"]);
}

#[test]
fn every_family_has_help_and_the_text_has_one_type_line_each() {
    let (e, _, _) = exporter(1);
    let families = e.registry.gather();
    for mf in &families {
        assert!(!mf.get_help().is_empty(), "{} has no help", mf.get_name());
    }
    let text = e.encode();
    for mf in &families {
        let line = format!("# TYPE {} ", mf.get_name());
        assert_eq!(text.matches(&line).count(), 1, "{line}");
    }
}

#[test]
fn latency_histogram_buckets_are_cumulative_in_seconds() {
    let counts: Vec<u64> = (0..=LATENCY_BUCKETS_MS.len() as u64)
        .map(|i| (i * 7) % 5)
        .collect();
    let sum_us = 123_456;
    let mf = latency_histogram(&counts, sum_us);
    assert_eq!(mf.get_field_type(), MetricType::HISTOGRAM);
    let h = mf.get_metric()[0].get_histogram();
    let buckets = h.get_bucket();
    assert_eq!(buckets.len(), LATENCY_BUCKETS_MS.len());
    let mut below = 0;
    for (i, b) in buckets.iter().enumerate() {
        below += counts[i];
        assert_eq!(b.get_cumulative_count(), below);
        assert_eq!(b.get_upper_bound(), LATENCY_BUCKETS_MS[i] as f64 / 1000.0);
    }
    assert!(buckets
        .windows(2)
        .all(|w| w[0].get_cumulative_count() <= w[1].get_cumulative_count()));
    assert_eq!(h.get_sample_count(), counts.iter().sum::<u64>());
    assert_eq!(h.get_sample_sum(), sum_us as f64 / 1e6);
}

/// A DNS64 server on a loopback port (upstream: the discard port), for
/// its counters.
fn dns64_server() -> crate::dns64::server::ServerHandle {
    let mut c = config();
    c.dns64.enabled = true;
    c.dns64.listen = vec!["127.0.0.1:0".parse().unwrap()];
    c.dns64.upstream = vec!["127.0.0.1:9".parse().unwrap()];
    crate::dns64::server::start(&c, Default::default()).expect("a DNS64 server on loopback")
}

/// An exporter of one idle worker and a DNS64 server's counters (the
/// server stopped again).
fn exporter_with_dns64() -> Exporter {
    let server = dns64_server();
    let c = config();
    let pool = Arc::new(PoolLayout::new(&c.pool4, &c.static_bib, 1));
    let stats = vec![Arc::new(WorkerStats::new(pool.address_count() as usize))];
    let e = Exporter::with(
        Workers::new(stats, pool, 0),
        dpdk_sample(),
        Some(server.stats()),
    )
    .expect("registers");
    server.stop();
    e
}

#[test]
fn dns64_families_are_there_at_zero_with_a_histogram() {
    let e = exporter_with_dns64();
    let (v, kinds) = samples(&e);
    for (labels, family) in [
        ("transport=udp", "nat64_dns64_queries_total"),
        ("kind=synthesized", "nat64_dns64_answers_total"),
        ("result=hit", "nat64_dns64_cache_total"),
        ("reason=rate_limited", "nat64_dns64_rejected_total"),
        ("result=timeouts", "nat64_dns64_upstream_total"),
    ] {
        let key = format!("{family}{{{labels}}}");
        assert_eq!(v.get(&key), Some(&0.0), "{key}");
    }
    let h = "nat64_dns64_upstream_latency_seconds";
    assert_eq!(kinds[h], MetricType::HISTOGRAM);
    assert_eq!(v[&format!("{h}{{}}")], 0.0);
}

#[test]
fn docs_operations_lists_every_metric() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/operations.md");
    let doc = std::fs::read_to_string(path).expect("docs/operations.md");
    let e = exporter_with_dns64();
    let mut names: Vec<String> = e
        .registry
        .gather()
        .iter()
        .map(|mf| mf.get_name().to_string())
        .collect();
    // Only with a TSC clock (an EAL), which unit tests lack.
    names.push("nat64_worker_last_poll_age_seconds".into());
    for name in names {
        assert!(
            doc.contains(&format!("| `{name}` |")),
            "{name} is not in docs/operations.md's metrics tables"
        );
    }
}

#[test]
fn the_exporter_can_be_shared_with_another_thread() {
    fn send_sync<T: Send + Sync + 'static>() {}
    send_sync::<Exporter>();
    let (e, _, _) = exporter(1);
    let e = Arc::new(e);
    let other = Arc::clone(&e);
    let text = std::thread::spawn(move || other.encode()).join().unwrap();
    assert!(text.contains("# TYPE nat64_drops_total counter"), "{text}");
}

#[test]
fn poll_age_is_the_time_since_the_last_publication() {
    let c = config();
    let pool = Arc::new(PoolLayout::new(&c.pool4, &c.static_bib, 2));
    let n = pool.address_count() as usize;
    let stats: Vec<Arc<WorkerStats>> = (0..2).map(|_| Arc::new(WorkerStats::new(n))).collect();
    // Worker 0 published at ms 5 (`publish` dates it so), worker 1 never.
    publish(&stats[0], &published(1, n));
    // A clock whose ms 0 was 10 s ago, at 10^7 cycles per ms: slower
    // than the TSC, so a slow test run adds little (1 s: 0.3 s at 3 GHz).
    let per_ms = 10_000_000;
    let mut w = Workers::new(stats, pool, 0);
    w.tsc_per_ms = per_ms;
    w.epoch_tsc = tsc_cycles() - 10_000 * per_ms;
    let fams = w.families();
    let ages = fams
        .iter()
        .find(|mf| mf.get_name() == "nat64_worker_last_poll_age_seconds")
        .expect("poll ages with a clock");
    let age = |i: usize| ages.get_metric()[i].get_gauge().get_value();
    assert!((9.995..11.0).contains(&age(0)), "{}", age(0));
    assert!((10.0..11.0).contains(&age(1)), "{}", age(1));
}
