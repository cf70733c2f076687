//! End to end: the real `nat64-dpdk` binary on two net_tap ports between
//! an IPv6-only client namespace and an IPv4-only server namespace (see
//! `tests/common/mod.rs` for the topology), with real clients and servers:
//! ping, curl against python3's http.server, iperf3, traceroute, nc.
//!
//! Each test checks what the hosts saw (payload checksums, the peer
//! addresses servers logged, the kernels' ICMP statistics) and the
//! translator's own counters (`--counters`). Run as root with
//! `cargo test --test e2e -- --test-threads=1`; not root or no DPDK: each
//! test prints why and passes, except under CI, where it fails.

mod common;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;
use nat64_dpdk::nat64::pipeline::Nat64Drop;
use nat64_dpdk::xlat::DropReason;

/// Asserts that the pipeline dropped nothing (for any reason of the
/// translator or the stateful NAT64) except for `allowed` reasons.
fn assert_no_pipeline_drops(c: &Counters, allowed: &[&str]) {
    let names: Vec<&str> = Nat64Drop::ALL
        .iter()
        .map(|d| d.name())
        .chain(DropReason::ALL.iter().map(|d| d.name()))
        .collect();
    let bad: Vec<(String, f64)> = c
        .nonzero("nat64_drops_total{")
        .into_iter()
        .filter(|(k, _)| {
            names
                .iter()
                .any(|n| k.contains(&format!("reason=\"{n}\"")) && !allowed.contains(n))
        })
        .collect();
    assert!(
        bad.is_empty(),
        "pipeline drops {bad:?}; counters:\n{}",
        c.dump()
    );
}

/// The number after `what=` in `text` (udp_flows.py's output).
fn field(text: &str, what: &str) -> u64 {
    text.split_whitespace()
        .find_map(|w| w.strip_prefix(&format!("{what}=")))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {what}= in {text:?}"))
}

/// Lines of an http.server log for GET `path`: the client address of each.
fn http_clients(log: &str, path: &str) -> Vec<String> {
    log.lines()
        .filter(|l| l.contains(&format!("\"GET {path} ")))
        .filter_map(|l| l.split_whitespace().next().map(String::from))
        .collect()
}

/// The harness's reading of the counters file (no root needed).
#[test]
fn counters_file_parses_prometheus_text() {
    let c = Counters::parse(
        "# HELP nat64_drops_total Packets dropped.\n\
         # TYPE nat64_drops_total counter\n\
         nat64_drops_total{layer=\"nat64\",reason=\"no_bib\"} 3\n\
         nat64_drops_total{layer=\"l2\",reason=\"runt\"} 4\n\
         nat64_sessions{protocol=\"tcp\"} 12\n\
         nat64_sessions{protocol=\"udp\"} 2\n\
         nat64_translated_total{dir=\"6to4\"} 1.5e3 1700000000000\n",
    )
    .unwrap();
    assert_eq!(c.get("nat64_drops_total{reason=\"no_bib\"}"), 3.0);
    assert_eq!(
        c.get("nat64_drops_total{reason=\"no_bib\",layer=\"nat64\"}"),
        3.0
    );
    assert_eq!(c.get("nat64_drops_total"), 7.0);
    assert_eq!(c.get("nat64_sessions"), 14.0);
    assert_eq!(c.get("nat64_sessions{protocol=\"udp\"}"), 2.0);
    assert_eq!(c.get("nat64_translated_total{dir=\"6to4\"}"), 1500.0);
    assert_eq!(c.nonzero("nat64_drops_total{").len(), 2);
    assert_eq!(c.try_get("nat64_drops_total{reason=\"nope\"}"), None);
    assert_eq!(c.try_get("nat64_nope"), None);
    assert!(Counters::parse("x{a=\"1\" 2\n").is_err());
    assert!(Counters::parse("x two\n").is_err());
}

const ICMP_ID: u16 = 4660;
const STATIC4: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 1);

/// ping across the translator both ways (IPv6 client -> IPv4 server; IPv4
/// server -> IPv6 client through a static ICMP BIB entry), and the box
/// answering echo on its inside, outside and an unmapped pool address.
#[test]
fn ping_both_ways_and_the_box_answers_for_itself() {
    let Some(mut lab) = Lab::start(Setup {
        static_bib: vec![(
            "icmp",
            format!("[{CLIENT6}]:{ICMP_ID}"),
            format!("{STATIC4}:{ICMP_ID}"),
        )],
        ..Setup::default()
    }) else {
        return;
    };
    let srv = mapped(SERVER4);

    // IPv6 -> IPv4: the IPv4 server's kernel counts the echo requests.
    let before = lab.server.snmp("Icmp", "InEchos");
    let out = lab.client.ok(&format!("ping -6 -n -c 5 -i 0.2 -W 3 {srv}"));
    assert!(out.contains("5 received"), "{out}");
    let got = lab.server.snmp("Icmp", "InEchos") - before;
    assert!(got >= 5, "the IPv4 server saw {got} echo requests");

    // IPv4 -> IPv6 through the static mapping 203.0.113.1 id 4660 ->
    // [2001:db8:1::2] id 4660: the client's kernel answers.
    let before = lab.client.snmp("", "Icmp6InEchos");
    let out = lab.server.ok(&format!(
        "ping -4 -n -c 3 -i 0.2 -W 3 -e {ICMP_ID} {STATIC4}"
    ));
    assert!(out.contains("3 received"), "{out}");
    let got = lab.client.snmp("", "Icmp6InEchos") - before;
    assert!(got >= 3, "the IPv6 client saw {got} echo requests");
    let echo6_through = lab.client.snmp("", "Icmp6InEchos");

    // The box's own addresses, answered in the dataplane. The hosts
    // forget the box's MAC first, so that they ask for it (the box's own
    // ARP request and NS taught it to them).
    lab.client.ok("ip -6 neigh flush all");
    let out = lab
        .client
        .ok(&format!("ping -6 -n -c 3 -i 0.2 -W 3 {BOX6}"));
    assert!(out.contains("3 received"), "{out}");
    lab.server.ok("ip -4 neigh flush all");
    let out = lab
        .server
        .ok(&format!("ping -4 -n -c 3 -i 0.2 -W 3 {BOX4}"));
    assert!(out.contains("3 received"), "{out}");
    // A pool address no BIB entry claims for this echo: the box itself.
    let out = lab
        .server
        .ok("ping -4 -n -c 3 -i 0.2 -W 3 -e 999 203.0.113.9");
    assert!(out.contains("3 received"), "{out}");
    assert_eq!(
        lab.client.snmp("", "Icmp6InEchos"),
        echo6_through,
        "an echo to an unmapped pool address reached the client"
    );
    // net_tap offers the IPv4 header checksum offload: the translated
    // echo requests above left their checksum to it, and the server's
    // kernel, which drops a bad one, answered them.
    let log = lab.nat.log();
    assert!(
        log.contains("IPv4 header checksums: filled in by the NIC"),
        "{log}"
    );

    let c = lab.stop();
    // 5 requests + 3 replies each way, at least.
    c.assert_ge("nat64_translated_total{dir=\"6to4\"}", 8.0);
    c.assert_ge("nat64_translated_total{dir=\"4to6\"}", 8.0);
    c.assert_ge("nat64_local_replies_total{kind=\"echo6\"}", 3.0);
    c.assert_ge("nat64_local_replies_total{kind=\"echo4\"}", 6.0);
    c.assert_ge("nat64_local_replies_total{kind=\"arp\"}", 1.0);
    c.assert_ge("nat64_local_replies_total{kind=\"nd\"}", 1.0);
    c.assert_ge("nat64_packets_total{port=\"inside\",dir=\"rx\"}", 11.0);
    c.assert_ge("nat64_packets_total{port=\"inside\",dir=\"tx\"}", 11.0);
    c.assert_ge("nat64_packets_total{port=\"outside\",dir=\"rx\"}", 14.0);
    c.assert_ge("nat64_packets_total{port=\"outside\",dir=\"tx\"}", 14.0);
    // Every received frame came in some non-empty burst, and the loop ran.
    for side in ["inside", "outside"] {
        let bursts = c.get(&format!("nat64_rx_bursts_total{{port=\"{side}\"}}"));
        let rx = c.get(&format!(
            "nat64_packets_total{{port=\"{side}\",dir=\"rx\"}}"
        ));
        assert!(
            bursts >= 1.0 && bursts <= rx,
            "{side}: {bursts} bursts for {rx} frames"
        );
    }
    c.assert_ge(
        "nat64_worker_polls_total",
        c.get("nat64_rx_bursts_total{port=\"inside\"}"),
    );
    assert_no_pipeline_drops(&c, &[]);
}

/// `promtool check metrics` (Prometheus' own linter) on the text the
/// binary writes; the text.
fn promtool_check(nat: &Nat64) -> String {
    let copy = nat.counters_path.with_extension("check");
    // A copy: the binary replaces the file every 100 ms.
    let _ = nat.counters();
    std::fs::copy(&nat.counters_path, &copy).expect("copy the counters file");
    let out = host(
        &format!("promtool check metrics < '{}'", copy.display()),
        20,
    );
    let text = std::fs::read_to_string(&copy).unwrap_or_default();
    assert!(out.ok, "promtool: {}{}\n{text}", out.stdout, out.stderr);
    text
}

/// The metrics the binary exports pass `promtool check metrics`; after
/// traffic both ways (ping, then curl), the ports' NIC packet and byte
/// counters and the workers' packet counters moved in both directions, a
/// session, a BIB entry, a subscriber and a port block show, every worker
/// polled lately; once the traffic stops the mbufs in use come back to
/// their idle value (no leak).
#[test]
fn metrics_pass_promtool_and_follow_traffic() {
    require_tools(&["promtool", "curl", "ping"]);
    let Some(mut lab) = Lab::start(Setup::default()) else {
        return;
    };
    let text = promtool_check(&lab.nat);
    assert!(text.contains("# TYPE nat64_drops_total counter"), "{text}");
    let idle = lab.nat.counters_fresh();
    let idle_mbufs = idle.get("nat64_mbufs_in_use");
    // net_tap reports the link of its kernel interface, which the lab
    // moves into another namespace: up or down, but there.
    for port in ["inside", "outside"] {
        let up = idle.get(&format!("nat64_port_up{{port=\"{port}\"}}"));
        assert!(up == 0.0 || up == 1.0, "{port}: {up}");
    }
    assert_eq!(idle.get("nat64_build_info"), 1.0);

    let srv = mapped(SERVER4);
    let out = lab.client.ok(&format!("ping -6 -n -c 3 -i 0.2 -W 3 {srv}"));
    assert!(out.contains("3 received"), "{out}");
    lab.http_server_v4();
    let src = lab.file("www/m.bin", &pseudo_random(1 << 20, 3));
    let dst = lab.dir.join("m.down");
    lab.client.ok_within(
        &format!(
            "curl -sS -g --fail --max-time 60 -o {} http://[{srv}]/m.bin",
            dst.display()
        ),
        80,
    );
    assert_eq!(Lab::sha256(&dst), Lab::sha256(&src), "download differs");

    let live = lab.nat.counters_fresh();
    for port in ["inside", "outside"] {
        for dir in ["rx", "tx"] {
            for what in ["packets", "bytes"] {
                let q = format!("nat64_port_{dir}_{what}_total{{port=\"{port}\"}}");
                assert!(live.get(&q) > idle.get(&q), "{q} did not move");
            }
            let q = format!("nat64_packets_total{{port=\"{port}\",dir=\"{dir}\"}}");
            assert!(live.get(&q) > idle.get(&q), "{q} did not move");
        }
    }
    // 1 MiB came in on the outside and left on the inside.
    live.assert_ge(
        "nat64_port_rx_bytes_total{port=\"outside\"}",
        (1 << 20) as f64,
    );
    live.assert_ge(
        "nat64_port_tx_bytes_total{port=\"inside\"}",
        (1 << 20) as f64,
    );
    // Per worker, from the driver's per-queue counters: the workers'
    // queues add up to the port (net_tap counts per queue).
    for port in ["inside", "outside"] {
        for dir in ["rx", "tx"] {
            for what in ["packets", "bytes"] {
                let worker = live.get(&format!(
                    "nat64_worker_{dir}_{what}_total{{port=\"{port}\"}}"
                ));
                let whole = live.get(&format!("nat64_port_{dir}_{what}_total{{port=\"{port}\"}}"));
                assert_eq!(worker, whole, "{port} {dir} {what}: workers vs port");
            }
        }
    }
    live.assert_ge("nat64_sessions{protocol=\"tcp\"}", 1.0);
    live.assert_ge("nat64_bib_entries{protocol=\"tcp\"}", 1.0);
    live.assert_ge("nat64_subscribers", 1.0);
    live.assert_ge("nat64_port_blocks_in_use", 1.0);
    let blocks = live.get("nat64_port_blocks");
    assert!(blocks >= live.get("nat64_port_blocks_in_use"), "{blocks}");
    for (k, age) in live
        .values
        .iter()
        .filter(|(k, _)| k.starts_with("nat64_worker_last_poll_age_seconds{"))
    {
        assert!(*age < 1.0, "{k} = {age}");
    }
    assert!(
        live.try_get("nat64_worker_last_poll_age_seconds").is_some(),
        "{}",
        live.dump()
    );
    promtool_check(&lab.nat);

    // Idle again: every mbuf the traffic took is back.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let now = lab.nat.counters_fresh().get("nat64_mbufs_in_use");
        if now == idle_mbufs {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "mbufs in use {now}, {idle_mbufs} before the traffic"
        );
    }
    lab.stop();
}

