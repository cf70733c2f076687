//! `nat64-pktgen`: a traffic generator for benchmarking nat64-dpdk (and,
//! for comparison, `dpdk-testpmd --forward-mode=macswap`) over DPDK
//! virtual devices. `scripts/bench-dataplane.sh` drives it.
//!
//! ```text
//! nat64-pktgen [EAL options] -- --inside PORT --outside PORT --flows N
//!              [--seconds S] [--warmup-seconds S] [--synthetic]
//! ```
//!
//! It owns two ports: `--inside` faces the device under test's IPv6 port,
//! `--outside` its IPv4 port. It makes `N` established UDP flows and
//! measures each direction in turn:
//!
//! 1. **Warm-up** (skipped with `--synthetic`): every flow's IPv6 packet
//!    (subscriber `2001:db8:SSSS:SS00::1` port `1024 + i % 1000` to
//!    `[2001:db8:64::192.0.2.1]:7000`, the flow index in the payload) is sent
//!    out of `--inside` until its translation has come back on `--outside`;
//!    the translated source (pool address, port) is the flow's mapping.
//! 2. **6to4**: IPv6 packets of all flows, round robin, as fast as the
//!    inside port takes them, for `--seconds`; received packets on
//!    `--outside` are counted.
//! 3. **4to6**: IPv4 replies from `192.0.2.1:7000` to each flow's mapping,
//!    out of `--outside`; received packets on `--inside` are counted.
//!
//! `--synthetic` (for a forwarder that does not translate, such as
//! macswap): no warm-up, mappings are made up (`203.0.113.x`), and every
//! frame that comes back counts. Frames are the same sizes either way: 80
//! bytes of IPv6 UDP, 60 bytes of IPv4 UDP (18 bytes of payload).
//!
//! Output: one line per direction on stdout,
//! `result dir=6to4 flows=N seconds=S offered_mpps=X rx_mpps=Y tx_full=F`,
//! plus `warmup flows=N learned=M seconds=S`. `tx_full` is the share of tx
//! bursts the forwarder's port did not take whole: near 0 means the
//! generator, not the forwarder, set the pace. With `--forwarder-pid`,
//! `fwd_cpu=C`: the CPU-seconds per second the forwarder got meanwhile
//! (1.0 on an idle machine); `rx_mpps / C` is its rate per CPU-second.
//!
//! Checksums are right (precomputed per flow), so a forwarder that checks
//! them drops nothing.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use nat64_dpdk::dpdk::{
    tsc_cycles, tsc_hz, Burst, Eal, MacAddr, Mempool, Port, PortConfig, RxQueue, TxQueue,
    SOCKET_ANY,
};

/// Traffic generator for nat64-dpdk benchmarks (see the module docs).
#[derive(Parser, Debug)]
#[command(name = "nat64-pktgen")]
struct Opts {
    /// DPDK device facing the forwarder's inside (IPv6) port.
    #[arg(long)]
    inside: String,
    /// DPDK device facing the forwarder's outside (IPv4) port.
    #[arg(long)]
    outside: String,
    /// Number of UDP flows (sessions).
    #[arg(long, default_value_t = 1000)]
    flows: u32,
    /// Measuring time per direction.
    #[arg(long, default_value_t = 3.0)]
    seconds: f64,
    /// Give up the warm-up after this long.
    #[arg(long, default_value_t = 60.0)]
    warmup_seconds: f64,
    /// No warm-up; made-up mappings; every returning frame counts.
    #[arg(long)]
    synthetic: bool,
    /// Destination MAC of frames sent out of --inside: the forwarder's
    /// inside port.
    #[arg(long, default_value = "02:00:00:00:00:01")]
    inside_peer_mac: String,
    /// Destination MAC of frames sent out of --outside: the forwarder's
    /// outside port.
    #[arg(long, default_value = "02:00:00:00:00:02")]
    outside_peer_mac: String,
    /// Measure only this direction (6to4 or 4to6); both by default.
    #[arg(long)]
    only: Option<String>,
    /// The forwarder's process id: report the CPU time it used while
    /// measuring (`fwd_cpu`, CPU-seconds per second), so that a busy
    /// machine's share can be divided out.
    #[arg(long)]
    forwarder_pid: Option<u32>,
}

