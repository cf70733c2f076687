//! ICMPv6 message view (RFC 4443 §2) with its pseudo-header checksum
//! (RFC 8200 §8.1), and the Neighbor Solicitation / Advertisement view
//! with its link-layer address options (RFC 4861 §4.3, §4.4, §4.6.1).
//!
//! `Icmpv6Packet::new_checked` promises the 8 header bytes; the message is
//! the whole buffer. `NdpNeighbor::new_checked` additionally promises an
//! NS or NA type, the 24 fixed bytes and well-formed options (none of
//! length zero, none past the end), RFC 4861 §4.6.

use std::net::Ipv6Addr;

use super::{checksum, get_u16, get_u32, ip_proto, put_u16, put_u32, Error, Result};

/// Length of the ICMPv6 header (type, code, checksum, 4 type-specific bytes).
pub const HEADER_LEN: usize = 8;

/// ICMPv6 message types (RFC 4443, RFC 4861, RFC 2710).
pub mod icmpv6_type {
    /// Destination unreachable.
    pub const DST_UNREACHABLE: u8 = 1;
    /// Packet too big.
    pub const PACKET_TOO_BIG: u8 = 2;
    /// Time exceeded.
    pub const TIME_EXCEEDED: u8 = 3;
    /// Parameter problem.
    pub const PARAM_PROBLEM: u8 = 4;
    /// Echo request.
    pub const ECHO_REQUEST: u8 = 128;
    /// Echo reply.
    pub const ECHO_REPLY: u8 = 129;
    /// Multicast listener query.
    pub const MLD_QUERY: u8 = 130;
    /// Multicast listener report.
    pub const MLD_REPORT: u8 = 131;
    /// Multicast listener done.
    pub const MLD_DONE: u8 = 132;
    /// Router solicitation.
    pub const ROUTER_SOLICIT: u8 = 133;
    /// Router advertisement.
    pub const ROUTER_ADVERT: u8 = 134;
    /// Neighbor solicitation.
    pub const NEIGHBOR_SOLICIT: u8 = 135;
    /// Neighbor advertisement.
    pub const NEIGHBOR_ADVERT: u8 = 136;
    /// Redirect.
    pub const REDIRECT: u8 = 137;
}

mod field {
    pub const TYPE: usize = 0;
    pub const CODE: usize = 1;
    pub const CHECKSUM: usize = 2;
    pub const ECHO_IDENT: usize = 4;
    pub const ECHO_SEQNO: usize = 6;
    pub const MTU: usize = 4;
    pub const POINTER: usize = 4;
}

/// A view of an ICMPv6 message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Icmpv6Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Icmpv6Packet<T> {
    /// Wraps `buffer` without validation.
    pub const fn new_unchecked(buffer: T) -> Self {
        Icmpv6Packet { buffer }
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

    /// Message type (see [`icmpv6_type`]).
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

    /// Packet-too-big MTU (bytes 4..8).
    pub fn mtu(&self) -> u32 {
        get_u32(self.buffer.as_ref(), field::MTU)
    }

    /// Parameter-problem pointer (bytes 4..8).
    pub fn pointer(&self) -> u32 {
        get_u32(self.buffer.as_ref(), field::POINTER)
    }

    /// Body after the 8 header bytes.
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN.min(self.buffer.as_ref().len())..]
    }

    /// Whether the checksum over pseudo-header and message is correct.
    pub fn verify_checksum(&self, src: &Ipv6Addr, dst: &Ipv6Addr) -> bool {
        let data = self.buffer.as_ref();
        let acc = checksum::pseudo_v6(src, dst, ip_proto::ICMPV6, data.len() as u32);
        checksum::fold(acc + checksum::sum(data)) == 0xFFFF
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Icmpv6Packet<T> {
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

    /// Sets the packet-too-big MTU.
    pub fn set_mtu(&mut self, value: u32) {
        put_u32(self.buffer.as_mut(), field::MTU, value);
    }

    /// Sets the parameter-problem pointer.
    pub fn set_pointer(&mut self, value: u32) {
        put_u32(self.buffer.as_mut(), field::POINTER, value);
    }

    /// Body after the 8 header bytes, mutable.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let data = self.buffer.as_mut();
        let start = HEADER_LEN.min(data.len());
        &mut data[start..]
    }

    /// Computes and stores the checksum over pseudo-header and message.
    pub fn fill_checksum(&mut self, src: &Ipv6Addr, dst: &Ipv6Addr) {
        self.set_checksum(0);
        let data = self.buffer.as_ref();
        let acc = checksum::pseudo_v6(src, dst, ip_proto::ICMPV6, data.len() as u32);
        let value = checksum::finish(acc + checksum::sum(data));
        self.set_checksum(value);
    }
}

