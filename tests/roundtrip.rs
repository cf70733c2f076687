//! Round trips through both translators (RFC 7915 §4 and §5): what one
//! direction writes, the other direction turns back into the original,
//! except for what the RFC says is not carried (hop limit / TTL, which each
//! pass decrements; flow label; IPv4 options and identification; IPv6
//! extension headers). Inputs come from etherparse, checks too.
use etherparse::{
    IcmpEchoHeader, Icmpv4Type, Icmpv6Type, Ipv4HeaderSlice, Ipv6HeaderSlice, PacketBuilder,
};
use nat64_dpdk::xlat::v4to6::translate_4to6;
use nat64_dpdk::xlat::v6to4::translate_6to4;
use nat64_dpdk::xlat::{PacketBuf, Plan, Rewrite, Verdict, XlatConfig, XlatState};
use proptest::prelude::*;
use std::net::{Ipv4Addr, Ipv6Addr};

const HEADROOM: usize = 128;

#[derive(Debug, Clone, Copy)]
enum Proto {
    Udp,
    Tcp,
    Echo,
}

fn proto() -> impl Strategy<Value = Proto> {
    prop_oneof![Just(Proto::Udp), Just(Proto::Tcp), Just(Proto::Echo)]
}

/// Unicast IPv4 addresses: RFC 7915 §4.1 lets the translator drop martian
/// sources (0/8, 127/8, multicast, class E), so round trips use others.
fn unicast4() -> impl Strategy<Value = [u8; 4]> {
    (
        (1u8..=223).prop_filter("loopback", |a| *a != 127),
        any::<[u8; 3]>(),
    )
        .prop_map(|(a, rest)| [a, rest[0], rest[1], rest[2]])
}

fn translate6(pkt: &[u8], plan: &Plan<Ipv4Addr>) -> (Verdict, Vec<u8>) {
    let mut mem = vec![0u8; HEADROOM + pkt.len() + 64];
    mem[HEADROOM..HEADROOM + pkt.len()].copy_from_slice(pkt);
    let mut buf = PacketBuf::new(&mut mem, HEADROOM, pkt.len()).unwrap();
    let v = translate_6to4(
        &mut buf,
        plan,
        &XlatConfig::default(),
        &mut XlatState::default(),
    );
    (v, buf.data().to_vec())
}

fn translate4(pkt: &[u8], plan: &Plan<Ipv6Addr>) -> (Verdict, Vec<u8>) {
    let mut mem = vec![0u8; HEADROOM + pkt.len() + 64];
    mem[HEADROOM..HEADROOM + pkt.len()].copy_from_slice(pkt);
    let mut buf = PacketBuf::new(&mut mem, HEADROOM, pkt.len()).unwrap();
    let v = translate_4to6(
        &mut buf,
        plan,
        &XlatConfig::default(),
        &mut XlatState::default(),
    );
    (v, buf.data().to_vec())
}