/// CPU time all threads of process `pid` have had, in seconds
/// (`/proc/PID/task/*/schedstat`, nanoseconds on the CPU); `None` if /proc
/// cannot tell.
fn cpu_seconds(pid: u32) -> Option<f64> {
    let mut ns: u64 = 0;
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).ok()? {
        let path = task.ok()?.path().join("schedstat");
        // A thread may have ended meanwhile: it no longer counts.
        let Ok(text) = std::fs::read_to_string(path) else {
            continue;
        };
        ns += text.split_whitespace().next()?.parse::<u64>().ok()?;
    }
    Some(ns as f64 / 1e9)
}

const BURST: usize = 32;
const PAYLOAD: usize = 18;
const ETH: usize = 14;
const V6_FRAME: usize = ETH + 40 + 8 + PAYLOAD; // 80
const V4_FRAME: usize = ETH + 20 + 8 + PAYLOAD; // 60
const SERVER: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const SERVER_PORT: u16 = 7000;
const FLOWS_PER_SUBSCRIBER: u32 = 1000;

fn parse_mac(s: &str) -> Result<[u8; 6], String> {
    let parts: Vec<u8> = s
        .split(':')
        .map(|p| u8::from_str_radix(p, 16))
        .collect::<Result<_, _>>()
        .map_err(|_| format!("bad MAC {s}"))?;
    parts.try_into().map_err(|_| format!("bad MAC {s}"))
}

/// RFC 1071 one's-complement sum of `b` (not folded, not complemented).
fn sum16(b: &[u8]) -> u32 {
    b.chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
        .sum()
}

fn fold(mut s: u32) -> u16 {
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    s as u16
}

/// Flow `i`'s subscriber address and source port.
fn flow_v6(i: u32) -> (Ipv6Addr, u16) {
    let s = i / FLOWS_PER_SUBSCRIBER;
    let addr = Ipv6Addr::new(
        0x2001,
        0x0db8,
        0xa000 | (s >> 8) as u16,
        ((s & 0xff) << 8) as u16,
        0,
        0,
        0,
        1,
    );
    (addr, 1024 + (i % FLOWS_PER_SUBSCRIBER) as u16)
}

/// RFC 6052 /96 under 2001:db8:64::/96.
fn embed(v4: Ipv4Addr) -> Ipv6Addr {
    let o = v4.octets();
    Ipv6Addr::new(
        0x2001,
        0x0db8,
        0x64,
        0,
        0,
        0,
        u16::from_be_bytes([o[0], o[1]]),
        u16::from_be_bytes([o[2], o[3]]),
    )
}

/// The fixed payload with the flow index in its first 4 bytes.
fn payload(i: u32) -> [u8; PAYLOAD] {
    let mut p = *b"....nat64-pktgen!!";
    p[..4].copy_from_slice(&i.to_be_bytes());
    p
}

/// Frame templates and per-flow fields for both directions.
struct Traffic {
    v6: [u8; V6_FRAME],
    v4: [u8; V4_FRAME],
    /// Per flow: the UDP checksum of its IPv6 packet.
    v6_csum: Vec<u16>,
    /// Per flow: its mapping (pool address, port); `None` until learned.
    map: Vec<Option<(Ipv4Addr, u16)>>,
    /// Per flow: IPv4 header checksum and UDP checksum of its reply.
    v4_csum: Vec<(u16, u16)>,
}

