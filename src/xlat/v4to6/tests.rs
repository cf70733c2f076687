//! RFC 7915 §4 tests. Inputs are built and outputs checked with etherparse,
//! an independent implementation; every test asserts the verdict, the
//! translated fields, the checksums and the payload bytes.

use super::*;
use etherparse::{
    IcmpEchoHeader, Icmpv4Header, Icmpv4Slice, Icmpv4Type, Icmpv6Slice, IpNumber, Ipv4Dscp,
    Ipv4Ecn, Ipv4Header, Ipv4Options, Ipv6Header, TcpHeader, UdpHeader,
};
use proptest::prelude::*;

const HEADROOM: usize = 128;
/// The IPv4 peer (outside).
const PEER4: [u8; 4] = [198, 51, 100, 7];
/// Our pool address.
const POOL4: [u8; 4] = [192, 0, 2, 1];
/// A router on the IPv4 side that sends errors.
const ROUTER4: [u8; 4] = [203, 0, 113, 5];

fn peer6() -> Ipv6Addr {
    "64:ff9b::c633:6407".parse().unwrap()
}
fn router6() -> Ipv6Addr {
    "64:ff9b::cb00:7105".parse().unwrap()
}
fn host6() -> Ipv6Addr {
    "2001:db8:1::10".parse().unwrap()
}

fn cfg() -> XlatConfig {
    XlatConfig::default()
}

/// Plan for a packet from PEER4:80 to POOL4:1024 → peer6:80 to host6:40000.
fn plan() -> Plan<Ipv6Addr> {
    Plan {
        outer: Rewrite {
            src: peer6(),
            dst: host6(),
            src_port: 80,
            dst_port: 40000,
        },
        inner: None,
    }
}

/// Plan for an error from ROUTER4 about a packet POOL4:1024 → PEER4:80.
fn err_plan() -> Plan<Ipv6Addr> {
    Plan {
        outer: Rewrite {
            src: router6(),
            dst: host6(),
            src_port: 0,
            dst_port: 0,
        },
        inner: Some(Rewrite {
            src: host6(),
            dst: peer6(),
            src_port: 40000,
            dst_port: 80,
        }),
    }
}

/// An IPv4 header (DSCP 46 / ECN 1 = TOS 0xb9, TTL 64, DF, ID 0xbeef).
fn v4(proto: u8, src: [u8; 4], dst: [u8; 4]) -> Ipv4Header {
    let mut h = Ipv4Header::new(0, 64, IpNumber(proto), src, dst).unwrap();
    h.dscp = Ipv4Dscp::try_new(46).unwrap();
    h.ecn = Ipv4Ecn::try_new(1).unwrap();
    h.identification = 0xbeef;
    h
}

/// Serialise `h` + `l4` with total length and header checksum filled in.
fn pkt4(mut h: Ipv4Header, l4: &[u8]) -> Vec<u8> {
    h.total_len = (h.header_len() + l4.len()) as u16;
    h.header_checksum = h.calc_header_checksum();
    let mut v = h.to_bytes().to_vec();
    v.extend_from_slice(l4);
    v
}

fn udp4(h: &Ipv4Header, sp: u16, dp: u16, payload: &[u8]) -> Vec<u8> {
    let u = UdpHeader::with_ipv4_checksum(sp, dp, h, payload).unwrap();
    let mut v = u.to_bytes().to_vec();
    v.extend_from_slice(payload);
    v
}

fn tcp4(h: &Ipv4Header, sp: u16, dp: u16, payload: &[u8]) -> (TcpHeader, Vec<u8>) {
    let mut t = TcpHeader::new(sp, dp, 0x0102_0304, 0xfff0);
    t.syn = true;
    t.ack = true;
    t.acknowledgment_number = 0x0a0b_0c0d;
    t.set_options_raw(&[2, 4, 0x05, 0xb4]).unwrap(); // MSS 1460
    let mut h2 = h.clone();
    h2.total_len = (h.header_len() + t.header_len() + payload.len()) as u16;
    t.checksum = t.calc_checksum_ipv4(&h2, payload).unwrap();
    let mut v = t.to_bytes().to_vec();
    v.extend_from_slice(payload);
    (t, v)
}

fn icmp4(t: Icmpv4Type, payload: &[u8]) -> Vec<u8> {
    let h = Icmpv4Header::with_checksum(t, payload);
    let mut v = h.to_bytes().to_vec();
    v.extend_from_slice(payload);
    v
}

fn icmp4_raw(ty: u8, code: u8, rest: [u8; 4], payload: &[u8]) -> Vec<u8> {
    icmp4(
        Icmpv4Type::Unknown {
            type_u8: ty,
            code_u8: code,
            bytes5to8: rest,
        },
        payload,
    )
}

/// Run the translator on `pkt` in a buffer with 128 bytes headroom.
fn run_with(pkt: &[u8], plan: &Plan<Ipv6Addr>, cfg: &XlatConfig) -> (Verdict, Vec<u8>) {
    let mut mem = vec![0u8; HEADROOM + pkt.len() + 64];
    mem[HEADROOM..HEADROOM + pkt.len()].copy_from_slice(pkt);
    let mut b = PacketBuf::new(&mut mem, HEADROOM, pkt.len()).unwrap();
    let v = translate_4to6(&mut b, plan, cfg, &mut XlatState::default());
    (v, b.data().to_vec())
}

fn run(pkt: &[u8], plan: &Plan<Ipv6Addr>) -> (Verdict, Vec<u8>) {
    run_with(pkt, plan, &cfg())
}

/// An IPv6 Fragment header (RFC 8200 §4.5), read by hand: etherparse 0.16
/// swaps the offset and M bit positions (JulianSchmid/etherparse#150, fixed
/// in 0.20), so its Ipv6FragmentHeader cannot check our output.
#[derive(Debug, PartialEq)]
struct Frag {
    next: IpNumber,
    /// Offset in bytes.
    offset: usize,
    more: bool,
    ident: u32,
}

fn frag_hdr(b: &[u8]) -> (Frag, &[u8]) {
    assert!(b.len() >= 8, "no room for a Fragment header");
    let w = u16::from_be_bytes([b[2], b[3]]);
    assert_eq!(b[1], 0, "reserved");
    assert_eq!(w & 6, 0, "reserved bits");
    let f = Frag {
        next: IpNumber(b[0]),
        offset: usize::from(w >> 3) * 8,
        more: w & 1 != 0,
        ident: u32::from_be_bytes([b[4], b[5], b[6], b[7]]),
    };
    (f, &b[8..])
}

/// Parse the IPv6 header and check the §4.1 fields every translation shares.
fn check_v6(
    out: &[u8],
    next: u8,
    hop: u8,
    tc: u8,
    src: Ipv6Addr,
    dst: Ipv6Addr,
) -> (Ipv6Header, &[u8]) {
    let (h, rest) = Ipv6Header::from_slice(out).unwrap();
    assert_eq!(h.traffic_class, tc, "traffic class");
    assert_eq!(h.flow_label.value(), 0, "flow label");
    assert_eq!(
        usize::from(h.payload_length),
        out.len() - 40,
        "payload length"
    );
    assert_eq!(h.next_header, IpNumber(next), "next header");
    assert_eq!(h.hop_limit, hop, "hop limit");
    assert_eq!(Ipv6Addr::from(h.source), src, "source");
    assert_eq!(Ipv6Addr::from(h.destination), dst, "destination");
    (h, rest)
}

// --- §4.1 -------------------------------------------------------------------

#[test]
fn rfc7915_4_1_4to6_udp() {
    let h = v4(17, PEER4, POOL4);
    let data = b"hello, translated world";
    let pkt = pkt4(h.clone(), &udp4(&h, 1024, 53, data));
    let (v, out) = run(&pkt, &plan());
    assert_eq!(v, Verdict::Forward);
    assert_eq!(out.len(), pkt.len() + 20);
    let (ip6, rest) = check_v6(&out, 17, 63, 0xb9, peer6(), host6());
    let (u, payload) = UdpHeader::from_slice(rest).unwrap();
    assert_eq!((u.source_port, u.destination_port), (80, 40000));
    assert_eq!(usize::from(u.length), 8 + data.len());
    assert_eq!(payload, data);
    assert_eq!(u.checksum, u.calc_checksum_ipv6(&ip6, payload).unwrap());
}

#[test]
fn rfc7915_4_1_traffic_class_zero_when_not_copied() {
    let h = v4(17, PEER4, POOL4);
    let pkt = pkt4(h.clone(), &udp4(&h, 1024, 53, b"x"));
    let c = XlatConfig {
        copy_traffic_class: false,
        ..cfg()
    };
    let (v, out) = run_with(&pkt, &plan(), &c);
    assert_eq!(v, Verdict::Forward);
    check_v6(&out, 17, 63, 0, peer6(), host6());
}

