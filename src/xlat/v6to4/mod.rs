//! IPv6 → IPv4 translation, RFC 7915 §5, in place on a [`PacketBuf`].
//!
//! [`translate_6to4`] turns the IPv6 packet at the front of the buffer into
//! the IPv4 packet a [`Plan`] describes, or into an ICMPv6 error for the
//! sender, or drops it with a named reason. It never panics, whatever the
//! bytes. Implemented: §5.1 (the IPv6 header and its Hop-by-Hop, Routing and
//! Destination Options headers), §5.1.1 (the Fragment header), §5.2
//! (ICMPv6 → ICMPv4), §5.3 (the packet quoted in an ICMPv6 error), §5.4
//! ([`icmpv6_error`], the errors the translator itself sends) and §5.5
//! (TCP/UDP checksums and ports). [`flow6`] reads an IPv6 packet's tuple for
//! RFC 6146 §3.4 without changing it.
//!
//! No payload is copied: the IPv4 header is shorter than the IPv6 header and
//! its extension headers, so the 20-byte IPv4 header is written just in
//! front of the upper-layer header and the front of the buffer is trimmed
//! (`adj`, as `rte_pktmbuf_adj` does). An ICMPv6 error is handled the same
//! way: the quoted packet's upper-layer bytes stay where they are and the
//! outer IPv4, ICMPv4 and inner IPv4 headers are written in front of them.
//!
//! A simple packet (see the `xlat` module docs: no extension header; TCP,
//! UDP or echo; nothing to refuse) takes the simple-packet path
//! (`translate_simple`), which reads the header once; anything else takes
//! the full path, with the same outcome either way (a proptest compares the
//! two).

mod flow;
mod icmp;
#[cfg(test)]
mod tests;

pub use flow::flow6;
pub use icmp::icmpv6_error;

use std::net::{Ipv4Addr, Ipv6Addr};

use super::{
    DropReason, PacketBuf, Plan, Rewrite, SimpleFlow, Tuple, Verdict, XlatConfig, XlatState,
};
use crate::wire::checksum;
use crate::wire::icmpv6_type;
use crate::wire::ip_proto;
use crate::wire::ipv6::HEADER_LEN as IPV6_HEADER_LEN;
use crate::wire::{
    walk_ext_headers_checked, walk_ext_headers_quoted, Error as WireError, ExtChain, FragmentInfo,
    Ipv4Packet, Ipv6Packet, RoutingInfo, TcpPacket, UdpPacket,
};

/// Length of the IPv4 header the translator writes (no options, §5.1 IHL 5).
const IPV4_HEADER_LEN: usize = 20;

/// §5.1 Flags: DF is set only on translated packets larger than this.
const DF_THRESHOLD: usize = 1260;

/// IPv6 minimum MTU (RFC 8200 §5).
const IPV6_MIN_MTU: u32 = 1280;

/// IP Authentication Header, an extension header that §5.1.1 counts too.
const PROTO_AH: u8 = 51;

/// Translates the IPv6 packet in `buf` to IPv4 per RFC 7915 §5, as `plan`
/// says (addresses, ports, ICMP identifier; `plan.inner` for the packet an
/// ICMPv6 error quotes).
///
/// Returns `Forward` with the IPv4 packet in `buf`, `Reply` with an ICMPv6
/// error for the sender in `buf` (hop limit exceeded, packet too big,
/// routing header with segments left), or `Drop` with the reason.
pub fn translate_6to4(
    buf: &mut PacketBuf,
    plan: &Plan<Ipv4Addr>,
    cfg: &XlatConfig,
    st: &mut XlatState,
) -> Verdict {
    if let Some(verdict) = translate_simple(buf, plan, cfg, st) {
        return verdict;
    }
    match translate(buf, plan, cfg, st) {
        Ok(verdict) => verdict,
        Err(reason) => Verdict::Drop(reason),
    }
}

