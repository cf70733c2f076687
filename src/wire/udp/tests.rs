use super::*;
use etherparse::{PacketBuilder, SlicedPacket, TransportSlice, UdpHeader, UdpHeaderSlice};

const SRC4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const DST4: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 53);

fn v4_datagram(payload: &[u8]) -> Vec<u8> {
    let mut bytes = Vec::new();
    PacketBuilder::ipv4(SRC4.octets(), DST4.octets(), 64)
        .udp(40000, 53)
        .write(&mut bytes, payload)
        .unwrap();
    bytes.split_off(20)
}

#[test]
fn rfc768_every_field_matches_etherparse() {
    let bytes = v4_datagram(b"odd payload");
    let s = UdpHeaderSlice::from_slice(&bytes).unwrap();
    let p = UdpPacket::new_checked(&bytes[..]).unwrap();
    assert_eq!(p.src_port(), s.source_port());
    assert_eq!(p.dst_port(), s.destination_port());
    assert_eq!(p.len(), s.length());
    assert_eq!(p.checksum(), s.checksum());
    assert_eq!(p.payload(), b"odd payload");
    assert!(p.verify_checksum_v4(SRC4, DST4));
    assert!(!p.verify_checksum_v4(SRC4, Ipv4Addr::new(203, 0, 113, 54)));
}

#[test]
fn rfc8200_8_1_v6_checksum_matches_etherparse() {
    let src: Ipv6Addr = "2001:db8::a".parse().unwrap();
    let dst: Ipv6Addr = "64:ff9b::cb00:7135".parse().unwrap();
    let mut bytes = Vec::new();
    PacketBuilder::ipv6(src.octets(), dst.octets(), 64)
        .udp(1, 2)
        .write(&mut bytes, b"xyz")
        .unwrap();
    let sliced = SlicedPacket::from_ip(&bytes).unwrap();
    let Some(TransportSlice::Udp(udp)) = sliced.transport else {
        panic!("no udp")
    };
    let p = UdpPacket::new_checked(&bytes[40..]).unwrap();
    assert_eq!(p.checksum(), udp.checksum());
    assert!(p.verify_checksum_v6(&src, &dst));
    let mut zero = bytes[40..].to_vec();
    zero[6..8].fill(0);
    assert!(!UdpPacket::new_checked(&zero[..])
        .unwrap()
        .verify_checksum_v6(&src, &dst));
}

#[test]
fn rfc768_zero_checksum_means_none_over_v4() {
    let mut bytes = v4_datagram(b"abc");
    bytes[6..8].fill(0);
    assert!(UdpPacket::new_checked(&bytes[..])
        .unwrap()
        .verify_checksum_v4(SRC4, DST4));
}

#[test]
fn setters_then_etherparse_parses_back() {
    let mut bytes = v4_datagram(b"hello");
    let src: Ipv6Addr = "2001:db8::1".parse().unwrap();
    let dst: Ipv6Addr = "2001:db8::2".parse().unwrap();
    let mut p = UdpPacket::new_checked(&mut bytes[..]).unwrap();
    p.set_src_port(1024);
    p.set_dst_port(65535);
    p.payload_mut()[0] = b'j';
    p.fill_checksum_v6(&src, &dst);
    let s = UdpHeaderSlice::from_slice(&bytes).unwrap();
    assert_eq!(
        (s.source_port(), s.destination_port(), s.length()),
        (1024, 65535, 13)
    );
    let expect = s
        .to_header()
        .calc_checksum_ipv6_raw(src.octets(), dst.octets(), b"jello")
        .unwrap();
    assert_eq!(s.checksum(), expect);

    let mut p = UdpPacket::new_checked(&mut bytes[..]).unwrap();
    p.fill_checksum_v4(SRC4, DST4);
    let s = UdpHeaderSlice::from_slice(&bytes).unwrap();
    let expect = s
        .to_header()
        .calc_checksum_ipv4_raw(SRC4.octets(), DST4.octets(), b"jello")
        .unwrap();
    assert_eq!(s.checksum(), expect);

    let mut p = UdpPacket::new_checked(&mut bytes[..]).unwrap();
    p.set_len(9);
    p.set_checksum(0xABCD);
    let s = UdpHeaderSlice::from_slice(&bytes).unwrap();
    assert_eq!((s.length(), s.checksum()), (9, 0xABCD));
    assert_eq!(UdpPacket::new_checked(&bytes[..]).unwrap().payload(), b"j");
}

#[test]
fn rfc768_computed_zero_is_sent_as_all_ones() {
    // Pick the payload word that makes the checksum compute to zero.
    let header = UdpHeader {
        source_port: 1,
        destination_port: 2,
        length: 10,
        checksum: 0,
    };
    let mut bytes = header.to_bytes().to_vec();
    bytes.extend_from_slice(&[0, 0]);
    let partial = checksum::pseudo_v4(SRC4, DST4, 17, 10) + checksum::sum(&bytes);
    let word = checksum::fold(partial); // adding !word makes the sum 0xFFFF
    bytes[8..10].copy_from_slice(&(!word).to_be_bytes());
    let mut p = UdpPacket::new_checked(&mut bytes[..]).unwrap();
    p.fill_checksum_v4(SRC4, DST4);
    assert_eq!(p.checksum(), 0xFFFF);
    assert!(p.verify_checksum_v4(SRC4, DST4));
}

#[test]
fn every_truncation_and_bad_length_is_an_error() {
    let bytes = v4_datagram(b"payload");
    for len in 0..bytes.len() {
        assert_eq!(
            UdpPacket::new_checked(&bytes[..len]),
            Err(Error::Truncated),
            "len {len}"
        );
    }
    for bad_len in 0..8u16 {
        let mut bad = bytes.clone();
        bad[4..6].copy_from_slice(&bad_len.to_be_bytes());
        assert_eq!(UdpPacket::new_checked(&bad[..]), Err(Error::Malformed));
    }
    // A first fragment: the length covers bytes that are elsewhere.
    let head = UdpPacket::new_checked_header(&bytes[..10]).unwrap();
    assert_eq!(head.len(), 15);
    assert_eq!(head.payload(), b"pa");
    assert_eq!(
        UdpPacket::new_checked_header(&bytes[..7]),
        Err(Error::Truncated)
    );
}