#[test]
fn rfc7915_4_1_4to6_ttl_1_time_exceeded() {
    for ttl in [0u8, 1] {
        let mut h = v4(17, PEER4, POOL4);
        h.time_to_live = ttl;
        let pkt = pkt4(h.clone(), &udp4(&h, 1024, 53, b"expiring"));
        let (v, out) = run(&pkt, &plan());
        assert_eq!(v, Verdict::Reply(ReplyReason::TimeExceeded));
        let (ip, rest) = Ipv4Header::from_slice(&out).unwrap();
        assert_eq!(ip.source, cfg().own_ipv4.octets());
        assert_eq!(ip.destination, PEER4);
        assert_eq!(ip.protocol, IpNumber::ICMP);
        assert_eq!(ip.time_to_live, 64);
        assert_eq!(usize::from(ip.total_len), out.len());
        assert_eq!(ip.header_checksum, ip.calc_header_checksum());
        let icmp = Icmpv4Slice::from_slice(rest).unwrap();
        assert_eq!((icmp.type_u8(), icmp.code_u8()), (11, 0));
        assert_eq!(icmp.bytes5to8(), [0; 4]);
        assert_eq!(icmp.payload(), &pkt[..]);
        assert_eq!(
            icmp.checksum(),
            icmp.icmp_type().calc_checksum(icmp.payload())
        );
    }
}

#[test]
fn rfc7915_4_1_ttl_expired_on_icmp_error_is_dropped() {
    let inner = inner_udp(b"abcdefgh");
    let mut h = v4(1, ROUTER4, POOL4);
    h.time_to_live = 1;
    let pkt = pkt4(h, &icmp4_raw(3, 3, [0; 4], &inner));
    assert_eq!(
        run(&pkt, &err_plan()).0,
        Verdict::Drop(DropReason::TtlExpiredOnError)
    );
}

#[test]
fn rfc7915_4_1_4to6_options_ignored() {
    let data = b"options are not translated";
    let mut no_options = v4(17, PEER4, POOL4);
    no_options.time_to_live = 9;
    let mut h = no_options.clone();
    // NOP, NOP, Record Route (len 7, pointer 4, one empty slot), End.
    h.options = Ipv4Options::try_from(&[1u8, 1, 7, 7, 4, 0, 0, 0, 0, 0, 0, 0][..]).unwrap();
    let l4 = udp4(&no_options, 1024, 53, data);
    let pkt = pkt4(h, &l4);
    let (v, out) = run(&pkt, &plan());
    assert_eq!(v, Verdict::Forward);
    // Same output as the packet without options.
    let (v2, out2) = run(&pkt4(no_options, &l4), &plan());
    assert_eq!(v2, Verdict::Forward);
    assert_eq!(out, out2);
    let (ip6, rest) = check_v6(&out, 17, 8, 0xb9, peer6(), host6());
    let (u, payload) = UdpHeader::from_slice(rest).unwrap();
    assert_eq!(payload, data);
    assert_eq!(u.checksum, u.calc_checksum_ipv6(&ip6, payload).unwrap());
}

#[test]
fn rfc7915_4_1_4to6_source_route_failed() {
    let h0 = v4(17, PEER4, POOL4);
    let l4 = udp4(&h0, 1024, 53, b"routed");
    // LSRR, length 11, pointer 4 (two addresses left), then End: unexpired.
    let mut h = h0.clone();
    h.options =
        Ipv4Options::try_from(&[0x83u8, 11, 4, 192, 0, 2, 9, 192, 0, 2, 10, 0][..]).unwrap();
    let pkt = pkt4(h, &l4);
    let (v, out) = run(&pkt, &plan());
    assert_eq!(v, Verdict::Reply(ReplyReason::DestinationUnreachable));
    let (ip, rest) = Ipv4Header::from_slice(&out).unwrap();
    assert_eq!(ip.destination, PEER4);
    let icmp = Icmpv4Slice::from_slice(rest).unwrap();
    assert_eq!((icmp.type_u8(), icmp.code_u8()), (3, 5));
    assert_eq!(icmp.payload(), &pkt[..]);
    // SSRR with the pointer past the end: expired, translated normally.
    let mut h = h0.clone();
    h.options =
        Ipv4Options::try_from(&[0x89u8, 11, 12, 192, 0, 2, 9, 192, 0, 2, 10, 0][..]).unwrap();
    let (v, out) = run(&pkt4(h, &l4), &plan());
    assert_eq!(v, Verdict::Forward);
    assert_eq!(out.len(), 40 + l4.len());
    // A malformed option length is refused.
    let mut h = h0;
    h.options = Ipv4Options::try_from(&[0x44u8, 40, 0, 0][..]).unwrap();
    assert_eq!(
        run(&pkt4(h, &l4), &plan()).0,
        Verdict::Drop(DropReason::BadHeader)
    );
}

#[test]
fn rfc7915_4_1_4to6_bad_header_checksum() {
    let h = v4(17, PEER4, POOL4);
    let mut pkt = pkt4(h.clone(), &udp4(&h, 1024, 53, b"x"));
    pkt[10] ^= 0x01;
    assert_eq!(
        run(&pkt, &plan()).0,
        Verdict::Drop(DropReason::BadIpv4Checksum)
    );
}

#[test]
fn rfc7915_4_1_martian_source_dropped() {
    for src in [
        [0, 0, 0, 0],
        [0, 1, 2, 3],
        [127, 0, 0, 1],
        [224, 0, 0, 5],
        [240, 0, 0, 1],
        [255; 4],
    ] {
        let h = v4(17, src, POOL4);
        let pkt = pkt4(h.clone(), &udp4(&h, 1024, 53, b"x"));
        assert_eq!(
            run(&pkt, &plan()).0,
            Verdict::Drop(DropReason::MartianSource),
            "{src:?}"
        );
    }
}

#[test]
fn rfc7915_4_1_bad_version_ihl_and_lengths() {
    let h = v4(17, PEER4, POOL4);
    let good = pkt4(h.clone(), &udp4(&h, 1024, 53, b"x"));
    let fix = |mut p: Vec<u8>| {
        p[10] = 0;
        p[11] = 0;
        let c = csum::checksum(&p[..20]);
        p[10..12].copy_from_slice(&c.to_be_bytes());
        p
    };
    let mut p = good.clone();
    p[0] = 0x65; // version 6
    assert_eq!(
        run(&fix(p), &plan()).0,
        Verdict::Drop(DropReason::BadHeader)
    );
    let mut p = good.clone();
    p[0] = 0x44; // IHL 4
    assert_eq!(run(&p, &plan()).0, Verdict::Drop(DropReason::BadHeader));
    let mut p = good.clone();
    p[3] = 19; // total length < header
    p[2] = 0;
    assert_eq!(
        run(&fix(p), &plan()).0,
        Verdict::Drop(DropReason::BadHeader)
    );
    let mut p = good.clone();
    p[3] += 1; // total length beyond the buffer
    assert_eq!(
        run(&fix(p), &plan()).0,
        Verdict::Drop(DropReason::Truncated)
    );
    // Link padding after Total Length is not part of the packet.
    let mut p = good.clone();
    p.extend_from_slice(&[0xee; 6]);
    let (v, out) = run(&p, &plan());
    assert_eq!(v, Verdict::Forward);
    assert_eq!(out.len(), good.len() + 20);
}

#[test]
fn rfc7915_4_1_4to6_fragment_in_fragment_header() {
    // A UDP datagram of 8 + 2000 bytes sent as two IPv4 fragments (DF=0).
    let data: Vec<u8> = (0..2000u32).map(|i| (i * 7) as u8).collect();
    let mut full = v4(17, PEER4, POOL4);
    full.dont_fragment = false;
    full.identification = 0x1234;
    let l4 = udp4(&full, 1024, 53, &data);
    let mut first = full.clone();
    first.more_fragments = true;
    let p1 = pkt4(first, &l4[..1200]);
    let mut second = full.clone();
    second.fragment_offset = etherparse::IpFragOffset::try_new(1200 / 8).unwrap();
    let p2 = pkt4(second, &l4[1200..]);

    let (v, out) = run(&p1, &plan());
    assert_eq!(v, Verdict::Forward);
    let (_, rest) = check_v6(&out, 44, 63, 0xb9, peer6(), host6());
    let (f, rest) = frag_hdr(rest);
    assert_eq!(
        f,
        Frag {
            next: IpNumber::UDP,
            offset: 0,
            more: true,
            ident: 0x0000_1234
        }
    );
    let (u, body) = UdpHeader::from_slice(rest).unwrap();
    assert_eq!((u.source_port, u.destination_port), (80, 40000));
    assert_eq!(body, &data[..1192]);
    // The checksum covers the whole datagram: check it against one built
    // by etherparse over the reassembled translated datagram.
    let want = UdpHeader {
        source_port: 80,
        destination_port: 40000,
        length: u.length,
        checksum: 0,
    }
    .calc_checksum_ipv6_raw(peer6().octets(), host6().octets(), &data)
    .unwrap();
    assert_eq!(u.checksum, want);

    let (v, out) = run(&p2, &plan());
    assert_eq!(v, Verdict::Forward);
    let (_, rest) = check_v6(&out, 44, 63, 0xb9, peer6(), host6());
    let (f, rest) = frag_hdr(rest);
    assert_eq!(
        f,
        Frag {
            next: IpNumber::UDP,
            offset: 1200,
            more: false,
            ident: 0x1234
        }
    );
    assert_eq!(rest, &l4[1200..]);
}