impl Traffic {
    fn new(
        flows: u32,
        in_mac: [u8; 6],
        in_peer: [u8; 6],
        out_mac: [u8; 6],
        out_peer: [u8; 6],
    ) -> Traffic {
        let mut v6 = [0u8; V6_FRAME];
        v6[0..6].copy_from_slice(&in_peer);
        v6[6..12].copy_from_slice(&in_mac);
        v6[12..14].copy_from_slice(&0x86ddu16.to_be_bytes());
        let ip = &mut v6[ETH..];
        ip[0] = 0x60;
        ip[4..6].copy_from_slice(&((8 + PAYLOAD) as u16).to_be_bytes());
        ip[6] = 17;
        ip[7] = 64;
        ip[24..40].copy_from_slice(&embed(SERVER).octets());
        ip[42..44].copy_from_slice(&SERVER_PORT.to_be_bytes());
        ip[44..46].copy_from_slice(&((8 + PAYLOAD) as u16).to_be_bytes());

        let mut v4 = [0u8; V4_FRAME];
        v4[0..6].copy_from_slice(&out_peer);
        v4[6..12].copy_from_slice(&out_mac);
        v4[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
        let ip = &mut v4[ETH..];
        ip[0] = 0x45;
        ip[2..4].copy_from_slice(&((20 + 8 + PAYLOAD) as u16).to_be_bytes());
        ip[6] = 0x40; // DF
        ip[8] = 64;
        ip[9] = 17;
        ip[12..16].copy_from_slice(&SERVER.octets());
        ip[20..22].copy_from_slice(&SERVER_PORT.to_be_bytes());
        ip[24..26].copy_from_slice(&((8 + PAYLOAD) as u16).to_be_bytes());

        let v6_csum = (0..flows)
            .map(|i| {
                let (src, sport) = flow_v6(i);
                let len = (8 + PAYLOAD) as u32;
                let s = sum16(&src.octets())
                    + sum16(&embed(SERVER).octets())
                    + len
                    + 17
                    + u32::from(sport)
                    + u32::from(SERVER_PORT)
                    + len
                    + sum16(&payload(i));
                match !fold(s) {
                    0 => 0xffff,
                    c => c,
                }
            })
            .collect();
        Traffic {
            v6,
            v4,
            v6_csum,
            map: vec![None; flows as usize],
            v4_csum: vec![(0, 0); flows as usize],
        }
    }

    fn flows(&self) -> u32 {
        self.map.len() as u32
    }

    /// Flow `i`'s IPv6 frame into `d` (`V6_FRAME` bytes).
    #[inline]
    fn write_v6(&self, d: &mut [u8], i: u32) {
        d.copy_from_slice(&self.v6);
        let (src, sport) = flow_v6(i);
        let ip = &mut d[ETH..];
        ip[8..24].copy_from_slice(&src.octets());
        ip[40..42].copy_from_slice(&sport.to_be_bytes());
        ip[46..48].copy_from_slice(&self.v6_csum[i as usize].to_be_bytes());
        ip[48..48 + PAYLOAD].copy_from_slice(&payload(i));
    }

    /// Flow `i`'s IPv4 reply into `d` (`V4_FRAME` bytes); false if unmapped.
    #[inline]
    fn write_v4(&self, d: &mut [u8], i: u32) -> bool {
        let Some((t, port)) = self.map[i as usize] else {
            return false;
        };
        let (ipc, udpc) = self.v4_csum[i as usize];
        d.copy_from_slice(&self.v4);
        let ip = &mut d[ETH..];
        ip[10..12].copy_from_slice(&ipc.to_be_bytes());
        ip[16..20].copy_from_slice(&t.octets());
        ip[22..24].copy_from_slice(&port.to_be_bytes());
        ip[26..28].copy_from_slice(&udpc.to_be_bytes());
        ip[28..28 + PAYLOAD].copy_from_slice(&payload(i));
        true
    }

    /// Record flow `i`'s mapping and its reply's checksums.
    fn learn(&mut self, i: u32, t: Ipv4Addr, port: u16) {
        let idx = i as usize;
        if self.map[idx].is_some() {
            return;
        }
        self.map[idx] = Some((t, port));
        let mut hdr = [0u8; 20];
        hdr.copy_from_slice(&self.v4[ETH..ETH + 20]);
        hdr[16..20].copy_from_slice(&t.octets());
        let ipc = !fold(sum16(&hdr));
        let len = (8 + PAYLOAD) as u32;
        let s = sum16(&SERVER.octets())
            + sum16(&t.octets())
            + 17
            + len
            + u32::from(SERVER_PORT)
            + u32::from(port)
            + len
            + sum16(&payload(i));
        let udpc = match !fold(s) {
            0 => 0xffff,
            c => c,
        };
        self.v4_csum[idx] = (ipc, udpc);
    }

    /// Made-up mappings for a forwarder that does not translate.
    fn synthesize(&mut self) {
        for i in 0..self.flows() {
            let t = Ipv4Addr::new(203, 0, 113, (i % 256) as u8);
            self.learn(i, t, 1024 + (i / 256 % 60000) as u16);
        }
    }
}

/// A translated 6to4 frame: (flow index, source address, source port).
fn parse_v4(f: &[u8]) -> Option<(u32, Ipv4Addr, u16)> {
    if f.len() < V4_FRAME || f[12..14] != [0x08, 0x00] || f[ETH] != 0x45 || f[ETH + 9] != 17 {
        return None;
    }
    let ip = &f[ETH..];
    let t = Ipv4Addr::new(ip[12], ip[13], ip[14], ip[15]);
    let port = u16::from_be_bytes([ip[20], ip[21]]);
    let i = u32::from_be_bytes([ip[28], ip[29], ip[30], ip[31]]);
    Some((i, t, port))
}

struct Io<'e> {
    pool: &'e Mempool,
    tx: TxQueue,
    rx: RxQueue,
}