/// curl on the IPv6-only client downloads 10 MB from python3's
/// http.server on the IPv4-only server; the sha256 sums agree and the
/// server saw a pool address as the client.
#[test]
fn curl_downloads_10mb_with_matching_sha256() {
    let Some(mut lab) = Lab::start(Setup::default()) else {
        return;
    };
    let http = lab.http_server_v4();
    let src = lab.file("www/big.bin", &pseudo_random(10 << 20, 7));
    let dst = lab.dir.join("big.down");
    let t = Instant::now();
    lab.client.ok_within(
        &format!(
            "curl -sS -g --fail --max-time 150 -o {} http://[{}]/big.bin",
            dst.display(),
            mapped(SERVER4)
        ),
        170,
    );
    eprintln!("10 MB in {:?}", t.elapsed());
    assert_eq!(Lab::sha256(&dst), Lab::sha256(&src), "download differs");
    let clients = http_clients(&lab.bg[http].output(), "/big.bin");
    assert_eq!(clients.len(), 1, "{}", lab.bg[http].output());
    let a: Ipv4Addr = clients[0].parse().expect("IPv4 client address");
    assert!(in_pool(a), "the server saw {a}, not a pool address");

    let live = lab.nat.counters_fresh();
    live.assert_ge("nat64_sessions", 1.0);
    live.assert_ge("nat64_bib_entries", 1.0);
    live.assert_ge("nat64_port_blocks_in_use", 1.0);
    let c = lab.stop();
    // 10 MiB in segments of at most 1440 bytes (IPv6 MTU 1500).
    c.assert_ge(
        "nat64_translated_total{dir=\"4to6\"}",
        (10 << 20) as f64 / 1440.0,
    );
    c.assert_ge("nat64_translated_total{dir=\"6to4\"}", 100.0);
    assert_no_pipeline_drops(&c, &[]);

    // RFC 6888 REQ-12: the block the download took is in logging.events,
    // with the subscriber's prefix, the pool address the server saw and a
    // port range, and never the destination.
    let events = lab.dir.0.join("events.log");
    let log = std::fs::read_to_string(&events).unwrap_or_default();
    let line = log
        .lines()
        .find(|l| l.contains(" allocated "))
        .unwrap_or_else(|| panic!("no allocation in {}:\n{log}", events.display()));
    assert!(line.contains("subscriber=2001:db8:1::/56 "), "{line}");
    assert!(line.contains(&format!("address={a} ")), "{line}");
    assert!(line.contains(" ports="), "{line}");
    assert!(
        !log.contains(&SERVER4.to_string()),
        "a destination in the log:\n{log}"
    );
}

/// iperf3 `-J` result: (bytes received, lost percent) of the test, by
/// python3's json module.
fn iperf3_result(lab: &Lab, json: &str) -> (f64, f64) {
    let path = lab.file("iperf3.json", json.as_bytes());
    let out = host_ok(&format!(
        "python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); e=d[\"end\"]; \
         r=e.get(\"sum_received\") or e[\"sum\"]; \
         print(r[\"bytes\"], e.get(\"sum\", {{}}).get(\"lost_percent\", 0.0))' {}",
        path.display()
    ));
    let mut w = out.split_whitespace();
    let bytes: f64 = w.next().and_then(|v| v.parse().ok()).expect("bytes");
    let lost: f64 = w.next().and_then(|v| v.parse().ok()).expect("lost");
    (bytes, lost)
}

/// iperf3 TCP and UDP, 3 s each, client to server and (-R) back.
#[test]
fn iperf3_tcp_and_udp_both_directions() {
    let Some(mut lab) = Lab::start(Setup::default()) else {
        return;
    };
    require_tools(&["iperf3"]);
    lab.server_bg("iperf3", &format!("iperf3 -s -B {SERVER4} -p 5201"));
    lab.server.wait_listening("tcp", 5201);
    let srv = mapped(SERVER4);
    let mut total = 0.0;
    for (name, args, min_bytes) in [
        ("tcp", "", 1e6),
        ("tcp -R", "-R", 1e6),
        // 1200-byte datagrams: no IPv6 fragmentation on a 1500 link.
        ("udp", "-u -b 5M -l 1200", 5e5),
        ("udp -R", "-u -b 5M -l 1200 -R", 5e5),
    ] {
        let r = lab.client.run(
            &format!("iperf3 -c {srv} -p 5201 -t 3 -J --connect-timeout 5000 {args}"),
            60,
        );
        assert!(r.ok, "iperf3 {name} failed:\n{}\n{}", r.stdout, r.stderr);
        let (bytes, lost) = iperf3_result(&lab, &r.stdout);
        eprintln!("iperf3 {name}: {bytes} bytes received, {lost}% lost");
        assert!(bytes >= min_bytes, "iperf3 {name}: only {bytes} bytes");
        assert!(lost <= 10.0, "iperf3 {name}: {lost}% lost");
        total += bytes;
        // iperf3 needs a moment between tests.
        std::thread::sleep(Duration::from_millis(300));
    }
    let c = lab.stop();
    // Each direction carried at least half the payload in 1500-byte packets.
    c.assert_ge("nat64_translated_total{dir=\"4to6\"}", total / 2.0 / 1500.0);
    c.assert_ge("nat64_translated_total{dir=\"6to4\"}", total / 2.0 / 1500.0);
    assert_no_pipeline_drops(&c, &[]);
}

/// traceroute from the client: hop 1 is the translator's inside address
/// (its ICMPv6 time exceeded), the last hop the server's mapped address
/// (the server's port unreachable, translated).
#[test]
fn traceroute_shows_the_translator_hop() {
    let Some(mut lab) = Lab::start(Setup::default()) else {
        return;
    };
    require_tools(&["traceroute"]);
    let srv = mapped(SERVER4);
    let out = lab
        .client
        .ok_within(&format!("traceroute -6 -n -q 2 -w 3 -m 6 {srv}"), 90);
    let hops: Vec<&str> = out
        .lines()
        .filter(|l| {
            l.trim_start()
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_digit())
        })
        .collect();
    assert!(hops.len() >= 2, "{out}");
    assert!(
        hops[0].trim_start().starts_with("1 ") && hops[0].contains(&BOX6.to_string()),
        "hop 1 is not the translator {BOX6}:\n{out}"
    );
    let last = hops[hops.len() - 1];
    assert!(
        last.contains(&srv.to_string()),
        "last hop is not {srv}:\n{out}"
    );
    assert_eq!(
        hops.len(),
        2,
        "the server is one hop behind the box:\n{out}"
    );

    let c = lab.stop();
    // The time exceeded messages are the box's own ICMPv6 errors.
    c.assert_ge("nat64_replies_total", 1.0);
    // Probes that reached the server, and its port unreachables back.
    c.assert_ge("nat64_translated_total{dir=\"6to4\"}", 1.0);
    c.assert_ge("nat64_translated_total{dir=\"4to6\"}", 1.0);
    assert_no_pipeline_drops(&c, &[]);
}

/// A static BIB entry forwards 203.0.113.1:8080 to an HTTP server on the
/// client (curl from the IPv4 side), and 203.0.113.1:8081 to a TCP service
/// that reports its peer (nc from the IPv4 side): the peer is the server's
/// address under the NAT64 prefix.
#[test]
fn static_bib_port_forward_from_the_ipv4_side() {
    let Some(mut lab) = Lab::start(Setup {
        static_bib: vec![
            (
                "tcp",
                format!("[{CLIENT6}]:8080"),
                format!("{STATIC4}:8080"),
            ),
            (
                "tcp",
                format!("[{CLIENT6}]:8081"),
                format!("{STATIC4}:8081"),
            ),
        ],
        ..Setup::default()
    }) else {
        return;
    };
    require_tools(&["nc"]);
    let www = lab.dir.join("www6");
    std::fs::create_dir_all(&www).unwrap();
    std::fs::write(www.join("forward.txt"), "forwarded through nat64-dpdk\n").unwrap();
    let http = lab.client_bg(
        "http6",
        &format!(
            "python3 -u -m http.server --bind {CLIENT6} --directory {} 8080",
            www.display()
        ),
    );
    lab.client.wait_listening("tcp", 8080);
    let peer_py = lab.file("tcp_peer.py", TCP_PEER_PY.as_bytes());
    lab.client_bg(
        "peer",
        &format!("python3 -u {} {CLIENT6} 8081", peer_py.display()),
    );
    lab.client.wait_listening("tcp", 8081);

    let body = lab.server.ok(&format!(
        "curl -sS --fail --max-time 20 http://{STATIC4}:8080/forward.txt"
    ));
    assert_eq!(body, "forwarded through nat64-dpdk\n");
    let seen = http_clients(&lab.bg[http].output(), "/forward.txt");
    assert_eq!(
        seen,
        vec![mapped(SERVER4).to_string()],
        "{}",
        lab.bg[http].output()
    );

    let out = lab
        .server
        .ok(&format!("echo hello | nc -N -w 10 {STATIC4} 8081"));
    let want = format!("peer {} ", mapped(SERVER4));
    assert!(
        out.starts_with(&want) && out.trim_end().ends_with("got hello"),
        "{out}"
    );

    let live = lab.nat.counters_fresh();
    live.assert_ge("nat64_bib_entries", 2.0);
    live.assert_ge("nat64_sessions", 2.0);
    let c = lab.stop();
    c.assert_ge("nat64_translated_total{dir=\"4to6\"}", 6.0);
    c.assert_ge("nat64_translated_total{dir=\"6to4\"}", 6.0);
    assert_no_pipeline_drops(&c, &[]);
}

/// Hairpinning (RFC 6146 §3.8): client A reaches client B through B's
/// static IPv4 mapping (TCP and UDP); B sees A as A's own IPv4 mapping
/// under the NAT64 prefix.
#[test]
fn hairpinning_between_two_ipv6_clients() {
    let b: Ipv6Addr = "2001:db8:1:100::b".parse().unwrap();
    let Some(mut lab) = Lab::start(Setup {
        static_bib: vec![
            ("tcp", format!("[{b}]:7000"), format!("{STATIC4}:7000")),
            ("udp", format!("[{b}]:7001"), format!("{STATIC4}:7001")),
        ],
        client_addrs: vec![b],
        ..Setup::default()
    }) else {
        return;
    };
    let peer_py = lab.file("tcp_peer.py", TCP_PEER_PY.as_bytes());
    let echo_py = lab.file("udp_echo.py", UDP_ECHO_PY.as_bytes());
    let connect_py = lab.file("tcp_connect.py", TCP_CONNECT_PY.as_bytes());
    let flows_py = lab.file("udp_flows.py", UDP_FLOWS_PY.as_bytes());
    lab.client_bg(
        "peer",
        &format!("python3 -u {} {b} 7000", peer_py.display()),
    );
    lab.client_bg(
        "echo",
        &format!("python3 -u {} {b} 7001", echo_py.display()),
    );
    lab.client.wait_listening("tcp", 7000);
    lab.client.wait_listening("udp", 7001);

    let via = mapped(STATIC4);
    let out = lab.client.ok(&format!(
        "python3 {} {CLIENT6} {via} 7000 hairpin",
        connect_py.display()
    ));
    // "peer <A's mapping under the prefix> <port> got hairpin"
    let mut w = out.split_whitespace();
    assert_eq!(w.next(), Some("peer"), "{out}");
    let peer: Ipv6Addr = w.next().and_then(|p| p.parse().ok()).expect("peer address");
    let a4 = unmapped(peer).unwrap_or_else(|| panic!("B saw {peer}, not under the prefix"));
    assert!(in_pool(a4), "B saw A as {a4}, not a pool address");
    assert!(out.trim_end().ends_with("got hairpin"), "{out}");

    let out = lab.client.ok(&format!(
        "python3 {} {CLIENT6} {via} 7001 3 5",
        flows_py.display()
    ));
    assert_eq!(field(&out, "replied"), 3, "{out}");
    assert_eq!(field(&out, "again"), 3, "{out}");

    let c = lab.stop();
    // Both ways of the TCP connection (SYN, SYN-ACK, ACK, data, FINs) and
    // the 6 datagrams each went through the hairpin.
    c.assert_ge("nat64_hairpinned_total", 6.0 + 6.0);
    c.assert_ge("nat64_translated_total{dir=\"6to4\"}", 6.0 + 6.0);
    assert_no_pipeline_drops(&c, &[]);
}

