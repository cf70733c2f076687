//! net_pcap golden tests: recorded frames in, expected frames out.
//!
//! `tests/golden/make.py` (scapy) builds the input frames of each port and
//! computes, independently of this crate, the frames each port must send
//! (RFC 7915 translation, RFC 6146 state, RFC 7422 ports, ARP, ND, echo),
//! with `manifest.toml` naming every expected frame and the counters the
//! run ends with. Two tests read them:
//!
//! - `golden_pcap_run` (root): the real binary on two net_pcap vdevs
//!   (`rx_pcap` = the recorded input, `tx_pcap` = what it sends), one
//!   worker, `--exit-after-idle`, `--counters`; every frame it sent is
//!   compared byte for byte with the expected ones, and the counters too.
//! - `golden_engine_agrees`: the same NAT64 frames through `nat64::Worker`
//!   directly, without DPDK (runs everywhere; pins the pipeline's part).
//!
//! - `golden_files_are_current` (where /usr/bin/python3 has scapy): make.py
//!   regenerates the files byte for byte, so they never drift from it.
//!
//! Comparison rules (see make.py for the reasons):
//! - Fields named in an entry's `mask` (IPv4 identification, an echo
//!   reply's TTL / hop limit) are implementation-defined: the actual
//!   frame's IPv4 header checksum is verified first, then those bytes and
//!   the header checksum are ignored.
//! - Frames to a group MAC address (multicast, broadcast) are ignored: only
//!   the kernel side of the exception TAPs sends them (router
//!   solicitations, MLD, DAD), at times the test cannot predict. Every
//!   expected frame is unicast.
//! - Frames of one manifest `group` must leave a port in manifest order;
//!   different groups (translations, replies) may interleave.
//!
//! Ordering of the two inputs: net_pcap reads its file as fast as it is
//! polled and ignores timestamps (DPDK 22.11 `eth_pcap_rx`). The worker
//! polls one burst of the inside port, then one of the outside port, per
//! iteration (`dataplane::worker`, `PollLoop::poll`, bursts of
//! `workers.burst` = 32); each input file holds fewer frames than that
//! (make.py asserts it), so every 6to4 packet -- creating the sessions --
//! is processed before the first 4to6 packet is read. One worker
//! (`-l 0,1`) keeps this deterministic. (Alternatives weighed: two runs lose the sessions; a
//! FIFO fed in two steps blocks the worker inside libpcap's read.)

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nat64_dpdk::config::Config;
use nat64_dpdk::nat64::pipeline::{Action, Worker};
use nat64_dpdk::nat64::pool4::PoolLayout;
use nat64_dpdk::xlat::PacketBuf;

const BIN: &str = env!("CARGO_BIN_EXE_nat64-dpdk");
const ETH: usize = 14;

fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

// ---------------------------------------------------------------------------
// pcap files (libpcap format: microsecond or nanosecond, either byte order)

/// The frames of a pcap file, in order.
fn read_pcap(path: &Path) -> Vec<Vec<u8>> {
    let data = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(data.len() >= 24, "{}: no pcap header", path.display());
    let magic = [data[0], data[1], data[2], data[3]];
    let le = match magic {
        [0xd4, 0xc3, 0xb2, 0xa1] | [0x4d, 0x3c, 0xb2, 0xa1] => true,
        [0xa1, 0xb2, 0xc3, 0xd4] | [0xa1, 0xb2, 0x3c, 0x4d] => false,
        _ => panic!("{}: not a pcap file (magic {magic:02x?})", path.display()),
    };
    let u32_at = |b: &[u8]| {
        let a = [b[0], b[1], b[2], b[3]];
        if le {
            u32::from_le_bytes(a)
        } else {
            u32::from_be_bytes(a)
        }
    };
    assert_eq!(u32_at(&data[20..24]), 1, "{}: not Ethernet", path.display());
    let mut frames = Vec::new();
    let mut at = 24;
    while at + 16 <= data.len() {
        let caplen = u32_at(&data[at + 8..at + 12]) as usize;
        let len = u32_at(&data[at + 12..at + 16]) as usize;
        let start = at + 16;
        assert!(
            start + caplen <= data.len(),
            "{}: record cut short",
            path.display()
        );
        assert_eq!(
            caplen,
            len,
            "{}: frame truncated in capture",
            path.display()
        );
        frames.push(data[start..start + caplen].to_vec());
        at = start + caplen;
    }
    assert_eq!(at, data.len(), "{}: trailing bytes", path.display());
    frames
}

