use super::*;

fn totals(refused: u64, timed_out: u64) -> FragmentTotals {
    FragmentTotals { refused, timed_out }
}

#[test]
fn fragment_events_are_logged_with_their_count_at_most_every_period() {
    let t0 = Instant::now();
    let mut w = FragmentWatch::new(t0);
    // Nothing happened: nothing to say.
    assert!(w.check(t0, totals(0, 0)).is_empty());
    // A flood: one line per kind, with the counts.
    let lines = w.check(t0 + Duration::from_millis(100), totals(5, 2));
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(lines[0].starts_with("fragments: 5 refused") && lines[0].contains("store is full"));
    assert!(lines[1].starts_with("fragments: 2 held fragments freed"));
    // More within the period: held back.
    assert!(w
        .check(t0 + Duration::from_secs(5), totals(50, 2))
        .is_empty());
    // After it: the count since the last report.
    let lines = w.check(t0 + Duration::from_millis(10_200), totals(57, 2));
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].starts_with("fragments: 52 refused"), "{lines:?}");
    // Quiet again: nothing, however long.
    assert!(w
        .check(t0 + Duration::from_secs(60), totals(57, 2))
        .is_empty());
}
