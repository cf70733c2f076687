//! Ethernet II frame view (IEEE 802.3 §3.1.1) with at most one 802.1Q tag.
//!
//! `new_checked` promises the 14-byte header, and the 18-byte header when
//! the outer EtherType is 802.1Q. Stacked tags (QinQ) are not unwrapped:
//! `ethertype()` then names the second tag and the caller drops the frame.

use super::{ethertype, get_u16, put_u16, Error, Result};

/// Length of an untagged Ethernet header.
pub const HEADER_LEN: usize = 14;
/// Length of an Ethernet header with one 802.1Q tag.
pub const VLAN_HEADER_LEN: usize = 18;

mod field {
    use core::ops::Range;
    pub const DST: Range<usize> = 0..6;
    pub const SRC: Range<usize> = 6..12;
    pub const ETHERTYPE: usize = 12;
    pub const TCI: usize = 14;
    pub const INNER_ETHERTYPE: usize = 16;
}

/// A view of an Ethernet II frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EthernetFrame<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> EthernetFrame<T> {
    /// Wraps `buffer` without validation.
    pub const fn new_unchecked(buffer: T) -> Self {
        EthernetFrame { buffer }
    }

    /// Wraps `buffer` after checking the (tagged) header fits.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let frame = Self::new_unchecked(buffer);
        if frame.buffer.as_ref().len() < HEADER_LEN
            || frame.buffer.as_ref().len() < frame.header_len()
        {
            return Err(Error::Truncated);
        }
        Ok(frame)
    }

    /// Returns the underlying buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn outer_ethertype(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::ETHERTYPE)
    }

    fn tagged(&self) -> bool {
        self.outer_ethertype() == ethertype::VLAN
    }

    /// Destination MAC address.
    pub fn dst_addr(&self) -> [u8; 6] {
        let mut mac = [0u8; 6];
        mac.copy_from_slice(&self.buffer.as_ref()[field::DST]);
        mac
    }

    /// Source MAC address.
    pub fn src_addr(&self) -> [u8; 6] {
        let mut mac = [0u8; 6];
        mac.copy_from_slice(&self.buffer.as_ref()[field::SRC]);
        mac
    }

    /// Tag control information of the 802.1Q tag, if tagged.
    pub fn vlan(&self) -> Option<u16> {
        self.tagged()
            .then(|| get_u16(self.buffer.as_ref(), field::TCI))
    }

    /// EtherType of the payload (the inner one when tagged).
    pub fn ethertype(&self) -> u16 {
        if self.tagged() {
            get_u16(self.buffer.as_ref(), field::INNER_ETHERTYPE)
        } else {
            self.outer_ethertype()
        }
    }

    /// Header length: 14, or 18 with an 802.1Q tag.
    pub fn header_len(&self) -> usize {
        if self.tagged() {
            VLAN_HEADER_LEN
        } else {
            HEADER_LEN
        }
    }

    /// Payload after the header.
    pub fn payload(&self) -> &[u8] {
        let data = self.buffer.as_ref();
        &data[self.header_len().min(data.len())..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> EthernetFrame<T> {
    /// Sets the destination MAC address.
    pub fn set_dst_addr(&mut self, mac: [u8; 6]) {
        self.buffer.as_mut()[field::DST].copy_from_slice(&mac);
    }

    /// Sets the source MAC address.
    pub fn set_src_addr(&mut self, mac: [u8; 6]) {
        self.buffer.as_mut()[field::SRC].copy_from_slice(&mac);
    }

    /// Sets the payload EtherType (the inner one when tagged).
    pub fn set_ethertype(&mut self, value: u16) {
        let at = if self.tagged() {
            field::INNER_ETHERTYPE
        } else {
            field::ETHERTYPE
        };
        put_u16(self.buffer.as_mut(), at, value);
    }

    /// Sets the TCI of an existing 802.1Q tag (no effect when untagged).
    pub fn set_vlan(&mut self, tci: u16) {
        if self.tagged() {
            put_u16(self.buffer.as_mut(), field::TCI, tci);
        }
    }

    /// Payload after the header, mutable.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let start = self.header_len();
        let data = self.buffer.as_mut();
        let start = start.min(data.len());
        &mut data[start..]
    }
}

#[cfg(test)]
mod tests {
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
}