// ---------------------------------------------------------------------------
// The manifest

#[derive(Debug, Clone)]
struct Expected {
    name: String,
    group: String,
    engine: bool,
    mask: Vec<String>,
    frame: Vec<u8>,
}

struct Golden {
    inside: Vec<Expected>,
    outside: Vec<Expected>,
    counters: BTreeMap<String, u64>,
}

fn load_golden() -> Golden {
    let dir = golden_dir();
    let text = std::fs::read_to_string(dir.join("manifest.toml")).expect("manifest.toml");
    let doc: toml::Table = text.parse().expect("manifest.toml parses");
    let port = |name: &str| -> Vec<Expected> {
        let frames = read_pcap(&dir.join(format!("out_{name}.pcap")));
        let entries = doc
            .get(name)
            .and_then(|v| v.as_array())
            .cloned()
            .unwrap_or_default();
        assert_eq!(
            entries.len(),
            frames.len(),
            "manifest [[{name}]] and out_{name}.pcap disagree: rerun make.py"
        );
        entries
            .iter()
            .zip(frames)
            .map(|(e, frame)| Expected {
                name: e["name"].as_str().unwrap().to_string(),
                group: e["group"].as_str().unwrap().to_string(),
                engine: e["engine"].as_bool().unwrap(),
                mask: e["mask"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|m| m.as_str().unwrap().to_string())
                    .collect(),
                frame,
            })
            .collect()
    };
    let counters = doc["counters"]
        .as_table()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_integer().unwrap() as u64))
        .collect();
    Golden {
        inside: port("inside"),
        outside: port("outside"),
        counters,
    }
}

// ---------------------------------------------------------------------------
// Comparison

/// RFC 1071 sum of `b`, folded and complemented.
fn inet_checksum(b: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    for c in b.chunks(2) {
        sum += u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]));
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// `frame` with the masked fields zeroed; `Err` if a masked IPv4 header's
/// checksum is wrong in the first place (then nothing may be masked).
fn masked(frame: &[u8], mask: &[String]) -> Result<Vec<u8>, String> {
    let mut f = frame.to_vec();
    let ipv4 = f.len() >= ETH + 20 && f[12..14] == [0x08, 0x00];
    let ipv6 = f.len() >= ETH + 40 && f[12..14] == [0x86, 0xdd];
    if ipv4 && mask.iter().any(|m| m.starts_with("ipv4.")) {
        let ihl = usize::from(f[ETH] & 0x0f) * 4;
        let hdr = f.get(ETH..ETH + ihl).ok_or("IPv4 header cut short")?;
        if ihl < 20 || inet_checksum(hdr) != 0 {
            return Err("bad IPv4 header checksum".into());
        }
        f[ETH + 10..ETH + 12].fill(0);
    }
    for m in mask {
        match m.as_str() {
            "ipv4.id" if ipv4 => f[ETH + 4..ETH + 6].fill(0),
            "ipv4.ttl" if ipv4 => f[ETH + 8] = 0,
            "ipv6.hlim" if ipv6 => f[ETH + 7] = 0,
            // The frame is not of the masked kind: compared as it is, so
            // it differs from the expected frame.
            "ipv4.id" | "ipv4.ttl" | "ipv6.hlim" => {}
            other => panic!("manifest: unknown mask {other:?}"),
        }
    }
    Ok(f)
}

