//! Zero-copy packet views, one file per protocol, in the style of smoltcp's
//! `wire` module.
//!
//! Each view wraps a buffer (`T: AsRef<[u8]>`, plus `AsMut<[u8]>` for the
//! setters). `new_checked` validates every length the getters rely on, so no
//! getter of a checked view panics on any input; `new_unchecked` skips the
//! checks for buffers the caller has already validated. Bad input is an
//! [`Error`] value, never a panic. Multi-byte fields are network byte order;
//! addresses are `std::net` types.
//!
//! Protocols: Ethernet II with one 802.1Q tag, ARP (RFC 826), IPv4
//! (RFC 791), IPv6 and its extension headers (RFC 8200), UDP (RFC 768), TCP
//! (RFC 9293), ICMPv4 (RFC 792), ICMPv6 (RFC 4443) with NDP neighbour
//! messages (RFC 4861), and the Internet checksum (RFC 1071, RFC 1624).

use core::fmt;

pub mod arp;
pub mod checksum;
pub mod ethernet;
pub mod icmpv4;
pub mod icmpv6;
pub mod ipv4;
pub mod ipv6;
pub mod tcp;
pub mod udp;

pub use arp::ArpPacket;
pub use ethernet::EthernetFrame;
pub use icmpv4::{icmpv4_type, Icmpv4Packet};
pub use icmpv6::{icmpv6_type, ndp_option, Icmpv6Packet, NdpNeighbor, NdpOption, NdpOptionIter};
pub use ipv4::Ipv4Packet;
pub use ipv6::{
    walk_ext_headers, walk_ext_headers_checked, walk_ext_headers_quoted, ExtChain, FragmentInfo,
    Ipv6FragHeader, Ipv6Packet, RoutingInfo,
};
pub use tcp::TcpPacket;
pub use udp::UdpPacket;

/// Why a buffer is not a valid packet of the expected kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Error {
    /// The buffer is shorter than a length the header requires or announces.
    Truncated,
    /// A field holds a value the protocol does not allow (version, length, ...).
    Malformed,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Truncated => f.write_str("truncated packet"),
            Error::Malformed => f.write_str("malformed packet"),
        }
    }
}

impl std::error::Error for Error {}

/// Result of parsing a packet view.
pub type Result<T> = core::result::Result<T, Error>;

/// IP protocol numbers (IANA "Assigned Internet Protocol Numbers").
pub mod ip_proto {
    /// IPv6 Hop-by-Hop Options (RFC 8200 §4.3).
    pub const HOPOPT: u8 = 0;
    /// ICMP for IPv4 (RFC 792).
    pub const ICMP: u8 = 1;
    /// TCP (RFC 9293).
    pub const TCP: u8 = 6;
    /// UDP (RFC 768).
    pub const UDP: u8 = 17;
    /// IPv6 Routing header (RFC 8200 §4.4).
    pub const IPV6_ROUTE: u8 = 43;
    /// IPv6 Fragment header (RFC 8200 §4.5).
    pub const IPV6_FRAG: u8 = 44;
    /// ICMP for IPv6 (RFC 4443).
    pub const ICMPV6: u8 = 58;
    /// No next header (RFC 8200 §4.7).
    pub const IPV6_NONXT: u8 = 59;
    /// IPv6 Destination Options (RFC 8200 §4.6).
    pub const IPV6_OPTS: u8 = 60;
}

/// EtherType values (IEEE 802).
pub mod ethertype {
    /// IPv4.
    pub const IPV4: u16 = 0x0800;
    /// ARP.
    pub const ARP: u16 = 0x0806;
    /// 802.1Q VLAN tag.
    pub const VLAN: u16 = 0x8100;
    /// IPv6.
    pub const IPV6: u16 = 0x86DD;
}

/// Reads a big-endian u16 at `at`; the caller has checked the length.
#[inline]
pub(crate) fn get_u16(data: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([data[at], data[at + 1]])
}

/// Reads a big-endian u32 at `at`; the caller has checked the length.
#[inline]
pub(crate) fn get_u32(data: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([data[at], data[at + 1], data[at + 2], data[at + 3]])
}

/// Writes a big-endian u16 at `at`; the caller has checked the length.
#[inline]
pub(crate) fn put_u16(data: &mut [u8], at: usize, value: u16) {
    data[at..at + 2].copy_from_slice(&value.to_be_bytes());
}

/// Writes a big-endian u32 at `at`; the caller has checked the length.
#[inline]
pub(crate) fn put_u32(data: &mut [u8], at: usize, value: u32) {
    data[at..at + 4].copy_from_slice(&value.to_be_bytes());
}

/// `data[start..end]` with both ends clipped to the buffer, so a view whose
/// length fields were changed after `new_checked` still cannot panic.
#[inline]
pub(crate) fn clipped(data: &[u8], start: usize, end: usize) -> &[u8] {
    let end = end.min(data.len());
    &data[start.min(end)..end]
}

/// Mutable twin of [`clipped`].
#[inline]
pub(crate) fn clipped_mut(data: &mut [u8], start: usize, end: usize) -> &mut [u8] {
    let end = end.min(data.len());
    &mut data[start.min(end)..end]
}

#[cfg(test)]
mod tests;
