//! End to end: the control side's HTTP listener (`metrics.listen`) and the
//! operator CLI (`nat64-dpdk ctl`) on the net_tap lab of
//! `tests/common/mod.rs`, while a real TCP download (curl against
//! python3's http.server) runs through the box.
//!
//! Responses are fetched with curl and read with serde_json (the JSON) and
//! the harness's own Prometheus reader (`/metrics`), and checked against
//! what the hosts did: the client's address, the server's address and
//! port. Run as root with `cargo test --test control -- --test-threads=1`;
//! not root or no DPDK: each test prints why and passes, except under CI.

mod common;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

/// `curl` from the host: (HTTP status, Content-Type, body).
fn get(addr: SocketAddr, path: &str) -> (u16, String, String) {
    get_from(addr, path, "")
}

/// `get` with more curl options (`--interface` for the source address).
fn get_from(addr: SocketAddr, path: &str, opts: &str) -> (u16, String, String) {
    let out = host_ok(&format!(
        "curl -sS -m 10 {opts} -w '\\n%{{http_code}} %{{content_type}}' 'http://{addr}{path}'"
    ));
    let (body, tail) = out.rsplit_once('\n').expect("curl -w line");
    let (code, ct) = tail.split_once(' ').unwrap_or((tail, ""));
    (
        code.trim().parse().expect("HTTP status"),
        ct.trim().to_string(),
        body.to_string(),
    )
}

/// `get`, expecting 200 and JSON.
fn json(addr: SocketAddr, path: &str) -> Value {
    let (code, ct, body) = get(addr, path);
    assert_eq!(code, 200, "{path}: {body}");
    assert_eq!(ct, "application/json", "{path}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{path}: {e}: {body}"))
}

