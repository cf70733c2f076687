use super::*;

/// An ARP request from 192.0.2.1 for 192.0.2.254, RFC 826 layout
/// (etherparse 0.16 has no ARP, so the bytes are written by hand).
#[rustfmt::skip]
const REQUEST: [u8; 28] = [
    0x00, 0x01, // hardware type: Ethernet
    0x08, 0x00, // protocol type: IPv4
    6,          // hardware address length
    4,          // protocol address length
    0x00, 0x01, // operation: request
    0x02, 0x00, 0x00, 0x00, 0x00, 0x01, // sender hardware address
    192, 0, 2, 1,                       // sender protocol address
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // target hardware address (unknown)
    192, 0, 2, 254,                     // target protocol address
];

#[test]
fn rfc826_request_fields() {
    let p = ArpPacket::new_checked(&REQUEST[..]).unwrap();
    assert_eq!(p.hardware_type(), HTYPE_ETHERNET);
    assert_eq!(p.protocol_type(), ethertype::IPV4);
    assert_eq!(p.operation(), arp_op::REQUEST);
    assert_eq!(p.sender_hw(), [0x02, 0, 0, 0, 0, 0x01]);
    assert_eq!(p.sender_ip(), Ipv4Addr::new(192, 0, 2, 1));
    assert_eq!(p.target_hw(), [0; 6]);
    assert_eq!(p.target_ip(), Ipv4Addr::new(192, 0, 2, 254));
}

#[test]
#[rustfmt::skip]
fn rfc826_setters_build_the_reply() {
    let mut bytes = [0xFFu8; 28];
    let mut p = ArpPacket::new_unchecked(&mut bytes[..]);
    p.init_ethernet_ipv4();
    p.set_operation(arp_op::REPLY);
    p.set_sender_hw([0x02, 0, 0, 0, 0, 0xFE]);
    p.set_sender_ip(Ipv4Addr::new(192, 0, 2, 254));
    p.set_target_hw([0x02, 0, 0, 0, 0, 0x01]);
    p.set_target_ip(Ipv4Addr::new(192, 0, 2, 1));
    let expect: [u8; 28] = [
        0x00, 0x01, 0x08, 0x00, 6, 4, // Ethernet, IPv4, 6, 4
        0x00, 0x02, // operation: reply
        0x02, 0x00, 0x00, 0x00, 0x00, 0xFE, 192, 0, 2, 254, // sender
        0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 192, 0, 2, 1, // target
    ];
    assert_eq!(bytes, expect);
}

#[test]
fn every_truncation_and_foreign_type_is_an_error() {
    for len in 0..PACKET_LEN {
        assert_eq!(
            ArpPacket::new_checked(&REQUEST[..len]),
            Err(Error::Truncated),
            "len {len}"
        );
    }
    for (at, value) in [(1, 6), (2, 0x86), (4, 8), (5, 16)] {
        let mut bad = REQUEST;
        bad[at] = value;
        assert_eq!(
            ArpPacket::new_checked(&bad[..]),
            Err(Error::Malformed),
            "byte {at}"
        );
    }
}
