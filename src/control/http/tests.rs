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

#[test]
fn acl_answers_loopback_and_the_list_or_everyone_without_one() {
    let ip = |s: &str| s.parse::<IpAddr>().unwrap();
    let acl = HttpAcl::new(None);
    for a in ["127.0.0.1", "::1", "192.0.2.7", "2001:db8::1"] {
        assert!(acl.allows(ip(a)), "{a} without a list");
    }
    let list = |v: &[&str]| {
        let text = format!(
            "[metrics]\nallow = [{}]\n",
            v.iter()
                .map(|s| format!("\"{s}\""))
                .collect::<Vec<_>>()
                .join(", ")
        );
        text.parse::<crate::config::Config>().unwrap().metrics.allow
    };
    acl.set(list(&["192.0.2.0/28", "2001:db8:9::/48"]));
    for (a, yes) in [
        ("127.0.0.1", true),
        ("::1", true),
        ("::ffff:127.0.0.1", true),
        ("192.0.2.15", true),
        ("::ffff:192.0.2.15", true),
        ("192.0.2.16", false),
        ("2001:db8:9:1::5", true),
        ("2001:db8:a::5", false),
        ("198.51.100.1", false),
    ] {
        assert_eq!(acl.allows(ip(a)), yes, "{a}");
    }
    // An empty list: loopback only.
    acl.set(list(&[]));
    assert!(acl.allows(ip("127.0.0.1")));
    assert!(!acl.allows(ip("192.0.2.15")));
}
