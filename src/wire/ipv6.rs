//! IPv6 header view (RFC 8200 §3), the extension-header walk (RFC 8200 §4)
//! and the Fragment header view (RFC 8200 §4.5).
//!
//! `Ipv6Packet::new_checked` promises version 6 and `40 + payload_len <=
//! buffer len`; jumbograms (RFC 2675) are not supported: a zero payload
//! length means an empty payload. [`walk_ext_headers`] finds the upper-layer
//! protocol behind Hop-by-Hop, Routing, Fragment and Destination Options
//! headers, which is what a translator needs (RFC 7915 §5.1).

use std::net::Ipv6Addr;

use super::{clipped, clipped_mut, get_u16, get_u32, ip_proto, put_u16, put_u32, Error, Result};

/// Length of the fixed IPv6 header.
pub const HEADER_LEN: usize = 40;
/// Length of the Fragment extension header.
pub const FRAG_HEADER_LEN: usize = 8;
/// Most extension headers [`walk_ext_headers`] accepts before giving up.
pub const MAX_EXT_HEADERS: usize = 8;

mod field {
    use core::ops::Range;
    pub const VER_TC_FLOW: Range<usize> = 0..4;
    pub const LENGTH: Range<usize> = 4..6;
    pub const NXT_HDR: usize = 6;
    pub const HOP_LIMIT: usize = 7;
    pub const SRC_ADDR: Range<usize> = 8..24;
    pub const DST_ADDR: Range<usize> = 24..40;
}

/// A view of an IPv6 packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ipv6Packet<T: AsRef<[u8]>> {
    buffer: T,
}

fn addr_at(data: &[u8], at: usize) -> Ipv6Addr {
    let mut octets = [0u8; 16];
    octets.copy_from_slice(&data[at..at + 16]);
    Ipv6Addr::from(octets)
}

impl<T: AsRef<[u8]>> Ipv6Packet<T> {
    /// Wraps `buffer` without validation.
    pub const fn new_unchecked(buffer: T) -> Self {
        Ipv6Packet { buffer }
    }

