use super::*;
use etherparse::{
    Icmpv4Header, Icmpv4Slice, Icmpv4Type, Icmpv6Slice, Ipv4HeaderSlice, Ipv6HeaderSlice,
    PacketBuilder,
};

const MAC: Mac = [0x02, 0, 0, 0, 0, 0x11];
const DATA: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";

fn a6(s: &str) -> Ipv6Addr {
    s.parse().unwrap()
}

fn echo4(src: [u8; 4], dst: [u8; 4]) -> Vec<u8> {
    let mut v = Vec::new();
    PacketBuilder::ipv4(src, dst, 57)
        .icmpv4_echo_request(0x1234, 7)
        .write(&mut v, DATA)
        .unwrap();
    v
}

fn echo6(src: Ipv6Addr, dst: Ipv6Addr) -> Vec<u8> {
    let mut v = Vec::new();
    PacketBuilder::ipv6(src.octets(), dst.octets(), 33)
        .icmpv6_echo_request(0xbeef, 42)
        .write(&mut v, DATA)
        .unwrap();
    v
}

/// An NS (or NA with `kind` 136) built by etherparse, which computes
/// the checksum; `body` is the target address and options.
fn nd(kind: u8, src: Ipv6Addr, dst: Ipv6Addr, hop: u8, flags: u8, body: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    PacketBuilder::ipv6(src.octets(), dst.octets(), hop)
        .icmpv6_raw(kind, 0, [flags, 0, 0, 0])
        .write(&mut v, body)
        .unwrap();
    v
}

fn ns_body(target: Ipv6Addr, sll: Option<Mac>) -> Vec<u8> {
    let mut b = target.octets().to_vec();
    if let Some(m) = sll {
        b.extend_from_slice(&[1, 1]); // SLLA option, length 1 (8 bytes)
        b.extend_from_slice(&m);
    }
    b
}

/// Recomputes the ICMPv6 checksum after a test edits a message.
fn refill6(pkt: &mut [u8]) {
    let ip = Ipv6Packet::new_checked(&*pkt).unwrap();
    let (s, d) = (ip.src_addr(), ip.dst_addr());
    Icmpv6Packet::new_unchecked(&mut pkt[40..]).fill_checksum(&s, &d);
}

#[test]
fn rfc792_echo_reply_ipv4_checked_by_etherparse() {
    let mut p = echo4([203, 0, 113, 9], [198, 51, 100, 1]);
    assert!(echo_reply_ipv4(&mut p));
    let ip = Ipv4HeaderSlice::from_slice(&p).unwrap();
    assert_eq!(ip.source(), [198, 51, 100, 1]);
    assert_eq!(ip.destination(), [203, 0, 113, 9]);
    assert_eq!(ip.ttl(), REPLY_TTL);
    assert_eq!(ip.header_checksum(), ip.to_header().calc_header_checksum());
    let icmp = Icmpv4Slice::from_slice(&p[20..]).unwrap();
    let echo = etherparse::IcmpEchoHeader { id: 0x1234, seq: 7 };
    assert_eq!(icmp.icmp_type(), Icmpv4Type::EchoReply(echo));
    assert_eq!(icmp.payload(), DATA);
    let expect = Icmpv4Header::with_checksum(Icmpv4Type::EchoReply(echo), DATA);
    assert_eq!(icmp.checksum(), expect.checksum);
}