fn secs(cycles: u64) -> f64 {
    cycles as f64 / tsc_hz() as f64
}

/// Warm-up: sends each flow's IPv6 packet until its translation came back.
fn warm_up(eal: &Eal, inside: &mut Io, outside: &mut Io, tr: &mut Traffic, limit: f64) -> u32 {
    let n = tr.flows();
    let mut learned = 0u32;
    let start = tsc_cycles();
    let hz = tsc_hz();
    let mut rx: Burst<BURST> = Burst::new(eal);
    let mut drain_other: Burst<BURST> = Burst::new(eal);
    let mut round = 0;
    while learned < n && secs(tsc_cycles() - start) < limit {
        round += 1;
        // At most `window` packets in flight, so the forwarder's queues do
        // not overflow while it creates sessions.
        let window: u64 = 1024;
        let (mut sent, mut got) = (0u64, 0u64);
        let mut i = 0u32;
        let mut stalled_since = tsc_cycles();
        while i < n {
            if tr.map[i as usize].is_some() {
                i += 1;
                continue;
            }
            if sent - got < window || tsc_cycles() - stalled_since > hz / 200 {
                let mut b: Burst<BURST> = Burst::new(eal);
                let mut k = 0;
                while k < BURST && i < n {
                    if tr.map[i as usize].is_none() {
                        let Some(mut m) = inside.pool.alloc() else {
                            break;
                        };
                        if let Some(d) = m.append(V6_FRAME as u16) {
                            tr.write_v6(d, i);
                            let _ = b.push(m);
                            k += 1;
                        }
                    }
                    i += 1;
                }
                sent += inside.tx.tx_burst(&mut b) as u64;
                stalled_since = tsc_cycles();
            }
            let c = outside.rx.rx_burst(&mut rx);
            got += c as u64;
            for m in rx.as_slice() {
                if let Some((f, t, port)) = parse_v4(m.data()) {
                    if f < n && tr.map[f as usize].is_none() {
                        tr.learn(f, t, port);
                        learned += 1;
                    }
                }
            }
            rx.clear();
            inside.rx.rx_burst(&mut drain_other);
            drain_other.clear();
        }
        // Let the last ones come back.
        let until = tsc_cycles() + hz / 10;
        while tsc_cycles() < until {
            outside.rx.rx_burst(&mut rx);
            for m in rx.as_slice() {
                if let Some((f, t, port)) = parse_v4(m.data()) {
                    if f < n && tr.map[f as usize].is_none() {
                        tr.learn(f, t, port);
                        learned += 1;
                    }
                }
            }
            rx.clear();
        }
        eprintln!("warm-up round {round}: {learned}/{n} flows mapped");
    }
    learned
}