fn rw<A: Copy>(src: A, dst: A, sp: u16, dp: u16) -> Plan<A> {
    Plan {
        outer: Rewrite {
            src,
            dst,
            src_port: sp,
            dst_port: dp,
        },
        inner: None,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// RFC 7915 §5 then §4: an IPv6 packet translated to IPv4 and back with
    /// the reverse mapping is the original but for hop limit (-2) and flow
    /// label (0); transport header and payload, checksum included, are
    /// recovered byte for byte.
    #[test]
    fn roundtrip_6to4to6(
        p in proto(), tc in any::<u8>(), hop in 3u8..=255, flow in 0u32..(1 << 20),
        c in any::<[u8; 16]>(), s4 in unicast4(), p4 in unicast4(),
        sport in 1u16.., dport in 1u16.., mport in 1u16.., payload in proptest::collection::vec(any::<u8>(), 0..1200),
    ) {
        let client = Ipv6Addr::from(c);
        let server6 = Ipv6Addr::from({ let mut a = [0u8; 16]; a[..12].copy_from_slice(&[0x20, 1, 0xd, 0xb8, 0, 0x64, 0, 0, 0, 0, 0, 0]); a[12..].copy_from_slice(&s4); a });
        let (server4, pool4) = (Ipv4Addr::from(s4), Ipv4Addr::from(p4));
        let b = PacketBuilder::ipv6(c, server6.octets(), hop);
        let mut orig = Vec::new();
        match p {
            Proto::Udp => b.udp(sport, dport).write(&mut orig, &payload).unwrap(),
            Proto::Tcp => b.tcp(sport, dport, 1, 1000).ack(5).write(&mut orig, &payload).unwrap(),
            Proto::Echo => b.icmpv6(Icmpv6Type::EchoRequest(IcmpEchoHeader { id: sport, seq: dport })).write(&mut orig, &payload).unwrap(),
        }
        // traffic class and flow label are not settable through the builder
        orig[0] = 0x60 | (tc >> 4);
        orig[1] = (tc << 4) | ((flow >> 16) as u8 & 0x0f);
        orig[2] = (flow >> 8) as u8;
        orig[3] = flow as u8;

        let (v, v4) = translate6(&orig, &rw(pool4, server4, mport, dport));
        prop_assert_eq!(v, Verdict::Forward);
        let ip4 = Ipv4HeaderSlice::from_slice(&v4).unwrap();
        prop_assert_eq!(ip4.ttl(), hop - 1);
        prop_assert_eq!(ip4.source_addr(), pool4);
        prop_assert_eq!(ip4.destination_addr(), server4);

        let (v, back) = translate4(&v4, &rw(client, server6, sport, dport));
        prop_assert_eq!(v, Verdict::Forward);
        let ip6 = Ipv6HeaderSlice::from_slice(&back).unwrap();
        prop_assert_eq!(ip6.hop_limit(), hop - 2);
        prop_assert_eq!(ip6.traffic_class(), tc);
        prop_assert_eq!(ip6.flow_label().value(), 0);
        prop_assert_eq!(ip6.source_addr(), client);
        prop_assert_eq!(ip6.destination_addr(), server6);
        prop_assert_eq!(back.len(), orig.len());
        prop_assert_eq!(&back[4..7], &orig[4..7]); // payload length, next header
        prop_assert_eq!(&back[40..], &orig[40..]);
    }

    /// RFC 7915 §4 then §5: an IPv4 packet translated to IPv6 and back is
    /// the original but for TTL (-2), identification, DF and options;
    /// transport header and payload, checksum included, are recovered.
    #[test]
    fn roundtrip_4to6to4(
        p in proto(), tos in any::<u8>(), ttl in 3u8..=255,
        s4 in unicast4(), p4 in unicast4(), c in any::<[u8; 16]>(),
        sport in 1u16.., dport in 1u16.., cport in 1u16.., payload in proptest::collection::vec(any::<u8>(), 0..1200),
    ) {
        let (server4, pool4) = (Ipv4Addr::from(s4), Ipv4Addr::from(p4));
        let client = Ipv6Addr::from(c);
        let server6 = Ipv6Addr::new(0x2001, 0xdb8, 0x64, 0, 0, 0, u16::from_be_bytes([s4[0], s4[1]]), u16::from_be_bytes([s4[2], s4[3]]));
        let b = PacketBuilder::ipv4(s4, p4, ttl);
        let mut orig = Vec::new();
        match p {
            Proto::Udp => b.udp(sport, dport).write(&mut orig, &payload).unwrap(),
            Proto::Tcp => b.tcp(sport, dport, 1, 1000).ack(5).write(&mut orig, &payload).unwrap(),
            Proto::Echo => b.icmpv4(Icmpv4Type::EchoReply(IcmpEchoHeader { id: sport, seq: dport })).write(&mut orig, &payload).unwrap(),
        }
        // TOS is not settable through the builder: set it and fix the checksum.
        orig[1] = tos;
        orig[10] = 0; orig[11] = 0;
        let csum = Ipv4HeaderSlice::from_slice(&orig).unwrap().to_header().calc_header_checksum();
        orig[10..12].copy_from_slice(&csum.to_be_bytes());

        let (v, v6) = translate4(&orig, &rw(server6, client, sport, cport));
        prop_assert_eq!(v, Verdict::Forward);
        let ip6 = Ipv6HeaderSlice::from_slice(&v6).unwrap();
        prop_assert_eq!(ip6.hop_limit(), ttl - 1);
        prop_assert_eq!(ip6.traffic_class(), tos);

        let (v, back) = translate6(&v6, &rw(server4, pool4, sport, dport));
        prop_assert_eq!(v, Verdict::Forward);
        let ip4 = Ipv4HeaderSlice::from_slice(&back).unwrap();
        prop_assert_eq!(ip4.ttl(), ttl - 2);
        prop_assert_eq!(back[1], tos); // DSCP + ECN
        prop_assert_eq!(ip4.source_addr(), server4);
        prop_assert_eq!(ip4.destination_addr(), pool4);
        prop_assert_eq!(ip4.protocol(), Ipv4HeaderSlice::from_slice(&orig).unwrap().protocol());
        prop_assert_eq!(ip4.to_header().calc_header_checksum(), ip4.header_checksum());
        prop_assert_eq!(back.len(), orig.len());
        prop_assert_eq!(&back[20..], &orig[20..]);
    }
}
