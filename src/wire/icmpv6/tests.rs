use super::*;
use etherparse::icmpv6::{ParameterProblemCode, ParameterProblemHeader};
use etherparse::{IcmpEchoHeader, Icmpv6Header, Icmpv6Slice, Icmpv6Type, PacketBuilder};

fn src() -> Ipv6Addr {
    "2001:db8::1".parse().unwrap()
}

fn dst() -> Ipv6Addr {
    "2001:db8:64::c000:201".parse().unwrap()
}

fn message(icmp_type: Icmpv6Type, payload: &[u8]) -> Vec<u8> {
    let header =
        Icmpv6Header::with_checksum(icmp_type, src().octets(), dst().octets(), payload).unwrap();
    let mut bytes = header.to_bytes().to_vec();
    bytes.extend_from_slice(payload);
    bytes
}

fn assert_matches_etherparse(bytes: &[u8]) {
    let s = Icmpv6Slice::from_slice(bytes).unwrap();
    let p = Icmpv6Packet::new_checked(bytes).unwrap();
    assert_eq!(p.msg_type(), s.type_u8());
    assert_eq!(p.msg_code(), s.code_u8());
    assert_eq!(p.checksum(), s.checksum());
    assert_eq!(p.mtu().to_be_bytes(), s.bytes5to8());
    assert_eq!(p.payload(), s.payload());
    assert!(p.verify_checksum(&src(), &dst()));
    assert!(s.is_checksum_valid(src().octets(), dst().octets()));
}

#[test]
fn rfc4443_4_1_echo_request_matches_etherparse() {
    let mut bytes = Vec::new();
    PacketBuilder::ipv6(src().octets(), dst().octets(), 64)
        .icmpv6_echo_request(0x4321, 9)
        .write(&mut bytes, b"ping6")
        .unwrap();
    let icmp = &bytes[40..];
    assert_matches_etherparse(icmp);
    let p = Icmpv6Packet::new_checked(icmp).unwrap();
    assert_eq!(p.msg_type(), icmpv6_type::ECHO_REQUEST);
    assert_eq!((p.echo_ident(), p.echo_seq_no()), (0x4321, 9));
    assert!(!p.verify_checksum(&dst(), &"2001:db8::2".parse().unwrap()));
}

#[test]
fn rfc4443_3_2_mtu_and_3_4_pointer() {
    let quoted = [0x60u8; 48];
    let ptb = message(Icmpv6Type::PacketTooBig { mtu: 1280 }, &quoted);
    assert_matches_etherparse(&ptb);
    let p = Icmpv6Packet::new_checked(&ptb[..]).unwrap();
    assert_eq!((p.msg_type(), p.mtu()), (icmpv6_type::PACKET_TOO_BIG, 1280));

    let header = ParameterProblemHeader {
        code: ParameterProblemCode::ErroneousHeaderField,
        pointer: 40,
    };
    let param = message(Icmpv6Type::ParameterProblem(header), &quoted);
    assert_matches_etherparse(&param);
    let p = Icmpv6Packet::new_checked(&param[..]).unwrap();
    assert_eq!(
        (p.msg_type(), p.msg_code(), p.pointer()),
        (icmpv6_type::PARAM_PROBLEM, 0, 40)
    );
}

