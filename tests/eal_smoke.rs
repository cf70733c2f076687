//! Smoke tests of the binary and of the DPDK layer against the real EAL.
//!
//! - `--check` validates a configuration without starting DPDK.
//! - `--version` names the package version, the git commit (as `git
//!   rev-parse --short HEAD` says, when built in a git checkout) and the
//!   DPDK version (as `pkg-config --modversion libdpdk` says).
//! - As root: the binary starts on two net_tap vdevs with one worker,
//!   logs its version line, both ports with their MACs, starts forwarding,
//!   and stops cleanly on SIGINT.
//! - As root: `workers.burst` bounds what each rx poll takes: over net_pcap
//!   (the golden tests' input), with `burst = 1` every non-empty rx burst
//!   holds one frame; with 32 the same frames arrive in fewer bursts.
//! - As root: in this process, the `dpdk` API on a net_ring vdev (whose tx
//!   loops back to its rx): mempool, port, mbufs, the PacketBuf view, tx and
//!   rx bursts, lcore launch. The frame is built and checked with etherparse.
//!
//! Every wait is bounded; EAL always gets `--no-pci --no-huge -m ...` and
//! its own `--file-prefix`.

mod common;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use nat64_dpdk::dpdk::{Burst, DpdkError, Eal, Mempool, Port, PortConfig, SOCKET_ANY};

const BIN: &str = env!("CARGO_BIN_EXE_nat64-dpdk");

fn demo_config() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("config/demo.toml")
}

fn temp_file(name: &str, text: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!("nat64-smoke-{}-{name}", std::process::id()));
    std::fs::write(&path, text).expect("write temp config");
    path
}

#[test]
fn check_accepts_the_demo_config() {
    let out = Command::new(BIN)
        .args(["--", "--config"])
        .arg(demo_config())
        .arg("--check")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "stdout: {stdout}\nstderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The summary names both devices and the pool.
    assert!(
        stdout.contains("net_tap0") && stdout.contains("net_tap1"),
        "{stdout}"
    );
    assert!(stdout.contains("203.0.113.0/28"), "{stdout}");
    // --check never starts DPDK.
    assert!(!stdout.contains("EAL:"), "{stdout}");
}

#[test]
fn check_refuses_a_broken_config_naming_the_key() {
    let text = std::fs::read_to_string(demo_config())
        .unwrap()
        .replace("[pool4]", "[pool4]\nblock_size = 300");
    let path = temp_file("broken.toml", &text);
    let out = Command::new(BIN)
        .args(["--", "--config"])
        .arg(&path)
        .arg("--check")
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&path);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.starts_with("error: ") && stderr.contains("pool4.block_size"),
        "{stderr}"
    );
}