/// Reassemble IPv6 fragments (each checked to carry a Fragment header).
fn reassemble(frags: &[Vec<u8>], mtu: usize) -> (Ipv6Header, Vec<u8>) {
    let mut body = Vec::new();
    let mut first = None;
    for (i, f) in frags.iter().enumerate() {
        assert!(
            f.len() <= mtu,
            "fragment {i} of {} bytes exceeds {mtu}",
            f.len()
        );
        let (h, rest) = Ipv6Header::from_slice(f).unwrap();
        assert_eq!(usize::from(h.payload_length), f.len() - 40);
        assert_eq!(h.next_header, IpNumber::IPV6_FRAGMENTATION_HEADER);
        let (fh, data) = frag_hdr(rest);
        assert_eq!(fh.offset, body.len(), "offset");
        assert_eq!(fh.more, i + 1 < frags.len(), "M flag");
        if i + 1 < frags.len() {
            assert_eq!(data.len() % 8, 0);
        }
        body.extend_from_slice(data);
        let mut hh = h.clone();
        hh.next_header = fh.next;
        match &first {
            None => first = Some((hh, fh.ident)),
            Some((h0, id)) => {
                assert_eq!(fh.ident, *id);
                assert_eq!((h0.source, h0.destination), (hh.source, hh.destination));
            }
        }
    }
    let (mut h, _) = first.unwrap();
    h.payload_length = body.len() as u16;
    (h, body)
}

#[test]
fn rfc7915_4_1_4to6_df0_fragmented_to_lowest_mtu() {
    let data: Vec<u8> = (0..3000u32).map(|i| (i % 251) as u8).collect();
    let mut h = v4(17, PEER4, POOL4);
    h.dont_fragment = false;
    h.identification = 0x4321;
    let pkt = pkt4(h.clone(), &udp4(&h, 1024, 53, &data));
    let (v, out) = run(&pkt, &plan());
    assert_eq!(v, Verdict::Fragment { mtu: 1280 });
    let (_, rest) = check_v6(&out, 44, 63, 0xb9, peer6(), host6());
    let (f, _) = frag_hdr(rest);
    assert_eq!(
        f,
        Frag {
            next: IpNumber::UDP,
            offset: 0,
            more: false,
            ident: 0x4321
        }
    );

    let mut frags = Vec::new();
    let n = fragment_ipv6(&out, 1280, &mut |h: &[u8], p: &[u8]| {
        let f = [h, p].concat();
        frags.push(f.to_vec());
        true
    })
    .unwrap();
    assert_eq!(n, frags.len());
    assert_eq!(n, 3);
    let (ip6, body) = reassemble(&frags, 1280);
    assert_eq!(ip6.next_header, IpNumber::UDP);
    assert_eq!(ip6.hop_limit, 63);
    let (u, payload) = UdpHeader::from_slice(&body).unwrap();
    assert_eq!((u.source_port, u.destination_port), (80, 40000));
    assert_eq!(payload, &data[..]);
    assert_eq!(u.checksum, u.calc_checksum_ipv6(&ip6, payload).unwrap());

    // A DF=0 packet that fits gets no Fragment header.
    let pkt = pkt4(h.clone(), &udp4(&h, 1024, 53, &data[..1000]));
    let (v, out) = run(&pkt, &plan());
    assert_eq!(v, Verdict::Forward);
    check_v6(&out, 17, 63, 0xb9, peer6(), host6());
}

#[test]
fn rfc7915_4_1_4to6_df1_too_big_frag_needed() {
    let data = vec![0x5a; 1600];
    let h = v4(17, PEER4, POOL4);
    let pkt = pkt4(h.clone(), &udp4(&h, 1024, 53, &data));
    let (v, out) = run(&pkt, &plan());
    assert_eq!(v, Verdict::Reply(ReplyReason::PacketTooBig));
    assert_eq!(out.len(), 576);
    let (ip, rest) = Ipv4Header::from_slice(&out).unwrap();
    assert_eq!(ip.destination, PEER4);
    assert_eq!(ip.source, cfg().own_ipv4.octets());
    assert_eq!(ip.header_checksum, ip.calc_header_checksum());
    let icmp = Icmpv4Slice::from_slice(rest).unwrap();
    assert_eq!((icmp.type_u8(), icmp.code_u8()), (3, 4));
    assert_eq!(
        icmp.bytes5to8(),
        [0, 0, (1480u16 >> 8) as u8, (1480u16 & 0xff) as u8]
    );
    assert_eq!(icmp.payload(), &pkt[..548]);
    assert_eq!(
        icmp.checksum(),
        icmp.icmp_type().calc_checksum(icmp.payload())
    );
    // Exactly the IPv6 MTU after translation still passes.
    let pkt = pkt4(h.clone(), &udp4(&h, 1024, 53, &data[..1500 - 48])); // 20+8+1452 -> 1500
    assert_eq!(run(&pkt, &plan()).0, Verdict::Forward);
}

#[test]
fn rfc7915_4_1_too_big_icmp_error_is_dropped() {
    // Only reachable when the IPv6 link is below 1280: the translated error
    // cannot be sent and no error may answer an error.
    let inner = inner_udp(&[1u8; 1200]);
    let pkt = pkt4(v4(1, ROUTER4, POOL4), &icmp4_raw(3, 3, [0; 4], &inner));
    let c = XlatConfig {
        ipv6_mtu: 1000,
        ..cfg()
    };
    assert_eq!(
        run_with(&pkt, &err_plan(), &c).0,
        Verdict::Drop(DropReason::TooBig)
    );
}

#[test]
fn rfc7915_4_1_no_headroom() {
    let h = v4(17, PEER4, POOL4);
    let pkt = pkt4(h.clone(), &udp4(&h, 1024, 53, b"x"));
    let mut mem = vec![0u8; 10 + pkt.len()];
    mem[10..].copy_from_slice(&pkt);
    let mut b = PacketBuf::new(&mut mem, 10, pkt.len()).unwrap();
    let v = translate_4to6(&mut b, &plan(), &cfg(), &mut XlatState::default());
    assert_eq!(v, Verdict::Drop(DropReason::NoHeadroom));
}

// --- §4.2 -------------------------------------------------------------------

#[test]
fn rfc7915_4_2_4to6_icmp_echo() {
    let data = b"ping payload 0123456789";
    for (t4, t6) in [
        (
            Icmpv4Type::EchoRequest(IcmpEchoHeader { id: 0x1111, seq: 7 }),
            128u8,
        ),
        (
            Icmpv4Type::EchoReply(IcmpEchoHeader { id: 0x1111, seq: 7 }),
            129u8,
        ),
    ] {
        let pkt = pkt4(v4(1, PEER4, POOL4), &icmp4(t4, data));
        let p = Plan {
            outer: Rewrite {
                src_port: 0x2222,
                dst_port: 0x2222,
                ..plan().outer
            },
            inner: None,
        };
        let (v, out) = run(&pkt, &p);
        assert_eq!(v, Verdict::Forward);
        let (_, rest) = check_v6(&out, 58, 63, 0xb9, peer6(), host6());
        let icmp = Icmpv6Slice::from_slice(rest).unwrap();
        assert_eq!((icmp.type_u8(), icmp.code_u8()), (t6, 0));
        assert_eq!(icmp.bytes5to8(), [0x22, 0x22, 0, 7]);
        assert_eq!(icmp.payload(), data);
        assert!(icmp.is_checksum_valid(peer6().octets(), host6().octets()));
    }
}

#[test]
fn rfc7915_4_2_4to6_icmp_echo_big() {
    let data: Vec<u8> = (0..3000u32).map(|i| (i * 13) as u8).collect();
    let echo = icmp4(
        Icmpv4Type::EchoRequest(IcmpEchoHeader { id: 9, seq: 1 }),
        &data,
    );
    // DF=1: too big for the 1500-byte IPv6 link.
    let pkt = pkt4(v4(1, PEER4, POOL4), &echo);
    let (v, out) = run(&pkt, &plan());
    assert_eq!(v, Verdict::Reply(ReplyReason::PacketTooBig));
    let (_, rest) = Ipv4Header::from_slice(&out).unwrap();
    let icmp = Icmpv4Slice::from_slice(rest).unwrap();
    assert_eq!(
        (icmp.type_u8(), icmp.code_u8(), icmp.bytes5to8()),
        (3, 4, [0, 0, 0x05, 0xc8])
    );
    // DF=0: translated, then fragmented to 1280.
    let mut h = v4(1, PEER4, POOL4);
    h.dont_fragment = false;
    let (v, out) = run(&pkt4(h, &echo), &plan());
    assert_eq!(v, Verdict::Fragment { mtu: 1280 });
    let mut frags = Vec::new();
    fragment_ipv6(&out, 1280, &mut |h: &[u8], p: &[u8]| {
        let f = [h, p].concat();
        frags.push(f.to_vec());
        true
    })
    .unwrap();
    let (ip6, body) = reassemble(&frags, 1280);
    assert_eq!(ip6.next_header, IpNumber::IPV6_ICMP);
    let e = Icmpv6Slice::from_slice(&body).unwrap();
    assert_eq!((e.type_u8(), e.bytes5to8()), (128, [0, 80, 0, 1]));
    assert_eq!(e.payload(), &data[..]);
    assert!(e.is_checksum_valid(peer6().octets(), host6().octets()));
}

#[test]
fn rfc7915_4_2_4to6_icmp_fragmented_is_dropped() {
    let mut h = v4(1, PEER4, POOL4);
    h.more_fragments = true;
    h.dont_fragment = false;
    let pkt = pkt4(
        h,
        &icmp4(
            Icmpv4Type::EchoRequest(IcmpEchoHeader { id: 1, seq: 1 }),
            &[0; 64],
        ),
    );
    assert_eq!(run(&pkt, &plan()).0, Verdict::Drop(DropReason::Fragment));
}

