//! UDP header view (RFC 768) with checksums over the IPv4 (RFC 768) and
//! IPv6 (RFC 8200 §8.1) pseudo-headers.
//!
//! `new_checked` promises `8 <= len <= buffer len`; `payload()` stops at
//! `len`. [`UdpPacket::new_checked_header`] only needs the 8 header bytes,
//! for a first fragment or a datagram quoted in an ICMP error, whose length
//! field covers bytes that are not there.

use std::net::{Ipv4Addr, Ipv6Addr};

use super::{checksum, clipped, clipped_mut, get_u16, ip_proto, put_u16, Error, Result};

/// Length of the UDP header.
pub const HEADER_LEN: usize = 8;

mod field {
    pub const SRC_PORT: usize = 0;
    pub const DST_PORT: usize = 2;
    pub const LENGTH: usize = 4;
    pub const CHECKSUM: usize = 6;
}

/// A view of a UDP datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UdpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> UdpPacket<T> {
    /// Wraps `buffer` without validation.
    pub const fn new_unchecked(buffer: T) -> Self {
        UdpPacket { buffer }
    }

    /// Wraps `buffer` after checking `8 <= len <= buffer len`.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let packet = Self::new_checked_header(buffer)?;
        let len = usize::from(packet.len());
        if len < HEADER_LEN {
            return Err(Error::Malformed);
        }
        if len > packet.buffer.as_ref().len() {
            return Err(Error::Truncated);
        }
        Ok(packet)
    }

    /// Wraps `buffer` checking only that the 8 header bytes are present.
    pub fn new_checked_header(buffer: T) -> Result<Self> {
        if buffer.as_ref().len() < HEADER_LEN {
            return Err(Error::Truncated);
        }
        Ok(Self::new_unchecked(buffer))
    }

    /// Returns the underlying buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Source port.
    pub fn src_port(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::SRC_PORT)
    }

    /// Destination port.
    pub fn dst_port(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::DST_PORT)
    }

    /// Length field (header and payload).
    #[allow(clippy::len_without_is_empty)]
    pub fn len(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::LENGTH)
    }

    /// Checksum as stored (0 over IPv4 means "none").
    pub fn checksum(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::CHECKSUM)
    }

    /// Payload: bytes `8..len` (clipped to the buffer).
    pub fn payload(&self) -> &[u8] {
        clipped(self.buffer.as_ref(), HEADER_LEN, usize::from(self.len()))
    }

    fn datagram(&self) -> &[u8] {
        clipped(self.buffer.as_ref(), 0, usize::from(self.len()))
    }

    /// Whether the checksum is right over the IPv4 pseudo-header (a zero
    /// checksum, "not computed", passes per RFC 768).
    pub fn verify_checksum_v4(&self, src: Ipv4Addr, dst: Ipv4Addr) -> bool {
        if self.checksum() == 0 {
            return true;
        }
        let data = self.datagram();
        let acc = checksum::pseudo_v4(src, dst, ip_proto::UDP, data.len() as u32);
        checksum::fold(acc + checksum::sum(data)) == 0xFFFF
    }

    /// Whether the checksum is right over the IPv6 pseudo-header (zero is
    /// wrong over IPv6, RFC 8200 §8.1).
    pub fn verify_checksum_v6(&self, src: &Ipv6Addr, dst: &Ipv6Addr) -> bool {
        if self.checksum() == 0 {
            return false;
        }
        let data = self.datagram();
        let acc = checksum::pseudo_v6(src, dst, ip_proto::UDP, data.len() as u32);
        checksum::fold(acc + checksum::sum(data)) == 0xFFFF
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> UdpPacket<T> {
    /// Sets the source port.
    pub fn set_src_port(&mut self, value: u16) {
        put_u16(self.buffer.as_mut(), field::SRC_PORT, value);
    }

    /// Sets the destination port.
    pub fn set_dst_port(&mut self, value: u16) {
        put_u16(self.buffer.as_mut(), field::DST_PORT, value);
    }

    /// Sets the length field.
    pub fn set_len(&mut self, value: u16) {
        put_u16(self.buffer.as_mut(), field::LENGTH, value);
    }

    /// Sets the stored checksum.
    pub fn set_checksum(&mut self, value: u16) {
        put_u16(self.buffer.as_mut(), field::CHECKSUM, value);
    }

    /// Payload, mutable: bytes `8..len` (clipped to the buffer).
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let end = usize::from(self.len());
        clipped_mut(self.buffer.as_mut(), HEADER_LEN, end)
    }

    fn store_checksum(&mut self, pseudo: u32) {
        self.set_checksum(0);
        let value = checksum::finish(pseudo + checksum::sum(self.datagram()));
        // RFC 768: a computed zero is sent as all ones.
        self.set_checksum(if value == 0 { 0xFFFF } else { value });
    }

    /// Computes and stores the checksum over the IPv4 pseudo-header.
    pub fn fill_checksum_v4(&mut self, src: Ipv4Addr, dst: Ipv4Addr) {
        let len = self.datagram().len() as u32;
        self.store_checksum(checksum::pseudo_v4(src, dst, ip_proto::UDP, len));
    }

    /// Computes and stores the checksum over the IPv6 pseudo-header.
    pub fn fill_checksum_v6(&mut self, src: &Ipv6Addr, dst: &Ipv6Addr) {
        let len = self.datagram().len() as u32;
        self.store_checksum(checksum::pseudo_v6(src, dst, ip_proto::UDP, len));
    }
}

#[cfg(test)]
mod tests {
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
}