/// The simple-packet path, taken first: §5.1 for a packet with nothing to decide
/// (no extension header, so no Routing or Fragment header; TCP, UDP or
/// ICMPv6 echo; hop limit above 1; fits the IPv4 link), then §5.5 or §5.2.
///
/// Returns `None`, with the packet untouched, for anything else, and
/// [`translate`] then handles it in full: every check `translate` would
/// make either passes here or sends the packet there, so the outcome is the
/// same. The header is read once, as a fixed 40-byte array.
fn translate_simple(
    buf: &mut PacketBuf,
    plan: &Plan<Ipv4Addr>,
    cfg: &XlatConfig,
    st: &mut XlatState,
) -> Option<Verdict> {
    let data = buf.data();
    let pkt_len = data.len();
    let hdr = data.first_chunk::<IPV6_HEADER_LEN>()?;
    let ip = Ipv6Packet::new_unchecked(hdr);
    let upper_len = usize::from(ip.payload_len());
    // §5.1 Total Length: the payload length plus 20 (no extension headers).
    if ip.version() != 6
        || IPV6_HEADER_LEN + upper_len > pkt_len
        || !matches!(
            ip.next_header(),
            ip_proto::TCP | ip_proto::UDP | ip_proto::ICMPV6
        )
        || ip.hop_limit() <= 1
        || IPV4_HEADER_LEN + upper_len > usize::from(cfg.ipv4_mtu)
    {
        return None;
    }
    rewrite_simple(buf, &plan.outer, cfg, st)?;
    Some(Verdict::Forward)
}

/// The rewrite of [`translate_simple`], for a packet that passed its checks
/// (version 6; the payload within the buffer; TCP, UDP or ICMPv6 right
/// after the fixed header; hop limit above 1; fits `cfg.ipv4_mtu`): §5.5
/// or §5.2 (echo), then §5.1. `None`, with the packet untouched, when the
/// transport header refuses (too short, not an echo); else the buffer holds
/// the IPv4 packet. [`simple6`] makes the same checks for a fast path.
#[inline(always)]
pub(crate) fn rewrite_simple(
    buf: &mut PacketBuf,
    rewrite: &Rewrite<Ipv4Addr>,
    cfg: &XlatConfig,
    st: &mut XlatState,
) -> Option<()> {
    let data = buf.data_mut();
    let (hdr, rest) = data.split_first_chunk_mut::<IPV6_HEADER_LEN>()?;
    let ip = Ipv6Packet::new_unchecked(&*hdr);
    let upper_len = usize::from(ip.payload_len());
    let proto = ip.next_header();
    let hop_limit = ip.hop_limit();
    let traffic_class = ip.traffic_class();
    let total_len = IPV4_HEADER_LEN + upper_len;
    // The IPv6 addresses' sum, straight from the header's 32 address bytes.
    let old_addrs = checksum::sum_fixed(hdr.last_chunk::<32>()?);
    let new_addrs = addr_sum_v4(rewrite.src, rewrite.dst);
    // The IPv4 header goes in the last 20 bytes of the IPv6 header.
    let slot = hdr.last_chunk_mut::<IPV4_HEADER_LEN>()?;
    // Bytes after the payload (Ethernet padding) are not part of the packet.
    let upper = rest.get_mut(..upper_len)?;
    // §5.5 / §5.2, as in `translate`; each fails before changing a byte.
    let done = if proto == ip_proto::ICMPV6 {
        icmp::translate_echo(upper, old_addrs, rewrite.src_port)
    } else {
        rewrite_ports_whole(
            upper,
            proto,
            old_addrs,
            new_addrs,
            rewrite.src_port,
            rewrite.dst_port,
        )
        .ok_or(DropReason::Truncated)
    };
    done.ok()?;
    // §5.1, the header fields as `Ipv4Header::for_packet` sets them
    // without a Fragment header; total_len <= ipv4_mtu fits 16 bits.
    let header = Ipv4Header::unfragmented(
        traffic_class,
        proto,
        cfg,
        total_len as u16,
        hop_limit.wrapping_sub(1),
        rewrite.src,
        rewrite.dst,
        take_ident(st),
    );
    header.write(slot, !cfg.ipv4_checksum_offload);
    buf.truncate(IPV6_HEADER_LEN + upper_len);
    let trimmed = buf.adj(IPV6_HEADER_LEN - IPV4_HEADER_LEN);
    debug_assert!(trimmed);
    Some(())
}

