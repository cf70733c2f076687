//! The per-worker NAT64 tables (issue 3 targets): established-flow lookup
//! at 1K, 1M and 4M sessions in both directions (keys in random order, so
//! at 1M+ every lookup misses the caches as traffic would), lookup plus the
//! per-packet touch, burst lookups of 32 keys with overlapped misses, the rate of new flows (BIB entry + session) into an
//! empty and into a 90 % full table, and the bytes per session all in.
/// The tables on transparent huge pages, as in the binary.
#[global_allocator]
static GLOBAL: nat64_dpdk::dpdk::HugeAlloc = nat64_dpdk::dpdk::HugeAlloc;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use nat64_dpdk::nat64::table::{BibEntry, SessionId, Tables, V4Key, V6Key, BURST};
use nat64_dpdk::nat64::{Millis, Timeouts, TimerClass, L4};
use std::hint::black_box;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};

/// One flow: inside (X',x), outside (T,t), remote (Z,z).
#[derive(Clone, Copy)]
struct Flow {
    v6: Ipv6Addr,
    v6_port: u16,
    v4: Ipv4Addr,
    v4_port: u16,
    z: Ipv4Addr,
    zp: u16,
}

/// `cargo test --benches` runs each bench once without `--bench`: keep
/// that quick (small tables, unoptimised build).
fn test_mode() -> bool {
    !std::env::args().any(|a| a == "--bench")
}

/// xorshift64*: a reproducible stream of keys.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

/// `n` distinct flows starting at flow number `base`: random subscribers in
/// 2001:db8::/32, random remotes in 198.51.100.0/24 and 203.0.113.0/24, and
/// pool transport addresses (192.0.2.0/24, port) numbered so none repeats.
fn flows(base: u64, n: usize, rng: &mut Rng) -> Vec<Flow> {
    (0..n as u64)
        .map(|k| {
            let i = base + k;
            let r = rng.next();
            let v6 = Ipv6Addr::from(
                (0x2001_0db8u128 << 96) | (u128::from(r) << 32) | u128::from(i as u32),
            );
            let r2 = rng.next();
            let z = if r2 & 1 == 0 {
                Ipv4Addr::new(198, 51, 100, (r2 >> 8) as u8)
            } else {
                Ipv4Addr::new(203, 0, 113, (r2 >> 8) as u8)
            };
            Flow {
                v6,
                v6_port: (r >> 48) as u16 | 1024,
                v4: Ipv4Addr::new(192, 0, 2, i as u8),
                v4_port: 1024 + (i >> 8) as u16,
                z,
                zp: (r2 >> 16) as u16,
            }
        })
        .collect()
}

fn insert(t: &mut Tables, f: &Flow, now: Millis, to: &Timeouts) -> SessionId {
    let b = t
        .bib_insert(BibEntry {
            proto: L4::Udp,
            v6: f.v6,
            v6_port: f.v6_port,
            v4: f.v4,
            v4_port: f.v4_port,
            is_static: false,
            sessions: 0,
            inbound: 0,
        })
        .expect("bib room");
    t.session_insert(b, f.z, f.zp, TimerClass::Udp, now, to)
        .expect("session room")
}

fn shuffle(v: &mut [Flow], rng: &mut Rng) {
    for i in (1..v.len()).rev() {
        let j = (rng.next() % (i as u64 + 1)) as usize;
        v.swap(i, j);
    }
}

