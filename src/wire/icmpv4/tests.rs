use super::*;
use etherparse::icmpv4::{DestUnreachableHeader, ParameterProblemHeader};
use etherparse::{IcmpEchoHeader, Icmpv4Header, Icmpv4Slice, Icmpv4Type, PacketBuilder};

fn message(icmp_type: Icmpv4Type, payload: &[u8]) -> Vec<u8> {
    let mut bytes = Icmpv4Header::with_checksum(icmp_type, payload)
        .to_bytes()
        .to_vec();
    bytes.extend_from_slice(payload);
    bytes
}

fn assert_matches_etherparse(bytes: &[u8]) {
    let s = Icmpv4Slice::from_slice(bytes).unwrap();
    let p = Icmpv4Packet::new_checked(bytes).unwrap();
    assert_eq!(p.msg_type(), s.type_u8());
    assert_eq!(p.msg_code(), s.code_u8());
    assert_eq!(p.checksum(), s.checksum());
    assert_eq!(p.rest_of_header().to_be_bytes(), s.bytes5to8());
    assert_eq!(p.payload(), s.payload());
    assert!(p.verify_checksum());
}

#[test]
fn rfc792_echo_request_matches_etherparse() {
    let mut bytes = Vec::new();
    PacketBuilder::ipv4([192, 0, 2, 1], [198, 51, 100, 1], 64)
        .icmpv4_echo_request(0x1234, 0xABCD)
        .write(&mut bytes, b"ping data")
        .unwrap();
    let icmp = &bytes[20..];
    assert_matches_etherparse(icmp);
    let p = Icmpv4Packet::new_checked(icmp).unwrap();
    assert_eq!(p.msg_type(), icmpv4_type::ECHO_REQUEST);
    assert_eq!((p.echo_ident(), p.echo_seq_no()), (0x1234, 0xABCD));
    assert_eq!(p.payload(), b"ping data");
}

#[test]
fn rfc1191_frag_needed_mtu_and_rfc792_pointer() {
    let quoted = [0x45u8; 28];
    let frag = message(
        Icmpv4Type::DestinationUnreachable(DestUnreachableHeader::FragmentationNeeded {
            next_hop_mtu: 1280,
        }),
        &quoted,
    );
    assert_matches_etherparse(&frag);
    let p = Icmpv4Packet::new_checked(&frag[..]).unwrap();
    assert_eq!(
        (p.msg_type(), p.msg_code(), p.next_hop_mtu()),
        (icmpv4_type::DST_UNREACHABLE, 4, 1280)
    );

    let param = message(
        Icmpv4Type::ParameterProblem(ParameterProblemHeader::PointerIndicatesError(9)),
        &quoted,
    );
    assert_matches_etherparse(&param);
    let p = Icmpv4Packet::new_checked(&param[..]).unwrap();
    assert_eq!(
        (p.msg_type(), p.msg_code(), p.pointer()),
        (icmpv4_type::PARAM_PROBLEM, 0, 9)
    );
}

#[test]
fn setters_then_etherparse_parses_back() {
    let mut bytes = message(
        Icmpv4Type::EchoRequest(IcmpEchoHeader { id: 1, seq: 2 }),
        b"abcde",
    );
    let mut p = Icmpv4Packet::new_checked(&mut bytes[..]).unwrap();
    p.set_msg_type(icmpv4_type::ECHO_REPLY);
    p.set_msg_code(0);
    p.set_echo_ident(0xBEEF);
    p.set_echo_seq_no(7);
    p.payload_mut()[0] = b'z';
    p.fill_checksum();
    let s = Icmpv4Slice::from_slice(&bytes).unwrap();
    assert_eq!(
        s.icmp_type(),
        Icmpv4Type::EchoReply(IcmpEchoHeader { id: 0xBEEF, seq: 7 })
    );
    assert_eq!(s.checksum(), s.icmp_type().calc_checksum(s.payload()));
    assert_eq!(s.payload(), b"zbcde");

    let mut p = Icmpv4Packet::new_checked(&mut bytes[..]).unwrap();
    p.set_msg_type(icmpv4_type::DST_UNREACHABLE);
    p.set_msg_code(4);
    p.set_rest_of_header(0);
    p.set_next_hop_mtu(1400);
    p.fill_checksum();
    let s = Icmpv4Slice::from_slice(&bytes).unwrap();
    assert_eq!(
        s.icmp_type(),
        Icmpv4Type::DestinationUnreachable(DestUnreachableHeader::FragmentationNeeded {
            next_hop_mtu: 1400
        })
    );
    assert_eq!(s.checksum(), s.icmp_type().calc_checksum(s.payload()));

    let mut p = Icmpv4Packet::new_checked(&mut bytes[..]).unwrap();
    p.set_msg_type(icmpv4_type::PARAM_PROBLEM);
    p.set_msg_code(0);
    p.set_rest_of_header(0);
    p.set_pointer(12);
    p.set_checksum(0x0102);
    let s = Icmpv4Slice::from_slice(&bytes).unwrap();
    assert_eq!(
        s.icmp_type(),
        Icmpv4Type::ParameterProblem(ParameterProblemHeader::PointerIndicatesError(12))
    );
    assert_eq!(s.checksum(), 0x0102);
    assert!(!Icmpv4Packet::new_checked(&bytes[..])
        .unwrap()
        .verify_checksum());
}

#[test]
fn every_truncation_is_an_error() {
    let bytes = message(
        Icmpv4Type::EchoRequest(IcmpEchoHeader { id: 1, seq: 2 }),
        b"abc",
    );
    for len in 0..HEADER_LEN {
        assert_eq!(
            Icmpv4Packet::new_checked(&bytes[..len]),
            Err(Error::Truncated),
            "len {len}"
        );
    }
    assert!(Icmpv4Packet::new_checked(&bytes[..HEADER_LEN])
        .unwrap()
        .payload()
        .is_empty());
}