/// What one direction's run measured.
struct Measured {
    /// Packets the forwarder's port took, per second (millions).
    offered_mpps: f64,
    /// Packets that came out of the far port, per second (millions).
    rx_mpps: f64,
    /// Share of tx bursts the forwarder did not take whole (its rx ring
    /// was full): high when the forwarder is the bottleneck, near 0 when
    /// the generator is.
    tx_full: f64,
    /// CPU-seconds per second the forwarder used meanwhile, if known.
    fwd_cpu: Option<f64>,
}

/// Sends one direction's traffic for `seconds`.
fn measure(
    eal: &Eal,
    tx_io: &mut Io,
    rx_io: &mut Io,
    tr: &Traffic,
    v6: bool,
    seconds: f64,
    fwd: Option<u32>,
) -> Measured {
    let n = tr.flows();
    let hz = tsc_hz();
    let mut rx: Burst<BURST> = Burst::new(eal);
    let mut other: Burst<BURST> = Burst::new(eal);
    let mut i = 0u32;
    let ramp = hz / 2;
    let start = tsc_cycles();
    let t0 = start + ramp;
    let t1 = t0 + (seconds * hz as f64) as u64;
    let (mut sent, mut got) = (0u64, 0u64);
    let (mut bursts, mut full) = (0u64, 0u64);
    let mut counting = false;
    let mut cpu0 = None;
    let len = if v6 { V6_FRAME } else { V4_FRAME } as u16;
    loop {
        let now = tsc_cycles();
        if !counting && now >= t0 {
            counting = true;
            sent = 0;
            got = 0;
            bursts = 0;
            full = 0;
            cpu0 = fwd.and_then(cpu_seconds);
        }
        if now >= t1 {
            break;
        }
        let mut b: Burst<BURST> = Burst::new(eal);
        if tx_io.pool.alloc_bulk(&mut b, BURST) {
            let mut keep = 0;
            for m in b.as_mut_slice() {
                if let Some(d) = m.append(len) {
                    let ok = if v6 {
                        tr.write_v6(d, i);
                        true
                    } else {
                        tr.write_v4(d, i)
                    };
                    keep += usize::from(ok);
                }
                i += 1;
                if i == n {
                    i = 0;
                }
            }
            // Unmapped flows (4to6) are never sent: drop their mbufs.
            while b.len() > keep {
                b.pop();
            }
            let want = b.len();
            let took = tx_io.tx.tx_burst(&mut b);
            sent += took as u64;
            bursts += 1;
            full += u64::from(took < want);
        }
        got += rx_io.rx.rx_burst(&mut rx) as u64;
        rx.clear();
        // Anything coming back the other way (ICMP errors, kernel chatter).
        tx_io.rx.rx_burst(&mut other);
        other.clear();
    }
    let end = tsc_cycles();
    let cpu1 = fwd.and_then(cpu_seconds);
    // Let in-flight packets arrive and be freed before the next phase.
    let until = end + hz / 5;
    while tsc_cycles() < until {
        rx_io.rx.rx_burst(&mut rx);
        rx.clear();
        tx_io.rx.rx_burst(&mut other);
        other.clear();
    }
    let dt = secs(end - t0);
    Measured {
        offered_mpps: sent as f64 / dt / 1e6,
        rx_mpps: got as f64 / dt / 1e6,
        tx_full: full as f64 / bursts.max(1) as f64,
        fwd_cpu: cpu0.zip(cpu1).map(|(a, b)| (b - a) / dt),
    }
}