/// NDP option types used with neighbour messages (RFC 4861 §4.6).
pub mod ndp_option {
    /// Source link-layer address.
    pub const SOURCE_LL_ADDR: u8 = 1;
    /// Target link-layer address.
    pub const TARGET_LL_ADDR: u8 = 2;
}

mod ndp_field {
    pub const FLAGS: usize = 4;
    pub const TARGET: usize = 8;
    pub const OPTIONS: usize = 24;
}

/// Length of an NS/NA message without options.
pub const NDP_NEIGHBOR_LEN: usize = 24;
/// Length of a link-layer address option for Ethernet.
pub const NDP_LL_OPTION_LEN: usize = 8;

const NA_ROUTER: u8 = 0x80;
const NA_SOLICITED: u8 = 0x40;
const NA_OVERRIDE: u8 = 0x20;

/// A view of a Neighbor Solicitation or Advertisement, over the whole
/// ICMPv6 message (type byte first), RFC 4861 §4.3/§4.4.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NdpNeighbor<T: AsRef<[u8]>> {
    buffer: T,
}

/// One NDP option: its type and its bytes after the type and length bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NdpOption<'a> {
    /// Option type (see [`ndp_option`]).
    pub kind: u8,
    /// Option data (length * 8 - 2 bytes).
    pub data: &'a [u8],
}

/// Iterator over the options of an NDP message; ends at the first option
/// that is malformed (zero length or past the end).
#[derive(Debug, Clone)]
pub struct NdpOptionIter<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for NdpOptionIter<'a> {
    type Item = Result<NdpOption<'a>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let item = match self.rest {
            [_] => Err(Error::Truncated),
            [_, 0, ..] => Err(Error::Malformed),
            [kind, len, ..] => {
                let total = usize::from(*len) * 8;
                match self.rest.get(2..total) {
                    Some(data) => {
                        let option = NdpOption { kind: *kind, data };
                        self.rest = &self.rest[total..];
                        return Some(Ok(option));
                    }
                    None => Err(Error::Truncated),
                }
            }
            [] => return None,
        };
        self.rest = &[];
        Some(item)
    }
}

impl<T: AsRef<[u8]>> NdpNeighbor<T> {
    /// Wraps `buffer` without validation.
    pub const fn new_unchecked(buffer: T) -> Self {
        NdpNeighbor { buffer }
    }

