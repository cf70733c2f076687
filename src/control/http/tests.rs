//! The health verdict.

use super::*;

#[test]
fn health_names_late_workers_and_down_links() {
    let up = [("inside", "net_tap0", true), ("outside", "net_tap1", true)];
    assert_eq!(health(5_000, &[4_990, 4_000], &up), Ok(()));
    let down = [("inside", "net_tap0", true), ("outside", "net_tap1", false)];
    assert_eq!(
        health(5_000, &[4_999, 1_800, 5_000], &down),
        Err(vec![
            "worker 1: no poll for 3.2 s".to_string(),
            "outside port net_tap1: link down".to_string()
        ])
    );
    // A poll stamped after `now` (clocks read on two CPUs) is not late.
    assert_eq!(health(5_000, &[5_001], &up), Ok(()));
}
