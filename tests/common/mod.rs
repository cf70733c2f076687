//! Shared harness of the end-to-end tests: the real `nat64-dpdk` binary on
//! two DPDK net_tap ports, each TAP moved into a network namespace with a
//! real host stack behind it.
//!
//! ```text
//!  netns "client" (IPv6 only)        nat64-dpdk            netns "server" (IPv4 only)
//!  2001:db8:1::2/64 ── tap ── inside 2001:db8:1::1   outside 198.51.100.1 ── tap ── 198.51.100.2/24
//!  route 2001:db8:64::/96                             pool 203.0.113.0/28   route 203.0.113.0/28
//!        via 2001:db8:1::1                                                         via 198.51.100.1
//! ```
//!
//! Everything a test creates has a name unique to the process and the test
//! (namespaces, interfaces, vdevs, the EAL file prefix, a temp directory)
//! and is removed on drop, also when the test panics. Every wait is bounded
//! and a failure prints the translator's log.
//!
//! The tests skip (with the reason printed) only when not root or when DPDK
//! is not installed, and never under CI (`CI` set): there they fail.

#![allow(dead_code)] // each test binary uses a different part

pub mod dns;
pub mod nsd;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Write as _};
use std::net::{Ipv4Addr, Ipv6Addr};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_nat64-dpdk");

/// The NAT64 prefix (network-specific: RFC 6052 §3.1 keeps documentation
/// IPv4 addresses out of 64:ff9b::/96).
pub const PREFIX: &str = "2001:db8:64::/96";
/// The box's inside address and the client's, on 2001:db8:1::/64.
pub const BOX6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 1);
pub const CLIENT6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 2);
/// The box's outside address and the server's, on 198.51.100.0/24.
pub const BOX4: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 1);
pub const SERVER4: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 2);
/// MACs of the namespaces' TAP interfaces. net_tap gives the kernel side
/// the port's own MAC; a host of its own gets a MAC of its own, so the box
/// must learn its neighbours instead of meeting itself.
pub const CLIENT_MAC: &str = "02:00:5e:64:01:02";
pub const SERVER_MAC: &str = "02:00:5e:64:02:02";
/// The IPv4 pool: 203.0.113.0/28.
pub const POOL: &str = "203.0.113.0/28";

/// `addr` embedded in the NAT64 prefix (RFC 6052 §2.2, /96).
pub fn mapped(addr: Ipv4Addr) -> Ipv6Addr {
    let [a, b, c, d] = addr.octets();
    Ipv6Addr::new(
        0x2001,
        0xdb8,
        0x64,
        0,
        0,
        0,
        u16::from_be_bytes([a, b]),
        u16::from_be_bytes([c, d]),
    )
}

/// The IPv4 address embedded in `addr` if it is under the NAT64 prefix.
pub fn unmapped(addr: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = addr.segments();
    (s[..6] == [0x2001, 0xdb8, 0x64, 0, 0, 0]).then(|| {
        let o = addr.octets();
        Ipv4Addr::new(o[12], o[13], o[14], o[15])
    })
}

/// Whether `a` is in the pool 203.0.113.0/28.
pub fn in_pool(a: Ipv4Addr) -> bool {
    u32::from(a) & 0xffff_fff0 == u32::from(Ipv4Addr::new(203, 0, 113, 0))
}

// ---------------------------------------------------------------------------
// Skipping

/// `Err(why)` when this machine cannot run the tests: not root or no DPDK.
/// Under CI that is a failure, not a skip.
pub fn can_run() -> Result<(), String> {
    let why = (|| {
        let status = std::fs::read_to_string("/proc/self/status")
            .map_err(|e| format!("no /proc/self/status: {e}"))?;
        let euid = status
            .lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .unwrap_or("?");
        if euid != "0" {
            return Err(format!(
                "not root (euid {euid}): net_tap and network namespaces need root"
            ));
        }
        let dpdk = Command::new("pkg-config")
            .args(["--exists", "libdpdk"])
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if !dpdk {
            return Err("DPDK is not installed (pkg-config libdpdk); run scripts/setup.sh".into());
        }
        if !Path::new("/dev/net/tun").exists() {
            return Err("no /dev/net/tun (net_tap needs it)".into());
        }
        Ok(())
    })();
    match why {
        Err(why) if std::env::var_os("CI").is_some() => {
            panic!("CI is set, so the end-to-end tests may not skip: {why}")
        }
        other => other,
    }
}

/// Fails (never skips) when a client program the tests use is missing.
pub fn require_tools(tools: &[&str]) {
    for t in tools {
        let found = Command::new("sh")
            .args(["-c", &format!("command -v {t}")])
            .output()
            .map(|o| o.status.success())
            .unwrap_or(false);
        assert!(found, "`{t}` is missing: run scripts/setup.sh");
    }
}

// ---------------------------------------------------------------------------
// Names and temp dirs

static SEQ: AtomicU32 = AtomicU32::new(0);

/// A short tag unique to this process and call: `<pid mod 10^5><seq>`.
/// Interface names stay under IFNAMSIZ (15) with a 3-letter prefix.
pub fn unique() -> String {
    let seq = SEQ.fetch_add(1, Ordering::Relaxed);
    format!("{:05}{seq}", std::process::id() % 100_000)
}

/// A directory removed on drop (kept when NAT64_E2E_KEEP is set).
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!("nat64-e2e-{tag}"));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("create temp dir");
        TempDir(p)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
    pub fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::env::var_os("NAT64_E2E_KEEP").is_none() {
            let _ = std::fs::remove_dir_all(&self.0);
        } else {
            eprintln!("kept {}", self.0.display());
        }
    }
}

