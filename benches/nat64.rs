//! ns/packet of the stateful NAT64 worker (RFC 6146 §3.4-§3.7: lookup,
//! state update and translation), and new sessions per second.
//!
//! - `established/{6to4,4to6}/{1K,1M,4M}`: UDP packets of established
//!   sessions in a table holding that many; each iteration copies the next
//!   of 4096 pre-built packets (of sessions spread over the whole table, so
//!   lookups miss the cache as real traffic does) into a warm buffer and
//!   runs `process_6to4` / `process_4to6` on it. `copy-only` is that copy
//!   alone.
//! - `established-burst/{6to4,4to6}/{1K,1M,4M}`: the same packets, 32 at a
//!   time through `process_6to4_burst` / `process_4to6_burst` (copies
//!   included); the time is per packet.
//! - `new-udp-session-burst/{empty,90pct-full}`: the same, 32 packets per
//!   `process_6to4_burst` call.
//! - `new-udp-session/{empty,90pct-full}`: packets of new UDP flows (new
//!   session; a new BIB entry and port the first time a source transport
//!   address is seen) into a 4M-session table that starts empty or 90 %
//!   full (built once, untimed), 256 per iteration, the time per packet.
//!   Every 16K packets their sessions are let expire, untimed, so the fill
//!   stays within 16K of where it started whatever criterion asks.
/// The tables on transparent huge pages, as in the binary.
#[global_allocator]
static GLOBAL: nat64_dpdk::dpdk::HugeAlloc = nat64_dpdk::dpdk::HugeAlloc;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use etherparse::PacketBuilder;
use nat64_dpdk::config::Config;
use nat64_dpdk::nat64::pipeline::{Action, Worker};
use nat64_dpdk::nat64::pool4::PoolLayout;
use nat64_dpdk::nat64::Millis;
use nat64_dpdk::xlat::rfc6052::Nat64Prefix;
use nat64_dpdk::xlat::PacketBuf;
use std::hint::black_box;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::Arc;
use std::time::{Duration, Instant};

const HEADROOM: usize = 128;
const ROOM: usize = 2048;
/// Subscribers (one host each) and source ports per host: 64K BIB entries.
const SUBS: u32 = 4096;
const PORTS: u32 = 16;
/// Pre-built packets cycled through by the established-flow benches.
const SAMPLE: usize = 4096;
/// Packets per call of the burst benches (an rx burst).
const BURST: usize = 32;
const PREFIX: &str = "2001:db8:64::/96";

fn config(capacity: usize) -> Config {
    // Long TCP lifetimes keep the pre-filled sessions (V6 INIT, transitory
    // class) alive while the new-session bench expires its own UDP ones.
    // The fill takes thousands of blocks at one instant: no allocation
    // rate limit; nor a cap on one subscriber's sessions.
    let text = format!(
        "[translation]\nprefix = \"{PREFIX}\"\n\
         [pool4]\naddresses = [\"198.51.100.0/24\"]\nblock_allocations_per_second = 1000000\n\
         max_sessions_per_subscriber = 0\n\
         [timeouts]\ntcp_transitory = 864000\ntcp_established = 864000\n\
         [workers]\nmax_sessions_per_worker = {capacity}\n"
    );
    Config::from_str(&text).expect("bench config")
}

fn worker(capacity: usize) -> Worker {
    let cfg = config(capacity);
    let layout = Arc::new(PoolLayout::new(&cfg.pool4, &cfg.static_bib, 1));
    Worker::new(&cfg, layout, 0, 1)
}

/// Flow `i`: (host, source port, server). Hosts and ports cycle fastest,
/// so the first 64K flows create every BIB entry and later ones add
/// sessions to other servers. Servers come from 198.18.0.0/15 (RFC 2544).
fn flow(i: u32) -> (Ipv6Addr, u16, Ipv4Addr) {
    let sub = i % SUBS;
    let port = 20000 + ((i / SUBS) % PORTS) as u16;
    let server = Ipv4Addr::from(0xc612_0000 + i / (SUBS * PORTS));
    let host = Ipv6Addr::new(
        0x2001,
        0xdb8,
        (sub >> 8) as u16,
        ((sub & 0xff) << 8) as u16,
        0,
        0,
        0,
        1,
    );
    (host, port, server)
}

