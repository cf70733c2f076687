use super::*;
use etherparse::{EtherType, Ethernet2Slice, PacketBuilder, SingleVlanHeaderSlice, VlanId};

const SRC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];
const DST: [u8; 6] = [0x02, 0, 0, 0, 0, 0x02];

fn untagged() -> Vec<u8> {
    let mut bytes = Vec::new();
    PacketBuilder::ethernet2(SRC, DST)
        .ipv6(
            [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
            [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2],
            64,
        )
        .udp(1, 2)
        .write(&mut bytes, b"x")
        .unwrap();
    bytes
}

fn tagged() -> Vec<u8> {
    let mut bytes = Vec::new();
    PacketBuilder::ethernet2(SRC, DST)
        .single_vlan(VlanId::try_new(100).unwrap())
        .ipv4([192, 0, 2, 1], [192, 0, 2, 2], 64)
        .udp(1, 2)
        .write(&mut bytes, b"x")
        .unwrap();
    bytes
}

#[test]
fn ieee802_3_untagged_matches_etherparse() {
    let bytes = untagged();
    let s = Ethernet2Slice::from_slice_without_fcs(&bytes).unwrap();
    let f = EthernetFrame::new_checked(&bytes[..]).unwrap();
    assert_eq!(f.dst_addr(), s.destination());
    assert_eq!(f.src_addr(), s.source());
    assert_eq!(f.ethertype(), s.ether_type().0);
    assert_eq!(f.ethertype(), ethertype::IPV6);
    assert_eq!(f.vlan(), None);
    assert_eq!(f.header_len(), 14);
    assert_eq!(f.payload(), &bytes[14..]);
}

#[test]
fn ieee802_1q_tagged_matches_etherparse() {
    let bytes = tagged();
    let vlan = SingleVlanHeaderSlice::from_slice(&bytes[14..]).unwrap();
    let f = EthernetFrame::new_checked(&bytes[..]).unwrap();
    assert_eq!(f.dst_addr(), DST);
    assert_eq!(f.src_addr(), SRC);
    assert_eq!(
        f.vlan().map(|tci| tci & 0x0FFF),
        Some(vlan.vlan_identifier().value())
    );
    assert_eq!(f.vlan(), Some(100));
    assert_eq!(f.ethertype(), vlan.ether_type().0);
    assert_eq!(f.ethertype(), ethertype::IPV4);
    assert_eq!(f.header_len(), 18);
    assert_eq!(f.payload(), &bytes[18..]);
}

#[test]
fn setters_then_etherparse_parses_back() {
    let mut bytes = untagged();
    let mut f = EthernetFrame::new_checked(&mut bytes[..]).unwrap();
    f.set_dst_addr(SRC);
    f.set_src_addr(DST);
    f.set_ethertype(ethertype::ARP);
    f.set_vlan(7); // untagged: no effect
    f.payload_mut()[0] = 0x65;
    let s = Ethernet2Slice::from_slice_without_fcs(&bytes).unwrap();
    assert_eq!(
        (s.destination(), s.source(), s.ether_type()),
        (SRC, DST, EtherType::ARP)
    );
    assert_eq!(bytes[14], 0x65);

    let mut bytes = tagged();
    let mut f = EthernetFrame::new_checked(&mut bytes[..]).unwrap();
    f.set_ethertype(ethertype::IPV6);
    f.set_vlan(0x2000 | 200); // PCP 1, VID 200
    let vlan = SingleVlanHeaderSlice::from_slice(&bytes[14..]).unwrap();
    assert_eq!(vlan.ether_type(), EtherType::IPV6);
    assert_eq!(vlan.vlan_identifier().value(), 200);
    assert_eq!(vlan.priority_code_point().value(), 1);
    assert_eq!(
        Ethernet2Slice::from_slice_without_fcs(&bytes)
            .unwrap()
            .ether_type(),
        EtherType::VLAN_TAGGED_FRAME
    );
}

#[test]
fn every_truncation_is_an_error() {
    let bytes = tagged();
    for len in 0..18 {
        assert_eq!(
            EthernetFrame::new_checked(&bytes[..len]),
            Err(Error::Truncated),
            "len {len}"
        );
    }
    let bytes = untagged();
    for len in 0..14 {
        assert_eq!(
            EthernetFrame::new_checked(&bytes[..len]),
            Err(Error::Truncated),
            "len {len}"
        );
    }
    assert!(EthernetFrame::new_checked(&bytes[..14])
        .unwrap()
        .payload()
        .is_empty());
}