#[test]
fn rfc7915_4_2_4to6_icmp_untranslatable_types() {
    for t in [4u8, 5, 6, 9, 10, 13, 14, 15, 16, 17, 18, 30, 42, 255] {
        let pkt = pkt4(
            v4(1, PEER4, POOL4),
            &icmp4_raw(t, 0, [0; 4], &inner_udp(b"abcdefgh")),
        );
        assert_eq!(
            run(&pkt, &err_plan()).0,
            Verdict::Drop(DropReason::IcmpUntranslatable),
            "type {t}"
        );
    }
    // IGMP (protocol 2) is single-hop: dropped.
    let pkt = pkt4(v4(2, PEER4, POOL4), &[0x11, 0, 0xee, 0xff, 0, 0, 0, 0]);
    assert_eq!(
        run(&pkt, &plan()).0,
        Verdict::Drop(DropReason::UnknownProtocol)
    );
}

/// The packet an IPv4 router quotes: POOL4:1024 → PEER4:80 UDP, TTL 17.
fn inner_udp(data: &[u8]) -> Vec<u8> {
    let mut h = v4(17, POOL4, PEER4);
    h.time_to_live = 17;
    h.dscp = Ipv4Dscp::try_new(0).unwrap();
    h.ecn = Ipv4Ecn::try_new(0).unwrap();
    h.identification = 0x0707;
    pkt4(h.clone(), &udp4(&h, 1024, 80, data))
}

/// Check a translated ICMPv6 error and return (type, code, bytes 4..8,
/// quoted packet).
fn check_error(out: &[u8]) -> (u8, u8, [u8; 4], Vec<u8>) {
    let (_, rest) = check_v6(out, 58, 63, 0xb9, router6(), host6());
    let icmp = Icmpv6Slice::from_slice(rest).unwrap();
    assert!(icmp.is_checksum_valid(router6().octets(), host6().octets()));
    (
        icmp.type_u8(),
        icmp.code_u8(),
        icmp.bytes5to8(),
        icmp.payload().to_vec(),
    )
}

/// Check the quoted IPv6 UDP packet of a translated error.
fn check_inner_udp(q: &[u8], data: &[u8]) {
    let (ih, rest) = Ipv6Header::from_slice(q).unwrap();
    assert_eq!(Ipv6Addr::from(ih.source), host6());
    assert_eq!(Ipv6Addr::from(ih.destination), peer6());
    assert_eq!(ih.next_header, IpNumber::UDP);
    assert_eq!(ih.hop_limit, 17, "inner TTL is not decremented");
    assert_eq!(ih.traffic_class, 0);
    assert_eq!(usize::from(ih.payload_length), 8 + data.len());
    let (u, body) = UdpHeader::from_slice(rest).unwrap();
    assert_eq!((u.source_port, u.destination_port), (40000, 80));
    assert_eq!(body, data);
    assert_eq!(u.checksum, u.calc_checksum_ipv6(&ih, body).unwrap());
}

#[test]
fn rfc7915_4_2_4to6_icmp_dest_unreach_each_code() {
    let data = b"quoted datagram";
    let inner = inner_udp(data);
    for code in 0u8..=16 {
        let pkt = pkt4(
            v4(1, ROUTER4, POOL4),
            &icmp4_raw(3, code, [0, 0, 0x05, 0xdc], &inner),
        );
        let (v, out) = run(&pkt, &err_plan());
        let want: Option<(u8, u8, [u8; 4])> = match code {
            0 | 1 | 5 | 6 | 7 | 8 | 11 | 12 => Some((1, 0, [0; 4])),
            2 => Some((4, 1, [0, 0, 0, 6])),
            3 => Some((1, 4, [0; 4])),
            4 => Some((2, 0, [0, 0, 0x05, 0xdc])), // min(1500+20, 1500, 1520)
            9 | 10 | 13 | 15 => Some((1, 1, [0; 4])),
            _ => None,
        };
        match want {
            None => assert_eq!(
                v,
                Verdict::Drop(DropReason::IcmpUntranslatable),
                "code {code}"
            ),
            Some((t, c, rest)) => {
                assert_eq!(v, Verdict::Forward, "code {code}");
                let (t6, c6, r6, q) = check_error(&out);
                assert_eq!((t6, c6, r6), (t, c, rest), "code {code}");
                check_inner_udp(&q, data);
            }
        }
    }
}

#[test]
fn rfc7915_4_2_4to6_time_exceeded() {
    let data = b"ttl ran out";
    for code in [0u8, 1] {
        let pkt = pkt4(
            v4(1, ROUTER4, POOL4),
            &icmp4_raw(11, code, [0; 4], &inner_udp(data)),
        );
        let (v, out) = run(&pkt, &err_plan());
        assert_eq!(v, Verdict::Forward);
        let (t, c, r, q) = check_error(&out);
        assert_eq!((t, c, r), (3, code, [0; 4]));
        check_inner_udp(&q, data);
    }
}

/// An ICMPv4 Fragmentation Needed quoting a UDP header whose IPv4 header
/// claims `total` bytes (only the first 8 data bytes are quoted).
fn frag_needed(mtu: u16, total: u16) -> Vec<u8> {
    let mut inner = inner_udp(&[0xab; 8]);
    inner[2..4].copy_from_slice(&total.to_be_bytes());
    let mut ih = Ipv4Header::from_slice(&inner).unwrap().0;
    ih.header_checksum = ih.calc_header_checksum();
    inner[..20].copy_from_slice(&ih.to_bytes());
    let m = mtu.to_be_bytes();
    pkt4(
        v4(1, ROUTER4, POOL4),
        &icmp4_raw(3, 4, [0, 0, m[0], m[1]], &inner),
    )
}

#[test]
fn rfc7915_4_2_4to6_icmp_frag_needed_mtu() {
    let big = XlatConfig {
        ipv6_mtu: 9000,
        ipv4_mtu: 9000,
        ..cfg()
    };
    // (next-hop MTU, quoted total length, config, expected IPv6 MTU)
    let cases: [(u16, u16, &XlatConfig, u32); 9] = [
        (1400, 1500, &cfg(), 1420), // MTU + 20
        (1492, 1500, &cfg(), 1500), // capped by the IPv6 link MTU
        (1000, 1500, &cfg(), 1280), // never below 1280
        (
            1500,
            1600,
            &XlatConfig {
                ipv4_mtu: 1400,
                ..cfg()
            },
            1420,
        ), // IPv4 MTU + 20
        (0, 1500, &big, 1512),      // plateau 1492 + 20
        (0, 4000, &big, 2022),      // plateau 2002 + 20
        (0, 9000, &big, 8186),      // plateau 8166 + 20
        (0, 1400, &big, 1280),      // plateau 1006: below 1280
        (0, 1500, &cfg(), 1500),    // plateau 1492 + 20, capped by 1500
    ];
    for (mtu, total, c, want) in cases {
        let (v, out) = run_with(&frag_needed(mtu, total), &err_plan(), c);
        assert_eq!(v, Verdict::Forward, "mtu {mtu} total {total}");
        let (t, code, r, q) = check_error(&out);
        assert_eq!((t, code), (2, 0));
        assert_eq!(u32::from_be_bytes(r), want, "mtu {mtu} total {total}");
        // The quoted header keeps the (IPv6) length it claimed.
        let (ih, _) = Ipv6Header::from_slice(&q).unwrap();
        assert_eq!(ih.payload_length, total - 20);
    }
}

#[test]
fn rfc7915_4_2_4to6_icmp_param_problem_pointer_table() {
    let data = b"bad header";
    for code in 0u8..=3 {
        for ptr in 0u8..=24 {
            let pkt = pkt4(
                v4(1, ROUTER4, POOL4),
                &icmp4_raw(12, code, [ptr, 0, 0, 0], &inner_udp(data)),
            );
            let (v, out) = run(&pkt, &err_plan());
            let want = match ptr {
                0 => Some(0u32),
                1 => Some(1),
                2 | 3 => Some(4),
                8 => Some(7),
                9 => Some(6),
                12..=15 => Some(8),
                16..=19 => Some(24),
                _ => None,
            };
            match (code, want) {
                (0 | 2, Some(p6)) => {
                    assert_eq!(v, Verdict::Forward, "code {code} ptr {ptr}");
                    let (t, c, r, q) = check_error(&out);
                    assert_eq!((t, c, u32::from_be_bytes(r)), (4, 0, p6), "ptr {ptr}");
                    check_inner_udp(&q, data);
                }
                _ => assert_eq!(
                    v,
                    Verdict::Drop(DropReason::IcmpUntranslatable),
                    "code {code} ptr {ptr}"
                ),
            }
        }
    }
}

// --- §4.3 -------------------------------------------------------------------

#[test]
fn rfc7915_4_3_4to6_icmp_error_inner_udp() {
    let data = b"the whole datagram is quoted";
    let pkt = pkt4(
        v4(1, ROUTER4, POOL4),
        &icmp4_raw(3, 3, [0; 4], &inner_udp(data)),
    );
    let (v, out) = run(&pkt, &err_plan());
    assert_eq!(v, Verdict::Forward);
    assert_eq!(out.len(), pkt.len() + 40);
    let (t, c, _, q) = check_error(&out);
    assert_eq!((t, c), (1, 4));
    check_inner_udp(&q, data);
}

