use super::*;
use crate::xlat::buf::PacketBuf;
use etherparse::{EtherType, Icmpv6Slice, SlicedPacket};

pub const IN_MAC: Mac = [0x02, 0, 0, 0, 0, 0x11];
pub const OUT_MAC: Mac = [0x02, 0, 0, 0, 0, 0x22];

/// The box of the tests: inside 2001:db8:1::1/64 via 2001:db8:1::fe,
/// outside 198.51.100.1/24 via 198.51.100.254, pool 192.0.2.0/28,
/// prefix 2001:db8:64::/96.
pub fn own() -> BoxIdentity {
    crate::fuzzing::dataplane_own().clone()
}

#[test]
fn rfc4291_app_a_link_local_from_mac() {
    // 02:00:5e:10:00:01 -> fe80::5eff:fe10:1 (the U/L bit flipped off).
    let ll = link_local([0x02, 0x00, 0x5e, 0x10, 0x00, 0x01]);
    assert_eq!(ll, "fe80::5eff:fe10:1".parse::<Ipv6Addr>().unwrap());
    let ll = link_local([0x00, 0x1b, 0x21, 0xaa, 0xbb, 0xcc]);
    assert_eq!(ll, "fe80::21b:21ff:feaa:bbcc".parse::<Ipv6Addr>().unwrap());
}

#[test]
fn rfc4291_2_7_1_solicited_node_and_rfc2464_7_mac() {
    let a: Ipv6Addr = "2001:db8:1::12:3456".parse().unwrap();
    assert_eq!(
        solicited_node(&a),
        "ff02::1:ff12:3456".parse::<Ipv6Addr>().unwrap()
    );
    assert_eq!(
        multicast_mac(&solicited_node(&a)),
        [0x33, 0x33, 0xff, 0x12, 0x34, 0x56]
    );
    assert!(is_group(&BROADCAST));
    assert!(is_group(&[0x33, 0x33, 0, 0, 0, 1]));
    assert!(is_group(&[0x01, 0, 0x5e, 0, 0, 1]));
    assert!(!is_group(&IN_MAC));
}

#[test]
fn encap_decap_move_the_start() {
    let mut mem = [0u8; 64];
    mem[20..24].copy_from_slice(&[0x45, 0, 0, 20]);
    let mut b = PacketBuf::new(&mut mem, 20, 20).unwrap();
    assert!(encap(&mut b, OUT_MAC, IN_MAC, ethertype::IPV4));
    assert_eq!(b.len(), 34);
    let eth = etherparse::Ethernet2Header::from_slice(b.data()).unwrap().0;
    assert_eq!(eth.destination, OUT_MAC);
    assert_eq!(eth.source, IN_MAC);
    assert_eq!(eth.ether_type, EtherType::IPV4);
    assert_eq!(&b.data()[14..18], &[0x45, 0, 0, 20]);
    assert!(decap(&mut b, 14));
    assert_eq!(b.start(), 20);
    assert!(!decap(&mut b, 21));
    let mut b = PacketBuf::new(&mut mem, 13, 20).unwrap();
    assert!(!encap(&mut b, OUT_MAC, IN_MAC, ethertype::IPV4));
    assert_eq!(b.start(), 13);
}

#[test]
#[rustfmt::skip]
fn rfc826_request_frame_bytes() {
    let mut buf = [0xAAu8; 64];
    let n = arp_request(&mut buf, OUT_MAC, Ipv4Addr::new(198, 51, 100, 1), Ipv4Addr::new(198, 51, 100, 254));
    assert_eq!(n, 42);
    // etherparse 0.16 has no ARP: the expected bytes, field by field.
    let expect: [u8; 42] = [
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // Ethernet dst: broadcast
        0x02, 0, 0, 0, 0, 0x22,             // Ethernet src: outside MAC
        0x08, 0x06,                         // EtherType ARP
        0x00, 0x01, 0x08, 0x00, 6, 4,       // Ethernet / IPv4 / 6 / 4
        0x00, 0x01,                         // op: request
        0x02, 0, 0, 0, 0, 0x22,             // sender hardware address
        198, 51, 100, 1,                    // sender protocol address
        0, 0, 0, 0, 0, 0,                   // target hardware address: unknown
        198, 51, 100, 254,                  // target protocol address
    ];
    assert_eq!(buf[..42], expect);
    let eth = etherparse::Ethernet2Header::from_slice(&buf).unwrap().0;
    assert_eq!(eth.ether_type, EtherType::ARP);
    assert_eq!(arp_request(&mut buf[..41], OUT_MAC, Ipv4Addr::LOCALHOST, Ipv4Addr::LOCALHOST), 0);
}