#[test]
fn arguments_without_double_dash_are_refused_and_help_explains_both_halves() {
    let out = Command::new(BIN)
        .args(["--config", "x.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("put `--` between"));

    let out = Command::new(BIN)
        .args(["-l", "0", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0));
    for needle in [
        "--lcores",
        "--vdev",
        "--no-pci",
        "--no-huge -m 512",
        "--file-prefix",
        "--config",
        "--check",
    ] {
        assert!(help.contains(needle), "help lacks {needle}: {help}");
    }
}

/// The trimmed stdout of `cmd args`, or why there is none.
fn stdout_of(cmd: &str, args: &[&str]) -> Result<String, String> {
    let out = Command::new(cmd)
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .map_err(|e| format!("cannot run {cmd}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "`{cmd} {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// `nat64-dpdk --version`'s one line (the same after `--`).
fn version_line() -> String {
    let mut lines = Vec::new();
    for args in [&["--version"][..], &["--", "--version"]] {
        let out = Command::new(BIN).args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        assert_eq!(text.lines().count(), 1, "{args:?}: {text}");
        lines.push(text.trim_end().to_string());
    }
    assert_eq!(lines[0], lines[1], "--version before and after `--`");
    lines.remove(0)
}

#[test]
fn version_names_package_commit_and_dpdk() {
    let line = version_line();
    let dpdk = stdout_of("pkg-config", &["--modversion", "libdpdk"])
        .expect("pkg-config finds libdpdk (the crate was built against it)");
    let prefix = format!("nat64-dpdk {} (commit ", env!("CARGO_PKG_VERSION"));
    let rest = line
        .strip_prefix(&prefix)
        .unwrap_or_else(|| panic!("{line:?} does not start with {prefix:?}"));
    let (commit, tail) = rest
        .split_once(", DPDK ")
        .unwrap_or_else(|| panic!("{line:?} names no DPDK version"));
    assert_eq!(tail, format!("{dpdk})"), "{line}");
    match stdout_of("git", &["rev-parse", "--short", "HEAD"]) {
        Ok(head) => assert_eq!(commit, head, "{line}"),
        Err(why) => eprintln!("git part skipped (not a git checkout?): {why}"),
    }
}

/// A counter's value in a Prometheus text file (0 when absent).
fn counter(text: &str, series: &str) -> u64 {
    let c = common::Counters::parse(text).expect("the counters file parses");
    c.try_get(series).map_or(0, |v| v as u64)
}

/// The golden tests' frames through the binary with `workers.burst =
/// burst`: (frames, non-empty rx bursts) per port, inside then outside.
fn pcap_run_with_burst(burst: u16) -> [(u64, u64); 2] {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let tag = format!("{}-b{burst}", std::process::id());
    let text = std::fs::read_to_string(dir.join("golden.toml"))
        .unwrap()
        .replace("burst = 32", &format!("burst = {burst}"));
    assert!(text.contains(&format!("burst = {burst}\n")), "{text}");
    let config = temp_file(&format!("burst{burst}.toml"), &text);
    let counters = std::env::temp_dir().join(format!("nat64-smoke-{tag}.prom"));
    let out = |side: &str| std::env::temp_dir().join(format!("nat64-smoke-{tag}-{side}.pcap"));
    let vdev = |n: u8, input: &str, side: &str| {
        format!(
            "net_pcap{n},rx_pcap={},tx_pcap={}",
            dir.join(input).display(),
            out(side).display()
        )
    };
    let output = Command::new(BIN)
        .args(["-l", "0,1", "--no-pci", "--no-huge", "-m", "512"])
        .arg(format!("--file-prefix=nat64-smoke-{tag}"))
        .args(["--vdev", &vdev(0, "in_inside.pcap", "in")])
        .args(["--vdev", &vdev(1, "in_outside.pcap", "out")])
        .args(["--", "--config"])
        .arg(&config)
        .args([
            "--no-exception-path",
            "--exit-after-idle",
            "300",
            "--counters",
        ])
        .arg(&counters)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let text = std::fs::read_to_string(&counters).unwrap_or_default();
    for f in [config, counters, out("in"), out("out")] {
        let _ = std::fs::remove_file(f);
    }
    assert!(
        output.status.success(),
        "burst {burst}: exit {}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    ["inside", "outside"].map(|side| {
        (
            counter(
                &text,
                &format!("nat64_packets_total{{port=\"{side}\",dir=\"rx\"}}"),
            ),
            counter(&text, &format!("nat64_rx_bursts_total{{port=\"{side}\"}}")),
        )
    })
}

#[test]
fn workers_burst_bounds_each_rx_poll() {
    if let Err(why) = common::can_run() {
        eprintln!("skipped: {why}");
        return;
    }
    let one = pcap_run_with_burst(1);
    let full = pcap_run_with_burst(32);
    for (side, (frames, bursts)) in ["inside", "outside"].into_iter().zip(one) {
        assert!(frames > 1, "{side}: {frames} frames received");
        assert_eq!(bursts, frames, "{side}: burst = 1 takes one frame per poll");
    }
    for (side, (frames, bursts)) in ["inside", "outside"].into_iter().zip(full) {
        assert_eq!(frames, one[usize::from(side == "outside")].0, "{side}");
        assert!(
            bursts < frames,
            "{side}: burst = 32 takes several frames per poll ({bursts} bursts, {frames} frames)"
        );
    }
}

/// Kills the child if the test fails half-way.
struct Reap(Child);

impl Drop for Reap {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

#[test]
fn runs_on_two_taps_and_stops_on_sigint() {
    if let Err(why) = common::can_run() {
        eprintln!("skipped: {why}");
        return;
    }
    let pid = std::process::id();
    let text = std::fs::read_to_string(demo_config())
        .unwrap()
        .replace(
            "\"net_tap0\"",
            &format!("\"net_tap_smk0\"\nkernel_iface = \"smki{pid}\""),
        )
        .replace(
            "\"net_tap1\"",
            &format!("\"net_tap_smk1\"\nkernel_iface = \"smko{pid}\""),
        )
        .replace(
            "/tmp/nat64-dpdk-demo-events.log",
            &format!("/tmp/nat64-smoke-{pid}-events.log"),
        );
    let config = temp_file("taps.toml", &text);
    // Interface names of our own so a demo or another run cannot clash.
    let child = Command::new(BIN)
        .args(["-l", "0-1", "--no-pci", "--no-huge", "-m", "512"])
        .arg(format!("--file-prefix=nat64-smoke-{pid}"))
        .args(["--vdev", &format!("net_tap_smk0,iface=smk0_{pid}")])
        .args(["--vdev", &format!("net_tap_smk1,iface=smk1_{pid}")])
        .args(["--", "--config"])
        .arg(&config)
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut child = Reap(child);

    let (tx, rx) = mpsc::channel::<String>();
    let out = child.0.stdout.take().unwrap();
    let err = child.0.stderr.take().unwrap();
    for stream in [
        Box::new(out) as Box<dyn std::io::Read + Send>,
        Box::new(err),
    ] {
        let tx = tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
    }
    drop(tx);

    let mut log = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    let ready = |log: &[String]| log.iter().any(|l| l.contains("forwarding: 1 workers"));
    while !ready(&log) {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => log.push(line),
            Err(_) => panic!(
                "no start-up within 60 s (or it exited); log:\n{}",
                log.join("\n")
            ),
        }
    }
    let all = log.join("\n");
    let version = version_line();
    assert!(
        log.iter().any(|l| l.ends_with(&version)),
        "no start-up line {version:?}; log:\n{all}"
    );
    for (role, dev) in [("inside", "net_tap_smk0"), ("outside", "net_tap_smk1")] {
        let line = log
            .iter()
            .find(|l| l.contains(&format!("{role} port {dev}:")))
            .unwrap_or_else(|| panic!("no log line for the {role} port; log:\n{all}"));
        let mac = line
            .split("MAC ")
            .nth(1)
            .and_then(|r| r.get(..17))
            .unwrap_or("");
        let octets: Vec<_> = mac
            .split(':')
            .filter(|o| o.len() == 2 && u8::from_str_radix(o, 16).is_ok())
            .collect();
        assert_eq!(octets.len(), 6, "no MAC in {line:?}");
    }

    let killed = Command::new("kill")
        .args(["-INT", &child.0.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "still running 15 s after SIGINT; log:\n{all}"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let _ = std::fs::remove_file(&config);
    let rest: Vec<String> = rx.try_iter().collect();
    assert_eq!(status.code(), Some(0), "log:\n{all}\n{}", rest.join("\n"));
}

/// An IPv6/UDP frame built by etherparse (independent of our code).
fn udp6_frame(payload: &[u8]) -> Vec<u8> {
    let builder = etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2])
        .ipv6(
            [
                0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
            ],
            [0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0, 192, 0, 2, 1],
            64,
        )
        .udp(40000, 53);
    let mut frame = Vec::with_capacity(builder.size(payload.len()));
    builder.write(&mut frame, payload).unwrap();
    frame
}

#[test]
fn dpdk_api_on_a_net_ring_loopback() {
    if let Err(why) = common::can_run() {
        eprintln!("skipped: {why}");
        return;
    }
    let pid = std::process::id();
    let args: Vec<String> = [
        "eal_smoke",
        "-l",
        "0-1",
        "--no-pci",
        "--no-huge",
        "-m",
        "256",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([
        format!("--file-prefix=nat64-smoke-lib-{pid}"),
        "--vdev=net_ring_smk0".to_string(),
    ])
    .collect();
    let eal = Eal::init(&args).expect("EAL init");
    assert!(matches!(
        Eal::init(&args),
        Err(DpdkError::EalAlreadyInitialised)
    ));

    let err = Port::by_name(&eal, "net_tap_nope").unwrap_err().to_string();
    assert!(
        err.starts_with("no DPDK port named 'net_tap_nope': add --vdev net_tap_nope"),
        "{err}"
    );

    let pool = Mempool::new(&eal, "smk_pool", 1023, SOCKET_ANY).expect("mempool");
    let mut port = Port::by_name(&eal, "net_ring_smk0").expect("net_ring port");
    let conf = PortConfig {
        rx_desc: 64,
        tx_desc: 64,
        mtu: None,
        ..PortConfig::default()
    };
    let (mut rxq, mut txq) = port
        .configure(&conf, std::slice::from_ref(&pool))
        .expect("configure");
    assert!(
        port.configure(&conf, std::slice::from_ref(&pool)).is_err(),
        "configure twice"
    );
    port.start().expect("start");
    assert!(port.link().expect("link").up);
    let _mac = port.mac_addr().expect("mac");
    let (mut rxq, mut txq) = (rxq.remove(0), txq.remove(0));
    let in_use_before = pool.in_use();

    // An mbuf holding the frame, then the Ethernet header stripped and a
    // new one prepended through the PacketBuf view, as the translator will.
    let frame = udp6_frame(b"hello");
    let mut m = pool.alloc().expect("alloc");
    assert_eq!(m.len(), 0);
    m.append(frame.len() as u16)
        .expect("tailroom")
        .copy_from_slice(&frame);
    let headroom = m.headroom();
    {
        let mut pb = m.packet_buf().expect("single segment");
        assert_eq!(pb.data(), &frame[..]);
        assert!(pb.adj(14));
        assert!(pb.prepend(14));
        pb.data_mut()[..6].copy_from_slice(&[2, 0, 0, 0, 0, 0x22]);
        assert!(pb.append(4));
        pb.truncate(frame.len());
    }
    // The bounds were written back into the mbuf.
    assert_eq!(m.headroom(), headroom);
    assert_eq!(m.len(), frame.len());
    assert_eq!(m.data_len(), frame.len());
    assert!(m.adj(14) && m.prepend(14).is_some());
    assert!(m.prepend(u16::MAX).is_none() && !m.adj(u16::MAX) && !m.trim(u16::MAX));

    // tx on net_ring loops back to rx.
    let mut out: Burst<'_, 4> = Burst::new(&eal);
    out.push(m).expect("room");
    assert_eq!(txq.tx_burst(&mut out), 1);
    assert!(out.is_empty());
    let mut inb: Burst<'_, 4> = Burst::new(&eal);
    let deadline = Instant::now() + Duration::from_secs(5);
    while inb.is_empty() && Instant::now() < deadline {
        rxq.rx_burst(&mut inb);
    }
    assert_eq!(inb.len(), 1);
    let got = inb.drain().next().unwrap();
    let parsed = etherparse::SlicedPacket::from_ethernet(got.data()).expect("etherparse");
    match parsed.link {
        Some(etherparse::LinkSlice::Ethernet2(eth)) => {
            assert_eq!(eth.destination(), [2, 0, 0, 0, 0, 0x22])
        }
        other => panic!("not ethernet: {other:?}"),
    }
    match parsed.transport {
        Some(etherparse::TransportSlice::Udp(udp)) => {
            assert_eq!((udp.source_port(), udp.destination_port()), (40000, 53));
            assert_eq!(udp.payload(), b"hello");
        }
        other => panic!("not udp: {other:?}"),
    }
    assert_eq!(&got.data()[6..], &frame[6..]);
    drop(got);
    drop((out, inb));

    // Bursts free what they hold: a full burst dropped and a drain
    // abandoned half-way leave nothing in use.
    let mut full: Burst<'_, 4> = Burst::new(&eal);
    while !full.is_full() {
        full.push(pool.alloc().unwrap()).unwrap();
    }
    assert!(full.push(pool.alloc().unwrap()).is_err());
    let mut drain = full.drain();
    drop(drain.next());
    drop(drain);
    assert!(full.is_empty());
    assert!(pool.alloc_bulk(&mut full, 3));
    assert_eq!(full.len(), 3);
    assert!(!pool.alloc_bulk(&mut full, 2), "more than the room left");
    assert!(full
        .as_slice()
        .iter()
        .all(|m| m.is_empty() && m.segments() == 1));
    drop(full);
    assert_eq!(pool.in_use(), in_use_before, "mbufs leaked");

    // A closure on the worker lcore.
    let workers = eal.worker_lcores();
    assert_eq!(workers, vec![1]);
    let job = eal
        .launch(1, || nat64_dpdk::dpdk::lcore_id() as i32 + 41)
        .expect("launch");
    assert_eq!(job.join(), 42);
    assert!(eal.launch(0, || 0).is_err(), "main lcore is not a worker");

    // The port refuses to close while queue handles exist; it closes when
    // the last handle goes, which releases the device.
    drop(rxq);
    let err = port
        .close()
        .expect_err("closed with a tx queue handle alive");
    assert!(err.to_string().contains("still in use"), "{err}");
    let again = Port::by_name(&eal, "net_ring_smk0").expect_err("a second handle on a live port");
    assert!(again.to_string().contains("another handle"), "{again}");
    drop(txq);
    let gone = Port::by_name(&eal, "net_ring_smk0").expect_err("not closed with its last handle");
    assert!(matches!(gone, DpdkError::PortNotFound { .. }), "{gone}");
    drop(pool);
    drop(eal);
}