/// RFC 6146 §3.4: 3000-byte UDP datagrams from the IPv6 client to the
/// IPv4 server and 3000-byte answers back, each fragmented by its
/// sender's kernel (IPv6 fragments of 1448 bytes; IPv4 fragments of 1480
/// without DF, which the box splits again for the 1280-byte IPv6 minimum),
/// arrive whole: with one worker, and with four (IPv4 fragments reach a
/// home worker that hands them to their pool port's owner).
#[test]
fn udp_3000_byte_datagrams_fragmented_both_ways() {
    for lcores in [["-l", "0-1"], ["--lcores", "0@0,(1-4)@1"]] {
        let Some(mut lab) = Lab::start(Setup {
            lcores: lcores.map(String::from).to_vec(),
            ..Setup::default()
        }) else {
            return;
        };
        let server_py = lab.file("udp_big_server.py", UDP_BIG_SERVER_PY.as_bytes());
        let client_py = lab.file("udp_big_client.py", UDP_BIG_CLIENT_PY.as_bytes());
        let srv = lab.server_bg(
            "bigsrv",
            &format!("python3 -u {} {SERVER4} 9000 3000", server_py.display()),
        );
        lab.server.wait_listening("udp", 9000);
        let out = lab.client.ok_within(
            &format!(
                "python3 {} {} 9000 3000 20",
                client_py.display(),
                mapped(SERVER4)
            ),
            120,
        );
        eprintln!("{lcores:?}: {out}");
        // Every answer came back whole: 3000 bytes, the server's pattern.
        assert_eq!(field(&out, "answers"), 20, "{out}");
        assert_eq!(field(&out, "whole"), 20, "{out}");
        // The server got every request whole too.
        let sha = out
            .split_whitespace()
            .find_map(|w| w.strip_prefix("sha="))
            .unwrap()
            .to_string();
        let log = lab.bg[srv].output();
        let got: Vec<&str> = log.lines().filter(|l| l.starts_with("got=")).collect();
        assert_eq!(got.len(), 20, "{log}");
        for l in got {
            assert_eq!(l, format!("got=3000 sha={sha}"));
        }
        let c = lab.stop();
        // 20 x 3 fragments each way went through the fragment store.
        c.assert_ge(
            "nat64_fragments_total{event=\"translated\"}",
            2.0 * 20.0 * 3.0,
        );
        c.assert_ge("nat64_fragments_total{event=\"tracked\"}", 2.0 * 20.0);
        c.assert_eq("nat64_fragments_total{event=\"refused\"}", 0.0);
        c.assert_eq("nat64_fragments_total{event=\"timed_out\"}", 0.0);
        c.assert_ge("nat64_fragments_out_total", 20.0 * 3.0);
        assert_no_pipeline_drops(&c, &[]);
    }
}