#[test]
fn rfc7915_4_3_4to6_icmp_error_inner_tcp() {
    let data = b"GET / HTTP/1.1\r\n";
    let mut ih4 = v4(6, POOL4, PEER4);
    ih4.time_to_live = 30;
    let (t4, seg) = tcp4(&ih4, 1024, 80, data);
    // With IPv4 options on the quoted header: they disappear.
    ih4.options = Ipv4Options::try_from(&[1u8, 1, 1, 0][..]).unwrap();
    let inner = pkt4(ih4, &seg);
    let pkt = pkt4(v4(1, ROUTER4, POOL4), &icmp4_raw(3, 1, [0; 4], &inner));
    let (v, out) = run(&pkt, &err_plan());
    assert_eq!(v, Verdict::Forward);
    let (t, c, _, q) = check_error(&out);
    assert_eq!((t, c), (1, 0));
    let (ih, rest) = Ipv6Header::from_slice(&q).unwrap();
    assert_eq!(
        (Ipv6Addr::from(ih.source), Ipv6Addr::from(ih.destination)),
        (host6(), peer6())
    );
    assert_eq!(ih.next_header, IpNumber::TCP);
    assert_eq!(ih.hop_limit, 30);
    assert_eq!(ih.traffic_class, 0xb9);
    let (tcp, body) = TcpHeader::from_slice(rest).unwrap();
    assert_eq!((tcp.source_port, tcp.destination_port), (40000, 80));
    assert_eq!(
        (tcp.sequence_number, tcp.acknowledgment_number),
        (t4.sequence_number, t4.acknowledgment_number)
    );
    assert!(tcp.syn && tcp.ack);
    assert_eq!(tcp.options.as_slice(), t4.options.as_slice());
    assert_eq!(body, data);
    assert_eq!(tcp.checksum, tcp.calc_checksum_ipv6(&ih, body).unwrap());
}

#[test]
fn rfc7915_4_3_4to6_icmp_error_inner_tcp_first_8_bytes() {
    // A router that quotes only the header and 8 data bytes (RFC 792): the
    // ports change, the sequence number stays, no checksum to update.
    let mut ih4 = v4(6, POOL4, PEER4);
    ih4.time_to_live = 30;
    let (_, seg) = tcp4(&ih4, 1024, 80, b"payload");
    let inner = pkt4(ih4, &seg);
    let pkt = pkt4(
        v4(1, ROUTER4, POOL4),
        &icmp4_raw(11, 0, [0; 4], &inner[..28]),
    );
    let (v, out) = run(&pkt, &err_plan());
    assert_eq!(v, Verdict::Forward);
    let (t, c, _, q) = check_error(&out);
    assert_eq!((t, c), (3, 0));
    assert_eq!(q.len(), 48);
    let (ih, rest) = Ipv6Header::from_slice(&q).unwrap();
    assert_eq!(usize::from(ih.payload_length), seg.len());
    assert_eq!(ih.next_header, IpNumber::TCP);
    assert_eq!(rest, &[0x9c, 0x40, 0, 80, 1, 2, 3, 4]); // 40000, 80, seq
}

#[test]
fn rfc7915_4_3_4to6_icmp_error_inner_echo() {
    let data = b"echo data";
    let mut ih4 = v4(1, POOL4, PEER4);
    ih4.time_to_live = 5;
    let inner = pkt4(
        ih4,
        &icmp4(
            Icmpv4Type::EchoRequest(IcmpEchoHeader { id: 1024, seq: 3 }),
            data,
        ),
    );
    let pkt = pkt4(v4(1, ROUTER4, POOL4), &icmp4_raw(11, 0, [0; 4], &inner));
    let (v, out) = run(&pkt, &err_plan());
    assert_eq!(v, Verdict::Forward);
    let (t, c, _, q) = check_error(&out);
    assert_eq!((t, c), (3, 0));
    let (ih, rest) = Ipv6Header::from_slice(&q).unwrap();
    assert_eq!(ih.next_header, IpNumber::IPV6_ICMP);
    assert_eq!(ih.hop_limit, 5);
    assert_eq!(usize::from(ih.payload_length), 8 + data.len());
    let e = Icmpv6Slice::from_slice(rest).unwrap();
    assert_eq!((e.type_u8(), e.code_u8()), (128, 0));
    assert_eq!(e.bytes5to8(), [0x9c, 0x40, 0, 3]); // id 40000, seq 3
    assert_eq!(e.payload(), data);
    assert!(e.is_checksum_valid(host6().octets(), peer6().octets()));
}

#[test]
fn rfc7915_4_3_4to6_icmp_error_truncated_to_1280() {
    let data = vec![0x77u8; 1400];
    let inner = inner_udp(&data);
    let pkt = pkt4(v4(1, ROUTER4, POOL4), &icmp4_raw(3, 3, [0; 4], &inner));
    let (v, out) = run(&pkt, &err_plan());
    assert_eq!(v, Verdict::Forward);
    assert_eq!(out.len(), 1280);
    let (_, _, _, q) = check_error(&out);
    let (ih, rest) = Ipv6Header::from_slice(&q).unwrap();
    assert_eq!(
        usize::from(ih.payload_length),
        8 + 1400,
        "claims the original length"
    );
    let (u, body) = UdpHeader::from_slice(rest).unwrap();
    assert_eq!((u.source_port, u.destination_port), (40000, 80));
    assert_eq!(body, &data[..1280 - 40 - 8 - 40 - 8]);
    // The checksum was updated for the full datagram.
    assert_eq!(u.checksum, u.calc_checksum_ipv6(&ih, &data).unwrap());
}

#[test]
fn rfc7915_4_3_4to6_icmp_error_inner_fragment() {
    // The quoted packet was a first fragment: the inner header gets a
    // Fragment header too.
    let mut ih4 = v4(17, POOL4, PEER4);
    ih4.time_to_live = 17;
    ih4.more_fragments = true;
    ih4.dont_fragment = false;
    ih4.identification = 0xabcd;
    let l4 = udp4(&ih4, 1024, 80, &[9u8; 100]);
    let inner = pkt4(ih4, &l4[..48]);
    let pkt = pkt4(v4(1, ROUTER4, POOL4), &icmp4_raw(11, 1, [0; 4], &inner));
    let (v, out) = run(&pkt, &err_plan());
    assert_eq!(v, Verdict::Forward);
    let (_, _, _, q) = check_error(&out);
    let (ih, rest) = Ipv6Header::from_slice(&q).unwrap();
    assert_eq!(ih.next_header, IpNumber::IPV6_FRAGMENTATION_HEADER);
    assert_eq!(ih.payload_length, 8 + 48);
    let (f, rest) = frag_hdr(rest);
    assert_eq!(
        f,
        Frag {
            next: IpNumber::UDP,
            offset: 0,
            more: true,
            ident: 0xabcd
        }
    );
    let (u, _) = UdpHeader::from_slice(rest).unwrap();
    assert_eq!((u.source_port, u.destination_port), (40000, 80));
}

/// An RFC 4884 extension structure: version 2 header and one object
/// (class 1 / c-type 1, MPLS label stack style) with a checksum.
fn rfc4884_extension() -> Vec<u8> {
    let mut e = vec![0x20, 0, 0, 0, 0, 8, 1, 1, 0xde, 0xad, 0xbe, 0xef];
    let c = etherparse::checksum::Sum16BitWords::new()
        .add_slice(&e)
        .ones_complement()
        .to_be();
    e[2..4].copy_from_slice(&c.to_be_bytes());
    e
}

/// ICMPv4 `ty`/`code` quoting `inner` padded to a multiple of 4 (at least
/// 128 bytes), then an extension, with the RFC 4884 length attribute.
fn icmp4_with_ext(ty: u8, code: u8, rest: [u8; 4], inner: &[u8]) -> Vec<u8> {
    let mut orig = inner.to_vec();
    orig.resize(inner.len().div_ceil(4).max(32) * 4, 0);
    let mut rest = rest;
    rest[1] = (orig.len() / 4) as u8;
    let mut body = orig;
    body.extend_from_slice(&rfc4884_extension());
    icmp4_raw(ty, code, rest, &body)
}