/// `len` bytes of a fixed pseudo-random sequence (xorshift64*, seeded):
/// incompressible, reproducible test content.
pub fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        out.extend_from_slice(&x.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes());
    }
    out.truncate(len);
    out
}

// ---------------------------------------------------------------------------
// Commands

/// What a finished command left.
pub struct Ran {
    pub ok: bool,
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Ran {
    fn from(o: Output) -> Ran {
        Ran {
            ok: o.status.success(),
            code: o.status.code(),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

/// Runs `sh -c script` in the root namespace, bounded by `secs`.
pub fn host(script: &str, secs: u32) -> Ran {
    Ran::from(
        Command::new("timeout")
            .args(["-s", "KILL", &secs.to_string(), "sh", "-c", script])
            .stdin(Stdio::null())
            .output()
            .expect("spawn sh"),
    )
}

/// Like [`host`], but panics with the output when the command fails.
pub fn host_ok(script: &str) -> String {
    let r = host(script, 30);
    assert!(
        r.ok,
        "`{script}` failed ({:?}):\n{}\n{}",
        r.code, r.stdout, r.stderr
    );
    r.stdout
}

/// A process started in the background (in its own process group); the
/// group is killed on drop. Its stdout and stderr go to `log`.
pub struct Bg {
    child: Child,
    pub what: String,
    pub log: PathBuf,
}

impl Bg {
    /// What it printed so far.
    pub fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
    /// Still running?
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
    /// Waits up to `secs` for it to exit by itself; its exit status.
    pub fn wait(&mut self, secs: u64) -> Option<i32> {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            if let Ok(Some(st)) = self.child.try_wait() {
                return st.code();
            }
            if Instant::now() > deadline {
                panic!(
                    "`{}` still running after {secs} s; output:\n{}",
                    self.what,
                    self.output()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Bg {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            signal(-(self.child.id() as i32), "KILL");
            let _ = self.child.wait();
        }
    }
}

/// kill(1) with `sig` ("INT", "KILL") to `target` (a pid, or `-PGID` for a
/// process group); no `unsafe` in the tests.
fn signal(target: i32, sig: &str) {
    let _ = Command::new("kill")
        .args([&format!("-{sig}"), "--", &target.to_string()])
        .stderr(Stdio::null())
        .status();
}

/// Starts `script` (bash) in the background in namespace `ns` (`None`: the
/// root namespace, where the box's exception TAPs are), in a process group
/// of its own; output to `<dir>/<tag>.log`.
pub fn spawn_in(ns: Option<&str>, dir: &TempDir, tag: &str, script: &str) -> Bg {
    let log = dir.join(&format!("{tag}.log"));
    let f = std::fs::File::create(&log).expect("create log");
    let mut cmd = match ns {
        Some(ns) => {
            let mut c = Command::new("ip");
            c.args(["netns", "exec", ns, "bash"]);
            c
        }
        None => Command::new("bash"),
    };
    let child = cmd
        .args(["-c", &format!("exec {script}")])
        .stdin(Stdio::null())
        .stdout(f.try_clone().expect("dup log"))
        .stderr(f)
        .process_group(0)
        .spawn()
        .expect("spawn bash");
    Bg {
        child,
        what: format!("{tag}: {script}"),
        log,
    }
}

/// Waits (15 s at most) until something listens on `proto` ("tcp" or
/// "udp") `port` in namespace `ns` (`None`: the root namespace).
pub fn wait_listening_in(ns: Option<&str>, proto: &str, port: u16) {
    let flag = if proto == "tcp" { "-ltn" } else { "-lun" };
    let ss = format!("ss -H {flag} 'sport = :{port}'");
    let script = match ns {
        Some(ns) => format!("ip netns exec {ns} {ss}"),
        None => ss,
    };
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let r = host(&script, 10);
        if r.ok && !r.stdout.trim().is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "nothing listens on {proto} port {port} in {} after 15 s",
            ns.unwrap_or("the root namespace")
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A network namespace, deleted on drop (after killing what still runs in
/// it: only processes this test started there can be in it).
pub struct Netns {
    pub name: String,
}

impl Netns {
    pub fn new(role: &str) -> Netns {
        let name = format!("n64e2e-{role}-{}", unique());
        let _ = host(&format!("ip netns del {name}"), 10);
        host_ok(&format!("ip netns add {name}"));
        let ns = Netns { name };
        ns.ok("ip link set lo up");
        ns
    }

    fn command(&self, script: &str, secs: u32) -> Command {
        let mut c = Command::new("timeout");
        c.args(["-s", "KILL", &secs.to_string()])
            .args(["ip", "netns", "exec", &self.name, "bash", "-c", script])
            .stdin(Stdio::null());
        c
    }

    /// `bash -c script` in the namespace, killed after `secs`.
    pub fn run(&self, script: &str, secs: u32) -> Ran {
        Ran::from(
            self.command(script, secs)
                .output()
                .expect("spawn ip netns exec"),
        )
    }

    /// Like [`Netns::run`] with 30 s, panicking with the output on failure.
    pub fn ok(&self, script: &str) -> String {
        self.ok_within(script, 30)
    }

    pub fn ok_within(&self, script: &str, secs: u32) -> String {
        let r = self.run(script, secs);
        assert!(
            r.ok,
            "in {}: `{script}` failed (status {:?}; 137 = killed after {secs} s):\n{}\n{}",
            self.name, r.code, r.stdout, r.stderr
        );
        r.stdout
    }

    /// Starts `script` in the background; output to `<dir>/<tag>.log`.
    pub fn spawn(&self, dir: &TempDir, tag: &str, script: &str) -> Bg {
        spawn_in(Some(&self.name), dir, tag, script)
    }

    /// Waits until something listens on `proto` ("tcp" or "udp") `port`.
    pub fn wait_listening(&self, proto: &str, port: u16) {
        wait_listening_in(Some(&self.name), proto, port)
    }

    /// A value of /proc/net/snmp or /proc/net/snmp6 (e.g. "Icmp" "InEchos",
    /// or "" "Icmp6InEchos") in this namespace.
    pub fn snmp(&self, group: &str, field: &str) -> u64 {
        let out = if group.is_empty() {
            self.ok("cat /proc/net/snmp6")
        } else {
            self.ok("cat /proc/net/snmp")
        };
        if group.is_empty() {
            return out
                .lines()
                .find_map(|l| {
                    let mut w = l.split_whitespace();
                    (w.next() == Some(field)).then(|| w.next()?.parse().ok())?
                })
                .unwrap_or_else(|| panic!("no {field} in /proc/net/snmp6"));
        }
        let prefix = format!("{group}:");
        let rows: Vec<&str> = out.lines().filter(|l| l.starts_with(&prefix)).collect();
        assert!(rows.len() >= 2, "no {group} rows in /proc/net/snmp");
        let names: Vec<&str> = rows[0].split_whitespace().collect();
        let vals: Vec<&str> = rows[1].split_whitespace().collect();
        let i = names
            .iter()
            .position(|n| *n == field)
            .unwrap_or_else(|| panic!("no {group} {field} in /proc/net/snmp"));
        vals[i].parse().expect("snmp value")
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let pids = host(&format!("ip netns pids {}", self.name), 10).stdout;
        for pid in pids
            .split_whitespace()
            .filter_map(|p| p.parse::<i32>().ok())
        {
            signal(pid, "KILL");
        }
        let r = host(&format!("ip netns del {}", self.name), 10);
        if !r.ok {
            eprintln!("ip netns del {}: {}", self.name, r.stderr);
        }
    }
}

// ---------------------------------------------------------------------------
// Counters

/// A `--counters` file: Prometheus text exposition, as a map from
/// `name{labels}` (labels sorted by name) to value.
#[derive(Debug, Clone, Default)]
pub struct Counters {
    pub values: BTreeMap<String, f64>,
}

/// `name{b="2",a="1"}` -> ("name", [("a","1"), ("b","2")]).
fn parse_series(series: &str) -> Result<(String, Vec<(String, String)>), String> {
    let Some(open) = series.find('{') else {
        return Ok((series.trim().to_string(), Vec::new()));
    };
    let name = series[..open].trim().to_string();
    let body = series[open + 1..]
        .trim_end()
        .strip_suffix('}')
        .ok_or_else(|| format!("unclosed labels in {series:?}"))?;
    let mut labels = Vec::new();
    let mut rest = body;
    while !rest.is_empty() {
        let eq = rest
            .find("=\"")
            .ok_or_else(|| format!("bad label in {series:?}"))?;
        let key = rest[..eq].trim().to_string();
        let mut val = String::new();
        let mut chars = rest[eq + 2..].char_indices();
        let mut end = None;
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => {
                    if let Some((_, e)) = chars.next() {
                        val.push(if e == 'n' { '\n' } else { e })
                    }
                }
                '"' => {
                    end = Some(eq + 2 + i + 1);
                    break;
                }
                other => val.push(other),
            }
        }
        let end = end.ok_or_else(|| format!("unterminated label value in {series:?}"))?;
        labels.push((key, val));
        rest = rest[end..].trim_start_matches(',').trim_start();
    }
    labels.sort();
    Ok((name, labels))
}

fn series_key(name: &str, labels: &[(String, String)]) -> String {
    if labels.is_empty() {
        return name.to_string();
    }
    let l: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
    format!("{name}{{{}}}", l.join(","))
}

impl Counters {
    pub fn parse(text: &str) -> Result<Counters, String> {
        let mut values = BTreeMap::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            // The series ends at the closing brace, or at the first blank.
            let split = match line.find('{') {
                Some(_) => line
                    .rfind('}')
                    .map(|i| i + 1)
                    .ok_or_else(|| format!("line {}: unclosed labels: {line}", n + 1))?,
                None => line
                    .find(char::is_whitespace)
                    .ok_or_else(|| format!("line {}: no value: {line}", n + 1))?,
            };
            let (name, labels) = parse_series(&line[..split])?;
            let value = line[split..]
                .split_whitespace()
                .next()
                .ok_or_else(|| format!("line {}: no value: {line}", n + 1))?;
            let value: f64 = value
                .parse()
                .map_err(|e| format!("line {}: value {value:?}: {e}", n + 1))?;
            values.insert(series_key(&name, &labels), value);
        }
        Ok(Counters { values })
    }

    /// The sum of every series of metric `name` whose labels include all of
    /// `labels` (so `nat64_drops_total{reason="x"}` matches whatever other
    /// labels the series carries); `None` when no series matches.
    pub fn try_get(&self, query: &str) -> Option<f64> {
        let (name, want) = parse_series(query).expect("series syntax");
        let mut found = None;
        for (k, v) in &self.values {
            let (n, labels) = parse_series(k).expect("stored key");
            if n == name && want.iter().all(|w| labels.contains(w)) {
                *found.get_or_insert(0.0) += v;
            }
        }
        found
    }

    /// [`Counters::try_get`], panicking (with every series listed) when no
    /// series matches: a misnamed metric or label fails loudly.
    pub fn get(&self, query: &str) -> f64 {
        self.try_get(query).unwrap_or_else(|| {
            panic!(
                "no series {query} in the counters file; it has:\n{}",
                self.dump()
            )
        })
    }

    /// Every series whose value is non-zero and whose key starts with `prefix`.
    pub fn nonzero(&self, prefix: &str) -> Vec<(String, f64)> {
        self.values
            .iter()
            .filter(|(k, v)| k.starts_with(prefix) && **v != 0.0)
            .map(|(k, v)| (k.clone(), *v))
            .collect()
    }

    pub fn dump(&self) -> String {
        let mut s = String::new();
        for (k, v) in &self.values {
            let _ = writeln!(s, "{k} {v}");
        }
        s
    }

    /// Asserts `query >= min`, printing every counter otherwise.
    pub fn assert_ge(&self, query: &str, min: f64) {
        let v = self.get(query);
        assert!(
            v >= min,
            "{query} = {v}, expected >= {min}; counters:\n{}",
            self.dump()
        );
    }

    /// Asserts `query == want`, printing every counter otherwise.
    pub fn assert_eq(&self, query: &str, want: f64) {
        let v = self.get(query);
        assert!(
            v == want,
            "{query} = {v}, expected {want}; counters:\n{}",
            self.dump()
        );
    }
}

// ---------------------------------------------------------------------------
// The translator

/// What a test wants of the box.
#[derive(Clone, Debug)]
pub struct Setup {
    /// EAL core list, e.g. `-l 0-1` (one worker) or
    /// `--lcores 0@0,(1-4)@1` (four workers on one CPU).
    pub lcores: Vec<String>,
    /// Extra `[pool4]` lines (block_size, max_blocks_per_subscriber...).
    pub pool4: String,
    /// `[[static_bib]]` entries: (protocol, "[v6]:port", "v4:port").
    pub static_bib: Vec<(&'static str, String, String)>,
    /// Extra addresses for the client namespace (other subscribers), /128.
    pub client_addrs: Vec<Ipv6Addr>,
    /// Extra `[timeouts]` lines.
    pub timeouts: String,
    /// Extra `[translation]` lines.
    pub translation: String,
    /// `[filtering]` lines.
    pub filtering: String,
    /// Extra `[inside]` lines (`subscribers`, `kernel_allow`).
    pub inside: String,
    /// Extra `[outside]` lines (`kernel_allow`, `kernel_pps`).
    pub outside: String,
    /// The `[dns64]` section's lines (`enabled = false` by default).
    pub dns64: String,
    /// `logging.events`; `None`: `file:` in the lab's directory
    /// (`events.log`).
    pub events: Option<String>,
    /// `metrics.listen` (`127.0.0.1:0` by default: a port of its own).
    pub metrics_listen: String,
    /// Extra `[metrics]` lines (`allow`).
    pub metrics: String,
    /// More of the binary's own options (after `--`).
    pub args: Vec<String>,
    /// `outside.mtu` (1500 by default, as the lab's links): lower, the box
    /// refuses bigger DF packets with Packet Too Big (RFC 7915 §5.1).
    pub outside_mtu: u16,
}

impl Default for Setup {
    fn default() -> Setup {
        Setup {
            lcores: vec!["-l".into(), "0-1".into()],
            pool4: String::new(),
            static_bib: Vec::new(),
            client_addrs: Vec::new(),
            timeouts: String::new(),
            translation: String::new(),
            filtering: String::new(),
            inside: String::new(),
            outside: String::new(),
            dns64: "enabled = false".into(),
            events: None,
            metrics_listen: "127.0.0.1:0".into(),
            metrics: String::new(),
            args: Vec::new(),
            outside_mtu: 1500,
        }
    }
}

/// The configuration file for one run.
fn config_text(s: &Setup, dev_in: &str, dev_out: &str, tag: &str, dir: &TempDir) -> String {
    // Exception TAPs of its own per run, so that runs never share a kernel
    // interface (or its addresses).
    let (kin, kout) = (
        format!("kernel_iface = \"n6k{tag}i\"\n"),
        format!("kernel_iface = \"n6k{tag}o\"\n"),
    );
    let mut t = format!(
        r#"# written by tests/common/mod.rs
[translation]
prefix = "{PREFIX}"
# The lab's server is on the outside link, denied by default.
deny4 = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]
{translation}
[pool4]
addresses = ["{POOL}"]
{pool4}
[timeouts]
{timeouts}
[filtering]
{filtering}
[inside]
device = "{dev_in}"
address = "{BOX6}/64"
gateway = "{CLIENT6}"
mtu = 1500
{kin}{inside}
[outside]
device = "{dev_out}"
address = "{BOX4}/24"
gateway = "{SERVER4}"
mtu = {outside_mtu}
{kout}{outside}
[workers]
burst = 32
mbufs_per_worker = 4096
max_sessions_per_worker = 16384

[dns64]
{dns64}

[metrics]
listen = "{metrics_listen}"
{metrics}

[logging]
level = "info"
events = "{events}"
"#,
        pool4 = s.pool4,
        timeouts = s.timeouts,
        filtering = s.filtering,
        translation = s.translation,
        inside = s.inside,
        outside = s.outside,
        dns64 = s.dns64,
        metrics_listen = s.metrics_listen,
        metrics = s.metrics,
        outside_mtu = s.outside_mtu,
        events = s
            .events
            .clone()
            .unwrap_or_else(|| format!("file:{}", dir.join("events.log").display())),
    );
    for (proto, v6, v4) in &s.static_bib {
        let _ = write!(
            t,
            "\n[[static_bib]]\nprotocol = \"{proto}\"\nipv6 = \"{v6}\"\nipv4 = \"{v4}\"\n"
        );
    }
    t
}

/// The configuration file of a lab, in its directory.
const CONFIG_FILE: &str = "nat64.toml";

/// The net_tap devices (inside, outside) of the lab `tag`.
fn devices(tag: &str) -> (String, String) {
    (format!("net_tap_e{tag}i"), format!("net_tap_e{tag}o"))
}

/// The running `nat64-dpdk` process; killed on drop if the test did not
/// stop it.
pub struct Nat64 {
    child: Option<Child>,
    log: Arc<Mutex<Vec<String>>>,
    pub counters_path: PathBuf,
    pub file_prefix: String,
    pub started: Instant,
    /// A panic message already carries the log.
    log_shown: bool,
}

impl Nat64 {
    /// The log so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    /// Starts the binary and waits (60 s at most) for `forwarding:`.
    fn start(
        eal: Vec<String>,
        config: &Path,
        counters: PathBuf,
        file_prefix: String,
        args: &[String],
    ) -> Nat64 {
        let mut cmd = Command::new(BIN);
        cmd.args(&eal)
            .arg("--")
            .arg("--config")
            .arg(config)
            .arg("--counters")
            .arg(&counters)
            .args(args)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn nat64-dpdk");
        let log = Arc::new(Mutex::new(vec![format!(
            "$ {BIN} {} -- --config {} --counters {}",
            eal.join(" "),
            config.display(),
            counters.display()
        )]));
        let streams: [Box<dyn std::io::Read + Send>; 2] = [
            Box::new(child.stdout.take().unwrap()),
            Box::new(child.stderr.take().unwrap()),
        ];
        for s in streams {
            let log = log.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(s).lines().map_while(Result::ok) {
                    log.lock().unwrap().push(line);
                }
            });
        }
        let mut nat = Nat64 {
            child: Some(child),
            log,
            counters_path: counters,
            file_prefix,
            started: Instant::now(),
            log_shown: true,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            {
                let log = nat.log.lock().unwrap();
                if log.iter().any(|l| l.contains("forwarding:")) {
                    break;
                }
                if log
                    .iter()
                    .any(|l| l.contains("forwarding is not implemented yet"))
                {
                    drop(log);
                    panic!(
                        "this nat64-dpdk has no dataplane yet (no `forwarding:` line); log:\n{}",
                        nat.log()
                    );
                }
            }
            if let Some(st) = nat.child.as_mut().unwrap().try_wait().unwrap() {
                std::thread::sleep(Duration::from_millis(200)); // let the readers finish
                panic!(
                    "nat64-dpdk exited ({st}) before `forwarding:`; log:\n{}",
                    nat.log()
                );
            }
            if Instant::now() > deadline {
                panic!("no `forwarding:` within 60 s; log:\n{}", nat.log());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        nat.log_shown = false;
        nat
    }

    /// The counters file as last written (the binary rewrites it every
    /// 100 ms while running, and at exit). Waits up to 5 s for it to exist.
    pub fn counters(&self) -> Counters {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            match std::fs::read_to_string(&self.counters_path) {
                Ok(text) if !text.is_empty() => {
                    return Counters::parse(&text).unwrap_or_else(|e| {
                        panic!(
                            "counters file {}: {e}:\n{text}",
                            self.counters_path.display()
                        )
                    })
                }
                _ if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
                r => panic!(
                    "no counters file {} ({r:?}); log:\n{}",
                    self.counters_path.display(),
                    self.log()
                ),
            }
        }
    }

    /// The address of the HTTP listener (`metrics.listen`), from the
    /// start-up log's `http: listening on ADDR` line.
    pub fn http_addr(&self) -> std::net::SocketAddr {
        let log = self.log();
        log.lines()
            .find_map(|l| l.split("http: listening on ").nth(1))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("no `http: listening on` line in the log:\n{log}"))
    }

    /// Counters after `ms` more milliseconds: at least one fresh write.
    pub fn counters_fresh(&self) -> Counters {
        std::thread::sleep(Duration::from_millis(350));
        self.counters()
    }

    /// Sends `sig` (`HUP`) and waits (10 s at most) for a new log line
    /// containing `marker`; that line.
    pub fn signal_and_wait(&self, sig: &str, marker: &str) -> String {
        let seen = self.log.lock().unwrap().len();
        let child = self.child.as_ref().expect("running");
        signal(child.id() as i32, sig);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(line) = self.log.lock().unwrap()[seen..]
                .iter()
                .find(|l| l.contains(marker))
            {
                return line.clone();
            }
            if Instant::now() > deadline {
                panic!(
                    "no {marker:?} line within 10 s of SIG{sig}; log:\n{}",
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGINT, then waits (30 s at most) for exit status 0; the counters it
    /// wrote at exit.
    pub fn stop(&mut self) -> Counters {
        let mut child = self.child.take().expect("stopped twice");
        let _ = std::fs::remove_file(&self.counters_path);
        signal(child.id() as i32, "INT");
        let deadline = Instant::now() + Duration::from_secs(30);
        let status = loop {
            if let Some(st) = child.try_wait().unwrap() {
                break st;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("still running 30 s after SIGINT; log:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        std::thread::sleep(Duration::from_millis(100)); // the log readers drain
        assert_eq!(
            status.code(),
            Some(0),
            "nat64-dpdk did not exit cleanly on SIGINT ({status}); log:\n{}",
            self.log()
        );
        let text = std::fs::read_to_string(&self.counters_path).unwrap_or_else(|e| {
            panic!(
                "no counters file {} after exit ({e}); log:\n{}",
                self.counters_path.display(),
                self.log()
            )
        });
        Counters::parse(&text).unwrap_or_else(|e| panic!("counters at exit: {e}:\n{text}"))
    }
}

impl Drop for Nat64 {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            if let Ok(None) = child.try_wait() {
                let _ = child.kill();
                let _ = child.wait();
            }
            if std::thread::panicking() && !self.log_shown {
                eprintln!(
                    "---- nat64-dpdk log ----\n{}\n------------------------",
                    self.log()
                );
            }
        }
        let _ = std::fs::remove_dir_all(format!("/var/run/dpdk/{}", self.file_prefix));
    }
}

// ---------------------------------------------------------------------------
// The lab: client and server namespaces around a running box

/// A client namespace, a server namespace and nat64-dpdk between them.
/// Fields drop in order: background processes, the box, the namespaces,
/// the temp dir.
pub struct Lab {
    pub bg: Vec<Bg>,
    pub nat: Nat64,
    pub client: Netns,
    pub server: Netns,
    /// The client's and the server's TAP interface names.
    pub client_if: String,
    pub server_if: String,
    pub dir: TempDir,
    pub tag: String,
}

impl Lab {
    /// Everything up and addressed; `None` (with the reason printed) when
    /// this machine cannot run the tests.
    pub fn start(setup: Setup) -> Option<Lab> {
        if let Err(why) = can_run() {
            eprintln!("skipped: {why}");
            return None;
        }
        require_tools(&["ip", "ss", "bash", "timeout", "python3", "curl", "ping"]);
        let tag = unique();
        let dir = TempDir::new(&tag);
        let client = Netns::new("c");
        let server = Netns::new("s");
        let (dev_in, dev_out) = devices(&tag);
        let (client_if, server_if) = (format!("n6t{tag}i"), format!("n6t{tag}o"));
        let config = dir.join(CONFIG_FILE);
        std::fs::write(&config, config_text(&setup, &dev_in, &dev_out, &tag, &dir)).unwrap();
        let file_prefix = format!("n64e2e{tag}");
        let mut eal = setup.lcores.clone();
        eal.extend(
            [
                "--no-pci",
                "--no-huge",
                "-m",
                "512",
                "--file-prefix",
                &file_prefix,
                "--vdev",
                &format!("{dev_in},iface={client_if}"),
                "--vdev",
                &format!("{dev_out},iface={server_if}"),
            ]
            .map(String::from),
        );
        let nat = Nat64::start(
            eal,
            &config,
            dir.join("counters.prom"),
            file_prefix,
            &setup.args,
        );
        let lab = Lab {
            bg: Vec::new(),
            nat,
            client,
            server,
            client_if,
            server_if,
            dir,
            tag,
        };
        lab.wire_client(&setup.client_addrs);
        lab.wire_server();
        Some(lab)
    }

    /// Rewrites the configuration file as `setup` says (the same devices
    /// and interfaces), sends SIGHUP and waits (10 s at most) for the box
    /// to log the outcome: the line with `reload`. Panics without one.
    pub fn reload(&self, setup: &Setup) -> String {
        let (dev_in, dev_out) = devices(&self.tag);
        let text = config_text(setup, &dev_in, &dev_out, &self.tag, &self.dir);
        std::fs::write(self.dir.join(CONFIG_FILE), text).unwrap();
        self.nat.signal_and_wait("HUP", "reload")
    }

    /// The inside TAP into the client namespace: IPv6 only, the NAT64
    /// prefix routed via the box.
    fn wire_client(&self, extra: &[Ipv6Addr]) {
        let i = &self.client_if;
        host_ok(&format!("ip link set {i} netns {}", self.client.name));
        let mut s = format!(
            "set -e
sysctl -qw net.ipv6.conf.all.accept_ra=0 net.ipv6.conf.default.accept_ra=0
sysctl -qw net.ipv6.conf.{i}.accept_ra=0 || true
ip link set {i} address {CLIENT_MAC}
ip link set {i} up
ip addr add {CLIENT6}/64 dev {i} nodad
"
        );
        for a in extra {
            let _ = writeln!(s, "ip addr add {a}/128 dev {i} nodad");
        }
        let _ = writeln!(
            s,
            "ip -6 route add {PREFIX} via {BOX6} dev {i} src {CLIENT6}"
        );
        self.client.ok(&s);
    }

    /// The outside TAP into the server namespace: IPv4 only, the pool
    /// routed via the box; no ICMP rate limit (traceroute wants every
    /// port unreachable).
    fn wire_server(&self) {
        let i = &self.server_if;
        host_ok(&format!("ip link set {i} netns {}", self.server.name));
        self.server.ok(&format!(
            "set -e
sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
sysctl -qw net.ipv4.icmp_ratelimit=0
ip link set {i} address {SERVER_MAC}
ip link set {i} up
ip addr add {SERVER4}/24 dev {i}
ip route add {POOL} via {BOX4} dev {i}
"
        ));
    }

    /// Starts a background process in the client namespace, kept until the
    /// lab goes.
    pub fn client_bg(&mut self, tag: &str, script: &str) -> usize {
        let bg = self.client.spawn(&self.dir, tag, script);
        self.bg.push(bg);
        self.bg.len() - 1
    }

    /// A background process in the root namespace (where the box's kernel
    /// side, the exception TAPs, lives).
    pub fn host_bg(&mut self, tag: &str, script: &str) -> usize {
        let bg = spawn_in(None, &self.dir, tag, script);
        self.bg.push(bg);
        self.bg.len() - 1
    }

    /// The kernel interface of the box's exception TAP on the inside (`'i'`)
    /// or outside (`'o'`): `inside.kernel_iface` / `outside.kernel_iface`.
    pub fn kernel_if(&self, side: char) -> String {
        format!("n6k{}{side}", self.tag)
    }

    pub fn server_bg(&mut self, tag: &str, script: &str) -> usize {
        let bg = self.server.spawn(&self.dir, tag, script);
        self.bg.push(bg);
        self.bg.len() - 1
    }

    /// Writes `name` into the lab directory; its path.
    pub fn file(&self, name: &str, content: &[u8]) -> PathBuf {
        let p = self.dir.join(name);
        let mut f = std::fs::File::create(&p).expect("create file");
        f.write_all(content).expect("write file");
        p
    }

    /// An IPv4-only HTTP server (python3 http.server) in the server
    /// namespace on SERVER4:80, serving `<dir>/www`; its index in `bg`.
    pub fn http_server_v4(&mut self) -> usize {
        let www = self.dir.join("www");
        std::fs::create_dir_all(&www).unwrap();
        let i = self.server_bg(
            "http4",
            &format!(
                "python3 -u -m http.server --bind {SERVER4} --directory {} 80",
                www.display()
            ),
        );
        self.server.wait_listening("tcp", 80);
        i
    }

    /// sha256 of a file, by `sha256sum` (an implementation of its own).
    pub fn sha256(path: &Path) -> String {
        let out = host_ok(&format!("sha256sum '{}'", path.display()));
        out.split_whitespace().next().unwrap_or("").to_string()
    }

    /// SIGINT, clean exit, and the final counters.
    pub fn stop(&mut self) -> Counters {
        self.bg.clear();
        self.nat.stop()
    }
}

/// Python helpers written into a lab's directory.
pub const UDP_ECHO_PY: &str = r#"
import socket, sys
fam = socket.AF_INET6 if ':' in sys.argv[1] else socket.AF_INET
s = socket.socket(fam, socket.SOCK_DGRAM)
s.bind((sys.argv[1], int(sys.argv[2])))
while True:
    data, peer = s.recvfrom(65535)
    s.sendto(data, peer)
"#;

/// `udp_flows.py SRC DST PORT N WAIT`: N UDP sockets bound to SRC (each its
/// own source port), each sends one datagram to DST:PORT; then for WAIT
/// seconds collects what comes back. Then the sockets that got an answer
/// send once more. Prints `replied=A errors=B silent=C again=D` where errors
/// are ICMP errors reported on the socket (e.g. EHOSTUNREACH).
pub const UDP_FLOWS_PY: &str = r#"
import socket, sys, time, select, errno
src, dst, port, n, wait = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
socks = []
for i in range(n):
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    # Report every ICMPv6 error on the socket: without IPV6_RECVERR Linux
    # reports only "fatal" ones (port unreachable, prohibited), not the
    # destination unreachable code 3 (address unreachable) of RFC 6146
    # section 3.5.1.1 that a refused mapping gets (RFC 6888 REQ-11).
    s.setsockopt(socket.IPPROTO_IPV6, getattr(socket, "IPV6_RECVERR", 25), 1)
    s.bind((src, 0))
    s.connect((dst, port))
    s.setblocking(False)
    socks.append(s)
for i, s in enumerate(socks):
    s.send(b"flow %d" % i)
    time.sleep(0.002)
state = {}
kinds = {}
deadline = time.time() + wait
while len(state) < n and time.time() < deadline:
    pending = [s for s in socks if s.fileno() not in state]
    r, _, _ = select.select(pending, [], [], max(0.0, deadline - time.time()))
    for s in r:
        try:
            s.recv(2048)
            state[s.fileno()] = "ok"
        except OSError as e:
            state[s.fileno()] = "err"
            kinds[errno.errorcode.get(e.errno, str(e.errno))] = kinds.get(errno.errorcode.get(e.errno, str(e.errno)), 0) + 1
ok = [s for s in socks if state.get(s.fileno()) == "ok"]
for s in ok:
    s.send(b"again")
again = 0
deadline = time.time() + wait
pending = list(ok)
while pending and time.time() < deadline:
    r, _, _ = select.select(pending, [], [], max(0.0, deadline - time.time()))
    for s in r:
        try:
            s.recv(2048)
            again += 1
        except OSError:
            pass
        pending.remove(s)
vals = list(state.values())
print("replied=%d errors=%d silent=%d again=%d kinds=%s" % (vals.count("ok"), vals.count("err"), n - len(vals), again, ",".join("%s:%d" % kv for kv in sorted(kinds.items()))))
"#;

/// `tcp_peer.py LISTEN_ADDR PORT [DEVICE]`: for each TCP connection, sends
/// back `peer <addr> <port> got <what it read>`, then closes. With DEVICE
/// the socket is bound to that interface (SO_BINDTODEVICE).
pub const TCP_PEER_PY: &str = r#"
import socket, sys
fam = socket.AF_INET6 if ':' in sys.argv[1] else socket.AF_INET
s = socket.socket(fam, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
if len(sys.argv) > 3:
    s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, sys.argv[3].encode())
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen(64)
while True:
    c, peer = s.accept()
    c.settimeout(10)
    try:
        data = c.recv(1024)
        c.sendall(b"peer %s %d got %s\n" % (peer[0].encode(), peer[1], data.strip()))
    except OSError:
        pass
    c.close()
"#;

/// `tcp_connect.py SRC DST PORT MSG`: connects from SRC, sends MSG, prints
/// the answer.
pub const TCP_CONNECT_PY: &str = r#"
import socket, sys
fam = socket.AF_INET6 if ':' in sys.argv[2] else socket.AF_INET
s = socket.socket(fam, socket.SOCK_STREAM)
s.settimeout(15)
s.bind((sys.argv[1], 0))
s.connect((sys.argv[2], int(sys.argv[3])))
s.sendall(sys.argv[4].encode() + b"\n")
out = b""
while True:
    d = s.recv(4096)
    if not d:
        break
    out += d
print(out.decode().strip())
"#;

/// `udp_big_server.py ADDR PORT LEN`: answers every UDP datagram with one
/// of LEN bytes (a pattern seeded by the request's length), sent without
/// DF (IP_PMTUDISC_DONT) so the kernel fragments it; prints
/// `got=N sha=HEX` per request.
pub const UDP_BIG_SERVER_PY: &str = r#"
import hashlib, socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
# IP_MTU_DISCOVER = IP_PMTUDISC_DONT: fragments leave with DF clear.
s.setsockopt(socket.IPPROTO_IP, 10, 0)
s.bind((sys.argv[1], int(sys.argv[2])))
n = int(sys.argv[3])
while True:
    data, peer = s.recvfrom(65535)
    print("got=%d sha=%s" % (len(data), hashlib.sha256(data).hexdigest()), flush=True)
    s.sendto(bytes((i * 13 + len(data)) % 251 for i in range(n)), peer)
"#;

/// `udp_big_client.py DST PORT LEN COUNT`: sends COUNT datagrams of LEN
/// bytes (a pattern) over IPv6 and waits for each answer; prints
/// `sent=COUNT sha=HEX` (of one request) and `answers=A whole=W` where
/// whole counts answers of LEN bytes with the server's pattern.
pub const UDP_BIG_CLIENT_PY: &str = r#"
import hashlib, socket, sys
dst, port, n, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.settimeout(3)
req = bytes((i * 7) % 253 for i in range(n))
want = bytes((i * 13 + n) % 251 for i in range(n))
answers = whole = 0
for _ in range(count):
    s.sendto(req, (dst, port))
    try:
        data, _ = s.recvfrom(65535)
    except socket.timeout:
        continue
    answers += 1
    whole += data == want
print("sent=%d sha=%s" % (count, hashlib.sha256(req).hexdigest()))
print("answers=%d whole=%d" % (answers, whole))
"#;

/// `atomic_ping.py IFACE SRC DST` (Debian's /usr/bin/python3 with scapy):
/// sends an ICMPv6 echo request carrying a Fragment header with offset 0
/// and M = 0 (an atomic fragment, RFC 6946) through the kernel (a raw
/// socket: routing and ND are the kernel's) and prints `replied=N`, the
/// echo replies from DST with its identifier seen on IFACE.
pub const ATOMIC_PING_PY: &str = r#"
import sys, time
from scapy.all import IPv6, IPv6ExtHdrFragment, ICMPv6EchoRequest, ICMPv6EchoReply, AsyncSniffer
from scapy.layers.inet6 import L3RawSocket6
iface, src, dst = sys.argv[1:4]
sn = AsyncSniffer(iface=iface, store=True,
                  lfilter=lambda x: ICMPv6EchoReply in x and x[ICMPv6EchoReply].id == 0x4242)
sn.start()
time.sleep(1)
p = IPv6(src=src, dst=dst) / IPv6ExtHdrFragment(offset=0, m=0, id=0x1234) / \
    ICMPv6EchoRequest(id=0x4242, seq=1, data=b"atomic fragment")
s = L3RawSocket6()
for _ in range(3):
    s.send(p)
    time.sleep(0.5)
time.sleep(1.5)
got = sn.stop()
print("replied=%d" % len([x for x in got if x[IPv6].src == dst]))
"#;

/// `frag_flood.py SRC N`: N first fragments (MF set, offset 0) of
/// 3008-byte UDP datagrams, each with its own identification, to the pool
/// addresses 203.0.113.1-14, whose other fragments never come; written
/// with `struct` onto a raw socket (IP_HDRINCL; the kernel fills in the
/// header checksum), fast enough for one window. Prints `sent=N`.
pub const FRAG_FLOOD_PY: &str = r#"
import socket, struct, sys
src, n = sys.argv[1], int(sys.argv[2])
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
body = b"x" * 1472
for i in range(n):
    dst = "203.0.113.%d" % (1 + i % 14)
    # Version/IHL, TOS, total length, identification, flags (MF) and
    # offset 0, TTL, protocol UDP, checksum (kernel), source, destination.
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 1500, i & 0xffff, 0x2000, 64, 17, 0,
                     socket.inet_aton(src), socket.inet_aton(dst))
    udp = struct.pack("!HHHH", 40000, 20000 + i % 1000, 3008, 0x1234)
    s.sendto(ip + udp + body, (dst, 0))
print("sent=%d" % n)
"#;