/// An ICMPv6 echo request with an atomic fragment header (offset 0,
/// M = 0, RFC 6946) is a whole datagram: translated to an ICMPv4 echo,
/// answered by the server, and the reply comes back (RFC 7915 §5.1.1,
/// §5.2).
#[test]
fn icmpv6_echo_with_an_atomic_fragment_gets_its_reply() {
    let Some(lab) = Lab::start(Setup::default()) else {
        return;
    };
    let scapy = Command::new("/usr/bin/python3")
        .args(["-c", "import scapy"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        scapy,
        "scapy not found for /usr/bin/python3 (apt-get install python3-scapy)"
    );
    let py = lab.file("atomic_ping.py", ATOMIC_PING_PY.as_bytes());
    let out = lab.client.ok_within(
        &format!(
            "/usr/bin/python3 {} {} {CLIENT6} {}",
            py.display(),
            lab.client_if,
            mapped(SERVER4)
        ),
        60,
    );
    assert_eq!(field(&out, "replied"), 3, "{out}");
    let mut lab = lab;
    let c = lab.stop();
    c.assert_ge("nat64_translated_total{dir=\"6to4\"}", 3.0);
    c.assert_ge("nat64_translated_total{dir=\"4to6\"}", 3.0);
    // A whole datagram: nothing for the fragment store.
    c.assert_eq("nat64_fragments_total{event=\"tracked\"}", 0.0);
    assert_no_pipeline_drops(&c, &[]);
}

/// UDP with 4000-byte datagrams (`iperf3 -u -l 4000`), both directions:
/// every datagram is fragmented by its sender and goes through the
/// fragment store; little is lost.
#[test]
fn iperf3_udp_4000_byte_datagrams_both_ways() {
    let Some(mut lab) = Lab::start(Setup::default()) else {
        return;
    };
    require_tools(&["iperf3"]);
    lab.server_bg("iperf3", &format!("iperf3 -s -B {SERVER4} -p 5201"));
    lab.server.wait_listening("tcp", 5201);
    let srv = mapped(SERVER4);
    let mut datagrams = 0.0;
    for (name, args) in [
        ("udp", "-u -b 5M -l 4000"),
        ("udp -R", "-u -b 5M -l 4000 -R"),
    ] {
        let r = lab.client.run(
            &format!("iperf3 -c {srv} -p 5201 -t 3 -J --connect-timeout 5000 {args}"),
            60,
        );
        assert!(r.ok, "iperf3 {name} failed:\n{}\n{}", r.stdout, r.stderr);
        let (bytes, lost) = iperf3_result(&lab, &r.stdout);
        eprintln!("iperf3 {name}: {bytes} bytes received, {lost}% lost");
        assert!(bytes >= 5e5, "iperf3 {name}: only {bytes} bytes");
        assert!(lost <= 10.0, "iperf3 {name}: {lost}% lost");
        datagrams += bytes / 4000.0;
        std::thread::sleep(Duration::from_millis(300));
    }
    let c = lab.stop();
    // Each datagram is 3 fragments (IPv6: 1448-byte pieces; IPv4: 1480).
    c.assert_ge(
        "nat64_fragments_total{event=\"translated\"}",
        3.0 * datagrams * 0.9,
    );
    c.assert_eq("nat64_fragments_total{event=\"refused\"}", 0.0);
    assert_no_pipeline_drops(&c, &[]);
}

/// A flood of first fragments that never complete, from the IPv4 side:
/// the store fills to its bound and refuses the rest (counted), the
/// established flows of a subscriber keep working meanwhile, and once the
/// window (`timeouts.fragment`) has passed the store is empty and
/// fragmented datagrams go through again.
#[test]
fn fragment_flood_from_the_ipv4_side_stays_bounded() {
    let Some(mut lab) = Lab::start(Setup::default()) else {
        return;
    };
    let echo_py = lab.file("udp_echo.py", UDP_ECHO_PY.as_bytes());
    let flows_py = lab.file("udp_flows.py", UDP_FLOWS_PY.as_bytes());
    let flood_py = lab.file("frag_flood.py", FRAG_FLOOD_PY.as_bytes());
    let big_srv = lab.file("udp_big_server.py", UDP_BIG_SERVER_PY.as_bytes());
    let big_cli = lab.file("udp_big_client.py", UDP_BIG_CLIENT_PY.as_bytes());
    lab.server_bg(
        "echo",
        &format!("python3 -u {} {SERVER4} 9000", echo_py.display()),
    );
    lab.server_bg(
        "big",
        &format!("python3 -u {} {SERVER4} 9001 3000", big_srv.display()),
    );
    lab.server.wait_listening("udp", 9000);
    lab.server.wait_listening("udp", 9001);
    let srv = mapped(SERVER4);
    // Established first.
    let out = lab.client.ok(&format!(
        "python3 {} {CLIENT6} {srv} 9000 5 3",
        flows_py.display()
    ));
    assert_eq!(field(&out, "replied"), 5, "{out}");

    let t = Instant::now();
    let out = lab.server.ok_within(
        &format!("python3 {} {SERVER4} 3000", flood_py.display()),
        120,
    );
    assert_eq!(field(&out, "sent"), 3000, "{out}");
    // Within the window: the store at its bound, the rest refused; the
    // subscriber's flows answer.
    let out = lab.client.ok(&format!(
        "python3 {} {CLIENT6} {srv} 9000 5 3",
        flows_py.display()
    ));
    assert_eq!(field(&out, "replied"), 5, "{out}");
    let live = lab.nat.counters_fresh();
    eprintln!(
        "flood sent in {:?}: {} datagrams tracked, {} refused",
        t.elapsed(),
        live.get("nat64_fragment_datagrams"),
        live.get("nat64_fragments_total{event=\"refused\"}")
    );
    assert!(
        live.get("nat64_fragment_datagrams") <= 1024.0,
        "{}",
        live.dump()
    );
    live.assert_eq("nat64_parked_fragments", 0.0);
    if t.elapsed() < Duration::from_secs(2) {
        // All 3000 came within one window.
        live.assert_ge("nat64_fragments_total{event=\"refused\"}", 3000.0 - 1024.0);
    }
    // After the window: empty again, and big datagrams pass.
    std::thread::sleep(Duration::from_millis(2500));
    let out = lab.client.ok_within(
        &format!("python3 {} {srv} 9001 3000 3", big_cli.display()),
        60,
    );
    assert_eq!(field(&out, "whole"), 3, "{out}");
    // The operator's event: the refusals reach the log, counted.
    let log = lab.nat.log();
    assert!(
        log.lines()
            .any(|l| l.contains("fragments: ") && l.contains(" refused since the last report")),
        "{log}"
    );
    let c = lab.stop();
    c.assert_ge("nat64_fragments_total{event=\"tracked\"}", 1024.0);
    c.assert_ge("nat64_fragments_total{event=\"refused\"}", 1.0);
    // The flood's first fragments had no mapping: refused with port
    // unreachable (rate limited), or refused by the full store.
    assert_no_pipeline_drops(&c, &["no_bib", "fragment_store_full"]);
}

/// Four workers sharing one CPU (`--lcores 0@0,(1-4)@1`) carry 50 parallel
/// HTTP downloads from five subscribers (one /56 each); packets that land
/// on a worker that does not own them are handed off.
#[test]
fn four_workers_on_two_cpus_carry_50_parallel_flows() {
    let subs: Vec<Ipv6Addr> = (1..=5u16)
        .map(|i| Ipv6Addr::new(0x2001, 0xdb8, 1, i << 8, 0, 0, 0, 2))
        .collect();
    let Some(mut lab) = Lab::start(Setup {
        lcores: vec!["--lcores".into(), "0@0,(1-4)@1".into()],
        client_addrs: subs.clone(),
        ..Setup::default()
    }) else {
        return;
    };
    // The start-up summary names the workers' lcores and both ports.
    let log = lab.nat.log();
    assert!(log.contains("forwarding: 4 workers"), "{log}");
    assert!(
        log.contains("\nworkers: 4 on lcores 1, 2, 3, 4; control side on lcore 0"),
        "{log}"
    );
    for role in ["inside", "outside"] {
        assert!(
            log.contains(&format!("\n{role} port net_tap")) && log.contains("driver net_tap, MAC "),
            "{log}"
        );
    }
    let http = lab.http_server_v4();
    let src = lab.file("www/f.bin", &pseudo_random(256 << 10, 11));
    let want = Lab::sha256(&src);
    let dl = lab.dir.join("dl");
    std::fs::create_dir_all(&dl).unwrap();
    let list: Vec<String> = subs.iter().map(|s| s.to_string()).collect();
    let script = format!(
        "subs=({subs}); pids=()
for i in $(seq 0 49); do
  curl -sS -g --fail --max-time 150 --interface ${{subs[$((i % 5))]}} \
       -o {dl}/$i http://[{srv}]/f.bin & pids+=($!)
done
fail=0; for p in ${{pids[@]}}; do wait $p || fail=$((fail+1)); done
echo failed=$fail; [ $fail -eq 0 ]",
        subs = list.join(" "),
        dl = dl.display(),
        srv = mapped(SERVER4)
    );
    let t = Instant::now();
    lab.client.ok_within(&script, 200);
    eprintln!("50 x 256 KiB in {:?}", t.elapsed());
    for i in 0..50 {
        assert_eq!(Lab::sha256(&dl.join(i.to_string())), want, "download {i}");
    }
    let clients = http_clients(&lab.bg[http].output(), "/f.bin");
    assert_eq!(clients.len(), 50, "{}", lab.bg[http].output());
    for a in &clients {
        let a: Ipv4Addr = a.parse().expect("IPv4 client");
        assert!(in_pool(a), "server saw {a}");
    }

    let live = lab.nat.counters_fresh();
    live.assert_ge("nat64_sessions", 50.0);
    live.assert_ge("nat64_bib_entries", 50.0);
    // Each subscriber holds at least one block of its own.
    live.assert_ge("nat64_port_blocks_in_use", 5.0);
    let c = lab.stop();
    c.assert_ge(
        "nat64_translated_total{dir=\"4to6\"}",
        50.0 * (256 << 10) as f64 / 1440.0,
    );
    c.assert_ge("nat64_translated_total{dir=\"6to4\"}", 50.0 * 3.0);
    // Four rx queues per port: some packets arrive on a worker that is not
    // their subscriber's or their port block's owner.
    c.assert_ge("nat64_handoff_total{dir=\"out\"}", 1.0);
    eprintln!(
        "handoffs: {} out, {} lost to a full ring",
        c.get("nat64_handoff_total{dir=\"out\"}"),
        c.get("nat64_handoff_drops_total")
    );
    assert_no_pipeline_drops(&c, &[]);
}

/// block_size 64 and one block per subscriber: subscriber A opens 100 UDP
/// flows, gets 64 and an ICMPv6 error for each of the other 36 (RFC 6888
/// REQ-11); its 64 flows keep working, and subscriber B, in another /56,
/// opens flows and downloads a page meanwhile.
#[test]
fn subscriber_at_its_block_cap_does_not_hurt_another() {
    let a: Ipv6Addr = "2001:db8:1:100::a".parse().unwrap();
    let b: Ipv6Addr = "2001:db8:1:200::b".parse().unwrap();
    // B's ping teaches the box both neighbours, so that A's burst of
    // first datagrams does not overflow the few packets a worker queues per
    // unresolved next hop.
    let Some((mut lab, flows_py)) = block_cap_lab(vec![a, b], b, "") else {
        return;
    };
    let http = lab.http_server_v4();
    lab.file("www/index.html", b"<p>still here</p>\n");
    let srv = mapped(SERVER4);

    let out = lab.client.ok_within(
        &format!("python3 {} {a} {srv} 9000 100 5", flows_py.display()),
        60,
    );
    eprintln!("A: {out}");
    let why = || lab.nat.counters_fresh().dump();
    assert_eq!(field(&out, "replied"), 64, "A: {out}\n{}", why());
    assert_eq!(
        field(&out, "again"),
        64,
        "A's mapped flows stopped: {out}\n{}",
        why()
    );
    assert_eq!(
        field(&out, "errors"),
        36,
        "A's refused flows got no ICMPv6 error: {out}\n{}",
        why()
    );

    let out = lab.client.ok_within(
        &format!("python3 {} {b} {srv} 9000 10 5", flows_py.display()),
        60,
    );
    assert_eq!(field(&out, "replied"), 10, "B: {out}");
    let page = lab.client.ok(&format!(
        "curl -sS -g --fail --max-time 20 --interface {b} http://[{srv}]/index.html"
    ));
    assert_eq!(page, "<p>still here</p>\n");
    assert_eq!(http_clients(&lab.bg[http].output(), "/index.html").len(), 1);

    let live = lab.nat.counters_fresh();
    // A's one block, B's one block.
    live.assert_eq("nat64_port_blocks_in_use", 2.0);
    live.assert_ge("nat64_sessions", 64.0 + 10.0 + 1.0 + 1.0);
    let c = lab.stop();
    c.assert_eq("nat64_drops_total{reason=\"subscriber_limit\"}", 36.0);
    c.assert_ge("nat64_replies_total", 36.0);
    c.assert_ge(
        "nat64_translated_total{dir=\"6to4\"}",
        64.0 * 2.0 + 10.0 * 2.0,
    );
    c.assert_ge(
        "nat64_translated_total{dir=\"4to6\"}",
        64.0 * 2.0 + 10.0 * 2.0,
    );
    assert_no_pipeline_drops(&c, &["subscriber_limit"]);
}

/// Sends `count` UDP datagrams to `dst`:9000, each from a made-up source
/// in its own /56 under 2001:db8:bad0::/28 (scapy, layer 3: scapy finds the
/// route and the box's MAC itself). Prints `sent=N`.
const SPOOF_PY: &str = r#"import sys
from scapy.all import IPv6, UDP, conf, send
conf.verb = 0
dst, count = sys.argv[1], int(sys.argv[2])
srcs = ["2001:db8:%x:%x00::1" % (0xbad0 + i // 256, i % 256) for i in range(count)]
pkts = [IPv6(src=s, dst=dst) / UDP(sport=40000, dport=9000) / b"spoof" for s in srcs]
send(pkts, inter=0.0005)
print("sent=%d" % len(pkts))
"#;

/// Issue 15: with `inside.subscribers` naming the client's link, a flood
/// from made-up source prefixes takes no port block (the pool's blocks in
/// use do not move) and every datagram is counted as `not_subscriber`,
/// while the client itself is still translated.
#[test]
fn spoofed_source_flood_takes_no_port_block() {
    let Some(mut lab) = Lab::start(Setup {
        inside: "subscribers = [\"2001:db8:1::/64\"]\n".into(),
        ..Setup::default()
    }) else {
        return;
    };
    let srv = mapped(SERVER4);
    // The client's ping takes a block and teaches the box its neighbours.
    lab.client.ok(&format!("ping -6 -n -c 2 -i 0.2 -W 3 {srv}"));
    let before = lab.nat.counters_fresh();
    let blocks = before.get("nat64_port_blocks_in_use");
    let spoof_py = lab.file("spoof.py", SPOOF_PY.as_bytes());
    let n = 500;
    let out = lab.client.ok_within(
        &format!("/usr/bin/python3 {} {srv} {n}", spoof_py.display()),
        120,
    );
    assert_eq!(field(&out, "sent"), n, "{out}");
    // The served client still gets through after the flood.
    lab.client.ok(&format!("ping -6 -n -c 2 -i 0.2 -W 3 {srv}"));
    let c = lab.stop();
    c.assert_eq("nat64_port_blocks_in_use", blocks);
    c.assert_eq("nat64_drops_total{reason=\"not_subscriber\"}", n as f64);
    assert_no_pipeline_drops(&c, &["not_subscriber"]);
}

/// Sends `count` UDP datagrams to `dst`:9000, each from its own host of
/// the /56 2001:db8:1:100::/56 (one subscriber), source port 40000: each a
/// new flow, a new session (scapy, layer 3). Prints `sent=N`.
const SUBSCRIBER_FLOOD_PY: &str = r#"import sys
from scapy.all import IPv6, UDP, conf, send
conf.verb = 0
dst, count = sys.argv[1], int(sys.argv[2])
srcs = ["2001:db8:1:1%02x::%x" % (i % 256, i // 256 + 1) for i in range(count)]
pkts = [IPv6(src=s, dst=dst) / UDP(sport=40000, dport=9000) / b"flood" for s in srcs]
send(pkts, inter=0.0005)
print("sent=%d" % len(pkts))
"#;

/// Issue 15: with `max_sessions_per_subscriber = 50`, subscriber A
/// (2001:db8:1:100::/56) floods 300 new flows from hosts of its /56: 50
/// sessions, 250 refusals counted as `subscriber_session_limit`; A's own
/// new flows are refused too (with an ICMPv6 error each), while subscriber
/// B (2001:db8:1:200::/56) opens new flows that all work.
#[test]
fn one_subscribers_session_flood_leaves_anothers_new_flows_working() {
    let a: Ipv6Addr = "2001:db8:1:100::a".parse().unwrap();
    let b: Ipv6Addr = "2001:db8:1:200::b".parse().unwrap();
    let Some(mut lab) = Lab::start(Setup {
        pool4: "max_sessions_per_subscriber = 50\n".into(),
        client_addrs: vec![a, b],
        ..Setup::default()
    }) else {
        return;
    };
    let echo_py = lab.file("udp_echo.py", UDP_ECHO_PY.as_bytes());
    let flows_py = lab.file("udp_flows.py", UDP_FLOWS_PY.as_bytes());
    let flood_py = lab.file("flood.py", SUBSCRIBER_FLOOD_PY.as_bytes());
    lab.server_bg(
        "echo",
        &format!("python3 -u {} {SERVER4} 9000", echo_py.display()),
    );
    lab.server.wait_listening("udp", 9000);
    let srv = mapped(SERVER4);
    // B's ping teaches the box its neighbours (one session of B's).
    lab.client
        .ok(&format!("ping -6 -n -c 2 -i 0.2 -W 3 -I {b} {srv}"));

    let n = 300;
    let out = lab.client.ok_within(
        &format!("/usr/bin/python3 {} {srv} {n}", flood_py.display()),
        120,
    );
    assert_eq!(field(&out, "sent"), n, "{out}");
    let live = lab.nat.counters_fresh();
    live.assert_eq(
        "nat64_drops_total{reason=\"subscriber_session_limit\"}",
        (n - 50) as f64,
    );
    // A's own new flows: refused, each with ICMPv6 unreachable.
    let out = lab.client.ok_within(
        &format!("python3 {} {a} {srv} 9000 5 3", flows_py.display()),
        60,
    );
    assert_eq!(field(&out, "replied"), 0, "A: {out}");
    assert_eq!(field(&out, "errors"), 5, "A: {out}");
    // B's new flows all work, both ways.
    let out = lab.client.ok_within(
        &format!("python3 {} {b} {srv} 9000 20 5", flows_py.display()),
        60,
    );
    assert_eq!(field(&out, "replied"), 20, "B: {out}");
    assert_eq!(field(&out, "again"), 20, "B: {out}");

    let live = lab.nat.counters_fresh();
    live.assert_ge("nat64_sessions", 50.0 + 20.0 + 1.0);
    let c = lab.stop();
    c.assert_eq(
        "nat64_drops_total{reason=\"subscriber_session_limit\"}",
        (n - 50 + 5) as f64,
    );
    // A's 50 admitted flood datagrams, B's ping and flows went out.
    c.assert_ge(
        "nat64_translated_total{dir=\"6to4\"}",
        50.0 + 2.0 + 20.0 * 2.0,
    );
    assert_no_pipeline_drops(&c, &["subscriber_session_limit"]);
}

/// Waits for one datagram on `addr`:`port`, then sends to its sender's
/// transport address (T, t) five datagrams `right` from five new ports of
/// `addr`, two `wrong` from `other` (another IPv4 host) and two `nobib` to
/// (T, t + 1). Prints `mapped=T:t`.
const INBOUND_PY: &str = r#"import socket, sys, time
addr, port, other = sys.argv[1], int(sys.argv[2]), sys.argv[3]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((addr, port))
_, (t, tp) = s.recvfrom(2048)
print("mapped=%s:%d" % (t, tp), flush=True)
time.sleep(0.3)
def send(src, dst, what):
    x = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    x.bind((src, 0))
    x.sendto(what, dst)
    x.close()
    time.sleep(0.05)
for _ in range(5):
    send(addr, (t, tp), b"right")
for _ in range(2):
    send(other, (t, tp), b"wrong")
for _ in range(2):
    send(addr, (t, tp + 1), b"nobib")
"#;

/// Sends one datagram from `src` to `dst`:`port`, then counts what comes
/// back to its port for `secs` seconds, by payload. Prints `right=N
/// wrong=N nobib=N`.
const INBOUND_CLIENT_PY: &str = r#"import socket, sys, time, select
src, dst, port, secs = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.bind((src, 0))
s.sendto(b"hello", (dst, port))
got = {b"right": 0, b"wrong": 0, b"nobib": 0}
end = time.time() + secs
while time.time() < end:
    r, _, _ = select.select([s], [], [], max(0.0, end - time.time()))
    if r:
        data = s.recv(2048)
        got[data] = got.get(data, 0) + 1
print(" ".join("%s=%d" % (k.decode(), v) for k, v in got.items()))
"#;

/// Issue 15: with address-dependent filtering and
/// `max_inbound_sessions_per_mapping = 3`, nothing from the IPv4 side
/// reaches the inside host without a BIB entry (`no_bib`) or from a peer
/// it never sent to (`filtered`); from the right peer's new ports, three
/// sessions open and the rest are dropped (`inbound_session_limit`).
#[test]
fn the_ipv4_side_reaches_inside_only_through_a_mapping_from_the_right_peer() {
    let other = Ipv4Addr::new(198, 51, 100, 3);
    let Some(mut lab) = Lab::start(Setup {
        filtering: "address_dependent = true\nmax_inbound_sessions_per_mapping = 3\n".into(),
        ..Setup::default()
    }) else {
        return;
    };
    lab.server
        .ok(&format!("ip addr add {other}/24 dev {}", lab.server_if));
    let server_py = lab.file("inbound.py", INBOUND_PY.as_bytes());
    let client_py = lab.file("inbound_client.py", INBOUND_CLIENT_PY.as_bytes());
    let srv = lab.server_bg(
        "inbound",
        &format!("python3 -u {} {SERVER4} 9100 {other}", server_py.display()),
    );
    lab.server.wait_listening("udp", 9100);
    // The client's ping teaches the box its neighbours.
    lab.client
        .ok(&format!("ping -6 -n -c 2 -i 0.2 -W 3 {}", mapped(SERVER4)));
    let out = lab.client.ok_within(
        &format!(
            "python3 {} {CLIENT6} {} 9100 4",
            client_py.display(),
            mapped(SERVER4)
        ),
        30,
    );
    let log = lab.bg[srv].output();
    let t: Ipv4Addr = log
        .split_whitespace()
        .find_map(|w| w.strip_prefix("mapped="))
        .and_then(|m| m.split(':').next())
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("no mapping in the server's log: {log}"));
    assert!(in_pool(t), "server saw {t}");
    assert_eq!(field(&out, "right"), 3, "{out}");
    assert_eq!(field(&out, "wrong"), 0, "{out}");
    assert_eq!(field(&out, "nobib"), 0, "{out}");
    let c = lab.stop();
    c.assert_eq("nat64_drops_total{reason=\"filtered\"}", 2.0);
    c.assert_eq("nat64_drops_total{reason=\"no_bib\"}", 2.0);
    c.assert_eq("nat64_drops_total{reason=\"inbound_session_limit\"}", 2.0);
    assert_no_pipeline_drops(&c, &["filtered", "no_bib", "inbound_session_limit"]);
}

/// A TCP peer (`TCP_PEER_PY`) of the box's own kernel on `port` of its
/// inside and outside addresses, each bound to its exception TAP, so that
/// a concurrent run elsewhere on this host with the same addresses cannot
/// take the connection; returns once both listen.
fn kernel_tcp_peers(lab: &mut Lab, port: u16) {
    let peer_py = lab.file("tcp_peer.py", TCP_PEER_PY.as_bytes());
    let sides = [
        ("kernel6", IpAddr::V6(BOX6), 'i'),
        ("kernel4", IpAddr::V4(BOX4), 'o'),
    ];
    for (name, addr, side) in sides {
        let iface = lab.kernel_if(side);
        let cmd = format!("python3 -u {} {addr} {port} {iface}", peer_py.display());
        lab.host_bg(name, &cmd);
    }
    wait_listening_in(None, "tcp", port);
}

/// The exception path: TCP to the box's own inside and outside addresses
/// (not ping, which the dataplane answers) reaches an ordinary socket of the
/// box's kernel, on the exception TAP interfaces, and its answers leave
/// through the right port. The peers the kernel saw are the hosts' own,
/// untranslated addresses.
#[test]
fn the_box_kernel_serves_its_own_addresses_through_the_exception_taps() {
    // The port is listed on both sides (the defaults pass no TCP).
    let allow = "kernel_allow = [\"icmp\", \"tcp/8099\"]\n";
    let Some(mut lab) = Lab::start(Setup {
        inside: allow.into(),
        outside: allow.into(),
        ..Setup::default()
    }) else {
        return;
    };
    let connect_py = lab.file("tcp_connect.py", TCP_CONNECT_PY.as_bytes());
    const PORT: u16 = 8099;
    kernel_tcp_peers(&mut lab, PORT);

    let out = lab.client.ok(&format!(
        "python3 {} {CLIENT6} {BOX6} {PORT} inside",
        connect_py.display()
    ));
    assert!(
        out.starts_with(&format!("peer {CLIENT6} ")) && out.trim_end().ends_with("got inside"),
        "{out}"
    );
    let out = lab.server.ok(&format!(
        "python3 {} {SERVER4} {BOX4} {PORT} outside",
        connect_py.display()
    ));
    assert!(
        out.starts_with(&format!("peer {SERVER4} ")) && out.trim_end().ends_with("got outside"),
        "{out}"
    );

    let c = lab.stop();
    // SYN, ACK, data, FIN, ACK at least, each way, per side.
    for side in ["inside", "outside"] {
        c.assert_ge(
            &format!("nat64_exception_total{{port=\"{side}\",dir=\"to_kernel\"}}"),
            4.0,
        );
        c.assert_ge(
            &format!("nat64_exception_total{{port=\"{side}\",dir=\"from_kernel\"}}"),
            4.0,
        );
    }
    // Nothing of it went through the translator.
    c.assert_eq("nat64_translated_total", 0.0);
    c.assert_eq("nat64_drops_total{reason=\"kernel_unavailable\"}", 0.0);
    assert_no_pipeline_drops(&c, &[]);
}

/// Sends UDP datagrams from `src` to `dst`:`port` for `secs` seconds, ten
/// every 5 ms (under 2000 a second: faster, the lab's net_tap link loses
/// most of them before the box); prints `sent=N`.
const UDP_FLOOD_PY: &str = r#"
import socket, sys, time
src, dst, port, secs = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((src, 0))
end, n = time.time() + secs, 0
while time.time() < end:
    for _ in range(10):
        s.sendto(b"flood", (dst, port))
        n += 1
    time.sleep(0.005)
print("sent=%d" % n, flush=True)
"#;

/// Issue 15 item 4: the exception path passes only what
/// `outside.kernel_allow` lists (ICMP by default), and polices the rest of
/// what it may pass (`outside.kernel_pps`). A TCP service of the box's
/// kernel on the outside address is unreachable from the Internet (its
/// SYNs never reach the kernel: the connection times out rather than being
/// refused); a UDP flood at a closed port of the outside address is
/// dropped and counted before the kernel; a flood at one of the kernel's
/// ephemeral ports (where replies to its own connections arrive) is cut
/// to the configured rate; translation carries on throughout. The inside
/// default (ICMPv6 and the DNS64's ports: none here) keeps the same
/// service from the subscribers.
#[test]
fn exception_path_passes_only_what_is_allowed_and_polices_it() {
    const PPS: f64 = 100.0;
    let Some(mut lab) = Lab::start(Setup {
        outside: format!("kernel_pps = {PPS}\n"),
        ..Setup::default()
    }) else {
        return;
    };
    let srv = mapped(SERVER4);
    lab.client.ok(&format!("ping -6 -n -c 2 -i 0.2 -W 3 {srv}"));
    let flood_py = lab.file("udp_flood.py", UDP_FLOOD_PY.as_bytes());
    const SSH: u16 = 8022;
    kernel_tcp_peers(&mut lab, SSH);
    // Neither from the Internet nor from a subscriber.
    for (ns, addr) in [
        (&lab.server, BOX4.to_string()),
        (&lab.client, BOX6.to_string()),
    ] {
        let tcp = ns.run(
            &format!(
                "python3 -c \"import socket; socket.create_connection(('{addr}', {SSH}), timeout=2)\""
            ),
            10,
        );
        let tcp_out = format!("{}{}", tcp.stdout, tcp.stderr);
        assert!(tcp_out.contains("timed out"), "{addr}: {tcp_out}");
    }
    let c0 = lab.nat.counters_fresh();
    let not_allowed0 = c0.get("nat64_drops_total{reason=\"kernel_not_allowed\"}");
    assert!(
        not_allowed0 >= 1.0,
        "the SYNs were not counted\n{}",
        c0.dump()
    );

    // A closed port: nothing reaches the kernel, all counted; pings through
    // the translator go on meanwhile.
    let rx = "nat64_packets_total{port=\"outside\",dir=\"rx\"}";
    let rx0 = c0.get(rx);
    let bg = lab.server_bg(
        "flood_closed",
        &format!("python3 -u {} {SERVER4} {BOX4} 9 2", flood_py.display()),
    );
    lab.client.ok(&format!("ping -6 -n -c 3 -i 0.3 -W 2 {srv}"));
    lab.bg[bg].wait(10);
    let out = lab.bg[bg].output();
    let c1 = lab.nat.counters_fresh();
    let flooded = c1.get("nat64_drops_total{reason=\"kernel_not_allowed\"}") - not_allowed0;
    // What arrived, but for the pings' replies (and an ARP or two).
    let arrived = c1.get(rx) - rx0;
    assert!(
        flooded >= 100.0 && flooded >= arrived - 10.0,
        "{flooded} of {arrived} counted ({out})\n{}",
        c1.dump()
    );
    c1.assert_eq("nat64_drops_total{reason=\"kernel_policed\"}", 0.0);

    // One of the kernel's ephemeral ports: passed, at the policed rate.
    let to_kernel = "nat64_exception_total{port=\"outside\",dir=\"to_kernel\"}";
    let before = c1.get(to_kernel);
    let t0 = Instant::now();
    let out = lab.server.ok_within(
        &format!("python3 -u {} {SERVER4} {BOX4} 40000 2", flood_py.display()),
        20,
    );
    let secs = t0.elapsed().as_secs_f64();
    lab.client.ok(&format!("ping -6 -n -c 2 -i 0.2 -W 2 {srv}"));
    let c = lab.stop();
    let arrived = c.get(rx) - c1.get(rx);
    let passed = c.get(to_kernel) - before;
    let policed = c.get("nat64_drops_total{reason=\"kernel_policed\"}");
    // A tenth of a second's burst, then the rate (and the ping's ARP).
    let bound = PPS / 10.0 + PPS * (secs + 1.0);
    assert!(
        arrived > 2.0 * bound,
        "only {arrived} arrived in {secs} s ({out})"
    );
    assert!(passed <= bound, "{passed} in {secs} s\n{}", c.dump());
    assert!(passed >= PPS / 10.0, "{passed} passed\n{}", c.dump());
    assert!(
        policed >= arrived - passed - 10.0,
        "{policed} of {arrived}\n{}",
        c.dump()
    );
    assert_no_pipeline_drops(&c, &[]);
}

/// A lab where each subscriber gets one block of 64 ports, with the extra
/// `[translation]` lines given: the IPv4 server runs a UDP echo on port
/// 9000, the client namespace has `subs` and `udp_flows.py` (its path is
/// returned), and a ping from `warm` has taught the box both neighbours, so
/// no datagram of a later burst waits on ARP/ND.
fn block_cap_lab(
    subs: Vec<Ipv6Addr>,
    warm: Ipv6Addr,
    translation: &str,
) -> Option<(Lab, std::path::PathBuf)> {
    let mut lab = Lab::start(Setup {
        pool4: "block_size = 64\nmax_blocks_per_subscriber = 1\n".into(),
        translation: translation.into(),
        client_addrs: subs,
        ..Setup::default()
    })?;
    let echo_py = lab.file("udp_echo.py", UDP_ECHO_PY.as_bytes());
    let flows_py = lab.file("udp_flows.py", UDP_FLOWS_PY.as_bytes());
    lab.server_bg(
        "echo",
        &format!("python3 -u {} {SERVER4} 9000", echo_py.display()),
    );
    lab.server.wait_listening("udp", 9000);
    lab.client.ok(&format!(
        "ping -6 -n -c 2 -i 0.2 -W 3 -I {warm} {}",
        mapped(SERVER4)
    ));
    Some((lab, flows_py))
}

/// RFC 4443 §2.4 (f): with `icmp_errors_per_second = 5` (a burst of 5), a
/// subscriber that opens 36 flows over its block cap at once gets only the
/// first few ICMPv6 errors; the box counts the rest as `icmp_rate_limited`,
/// and every error it built was either sent or counted.
#[test]
fn icmp_errors_the_box_originates_are_rate_limited() {
    let a: Ipv6Addr = "2001:db8:1:100::a".parse().unwrap();
    let Some((mut lab, flows_py)) = block_cap_lab(vec![a], a, "icmp_errors_per_second = 5\n")
    else {
        return;
    };
    let srv = mapped(SERVER4);

    let out = lab.client.ok_within(
        &format!("python3 {} {a} {srv} 9000 100 3", flows_py.display()),
        60,
    );
    let c = lab.stop();
    let errors = field(&out, "errors");
    assert_eq!(field(&out, "replied"), 64, "{out}\n{}", c.dump());
    assert!(
        (1..=10).contains(&errors),
        "{errors} ICMPv6 errors got through a limit of 5 a second: {out}\n{}",
        c.dump()
    );
    let limited = c.get("nat64_drops_total{reason=\"icmp_rate_limited\"}");
    assert_eq!(limited + errors as f64, 36.0, "{out}\n{}", c.dump());
    c.assert_eq("nat64_drops_total{reason=\"subscriber_limit\"}", 36.0);
}

/// Sends UDP datagrams from `src` to random ports of the pool's addresses
/// for `secs` seconds, as fast as it can; prints `sent N`.
const UDP_SPRAY_PY: &str = r#"
import random, socket, sys, time
src, secs = sys.argv[1], float(sys.argv[2])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((src, 0))
end, n = time.time() + secs, 0
while time.time() < end:
    try:
        s.sendto(b"spray", ("203.0.113.%d" % random.randint(1, 14), random.randint(1024, 65535)))
        n += 1
    except OSError:
        time.sleep(0.001)
print("sent", n, flush=True)
"#;

/// Issue 15, RFC 4443 §2.4 (f) with RFC 8201: UDP sprayed from the IPv4
/// side at closed pool ports draws host unreachables until their budget
/// (`icmp_errors_per_second = 5`) is spent, yet a subscriber's oversize
/// DF packet (outside MTU 1400) still gets its Packet Too Big: path MTU
/// discovery has a budget of its own. With one bucket for every error
/// (before), the PTB was counted as `icmp_rate_limited` and never sent.
#[test]
fn udp_spray_at_closed_pool_ports_does_not_starve_packet_too_big() {
    let Some(mut lab) = Lab::start(Setup {
        translation: "icmp_errors_per_second = 5\n".into(),
        outside_mtu: 1400,
        ..Setup::default()
    }) else {
        return;
    };
    let srv = mapped(SERVER4);
    // Both neighbours learned first: nothing below waits on ARP / ND.
    lab.client.ok(&format!("ping -6 -n -c 2 -i 0.2 -W 3 {srv}"));
    let spray_py = lab.file("udp_spray.py", UDP_SPRAY_PY.as_bytes());
    lab.server_bg(
        "spray",
        &format!("python3 -u {} {SERVER4} 4", spray_py.display()),
    );
    // The spray empties the unreachables' bucket within a second, and
    // keeps it empty (5 tokens a second against thousands of datagrams).
    std::thread::sleep(Duration::from_millis(1500));
    let ping = lab.client.run(
        &format!("ping -6 -n -c 3 -i 0.3 -W 1 -s 1400 -M do {srv}"),
        20,
    );
    let out = format!("{}{}", ping.stdout, ping.stderr);
    std::thread::sleep(Duration::from_millis(3000));
    let c = lab.stop();
    // RFC 7915 §5.1: the MTU in the PTB is the IPv4 one plus 20.
    assert!(
        out.contains("Packet too big") && out.contains("mtu=1420"),
        "no Packet Too Big reached the subscriber:\n{out}\n{}",
        c.dump()
    );
    c.assert_ge("nat64_drops_total{reason=\"icmp_rate_limited\"}", 100.0);
    c.assert_ge("nat64_drops_total{reason=\"no_bib\"}", 100.0);
    c.assert_eq("nat64_drops_total{reason=\"icmp_pmtu_rate_limited\"}", 0.0);
}

/// Sends, for `secs` seconds, IPv6 UDP packets with hop limit 1 toward
/// `dst` from random sources of the inside link (scapy, raw frames to the
/// box's MAC): each draws an ICMPv6 Time Exceeded to a new, never
/// answering on-link address. Prints `sent N`.
const ND_FLOOD_PY: &str = r#"
import random, sys, time
from scapy.all import Ether, IPv6, UDP, conf, sendp
iface, box_mac, dst, secs = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
conf.verb = 0
s = conf.L2socket(iface=iface)
end, n = time.time() + secs, 0
while time.time() < end:
    for _ in range(200):
        src = "2001:db8:1::%x:%x" % (random.randint(0x100, 0xffff), random.randint(1, 0xffff))
        s.send(Ether(dst=box_mac) / IPv6(src=src, dst=dst, hlim=1) / UDP(sport=1000, dport=9))
        n += 1
print("sent", n, flush=True)
"#;

/// Issue 15: Time Exceeded errors to thousands of spoofed on-link sources
/// (each a neighbour never answering) used to fill the worker's 1024
/// neighbour entries with unresolved ones, evict the gateway and blackhole
/// what goes back to the subscribers. Now the unresolved entries have a
/// small share and an admission rate, and the gateway is pinned: the
/// subscriber's pings keep coming back during the flood.
#[test]
fn spoofed_neighbour_flood_keeps_the_gateway_and_4to6_flowing() {
    require_tools(&["/usr/bin/python3"]);
    let Some(mut lab) = Lab::start(Setup::default()) else {
        return;
    };
    let srv = mapped(SERVER4);
    lab.client.ok(&format!("ping -6 -n -c 2 -i 0.2 -W 3 {srv}"));
    let box_mac = lab.client.ok(&format!(
        "ip -6 neigh show {BOX6} dev {} | awk '{{print $3}}'",
        lab.client_if
    ));
    let flood_py = lab.file("nd_flood.py", ND_FLOOD_PY.as_bytes());
    lab.client_bg(
        "flood",
        &format!(
            "/usr/bin/python3 -u {} {} {} {srv} 8",
            flood_py.display(),
            lab.client_if,
            box_mac.trim()
        ),
    );
    // Two seconds in, the cache would be full of unresolved entries.
    std::thread::sleep(Duration::from_secs(2));
    let ping = lab
        .client
        .run(&format!("ping -6 -n -c 20 -i 0.2 -W 1 {srv}"), 30);
    let received = ping
        .stdout
        .lines()
        .find_map(|l| {
            l.split(", ")
                .find_map(|f| f.strip_suffix(" received")?.parse::<u64>().ok())
        })
        .unwrap_or(0);
    std::thread::sleep(Duration::from_secs(3));
    let c = lab.stop();
    assert!(
        received >= 18,
        "{received} of 20 echo replies during the flood:\n{}\n{}",
        ping.stdout,
        c.dump()
    );
    c.assert_ge("nat64_replies_total", 1000.0);
    c.assert_ge("nat64_neigh_total{family=\"ipv6\",event=\"solicit\"}", 10.0);
    let refused = c.get("nat64_neigh_total{family=\"ipv6\",event=\"unresolved_full_drop\"}")
        + c.get("nat64_neigh_total{family=\"ipv6\",event=\"rate_limited_drop\"}");
    assert!(
        refused > 0.0,
        "the flood was never held back:\n{}",
        c.dump()
    );
    c.assert_eq("nat64_neigh_total{family=\"ipv6\",event=\"evicted\"}", 0.0);
}

// ---------------------------------------------------------------------------
// DNS64: the subscriber asks the box for a name

/// The DNS64 listen address on the inside link (not `inside.address`: the
/// box adds it to its inside TAP and answers NS for it).
const DNS64_ADDR: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 0x53);
/// nsd's port in the server namespace (the box's `dns64.upstream`).
const NSD_PORT: u16 = 5300;

/// The zones nsd serves from the IPv4 server namespace: `www.e2e.example.`
/// has only an A record, the server's own address, and the server's
/// address has a PTR back to it.
const E2E_ZONE: &str = "$ORIGIN e2e.example.
$TTL 300
@    60 IN SOA ns.e2e.example. hostmaster.e2e.example. 1 3600 600 86400 30
@       NS  ns
ns      A   198.51.100.2
www     A   198.51.100.2
";
const E2E_REVERSE: &str = "$ORIGIN 100.51.198.in-addr.arpa.
$TTL 300
@    60 IN SOA ns.e2e.example. hostmaster.e2e.example. 1 3600 600 86400 30
@       NS  ns.e2e.example.
2       PTR www.e2e.example.
";

/// `/etc/netns/<ns>/resolv.conf`, which `ip netns exec` bind-mounts over
/// `/etc/resolv.conf`: the client namespace's resolver is the box.
/// Removed on drop.
struct NetnsResolver(std::path::PathBuf);

impl NetnsResolver {
    fn new(ns: &str, server: Ipv6Addr) -> NetnsResolver {
        let dir = std::path::PathBuf::from(format!("/etc/netns/{ns}"));
        std::fs::create_dir_all(&dir).expect("/etc/netns/<ns>");
        std::fs::write(
            dir.join("resolv.conf"),
            format!("nameserver {server}\noptions timeout:2 attempts:2\n"),
        )
        .expect("resolv.conf");
        NetnsResolver(dir)
    }
}

impl Drop for NetnsResolver {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
        // /etc/netns itself, when this left it empty.
        let _ = std::fs::remove_dir("/etc/netns");
    }
}

/// One answer line of `dig +noall +answer`: (name, TTL, type, data).
fn dig_answers(out: &str) -> Vec<(String, u32, String, String)> {
    out.lines()
        .filter(|l| !l.starts_with(';') && !l.trim().is_empty())
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() >= 5 && f[2] == "IN").then(|| {
                (
                    f[0].to_string(),
                    f[1].parse().expect("TTL"),
                    f[3].to_string(),
                    f[4..].join(" "),
                )
            })
        })
        .collect()
}

