//! ns/packet of the stateless translator, both directions, for UDP, TCP,
//! ICMP echo and ICMP errors (RFC 7915 §4 and §5). Each iteration copies a
//! fresh packet into a cache-warm mbuf-sized buffer and translates it in
//! place; `copy-only` is that copy alone, the baseline to subtract.
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use etherparse::{IcmpEchoHeader, Icmpv4Type, Icmpv6Type, PacketBuilder};
use nat64_dpdk::xlat::v4to6::translate_4to6;
use nat64_dpdk::xlat::v6to4::translate_6to4;
use nat64_dpdk::xlat::{PacketBuf, Plan, Rewrite, Verdict, XlatConfig, XlatState};
use std::hint::black_box;
use std::net::{Ipv4Addr, Ipv6Addr};

const HEADROOM: usize = 128;
const ROOM: usize = 2048;

const CLIENT6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 0x10);
const SERVER6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0x64, 0, 0, 0, 0xc633, 0x6407);
const POOL4: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 1);
const SERVER4: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 7);

fn payload(n: usize) -> Vec<u8> {
    (0..n).map(|i| i as u8).collect()
}

fn build6(kind: &str) -> Vec<u8> {
    let base = || PacketBuilder::ipv6(CLIENT6.octets(), SERVER6.octets(), 64);
    let mut out = Vec::new();
    match kind {
        "udp" => base().udp(40000, 53).write(&mut out, &payload(64)).unwrap(),
        "tcp" => base()
            .tcp(40000, 443, 1, 65535)
            .ack(7)
            .write(&mut out, &payload(64))
            .unwrap(),
        "icmp-echo" => base()
            .icmpv6(Icmpv6Type::EchoRequest(IcmpEchoHeader { id: 7, seq: 1 }))
            .write(&mut out, &payload(56))
            .unwrap(),
        "icmp-error" => {
            // The client reports port unreachable for a datagram the
            // server sent it (already translated 4to6 on the way in).
            let mut quoted = Vec::new();
            PacketBuilder::ipv6(SERVER6.octets(), CLIENT6.octets(), 63)
                .udp(53, 40000)
                .write(&mut quoted, &payload(32))
                .unwrap();
            base()
                .icmpv6(Icmpv6Type::DestinationUnreachable(
                    etherparse::icmpv6::DestUnreachableCode::Port,
                ))
                .write(&mut out, &quoted)
                .unwrap()
        }
        _ => unreachable!(),
    }
    out
}

fn build4(kind: &str) -> Vec<u8> {
    let base = || PacketBuilder::ipv4(SERVER4.octets(), POOL4.octets(), 64);
    let mut out = Vec::new();
    match kind {
        "udp" => base().udp(53, 2048).write(&mut out, &payload(64)).unwrap(),
        "tcp" => base()
            .tcp(443, 2048, 1, 65535)
            .ack(7)
            .write(&mut out, &payload(64))
            .unwrap(),
        "icmp-echo" => base()
            .icmpv4(Icmpv4Type::EchoReply(IcmpEchoHeader { id: 2048, seq: 1 }))
            .write(&mut out, &payload(56))
            .unwrap(),
        "icmp-error" => {
            // The server reports port unreachable for a datagram the
            // translator sent it from the pool address.
            let mut quoted = Vec::new();
            PacketBuilder::ipv4(POOL4.octets(), SERVER4.octets(), 63)
                .udp(2048, 53)
                .write(&mut quoted, &payload(32))
                .unwrap();
            base()
                .icmpv4(Icmpv4Type::DestinationUnreachable(
                    etherparse::icmpv4::DestUnreachableHeader::Port,
                ))
                .write(&mut out, &quoted)
                .unwrap()
        }
        _ => unreachable!(),
    }
    out
}

fn bench(c: &mut Criterion) {
    let cfg = XlatConfig::default();
    let plan4 = Plan {
        outer: Rewrite {
            src: POOL4,
            dst: SERVER4,
            src_port: 2048,
            dst_port: 53,
        },
        inner: Some(Rewrite {
            src: SERVER4,
            dst: POOL4,
            src_port: 53,
            dst_port: 2048,
        }),
    };
    let plan6 = Plan {
        outer: Rewrite {
            src: SERVER6,
            dst: CLIENT6,
            src_port: 53,
            dst_port: 40000,
        },
        inner: Some(Rewrite {
            src: CLIENT6,
            dst: SERVER6,
            src_port: 40000,
            dst_port: 53,
        }),
    };
    let mut g = c.benchmark_group("xlat");
    g.throughput(Throughput::Elements(1));
    // One buffer, warm in cache as a freshly received mbuf is after the
    // dataplane's prefetch; every iteration first copies the input packet
    // back in. `copy-only` measures that copy alone, so the translator's
    // own cost is the difference.
    let mut mem = vec![0u8; ROOM];
    for kind in ["udp", "tcp", "icmp-echo", "icmp-error"] {
        let pkt6 = build6(kind);
        let pkt4 = build4(kind);
        let mut st = XlatState::default();
        // Check once, outside the timed loop, that this is the fast path.
        assert_eq!(
            run6(&mut mem, &pkt6, &plan4, &cfg, &mut st),
            Verdict::Forward,
            "6to4/{kind}"
        );
        assert_eq!(
            run4(&mut mem, &pkt4, &plan6, &cfg, &mut st),
            Verdict::Forward,
            "4to6/{kind}"
        );
        g.bench_function(format!("copy-only/{kind}"), |b| {
            b.iter(|| {
                mem[HEADROOM..HEADROOM + pkt6.len()].copy_from_slice(black_box(&pkt6));
                black_box(&mut mem);
            })
        });
        g.bench_function(format!("6to4/{kind}"), |b| {
            b.iter(|| run6(&mut mem, black_box(&pkt6), black_box(&plan4), &cfg, &mut st))
        });
        g.bench_function(format!("4to6/{kind}"), |b| {
            b.iter(|| run4(&mut mem, black_box(&pkt4), black_box(&plan6), &cfg, &mut st))
        });
    }
    g.finish();
}

fn run6(
    mem: &mut [u8],
    pkt: &[u8],
    plan: &Plan<Ipv4Addr>,
    cfg: &XlatConfig,
    st: &mut XlatState,
) -> Verdict {
    mem[HEADROOM..HEADROOM + pkt.len()].copy_from_slice(pkt);
    let mut buf = PacketBuf::new(mem, HEADROOM, pkt.len()).expect("room");
    translate_6to4(&mut buf, plan, cfg, st)
}

fn run4(
    mem: &mut [u8],
    pkt: &[u8],
    plan: &Plan<Ipv6Addr>,
    cfg: &XlatConfig,
    st: &mut XlatState,
) -> Verdict {
    mem[HEADROOM..HEADROOM + pkt.len()].copy_from_slice(pkt);
    let mut buf = PacketBuf::new(mem, HEADROOM, pkt.len()).expect("room");
    translate_4to6(&mut buf, plan, cfg, st)
}

criterion_group!(benches, bench);
criterion_main!(benches);