#[test]
fn rfc4861_7_2_2_solicit_frame_checked_by_etherparse() {
    let mut buf = [0u8; 128];
    let src: Ipv6Addr = "2001:db8:1::1".parse().unwrap();
    let target: Ipv6Addr = "2001:db8:1::ab:cdef".parse().unwrap();
    let n = neighbor_solicit(&mut buf, IN_MAC, src, target);
    assert_eq!(n, 86);
    let p = SlicedPacket::from_ethernet(&buf[..n]).unwrap();
    let Some(etherparse::LinkSlice::Ethernet2(eth)) = &p.link else {
        panic!("no ethernet")
    };
    assert_eq!(eth.destination(), [0x33, 0x33, 0xff, 0xab, 0xcd, 0xef]);
    assert_eq!(eth.source(), IN_MAC);
    let Some(etherparse::NetSlice::Ipv6(ip)) = &p.net else {
        panic!("no ipv6")
    };
    let h = ip.header();
    assert_eq!(h.hop_limit(), 255);
    assert_eq!(h.source_addr(), src);
    assert_eq!(
        h.destination_addr(),
        "ff02::1:ffab:cdef".parse::<Ipv6Addr>().unwrap()
    );
    let Some(etherparse::TransportSlice::Icmpv6(icmp)) = &p.transport else {
        panic!("no icmpv6")
    };
    assert_eq!(icmp.type_u8(), 135);
    assert_eq!(icmp.code_u8(), 0);
    assert!(icmp.is_checksum_valid(src.octets(), h.destination_addr().octets()));
    assert_eq!(icmp.bytes5to8(), [0; 4]); // reserved
    #[rustfmt::skip]
    let body: [u8; 24] = [
        0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0xab, 0xcd, 0xef, // target
        1, 1, 0x02, 0, 0, 0, 0, 0x11, // SLLA option: type 1, 1x8 bytes, MAC
    ];
    assert_eq!(icmp.payload(), &body[..]);
    let again = Icmpv6Slice::from_slice(&buf[54..n]).unwrap();
    assert_eq!(again.type_u8(), 135);
    assert_eq!(neighbor_solicit(&mut buf[..85], IN_MAC, src, target), 0);
}

#[test]
fn next_hop_on_link_or_gateway() {
    let own = own();
    assert_eq!(
        next_hop_v4(&own, Ipv4Addr::new(198, 51, 100, 7)),
        Ipv4Addr::new(198, 51, 100, 7)
    );
    assert_eq!(
        next_hop_v4(&own, Ipv4Addr::new(203, 0, 113, 7)),
        own.outside_gateway
    );
    let on: Ipv6Addr = "2001:db8:1::99".parse().unwrap();
    let ll: Ipv6Addr = "fe80::99".parse().unwrap();
    let off: Ipv6Addr = "2001:db8:2::99".parse().unwrap();
    assert_eq!(next_hop_v6(&own, on), on);
    assert_eq!(next_hop_v6(&own, ll), ll);
    assert_eq!(next_hop_v6(&own, off), own.inside_gateway);
    let mut own0 = own.clone();
    own0.outside_prefix_len = 0;
    own0.inside_prefix_len = 0;
    assert_eq!(
        next_hop_v4(&own0, Ipv4Addr::new(203, 0, 113, 7)),
        Ipv4Addr::new(203, 0, 113, 7)
    );
    assert_eq!(next_hop_v6(&own0, off), off);
}

/// `next_hop` reads the destination of packets etherparse builds, by
/// IP version; anything else has none.
#[test]
fn next_hop_of_l3_packets() {
    let own = own();
    let v4 = |dst: [u8; 4]| {
        let mut out = Vec::new();
        etherparse::PacketBuilder::ipv4([192, 0, 2, 1], dst, 64)
            .udp(1, 2)
            .write(&mut out, b"x")
            .unwrap();
        out
    };
    let v6 = |dst: Ipv6Addr| {
        let mut out = Vec::new();
        etherparse::PacketBuilder::ipv6(own.inside.octets(), dst.octets(), 64)
            .udp(1, 2)
            .write(&mut out, b"x")
            .unwrap();
        out
    };
    assert_eq!(
        next_hop(&own, &v4([198, 51, 100, 7])),
        Some(NextHop::V4(Ipv4Addr::new(198, 51, 100, 7)))
    );
    assert_eq!(
        next_hop(&own, &v4([203, 0, 113, 7])),
        Some(NextHop::V4(own.outside_gateway))
    );
    let off: Ipv6Addr = "2001:db8:99::1".parse().unwrap();
    assert_eq!(
        next_hop(&own, &v6(off)),
        Some(NextHop::V6(own.inside_gateway))
    );
    let on = v6(own.inside_gateway);
    assert_eq!(next_hop(&own, &on), Some(NextHop::V6(own.inside_gateway)));
    // Too short for its header, or no IP version we forward.
    assert_eq!(next_hop(&own, &on[..39]), None);
    assert_eq!(next_hop(&own, &v4([198, 51, 100, 7])[..19]), None);
    let mut bad = v4([198, 51, 100, 7]);
    bad[0] = 0x55;
    assert_eq!(next_hop(&own, &bad), None);
    assert_eq!(next_hop(&own, &[]), None);
}

proptest::proptest! {
    /// `same_prefix_v4` / `same_prefix_v6` against a bit-by-bit
    /// comparison of the first `len` bits, for every length (past the
    /// address's too), with addresses that differ in one bit or anywhere.
    #[test]
    fn same_prefix_is_the_first_len_bits(
        a in proptest::prelude::any::<u128>(),
        other in proptest::prelude::any::<u128>(),
        flip in 0u32..128,
        near in proptest::prelude::any::<bool>(),
    ) {
        let b = if near { a ^ (1u128 << flip) } else { other };
        let bit = |x: u128, i: u32, w: u32| (x >> (w - 1 - i)) & 1;
        let (a4, b4) = (a >> 96, b >> 96);
        for len in 0u8..=140 {
            let want6 = (0..u32::from(len.min(128))).all(|i| bit(a, i, 128) == bit(b, i, 128));
            proptest::prop_assert_eq!(
                same_prefix_v6(&Ipv6Addr::from(a), &Ipv6Addr::from(b), len),
                want6
            );
            let want4 = (0..u32::from(len.min(32))).all(|i| bit(a4, i, 32) == bit(b4, i, 32));
            proptest::prop_assert_eq!(
                same_prefix_v4(Ipv4Addr::from(a4 as u32), Ipv4Addr::from(b4 as u32), len),
                want4
            );
        }
    }
}