/// A simple TCP or UDP packet: right after the fixed header, whole, with
/// hop limit above 1 and fitting `cfg.ipv4_mtu` (so no ICMPv6 error to
/// send). Its tuple, as the established fast path of the stateful NAT64
/// reads it; `None` for anything else. For what this accepts, [`flow6`] gives
/// the same tuple (no inner tuple, not a fragment, the same TCP flags) and
/// [`translate_6to4`] with an outer rewrite `r` does what
/// `rewrite_simple` with `r` does: unit tests compare them.
#[inline(always)]
pub fn simple6(pkt: &[u8], cfg: &XlatConfig) -> Option<SimpleFlow<Ipv6Addr>> {
    let (hdr, rest) = pkt.split_first_chunk::<IPV6_HEADER_LEN>()?;
    let ip = Ipv6Packet::new_unchecked(hdr);
    let upper_len = usize::from(ip.payload_len());
    if ip.version() != 6
        || ip.hop_limit() <= 1
        || IPV4_HEADER_LEN + upper_len > usize::from(cfg.ipv4_mtu)
    {
        return None;
    }
    let upper = rest.get(..upper_len)?;
    let (l4, src_port, dst_port, tcp_flags) = super::tcp_udp_ports(ip.next_header(), upper)?;
    Some(SimpleFlow {
        tuple: Tuple {
            l4,
            src: ip.src_addr(),
            dst: ip.dst_addr(),
            src_port,
            dst_port,
        },
        tcp_flags,
    })
}