#[test]
fn rfc792_echo_reply_ipv4_refusals_leave_the_packet_untouched() {
    let src = [203, 0, 113, 9];
    let fix = |p: &mut Vec<u8>| Ipv4Packet::new_unchecked(&mut p[..]).fill_checksum();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("more-fragments", {
            let mut p = echo4(src, [198, 51, 100, 1]);
            p[6] |= 0x20;
            fix(&mut p);
            p
        }),
        ("offset", {
            let mut p = echo4(src, [198, 51, 100, 1]);
            p[7] = 1;
            fix(&mut p);
            p
        }),
        ("bad-ip-checksum", {
            let mut p = echo4(src, [198, 51, 100, 1]);
            p[10] ^= 1;
            p
        }),
        ("bad-icmp-checksum", {
            let mut p = echo4(src, [198, 51, 100, 1]);
            p[22] ^= 1;
            p
        }),
        ("echo-reply", {
            let mut p = Vec::new();
            PacketBuilder::ipv4(src, [198, 51, 100, 1], 5)
                .icmpv4_echo_reply(1, 2)
                .write(&mut p, DATA)
                .unwrap();
            p
        }),
        ("code-1", {
            let mut p = echo4(src, [198, 51, 100, 1]);
            p[21] = 1;
            let c = checksum::update16(u16::from_be_bytes([p[22], p[23]]), 0x0800, 0x0801);
            p[22..24].copy_from_slice(&c.to_be_bytes());
            p
        }),
        ("broadcast-dst", echo4(src, [255, 255, 255, 255])),
        ("multicast-dst", echo4(src, [224, 0, 0, 1])),
        ("zero-src", echo4([0, 0, 0, 0], [198, 51, 100, 1])),
        ("options", {
            // IHL 6 with a 4-byte NOP option block.
            let p0 = echo4(src, [198, 51, 100, 1]);
            let mut p = p0[..20].to_vec();
            p.extend_from_slice(&[1, 1, 1, 0]);
            p.extend_from_slice(&p0[20..]);
            p[0] = 0x46;
            let len = (p.len() as u16).to_be_bytes();
            p[2..4].copy_from_slice(&len);
            fix(&mut p);
            p
        }),
        ("truncated", echo4(src, [198, 51, 100, 1])[..30].to_vec()),
        ("udp", {
            let mut p = Vec::new();
            PacketBuilder::ipv4(src, [198, 51, 100, 1], 5)
                .udp(1, 2)
                .write(&mut p, DATA)
                .unwrap();
            p
        }),
    ];
    for (name, mut p) in cases {
        let before = p.clone();
        assert!(!echo_reply_ipv4(&mut p), "{name}");
        assert_eq!(p, before, "{name}");
    }
    assert!(!echo_reply_ipv4(&mut []));
}

#[test]
fn rfc4443_4_2_echo_reply_ipv6_checked_by_etherparse() {
    let (peer, us) = (a6("2001:db8:1::99"), a6("2001:db8:1::1"));
    let mut p = echo6(peer, us);
    assert!(echo_reply_ipv6(&mut p));
    let ip = Ipv6HeaderSlice::from_slice(&p).unwrap();
    assert_eq!(ip.source_addr(), us);
    assert_eq!(ip.destination_addr(), peer);
    assert_eq!(ip.hop_limit(), REPLY_TTL);
    let icmp = Icmpv6Slice::from_slice(&p[40..]).unwrap();
    assert_eq!(
        icmp.icmp_type(),
        etherparse::Icmpv6Type::EchoReply(etherparse::IcmpEchoHeader {
            id: 0xbeef,
            seq: 42
        })
    );
    assert_eq!(icmp.payload(), DATA);
    assert!(icmp.is_checksum_valid(us.octets(), peer.octets()));
}

#[test]
fn rfc4443_4_2_echo_to_multicast_is_answered_from_our_unicast() {
    let (peer, group, us) = (a6("fe80::99"), a6("ff02::1"), a6("fe80::11"));
    let mut p = echo6(peer, group);
    let before = p.clone();
    assert!(!echo_reply_ipv6(&mut p), "needs a chosen source");
    assert_eq!(p, before);
    assert!(echo_reply_ipv6_from(&mut p, us));
    let ip = Ipv6HeaderSlice::from_slice(&p).unwrap();
    assert_eq!((ip.source_addr(), ip.destination_addr()), (us, peer));
    let icmp = Icmpv6Slice::from_slice(&p[40..]).unwrap();
    assert_eq!(icmp.type_u8(), 129);
    assert!(icmp.is_checksum_valid(us.octets(), peer.octets()));
    // A unicast request ignores `our`: the reply comes from its destination.
    let mut p = echo6(peer, a6("2001:db8:1::1"));
    assert!(echo_reply_ipv6_from(&mut p, us));
    assert_eq!(
        Ipv6HeaderSlice::from_slice(&p).unwrap().source_addr(),
        a6("2001:db8:1::1")
    );
}