/// The whole story by name: from the IPv6-only client, `dig AAAA` of an
/// A-only name at the box's DNS64 (an address of its own on the inside
/// link, reached through the inside exception TAP) over UDP and TCP gets
/// the synthesized address; `dig -x` of it gets the CNAME into
/// in-addr.arpa and the server's PTR; and curl by name, with the client's
/// resolver pointing at the box, downloads from the IPv4-only server
/// through the NAT64. The upstream is nsd in the IPv4 server namespace:
/// the box's kernel reaches it through the outside exception TAP. The
/// answers are checked with dig (an independent parser), the DNS64's and
/// the translation's counters in the counters file.
#[test]
fn dns64_by_name() {
    let Some(mut lab) = Lab::start(Setup {
        dns64: format!(
            "enabled = true\nlisten = [\"[{DNS64_ADDR}]:53\"]\n\
             upstream = [\"{SERVER4}:{NSD_PORT}\"]\ntimeout_ms = 1000\n"
        ),
        ..Setup::default()
    }) else {
        return;
    };
    require_tools(&["dig", "getent", "nsd", "promtool"]);
    let log = lab.nat.log();
    assert!(
        log.contains(&format!("dns64: listening on [{DNS64_ADDR}]:53")),
        "{log}"
    );
    // The listen address is on the box's inside TAP.
    let addrs = host_ok(&format!("ip -6 addr show dev {}", lab.kernel_if('i')));
    assert!(addrs.contains(&format!("{DNS64_ADDR}/64")), "{addrs}");

    // nsd in the IPv4 server namespace.
    let nsd_dir = lab.dir.join("nsd");
    std::fs::create_dir_all(&nsd_dir).unwrap();
    std::fs::write(nsd_dir.join("e2e.example.zone"), E2E_ZONE).unwrap();
    std::fs::write(nsd_dir.join("reverse.zone"), E2E_REVERSE).unwrap();
    let d = nsd_dir.display();
    std::fs::write(
        nsd_dir.join("nsd.conf"),
        format!(
            "server:\n    ip-address: {SERVER4}\n    port: {NSD_PORT}\n    do-ip6: no\n    \
             server-count: 1\n    username: \"\"\n    chroot: \"\"\n    database: \"\"\n    \
             zonesdir: \"{d}\"\n    zonelistfile: \"{d}/zone.list\"\n    pidfile: \"{d}/nsd.pid\"\n    \
             xfrdfile: \"{d}/xfrd.state\"\n    xfrdir: \"{d}\"\n    logfile: \"{d}/nsd.log\"\n\
             remote-control:\n    control-enable: no\n\
             zone:\n    name: \"e2e.example.\"\n    zonefile: \"e2e.example.zone\"\n\
             zone:\n    name: \"100.51.198.in-addr.arpa.\"\n    zonefile: \"reverse.zone\"\n"
        ),
    )
    .unwrap();
    let nsd = lab.server_bg("nsd", &format!("nsd -d -c {d}/nsd.conf"));
    let ready = lab.server.run(
        &format!(
            "for i in $(seq 50); do dig +short +time=1 +tries=1 -p {NSD_PORT} @{SERVER4} \
             SOA e2e.example | grep -q hostmaster && exit 0; sleep 0.2; done; exit 1"
        ),
        30,
    );
    assert!(
        ready.ok,
        "nsd does not answer: {}\n{}\n{}",
        ready.stdout,
        lab.bg[nsd].output(),
        std::fs::read_to_string(nsd_dir.join("nsd.log")).unwrap_or_default()
    );

    // And from the box's own kernel, the DNS64's side, through the
    // outside exception TAP: its first exchange also resolves the
    // server's MAC, which on a loaded machine can outlast the DNS64's
    // 1 s upstream timeout.
    let via_box = host(
        &format!(
            "for i in $(seq 50); do dig +short +time=1 +tries=1 -p {NSD_PORT} @{SERVER4} \
             SOA e2e.example | grep -q hostmaster && exit 0; sleep 0.2; done; exit 1"
        ),
        30,
    );
    assert!(
        via_box.ok,
        "nsd does not answer the box: {}",
        via_box.stdout
    );

    let http = lab.http_server_v4();
    let src = lab.file("www/file.bin", &pseudo_random(1 << 20, 64));
    let synth = mapped(SERVER4);

    // dig AAAA over UDP and TCP: the synthesized address, TTL
    // min(A 300, SOA 60, MINIMUM 30) = 30 (RFC 6147 §5.1.7), counted down
    // by the cache at most a few seconds.
    for tcp in ["+notcp", "+tcp"] {
        let out = lab.client.ok(&format!(
            "dig -6 {tcp} +time=3 +tries=2 +noall +answer +comments AAAA www.e2e.example @{DNS64_ADDR}"
        ));
        assert!(out.contains("status: NOERROR"), "{tcp}: {out}");
        assert!(
            !out.contains(" ad;") && !out.contains(" ad "),
            "{tcp}: AD set: {out}"
        );
        let ans = dig_answers(&out);
        assert_eq!(ans.len(), 1, "{tcp}: {out}");
        let (name, ttl, ty, data) = &ans[0];
        assert_eq!((name.as_str(), ty.as_str()), ("www.e2e.example.", "AAAA"));
        assert_eq!(data.parse::<Ipv6Addr>().unwrap(), synth, "{tcp}: {out}");
        assert!((25..=30).contains(ttl), "{tcp}: TTL {ttl}: {out}");
    }

    // dig -x: the CNAME to the in-addr.arpa name and the server's PTR
    // (RFC 6147 §5.3.1).
    let out = lab.client.ok(&format!(
        "dig -6 +time=3 +tries=2 +noall +answer +comments -x {synth} @{DNS64_ADDR}"
    ));
    assert!(out.contains("status: NOERROR"), "{out}");
    let ans = dig_answers(&out);
    assert_eq!(ans.len(), 2, "{out}");
    assert_eq!(ans[0].2, "CNAME", "{out}");
    assert_eq!(ans[0].3, "2.100.51.198.in-addr.arpa.", "{out}");
    assert!(ans[0].1 > 0, "the CNAME's TTL is a real one: {out}");
    assert_eq!(
        (ans[1].0.as_str(), ans[1].2.as_str(), ans[1].3.as_str()),
        ("2.100.51.198.in-addr.arpa.", "PTR", "www.e2e.example."),
        "{out}"
    );

    // The client's own resolver (glibc) pointed at the box: getent, then
    // curl by name through the NAT64.
    let _resolver = NetnsResolver::new(&lab.client.name, DNS64_ADDR);
    let out = lab.client.ok("getent ahostsv6 www.e2e.example");
    assert!(
        out.lines()
            .any(|l| l.split_whitespace().next() == Some(&synth.to_string())),
        "getent: {out}"
    );
    let dst = lab.dir.join("file.down");
    lab.client.ok_within(
        &format!(
            "curl -6 -sS --fail --max-time 60 -o {} http://www.e2e.example/file.bin",
            dst.display()
        ),
        70,
    );
    assert_eq!(Lab::sha256(&dst), Lab::sha256(&src), "download differs");
    let clients = http_clients(&lab.bg[http].output(), "/file.bin");
    assert_eq!(clients.len(), 1, "{}", lab.bg[http].output());
    let a: Ipv4Addr = clients[0].parse().expect("IPv4 client address");
    assert!(in_pool(a), "the server saw {a}, not a pool address");
    // The DNS64's families (its latency histogram among them) pass
    // Prometheus' own linter too.
    promtool_check(&lab.nat);

    let c = lab.stop();
    c.assert_ge("nat64_translated_total{dir=\"6to4\"}", 10.0);
    assert_no_pipeline_drops(&c, &[]);
    let log = lab.nat.log();
    assert!(log.contains("dns64: stopping"), "{log}");
    // The DNS64's counters, in the counters file the box wrote at exit:
    // dig's AAAA over UDP and TCP, dig -x, getent's and curl's lookups.
    c.assert_ge("nat64_dns64_queries_total{transport=\"udp\"}", 4.0);
    c.assert_ge("nat64_dns64_queries_total{transport=\"tcp\"}", 1.0);
    // The AAAA (once; then from the cache) and the PTR (§5.3.1).
    c.assert_ge("nat64_dns64_answers_total{kind=\"synthesized\"}", 2.0);
    c.assert_ge("nat64_dns64_cache_total{result=\"hit\"}", 2.0);
    c.assert_eq("nat64_dns64_rejected_total{reason=\"refused\"}", 0.0);
    c.assert_eq("nat64_dns64_rejected_total{reason=\"rate_limited\"}", 0.0);
    c.assert_eq("nat64_dns64_upstream_total{result=\"timeouts\"}", 0.0);
    let answered = c.get("nat64_dns64_upstream_total{result=\"answered\"}");
    assert!(answered >= 3.0, "{}", c.dump());
    c.assert_eq(
        "nat64_dns64_upstream_latency_seconds_bucket{le=\"+Inf\"}",
        answered,
    );
    c.assert_eq("nat64_dns64_upstream_latency_seconds_count", answered);
    let sum = c.get("nat64_dns64_upstream_latency_seconds_sum");
    assert!(sum > 0.0 && sum < answered * 5.0, "latency sum {sum} s");
}