#[test]
fn rfc7915_4_2_4to6_icmp_error_payload_rfc4884_extension() {
    // 200 data bytes: inner 228 -> 248 bytes in IPv6, already 8-aligned.
    // 204 data bytes: inner 232 -> 252, padded to 256 (4 bytes moved).
    // 40 data bytes: inner 68 padded to 128 in IPv4 -> 148, padded to 152.
    for (n, words) in [(200usize, 31u8), (204, 32), (40, 19)] {
        let data: Vec<u8> = (0..n).map(|i| i as u8).collect();
        let inner = inner_udp(&data);
        for (ty, code, t6, c6) in [(3u8, 1u8, 1u8, 0u8), (11, 0, 3, 0)] {
            let pkt = pkt4(
                v4(1, ROUTER4, POOL4),
                &icmp4_with_ext(ty, code, [0; 4], &inner),
            );
            let (v, out) = run(&pkt, &err_plan());
            assert_eq!(v, Verdict::Forward, "{n} {ty}");
            let (t, c, r, q) = check_error(&out);
            assert_eq!((t, c, r), (t6, c6, [words, 0, 0, 0]), "{n} {ty}");
            let orig6 = usize::from(words) * 8;
            check_inner_udp(&q[..40 + 8 + n], &data);
            assert!(q[40 + 8 + n..orig6].iter().all(|&b| b == 0), "zero padding");
            assert_eq!(&q[orig6..], &rfc4884_extension()[..], "{n} {ty}");
        }
        // Packet Too Big and Parameter Problem carry no extension in ICMPv6:
        // the original datagram field alone is quoted.
        let pkt = pkt4(
            v4(1, ROUTER4, POOL4),
            &icmp4_with_ext(3, 4, [0, 0, 5, 0], &inner),
        );
        let (v, out) = run(&pkt, &err_plan());
        assert_eq!(v, Verdict::Forward);
        let (t, _, r, q) = check_error(&out);
        assert_eq!((t, u32::from_be_bytes(r)), (2, 1300));
        let orig4 = inner.len().div_ceil(4).max(32) * 4;
        assert_eq!(q.len(), orig4 + 20, "{n}");
        check_inner_udp(&q[..40 + 8 + n], &data);
    }
    // A length attribute under 128 bytes is invalid: no extension (§5),
    // everything is quoted as it is and the ICMPv6 length stays 0.
    let inner = inner_udp(b"abcdefgh");
    let mut body = inner.clone();
    body.extend_from_slice(&rfc4884_extension());
    let pkt = pkt4(v4(1, ROUTER4, POOL4), &icmp4_raw(3, 1, [0, 9, 0, 0], &body));
    let (v, out) = run(&pkt, &err_plan());
    assert_eq!(v, Verdict::Forward);
    let (_, _, r, q) = check_error(&out);
    assert_eq!(r, [0; 4]);
    assert_eq!(q.len(), body.len() + 20);
}

#[test]
fn rfc7915_4_3_4to6_icmp_error_in_error_dropped() {
    let inner_err = pkt4(
        v4(1, POOL4, PEER4),
        &icmp4_raw(3, 1, [0; 4], &inner_udp(b"abcdefgh")),
    );
    let pkt = pkt4(v4(1, ROUTER4, POOL4), &icmp4_raw(3, 3, [0; 4], &inner_err));
    assert_eq!(
        run(&pkt, &err_plan()).0,
        Verdict::Drop(DropReason::IcmpInnerBad)
    );
    // No inner plan, a quote too short, a quote that is not IPv4.
    let ok = pkt4(
        v4(1, ROUTER4, POOL4),
        &icmp4_raw(3, 3, [0; 4], &inner_udp(b"abcdefgh")),
    );
    assert_eq!(run(&ok, &plan()).0, Verdict::Drop(DropReason::IcmpInnerBad));
    let short = pkt4(
        v4(1, ROUTER4, POOL4),
        &icmp4_raw(3, 3, [0; 4], &inner_udp(b"")[..24]),
    );
    assert_eq!(
        run(&short, &err_plan()).0,
        Verdict::Drop(DropReason::IcmpInnerBad)
    );
    let mut v6ish = inner_udp(b"abcdefgh");
    v6ish[0] = 0x60;
    let bad = pkt4(v4(1, ROUTER4, POOL4), &icmp4_raw(3, 3, [0; 4], &v6ish));
    assert_eq!(
        run(&bad, &err_plan()).0,
        Verdict::Drop(DropReason::IcmpInnerBad)
    );
}

#[test]
fn rfc7915_4_3_bad_icmp_checksum_dropped() {
    let mut pkt = pkt4(
        v4(1, ROUTER4, POOL4),
        &icmp4_raw(3, 3, [0; 4], &inner_udp(b"abcdefgh")),
    );
    let n = pkt.len();
    pkt[n - 1] ^= 0xff;
    assert_eq!(
        run(&pkt, &err_plan()).0,
        Verdict::Drop(DropReason::BadIcmpChecksum)
    );
}

// --- §4.4 -------------------------------------------------------------------

fn error_for(pkt: &[u8], headroom: usize, t: u8, c: u8, rest: u32) -> (Verdict, Vec<u8>) {
    let mut mem = vec![0u8; headroom + pkt.len() + 64];
    mem[headroom..headroom + pkt.len()].copy_from_slice(pkt);
    let mut b = PacketBuf::new(&mut mem, headroom, pkt.len()).unwrap();
    let v = icmpv4_error(&mut b, t, c, rest, &cfg());
    (v, b.data().to_vec())
}

#[test]
fn rfc7915_4_4_icmpv4_error_port_unreachable() {
    // What the NAT64 sends for a held SYN (RFC 6146 §3.5.2.2).
    let h = v4(6, PEER4, POOL4);
    let (_, seg) = tcp4(&h, 5555, 1024, b"");
    let pkt = pkt4(h, &seg);
    for headroom in [128, 0] {
        let (v, out) = error_for(&pkt, headroom, 3, 3, 0);
        assert_eq!(v, Verdict::Reply(ReplyReason::DestinationUnreachable));
        let (ip, rest) = Ipv4Header::from_slice(&out).unwrap();
        assert_eq!(
            (ip.source, ip.destination),
            (cfg().own_ipv4.octets(), PEER4)
        );
        assert_eq!(ip.header_checksum, ip.calc_header_checksum());
        assert!(!ip.more_fragments && ip.fragment_offset.value() == 0);
        let icmp = Icmpv4Slice::from_slice(rest).unwrap();
        assert_eq!((icmp.type_u8(), icmp.code_u8()), (3, 3));
        assert_eq!(icmp.payload(), &pkt[..]);
        assert_eq!(
            icmp.checksum(),
            icmp.icmp_type().calc_checksum(icmp.payload())
        );
    }
    // Reply reasons follow the type.
    assert_eq!(
        error_for(&pkt, 128, 12, 0, 0).0,
        Verdict::Reply(ReplyReason::ParameterProblem)
    );
    assert_eq!(
        error_for(&pkt, 128, 3, 4, 1280).0,
        Verdict::Reply(ReplyReason::PacketTooBig)
    );
    assert_eq!(
        error_for(&pkt, 128, 8, 0, 0).0,
        Verdict::Drop(DropReason::IcmpUntranslatable)
    );
}

#[test]
fn rfc7915_4_4_never_answer_errors_fragments_or_non_unicast() {
    let err = pkt4(
        v4(1, ROUTER4, POOL4),
        &icmp4_raw(3, 3, [0; 4], &inner_udp(b"abcdefgh")),
    );
    assert_eq!(
        error_for(&err, 128, 3, 3, 0).0,
        Verdict::Drop(DropReason::IcmpErrorSuppressed)
    );
    assert_eq!(
        error_for(&err, 128, 11, 0, 0).0,
        Verdict::Drop(DropReason::TtlExpiredOnError)
    );
    assert_eq!(
        error_for(&err, 128, 3, 4, 0).0,
        Verdict::Drop(DropReason::TooBig)
    );
    let mut h = v4(17, PEER4, POOL4);
    h.fragment_offset = etherparse::IpFragOffset::try_new(100).unwrap();
    let frag = pkt4(h, &[0u8; 16]);
    assert_eq!(
        error_for(&frag, 128, 3, 3, 0).0,
        Verdict::Drop(DropReason::IcmpErrorSuppressed)
    );
    for src in [
        [0, 0, 0, 0],
        [127, 0, 0, 1],
        [224, 0, 0, 1],
        [240, 0, 0, 1],
        [255, 255, 255, 255],
    ] {
        let h = v4(17, src, POOL4);
        let p = pkt4(h.clone(), &udp4(&h, 1, 2, b"x"));
        assert_eq!(
            error_for(&p, 128, 3, 3, 0).0,
            Verdict::Drop(DropReason::IcmpErrorSuppressed)
        );
    }
    for dst in [[224, 0, 0, 1], [255, 255, 255, 255]] {
        let h = v4(17, PEER4, dst);
        let p = pkt4(h.clone(), &udp4(&h, 1, 2, b"x"));
        assert_eq!(
            error_for(&p, 128, 3, 3, 0).0,
            Verdict::Drop(DropReason::IcmpErrorSuppressed)
        );
    }
}

// --- §4.5 -------------------------------------------------------------------

#[test]
fn rfc7915_4_5_4to6_tcp() {
    let data = b"HTTP/1.1 200 OK\r\n\r\n";
    let h = v4(6, PEER4, POOL4);
    let (t4, seg) = tcp4(&h, 80, 1024, data);
    let pkt = pkt4(h, &seg);
    let (v, out) = run(&pkt, &plan());
    assert_eq!(v, Verdict::Forward);
    let (ip6, rest) = check_v6(&out, 6, 63, 0xb9, peer6(), host6());
    let (t, body) = TcpHeader::from_slice(rest).unwrap();
    assert_eq!((t.source_port, t.destination_port), (80, 40000));
    assert_eq!(t.sequence_number, t4.sequence_number);
    assert_eq!(t.acknowledgment_number, t4.acknowledgment_number);
    assert_eq!(t.window_size, t4.window_size);
    assert!(t.syn && t.ack && !t.fin && !t.rst);
    assert_eq!(t.options.as_slice(), t4.options.as_slice());
    assert_eq!(body, data);
    assert_eq!(t.checksum, t.calc_checksum_ipv6(&ip6, body).unwrap());
}