/// Everything [`translate_simple`] leaves: the whole of §5. Kept out of
/// line so the simple-packet path does not pay for its stack frame.
#[inline(never)]
fn translate(
    buf: &mut PacketBuf,
    plan: &Plan<Ipv4Addr>,
    cfg: &XlatConfig,
    st: &mut XlatState,
) -> Result<Verdict, DropReason> {
    let info = Ipv6Info::parse(buf.data())?;
    // Bytes after the payload (Ethernet padding) are not part of the packet.
    buf.truncate(info.packet_len());

    // §5.1: "If a Routing header with a non-zero Segments Left field is
    // present, then the packet MUST NOT be translated, and an ICMPv6
    // parameter problem/erroneous header field encountered (Type 4, Code 0)
    // error message, with the Pointer field indicating the first byte of
    // the Segments Left field, SHOULD be returned to the sender."
    if let Some(routing) = info.routing.filter(|r| r.segments_left != 0) {
        let pointer = (routing.offset + 3) as u32;
        return Ok(icmp::reply(
            buf,
            icmpv6_type::PARAM_PROBLEM,
            0,
            pointer,
            cfg,
            DropReason::BadExtensionHeader,
        ));
    }

    // §5.1.1: "If the Next Header field of the Fragment Header is an
    // extension header (except ESP, but including the Authentication Header
    // (AH)), then the packet SHOULD be dropped and logged."
    if info.frag.is_some() {
        if info.ext_after_fragment() {
            return Err(DropReason::BadExtensionHeader);
        }
        // Deviation: a fragmented ICMPv6 message is dropped. Its checksum
        // covers a pseudo-header whose length is the reassembled message's,
        // unknown from any one fragment, so neither the first fragment's
        // checksum can be moved to ICMPv4 nor the later fragments be told
        // apart from a query or an error (Jool does the same). An atomic
        // fragment (offset 0, M = 0, RFC 6946) is the whole message: it is
        // translated like any other.
        if info.proto == ip_proto::ICMPV6 && !info.is_atomic() {
            return Err(DropReason::Fragment);
        }
    }

    // §5.2: sort ICMPv6 out first; what cannot be translated is dropped
    // silently whatever its hop limit (MLD and ND arrive with hop limit 1
    // or 255 and deserve no Time Exceeded).
    let mut icmp_error = false;
    if info.proto == ip_proto::ICMPV6 {
        let msg = buf.data().get(info.l4..).unwrap_or_default();
        let msg_type = *msg.first().ok_or(DropReason::Truncated)?;
        icmp_error = icmp::is_error(msg_type);
        if !icmp_error && icmp::echo_type_6to4(msg_type).is_none() {
            return Err(DropReason::IcmpUntranslatable);
        }
    }

    // §5.1 Time to Live: the translator is a router and "MUST check for
    // zero and send the ICMPv4 TTL Exceeded or ICMPv6 Hop Limit Exceeded
    // error". The hop limit is checked before decrementing: 1 would become 0.
    if info.hop_limit <= 1 {
        return Ok(icmp::reply(
            buf,
            icmpv6_type::TIME_EXCEEDED,
            0,
            0,
            cfg,
            DropReason::TtlExpiredOnError,
        ));
    }

    if icmp_error {
        return icmp::translate_error(buf, &info, plan, cfg, st);
    }

    // §5.1: "If a translated packet with DF set to 1 will be larger than the
    // MTU of the next-hop interface, then the translator MUST drop the
    // packet and send the ICMPv6 Packet Too Big (Type 2, Code 0) error
    // message to the IPv6 host with an adjusted MTU".
    // Deviation: a DF=0 packet too big for the IPv4 link (only possible when
    // that MTU is under 1260, or for a big fragment) is answered the same
    // way, because this translator does not fragment IPv4. The MTU reported
    // is the IPv4 MTU plus the 20 bytes the IPv6 header adds, never below
    // the IPv6 minimum (RFC 6145 habit; a host cannot go below 1280).
    let total_len = IPV4_HEADER_LEN + (buf.len() - info.l4);
    if total_len > usize::from(cfg.ipv4_mtu) {
        let mtu = (u32::from(cfg.ipv4_mtu) + 20).max(IPV6_MIN_MTU);
        return Ok(icmp::reply(
            buf,
            icmpv6_type::PACKET_TOO_BIG,
            0,
            mtu,
            cfg,
            DropReason::TooBig,
        ));
    }
    // Fits: total_len <= ipv4_mtu <= u16::MAX.
    let total_len = total_len as u16;

    let rewrite = plan.outer;
    let l4 = info.l4;
    let data = buf.data_mut();
    if info.is_first() {
        let upper = data.get_mut(l4..).unwrap_or_default();
        match info.proto {
            ip_proto::TCP | ip_proto::UDP => {
                // §5.5: TCP and UDP checksums follow the pseudo-header and
                // port change; ports come from the plan (stateful NAT64
                // rewrites the source port).
                rewrite_ports(
                    upper,
                    info.proto,
                    info.addr_sum(),
                    addr_sum_v4(rewrite.src, rewrite.dst),
                    rewrite.src_port,
                    rewrite.dst_port,
                    false,
                )?;
            }
            ip_proto::ICMPV6 => icmp::translate_echo(upper, info.addr_sum(), rewrite.src_port)?,
            // §5.5: "translators MUST forward all transport protocols as
            // described in the Protocol step of Section 5.1": other
            // protocols get a translated IP header and an untouched payload
            // (their checksums, if any, are not updated).
            _ => {}
        }
    }
    // A non-first fragment carries no upper-layer header: only the IP
    // header is translated (§5.1.1).

    let ident = info.frag.map(|_| 0).unwrap_or_else(|| take_ident(st));
    let header = Ipv4Header::for_packet(
        &info,
        cfg,
        total_len,
        info.hop_limit - 1,
        rewrite.src,
        rewrite.dst,
        ident,
    );
    header.write(ipv4_slot(data, l4)?, !cfg.ipv4_checksum_offload);
    let trimmed = buf.adj(l4 - IPV4_HEADER_LEN);
    debug_assert!(trimmed);
    Ok(Verdict::Forward)
}

/// The 20 bytes in front of offset `end` of `data`, where an IPv4 header is
/// written (`end` is an upper-layer offset, at least 40 and inside `data`).
fn ipv4_slot(data: &mut [u8], end: usize) -> Result<&mut [u8; IPV4_HEADER_LEN], DropReason> {
    data.get_mut(..end)
        .and_then(|front| front.last_chunk_mut())
        .ok_or(DropReason::Truncated)
}

/// §5.1 Identification: the next value of this worker's counter.
fn take_ident(st: &mut XlatState) -> u16 {
    let ident = st.next_ipv4_id;
    st.next_ipv4_id = ident.wrapping_add(1);
    ident
}

/// What §5.1 needs from one IPv6 header and its extension-header chain.
#[derive(Debug, Clone, Copy)]
struct Ipv6Info {
    traffic_class: u8,
    hop_limit: u8,
    payload_len: u16,
    src: Ipv6Addr,
    dst: Ipv6Addr,
    /// Upper-layer protocol behind the skipped extension headers.
    proto: u8,
    /// Offset of the upper-layer header (or of a non-first fragment's data).
    l4: usize,
    /// Offset of the next-header byte that names `proto`.
    last_next_header: usize,
    frag: Option<FragmentInfo>,
    routing: Option<RoutingInfo>,
}