// ---- reload on SIGHUP ----

/// A SIGHUP that shortens the UDP timeout while an iperf3 UDP flow runs:
/// the flow keeps its session (no session is created for it again) and
/// its throughput, and once the flow is idle its session expires on the
/// new timeout, long before the old one.
#[test]
fn reload_udp_timeout_keeps_a_running_flow_and_then_applies() {
    let setup = Setup {
        timeouts: "udp = 300".into(),
        ..Setup::default()
    };
    let Some(mut lab) = Lab::start(setup.clone()) else {
        return;
    };
    require_tools(&["iperf3"]);
    lab.server_bg("iperf3", &format!("iperf3 -s -B {SERVER4} -p 5201"));
    lab.server.wait_listening("tcp", 5201);
    let srv = mapped(SERVER4);
    let json = lab.dir.join("iperf3-udp.json");
    let flow = lab.client_bg(
        "iperf3-udp",
        &format!(
            "iperf3 -c {srv} -p 5201 -t 6 -u -b 2M -l 1200 -J --connect-timeout 5000 > {}",
            json.display()
        ),
    );
    // Halfway through the flow: its sessions are made.
    std::thread::sleep(Duration::from_secs(3));
    let before = lab.nat.counters();
    let created = before.get("nat64_sessions_created_total");
    assert!(created >= 2.0, "{}", before.dump());
    let line = lab.reload(&Setup {
        timeouts: "udp = 3".into(),
        ..setup
    });
    assert!(line.contains("applied timeouts.udp"), "{line}");
    assert_eq!(lab.bg[flow].wait(30), Some(0), "{}", lab.bg[flow].output());
    let (bytes, lost) = iperf3_result(&lab, &std::fs::read_to_string(&json).unwrap());
    eprintln!("iperf3 udp across the reload: {bytes} bytes received, {lost}% lost");
    // 2 Mbit/s for 6 s is 1.5 MB.
    assert!(bytes >= 1.2e6, "only {bytes} bytes");
    assert!(lost <= 10.0, "{lost}% lost");
    let after = lab.nat.counters_fresh();
    assert_eq!(
        after.get("nat64_sessions_created_total"),
        created,
        "a session was made again; counters:\n{}",
        after.dump()
    );
    // Idle now: the UDP session goes within the new 3 s (the old timeout
    // was 300 s); the iperf3 control connection (TCP) stays.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let c = lab.nat.counters_fresh();
        if c.get("nat64_sessions_expired_total") >= 1.0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no session expired within 10 s of the flow's end; counters:\n{}",
            c.dump()
        );
    }
    let c = lab.stop();
    assert_no_pipeline_drops(&c, &[]);
}