fn hex(b: &[u8]) -> String {
    b.chunks(16)
        .enumerate()
        .map(|(i, c)| {
            let h: Vec<String> = c.iter().map(|x| format!("{x:02x}")).collect();
            format!("  {:04x}: {}", i * 16, h.join(" "))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Where `a` and `b` first differ, with both frames in hex.
fn diff(a: &[u8], b: &[u8]) -> String {
    let first = a
        .iter()
        .zip(b)
        .position(|(x, y)| x != y)
        .unwrap_or(a.len().min(b.len()));
    format!(
        "first difference at byte {first} (L3 offset {}), lengths {} vs {}\n expected:\n{}\n actual:\n{}",
        first as isize - ETH as isize,
        a.len(),
        b.len(),
        hex(a),
        hex(b)
    )
}

/// Matches the frames a port sent against its expected frames; returns
/// every problem found (empty: all good) and the names that matched.
fn compare_port(
    port: &str,
    expected: &[Expected],
    actual: &[Vec<u8>],
) -> (Vec<String>, Vec<String>) {
    let mut problems = Vec::new();
    let mut passed = Vec::new();
    let actual: Vec<&Vec<u8>> = actual
        .iter()
        .filter(|f| f.len() < 6 || f[0] & 1 == 0)
        .collect();
    let mut used = vec![false; actual.len()];
    let mut at: Vec<Option<usize>> = Vec::new();
    for e in expected {
        let want = masked(&e.frame, &e.mask).expect("expected frame has valid checksums");
        let hit = actual
            .iter()
            .enumerate()
            .position(|(j, a)| !used[j] && masked(a, &e.mask).is_ok_and(|m| m == want));
        match hit {
            Some(j) => {
                used[j] = true;
                passed.push(format!("{port}: {}", e.name));
            }
            None => {
                // The closest unused frame: same length and longest common
                // prefix, for the report.
                let best = actual
                    .iter()
                    .enumerate()
                    .filter(|(j, _)| !used[*j])
                    .max_by_key(|(_, a)| {
                        let common = a.iter().zip(&e.frame).take_while(|(x, y)| x == y).count();
                        (a.len() == e.frame.len(), common)
                    });
                let detail = match best {
                    Some((_, a)) => match masked(a, &e.mask) {
                        Ok(m) => diff(&want, &m),
                        Err(why) => format!("closest frame: {why}\n{}", diff(&e.frame, a)),
                    },
                    None => "no frame left to compare with".into(),
                };
                problems.push(format!("{port}: missing \"{}\"; {detail}", e.name));
            }
        }
        at.push(hit);
    }
    for (j, a) in actual.iter().enumerate() {
        if !used[j] {
            problems.push(format!("{port}: unexpected frame #{j}:\n{}", hex(a)));
        }
    }
    // Order inside each group.
    let mut last: BTreeMap<&str, (usize, &str)> = BTreeMap::new();
    for (e, hit) in expected.iter().zip(&at) {
        let Some(j) = *hit else { continue };
        if let Some(&(prev, prev_name)) = last.get(e.group.as_str()) {
            if j < prev {
                problems.push(format!(
                    "{port}: \"{}\" left before \"{prev_name}\" (group {})",
                    e.name, e.group
                ));
            }
        }
        last.insert(&e.group, (j, &e.name));
    }
    (problems, passed)
}

// ---------------------------------------------------------------------------
// The binary on net_pcap

#[test]
fn golden_pcap_run() {
    if let Err(why) = common::can_run() {
        eprintln!("skipped: {why}");
        return;
    }
    let golden = load_golden();
    let dir = golden_dir();
    let work = std::env::temp_dir().join(format!("nat64-golden-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).unwrap();
    // Short paths: net_pcap keeps its devargs in 64 bytes for display.
    let out_in = work.join("out_inside.pcap");
    let out_out = work.join("out_outside.pcap");
    let counters = work.join("counters.prom");
    // The exception TAPs get names of their own, so runs side by side (and
    // the demo) never meet.
    let id = std::process::id() % 100_000;
    let config = work.join("golden.toml");
    let text = std::fs::read_to_string(dir.join("golden.toml"))
        .unwrap()
        .replace("\"n64g-in\"", &format!("\"g{id}i\""))
        .replace("\"n64g-out\"", &format!("\"g{id}o\""));
    std::fs::write(&config, text).unwrap();
    let vdev = |n: u8, rx: &str, tx: &Path| {
        format!(
            "net_pcap{n},rx_pcap={},tx_pcap={}",
            dir.join(rx).display(),
            tx.display()
        )
    };
    let mut cmd = Command::new(BIN);
    cmd.args(["-l", "0,1", "--no-pci", "--no-huge", "-m", "512"])
        .arg(format!("--file-prefix=golden{}", std::process::id()))
        .args(["--vdev", &vdev(0, "in_inside.pcap", &out_in)])
        .args(["--vdev", &vdev(1, "in_outside.pcap", &out_out)])
        .args(["--", "--config"])
        .arg(&config)
        .args(["--exit-after-idle", "500", "--counters"])
        .arg(&counters)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("start nat64-dpdk");
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break Some(s);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let output = child.wait_with_output().unwrap();
    let log = format!(
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let status =
        status.unwrap_or_else(|| panic!("no exit within 60 s (--exit-after-idle 500)\n{log}"));
    assert!(status.success(), "exit {status}\n{log}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("forwarding: 1 workers"),
        "no `forwarding: 1 workers` line\n{log}"
    );
    // make.py assumes net_pcap's MACs 02:70:63:61:70:<n>.
    for mac in ["02:70:63:61:70:00", "02:70:63:61:70:01"] {
        assert!(
            stderr.contains(mac),
            "port MAC {mac} not logged; make.py assumes it\n{log}"
        );
    }

    let mut problems = Vec::new();
    let mut passed = Vec::new();
    for (port, expected, file) in [
        ("inside", &golden.inside, &out_in),
        ("outside", &golden.outside, &out_out),
    ] {
        let actual = read_pcap(file);
        let (p, ok) = compare_port(port, expected, &actual);
        problems.extend(p);
        passed.extend(ok);
        // tx counts every frame sent, perhaps the kernel's too.
        let sent = actual.len() as u64;
        let unicast = actual.iter().filter(|f| f[0] & 1 == 0).count() as u64;
        let got = read_counter(
            &counters,
            &format!("nat64_packets_total{{port=\"{port}\",dir=\"tx\"}}"),
        );
        if !(unicast..=sent).contains(&got) {
            problems.push(format!(
                "counter {port} tx = {got}, but {unicast} unicast / {sent} frames were sent"
            ));
        }
    }
    let text = std::fs::read_to_string(&counters).unwrap_or_default();
    let got = common::Counters::parse(&text).unwrap_or_else(|e| panic!("counters: {e}"));
    for (k, &want) in &golden.counters {
        match got.try_get(k).map(|v| v as u64) {
            Some(v) if v == want => {}
            Some(v) => problems.push(format!("counter {k} = {v}, expected {want}")),
            None => problems.push(format!("counter {k} missing")),
        }
    }
    for (k, &v) in &got.values {
        if k.starts_with("nat64_drops_total{") && !golden.counters.contains_key(k) && v != 0.0 {
            problems.push(format!("counter {k} = {v}, expected 0"));
        }
    }
    eprintln!("golden frames that matched:\n  {}", passed.join("\n  "));
    assert!(
        problems.is_empty(),
        "{} problem(s):\n{}\n\ncounters:\n{}\n{log}",
        problems.len(),
        problems.join("\n\n"),
        std::fs::read_to_string(&counters).unwrap_or_default()
    );
    let _ = std::fs::remove_dir_all(&work);
}

fn read_counter(path: &Path, key: &str) -> u64 {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    common::Counters::parse(&text)
        .ok()
        .and_then(|c| c.try_get(key))
        .map_or(u64::MAX, |v| v as u64)
}

// ---------------------------------------------------------------------------
// The committed files are what make.py makes

#[test]
fn golden_files_are_current() {
    let python = "/usr/bin/python3";
    let has_scapy = Command::new(python)
        .args(["-c", "import scapy.all"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !has_scapy {
        eprintln!("skipped: no {python} with scapy to regenerate the golden files");
        return;
    }
    let dir = golden_dir();
    let out = std::env::temp_dir().join(format!("nat64-golden-make-{}", std::process::id()));
    std::fs::create_dir_all(&out).unwrap();
    let run = Command::new(python)
        .arg(dir.join("make.py"))
        .arg(&out)
        .output()
        .expect("run make.py");
    assert!(
        run.status.success(),
        "make.py failed: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    for f in [
        "in_inside.pcap",
        "in_outside.pcap",
        "out_inside.pcap",
        "out_outside.pcap",
        "manifest.toml",
    ] {
        let made = std::fs::read(out.join(f)).unwrap();
        let committed = std::fs::read(dir.join(f)).unwrap();
        assert!(
            made == committed,
            "tests/golden/{f} differs from what make.py makes now: rerun /usr/bin/python3 tests/golden/make.py"
        );
    }
    let _ = std::fs::remove_dir_all(&out);
}

// ---------------------------------------------------------------------------
// The same NAT64 frames through the pipeline alone

/// Headroom of the test buffers, as an mbuf has.
const HEADROOM: usize = 128;

#[test]
fn golden_engine_agrees() {
    let golden = load_golden();
    let dir = golden_dir();
    let cfg = Config::from_file(&dir.join("golden.toml")).expect("golden.toml");
    let layout = Arc::new(PoolLayout::new(&cfg.pool4, &cfg.static_bib, 1));
    let mut w = Worker::new(&cfg, layout.clone(), 0, 1);
    let prefix = [0x20, 0x01, 0x0d, 0xb8, 0, 0x64, 0, 0, 0, 0, 0, 0];
    // (frames out of the inside port, out of the outside port): L3 only.
    let mut sent: [Vec<Vec<u8>>; 2] = [Vec::new(), Vec::new()];
    let mut run = |frame: &[u8], inside: bool, now: u64| {
        let l3 = &frame[ETH..];
        let mut mem = vec![0u8; HEADROOM + 2048];
        mem[HEADROOM..HEADROOM + l3.len()].copy_from_slice(l3);
        let mut buf = PacketBuf::new(&mut mem, HEADROOM, l3.len()).unwrap();
        let action = if inside {
            w.process_6to4(&mut buf, now)
        } else {
            w.process_4to6(&mut buf, now)
        };
        let side = usize::from(!inside);
        match action {
            Action::Forward => sent[1 - side].push(buf.data().to_vec()),
            Action::Reply(_) => sent[side].push(buf.data().to_vec()),
            _ => {}
        }
    };
    // Only what the dataplane hands to the pipeline: IPv6 to the prefix on
    // the inside, IPv4 to a pool address on the outside (but echo requests
    // no BIB entry claims, which the pipeline hands back as Local).
    for f in read_pcap(&dir.join("in_inside.pcap")) {
        if f[12..14] == [0x86, 0xdd] && f[ETH + 24..ETH + 36] == prefix {
            run(&f, true, 1000);
        }
    }
    for f in read_pcap(&dir.join("in_outside.pcap")) {
        let dst = std::net::Ipv4Addr::new(f[ETH + 16], f[ETH + 17], f[ETH + 18], f[ETH + 19]);
        if f[12..14] == [0x08, 0x00] && layout.contains(dst) {
            run(&f, false, 2000);
        }
    }
    let mut problems = Vec::new();
    for (i, (port, expected)) in [("inside", &golden.inside), ("outside", &golden.outside)]
        .into_iter()
        .enumerate()
    {
        // The pipeline runs in input order, so its frames come in manifest
        // order: compare as the binary would send them, after an Ethernet
        // header copied from the expected frame.
        let exp: Vec<Expected> = expected.iter().filter(|e| e.engine).cloned().collect();
        let actual: Vec<Vec<u8>> = sent[i]
            .iter()
            .zip(
                exp.iter()
                    .map(|e| &e.frame[..ETH])
                    .chain(std::iter::repeat(&[0u8; ETH][..])),
            )
            .map(|(l3, eth)| [eth, l3.as_slice()].concat())
            .collect();
        problems.extend(compare_port(port, &exp, &actual).0);
    }
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}