    /// Wraps `buffer` after checking the version and the payload length.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let packet = Self::new_checked_header(buffer)?;
        if HEADER_LEN + usize::from(packet.payload_len()) > packet.buffer.as_ref().len() {
            return Err(Error::Truncated);
        }
        Ok(packet)
    }

    /// Wraps `buffer` checking only the fixed header (for a packet quoted in
    /// an ICMPv6 error); `payload()` is then clipped to the buffer.
    pub fn new_checked_header(buffer: T) -> Result<Self> {
        let packet = Self::new_unchecked(buffer);
        if packet.buffer.as_ref().len() < HEADER_LEN {
            return Err(Error::Truncated);
        }
        if packet.version() != 6 {
            return Err(Error::Malformed);
        }
        Ok(packet)
    }

    /// Returns the underlying buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn ver_tc_flow(&self) -> u32 {
        get_u32(self.buffer.as_ref(), field::VER_TC_FLOW.start)
    }

    /// Version field (6).
    pub fn version(&self) -> u8 {
        (self.ver_tc_flow() >> 28) as u8
    }

    /// Traffic class.
    pub fn traffic_class(&self) -> u8 {
        (self.ver_tc_flow() >> 20) as u8
    }

    /// Flow label (20 bits).
    pub fn flow_label(&self) -> u32 {
        self.ver_tc_flow() & 0x000F_FFFF
    }

    /// Payload length (everything after the fixed header).
    pub fn payload_len(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::LENGTH.start)
    }

    /// Next header of the fixed header.
    pub fn next_header(&self) -> u8 {
        self.buffer.as_ref()[field::NXT_HDR]
    }

    /// Hop limit.
    pub fn hop_limit(&self) -> u8 {
        self.buffer.as_ref()[field::HOP_LIMIT]
    }

    /// Source address.
    pub fn src_addr(&self) -> Ipv6Addr {
        addr_at(self.buffer.as_ref(), field::SRC_ADDR.start)
    }

    /// Destination address.
    pub fn dst_addr(&self) -> Ipv6Addr {
        addr_at(self.buffer.as_ref(), field::DST_ADDR.start)
    }

    /// Payload: bytes `40..40 + payload_len` (clipped to the buffer).
    pub fn payload(&self) -> &[u8] {
        let end = HEADER_LEN + usize::from(self.payload_len());
        clipped(self.buffer.as_ref(), HEADER_LEN, end)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv6Packet<T> {
    fn set_ver_tc_flow(&mut self, mask: u32, value: u32) {
        let d = self.buffer.as_mut();
        let old = get_u32(d, field::VER_TC_FLOW.start);
        put_u32(d, field::VER_TC_FLOW.start, (old & !mask) | (value & mask));
    }

    /// Sets the version field.
    pub fn set_version(&mut self, value: u8) {
        self.set_ver_tc_flow(0xF000_0000, u32::from(value) << 28);
    }

    /// Sets the traffic class.
    pub fn set_traffic_class(&mut self, value: u8) {
        self.set_ver_tc_flow(0x0FF0_0000, u32::from(value) << 20);
    }

    /// Sets the flow label (low 20 bits used).
    pub fn set_flow_label(&mut self, value: u32) {
        self.set_ver_tc_flow(0x000F_FFFF, value);
    }

    /// Sets the payload length.
    pub fn set_payload_len(&mut self, value: u16) {
        put_u16(self.buffer.as_mut(), field::LENGTH.start, value);
    }

    /// Sets the next header of the fixed header.
    pub fn set_next_header(&mut self, value: u8) {
        self.buffer.as_mut()[field::NXT_HDR] = value;
    }

    /// Sets the hop limit.
    pub fn set_hop_limit(&mut self, value: u8) {
        self.buffer.as_mut()[field::HOP_LIMIT] = value;
    }

    /// Sets the source address.
    pub fn set_src_addr(&mut self, addr: &Ipv6Addr) {
        self.buffer.as_mut()[field::SRC_ADDR].copy_from_slice(&addr.octets());
    }

    /// Sets the destination address.
    pub fn set_dst_addr(&mut self, addr: &Ipv6Addr) {
        self.buffer.as_mut()[field::DST_ADDR].copy_from_slice(&addr.octets());
    }

    /// Payload, mutable: bytes `40..40 + payload_len` (clipped to the buffer).
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let end = HEADER_LEN + usize::from(self.payload_len());
        clipped_mut(self.buffer.as_mut(), HEADER_LEN, end)
    }
}

/// What [`walk_ext_headers`] found between the IPv6 header and the
/// upper-layer header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExtChain {
    /// Protocol of the first header that is not a walked extension header.
    pub upper_proto: u8,
    /// Offset of that header from the start of the IPv6 header.
    pub upper_offset: usize,
    /// Whether a Hop-by-Hop Options header is present.
    pub hop_by_hop: bool,
    /// The Routing header, if any.
    pub routing: Option<RoutingInfo>,
    /// The Fragment header, if any.
    pub fragment: Option<FragmentInfo>,
    /// Offset of the next-header byte that names `upper_proto`.
    pub last_next_header_offset: usize,
}

/// A Routing header found by [`walk_ext_headers`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoutingInfo {
    /// Offset of the header from the start of the IPv6 header.
    pub offset: usize,
    /// Its Segments Left field.
    pub segments_left: u8,
}

/// A Fragment header found by [`walk_ext_headers`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FragmentInfo {
    /// Offset of the header from the start of the IPv6 header.
    pub offset: usize,
    /// Identification.
    pub ident: u32,
    /// Fragment offset in bytes.
    pub frag_offset: u16,
    /// M flag (more fragments follow).
    pub more: bool,
}