/// A SIGHUP whose file changes the pool is refused as a whole, with one
/// line naming the key; the running configuration stays (traffic goes on,
/// and a later live change applies on top of it).
#[test]
fn reload_changing_the_pool_is_refused_and_traffic_continues() {
    let Some(lab) = Lab::start(Setup::default()) else {
        return;
    };
    let srv = mapped(SERVER4);
    lab.client.ok(&format!("ping -c 2 -i 0.2 -W 2 {srv}"));
    let line = lab.reload(&Setup {
        pool4: "block_size = 256".into(),
        timeouts: "udp = 60".into(),
        ..Setup::default()
    });
    assert!(
        line.contains("reload refused: pool4.block_size cannot change without a restart"),
        "{line}"
    );
    lab.client.ok(&format!("ping -c 2 -i 0.2 -W 2 {srv}"));
    // A file that fails to validate: nothing changes, the key is named.
    let line = lab.reload(&Setup {
        timeouts: "udp = 0".into(),
        ..Setup::default()
    });
    assert!(
        line.contains("timeouts.udp: must be greater than 0"),
        "{line}"
    );
    // The same file as at start: no change.
    let line = lab.reload(&Setup::default());
    assert!(line.contains("no change"), "{line}");
    lab.client.ok(&format!("ping -c 2 -i 0.2 -W 2 {srv}"));
    let mut lab = lab;
    let c = lab.stop();
    c.assert_ge("nat64_translated_total{dir=\"6to4\"}", 6.0);
    c.assert_ge("nat64_translated_total{dir=\"4to6\"}", 6.0);
    assert_no_pipeline_drops(&c, &[]);
}