    /// Wraps `buffer` after checking type, length and options.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let packet = Self::new_unchecked(buffer);
        let data = packet.buffer.as_ref();
        if data.len() < NDP_NEIGHBOR_LEN {
            return Err(Error::Truncated);
        }
        if !matches!(
            data[0],
            icmpv6_type::NEIGHBOR_SOLICIT | icmpv6_type::NEIGHBOR_ADVERT
        ) {
            return Err(Error::Malformed);
        }
        for option in packet.options() {
            option?;
        }
        Ok(packet)
    }

    /// Returns the underlying buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Message type (135 for NS, 136 for NA).
    pub fn msg_type(&self) -> u8 {
        self.buffer.as_ref()[0]
    }

    /// Target address.
    pub fn target_addr(&self) -> Ipv6Addr {
        let mut octets = [0u8; 16];
        octets.copy_from_slice(&self.buffer.as_ref()[ndp_field::TARGET..ndp_field::TARGET + 16]);
        Ipv6Addr::from(octets)
    }

    /// R flag of an NA: the sender is a router.
    pub fn router_flag(&self) -> bool {
        self.buffer.as_ref()[ndp_field::FLAGS] & NA_ROUTER != 0
    }

    /// S flag of an NA: sent in response to an NS.
    pub fn solicited_flag(&self) -> bool {
        self.buffer.as_ref()[ndp_field::FLAGS] & NA_SOLICITED != 0
    }

    /// O flag of an NA: override an existing cache entry.
    pub fn override_flag(&self) -> bool {
        self.buffer.as_ref()[ndp_field::FLAGS] & NA_OVERRIDE != 0
    }

    /// Iterates over the options after the target address.
    pub fn options(&self) -> NdpOptionIter<'_> {
        let data = self.buffer.as_ref();
        NdpOptionIter {
            rest: data.get(ndp_field::OPTIONS..).unwrap_or(&[]),
        }
    }

    fn ll_addr(&self, kind: u8) -> Option<[u8; 6]> {
        self.options()
            .filter_map(|o| o.ok())
            .find(|o| o.kind == kind)
            .and_then(|o| o.data.get(..6))
            .and_then(|mac| <[u8; 6]>::try_from(mac).ok())
    }

    /// The source link-layer address option, if present.
    pub fn source_ll_addr(&self) -> Option<[u8; 6]> {
        self.ll_addr(ndp_option::SOURCE_LL_ADDR)
    }

    /// The target link-layer address option, if present.
    pub fn target_ll_addr(&self) -> Option<[u8; 6]> {
        self.ll_addr(ndp_option::TARGET_LL_ADDR)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> NdpNeighbor<T> {
    /// Sets the message type (NS or NA).
    pub fn set_msg_type(&mut self, value: u8) {
        self.buffer.as_mut()[0] = value;
    }

    /// Sets the target address.
    pub fn set_target_addr(&mut self, addr: &Ipv6Addr) {
        self.buffer.as_mut()[ndp_field::TARGET..ndp_field::TARGET + 16]
            .copy_from_slice(&addr.octets());
    }

    /// Clears the flags and the reserved bytes (4..8).
    pub fn clear_flags(&mut self) {
        self.buffer.as_mut()[ndp_field::FLAGS..ndp_field::TARGET].fill(0);
    }

    fn set_flag(&mut self, flag: u8, on: bool) {
        let d = self.buffer.as_mut();
        let old = d[ndp_field::FLAGS];
        d[ndp_field::FLAGS] = if on { old | flag } else { old & !flag };
    }

    /// Sets the R flag.
    pub fn set_router_flag(&mut self, on: bool) {
        self.set_flag(NA_ROUTER, on);
    }

    /// Sets the S flag.
    pub fn set_solicited_flag(&mut self, on: bool) {
        self.set_flag(NA_SOLICITED, on);
    }

    /// Sets the O flag.
    pub fn set_override_flag(&mut self, on: bool) {
        self.set_flag(NA_OVERRIDE, on);
    }

    /// Writes one Ethernet link-layer address option of type `kind` at byte
    /// 24 (the first option); `Truncated` if the buffer lacks its 8 bytes.
    pub fn set_ll_addr_option(&mut self, kind: u8, addr: [u8; 6]) -> Result<()> {
        let d = self.buffer.as_mut();
        let slot = d
            .get_mut(ndp_field::OPTIONS..ndp_field::OPTIONS + NDP_LL_OPTION_LEN)
            .ok_or(Error::Truncated)?;
        slot[0] = kind;
        slot[1] = 1; // length in units of 8 bytes
        slot[2..].copy_from_slice(&addr);
        Ok(())
    }
}

#[cfg(test)]
mod tests;
