use super::*;
use etherparse::{
    IpFragOffset, IpNumber, Ipv4Dscp, Ipv4Ecn, Ipv4Header, Ipv4HeaderSlice, PacketBuilder,
};

/// A fragment with options and every field non-default, built by etherparse.
fn sample() -> (Ipv4Header, Vec<u8>) {
    let payload = b"0123456789abcdef";
    let mut h = Ipv4Header::new(0, 63, IpNumber::UDP, [192, 0, 2, 1], [198, 51, 100, 7]).unwrap();
    h.dscp = Ipv4Dscp::try_new(46).unwrap();
    h.ecn = Ipv4Ecn::try_new(1).unwrap();
    h.identification = 0xBEEF;
    h.dont_fragment = false;
    h.more_fragments = true;
    h.fragment_offset = IpFragOffset::try_new(185).unwrap();
    h.options = [0x94, 0x04, 0x00, 0x00].into(); // router alert, RFC 2113
    h.set_payload_len(payload.len()).unwrap();
    h.header_checksum = h.calc_header_checksum();
    let mut bytes = h.to_bytes().to_vec();
    bytes.extend_from_slice(payload);
    (h, bytes)
}

#[test]
fn rfc791_3_1_every_field_matches_etherparse() {
    let (h, bytes) = sample();
    let p = Ipv4Packet::new_checked(&bytes[..]).unwrap();
    assert_eq!(p.version(), 4);
    assert_eq!(p.header_len(), 24);
    assert_eq!(p.tos(), (h.dscp.value() << 2) | h.ecn.value());
    assert_eq!(p.total_len(), h.total_len);
    assert_eq!(p.ident(), h.identification);
    assert_eq!(p.dont_frag(), h.dont_fragment);
    assert_eq!(p.more_frags(), h.more_fragments);
    assert_eq!(p.frag_offset(), h.fragment_offset.byte_offset());
    assert_eq!(p.frag_offset(), 1480);
    assert_eq!(p.ttl(), h.time_to_live);
    assert_eq!(p.protocol(), h.protocol.0);
    assert_eq!(p.checksum(), h.header_checksum);
    assert_eq!(p.src_addr(), Ipv4Addr::from(h.source));
    assert_eq!(p.dst_addr(), Ipv4Addr::from(h.destination));
    assert_eq!(p.options(), &h.options[..]);
    assert_eq!(p.payload(), b"0123456789abcdef");
    assert!(p.verify_checksum());
}

#[test]
fn rfc791_builder_packet_with_df_and_payload() {
    let mut bytes = Vec::new();
    PacketBuilder::ipv4([203, 0, 113, 9], [192, 0, 2, 33], 17)
        .udp(1234, 53)
        .write(&mut bytes, b"query")
        .unwrap();
    let slice = Ipv4HeaderSlice::from_slice(&bytes).unwrap();
    let p = Ipv4Packet::new_checked(&bytes[..]).unwrap();
    assert_eq!(p.header_len(), 20);
    assert_eq!(p.dont_frag(), slice.dont_fragment());
    assert!(p.dont_frag());
    assert_eq!(p.protocol(), 17);
    assert_eq!(p.payload().len(), 8 + 5);
    assert!(p.options().is_empty());
    assert!(p.verify_checksum());
}

#[test]
fn setters_then_etherparse_parses_back() {
    let (_, mut bytes) = sample();
    let mut p = Ipv4Packet::new_checked(&mut bytes[..]).unwrap();
    p.set_tos(0b1011_1010);
    p.set_ident(0x1234);
    p.set_dont_frag(true);
    p.set_more_frags(false);
    p.set_frag_offset(0);
    p.set_ttl(1);
    p.set_protocol(6);
    p.set_src_addr(Ipv4Addr::new(203, 0, 113, 5));
    p.set_dst_addr(Ipv4Addr::new(198, 51, 100, 200));
    p.payload_mut()[0] = b'X';
    p.options_mut()[2] = 0x12;
    p.fill_checksum();
    assert!(p.verify_checksum());
    let s = Ipv4HeaderSlice::from_slice(&bytes).unwrap();
    assert_eq!(s.dcp().value(), 0b101110);
    assert_eq!(s.ecn().value(), 0b10);
    assert_eq!(s.identification(), 0x1234);
    assert!(s.dont_fragment());
    assert!(!s.more_fragments());
    assert_eq!(s.fragments_offset().value(), 0);
    assert_eq!(s.ttl(), 1);
    assert_eq!(s.protocol(), IpNumber::TCP);
    assert_eq!(s.source(), [203, 0, 113, 5]);
    assert_eq!(s.destination(), [198, 51, 100, 200]);
    assert_eq!(s.options(), &[0x94, 0x04, 0x12, 0x00]);
    assert_eq!(s.header_checksum(), s.to_header().calc_header_checksum());
    assert_eq!(bytes[24], b'X');
}