/// A SIGHUP that adds a static BIB entry opens the port forward from the
/// IPv4 side (as `static_bib_port_forward_from_the_ipv4_side` configured
/// at start-up). Removed again, the entry becomes an ordinary mapping that
/// lives as long as its sessions (a closed connection's, 2 s of
/// tcp_transitory here); after that the port is closed.
#[test]
fn reload_adding_a_static_bib_entry_opens_the_port_forward() {
    let base = Setup {
        timeouts: "tcp_transitory = 2".into(),
        ..Setup::default()
    };
    let Some(mut lab) = Lab::start(base.clone()) else {
        return;
    };
    let www = lab.dir.join("www6");
    std::fs::create_dir_all(&www).unwrap();
    std::fs::write(www.join("forward.txt"), "forwarded after a reload\n").unwrap();
    let http = lab.client_bg(
        "http6",
        &format!(
            "python3 -u -m http.server --bind {CLIENT6} --directory {} 8080",
            www.display()
        ),
    );
    lab.client.wait_listening("tcp", 8080);
    let get = format!("curl -sS --fail --max-time 5 http://{STATIC4}:8080/forward.txt");
    let r = lab.server.run(&get, 20);
    assert!(!r.ok, "reachable before the reload: {}", r.stdout);
    let with = Setup {
        static_bib: vec![(
            "tcp",
            format!("[{CLIENT6}]:8080"),
            format!("{STATIC4}:8080"),
        )],
        ..base.clone()
    };
    let line = lab.reload(&with);
    assert!(line.contains("applied static_bib"), "{line}");
    let body = lab.server.ok(&get);
    assert_eq!(body, "forwarded after a reload\n");
    let seen = http_clients(&lab.bg[http].output(), "/forward.txt");
    assert_eq!(seen, vec![mapped(SERVER4).to_string()]);
    let live = lab.nat.counters_fresh();
    live.assert_ge("nat64_bib_entries", 1.0);
    // Removed: once the closed connection's session expired, a new
    // connection from the IPv4 side finds no mapping.
    let line = lab.reload(&base);
    assert!(line.contains("applied static_bib"), "{line}");
    let deadline = Instant::now() + Duration::from_secs(15);
    while lab.nat.counters_fresh().get("nat64_bib_entries") > 0.0 {
        assert!(
            Instant::now() < deadline,
            "the removed entry is still there after 15 s"
        );
    }
    let r = lab.server.run(&get, 20);
    assert!(!r.ok, "reachable after the removal: {}", r.stdout);
    let c = lab.stop();
    c.assert_ge("nat64_translated_total{dir=\"4to6\"}", 3.0);
    c.assert_ge("nat64_translated_total{dir=\"6to4\"}", 3.0);
}

/// logrotate: the event log is moved away and SIGHUP sent (with the
/// configuration unchanged); the block's allocation stays in the moved
/// file and its release, after the ping's session expired, starts a new
/// file at the configured path.
#[test]
fn reload_reopens_the_event_log_for_logrotate() {
    let setup = Setup {
        timeouts: "icmp = 2".into(),
        ..Setup::default()
    };
    let Some(mut lab) = Lab::start(setup.clone()) else {
        return;
    };
    let events = lab.dir.join("events.log");
    let rotated = lab.dir.join("events.log.1");
    lab.client
        .ok(&format!("ping -c 1 -W 2 {}", mapped(SERVER4)));
    let wait_for = |path: &std::path::Path, what: &str| {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let text = std::fs::read_to_string(path).unwrap_or_default();
            if text.contains(what) {
                return text;
            }
            assert!(
                Instant::now() < deadline,
                "no {what:?} in {} within 15 s:\n{text}",
                path.display()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    wait_for(&events, " allocated ");
    std::fs::rename(&events, &rotated).unwrap();
    let line = lab.reload(&setup);
    assert!(line.contains("no change"), "{line}");
    // The session expires after 2 s; its block is released.
    let new = wait_for(&events, " released ");
    let old = std::fs::read_to_string(&rotated).unwrap();
    assert!(
        old.contains(" allocated ") && !old.contains(" released "),
        "{old}"
    );
    assert!(!new.contains(" allocated "), "{new}");
    lab.stop();
}

/// RFC 6888 REQ-12 through RFC 5424 over UDP (RFC 5426): a real rsyslogd
/// (Debian's) on loopback receives the block the subscriber's first
/// packet takes, and parses it: facility local0, severity informational,
/// app-name, MSGID and the structured data carry the event, the
/// subscriber's prefix, the pool address and the ports; no destination
/// address anywhere.
#[test]
fn block_events_reach_a_real_syslog_receiver() {
    if let Err(why) = can_run() {
        eprintln!("skipped: {why}");
        return;
    }
    require_tools(&["rsyslogd"]);
    let dir = TempDir::new(&format!("rs{}", unique()));
    let port = std::net::UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .unwrap()
        .port();
    let out = dir.join("received.log");
    // One field per RFC 5424 part, as rsyslog parsed it, '|' apart.
    std::fs::write(
        dir.join("rsyslog.conf"),
        format!(
            "global(workDirectory=\"{dir}\")\n\
             module(load=\"imudp\")\n\
             input(type=\"imudp\" address=\"127.0.0.1\" port=\"{port}\")\n\
             template(name=\"fields\" type=\"string\" string=\"%timereported:::date-rfc3339%|\
             %app-name%|%procid%|%msgid%|%pri-text%|%structured-data%|%msg%\\n\")\n\
             action(type=\"omfile\" file=\"{out}\" template=\"fields\")\n",
            dir = dir.0.display(),
            out = out.display(),
        ),
    )
    .unwrap();
    let mut rsyslog = spawn_in(
        None,
        &dir,
        "rsyslogd",
        &format!(
            "rsyslogd -n -f {0}/rsyslog.conf -i {0}/rsyslog.pid",
            dir.0.display()
        ),
    );
    wait_listening_in(None, "udp", port);
    let Some(lab) = Lab::start(Setup {
        events: Some(format!("syslog+udp://127.0.0.1:{port}")),
        ..Setup::default()
    }) else {
        return;
    };
    let before = std::time::SystemTime::now();
    let srv = mapped(SERVER4);
    let ping = lab.client.ok(&format!("ping -6 -n -c 2 -i 0.2 -W 3 {srv}"));
    assert!(ping.contains("2 received"), "{ping}");
    let deadline = Instant::now() + Duration::from_secs(10);
    let received = loop {
        let text = std::fs::read_to_string(&out).unwrap_or_default();
        if text.contains("NAT64-BLOCK") || Instant::now() > deadline {
            break text;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(rsyslog.running(), "rsyslogd ended: {}", rsyslog.output());
    let line = received
        .lines()
        .find(|l| l.contains("event=\"allocated\""))
        .unwrap_or_else(|| panic!("no allocation received by rsyslogd:\n{received}"));
    let f: Vec<&str> = line.splitn(7, '|').collect();
    assert_eq!(f.len(), 7, "{line}");
    let (ts, app, pid, msgid, pri, sd) = (f[0], f[1], f[2], f[3], f[4], f[5]);
    assert_eq!(app, "nat64-dpdk", "{line}");
    assert!(pid.parse::<u32>().is_ok(), "{line}");
    assert_eq!(msgid, "NAT64-BLOCK", "{line}");
    assert_eq!(pri, "local0.info", "{line}");
    // The timestamp (RFC 3339, UTC, milliseconds) is this run's.
    let started = before
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let date = Command::new("date")
        .args(["-u", "-d", ts, "+%s"])
        .output()
        .expect("date");
    let secs: u64 = String::from_utf8_lossy(&date.stdout)
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("rsyslog's timestamp {ts:?} does not parse"));
    assert!(
        secs + 2 >= started && secs <= started + 30,
        "{ts} vs {started}"
    );
    assert!(sd.starts_with("[nat64@32473 "), "{line}");
    assert!(sd.contains("subscriber=\"2001:db8:1::/56\""), "{line}");
    let addr = sd
        .split("address=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .and_then(|a| a.parse::<Ipv4Addr>().ok())
        .unwrap_or_else(|| panic!("no address in {line}"));
    assert!(in_pool(addr), "{addr} is not a pool address");
    let ports = sd
        .split("ports=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap_or_else(|| panic!("no ports in {line}"));
    let (a, b) = ports.split_once('-').expect("ports=FIRST-LAST");
    let (a, b): (u16, u16) = (a.parse().unwrap(), b.parse().unwrap());
    assert!(a < b, "{ports}");
    assert!(
        !received.contains(&SERVER4.to_string()),
        "a destination address reached the log:\n{received}"
    );
}

/// The Grafana dashboard shipped in `config/grafana-dashboard.json` asks
/// only for what the real binary exports: every metric its queries name
/// has a `# TYPE` line in the metrics text (histogram series through their
/// family), every label they group by or match on exists on that metric
/// (with the value matched), and `promtool check rules` parses every query
/// (Grafana's variables replaced by values).
#[test]
fn grafana_dashboard_queries_exist_in_the_metrics() {
    let Some(lab) = Lab::start(Setup {
        dns64: format!(
            "enabled = true\nlisten = [\"[{DNS64_ADDR}]:53\"]\n\
             upstream = [\"{SERVER4}:{NSD_PORT}\"]\ntimeout_ms = 1000\n"
        ),
        ..Setup::default()
    }) else {
        return;
    };
    require_tools(&["promtool"]);
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/grafana-dashboard.json");
    let dash: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).expect("dashboard JSON");
    fn exprs(v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(m) => {
                if let Some(serde_json::Value::String(e)) = m.get("expr") {
                    out.push(e.clone());
                }
                m.values().for_each(|x| exprs(x, out));
            }
            serde_json::Value::Array(a) => a.iter().for_each(|x| exprs(x, out)),
            _ => {}
        }
    }
    let mut queries = Vec::new();
    exprs(&dash["panels"], &mut queries);
    assert!(queries.len() >= 20, "{queries:?}");
    let _ = lab.nat.counters();
    let text = std::fs::read_to_string(&lab.nat.counters_path).unwrap();
    let typed = |m: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("# TYPE {m} ")).map(str::to_string))
    };
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    let mut bad = Vec::new();
    for q in &queries {
        // The metric families it names.
        let mut families = Vec::new();
        for (i, _) in q.match_indices("nat64_") {
            let name = ident(&q[i..]);
            let family = if typed(&name).is_some() {
                name.clone()
            } else {
                ["_bucket", "_sum", "_count"]
                    .iter()
                    .filter_map(|s| name.strip_suffix(s))
                    .find(|b| typed(b).as_deref() == Some("histogram"))
                    .map(str::to_string)
                    .unwrap_or_default()
            };
            if family.is_empty() {
                bad.push(format!("{name} (in {q}) is not in the metrics"));
            } else {
                families.push(family);
            }
        }
        let samples: Vec<&str> = text
            .lines()
            .filter(|l| !l.starts_with('#') && families.iter().any(|f| l.starts_with(f.as_str())))
            .collect();
        // Labels grouped by, and label="value" matchers.
        let mut wanted = Vec::new();
        for (i, _) in q.match_indices("by (") {
            let list = &q[i + 4..i + 4 + q[i + 4..].find(')').unwrap()];
            wanted.extend(list.split(',').map(|l| format!("{}=\"", l.trim())));
        }
        for (i, _) in q.match_indices("=\"") {
            let name_start = q[..i]
                .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .map_or(0, |p| p + 1);
            let label = &q[name_start..i];
            if label != "instance" && !q[..i].ends_with('~') {
                let value = &q[i + 2..i + 2 + q[i + 2..].find('"').unwrap()];
                wanted.push(format!("{label}=\"{value}\""));
            }
        }
        for w in wanted {
            if w != "le=\"" && !samples.iter().any(|s| s.contains(&w)) {
                bad.push(format!("{w} on none of {families:?} (in {q})"));
            }
        }
    }
    assert!(bad.is_empty(), "{}\n\nmetrics:\n{text}", bad.join("\n"));
    // promtool parses each query (as a recording rule).
    let rules = lab.dir.join("dashboard-rules.yml");
    let mut yml = String::from("groups:\n  - name: dashboard\n    rules:\n");
    for (i, q) in queries.iter().enumerate() {
        let q = q
            .replace("$__rate_interval", "5m")
            .replace("$instance", ".*")
            .replace('\'', "''");
        yml += &format!("      - record: dashboard:query{i}\n        expr: '{q}'\n");
    }
    std::fs::write(&rules, yml).unwrap();
    let out = host_ok(&format!("promtool check rules {}", rules.display()));
    assert!(
        out.contains(&format!("{} rules found", queries.len())),
        "{out}"
    );
}