#[test]
fn setters_then_etherparse_parses_back() {
    let mut bytes = message(
        Icmpv6Type::EchoRequest(IcmpEchoHeader { id: 1, seq: 2 }),
        b"abc",
    );
    let mut p = Icmpv6Packet::new_checked(&mut bytes[..]).unwrap();
    p.set_msg_type(icmpv6_type::ECHO_REPLY);
    p.set_msg_code(0);
    p.set_echo_ident(5);
    p.set_echo_seq_no(6);
    p.payload_mut()[2] = b'!';
    p.fill_checksum(&src(), &dst());
    let s = Icmpv6Slice::from_slice(&bytes).unwrap();
    assert_eq!(
        s.icmp_type(),
        Icmpv6Type::EchoReply(IcmpEchoHeader { id: 5, seq: 6 })
    );
    assert!(s.is_checksum_valid(src().octets(), dst().octets()));
    assert_eq!(s.payload(), b"ab!");

    let mut p = Icmpv6Packet::new_checked(&mut bytes[..]).unwrap();
    p.set_msg_type(icmpv6_type::PACKET_TOO_BIG);
    p.set_mtu(1500);
    p.fill_checksum(&src(), &dst());
    let s = Icmpv6Slice::from_slice(&bytes).unwrap();
    assert_eq!(s.icmp_type(), Icmpv6Type::PacketTooBig { mtu: 1500 });
    assert!(s.is_checksum_valid(src().octets(), dst().octets()));

    let mut p = Icmpv6Packet::new_checked(&mut bytes[..]).unwrap();
    p.set_msg_type(icmpv6_type::PARAM_PROBLEM);
    p.set_msg_code(1);
    p.set_pointer(6);
    p.set_checksum(0);
    let s = Icmpv6Slice::from_slice(&bytes).unwrap();
    let header = ParameterProblemHeader {
        code: ParameterProblemCode::UnrecognizedNextHeader,
        pointer: 6,
    };
    assert_eq!(s.icmp_type(), Icmpv6Type::ParameterProblem(header));
    assert_eq!(s.checksum(), 0);
}

#[test]
fn every_truncation_is_an_error() {
    let bytes = message(Icmpv6Type::PacketTooBig { mtu: 1280 }, &[1, 2, 3]);
    for len in 0..HEADER_LEN {
        assert_eq!(
            Icmpv6Packet::new_checked(&bytes[..len]),
            Err(Error::Truncated),
            "len {len}"
        );
    }
}

const MAC: [u8; 6] = [0x02, 0x00, 0x5E, 0x10, 0x00, 0x01];

/// A Neighbor Advertisement with flags R, S, O and a target
/// link-layer address option, byte by byte (RFC 4861 §4.4).
#[rustfmt::skip]
fn advert() -> Vec<u8> {
    let mut bytes = vec![
        136,  // type: Neighbor Advertisement
        0,    // code
        0, 0, // checksum, filled below
        0xE0, 0, 0, 0, // R | S | O, reserved
        0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01, // target 2001:db8::1
        2,    // option: target link-layer address
        1,    // length 1 (8 bytes)
    ];
    bytes.extend_from_slice(&MAC);
    let mut p = Icmpv6Packet::new_checked(&mut bytes[..]).unwrap();
    p.fill_checksum(&src(), &dst());
    bytes
}

#[test]
fn rfc4861_4_4_neighbor_advert_fields() {
    let bytes = advert();
    assert!(Icmpv6Slice::from_slice(&bytes)
        .unwrap()
        .is_checksum_valid(src().octets(), dst().octets()));
    let na = NdpNeighbor::new_checked(&bytes[..]).unwrap();
    assert_eq!(na.msg_type(), icmpv6_type::NEIGHBOR_ADVERT);
    assert_eq!(na.target_addr(), "2001:db8::1".parse::<Ipv6Addr>().unwrap());
    assert!(na.router_flag() && na.solicited_flag() && na.override_flag());
    assert_eq!(na.target_ll_addr(), Some(MAC));
    assert_eq!(na.source_ll_addr(), None);
    let options: Vec<_> = na.options().collect();
    assert_eq!(
        options,
        vec![Ok(NdpOption {
            kind: ndp_option::TARGET_LL_ADDR,
            data: &MAC[..]
        })]
    );
}

