//! Stateless IP/ICMP translation: RFC 6052 address mapping and the RFC 7915
//! header translation algorithm, both directions, in place on a buffer with
//! headroom.
//!
//! The translator is told *what* the translated packet's addresses and
//! transport identifiers are (a [`Plan`]: the stateful NAT64 computes it per
//! RFC 6146 §3.6, a stateless caller from RFC 6052) and does *how*: header
//! rewriting, checksums, ICMP type/code mapping, inner packets of ICMP
//! errors, fragments and MTU. Every outcome is a [`Verdict`].
//!
//! A *simple packet* is one the translator takes without deciding anything
//! but addresses and ports: no IPv6 extension header or IPv4 option, not a
//! fragment, TCP, UDP or an ICMP echo, a hop limit or TTL above 1, fitting
//! the egress link. Each direction tries its *simple-packet path* first
//! (`translate_simple`, whose rewrite `rewrite_simple` is the stateful
//! NAT64's established fast path too, after [`v6to4::simple6`] /
//! [`v4to6::simple4`] read the packet), and the full path for the rest.

pub mod buf;
pub mod rfc6052;
pub mod v4to6;
pub mod v6to4;

pub use buf::PacketBuf;

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::wire::{ip_proto, TcpPacket, UdpPacket};

/// Translation settings taken from `[translation]` and the port MTUs.
#[derive(Debug, Clone)]
pub struct XlatConfig {
    /// `translation.lowest_ipv6_mtu`: DF=0 IPv4 packets are fragmented to fit it.
    pub lowest_ipv6_mtu: u16,
    /// `translation.copy_traffic_class`: copy TOS <-> Traffic Class, else 0.
    pub copy_traffic_class: bool,
    /// `translation.amend_udp_checksum_zero`: compute a checksum for IPv4 UDP
    /// with checksum 0 (true) or drop it (false).
    pub amend_udp_checksum_zero: bool,
    /// MTU of the IPv6 (inside) link.
    pub ipv6_mtu: u16,
    /// MTU of the IPv4 (outside) link.
    pub ipv4_mtu: u16,
    /// Source of ICMPv6 errors the translator itself generates (hop limit
    /// exceeded, packet too big, parameter problem): the box's inside address.
    pub own_ipv6: Ipv6Addr,
    /// Source of ICMPv4 errors the translator itself generates.
    pub own_ipv4: Ipv4Addr,
    /// The outside NIC computes IPv4 header checksums (a tx offload): the
    /// outer header of a translated IPv6 -> IPv4 packet is written with a
    /// checksum of 0 for the NIC to fill. Quoted (inner) headers of ICMP
    /// errors always carry theirs: the NIC only sees the outer one.
    pub ipv4_checksum_offload: bool,
}

impl Default for XlatConfig {
    fn default() -> Self {
        XlatConfig {
            lowest_ipv6_mtu: 1280,
            copy_traffic_class: true,
            amend_udp_checksum_zero: true,
            ipv6_mtu: 1500,
            ipv4_mtu: 1500,
            own_ipv6: Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 1),
            own_ipv4: Ipv4Addr::new(192, 0, 2, 254),
            ipv4_checksum_offload: false,
        }
    }
}

/// Addresses and transport identifiers of one translated header.
///
/// `src_port`/`dst_port` are TCP/UDP ports; for ICMP echo both carry the
/// identifier the translated packet must have (`src_port` is used).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rewrite<A> {
    pub src: A,
    pub dst: A,
    pub src_port: u16,
    pub dst_port: u16,
}

/// What the translated packet must look like.
///
/// For an ICMP error, `outer` gives the outer header's addresses (ports
/// unused) and `inner` the embedded packet's addresses and ports, which is
/// the reverse of the flow it belongs to. For anything else `inner` is `None`
/// (and ignored if present).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan<A> {
    pub outer: Rewrite<A>,
    pub inner: Option<Rewrite<A>>,
}

/// Transport kind of a tuple. ICMP means an ICMP query (echo): its
/// identifier is carried in both `src_port` and `dst_port`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum L4 {
    Tcp,
    Udp,
    Icmp,
}