#[test]
fn setters_for_version_lengths_and_fragments() {
    let mut bytes = [0u8; 28];
    let mut p = Ipv4Packet::new_unchecked(&mut bytes[..]);
    p.set_version(4);
    p.set_header_len(20);
    p.set_total_len(28);
    p.set_more_frags(true);
    p.set_frag_offset(8 * 0x1FFF);
    p.set_ttl(64);
    p.set_protocol(1);
    p.set_src_addr(Ipv4Addr::new(192, 0, 2, 1));
    p.set_dst_addr(Ipv4Addr::new(192, 0, 2, 2));
    p.fill_checksum();
    let s = Ipv4HeaderSlice::from_slice(&bytes).unwrap();
    assert_eq!(s.ihl(), 5);
    assert_eq!(s.total_len(), 28);
    assert!(s.more_fragments());
    assert!(!s.dont_fragment());
    assert_eq!(s.fragments_offset().value(), 0x1FFF);
    assert_eq!(s.header_checksum(), s.to_header().calc_header_checksum());
    bytes[6] |= 0x80; // reserved flag
    let mut p = Ipv4Packet::new_checked(&mut bytes[..]).unwrap();
    p.clear_reserved_flag();
    assert_eq!(bytes[6] & 0x80, 0);
    assert_eq!(
        Ipv4Packet::new_checked(&bytes[..]).unwrap().frag_offset(),
        8 * 0x1FFF
    );
}

#[test]
fn verify_checksum_detects_corruption() {
    let (_, mut bytes) = sample();
    bytes[8] ^= 1; // TTL
    assert!(!Ipv4Packet::new_checked(&bytes[..])
        .unwrap()
        .verify_checksum());
}

#[test]
fn every_truncation_is_an_error() {
    let (_, bytes) = sample();
    for len in 0..bytes.len() {
        assert_eq!(
            Ipv4Packet::new_checked(&bytes[..len]),
            Err(Error::Truncated),
            "len {len}"
        );
    }
    assert!(Ipv4Packet::new_checked(&bytes[..]).is_ok());
}

#[test]
fn ethernet_padding_is_not_payload() {
    let (_, mut bytes) = sample();
    bytes.extend_from_slice(&[0xEE; 6]);
    let p = Ipv4Packet::new_checked(&bytes[..]).unwrap();
    assert_eq!(p.payload(), b"0123456789abcdef");
}

#[test]
fn malformed_version_ihl_and_total_len() {
    let (_, bytes) = sample();
    let mut bad = bytes.clone();
    bad[0] = 0x66; // version 6
    assert_eq!(Ipv4Packet::new_checked(&bad[..]), Err(Error::Malformed));
    let mut bad = bytes.clone();
    bad[0] = 0x44; // IHL 4 < 5
    assert_eq!(Ipv4Packet::new_checked(&bad[..]), Err(Error::Malformed));
    let mut bad = bytes.clone();
    bad[2..4].copy_from_slice(&23u16.to_be_bytes()); // total_len < header_len 24
    assert_eq!(Ipv4Packet::new_checked(&bad[..]), Err(Error::Malformed));
    let mut bad = bytes.clone();
    bad[0] = 0x4F; // IHL 15 = 60 bytes > 40-byte buffer
    assert_eq!(Ipv4Packet::new_checked(&bad[..]), Err(Error::Truncated));
}

#[test]
fn rfc792_quoted_datagram_checks_header_only() {
    let (_, bytes) = sample();
    // An ICMP error quotes the header and 8 bytes of the datagram.
    let quoted = &bytes[..24 + 8];
    assert_eq!(Ipv4Packet::new_checked(quoted), Err(Error::Truncated));
    let p = Ipv4Packet::new_checked_header(quoted).unwrap();
    assert_eq!(p.total_len(), 40);
    assert_eq!(p.payload(), b"01234567");
    assert_eq!(
        Ipv4Packet::new_checked_header(&bytes[..23]),
        Err(Error::Truncated)
    );
}
