//! IPv4 header view (RFC 791 §3.1) with the header checksum (RFC 1071).
//!
//! `new_checked` promises: version 4, IHL >= 5, the header (options
//! included) lies in the buffer and `header_len <= total_len <= buffer len`.
//! The buffer may be longer than `total_len` (Ethernet padding); `payload()`
//! stops at `total_len`. [`Ipv4Packet::new_checked_header`] accepts the
//! truncated datagram quoted inside an ICMP error (RFC 792): only the header
//! must be present and `payload()` is clipped to the buffer.

use std::net::Ipv4Addr;

use super::{checksum, clipped, clipped_mut, get_u16, put_u16, Error, Result};

/// Length of an IPv4 header without options.
pub const HEADER_LEN: usize = 20;

mod field {
    use core::ops::Range;
    pub const VER_IHL: usize = 0;
    pub const TOS: usize = 1;
    pub const LENGTH: Range<usize> = 2..4;
    pub const IDENT: Range<usize> = 4..6;
    pub const FLG_OFF: Range<usize> = 6..8;
    pub const TTL: usize = 8;
    pub const PROTOCOL: usize = 9;
    pub const CHECKSUM: Range<usize> = 10..12;
    pub const SRC_ADDR: Range<usize> = 12..16;
    pub const DST_ADDR: Range<usize> = 16..20;
}

const FLAG_DF: u16 = 0x4000;
const FLAG_MF: u16 = 0x2000;
const OFFSET_MASK: u16 = 0x1FFF;