fn udp6(host: Ipv6Addr, port: u16, server: Ipv4Addr) -> Vec<u8> {
    let dst = PREFIX.parse::<Nat64Prefix>().unwrap().embed(server);
    let mut v = Vec::new();
    PacketBuilder::ipv6(host.octets(), dst.octets(), 64)
        .udp(port, 53)
        .write(&mut v, &[0u8; 64])
        .unwrap();
    v
}

fn syn6(host: Ipv6Addr, port: u16, server: Ipv4Addr) -> Vec<u8> {
    let dst = PREFIX.parse::<Nat64Prefix>().unwrap().embed(server);
    let mut v = Vec::new();
    PacketBuilder::ipv6(host.octets(), dst.octets(), 64)
        .tcp(port, 443, 1, 65535)
        .syn()
        .write(&mut v, &[])
        .unwrap();
    v
}

fn udp4(server: Ipv4Addr, t4: Ipv4Addr, tp: u16) -> Vec<u8> {
    let mut v = Vec::new();
    PacketBuilder::ipv4(server.octets(), t4.octets(), 64)
        .udp(53, tp)
        .write(&mut v, &[0u8; 64])
        .unwrap();
    v
}

fn run(w: &mut Worker, mem: &mut [u8], pkt: &[u8], six: bool, now: Millis) -> Action {
    mem[HEADROOM..HEADROOM + pkt.len()].copy_from_slice(pkt);
    let mut buf = PacketBuf::new(mem, HEADROOM, pkt.len()).expect("room");
    if six {
        w.process_6to4(&mut buf, now)
    } else {
        w.process_4to6(&mut buf, now)
    }
}

/// A worker holding `n` UDP sessions (flows 0..n), and the mapped (T, t)
/// of every (host, port).
fn filled(capacity: usize, n: u32) -> (Worker, Vec<(Ipv4Addr, u16)>) {
    let mut w = worker(capacity);
    let mut mem = vec![0u8; ROOM];
    let mut mapped = vec![(Ipv4Addr::UNSPECIFIED, 0); (SUBS * PORTS) as usize];
    for i in 0..n {
        let (h, p, s) = flow(i);
        let pkt = udp6(h, p, s);
        mem[HEADROOM..HEADROOM + pkt.len()].copy_from_slice(&pkt);
        let mut buf = PacketBuf::new(&mut mem, HEADROOM, pkt.len()).unwrap();
        let a = w.process_6to4(&mut buf, 0);
        assert_eq!(a, Action::Forward, "flow {i}");
        if i < SUBS * PORTS {
            let d = buf.data();
            let t4 = Ipv4Addr::new(d[12], d[13], d[14], d[15]);
            mapped[i as usize] = (t4, u16::from_be_bytes([d[20], d[21]]));
        }
    }
    assert_eq!(w.tables().sessions_len(), n as usize);
    (w, mapped)
}

/// A table of `n` sessions with 4096 packets of each direction, for
/// flows spread over the whole table (a multiplicative stride).
struct Established {
    w: Worker,
    pkts6: Vec<Vec<u8>>,
    pkts4: Vec<Vec<u8>>,
}

fn established_table(n: u32) -> Established {
    let (mut w, mapped) = filled(n as usize, n);
    let picks: Vec<u32> = (0..SAMPLE as u64)
        .map(|k| ((k * 2_654_435_761) % u64::from(n)) as u32)
        .collect();
    let pkts6: Vec<Vec<u8>> = picks
        .iter()
        .map(|&i| {
            let (h, p, s) = flow(i);
            udp6(h, p, s)
        })
        .collect();
    let pkts4: Vec<Vec<u8>> = picks
        .iter()
        .map(|&i| {
            let (t4, tp) = mapped[(i % (SUBS * PORTS)) as usize];
            udp4(flow(i).2, t4, tp)
        })
        .collect();
    let mut mem = vec![0u8; ROOM];
    for (a, b) in pkts6.iter().zip(&pkts4) {
        assert_eq!(run(&mut w, &mut mem, a, true, 1), Action::Forward);
        assert_eq!(run(&mut w, &mut mem, b, false, 1), Action::Forward);
    }
    Established { w, pkts6, pkts4 }
}