/// The transport of a whole TCP segment or UDP datagram `upper` (IP
/// protocol `proto`), as the simple-packet readers take it: kind, source and
/// destination port, TCP flags (0 for UDP); `None` for another protocol
/// or a header that does not fit (`TcpPacket::new_checked`,
/// `UdpPacket::new_checked_header`).
#[inline(always)]
pub(crate) fn tcp_udp_ports(proto: u8, upper: &[u8]) -> Option<(L4, u16, u16, u8)> {
    match proto {
        ip_proto::TCP => {
            let tcp = TcpPacket::new_checked(upper).ok()?;
            Some((L4::Tcp, tcp.src_port(), tcp.dst_port(), tcp.flags()))
        }
        ip_proto::UDP => {
            let udp = UdpPacket::new_checked_header(upper).ok()?;
            Some((L4::Udp, udp.src_port(), udp.dst_port(), 0))
        }
        _ => None,
    }
}

/// What the established fast path keeps of a simple TCP or UDP packet
/// ([`v6to4::simple6`], [`v4to6::simple4`]), read once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SimpleFlow<A> {
    pub tuple: Tuple<A>,
    /// TCP flags of the segment (0 for UDP).
    pub tcp_flags: u8,
}

/// A transport 5-tuple as seen in a packet (RFC 6146 §3.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Tuple<A> {
    pub l4: L4,
    pub src: A,
    pub dst: A,
    pub src_port: u16,
    pub dst_port: u16,
}

/// What a packet is, read without modifying it: the input to RFC 6146 §3.4.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flow<A> {
    /// The packet's own tuple. For an ICMP error: `l4 = Icmp`, the outer
    /// addresses, ports 0.
    pub tuple: Tuple<A>,
    /// For an ICMP error: the tuple of the packet it quotes, as quoted
    /// (so its source is the flow's translated side).
    pub inner: Option<Tuple<A>>,
    /// TCP flags of the segment (0 unless TCP).
    pub tcp_flags: u8,
    /// A fragment other than the first: no transport header, ports are 0.
    pub non_first_fragment: bool,
    /// A fragment (first or not) of a datagram in several pieces: what
    /// RFC 6146 §3.4 needs to keep its state. `None` for a whole datagram,
    /// an IPv6 atomic fragment (offset 0, M = 0, RFC 6946) included.
    pub frag: Option<FragInfo>,
}

/// One fragment of a fragmented datagram, as its IP header says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FragInfo {
    /// The datagram's identification (IPv4: 16 bits; IPv6: 32 bits).
    pub ident: u32,
    /// Where this fragment's data starts in the datagram, in bytes.
    pub offset: u32,
    /// Bytes of the datagram this fragment carries (after the IP header
    /// and, IPv6, the Fragment header).
    pub len: u32,
    /// More fragments follow (IPv4 MF, IPv6 M).
    pub more: bool,
}

impl FragInfo {
    /// The first fragment (offset 0): the one with the transport header.
    #[inline]
    pub fn is_first(&self) -> bool {
        self.offset == 0
    }
}

/// Per-worker mutable translation state (IPv4 identification counter).
#[derive(Debug, Clone, Default)]
pub struct XlatState {
    pub next_ipv4_id: u16,
}

/// The outcome of translating one packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The buffer now holds the translated packet (starting at its IP
    /// header); forward it out of the other port.
    Forward,
    /// The buffer holds the translated IPv6 packet, larger than `mtu`; the
    /// caller splits it with `v4to6::fragment_ipv6` into fragments of at most
    /// `mtu` bytes (RFC 7915 §4, DF=0 IPv4 packets).
    Fragment { mtu: u16 },
    /// The buffer now holds an ICMP error (same family as the input)
    /// addressed to the original sender; send it back out of the port the
    /// packet came in on.
    Reply(ReplyReason),
    /// Drop the packet; count `DropReason`.
    Drop(DropReason),
}

/// Why the translator answered a packet with an ICMP error of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReplyReason {
    /// TTL / hop limit would reach zero (RFC 7915 §4.1 / §5.1).
    TimeExceeded,
    /// DF=1 IPv4 packet, or IPv6 packet, too big for the egress MTU.
    PacketTooBig,
    /// IPv6 routing header with segments left != 0 (RFC 7915 §5.1).
    ParameterProblem,
    /// The caller asked for a destination unreachable (e.g. RFC 6052 §3.1).
    DestinationUnreachable,
}