/// Walks the extension headers of the IPv6 packet `pkt` (fixed header
/// included) up to the upper-layer header, RFC 8200 §4.1.
///
/// Walks Hop-by-Hop (only directly after the fixed header), Routing,
/// Fragment and Destination Options headers and stops at the first other
/// protocol. A non-first fragment stops the walk at the Fragment header:
/// `upper_proto` is its next header and `upper_offset` the fragment data.
/// Errors: `Truncated` when a header runs past `40 + payload_len`,
/// `Malformed` for a misplaced Hop-by-Hop, a second Fragment header or more
/// than [`MAX_EXT_HEADERS`] headers.
pub fn walk_ext_headers(pkt: &[u8]) -> Result<ExtChain> {
    walk_ext_headers_checked(&Ipv6Packet::new_checked(pkt)?)
}

/// [`walk_ext_headers`] over a view already made by
/// [`Ipv6Packet::new_checked`], so the fixed header is not checked twice.
#[inline]
pub fn walk_ext_headers_checked(ip: &Ipv6Packet<&[u8]>) -> Result<ExtChain> {
    let first = ip.next_header();
    // The common case first: the upper-layer header follows the fixed one.
    if !matches!(
        first,
        ip_proto::HOPOPT | ip_proto::IPV6_ROUTE | ip_proto::IPV6_FRAG | ip_proto::IPV6_OPTS
    ) {
        return Ok(ExtChain {
            upper_proto: first,
            upper_offset: HEADER_LEN,
            hop_by_hop: false,
            routing: None,
            fragment: None,
            last_next_header_offset: field::NXT_HDR,
        });
    }
    walk(ip.buffer, first, HEADER_LEN + usize::from(ip.payload_len()))
}

/// [`walk_ext_headers`] for a packet quoted in an ICMPv6 error (RFC 4443
/// §2.4 (c)), whose payload length covers bytes that were cut off: the walk
/// is bounded by the bytes present, and a header running past them is
/// `Truncated`.
pub fn walk_ext_headers_quoted(pkt: &[u8]) -> Result<ExtChain> {
    let ip = Ipv6Packet::new_checked_header(pkt)?;
    let limit = (HEADER_LEN + usize::from(ip.payload_len())).min(pkt.len());
    walk(pkt, ip.next_header(), limit)
}

/// The walk itself; `pkt` holds at least `limit >= 40` bytes.
fn walk(pkt: &[u8], first: u8, limit: usize) -> Result<ExtChain> {
    let mut chain = ExtChain {
        upper_proto: first,
        upper_offset: HEADER_LEN,
        hop_by_hop: false,
        routing: None,
        fragment: None,
        last_next_header_offset: field::NXT_HDR,
    };
    let mut count = 0;
    loop {
        let off = chain.upper_offset;
        let len = match chain.upper_proto {
            ip_proto::HOPOPT | ip_proto::IPV6_ROUTE | ip_proto::IPV6_OPTS => {
                if off + 2 > limit {
                    return Err(Error::Truncated);
                }
                (usize::from(pkt[off + 1]) + 1) * 8
            }
            ip_proto::IPV6_FRAG => FRAG_HEADER_LEN,
            _ => return Ok(chain),
        };
        count += 1;
        if count > MAX_EXT_HEADERS {
            return Err(Error::Malformed);
        }
        if off + len > limit {
            return Err(Error::Truncated);
        }
        match chain.upper_proto {
            ip_proto::HOPOPT => {
                // RFC 8200 §4.1: Hop-by-Hop may only follow the fixed header.
                if off != HEADER_LEN {
                    return Err(Error::Malformed);
                }
                chain.hop_by_hop = true;
            }
            ip_proto::IPV6_ROUTE => {
                // RFC 8200 §4.1 wants one Routing header; should several
                // come, keep the one that still has segments to visit, which
                // is the one a translator must act on (RFC 7915 §5.1).
                let segments_left = pkt[off + 3];
                let keep_old = chain.routing.is_some_and(|r| r.segments_left != 0);
                if !keep_old {
                    chain.routing = Some(RoutingInfo {
                        offset: off,
                        segments_left,
                    });
                }
            }
            ip_proto::IPV6_FRAG => {
                // Deviation: RFC 8200 tolerates repeated headers, but a
                // second Fragment header cannot be reassembled meaningfully.
                if chain.fragment.is_some() {
                    return Err(Error::Malformed);
                }
                let frag = Ipv6FragHeader::new_unchecked(&pkt[off..off + FRAG_HEADER_LEN]);
                let info = FragmentInfo {
                    offset: off,
                    ident: frag.ident(),
                    frag_offset: frag.frag_offset(),
                    more: frag.more_frags(),
                };
                chain.fragment = Some(info);
                if info.frag_offset != 0 {
                    // A non-first fragment carries no further headers.
                    chain.upper_proto = frag.next_header();
                    chain.upper_offset = off + FRAG_HEADER_LEN;
                    chain.last_next_header_offset = off;
                    return Ok(chain);
                }
            }
            _ => {}
        }
        chain.upper_proto = pkt[off];
        chain.last_next_header_offset = off;
        chain.upper_offset = off + len;
    }
}