impl Ipv6Info {
    /// Reads a whole IPv6 packet: its payload length must fit in `pkt`.
    fn parse(pkt: &[u8]) -> Result<Self, DropReason> {
        let ip = Ipv6Packet::new_checked(pkt).map_err(|e| match e {
            WireError::Truncated => DropReason::Truncated,
            WireError::Malformed => DropReason::BadHeader,
        })?;
        let chain = walk_ext_headers_checked(&ip).map_err(|e| match e {
            WireError::Truncated => DropReason::Truncated,
            WireError::Malformed => DropReason::BadExtensionHeader,
        })?;
        Self::from_parts(pkt, &chain).ok_or(DropReason::Truncated)
    }

    /// Reads the IPv6 packet quoted in an ICMPv6 error, which is cut short
    /// by design: the extension headers are walked over the bytes present.
    fn parse_quoted(pkt: &[u8]) -> Option<Self> {
        let chain = walk_ext_headers_quoted(pkt).ok()?;
        Self::from_parts(pkt, &chain)
    }

    /// The fields of the fixed header of `pkt` (read as a 40-byte array, so
    /// without per-field bounds checks; `None` if shorter, which a checked
    /// view rules out) and of `chain`.
    fn from_parts(pkt: &[u8], chain: &ExtChain) -> Option<Self> {
        let ip = Ipv6Packet::new_unchecked(pkt.first_chunk::<IPV6_HEADER_LEN>()?);
        Some(Ipv6Info {
            traffic_class: ip.traffic_class(),
            hop_limit: ip.hop_limit(),
            payload_len: ip.payload_len(),
            src: ip.src_addr(),
            dst: ip.dst_addr(),
            proto: chain.upper_proto,
            l4: chain.upper_offset,
            last_next_header: chain.last_next_header_offset,
            frag: chain.fragment,
            routing: chain.routing,
        })
    }

    /// Length of the packet per its Payload Length field.
    fn packet_len(&self) -> usize {
        IPV6_HEADER_LEN + usize::from(self.payload_len)
    }

    /// Unfragmented, or the first fragment: the upper-layer header is here.
    fn is_first(&self) -> bool {
        self.frag.is_none_or(|f| f.frag_offset == 0)
    }

    /// An atomic fragment (RFC 6946): a Fragment header with offset 0 and
    /// M = 0, so the packet is a whole datagram.
    fn is_atomic(&self) -> bool {
        self.frag.is_some_and(|f| f.frag_offset == 0 && !f.more)
    }

    /// §5.1.1: an extension header follows the Fragment header.
    fn ext_after_fragment(&self) -> bool {
        match self.frag {
            Some(f) => self.last_next_header != f.offset || is_ext_header(self.proto),
            None => false,
        }
    }

    /// Sum of the two addresses, the only pseudo-header words that differ
    /// between IPv6 and IPv4 for the same upper-layer message.
    fn addr_sum(&self) -> u32 {
        checksum::sum_ipv6_addr(&self.src) + checksum::sum_ipv6_addr(&self.dst)
    }
}

/// Whether `proto` names an IPv6 extension header (RFC 8200 §4, with AH as
/// §5.1.1 asks).
fn is_ext_header(proto: u8) -> bool {
    matches!(
        proto,
        ip_proto::HOPOPT
            | ip_proto::IPV6_ROUTE
            | ip_proto::IPV6_FRAG
            | ip_proto::IPV6_OPTS
            | PROTO_AH
    )
}

/// Sum of two IPv4 addresses (see [`Ipv6Info::addr_sum`]).
fn addr_sum_v4(src: Ipv4Addr, dst: Ipv4Addr) -> u32 {
    checksum::sum_ipv4_addr(src) + checksum::sum_ipv4_addr(dst)
}

/// The IPv4 header fields §5.1 and §5.1.1 derive from an IPv6 packet.
#[derive(Debug, Clone, Copy)]
struct Ipv4Header {
    tos: u8,
    total_len: u16,
    ident: u16,
    dont_frag: bool,
    more_frags: bool,
    frag_offset: u16,
    ttl: u8,
    protocol: u8,
    src: Ipv4Addr,
    dst: Ipv4Addr,
}