/// Every reason the translator drops a packet. A flat `Copy` enum: one
/// counter per variant, named only when scraped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DropReason {
    /// Shorter than its headers say, or a header malformed.
    Truncated,
    /// Not IPv4 / IPv6 where expected, or bad version/IHL/length field.
    BadHeader,
    /// IPv4 header checksum wrong.
    BadIpv4Checksum,
    /// Transport protocol the translator does not carry.
    UnknownProtocol,
    /// ICMP type/code RFC 7915 says to drop silently (§4.2 / §5.2).
    IcmpUntranslatable,
    /// ICMP error inside an ICMP error, or inner packet unusable.
    IcmpInnerBad,
    /// IPv4 with source route option (RFC 7915 §4.1).
    SourceRoute,
    /// IPv4 UDP checksum 0 and `amend_udp_checksum_zero = false` (§4.5), or
    /// a fragmented UDP checksum-0 datagram that cannot be amended.
    UdpChecksumZero,
    /// TTL/hop limit expired on an ICMP error (never answer errors with errors).
    TtlExpiredOnError,
    /// No headroom left to grow the packet (4→6 needs 20 bytes).
    NoHeadroom,
    /// Packet too big and no ICMP error may be sent for it.
    TooBig,
    /// IPv6 extension header chain too long or unknown.
    BadExtensionHeader,
    /// A fragment of a fragmented ICMP message (its checksum covers the
    /// whole message, which this translator does not reassemble; an IPv6
    /// atomic fragment is whole and translated), or a fragment reaching
    /// past the 65535-byte datagram limit.
    Fragment,
    /// ICMPv6 checksum wrong on an error being translated.
    BadIcmpChecksum,
    /// An ICMP error was due, but RFC 1812 §4.3.2.7 / RFC 4443 §2.4(e)
    /// forbid sending it (the packet is an error, a non-first fragment, or
    /// from a non-unicast source).
    IcmpErrorSuppressed,
    /// IPv4 source that is no unicast host: 0/8, 127/8, multicast, class E
    /// or broadcast (RFC 7915 §4.1 "Source Address", RFC 1812 §5.3.7).
    MartianSource,
    /// A first fragment without the whole transport header (RFC 6146
    /// §3.4 lets a NAT64 require it; RFC 7112 for IPv6): no ports to map.
    FirstFragmentShort,
}

impl DropReason {
    /// All variants, for counters and metrics.
    pub const ALL: &'static [DropReason] = &[
        DropReason::Truncated,
        DropReason::BadHeader,
        DropReason::BadIpv4Checksum,
        DropReason::UnknownProtocol,
        DropReason::IcmpUntranslatable,
        DropReason::IcmpInnerBad,
        DropReason::SourceRoute,
        DropReason::UdpChecksumZero,
        DropReason::TtlExpiredOnError,
        DropReason::NoHeadroom,
        DropReason::TooBig,
        DropReason::BadExtensionHeader,
        DropReason::Fragment,
        DropReason::BadIcmpChecksum,
        DropReason::IcmpErrorSuppressed,
        DropReason::MartianSource,
        DropReason::FirstFragmentShort,
    ];

    /// Stable snake_case name, used as the Prometheus label.
    pub fn name(self) -> &'static str {
        match self {
            DropReason::Truncated => "truncated",
            DropReason::BadHeader => "bad_header",
            DropReason::BadIpv4Checksum => "bad_ipv4_checksum",
            DropReason::UnknownProtocol => "unknown_protocol",
            DropReason::IcmpUntranslatable => "icmp_untranslatable",
            DropReason::IcmpInnerBad => "icmp_inner_bad",
            DropReason::SourceRoute => "source_route",
            DropReason::UdpChecksumZero => "udp_checksum_zero",
            DropReason::TtlExpiredOnError => "ttl_expired_on_error",
            DropReason::NoHeadroom => "no_headroom",
            DropReason::TooBig => "too_big",
            DropReason::BadExtensionHeader => "bad_extension_header",
            DropReason::Fragment => "fragment",
            DropReason::BadIcmpChecksum => "bad_icmp_checksum",
            DropReason::IcmpErrorSuppressed => "icmp_error_suppressed",
            DropReason::MartianSource => "martian_source",
            DropReason::FirstFragmentShort => "first_fragment_short",
        }
    }
}