#[test]
fn rfc7915_4_5_4to6_udp_zero_csum_amended() {
    let data = b"no checksum here";
    let h = v4(17, PEER4, POOL4);
    let mut l4 = udp4(&h, 1024, 53, data);
    l4[6] = 0;
    l4[7] = 0;
    let pkt = pkt4(h, &l4);
    let (v, out) = run(&pkt, &plan());
    assert_eq!(v, Verdict::Forward);
    let (ip6, rest) = check_v6(&out, 17, 63, 0xb9, peer6(), host6());
    let (u, body) = UdpHeader::from_slice(rest).unwrap();
    assert_eq!(body, data);
    assert_ne!(u.checksum, 0);
    assert_eq!(u.checksum, u.calc_checksum_ipv6(&ip6, body).unwrap());
}

#[test]
fn rfc7915_4_5_4to6_udp_zero_csum_dropped() {
    let h = v4(17, PEER4, POOL4);
    let mut l4 = udp4(&h, 1024, 53, b"no checksum here");
    l4[6] = 0;
    l4[7] = 0;
    let pkt = pkt4(h.clone(), &l4);
    let c = XlatConfig {
        amend_udp_checksum_zero: false,
        ..cfg()
    };
    assert_eq!(
        run_with(&pkt, &plan(), &c).0,
        Verdict::Drop(DropReason::UdpChecksumZero)
    );
    // A first fragment cannot be amended, whatever the configuration.
    let mut f = h;
    f.more_fragments = true;
    f.dont_fragment = false;
    let pkt = pkt4(f, &l4[..16]);
    assert_eq!(
        run(&pkt, &plan()).0,
        Verdict::Drop(DropReason::UdpChecksumZero)
    );
}

#[test]
fn rfc7915_4_5_other_protocols_copied() {
    // GRE (47): header translated, payload untouched.
    let body = [0u8, 0, 0x08, 0, 1, 2, 3, 4];
    let pkt = pkt4(v4(47, PEER4, POOL4), &body);
    let (v, out) = run(&pkt, &plan());
    assert_eq!(v, Verdict::Forward);
    let (_, rest) = check_v6(&out, 47, 63, 0xb9, peer6(), host6());
    assert_eq!(rest, &body);
}

// --- flow4 (RFC 6146 §3.4) --------------------------------------------------

#[test]
fn rfc6146_3_4_flow4() {
    let h = v4(6, PEER4, POOL4);
    let (_, seg) = tcp4(&h, 80, 1024, b"");
    let f = flow4(&pkt4(h, &seg)).unwrap();
    assert_eq!(
        f.tuple,
        Tuple {
            l4: L4::Tcp,
            src: PEER4.into(),
            dst: POOL4.into(),
            src_port: 80,
            dst_port: 1024
        }
    );
    assert_eq!(f.tcp_flags, 0x12); // SYN+ACK
    assert!(!f.non_first_fragment && f.inner.is_none());

    let h = v4(17, PEER4, POOL4);
    let f = flow4(&pkt4(h.clone(), &udp4(&h, 53, 1024, b"x"))).unwrap();
    assert_eq!(
        (f.tuple.l4, f.tuple.src_port, f.tuple.dst_port),
        (L4::Udp, 53, 1024)
    );

    let e = icmp4(
        Icmpv4Type::EchoReply(IcmpEchoHeader { id: 777, seq: 1 }),
        b"",
    );
    let f = flow4(&pkt4(v4(1, PEER4, POOL4), &e)).unwrap();
    assert_eq!(
        (f.tuple.l4, f.tuple.src_port, f.tuple.dst_port),
        (L4::Icmp, 777, 777)
    );

    let err = pkt4(
        v4(1, ROUTER4, POOL4),
        &icmp4_raw(3, 3, [0; 4], &inner_udp(b"abcdefgh")),
    );
    let f = flow4(&err).unwrap();
    assert_eq!(
        f.tuple,
        Tuple {
            l4: L4::Icmp,
            src: ROUTER4.into(),
            dst: POOL4.into(),
            src_port: 0,
            dst_port: 0
        }
    );
    assert_eq!(
        f.inner,
        Some(Tuple {
            l4: L4::Udp,
            src: POOL4.into(),
            dst: PEER4.into(),
            src_port: 1024,
            dst_port: 80
        })
    );

    let mut h = v4(17, PEER4, POOL4);
    h.fragment_offset = etherparse::IpFragOffset::try_new(10).unwrap();
    let f = flow4(&pkt4(h, &[1u8; 4])).unwrap();
    assert!(f.non_first_fragment);
    assert_eq!(
        (f.tuple.l4, f.tuple.src_port, f.tuple.dst_port),
        (L4::Udp, 0, 0)
    );

    assert_eq!(
        flow4(&pkt4(v4(47, PEER4, POOL4), &[0; 8])),
        Err(DropReason::UnknownProtocol)
    );
    let ts = icmp4_raw(13, 0, [0; 4], &[0; 12]);
    assert_eq!(
        flow4(&pkt4(v4(1, PEER4, POOL4), &ts)),
        Err(DropReason::IcmpUntranslatable)
    );
    let inner_err = pkt4(
        v4(1, POOL4, PEER4),
        &icmp4_raw(3, 1, [0; 4], &inner_udp(b"abcdefgh")),
    );
    let ee = pkt4(v4(1, ROUTER4, POOL4), &icmp4_raw(3, 3, [0; 4], &inner_err));
    assert_eq!(flow4(&ee), Err(DropReason::IcmpInnerBad));
}

/// What translation refuses for the IPv4 header alone, flow4 refuses
/// first, so that such a packet never takes state in the stateful NAT64
/// (a session under an existing BIB entry): a bad header checksum (RFC
/// 1812 §5.2.2) and an illegal source (RFC 7915 §4.1, RFC 1812 §5.3.7).
#[test]
fn rfc7915_4_1_flow4_refuses_what_translation_refuses_for_the_header() {
    let h = v4(17, PEER4, POOL4);
    let mut bad_sum = pkt4(h.clone(), &udp4(&h, 53, 1024, b"x"));
    bad_sum[10] ^= 0x55;
    assert_eq!(flow4(&bad_sum), Err(DropReason::BadIpv4Checksum));
    let (v, _) = run(&bad_sum, &plan());
    assert_eq!(v, Verdict::Drop(DropReason::BadIpv4Checksum));
    for src in [
        [255, 255, 255, 255],
        [224, 0, 0, 1],
        [127, 0, 0, 1],
        [0, 0, 0, 0],
    ] {
        let h = v4(17, src, POOL4);
        let pkt = pkt4(h.clone(), &udp4(&h, 53, 1024, b"x"));
        assert_eq!(flow4(&pkt), Err(DropReason::MartianSource), "{src:?}");
        let (v, _) = run(&pkt, &plan());
        assert_eq!(v, Verdict::Drop(DropReason::MartianSource), "{src:?}");
    }
}

// --- fragment_ipv6 ----------------------------------------------------------

#[test]
fn fragment_ipv6_edges() {
    let data = vec![3u8; 2000];
    let mut h = v4(17, PEER4, POOL4);
    h.dont_fragment = false;
    let pkt = pkt4(h.clone(), &udp4(&h, 1, 2, &data));
    let (v, out) = run(&pkt, &plan());
    assert_eq!(v, Verdict::Fragment { mtu: 1280 });
    // Fits: handed out whole.
    let mut seen = Vec::new();
    assert_eq!(
        fragment_ipv6(&out, 9000, &mut |h: &[u8], p: &[u8]| {
            let f = [h, p].concat();
            seen.push(f.len());
            true
        }),
        Ok(1)
    );
    assert_eq!(seen, vec![out.len()]);
    // A sink that refuses stops the loop.
    assert_eq!(
        fragment_ipv6(&out, 1280, &mut |_: &[u8], _: &[u8]| false),
        Ok(0)
    );
    // An odd MTU still yields 8-byte multiples.
    let mut frags = Vec::new();
    let n = fragment_ipv6(&out, 1001, &mut |h: &[u8], p: &[u8]| {
        let f = [h, p].concat();
        frags.push(f.to_vec());
        true
    })
    .unwrap();
    assert_eq!(n, frags.len());
    let (_, body) = reassemble(&frags, 1001);
    assert_eq!(&body[8..], &data[..]);
    // MTU too small for any data, no Fragment header, not IPv6.
    assert_eq!(
        fragment_ipv6(&out, 50, &mut |_: &[u8], _: &[u8]| true),
        Err(DropReason::TooBig)
    );
    let mut nofrag = out.clone();
    nofrag[6] = 17;
    assert_eq!(
        fragment_ipv6(&nofrag, 1280, &mut |_: &[u8], _: &[u8]| true),
        Err(DropReason::Fragment)
    );
    assert_eq!(
        fragment_ipv6(&pkt, 1280, &mut |_: &[u8], _: &[u8]| true),
        Err(DropReason::BadHeader)
    );
}

// --- robustness -------------------------------------------------------------

fn valid_packets() -> Vec<(Vec<u8>, Plan<Ipv6Addr>)> {
    let h = v4(17, PEER4, POOL4);
    let udp = pkt4(h.clone(), &udp4(&h, 1024, 53, b"some data"));
    let h = v4(6, PEER4, POOL4);
    let tcp = pkt4(h.clone(), &tcp4(&h, 80, 1024, b"seg").1);
    let echo = pkt4(
        v4(1, PEER4, POOL4),
        &icmp4(
            Icmpv4Type::EchoRequest(IcmpEchoHeader { id: 1, seq: 2 }),
            b"ping",
        ),
    );
    let err = pkt4(
        v4(1, ROUTER4, POOL4),
        &icmp4_raw(3, 4, [0, 0, 5, 0], &inner_udp(b"abcdefgh")),
    );
    let mut f = v4(17, PEER4, POOL4);
    f.more_fragments = true;
    let frag = pkt4(f.clone(), &udp4(&f, 1024, 53, &[0; 64])[..32]);
    vec![
        (udp, plan()),
        (tcp, plan()),
        (echo, plan()),
        (err, err_plan()),
        (frag, plan()),
    ]
}