fn lookups(c: &mut Criterion) {
    let to = Timeouts::default();
    let mut g = c.benchmark_group("nat64_tables/lookup");
    g.throughput(Throughput::Elements(1));
    // NAT64_TABLES_SIZES=1K,1M limits the sizes (the 4M table takes a while to build).
    let only = std::env::var("NAT64_TABLES_SIZES").unwrap_or_default();
    for &n in &[1usize << 10, 1 << 20, 1 << 22] {
        let label = match n {
            1024 => "1K",
            1048576 => "1M",
            _ => "4M",
        };
        if (!only.is_empty() && !only.split(',').any(|x| x == label)) || (test_mode() && n > 1024) {
            continue;
        }
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ n as u64);
        let mut t = Tables::with_seed(n, n, 1);
        let mut fl = flows(0, n, &mut rng);
        for f in &fl {
            insert(&mut t, f, 0, &to);
        }
        shuffle(&mut fl, &mut rng);
        let mut i = 0usize;
        g.bench_function(BenchmarkId::new("session_by_v6", label), |b| {
            b.iter(|| {
                let f = &fl[i];
                i = if i + 1 == n { 0 } else { i + 1 };
                black_box(t.session_by_v6(L4::Udp, &f.v6, f.v6_port, f.z, f.zp))
            })
        });
        g.bench_function(BenchmarkId::new("session_by_v4", label), |b| {
            b.iter(|| {
                let f = &fl[i];
                i = if i + 1 == n { 0 } else { i + 1 };
                black_box(t.session_by_v4(L4::Udp, f.v4, f.v4_port, f.z, f.zp))
            })
        });
        // Bursts of 32 (a DPDK rx burst) with overlapped cache misses.
        let k6: Vec<V6Key> = fl
            .iter()
            .map(|f| V6Key {
                proto: L4::Udp,
                v6: f.v6,
                port: f.v6_port,
                remote: f.z,
                remote_port: f.zp,
            })
            .collect();
        let k4: Vec<V4Key> = fl
            .iter()
            .map(|f| V4Key {
                proto: L4::Udp,
                v4: f.v4,
                port: f.v4_port,
                remote: f.z,
                remote_port: f.zp,
            })
            .collect();
        let mut out = [None; BURST];
        g.throughput(Throughput::Elements(BURST as u64));
        g.bench_function(BenchmarkId::new("burst32_by_v6", label), |b| {
            b.iter(|| {
                if i + BURST > n {
                    i = 0;
                }
                t.sessions_by_v6(&k6[i..i + BURST], &mut out);
                i += BURST;
                black_box(&out);
            })
        });
        g.bench_function(BenchmarkId::new("burst32_by_v4", label), |b| {
            b.iter(|| {
                if i + BURST > n {
                    i = 0;
                }
                t.sessions_by_v4(&k4[i..i + BURST], &mut out);
                i += BURST;
                black_box(&out);
            })
        });
        g.throughput(Throughput::Elements(1));
        // What the pipeline does per established packet: find the session,
        // read its BIB entry for the rewrite, refresh the timer.
        let mut now: Millis = 0;
        g.bench_function(BenchmarkId::new("v6_lookup_bib_touch", label), |b| {
            b.iter(|| {
                let f = &fl[i];
                i = if i + 1 == n { 0 } else { i + 1 };
                now += 1;
                if let Some(s) = t.session_by_v6(L4::Udp, &f.v6, f.v6_port, f.z, f.zp) {
                    let bib = t.bib(t.session(s).bib);
                    black_box((bib.v4, bib.v4_port));
                    t.touch(s, TimerClass::Udp, now >> 10, &to);
                }
            })
        });
        if n == 1 << 20 {
            println!(
                "nat64_tables: {} sessions + {} BIB entries: {} bytes, {:.1} bytes/session all in",
                t.capacity(),
                t.bib_capacity(),
                t.memory_bytes(),
                t.memory_bytes() as f64 / t.capacity() as f64
            );
            // Whether the tables sit on transparent huge pages (the
            // global allocator above asks for them).
            if let Ok(r) = std::fs::read_to_string("/proc/self/smaps_rollup") {
                for l in r.lines().filter(|l| l.starts_with("AnonHugePages")) {
                    println!("nat64_tables: {l}");
                }
            }
        }
    }
    g.finish();
}

/// Times the insertion of `iters` new flows (BIB entry + session) into `t`
/// at its current fill, in chunks of at most `chunk`; each chunk is removed
/// again untimed so the fill level stays put. Flows come from `pool` in
/// turn (from `*at` on), so the indexes see fresh keys every chunk.
fn insert_rate(
    t: &mut Tables,
    pool: &[Flow],
    at: &mut usize,
    chunk: usize,
    iters: u64,
    to: &Timeouts,
) -> Duration {
    let mut total = Duration::ZERO;
    let mut left = iters as usize;
    let mut ids = Vec::with_capacity(chunk);
    while left > 0 {
        let k = left.min(chunk);
        if *at + k > pool.len() {
            *at = 0;
        }
        let fs = &pool[*at..*at + k];
        *at += k;
        ids.clear();
        let start = Instant::now();
        for f in fs {
            ids.push(insert(t, f, 0, to));
        }
        total += start.elapsed();
        for &s in &ids {
            t.remove_session(s, &mut |_| {});
        }
        left -= k;
    }
    total
}

fn inserts(c: &mut Criterion) {
    let to = Timeouts::default();
    let n = if test_mode() { 1 << 12 } else { 1usize << 20 };
    let mut g = c.benchmark_group("nat64_tables/insert_bib_session");
    g.throughput(Throughput::Elements(1));
    let mut rng = Rng(42);
    let base_fill = n * 9 / 10;
    let fill = flows(0, base_fill, &mut rng);
    let pool = flows(base_fill as u64, 2 * n, &mut rng);
    let chunk = n / 20;
    let mut at = 0;

    let mut empty = Tables::with_seed(n, n, 2);
    g.bench_function("empty_1M", |b| {
        b.iter_custom(|iters| insert_rate(&mut empty, &pool, &mut at, chunk, iters, &to))
    });
    drop(empty);

    let mut full = Tables::with_seed(n, n, 3);
    for f in &fill {
        insert(&mut full, f, 0, &to);
    }
    g.bench_function("90pct_full_1M", |b| {
        b.iter_custom(|iters| insert_rate(&mut full, &pool, &mut at, chunk, iters, &to))
    });
    g.finish();
}

/// The machine's own limit, to read the lookups against: independent
/// random 8-byte reads spread over as many bytes as the 1M-session tables.
fn baseline(c: &mut Criterion) {
    let n = if test_mode() { 1 << 10 } else { 1 << 20 };
    let words = Tables::with_seed(n, n, 0).memory_bytes() / 8;
    let v: Vec<u64> = (0..words as u64).collect();
    let mut rng = Rng(7);
    let idx: Vec<usize> = (0..1 << 16)
        .map(|_| (rng.next() % words as u64) as usize)
        .collect();
    let mut i = 0usize;
    let mut g = c.benchmark_group("nat64_tables/baseline");
    g.throughput(Throughput::Elements(1));
    g.bench_function("random_read_same_bytes_as_1M", |b| {
        b.iter(|| {
            i = (i + 1) & 0xffff;
            black_box(v[idx[i]])
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = baseline, lookups, inserts
}
criterion_main!(benches);