#[test]
#[rustfmt::skip]
fn rfc4861_4_3_neighbor_solicit_skips_unknown_options() {
    let bytes = [
        135,  // type: Neighbor Solicitation
        0,    // code
        0, 0, // checksum (not checked by the view)
        0, 0, 0, 0, // reserved
        0x20, 0x01, 0x0d, 0xb8, 0, 0x64, 0, 0, 0, 0, 0, 0, 0xc6, 0x33, 0x64, 0x01, // target
        14,   // option: nonce (RFC 3971), unknown here
        1,    // length 1
        1, 2, 3, 4, 5, 6,
        1,    // option: source link-layer address
        1,    // length 1
        0x02, 0, 0, 0, 0, 0x02,
    ];
    let ns = NdpNeighbor::new_checked(&bytes[..]).unwrap();
    assert_eq!(ns.msg_type(), icmpv6_type::NEIGHBOR_SOLICIT);
    assert_eq!(ns.target_addr(), "2001:db8:64::c633:6401".parse::<Ipv6Addr>().unwrap());
    assert!(!ns.router_flag() && !ns.solicited_flag() && !ns.override_flag());
    assert_eq!(ns.source_ll_addr(), Some([0x02, 0, 0, 0, 0, 0x02]));
    assert_eq!(ns.target_ll_addr(), None);
    assert_eq!(ns.options().count(), 2);
}

#[test]
fn rfc4861_4_6_bad_options_and_types_are_rejected() {
    let good = advert();
    for len in 0..NDP_NEIGHBOR_LEN {
        assert_eq!(
            NdpNeighbor::new_checked(&good[..len]),
            Err(Error::Truncated),
            "len {len}"
        );
    }
    // Every cut inside the option is an option running past the end.
    for len in NDP_NEIGHBOR_LEN + 1..good.len() {
        assert_eq!(
            NdpNeighbor::new_checked(&good[..len]),
            Err(Error::Truncated),
            "len {len}"
        );
    }
    assert!(NdpNeighbor::new_checked(&good[..NDP_NEIGHBOR_LEN]).is_ok());
    let mut zero_len = good.clone();
    zero_len[25] = 0; // option length 0, RFC 4861 §4.6: must be discarded
    assert_eq!(
        NdpNeighbor::new_checked(&zero_len[..]),
        Err(Error::Malformed)
    );
    let mut too_long = good.clone();
    too_long[25] = 2; // 16 bytes announced, 8 present
    assert_eq!(
        NdpNeighbor::new_checked(&too_long[..]),
        Err(Error::Truncated)
    );
    let mut wrong_type = good.clone();
    wrong_type[0] = icmpv6_type::ROUTER_ADVERT;
    assert_eq!(
        NdpNeighbor::new_checked(&wrong_type[..]),
        Err(Error::Malformed)
    );
}

#[test]
fn ndp_setters_build_a_valid_advert() {
    let mut bytes = [0xAAu8; NDP_NEIGHBOR_LEN + NDP_LL_OPTION_LEN];
    let mut na = NdpNeighbor::new_unchecked(&mut bytes[..]);
    na.set_msg_type(icmpv6_type::NEIGHBOR_ADVERT);
    na.clear_flags();
    na.set_solicited_flag(true);
    na.set_override_flag(true);
    na.set_router_flag(true);
    na.set_router_flag(false);
    na.set_target_addr(&"2001:db8::64".parse().unwrap());
    na.set_ll_addr_option(ndp_option::TARGET_LL_ADDR, MAC)
        .unwrap();
    let mut p = Icmpv6Packet::new_checked(&mut bytes[..]).unwrap();
    p.set_msg_code(0);
    p.fill_checksum(&src(), &dst());
    assert_eq!(&bytes[4..8], &[0x60, 0, 0, 0]);
    assert_eq!(&bytes[24..26], &[2, 1]);
    let s = Icmpv6Slice::from_slice(&bytes).unwrap();
    assert_eq!(s.type_u8(), 136);
    assert!(s.is_checksum_valid(src().octets(), dst().octets()));
    let na = NdpNeighbor::new_checked(&bytes[..]).unwrap();
    assert_eq!(na.target_ll_addr(), Some(MAC));
    assert_eq!(
        na.target_addr(),
        "2001:db8::64".parse::<Ipv6Addr>().unwrap()
    );
    let mut short = [0u8; NDP_NEIGHBOR_LEN + 7];
    let mut na = NdpNeighbor::new_unchecked(&mut short[..]);
    assert_eq!(
        na.set_ll_addr_option(ndp_option::SOURCE_LL_ADDR, MAC),
        Err(Error::Truncated)
    );
}
