//! ns/packet of the stateful NAT64 worker (RFC 6146 §3.4-§3.7: lookup,
//! state update and translation), and new sessions per second.
//!
//! - `established/{6to4,4to6}/{1K,1M,4M}`: UDP packets of established
//!   sessions in a table holding that many; each iteration copies the next
//!   of 4096 pre-built packets (of sessions spread over the whole table, so
//!   lookups miss the cache as real traffic does) into a warm buffer and
//!   runs `process_6to4` / `process_4to6` on it. `copy-only` is that copy
//!   alone.
//! - `new-udp-session/{empty,90pct-full}`: each iteration is a packet of a
//!   new UDP flow (new session; a new BIB entry and port the first time a
//!   source transport address is seen) into a 4M-session table that starts
//!   empty or 90 % full (a fresh table per sample, built untimed). Past
//!   100 % each insert first reclaims the stalest session.
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use etherparse::PacketBuilder;
use nat64_dpdk::config::Config;
use nat64_dpdk::nat64::pipeline::{Action, Worker};
use nat64_dpdk::nat64::pool4::PoolLayout;
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
const PREFIX: &str = "2001:db8:64::/96";

fn config(capacity: usize) -> Config {
    let text = format!(
        "[translation]\nprefix = \"{PREFIX}\"\n\
         [pool4]\naddresses = [\"198.51.100.0/24\"]\n\
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

fn udp4(server: Ipv4Addr, t4: Ipv4Addr, tp: u16) -> Vec<u8> {
    let mut v = Vec::new();
    PacketBuilder::ipv4(server.octets(), t4.octets(), 64)
        .udp(53, tp)
        .write(&mut v, &[0u8; 64])
        .unwrap();
    v
}

fn run(w: &mut Worker, mem: &mut [u8], pkt: &[u8], six: bool) -> Action {
    mem[HEADROOM..HEADROOM + pkt.len()].copy_from_slice(pkt);
    let mut buf = PacketBuf::new(mem, HEADROOM, pkt.len()).expect("room");
    if six {
        w.process_6to4(&mut buf, 1_000)
    } else {
        w.process_4to6(&mut buf, 1_000)
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

fn established(c: &mut Criterion) {
    let mut g = c.benchmark_group("nat64");
    g.throughput(Throughput::Elements(1));
    g.sample_size(30);
    g.measurement_time(Duration::from_secs(3));
    let mut mem = vec![0u8; ROOM];
    for (name, n) in [("1K", 1024u32), ("1M", 1 << 20), ("4M", 4 << 20)] {
        let (mut w, mapped) = filled(n as usize, n);
        // 4096 flows spread over the table (a multiplicative stride).
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
        for (a, b) in pkts6.iter().zip(&pkts4) {
            assert_eq!(run(&mut w, &mut mem, a, true), Action::Forward);
            assert_eq!(run(&mut w, &mut mem, b, false), Action::Forward);
        }
        let mut k = 0usize;
        g.bench_function(BenchmarkId::new("copy-only", name), |b| {
            b.iter(|| {
                k = (k + 1) % SAMPLE;
                let p = &pkts6[k];
                mem[HEADROOM..HEADROOM + p.len()].copy_from_slice(black_box(p));
                black_box(&mut mem);
            })
        });
        g.bench_function(BenchmarkId::new("established/6to4", name), |b| {
            b.iter(|| {
                k = (k + 1) % SAMPLE;
                black_box(run(&mut w, &mut mem, black_box(&pkts6[k]), true))
            })
        });
        g.bench_function(BenchmarkId::new("established/4to6", name), |b| {
            b.iter(|| {
                k = (k + 1) % SAMPLE;
                black_box(run(&mut w, &mut mem, black_box(&pkts4[k]), false))
            })
        });
    }
    g.finish();
}

fn new_sessions(c: &mut Criterion) {
    const CAP: usize = 4 << 20;
    let mut g = c.benchmark_group("nat64");
    g.throughput(Throughput::Elements(1));
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(5));
    for (name, prefill) in [("empty", 0u32), ("90pct-full", (CAP as u32) / 10 * 9)] {
        g.bench_function(BenchmarkId::new("new-udp-session", name), |b| {
            b.iter_custom(|iters| {
                let (mut w, _) = filled(CAP, prefill);
                let pkts: Vec<Vec<u8>> = (0..iters as u32)
                    .map(|j| {
                        let (h, p, s) = flow(prefill + j);
                        udp6(h, p, s)
                    })
                    .collect();
                let mut mem = vec![0u8; ROOM];
                let start = Instant::now();
                for p in &pkts {
                    black_box(run(&mut w, &mut mem, p, true));
                }
                start.elapsed()
            })
        });
    }
    g.finish();
}

criterion_group!(benches, established, new_sessions);
criterion_main!(benches);