fn established(c: &mut Criterion) {
    let mut g = c.benchmark_group("nat64");
    g.throughput(Throughput::Elements(1));
    g.sample_size(30);
    g.measurement_time(Duration::from_secs(3));
    let mut mem = vec![0u8; ROOM];
    // `cargo test --bench nat64` (no `--bench` flag) runs each case once:
    // small tables keep that quick in an unoptimised build.
    let sizes: &[(&str, u32)] = if test_mode() {
        &[("1K", 1024), ("16K", 1 << 14)]
    } else {
        &[("1K", 1024), ("1M", 1 << 20), ("4M", 4 << 20)]
    };
    for &(name, n) in sizes {
        // Built on first use, so a filtered run builds only what it needs.
        let mut table: Option<Established> = None;
        let mut k = 0usize;
        g.bench_function(BenchmarkId::new("copy-only", name), |b| {
            let pkt = udp6(flow(0).0, flow(0).1, flow(0).2);
            b.iter(|| {
                mem[HEADROOM..HEADROOM + pkt.len()].copy_from_slice(black_box(&pkt));
                black_box(&mut mem);
            })
        });
        for (dir, six) in [
            ("established-burst/6to4", true),
            ("established-burst/4to6", false),
        ] {
            g.bench_function(BenchmarkId::new(dir, name), |b| {
                let t = table.get_or_insert_with(|| established_table(n));
                let mut mems = vec![[0u8; ROOM]; BURST];
                let mut actions = [Action::Forward; BURST];
                // Time per packet: each iteration is one burst of BURST.
                b.iter_custom(|iters| {
                    let start = Instant::now();
                    for _ in 0..iters {
                        let mut ms = mems.iter_mut();
                        let mut bufs: [PacketBuf; BURST] = std::array::from_fn(|_| {
                            k = (k + 1) % SAMPLE;
                            let p = if six { &t.pkts6[k] } else { &t.pkts4[k] };
                            let m = ms.next().expect("BURST buffers");
                            m[HEADROOM..HEADROOM + p.len()].copy_from_slice(black_box(p));
                            PacketBuf::new(m, HEADROOM, p.len()).expect("room")
                        });
                        let mut refs = bufs.each_mut();
                        if six {
                            t.w.process_6to4_burst(&mut refs, 1000, &mut actions);
                        } else {
                            t.w.process_4to6_burst(&mut refs, 1000, &mut actions);
                        }
                        black_box(&actions);
                    }
                    let spent = start.elapsed();
                    assert!(actions.iter().all(|a| *a == Action::Forward));
                    spent / BURST as u32
                })
            });
        }
        for (dir, six) in [("established/6to4", true), ("established/4to6", false)] {
            g.bench_function(BenchmarkId::new(dir, name), |b| {
                let t = table.get_or_insert_with(|| established_table(n));
                b.iter(|| {
                    k = (k + 1) % SAMPLE;
                    let p = if six { &t.pkts6[k] } else { &t.pkts4[k] };
                    black_box(run(&mut t.w, &mut mem, black_box(p), six, 1000))
                })
            });
        }
    }
    g.finish();
}

/// A table pre-filled with TCP sessions (V6 INIT, long-lived) that new UDP
/// sessions go into; after each batch their lifetime is let pass so the
/// next batch starts from the same fill.
struct Fill {
    w: Worker,
    now: Millis,
}

fn prefilled(capacity: usize, n: u32) -> Fill {
    let mut w = worker(capacity);
    let mut mem = vec![0u8; ROOM];
    for i in 0..n {
        let (h, p, s) = flow(i);
        assert_eq!(
            run(&mut w, &mut mem, &syn6(h, p, s), true, 0),
            Action::Forward
        );
    }
    Fill { w, now: 1 }
}

/// Run as a test (each bench once, without `--bench`), not as a benchmark.
fn test_mode() -> bool {
    !std::env::args().any(|a| a == "--bench")
}