impl Ipv4Header {
    /// The header for an unfragmented packet with this Traffic Class and
    /// upper-layer protocol, translated to `total_len` bytes.
    #[allow(clippy::too_many_arguments)]
    fn unfragmented(
        traffic_class: u8,
        proto: u8,
        cfg: &XlatConfig,
        total_len: u16,
        ttl: u8,
        src: Ipv4Addr,
        dst: Ipv4Addr,
        ident: u16,
    ) -> Self {
        Ipv4Header {
            // §5.1 TOS: "By default, copied from the IPv6 Traffic Class (all
            // 8 bits)"; the translator SHOULD be able to set it instead.
            tos: if cfg.copy_traffic_class {
                traffic_class
            } else {
                0
            },
            // §5.1 Total Length: payload length plus 20, less the skipped
            // extension headers (§5.1.1: and less the Fragment header).
            total_len,
            // §5.1 Identification: "Set according to a Fragment
            // Identification algorithm at the translator."
            ident,
            // §5.1 Flags: MF zero; DF set when the translated packet is
            // larger than 1260 bytes.
            dont_frag: usize::from(total_len) > DF_THRESHOLD,
            more_frags: false,
            frag_offset: 0,
            ttl,
            // §5.1 Protocol: ICMPv6 (58) becomes ICMP (1); otherwise the
            // Next Header of the last extension header is copied.
            protocol: if proto == ip_proto::ICMPV6 {
                ip_proto::ICMP
            } else {
                proto
            },
            src,
            dst,
        }
    }

    /// The header for `info` translated to `total_len` bytes; `ident` is
    /// used when there is no Fragment header.
    fn for_packet(
        info: &Ipv6Info,
        cfg: &XlatConfig,
        total_len: u16,
        ttl: u8,
        src: Ipv4Addr,
        dst: Ipv4Addr,
        ident: u16,
    ) -> Self {
        let mut header = Self::unfragmented(
            info.traffic_class,
            info.proto,
            cfg,
            total_len,
            ttl,
            src,
            dst,
            ident,
        );
        if let Some(frag) = info.frag {
            // §5.1.1: Identification "Copied from the low-order 16 bits in
            // the Identification field in the Fragment Header"; MF copied
            // from M; DF cleared "allowing this packet to be further
            // fragmented by IPv4 routers"; Fragment Offset copied.
            header.ident = frag.ident as u16;
            header.dont_frag = false;
            header.more_frags = frag.more;
            header.frag_offset = frag.frag_offset;
        }
        header
    }

    /// Writes the header into `out`, with its checksum, or with 0 there
    /// when `checksum` is false (the NIC fills it in: a tx offload).
    pub(super) fn write(&self, out: &mut [u8; IPV4_HEADER_LEN], checksum: bool) {
        // Built in a local array, which the compiler keeps in registers,
        // so the checksum below adds values rather than reading back bytes
        // just stored into the packet (a store-forwarding stall), and the
        // setters' bounds checks compile away; then stored once.
        let mut bytes = [0u8; IPV4_HEADER_LEN];
        let mut ip = Ipv4Packet::new_unchecked(&mut bytes);
        ip.set_version(4);
        ip.set_header_len(IPV4_HEADER_LEN);
        ip.set_tos(self.tos);
        ip.set_total_len(self.total_len);
        ip.set_ident(self.ident);
        ip.set_dont_frag(self.dont_frag);
        ip.set_more_frags(self.more_frags);
        ip.set_frag_offset(self.frag_offset);
        ip.set_ttl(self.ttl);
        ip.set_protocol(self.protocol);
        ip.set_src_addr(self.src);
        ip.set_dst_addr(self.dst);
        // §5.1 Header Checksum: "Computed once the IPv4 header has been
        // created" (by the NIC when offloaded: the field stays 0, as DPDK's
        // RTE_MBUF_F_TX_IP_CKSUM requires).
        if checksum {
            let csum = checksum::checksum_fixed(&bytes);
            bytes[10..12].copy_from_slice(&csum.to_be_bytes());
        }
        *out = bytes;
    }
}