#[test]
fn rfc7915_4_truncation_of_every_prefix_never_panics() {
    for (pkt, p) in valid_packets() {
        assert_eq!(run(&pkt, &p).0, Verdict::Forward);
        assert!(flow4(&pkt).is_ok());
        for len in 0..pkt.len() {
            let (v, _) = run(&pkt[..len], &p);
            assert!(matches!(v, Verdict::Drop(_)), "prefix {len}: {v:?}");
            let _ = flow4(&pkt[..len]);
            let _ = fragment_ipv6(&pkt[..len], 1280, &mut |_: &[u8], _: &[u8]| true);
        }
    }
}

/// An IPv4 header with a valid checksum around arbitrary bytes.
fn framed(proto: u8, flags: u16, ttl: u8, ihl: u8, body: &[u8]) -> Vec<u8> {
    let ihl = usize::from(ihl.clamp(5, 15)) * 4;
    let mut p = vec![0u8; ihl];
    p[0] = 0x40 | (ihl / 4) as u8;
    let total = (ihl + body.len()).min(65535) as u16;
    p[2..4].copy_from_slice(&total.to_be_bytes());
    p[6..8].copy_from_slice(&flags.to_be_bytes());
    p[8] = ttl;
    p[9] = proto;
    p[12..16].copy_from_slice(&PEER4);
    p[16..20].copy_from_slice(&POOL4);
    let c = csum::checksum(&p);
    p[10..12].copy_from_slice(&c.to_be_bytes());
    p.extend_from_slice(body);
    p
}

proptest! {
    #[test]
    fn prop_arbitrary_bytes_never_panic(
        bytes in proptest::collection::vec(any::<u8>(), 0..1600),
        headroom in 0usize..130,
    ) {
        let mut mem = vec![0u8; headroom + bytes.len() + 32];
        mem[headroom..headroom + bytes.len()].copy_from_slice(&bytes);
        let mut b = PacketBuf::new(&mut mem, headroom, bytes.len()).unwrap();
        let _ = translate_4to6(&mut b, &err_plan(), &cfg(), &mut XlatState::default());
        let _ = flow4(&bytes);
        let _ = fragment_ipv6(&bytes, 1280, &mut |h: &[u8], p: &[u8]| h.len() + p.len() <= 1280);
    }

    #[test]
    fn prop_framed_packets_never_panic(
        proto in prop::sample::select(vec![1u8, 2, 6, 17, 47]),
        flags in any::<u16>(),
        ttl in any::<u8>(),
        ihl in 5u8..16,
        body in proptest::collection::vec(any::<u8>(), 0..1600),
        headroom in prop::sample::select(vec![0usize, 20, 28, 40, 128]),
        mtu in 0u16..2000,
    ) {
        let pkt = framed(proto, flags, ttl, ihl, &body);
        let mut mem = vec![0u8; headroom + pkt.len() + 32];
        mem[headroom..headroom + pkt.len()].copy_from_slice(&pkt);
        let mut b = PacketBuf::new(&mut mem, headroom, pkt.len()).unwrap();
        let c = XlatConfig { lowest_ipv6_mtu: 1280, ipv6_mtu: mtu.max(1280), ..cfg() };
        let v = translate_4to6(&mut b, &err_plan(), &c, &mut XlatState::default());
        if let Verdict::Fragment { mtu } = v {
            let mut n = 0;
            let r = fragment_ipv6(b.data(), mtu, &mut |h: &[u8], p: &[u8]| {
        let f = [h, p].concat(); n += 1; f.len() <= usize::from(mtu) });
            prop_assert_eq!(r, Ok(n));
        }
        let _ = flow4(&pkt);
    }
}

/// Runs `pkt` behind `headroom` bytes through `translate_4to6` (`full` =
/// false) or through the full §4 path alone, without the `translate_simple`
/// shortcut (`full` = true).
fn run_path(pkt: &[u8], headroom: usize, cfg: &XlatConfig, full: bool) -> (Verdict, Vec<u8>) {
    let mut mem = vec![0u8; headroom + pkt.len() + 64];
    mem[headroom..headroom + pkt.len()].copy_from_slice(pkt);
    let mut b = PacketBuf::new(&mut mem, headroom, pkt.len()).unwrap();
    let v = if full {
        match translate(&mut b, &plan(), cfg) {
            Ok(v) => v,
            Err(r) => Verdict::Drop(r),
        }
    } else {
        translate_4to6(&mut b, &plan(), cfg, &mut XlatState::default())
    };
    (v, b.data().to_vec())
}

proptest! {
    /// The simple-packet path for TCP, UDP and echo packets gives exactly what
    /// the full path gives (verdict and bytes), also for packets near its
    /// edges: any TTL, TOS, DF, source, UDP checksum 0, size against both
    /// IPv6 MTUs, headroom, corrupted header bytes, cut short or padded.
    #[test]
    fn prop_simple_path_equals_full_path(
        kind in 0u8..4,
        ttl in any::<u8>(),
        tos in any::<u8>(),
        df in any::<bool>(),
        copy_tc in any::<bool>(),
        src_first in prop::sample::select(vec![198u8, 0, 127, 224, 255]),
        zero_udp_csum in any::<bool>(),
        amend in any::<bool>(),
        ipv6_mtu in 1280u16..1600,
        lowest in 1280u16..1600,
        len in 0usize..1600,
        flips in proptest::collection::vec((0usize..60, any::<u8>()), 0..3),
        cut in 0usize..64,
        pad in 0usize..8,
        headroom in prop::sample::select(vec![0usize, 19, 20, 128]),
    ) {
        let payload: Vec<u8> = (0..len).map(|i| i as u8).collect();
        let proto = match kind {
            0 => 17,
            1 => 6,
            _ => 1,
        };
        let mut src = PEER4;
        src[0] = src_first;
        let mut h = v4(proto, src, POOL4);
        h.time_to_live = ttl;
        h.dont_fragment = df;
        h.dscp = Ipv4Dscp::try_new(tos >> 2).unwrap();
        h.ecn = Ipv4Ecn::try_new(tos & 3).unwrap();
        let l4 = match kind {
            0 => {
                let mut u = udp4(&h, 80, 1024, &payload);
                if zero_udp_csum {
                    u[6..8].copy_from_slice(&[0, 0]);
                }
                u
            }
            1 => tcp4(&h, 80, 1024, &payload).1,
            2 => icmp4(Icmpv4Type::EchoRequest(IcmpEchoHeader { id: 7, seq: 1 }), &payload),
            _ => icmp4(Icmpv4Type::EchoReply(IcmpEchoHeader { id: 7, seq: 1 }), &payload),
        };
        let mut pkt = pkt4(h, &l4);
        let pristine = flips.iter().all(|&(_, x)| x == 0) && (cut == 0 || cut % 4 != 0);
        for (at, x) in flips {
            if let Some(b) = pkt.get_mut(at) {
                *b ^= x;
            }
        }
        if cut % 4 == 0 {
            pkt.truncate(pkt.len().saturating_sub(cut));
        }
        pkt.extend(std::iter::repeat_n(0xEE, pad));
        let c = XlatConfig {
            ipv6_mtu,
            lowest_ipv6_mtu: lowest,
            copy_traffic_class: copy_tc,
            amend_udp_checksum_zero: amend,
            ..cfg()
        };
        let fast = run_path(&pkt, headroom, &c, false);
        let full = run_path(&pkt, headroom, &c, true);
        prop_assert_eq!(&fast, &full);
        // The pipeline's burst fast path: what `simple4` accepts, `flow4`
        // reads the same and `rewrite_simple` translates as the full path.
        let mut mem = vec![0u8; headroom + pkt.len() + 64];
        mem[headroom..headroom + pkt.len()].copy_from_slice(&pkt);
        let mut b = PacketBuf::new(&mut mem, headroom, pkt.len()).unwrap();
        if let Some(p) = simple4(&b, &c) {
            prop_assert_eq!(flow4(&pkt), Ok(Flow {
                tuple: p.tuple,
                inner: None,
                tcp_flags: p.tcp_flags,
                non_first_fragment: false,
                frag: None,
            }));
            prop_assert_eq!(rewrite_simple(&mut b, &plan().outer, &c), Some(()));
            prop_assert_eq!(full.0, Verdict::Forward);
            prop_assert_eq!(b.data(), &full.1[..]);
        } else {
            // Whole TCP and checksummed UDP packets that fit, from a
            // unicast source, with room in front, are never refused.
            let mtu = if df { ipv6_mtu } else { ipv6_mtu.min(lowest) };
            prop_assert!(
                !(pristine && kind < 2 && ttl > 1 && src_first == 198 && !zero_udp_csum
                    && headroom >= 20 && 40 + pkt.len() - pad - 20 <= usize::from(mtu)),
                "simple4 refused a whole packet"
            );
        }
    }
}