fn open(eal: &Eal, name: &str, pool: &Mempool) -> Result<(Port, RxQueue, TxQueue), String> {
    let mut port = Port::by_name(eal, name).map_err(|e| format!("{name}: {e}"))?;
    let conf = PortConfig {
        rx_desc: 1024,
        tx_desc: 1024,
        ..PortConfig::default()
    };
    let (mut rx, mut tx) = port
        .configure(&conf, std::slice::from_ref(pool))
        .map_err(|e| format!("{name}: {e}"))?;
    port.start().map_err(|e| format!("{name}: {e}"))?;
    Ok((port, rx.remove(0), tx.remove(0)))
}

/// Waits until both links are up (memif connects asynchronously).
fn wait_links(ports: &[&Port], limit: Duration) -> Result<(), String> {
    let start = std::time::Instant::now();
    loop {
        if ports
            .iter()
            .all(|p| p.link().map(|l| l.up).unwrap_or(false))
        {
            return Ok(());
        }
        if start.elapsed() > limit {
            let names: Vec<&str> = ports.iter().map(|p| p.name()).collect();
            return Err(format!("links {names:?} not up after {limit:?}"));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn run(eal_args: &[String], o: &Opts) -> Result<(), String> {
    let eal = Eal::init(eal_args).map_err(|e| e.to_string())?;
    let pool = Mempool::new(&eal, "pktgen", 16383, SOCKET_ANY).map_err(|e| e.to_string())?;
    let (pin, rin, tin) = open(&eal, &o.inside, &pool)?;
    let (pout, rout, tout) = open(&eal, &o.outside, &pool)?;
    wait_links(&[&pin, &pout], Duration::from_secs(20))?;
    let in_mac = pin.mac_addr().map_err(|e| e.to_string())?;
    let out_mac = pout.mac_addr().map_err(|e| e.to_string())?;
    let MacAddr(in_mac) = in_mac;
    let MacAddr(out_mac) = out_mac;
    let mut tr = Traffic::new(
        o.flows,
        in_mac,
        parse_mac(&o.inside_peer_mac)?,
        out_mac,
        parse_mac(&o.outside_peer_mac)?,
    );
    let mut inside = Io {
        pool: &pool,
        tx: tin,
        rx: rin,
    };
    let mut outside = Io {
        pool: &pool,
        tx: tout,
        rx: rout,
    };
    if o.synthetic {
        tr.synthesize();
    } else {
        let t = tsc_cycles();
        let learned = warm_up(&eal, &mut inside, &mut outside, &mut tr, o.warmup_seconds);
        println!(
            "warmup flows={} learned={learned} seconds={:.2}",
            o.flows,
            secs(tsc_cycles() - t)
        );
        if learned < o.flows {
            eprintln!(
                "warning: only {learned} of {} flows mapped; 4to6 sends those",
                o.flows
            );
        }
    }
    for (dir, v6) in [("6to4", true), ("4to6", false)] {
        if o.only.as_deref().is_some_and(|d| d != dir) {
            continue;
        }
        let m = if v6 {
            measure(
                &eal,
                &mut inside,
                &mut outside,
                &tr,
                true,
                o.seconds,
                o.forwarder_pid,
            )
        } else {
            measure(
                &eal,
                &mut outside,
                &mut inside,
                &tr,
                false,
                o.seconds,
                o.forwarder_pid,
            )
        };
        let cpu = m
            .fwd_cpu
            .map_or(String::new(), |c| format!(" fwd_cpu={c:.3}"));
        println!(
            "result dir={dir} flows={} seconds={} offered_mpps={:.3} rx_mpps={:.3} tx_full={:.2}{cpu}",
            o.flows, o.seconds, m.offered_mpps, m.rx_mpps, m.tx_full
        );
    }
    drop(inside);
    drop(outside);
    drop(pin);
    drop(pout);
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let split = args.iter().position(|a| a == "--").unwrap_or(args.len());
    let eal_args = args[..split].to_vec();
    let mut ours = vec![args[0].clone()];
    ours.extend(args.get(split + 1..).unwrap_or(&[]).iter().cloned());
    let opts = match Opts::try_parse_from(ours) {
        Ok(o) => o,
        Err(e) => e.exit(),
    };
    match run(&eal_args, &opts) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}