/// `nat64-dpdk ctl ARGS`: (exit status, stdout).
fn ctl(args: &[&str]) -> (i32, String) {
    let out = Command::new(BIN)
        .arg("ctl")
        .args(args)
        .output()
        .expect("run nat64-dpdk ctl");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

fn ip(v: &Value) -> IpAddr {
    v.as_str()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an address: {v}"))
}

/// The session of the download in a `/sessions` answer: TCP from the
/// client to the server's port 80.
fn download_session(v: &Value) -> Option<Value> {
    v["sessions"]
        .as_array()?
        .iter()
        .find(|s| {
            s["protocol"] == "tcp"
                && ip(&s["inside"]["address"]) == IpAddr::V6(CLIENT6)
                && ip(&s["remote"]["ipv4"]) == IpAddr::V4(SERVER4)
                && s["remote"]["port"] == 80
        })
        .cloned()
}

/// A stand-in interface (a veth pair, up at both ends) in the host's
/// namespace named as a lab TAP: net_tap
/// reads its link state (SIOCGIFFLAGS) through its kernel interface's name
/// in the box's own namespace, where the lab's TAPs no longer are (they
/// moved into the client and server namespaces). The stand-in lets the box
/// see its links as the test sets them: up, or down. Deleted on drop.
struct LinkStandIn(String);

impl LinkStandIn {
    fn new(name: &str) -> LinkStandIn {
        host_ok(&format!(
            "ip link add {name} type veth peer name {name}p && \
             ip link set {name}p up && ip link set {name} up"
        ));
        LinkStandIn(name.to_string())
    }

    fn set(&self, up: bool) {
        let state = if up { "up" } else { "down" };
        host_ok(&format!("ip link set {} {state}", self.0));
    }
}

impl Drop for LinkStandIn {
    fn drop(&mut self) {
        let _ = host(&format!("ip link del {}", self.0), 10);
    }
}

/// Polls `/healthz` (every 100 ms, `secs` at most) until it answers
/// `code` with a body `want` accepts; the body. (On a loaded test machine
/// a worker may now and then be starved of its CPU for a second, which
/// the health check rightly reports; waiting for the answer expected
/// rides over that.)
fn healthz_until(addr: SocketAddr, code: u16, secs: u64, want: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let (c, _, body) = get(addr, "/healthz");
        if c == code && want(&body) {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "/healthz did not answer {code} as expected within {secs} s: {c} {body}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The stalled worker and when (its millisecond) and for how long.
const STALL_WORKER: u16 = 1;
const STALL_AT_MS: u64 = 20_000;
const STALL_FOR_MS: u64 = 5_000;

/// The whole control surface on one lab with two workers, listening on the
/// box's outside address (not loopback: a warning):
/// - `/sessions?subscriber=` shows the running download with the client's
///   address, the server's IPv4 and IPv6 (RFC 6052) addresses and port,
///   a pool address, ESTABLISHED; `nat64-dpdk ctl sessions` too;
/// - `/bib?proto=tcp` holds its binding, `/blocks?subscriber=` the block
///   its pool port is in, owned by the client's prefix;
/// - `limit` and `cursor` page through the BIB; bad parameters are 400s
///   naming them;
/// - `/metrics` is the Prometheus text of every counter;
/// - `/healthz` is 200 while both links are up (`LinkStandIn`), 503
///   naming the outside port while its link is down, and 503 naming
///   worker 1 while the test hook stalls it (when `/sessions` is a 503
///   naming it too), then 200 again.
#[test]
fn http_endpoints_and_ctl_on_a_live_download() {
    let Some(mut lab) = Lab::start(Setup {
        lcores: vec!["--lcores".into(), "0@0,(1-2)@1".into()],
        metrics_listen: format!("{BOX4}:0"),
        args: vec![
            "--test-stall-worker".into(),
            format!("{STALL_WORKER}:{STALL_AT_MS}:{STALL_FOR_MS}"),
        ],
        ..Setup::default()
    }) else {
        return;
    };
    let addr = lab.nat.http_addr();
    assert_eq!(addr.ip(), IpAddr::V4(BOX4));
    assert!(
        lab.nat.log().contains("is not a loopback address"),
        "no warning about a non-loopback metrics.listen:\n{}",
        lab.nat.log()
    );
    let url = format!("http://{addr}");

    // A download slow enough to outlive the checks.
    lab.http_server_v4();
    lab.file("www/big.bin", &pseudo_random(4 << 20, 7));
    let srv6 = mapped(SERVER4);
    lab.client_bg(
        "curl",
        &format!("curl -sS -g --limit-rate 100k -o /dev/null 'http://[{srv6}]/big.bin'"),
    );

    let sub = format!("{CLIENT6}/64");
    let deadline = Instant::now() + Duration::from_secs(10);
    let session = loop {
        let v = json(addr, &format!("/sessions?subscriber={sub}"));
        if let Some(s) = download_session(&v).filter(|s| s["state"] == "ESTABLISHED") {
            assert!(v["next"].is_null(), "{v}");
            eprintln!("/sessions?subscriber={sub}: {v}");
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "no ESTABLISHED download session: {v}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(ip(&session["remote"]["ipv6"]), IpAddr::V6(srv6));
    let IpAddr::V4(pool_addr) = ip(&session["outside"]["address"]) else {
        panic!("outside is not IPv4: {session}")
    };
    assert!(in_pool(pool_addr), "{pool_addr} not in {POOL}");
    let pool_port = session["outside"]["port"].as_u64().expect("outside port");
    let expires = session["expires_in"].as_f64().expect("expires_in");
    assert!(
        expires > 60.0,
        "an established session expiring in {expires} s"
    );

    // Another subscriber's prefix: nothing.
    let v = json(addr, "/sessions?subscriber=2001:db8:99::/48");
    assert_eq!(v["sessions"].as_array().map(Vec::len), Some(0), "{v}");

    // The CLI shows the same session, as a table and as JSON.
    let (rc, out) = ctl(&["--url", &url, "sessions", "--subscriber", &sub]);
    assert_eq!(rc, 0, "{out}");
    eprintln!("nat64-dpdk ctl sessions --subscriber {sub}:\n{out}");
    let line = out
        .lines()
        .find(|l| l.contains(&format!("{SERVER4}")) && l.contains(&format!("{CLIENT6} ")))
        .unwrap_or_else(|| panic!("no download in\n{out}"));
    assert!(
        line.contains("ESTABLISHED") && line.contains(&format!("{pool_addr} {pool_port}")),
        "{line}"
    );
    let (rc, out) = ctl(&["--url", &url, "sessions", "--subscriber", &sub, "--json"]);
    assert_eq!(rc, 0, "{out}");
    let v: Value = serde_json::from_str(&out).expect("ctl --json is JSON");
    assert!(download_session(&v).is_some(), "{v}");

    // The binding and the block behind it.
    let v = json(addr, "/bib?proto=tcp");
    eprintln!("/bib?proto=tcp: {v}");
    let bib = v["bib"].as_array().expect("bib");
    assert!(
        bib.iter()
            .any(|b| ip(&b["inside"]["address"]) == IpAddr::V6(CLIENT6)
                && ip(&b["outside"]["address"]) == IpAddr::V4(pool_addr)
                && b["outside"]["port"] == pool_port
                && b["sessions"].as_u64() >= Some(1)),
        "{v}"
    );
    assert!(bib.iter().all(|b| b["protocol"] == "tcp"), "{v}");
    let v = json(addr, &format!("/blocks?subscriber={CLIENT6}"));
    let blocks = v["blocks"].as_array().expect("blocks");
    assert!(
        blocks.iter().any(|b| {
            let first = b["first_port"].as_u64().unwrap_or(0);
            let size = b["size"].as_u64().unwrap_or(0);
            let owner: Option<(Ipv6Addr, u8)> = b["owner"]
                .as_str()
                .and_then(|o| o.split_once('/'))
                .and_then(|(a, l)| Some((a.parse().ok()?, l.parse().ok()?)));
            ip(&b["address"]) == IpAddr::V4(pool_addr)
                && (first..first + size).contains(&pool_port)
                && owner.is_some_and(|(a, l)| {
                    let mask = !(u128::MAX >> l);
                    u128::from(a) == u128::from(CLIENT6) & mask
                })
        }),
        "no block holding {pool_addr}:{pool_port} owned by the client: {v}"
    );
    eprintln!("/blocks?subscriber={CLIENT6}: {v}");
    let (rc, out) = ctl(&["--url", &url, "blocks"]);
    eprintln!("nat64-dpdk ctl blocks:\n{out}");
    assert!(rc == 0 && out.contains(&format!("{pool_addr}")), "{out}");

    // Pages: four UDP sockets make four more BIB entries; limit=1 walks
    // them one by one, each exactly once.
    lab.client.ok(&format!(
        "python3 -c 'import socket
for _ in range(4):
    socket.socket(socket.AF_INET6, socket.SOCK_DGRAM).sendto(b\"x\", (\"{srv6}\", 9))'"
    ));
    let whole = json(addr, "/bib?limit=10000");
    let n = whole["bib"].as_array().map_or(0, Vec::len);
    assert!(n >= 5, "{whole}");
    let mut paged = Vec::new();
    let mut cursor = String::new();
    loop {
        let v = json(addr, &format!("/bib?limit=1{cursor}"));
        let rows = v["bib"].as_array().expect("bib rows");
        assert!(rows.len() <= 1, "{v}");
        paged.extend(rows.iter().cloned());
        match v["next"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => break,
        }
        assert!(paged.len() <= n + 2, "the walk does not end: {v}");
    }
    let key = |b: &Value| (b["protocol"].to_string(), b["inside"].to_string());
    let mut want: Vec<_> = whole["bib"].as_array().unwrap().iter().map(key).collect();
    let mut got: Vec<_> = paged.iter().map(key).collect();
    want.sort();
    got.sort();
    assert_eq!(got, want);

    // Bad parameters.
    for (q, param) in [
        ("/sessions?limit=0", "limit"),
        ("/bib?proto=sctp", "proto"),
        ("/blocks?subscriber=nonsense", "subscriber"),
        ("/sessions?cursor=x", "cursor"),
    ] {
        let (code, _, body) = get(addr, q);
        assert_eq!(code, 400, "{q}: {body}");
        assert!(body.starts_with(param), "{q}: {body}");
    }
    assert_eq!(get(addr, "/nothing").0, 404);
    let post = host_ok(&format!(
        "curl -sS -m 10 -o /dev/null -w '%{{http_code}}' -X POST 'http://{addr}/healthz'"
    ));
    assert_eq!(post.trim(), "405");

    // /metrics: the Prometheus text format, with the download counted.
    let (code, ct, body) = get(addr, "/metrics");
    assert_eq!((code, ct.as_str()), (200, "text/plain; version=0.0.4"));
    let c = Counters::parse(&body).expect("/metrics parses");
    c.assert_ge("nat64_translated_total{dir=\"4to6\"}", 100.0);
    let (rc, out) = ctl(&["--url", &url, "stats"]);
    assert!(rc == 0 && out.contains("nat64_translated_total"), "{out}");

    // Health: with both links seen up, fine; a link down is named.
    let _links = (
        LinkStandIn::new(&lab.client_if),
        LinkStandIn::new(&lab.server_if),
    );
    healthz_until(addr, 200, 5, |b| b == "ok\n");
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (rc, out) = ctl(&["--url", &url, "health"]);
        if (rc, out.as_str()) == (0, "ok\n") {
            break;
        }
        assert!(Instant::now() < deadline, "ctl health: {rc} {out}");
    }
    _links.1.set(false);
    let down = format!("outside port {}: link down", outside_port(&lab));
    healthz_until(addr, 503, 5, |b| b.lines().any(|l| l == down));
    _links.1.set(true);
    healthz_until(addr, 200, 5, |b| b == "ok\n");

    // Worker 1 stalls at its STALL_AT_MS (its clock starts after the
    // process does), and only worker 1 is named.
    let stall_from = lab.nat.started + Duration::from_millis(STALL_AT_MS);
    std::thread::sleep(stall_from.saturating_duration_since(Instant::now()));
    let stalled = format!("worker {STALL_WORKER}: no poll for ");
    let body = healthz_until(addr, 503, 15, |b| {
        b.lines().any(|l| l.starts_with(&stalled)) && !b.contains("worker 0")
    });
    eprintln!("/healthz during the stall: {body}");
    let (code, _, body) = get(addr, "/sessions");
    assert_eq!(code, 503, "{body}");
    assert!(
        body.starts_with(&format!("worker {STALL_WORKER}: ")),
        "{body}"
    );
    let (rc, out) = ctl(&["--url", &url, "health"]);
    assert!(
        rc == 1 && out.contains(&format!("worker {STALL_WORKER}")),
        "{rc} {out}"
    );
    // And back once it polls again.
    healthz_until(addr, 200, STALL_FOR_MS / 1000 + 5, |b| b == "ok\n");
    lab.stop();
}

/// The outside port's DPDK name, from the start-up log.
fn outside_port(lab: &Lab) -> String {
    let log = lab.nat.log();
    log.lines()
        .find_map(|l| l.split("outside port ").nth(1))
        .and_then(|r| r.split(':').next())
        .unwrap_or_else(|| panic!("no outside port in the log:\n{log}"))
        .to_string()
}

/// A box on a loopback listen: no warning, the listener's thread on the
/// main lcore's CPU, and it answers on 127.0.0.1 with the counters.
#[test]
fn loopback_listen_is_quiet() {
    let Some(mut lab) = Lab::start(Setup::default()) else {
        return;
    };
    let addr = lab.nat.http_addr();
    assert_eq!(addr.ip(), IpAddr::V4(Ipv4Addr::LOCALHOST));
    let log = lab.nat.log();
    assert!(!log.contains("is not a loopback address"), "{log}");
    // Pinned to the main lcore's CPU (lcore 0 on CPU 0 with `-l 0-1`).
    assert!(
        log.lines()
            .any(|l| l.contains("http: listening on") && l.ends_with(", CPU 0")),
        "{log}"
    );
    let (code, _, body) = get(addr, "/metrics");
    assert_eq!(code, 200);
    Counters::parse(&body).expect("/metrics parses");
    lab.stop();
}

/// `metrics.allow`: the listener on the box's outside kernel address
/// answers loopback and the listed clients only; another client (the
/// host, whose source is that address itself) gets 403 on every path,
/// counted, and no warning about the non-loopback address is logged.
/// A reload that lists it lets it in.
#[test]
fn metrics_allow_refuses_unlisted_clients_until_a_reload_lists_them() {
    let mut setup = Setup {
        metrics_listen: format!("{BOX4}:0"),
        metrics: "allow = [\"203.0.113.0/24\", \"2001:db8:ffff::/48\"]".into(),
        ..Setup::default()
    };
    let Some(mut lab) = Lab::start(setup.clone()) else {
        return;
    };
    let addr = lab.nat.http_addr();
    assert_eq!(addr.ip(), IpAddr::V4(BOX4));
    assert!(
        !lab.nat.log().contains("is not a loopback address"),
        "{}",
        lab.nat.log()
    );
    for path in ["/metrics", "/healthz", "/sessions", "/nowhere"] {
        let (code, _, body) = get(addr, path);
        assert_eq!(
            (code, body.as_str()),
            (403, "not in metrics.allow\n"),
            "{path}"
        );
    }
    // Loopback is always answered; the refusals were counted.
    let (code, _, body) = get_from(addr, "/metrics", "--interface 127.0.0.1");
    assert_eq!(code, 200, "{body}");
    let c = Counters::parse(&body).expect("/metrics parses");
    c.assert_eq("nat64_http_refused_total", 4.0);
    // Listed on reload: answered.
    setup.metrics = format!("allow = [\"{BOX4}/32\"]");
    let line = lab.reload(&setup);
    assert!(line.contains("applied metrics.allow"), "{line}");
    let (code, _, body) = get(addr, "/metrics");
    assert_eq!(code, 200, "{body}");
    let c = Counters::parse(&body).expect("/metrics parses");
    c.assert_eq("nat64_http_refused_total", 4.0);
    lab.stop();
}