#[test]
fn rfc4443_echo_reply_ipv6_refusals() {
    let (peer, us) = (a6("2001:db8:1::99"), a6("2001:db8:1::1"));
    let mut bad_csum = echo6(peer, us);
    bad_csum[42] ^= 1;
    let mut code1 = echo6(peer, us);
    code1[41] = 1;
    refill6(&mut code1);
    let mut reply = echo6(peer, us);
    reply[40] = 129;
    refill6(&mut reply);
    let mut udp = Vec::new();
    PacketBuilder::ipv6(peer.octets(), us.octets(), 5)
        .udp(1, 2)
        .write(&mut udp, DATA)
        .unwrap();
    let cases = [
        ("bad-checksum", bad_csum),
        ("code-1", code1),
        ("reply", reply),
        ("udp", udp),
        ("multicast-src", echo6(a6("ff02::1"), us)),
        ("unspecified-src", echo6(Ipv6Addr::UNSPECIFIED, us)),
        ("truncated", echo6(peer, us)[..60].to_vec()),
        ("short-icmp", echo6(peer, us)[..44].to_vec()),
    ];
    for (name, mut p) in cases {
        let before = p.clone();
        assert!(!echo_reply_ipv6(&mut p), "{name}");
        assert!(!echo_reply_ipv6_from(&mut p, us), "{name}");
        assert_eq!(p, before, "{name}");
    }
}

#[test]
#[rustfmt::skip]
fn rfc826_reply_swaps_and_fills_our_mac() {
    let mut arp: [u8; 28] = [
        0x00, 0x01, 0x08, 0x00, 6, 4, // Ethernet, IPv4, hlen 6, plen 4
        0x00, 0x01,                   // op: request
        0x02, 0, 0, 0, 0, 0x99,       // sender hardware address
        198, 51, 100, 254,            // sender protocol address
        0, 0, 0, 0, 0, 0,             // target hardware address (unknown)
        192, 0, 2, 5,                 // target protocol address (a pool address)
    ];
    assert!(arp_reply(&mut arp, MAC));
    let expect: [u8; 28] = [
        0x00, 0x01, 0x08, 0x00, 6, 4,
        0x00, 0x02,                   // op: reply
        0x02, 0, 0, 0, 0, 0x11,       // sender: our MAC
        192, 0, 2, 5,                 // sender: the address asked for
        0x02, 0, 0, 0, 0, 0x99,       // target: the requester
        198, 51, 100, 254,
    ];
    assert_eq!(arp, expect);
    // A reply is not answered; a foreign hardware type is refused.
    let before = arp;
    assert!(!arp_reply(&mut arp, MAC));
    assert_eq!(arp, before);
    arp[1] = 6;
    arp[7] = 1;
    assert!(!arp_reply(&mut arp, MAC));
    assert!(!arp_reply(&mut arp[..27], MAC));
}

#[test]
fn rfc4861_7_1_1_ns_validation_matrix() {
    let peer = a6("2001:db8:1::99");
    let us = a6("2001:db8:1::1");
    let snm = a6("ff02::1:ff00:1");
    let ok = nd(135, peer, snm, 255, 0, &ns_body(us, Some(MAC)));
    assert_eq!(
        parse_ns(&ok),
        Some(Solicitation {
            src: peer,
            dst: snm,
            target: us,
            sll: Some(MAC)
        })
    );
    // DAD: from ::, to the solicited-node group, no SLLA option.
    let dad = nd(135, Ipv6Addr::UNSPECIFIED, snm, 255, 0, &ns_body(us, None));
    assert_eq!(
        parse_ns(&dad).map(|s| (s.src, s.sll)),
        Some((Ipv6Addr::UNSPECIFIED, None))
    );
    // Unicast NUD probe without SLLA is valid.
    assert!(parse_ns(&nd(135, peer, us, 255, 0, &ns_body(us, None))).is_some());

    let mut bad_csum = ok.clone();
    bad_csum[44] ^= 1;
    let mut code1 = ok.clone();
    code1[41] = 1;
    refill6(&mut code1);
    let mut zero_len_option = nd(135, peer, snm, 255, 0, &ns_body(us, Some(MAC)));
    zero_len_option[40 + 24 + 1] = 0;
    refill6(&mut zero_len_option);
    let mut overrun_option = ok.clone();
    overrun_option[40 + 24 + 1] = 2;
    refill6(&mut overrun_option);
    let mut ext = ok.clone();
    ext[6] = 0; // next header: hop-by-hop (not ICMPv6 directly)
    let cases = [
        (
            "hop-limit-254",
            nd(135, peer, snm, 254, 0, &ns_body(us, Some(MAC))),
        ),
        ("bad-checksum", bad_csum),
        ("code-1", code1),
        (
            "icmp-len-23",
            nd(135, peer, snm, 255, 0, &us.octets()[..15]),
        ),
        (
            "multicast-target",
            nd(135, peer, snm, 255, 0, &ns_body(a6("ff02::1"), Some(MAC))),
        ),
        ("zero-length-option", zero_len_option),
        ("option-past-end", overrun_option),
        (
            "dad-with-slla",
            nd(
                135,
                Ipv6Addr::UNSPECIFIED,
                snm,
                255,
                0,
                &ns_body(us, Some(MAC)),
            ),
        ),
        (
            "dad-to-unicast",
            nd(135, Ipv6Addr::UNSPECIFIED, us, 255, 0, &ns_body(us, None)),
        ),
        (
            "dad-to-all-nodes",
            nd(
                135,
                Ipv6Addr::UNSPECIFIED,
                a6("ff02::1"),
                255,
                0,
                &ns_body(us, None),
            ),
        ),
        (
            "multicast-src",
            nd(135, a6("ff02::1"), snm, 255, 0, &ns_body(us, None)),
        ),
        ("is-na", nd(136, peer, us, 255, 0, &ns_body(us, None))),
        ("extension-header", ext),
        ("truncated", ok[..70].to_vec()),
    ];
    for (name, p) in cases {
        assert_eq!(parse_ns(&p), None, "{name}");
    }
}

