use super::*;

#[test]
fn layout_metrics_are_contiguous_and_unique() {
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
fn publish_sum_render() {
    let l = layout();
    let a = Arc::new(WorkerStats::new(l.len()));
    let b = Arc::new(WorkerStats::new(l.len()));
    let mut nat = Counters::default();
    nat.translated_6to4 = 7;
    let dp = DpCounters {
        rx_inside: 3,
        ..DpCounters::default()
    };
    let gauges = Gauges {
        sessions: 5,
        ..Gauges::default()
    };
    with_snapshot(&dp, &nat, gauges, |s| {
        a.publish(s);
        b.publish(s);
    });
    let m = Metrics::new();
    assert_eq!(m.series(), l.len());
    let totals = m.totals(&[a, b]);
    assert_eq!(m.rx_packets(&totals), 6);
    let text = m.render(&totals);
    assert!(
        text.contains("nat64_translated_total{dir=\"6to4\"} 14\n"),
        "{text}"
    );
    assert!(text.contains("nat64_packets_total{side=\"inside\",dir=\"rx\"} 6\n"));
    assert!(text.contains("nat64_sessions 10\n"));
    assert!(text.contains("# TYPE nat64_sessions gauge\n"));
    assert_eq!(text.matches("# TYPE nat64_drops_total counter").count(), 1);
}