/// §5.5: rewrites the TCP or UDP ports in `upper` and patches the checksum
/// for the new pseudo-header addresses (`old_addrs` → `new_addrs`, sums of
/// the two addresses; length and protocol are the same in both
/// pseudo-headers) and ports.
///
/// `upper` must hold the 8 bytes with both ports (UDP: and its checksum),
/// else `Truncated`; a TCP header of a quoted packet (`quoted`) may end
/// before its checksum, which is then left alone. Fails before changing a
/// byte.
#[inline]
fn rewrite_ports(
    upper: &mut [u8],
    proto: u8,
    old_addrs: u32,
    new_addrs: u32,
    src_port: u16,
    dst_port: u16,
    quoted: bool,
) -> Result<(), DropReason> {
    if !quoted {
        return rewrite_ports_whole(upper, proto, old_addrs, new_addrs, src_port, dst_port)
            .ok_or(DropReason::Truncated);
    }
    let new = new_addrs + u32::from(src_port) + u32::from(dst_port);
    if proto == ip_proto::TCP {
        if upper.len() < 8 {
            return Err(DropReason::IcmpInnerBad);
        }
        match upper.first_chunk_mut::<18>() {
            Some(head) => tcp_ports(head, old_addrs, new, src_port, dst_port),
            // A quoted header may end before its checksum: the ports
            // change, the checksum is left alone.
            None => {
                let mut tcp = TcpPacket::new_unchecked(upper);
                tcp.set_src_port(src_port);
                tcp.set_dst_port(dst_port);
            }
        }
    } else {
        let head = upper
            .first_chunk_mut::<8>()
            .ok_or(DropReason::IcmpInnerBad)?;
        udp_ports(head, old_addrs, new, src_port, dst_port);
    }
    Ok(())
}

/// [`rewrite_ports`] for a packet's own (not quoted) TCP or UDP header:
/// `None`, with nothing changed, when it is too short.
#[inline(always)]
fn rewrite_ports_whole(
    upper: &mut [u8],
    proto: u8,
    old_addrs: u32,
    new_addrs: u32,
    src_port: u16,
    dst_port: u16,
) -> Option<()> {
    let new = new_addrs + u32::from(src_port) + u32::from(dst_port);
    if proto == ip_proto::TCP {
        TcpPacket::new_checked(&*upper).ok()?;
        tcp_ports(
            upper.first_chunk_mut::<18>()?,
            old_addrs,
            new,
            src_port,
            dst_port,
        );
    } else {
        udp_ports(
            upper.first_chunk_mut::<8>()?,
            old_addrs,
            new,
            src_port,
            dst_port,
        );
    }
    Some(())
}

/// New ports in a TCP header's first 18 bytes, and its checksum (bytes
/// 16..18, RFC 9293 §3.1) moved from the sum `old_addrs` (plus the old
/// ports) to `new` (new addresses and ports). A fixed-size head lets the
/// accessors go without bounds checks.
#[inline(always)]
fn tcp_ports(head: &mut [u8; 18], old_addrs: u32, new: u32, src_port: u16, dst_port: u16) {
    let mut tcp = TcpPacket::new_unchecked(head);
    let old = old_addrs + u32::from(tcp.src_port()) + u32::from(tcp.dst_port());
    tcp.set_src_port(src_port);
    tcp.set_dst_port(dst_port);
    let csum = tcp.checksum();
    tcp.set_checksum(checksum::update(csum, old, new));
}

/// [`tcp_ports`] for a UDP header.
#[inline(always)]
fn udp_ports(head: &mut [u8; 8], old_addrs: u32, new: u32, src_port: u16, dst_port: u16) {
    let mut udp = UdpPacket::new_unchecked(head);
    let old = old_addrs + u32::from(udp.src_port()) + u32::from(udp.dst_port());
    udp.set_src_port(src_port);
    udp.set_dst_port(dst_port);
    let csum = udp.checksum();
    // A zero UDP checksum (not allowed in IPv6, RFC 8200 §8.1, save for
    // RFC 6935 tunnels) stays zero: in IPv4 it means "no checksum", which
    // is what the sender provided.
    if csum != 0 {
        let updated = checksum::update(csum, old, new);
        // RFC 768: a computed zero is sent as all ones.
        udp.set_checksum(if updated == 0 { 0xFFFF } else { updated });
    }
}