/// New sessions per criterion iteration: enough back to back that a
/// sample never measures a handful of packets right after an expiry pass.
const CHUNK: u64 = 256;
/// New sessions between two (untimed) expiry passes: the fill level stays
/// within this of where it started, however many iterations criterion asks.
const SUB_BATCH: u64 = 16 * 1024;

/// Runs `n` packets of new UDP flows (flows 0..n) through `w` at `now`,
/// one by one or `BURST` at a time. The packets come from one template,
/// patched per flow (source address and port, server; the translator
/// adjusts the UDP checksum incrementally, so it need not be right); the
/// patch, a few ns, is part of the measured time.
fn new_flows(w: &mut Worker, n: u32, now: Millis, burst: bool, mems: &mut [[u8; ROOM]]) {
    let template = udp6(flow(0).0, flow(0).1, flow(0).2);
    let fill = |m: &mut [u8; ROOM], j: u32| {
        let (h, p, s) = flow(j);
        let pk = &mut m[HEADROOM..HEADROOM + template.len()];
        pk.copy_from_slice(&template);
        pk[8..24].copy_from_slice(&h.octets());
        pk[36..40].copy_from_slice(&s.octets());
        pk[40..42].copy_from_slice(&p.to_be_bytes());
    };
    if !burst {
        let m = &mut mems[0];
        for j in 0..n {
            fill(m, j);
            let mut buf = PacketBuf::new(m, HEADROOM, template.len()).expect("room");
            black_box(w.process_6to4(&mut buf, now));
        }
        return;
    }
    let mut actions = [Action::Forward; BURST];
    let mut j = 0;
    while j < n {
        let k = (n - j).min(BURST as u32) as usize;
        let mut ms = mems.iter_mut();
        // Every buffer is filled; the first k are sent.
        let mut bufs: [PacketBuf; BURST] = std::array::from_fn(|i| {
            let m = ms.next().expect("BURST buffers");
            fill(m, j + i as u32);
            PacketBuf::new(m, HEADROOM, template.len()).expect("room")
        });
        let mut refs = bufs.each_mut();
        w.process_6to4_burst(&mut refs[..k], now, &mut actions);
        black_box(&actions);
        j += k as u32;
    }
}

fn new_sessions(c: &mut Criterion) {
    let cap: usize = if test_mode() { 1 << 14 } else { 4 << 20 };
    const UDP_MS: Millis = 300_000;
    let mut g = c.benchmark_group("nat64");
    g.throughput(Throughput::Elements(1));
    g.sample_size(20);
    g.measurement_time(Duration::from_secs(5));
    for (name, prefill) in [("empty", 0u32), ("90pct-full", (cap as u32) / 10 * 9)] {
        let mut fill: Option<Fill> = None;
        for (case, burst) in [("new-udp-session", false), ("new-udp-session-burst", true)] {
            g.bench_function(BenchmarkId::new(case, name), |b| {
                let mut mems = vec![[0u8; ROOM]; BURST];
                // Time per new session: each iteration is CHUNK of them.
                b.iter_custom(|iters| {
                    let f = fill.get_or_insert_with(|| prefilled(cap, prefill));
                    let before = f.w.counters().translated_6to4;
                    let mut spent = Duration::ZERO;
                    let mut left = iters * CHUNK;
                    while left > 0 {
                        let n = left.min(SUB_BATCH);
                        if f.now >= 800_000_000 {
                            // The pre-filled TCP sessions live 864000 s:
                            // a fresh fill (untimed) before they expire.
                            *f = prefilled(cap, prefill);
                        }
                        let start = Instant::now();
                        new_flows(&mut f.w, n as u32, f.now, burst, &mut mems);
                        spent += start.elapsed();
                        // Let the UDP sessions (and their BIB entries, ports
                        // and blocks) expire, untimed; the TCP fill stays.
                        f.now += UDP_MS + 125_000;
                        f.w.tick(f.now, &mut |_| {});
                        left -= n;
                    }
                    assert_eq!(
                        f.w.counters().translated_6to4 - before,
                        iters * CHUNK,
                        "all forwarded"
                    );
                    spent / CHUNK as u32
                })
            });
        }
    }
    g.finish();
}

criterion_group!(benches, established, new_sessions);
criterion_main!(benches);
