//! ICMPv4 message view (RFC 792): the 8-byte header whose second word is
//! type specific (echo identifier and sequence, RFC 1191 next-hop MTU,
//! parameter-problem pointer), the body, and the checksum over the whole
//! message.
//!
//! `new_checked` promises the 8 header bytes; the message is the whole
//! buffer.

use super::{checksum, get_u16, get_u32, put_u16, put_u32, Error, Result};

/// Length of the ICMPv4 header (type, code, checksum, rest of header).
pub const HEADER_LEN: usize = 8;

/// ICMPv4 message types (RFC 792, RFC 950, RFC 1256).
pub mod icmpv4_type {
    /// Echo reply.
    pub const ECHO_REPLY: u8 = 0;
    /// Destination unreachable.
    pub const DST_UNREACHABLE: u8 = 3;
    /// Source quench (deprecated, RFC 6633).
    pub const SOURCE_QUENCH: u8 = 4;
    /// Redirect.
    pub const REDIRECT: u8 = 5;
    /// Echo request.
    pub const ECHO_REQUEST: u8 = 8;
    /// Router advertisement.
    pub const ROUTER_ADVERT: u8 = 9;
    /// Router solicitation.
    pub const ROUTER_SOLICIT: u8 = 10;
    /// Time exceeded.
    pub const TIME_EXCEEDED: u8 = 11;
    /// Parameter problem.
    pub const PARAM_PROBLEM: u8 = 12;
    /// Timestamp.
    pub const TIMESTAMP: u8 = 13;
    /// Timestamp reply.
    pub const TIMESTAMP_REPLY: u8 = 14;
    /// Information request.
    pub const INFO_REQUEST: u8 = 15;
    /// Information reply.
    pub const INFO_REPLY: u8 = 16;
    /// Address mask request.
    pub const ADDRESS_MASK_REQUEST: u8 = 17;
    /// Address mask reply.
    pub const ADDRESS_MASK_REPLY: u8 = 18;
}

mod field {
    pub const TYPE: usize = 0;
    pub const CODE: usize = 1;
    pub const CHECKSUM: usize = 2;
    pub const ECHO_IDENT: usize = 4;
    pub const ECHO_SEQNO: usize = 6;
    pub const REST: usize = 4;
    pub const POINTER: usize = 4;
    pub const NEXT_HOP_MTU: usize = 6;
}

/// A view of an ICMPv4 message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Icmpv4Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Icmpv4Packet<T> {
    /// Wraps `buffer` without validation.
    pub const fn new_unchecked(buffer: T) -> Self {
        Icmpv4Packet { buffer }
    }

    /// Wraps `buffer` after checking it holds the 8 header bytes.
    pub fn new_checked(buffer: T) -> Result<Self> {
        if buffer.as_ref().len() < HEADER_LEN {
            return Err(Error::Truncated);
        }
        Ok(Self::new_unchecked(buffer))
    }

    /// Returns the underlying buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Message type (see [`icmpv4_type`]).
    pub fn msg_type(&self) -> u8 {
        self.buffer.as_ref()[field::TYPE]
    }

    /// Message code.
    pub fn msg_code(&self) -> u8 {
        self.buffer.as_ref()[field::CODE]
    }

    /// Checksum as stored.
    pub fn checksum(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::CHECKSUM)
    }

    /// Echo identifier (bytes 4..6).
    pub fn echo_ident(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::ECHO_IDENT)
    }

    /// Echo sequence number (bytes 6..8).
    pub fn echo_seq_no(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::ECHO_SEQNO)
    }

    /// The type-specific second word (bytes 4..8).
    pub fn rest_of_header(&self) -> u32 {
        get_u32(self.buffer.as_ref(), field::REST)
    }

    /// Next-hop MTU of a "fragmentation needed" (RFC 1191, bytes 6..8).
    pub fn next_hop_mtu(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::NEXT_HOP_MTU)
    }

    /// Parameter-problem pointer (byte 4).
    pub fn pointer(&self) -> u8 {
        self.buffer.as_ref()[field::POINTER]
    }

    /// Body after the 8 header bytes.
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN.min(self.buffer.as_ref().len())..]
    }

    /// Whether the checksum over the whole message is correct.
    pub fn verify_checksum(&self) -> bool {
        checksum::fold(checksum::sum(self.buffer.as_ref())) == 0xFFFF
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Icmpv4Packet<T> {
    /// Sets the message type.
    pub fn set_msg_type(&mut self, value: u8) {
        self.buffer.as_mut()[field::TYPE] = value;
    }

    /// Sets the message code.
    pub fn set_msg_code(&mut self, value: u8) {
        self.buffer.as_mut()[field::CODE] = value;
    }

    /// Sets the stored checksum.
    pub fn set_checksum(&mut self, value: u16) {
        put_u16(self.buffer.as_mut(), field::CHECKSUM, value);
    }

    /// Sets the echo identifier.
    pub fn set_echo_ident(&mut self, value: u16) {
        put_u16(self.buffer.as_mut(), field::ECHO_IDENT, value);
    }

    /// Sets the echo sequence number.
    pub fn set_echo_seq_no(&mut self, value: u16) {
        put_u16(self.buffer.as_mut(), field::ECHO_SEQNO, value);
    }

    /// Sets the whole second word (bytes 4..8).
    pub fn set_rest_of_header(&mut self, value: u32) {
        put_u32(self.buffer.as_mut(), field::REST, value);
    }

    /// Sets the next-hop MTU (bytes 6..8).
    pub fn set_next_hop_mtu(&mut self, value: u16) {
        put_u16(self.buffer.as_mut(), field::NEXT_HOP_MTU, value);
    }

    /// Sets the parameter-problem pointer (byte 4).
    pub fn set_pointer(&mut self, value: u8) {
        self.buffer.as_mut()[field::POINTER] = value;
    }

    /// Body after the 8 header bytes, mutable.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let data = self.buffer.as_mut();
        let start = HEADER_LEN.min(data.len());
        &mut data[start..]
    }

    /// Computes and stores the checksum over the whole message.
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let value = checksum::checksum(self.buffer.as_ref());
        self.set_checksum(value);
    }
}

#[cfg(test)]
mod tests {
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
}
