use super::*;
use std::path::Path;

fn cgn() -> Config {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/cgn.toml");
    Config::from_file(&path).expect("config/cgn.toml")
}

fn port(role: &'static str, name: &str, iface: Option<&str>) -> PortFacts {
    PortFacts {
        role,
        name: name.into(),
        driver: "net_tap".into(),
        mac: "02:00:00:00:00:01".into(),
        link: "up, 10 Gbit/s, full-duplex".into(),
        kernel_iface: iface.map(String::from),
    }
}

#[test]
fn the_block_names_version_ports_pool_workers_dns64_and_metrics() {
    let cfg = cgn();
    let ports = [
        port("inside", "net_tap0", Some("n64in")),
        port("outside", "net_tap1", None),
    ];
    let dns: Vec<SocketAddr> = vec!["[2001:db8:1::53]:53".parse().unwrap()];
    let text = render(
        &cfg,
        &Facts {
            version: "9.9.9 (commit abc, DPDK 1.2)",
            ports: &ports,
            main_lcore: 0,
            main_cpu: Some(0),
            worker_lcores: &[1, 2, 3],
            dns64: Some(&dns),
        },
    );
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "nat64-dpdk 9.9.9 (commit abc, DPDK 1.2) running");
    assert_eq!(
        lines[1],
        "inside port net_tap0: driver net_tap, MAC 02:00:00:00:00:01, \
         link up, 10 Gbit/s, full-duplex; kernel interface n64in"
    );
    assert!(
        lines[2].starts_with("outside port net_tap1:") && lines[2].ends_with("no exception path")
    );
    // Every line of the configuration's summary but its DNS64 line, which
    // the running server's addresses replace.
    let config_summary = cfg.summary();
    let from_config: Vec<&str> = config_summary
        .lines()
        .filter(|l| !l.starts_with("dns64:"))
        .collect();
    for l in &from_config {
        assert!(lines.contains(l), "{l:?} missing from\n{text}");
    }
    assert!(text.contains(&format!("pool4: {} address(es)", cfg.pool4.address_count())));
    assert!(text.contains(&format!("http://{}/metrics", cfg.metrics.listen)));
    assert!(lines.contains(&"workers: 3 on lcores 1, 2, 3; control side on lcore 0 (CPU 0)"));
    assert_eq!(
        *lines.last().unwrap(),
        "dns64: answering on [2001:db8:1::53]:53 (UDP and TCP), prefix 64:ff9b::/96"
    );
    assert_eq!(lines.len(), 3 + from_config.len() + 2);
}

#[test]
fn one_worker_and_no_dns64() {
    let cfg = cgn();
    let ports = [port("inside", "a", None), port("outside", "b", None)];
    let text = render(
        &cfg,
        &Facts {
            version: "v",
            ports: &ports,
            main_lcore: 2,
            main_cpu: None,
            worker_lcores: &[5],
            dns64: None,
        },
    );
    assert!(text.contains("\nworkers: 1 on lcore 5; control side on lcore 2\n"));
    assert!(text.ends_with("\ndns64: off"));
}
