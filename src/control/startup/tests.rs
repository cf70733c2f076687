use super::*;

fn opts(no_exception_path: bool) -> RunOptions {
    RunOptions {
        no_exception_path,
        ..RunOptions::default()
    }
}

fn config(listen: &[&str]) -> Config {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/cgn.toml");
    let mut c = Config::from_file(&path).expect("config/cgn.toml");
    c.dns64.listen = listen.iter().map(|a| a.parse().unwrap()).collect();
    c.dns64.upstream = vec!["127.0.0.1:9".parse().unwrap()];
    c
}

#[test]
fn no_exception_path_starts_dns64_on_loopback_only() {
    let c = config(&["127.0.0.1:0", "[2001:db8:1::53]:53"]);
    let h = start_dns64(&c, &opts(true), &[], None)
        .expect("starts")
        .expect("a loopback address is left");
    let addrs = h.local_addrs();
    assert_eq!(addrs.len(), 1);
    assert!(addrs[0].ip().is_loopback() && addrs[0].port() != 0);
    h.stop();
    // Nothing left to listen on: not started, no error.
    let c = config(&["[2001:db8:1::53]:53"]);
    assert!(start_dns64(&c, &opts(true), &[], None).unwrap().is_none());
    // Disabled: never started.
    let mut c = config(&["127.0.0.1:0"]);
    c.dns64.enabled = false;
    assert!(start_dns64(&c, &opts(false), &[], None).unwrap().is_none());
}

#[test]
fn the_dns64_cpu_is_one_this_thread_may_run_on() {
    if let Some(cpu) = main_lcore_cpu() {
        let ids = core_affinity::get_core_ids().unwrap_or_default();
        assert!(ids.iter().any(|c| c.id == cpu), "{cpu} not in {ids:?}");
    }
}