mod frag_field {
    pub const NXT_HDR: usize = 0;
    pub const RESERVED: usize = 1;
    pub const OFF_M: usize = 2;
    pub const IDENT: usize = 4;
}

/// A view of an IPv6 Fragment header (RFC 8200 §4.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ipv6FragHeader<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Ipv6FragHeader<T> {
    /// Length of the header.
    pub const LEN: usize = FRAG_HEADER_LEN;

    /// Wraps `buffer` without validation.
    pub const fn new_unchecked(buffer: T) -> Self {
        Ipv6FragHeader { buffer }
    }

    /// Wraps `buffer` after checking it holds 8 bytes.
    pub fn new_checked(buffer: T) -> Result<Self> {
        if buffer.as_ref().len() < FRAG_HEADER_LEN {
            return Err(Error::Truncated);
        }
        Ok(Self::new_unchecked(buffer))
    }

    /// Returns the underlying buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Next header.
    pub fn next_header(&self) -> u8 {
        self.buffer.as_ref()[frag_field::NXT_HDR]
    }

    /// Fragment offset in bytes.
    pub fn frag_offset(&self) -> u16 {
        get_u16(self.buffer.as_ref(), frag_field::OFF_M) & 0xFFF8
    }

    /// M flag: more fragments follow.
    pub fn more_frags(&self) -> bool {
        get_u16(self.buffer.as_ref(), frag_field::OFF_M) & 1 != 0
    }

    /// Identification.
    pub fn ident(&self) -> u32 {
        get_u32(self.buffer.as_ref(), frag_field::IDENT)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Ipv6FragHeader<T> {
    /// Sets the next header.
    pub fn set_next_header(&mut self, value: u8) {
        self.buffer.as_mut()[frag_field::NXT_HDR] = value;
    }

    /// Sets the fragment offset in bytes (a multiple of 8).
    pub fn set_frag_offset(&mut self, bytes: u16) {
        let d = self.buffer.as_mut();
        let old = get_u16(d, frag_field::OFF_M);
        put_u16(d, frag_field::OFF_M, (bytes & 0xFFF8) | (old & 0x0007));
    }

    /// Sets the M flag.
    pub fn set_more_frags(&mut self, value: bool) {
        let d = self.buffer.as_mut();
        let old = get_u16(d, frag_field::OFF_M);
        put_u16(d, frag_field::OFF_M, (old & !1) | u16::from(value));
    }

    /// Sets the identification.
    pub fn set_ident(&mut self, value: u32) {
        put_u32(self.buffer.as_mut(), frag_field::IDENT, value);
    }

    /// Zeroes both reserved fields (RFC 8200 §4.5: sent as zero).
    pub fn clear_reserved(&mut self) {
        let d = self.buffer.as_mut();
        d[frag_field::RESERVED] = 0;
        let old = get_u16(d, frag_field::OFF_M);
        put_u16(d, frag_field::OFF_M, old & !0x0006);
    }
}

#[cfg(test)]
mod tests;