/// A view of an IPv4 datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ipv4Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Ipv4Packet<T> {
    /// Wraps `buffer` without validation.
    pub const fn new_unchecked(buffer: T) -> Self {
        Ipv4Packet { buffer }
    }

    /// Wraps `buffer` after checking version, IHL, header and total lengths.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let packet = Self::new_checked_header(buffer)?;
        let total = usize::from(packet.total_len());
        if total < packet.header_len() {
            return Err(Error::Malformed);
        }
        if total > packet.buffer.as_ref().len() {
            return Err(Error::Truncated);
        }
        Ok(packet)
    }

    /// Wraps `buffer` checking only the header (for a datagram quoted in an
    /// ICMP error, whose `total_len` exceeds what was quoted).
    pub fn new_checked_header(buffer: T) -> Result<Self> {
        let packet = Self::new_unchecked(buffer);
        let len = packet.buffer.as_ref().len();
        if len < HEADER_LEN {
            return Err(Error::Truncated);
        }
        if packet.version() != 4 || packet.header_len() < HEADER_LEN {
            return Err(Error::Malformed);
        }
        if packet.header_len() > len {
            return Err(Error::Truncated);
        }
        Ok(packet)
    }

    /// Returns the underlying buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Version field (4).
    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[field::VER_IHL] >> 4
    }

    /// Header length in bytes (IHL * 4).
    pub fn header_len(&self) -> usize {
        usize::from(self.buffer.as_ref()[field::VER_IHL] & 0x0F) * 4
    }

    /// Type of service / DSCP+ECN byte.
    pub fn tos(&self) -> u8 {
        self.buffer.as_ref()[field::TOS]
    }

    /// Total length of the datagram in bytes.
    pub fn total_len(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::LENGTH.start)
    }

    /// Identification.
    pub fn ident(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::IDENT.start)
    }

    /// Don't Fragment flag.
    pub fn dont_frag(&self) -> bool {
        get_u16(self.buffer.as_ref(), field::FLG_OFF.start) & FLAG_DF != 0
    }

    /// More Fragments flag.
    pub fn more_frags(&self) -> bool {
        get_u16(self.buffer.as_ref(), field::FLG_OFF.start) & FLAG_MF != 0
    }

    /// Fragment offset in bytes (the field times 8).
    pub fn frag_offset(&self) -> u16 {
        (get_u16(self.buffer.as_ref(), field::FLG_OFF.start) & OFFSET_MASK) << 3
    }

    /// Time to live.
    pub fn ttl(&self) -> u8 {
        self.buffer.as_ref()[field::TTL]
    }

    /// Protocol of the payload.
    pub fn protocol(&self) -> u8 {
        self.buffer.as_ref()[field::PROTOCOL]
    }

    /// Header checksum as stored.
    pub fn checksum(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::CHECKSUM.start)
    }

    /// Source address.
    pub fn src_addr(&self) -> Ipv4Addr {
        let d = self.buffer.as_ref();
        Ipv4Addr::new(d[12], d[13], d[14], d[15])
    }

    /// Destination address.
    pub fn dst_addr(&self) -> Ipv4Addr {
        let d = self.buffer.as_ref();
        Ipv4Addr::new(d[16], d[17], d[18], d[19])
    }

    /// Options bytes (between byte 20 and `header_len`).
    pub fn options(&self) -> &[u8] {
        clipped(self.buffer.as_ref(), HEADER_LEN, self.header_len())
    }

    /// Payload: bytes `header_len..total_len` (clipped to the buffer).
    pub fn payload(&self) -> &[u8] {
        clipped(
            self.buffer.as_ref(),
            self.header_len(),
            usize::from(self.total_len()),
        )
    }

    /// Whether the header checksum is correct.
    pub fn verify_checksum(&self) -> bool {
        let header = clipped(self.buffer.as_ref(), 0, self.header_len());
        checksum::fold(checksum::sum(header)) == 0xFFFF
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv4Packet<T> {
    /// Sets the version field.
    pub fn set_version(&mut self, value: u8) {
        let d = self.buffer.as_mut();
        d[field::VER_IHL] = (d[field::VER_IHL] & 0x0F) | (value << 4);
    }

    /// Sets the header length in bytes (a multiple of 4, at most 60).
    pub fn set_header_len(&mut self, bytes: usize) {
        let d = self.buffer.as_mut();
        d[field::VER_IHL] = (d[field::VER_IHL] & 0xF0) | ((bytes / 4) as u8 & 0x0F);
    }

    /// Sets the type of service byte.
    pub fn set_tos(&mut self, value: u8) {
        self.buffer.as_mut()[field::TOS] = value;
    }

    /// Sets the total length.
    pub fn set_total_len(&mut self, value: u16) {
        put_u16(self.buffer.as_mut(), field::LENGTH.start, value);
    }

    /// Sets the identification.
    pub fn set_ident(&mut self, value: u16) {
        put_u16(self.buffer.as_mut(), field::IDENT.start, value);
    }

    fn set_flg_off(&mut self, mask: u16, value: u16) {
        let d = self.buffer.as_mut();
        let old = get_u16(d, field::FLG_OFF.start);
        put_u16(d, field::FLG_OFF.start, (old & !mask) | (value & mask));
    }

    /// Sets the Don't Fragment flag.
    pub fn set_dont_frag(&mut self, value: bool) {
        self.set_flg_off(FLAG_DF, if value { FLAG_DF } else { 0 });
    }

    /// Sets the More Fragments flag.
    pub fn set_more_frags(&mut self, value: bool) {
        self.set_flg_off(FLAG_MF, if value { FLAG_MF } else { 0 });
    }

    /// Sets the fragment offset in bytes (a multiple of 8).
    pub fn set_frag_offset(&mut self, bytes: u16) {
        self.set_flg_off(OFFSET_MASK, bytes >> 3);
    }

    /// Clears the reserved flag bit (RFC 791: must be zero).
    pub fn clear_reserved_flag(&mut self) {
        self.set_flg_off(0x8000, 0);
    }

    /// Sets the time to live.
    pub fn set_ttl(&mut self, value: u8) {
        self.buffer.as_mut()[field::TTL] = value;
    }

    /// Sets the protocol.
    pub fn set_protocol(&mut self, value: u8) {
        self.buffer.as_mut()[field::PROTOCOL] = value;
    }

    /// Sets the stored header checksum.
    pub fn set_checksum(&mut self, value: u16) {
        put_u16(self.buffer.as_mut(), field::CHECKSUM.start, value);
    }

    /// Sets the source address.
    pub fn set_src_addr(&mut self, addr: Ipv4Addr) {
        self.buffer.as_mut()[field::SRC_ADDR].copy_from_slice(&addr.octets());
    }

    /// Sets the destination address.
    pub fn set_dst_addr(&mut self, addr: Ipv4Addr) {
        self.buffer.as_mut()[field::DST_ADDR].copy_from_slice(&addr.octets());
    }

    /// Options bytes, mutable.
    pub fn options_mut(&mut self) -> &mut [u8] {
        let end = self.header_len();
        clipped_mut(self.buffer.as_mut(), HEADER_LEN, end)
    }

    /// Payload, mutable: bytes `header_len..total_len` (clipped to the buffer).
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let (start, end) = (self.header_len(), usize::from(self.total_len()));
        clipped_mut(self.buffer.as_mut(), start, end)
    }

    /// Computes and stores the header checksum.
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let value = checksum::checksum(clipped(self.buffer.as_ref(), 0, self.header_len()));
        self.set_checksum(value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::{
        IpFragOffset, IpNumber, Ipv4Dscp, Ipv4Ecn, Ipv4Header, Ipv4HeaderSlice, PacketBuilder,
    };

    /// A fragment with options and every field non-default, built by etherparse.
    fn sample() -> (Ipv4Header, Vec<u8>) {
        let payload = b"0123456789abcdef";
        let mut h =
            Ipv4Header::new(0, 63, IpNumber::UDP, [192, 0, 2, 1], [198, 51, 100, 7]).unwrap();
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
}