#[test]
fn rfc4861_7_1_2_na_validation_matrix() {
    let peer = a6("2001:db8:1::99");
    let us = a6("2001:db8:1::1");
    let mut body = peer.octets().to_vec();
    body.extend_from_slice(&[2, 1, 0x02, 0, 0, 0, 0, 0x99]); // TLLA option
    let ok = nd(136, peer, us, 255, 0x60, &body); // S and O
    assert_eq!(
        parse_na(&ok),
        Some(Advertisement {
            src: peer,
            target: peer,
            tll: Some([0x02, 0, 0, 0, 0, 0x99]),
            router: false,
            solicited: true,
            override_: true,
        })
    );
    // Unsolicited to all-nodes: S must be clear.
    let all = a6("ff02::1");
    assert!(parse_na(&nd(136, peer, all, 255, 0xa0, &body)).is_some());
    assert_eq!(parse_na(&nd(136, peer, all, 255, 0x40, &body)), None);
    assert_eq!(parse_na(&nd(136, peer, us, 64, 0x60, &body)), None);
    let mut mcast_target = body.clone();
    mcast_target[0] = 0xff;
    assert_eq!(parse_na(&nd(136, peer, us, 255, 0x60, &mcast_target)), None);
    assert_eq!(
        parse_na(&nd(136, peer, us, 255, 0x60, &body[..16])).map(|a| a.tll),
        Some(None)
    );
    let mut bad = ok.clone();
    bad[50] ^= 0x10;
    assert_eq!(parse_na(&bad), None);
}

#[test]
fn rfc4861_7_2_4_advert_checked_by_etherparse() {
    let us = a6("2001:db8:1::1");
    let peer = a6("2001:db8:1::99");
    let mut out = [0xAAu8; 80];
    assert_eq!(neighbor_advert(&mut out, MAC, us, peer, true), NA_LEN);
    let ip = Ipv6HeaderSlice::from_slice(&out).unwrap();
    assert_eq!((ip.source_addr(), ip.destination_addr()), (us, peer));
    assert_eq!(ip.hop_limit(), 255);
    assert_eq!(ip.payload_length(), 32);
    assert_eq!(ip.next_header(), etherparse::IpNumber::IPV6_ICMP);
    let icmp = Icmpv6Slice::from_slice(&out[40..NA_LEN]).unwrap();
    assert_eq!((icmp.type_u8(), icmp.code_u8()), (136, 0));
    assert!(icmp.is_checksum_valid(us.octets(), peer.octets()));
    assert_eq!(icmp.bytes5to8(), [0xe0, 0, 0, 0]); // R, S, O; reserved zero
    let mut body = us.octets().to_vec();
    body.extend_from_slice(&[2, 1]); // TLLA option, 8 bytes
    body.extend_from_slice(&MAC);
    assert_eq!(icmp.payload(), &body[..]);
    assert_eq!(out[NA_LEN..], [0xAA; 8], "nothing written past the NA");
    // Answer to DAD: S clear.
    neighbor_advert(&mut out, MAC, us, a6("ff02::1"), false);
    assert_eq!(
        Icmpv6Slice::from_slice(&out[40..NA_LEN])
            .unwrap()
            .bytes5to8(),
        [0xa0, 0, 0, 0]
    );
    assert_eq!(
        neighbor_advert(&mut out[..NA_LEN - 1], MAC, us, peer, true),
        0
    );
    // Our own validation accepts what we write.
    assert!(parse_na(&out[..NA_LEN]).is_some());
}
