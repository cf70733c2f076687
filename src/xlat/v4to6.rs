//! IPv4 → IPv6 translation (RFC 7915 §4), in place on a [`PacketBuf`].
//!
//! Promises: the IPv4 header is replaced by an IPv6 header (and a Fragment
//! header where §4.1 asks for one) by growing the packet into its headroom;
//! the payload is never copied, except behind the quoted packet of an ICMP
//! error, which must grow by 20 bytes (§4.3). Every input, however
//! malformed, yields a [`Verdict`]; nothing here panics on packet data.
//!
//! Implemented: §4.1 (header, TTL, options, Fragment header, DF/MTU), §4.2
//! (ICMPv4 → ICMPv6 type/code/MTU/pointer mapping), §4.3 (the packet quoted
//! by an ICMP error), §4.4 (ICMPv4 errors of our own, [`icmpv4_error`]),
//! §4.5 (TCP/UDP checksums, UDP checksum 0). Also [`fragment_ipv6`] for DF=0
//! packets larger than the lowest IPv6 MTU and [`flow4`], the read-only
//! RFC 6146 §3.4 classification.
//!
//! Deliberate deviations, each commented where it happens:
//! - fragmented ICMPv4 is dropped (`DropReason::Fragment`): the ICMPv6
//!   checksum covers a pseudo-header with the whole message's length, which
//!   a translator without reassembly cannot know;
//! - RFC 4884 extensions of ICMPv4 errors travel as opaque quoted data (the
//!   ICMPv6 length attribute is 0).

use std::net::{Ipv4Addr, Ipv6Addr};

use super::{
    DropReason, Flow, PacketBuf, Plan, ReplyReason, Rewrite, Tuple, Verdict, XlatConfig, XlatState,
    L4,
};

#[cfg(test)]
mod tests;

/// IPv4 header without options.
const IPV4_HDR: usize = 20;
/// IPv6 fixed header.
const IPV6_HDR: usize = 40;
/// IPv6 Fragment header.
const FRAG_HDR: usize = 8;
/// ICMP header (type, code, checksum, 4 bytes rest of header).
const ICMP_HDR: usize = 8;
/// IPv6 minimum MTU (RFC 8200 §5): ICMPv6 errors never exceed it (RFC 4443 §2.4).
const IPV6_MIN_MTU: usize = 1280;
/// RFC 1812 §4.3.2.3: an ICMPv4 error never exceeds 576 bytes.
const ICMPV4_ERROR_MAX: usize = 576;
/// Largest fragment `fragment_ipv6` builds (a 9216-byte jumbo frame).
const FRAG_BUF: usize = 9216;

/// IP protocol numbers used here.
mod proto {
    pub const ICMP: u8 = 1;
    pub const IGMP: u8 = 2;
    pub const TCP: u8 = 6;
    pub const UDP: u8 = 17;
    pub const IPV6_FRAG: u8 = 44;
    pub const ICMPV6: u8 = 58;
}

/// ICMPv4 / ICMPv6 type numbers used here.
mod icmp {
    pub const V4_ECHO_REPLY: u8 = 0;
    pub const V4_DST_UNREACHABLE: u8 = 3;
    pub const V4_SOURCE_QUENCH: u8 = 4;
    pub const V4_REDIRECT: u8 = 5;
    pub const V4_ECHO_REQUEST: u8 = 8;
    pub const V4_TIME_EXCEEDED: u8 = 11;
    pub const V4_PARAM_PROBLEM: u8 = 12;
    pub const V6_DST_UNREACHABLE: u8 = 1;
    pub const V6_PACKET_TOO_BIG: u8 = 2;
    pub const V6_TIME_EXCEEDED: u8 = 3;
    pub const V6_PARAM_PROBLEM: u8 = 4;
    pub const V6_ECHO_REQUEST: u8 = 128;
    pub const V6_ECHO_REPLY: u8 = 129;
}

/// RFC 1071 / RFC 1624 arithmetic (same contract as `wire::checksum`).
mod csum {
    use std::net::{Ipv4Addr, Ipv6Addr};

    /// 16-bit big-endian words summed (odd byte padded), not folded.
    pub fn sum(data: &[u8]) -> u32 {
        let mut acc: u64 = 0;
        let mut chunks = data.chunks_exact(2);
        for w in &mut chunks {
            acc += u64::from(u16::from_be_bytes([w[0], w[1]]));
        }
        if let [last] = chunks.remainder() {
            acc += u64::from(*last) << 8;
        }
        while acc > 0xffff_ffff {
            acc = (acc & 0xffff_ffff) + (acc >> 32);
        }
        acc as u32
    }

    /// Fold carries into 16 bits, not complemented.
    pub fn fold(mut s: u32) -> u16 {
        while s > 0xffff {
            s = (s & 0xffff) + (s >> 16);
        }
        s as u16
    }

    /// The value to store in a checksum field.
    pub fn finish(s: u32) -> u16 {
        !fold(s)
    }

    /// Checksum of `data`.
    pub fn checksum(data: &[u8]) -> u16 {
        finish(sum(data))
    }

    /// IPv6 pseudo-header (RFC 8200 §8.1), unfolded.
    pub fn pseudo_v6(src: &Ipv6Addr, dst: &Ipv6Addr, proto: u8, len: u32) -> u32 {
        let s = u64::from(sum(&src.octets()))
            + u64::from(sum(&dst.octets()))
            + u64::from(len >> 16)
            + u64::from(len & 0xffff)
            + u64::from(proto);
        u32::from(fold_u64(s))
    }

    /// Sum of an IPv4 address's two words.
    pub fn addr_v4(a: Ipv4Addr) -> u32 {
        sum(&a.octets())
    }

    /// HC' = ~(~HC + ~m + m') (RFC 1624 eqn. 3), `m`/`m'` given unfolded.
    pub fn update(csum: u16, old_sum: u32, new_sum: u32) -> u16 {
        let s = u64::from(!csum) + u64::from(!fold(old_sum)) + u64::from(new_sum);
        !fold_u64(s)
    }

    fn fold_u64(mut s: u64) -> u16 {
        while s > 0xffff {
            s = (s & 0xffff) + (s >> 16);
        }
        s as u16
    }
}

// ---------------------------------------------------------------------------
// Byte access that never panics.

fn get8(b: &[u8], at: usize) -> Result<u8, DropReason> {
    b.get(at).copied().ok_or(DropReason::Truncated)
}

fn get16(b: &[u8], at: usize) -> Result<u16, DropReason> {
    match b.get(at..at.wrapping_add(2)) {
        Some(&[x, y]) => Ok(u16::from_be_bytes([x, y])),
        _ => Err(DropReason::Truncated),
    }
}

fn get32(b: &[u8], at: usize) -> Result<u32, DropReason> {
    match b.get(at..at.wrapping_add(4)) {
        Some(&[w, x, y, z]) => Ok(u32::from_be_bytes([w, x, y, z])),
        _ => Err(DropReason::Truncated),
    }
}

fn put(b: &mut [u8], at: usize, bytes: &[u8]) -> Result<(), DropReason> {
    b.get_mut(at..at.wrapping_add(bytes.len()))
        .ok_or(DropReason::Truncated)?
        .copy_from_slice(bytes);
    Ok(())
}

fn put16(b: &mut [u8], at: usize, v: u16) -> Result<(), DropReason> {
    put(b, at, &v.to_be_bytes())
}

// ---------------------------------------------------------------------------
// IPv4 header, parsed once.

/// The IPv4 header fields translation needs.
#[derive(Debug, Clone, Copy)]
struct V4Hdr {
    /// Header length in bytes (options included).
    ihl: usize,
    tos: u8,
    /// Total length in bytes.
    total: usize,
    ident: u16,
    df: bool,
    mf: bool,
    /// Fragment offset in bytes.
    frag_off: usize,
    ttl: u8,
    proto: u8,
    src: Ipv4Addr,
    dst: Ipv4Addr,
}

impl V4Hdr {
    /// Parse a header whose datagram must be wholly inside `pkt`.
    fn parse(pkt: &[u8]) -> Result<V4Hdr, DropReason> {
        let h = Self::parse_quoted(pkt)?;
        if h.total > pkt.len() {
            return Err(DropReason::Truncated);
        }
        Ok(h)
    }

    /// Parse a header quoted by an ICMP error: the header itself must be
    /// complete, the datagram behind it may be cut short.
    fn parse_quoted(pkt: &[u8]) -> Result<V4Hdr, DropReason> {
        if pkt.len() < IPV4_HDR {
            return Err(DropReason::Truncated);
        }
        let vihl = get8(pkt, 0)?;
        if vihl >> 4 != 4 {
            return Err(DropReason::BadHeader);
        }
        let ihl = usize::from(vihl & 0x0f) * 4;
        if ihl < IPV4_HDR {
            return Err(DropReason::BadHeader);
        }
        if ihl > pkt.len() {
            return Err(DropReason::Truncated);
        }
        let total = usize::from(get16(pkt, 2)?);
        if total < ihl {
            return Err(DropReason::BadHeader);
        }
        let flags = get16(pkt, 6)?;
        Ok(V4Hdr {
            ihl,
            tos: get8(pkt, 1)?,
            total,
            ident: get16(pkt, 4)?,
            df: flags & 0x4000 != 0,
            mf: flags & 0x2000 != 0,
            frag_off: usize::from(flags & 0x1fff) * 8,
            ttl: get8(pkt, 8)?,
            proto: get8(pkt, 9)?,
            src: Ipv4Addr::from(get32(pkt, 12)?),
            dst: Ipv4Addr::from(get32(pkt, 16)?),
        })
    }

    /// MF set or offset non-zero.
    fn is_fragment(&self) -> bool {
        self.mf || self.frag_off != 0
    }

    /// Bytes of transport header and data the datagram declares.
    fn l4_len(&self) -> usize {
        self.total - self.ihl
    }
}

/// ICMPv4 types that are error messages (RFC 1812 §4.3.2.7 never answers them).
fn is_icmpv4_error_type(t: u8) -> bool {
    matches!(
        t,
        icmp::V4_DST_UNREACHABLE
            | icmp::V4_SOURCE_QUENCH
            | icmp::V4_REDIRECT
            | icmp::V4_TIME_EXCEEDED
            | icmp::V4_PARAM_PROBLEM
    )
}

/// True if `pkt` (with header `h`) carries an ICMPv4 error message.
fn carries_icmp_error(pkt: &[u8], h: &V4Hdr) -> bool {
    h.proto == proto::ICMP
        && h.frag_off == 0
        && pkt.get(h.ihl).is_some_and(|&t| is_icmpv4_error_type(t))
}

/// True if the IPv4 header checksum verifies.
fn ipv4_checksum_ok(hdr: &[u8]) -> bool {
    csum::fold(csum::sum(hdr)) == 0xffff
}

/// RFC 7915 §4.1: is there an unexpired (pointer <= length) loose or
/// strict source route option (RFC 791 types 131 / 137)?
fn unexpired_source_route(opts: &[u8]) -> Result<bool, DropReason> {
    let mut i = 0;
    while let Some(&kind) = opts.get(i) {
        match kind {
            0 => break,  // End of Option List
            1 => i += 1, // No Operation
            _ => {
                let len = usize::from(get8(opts, i + 1).map_err(|_| DropReason::BadHeader)?);
                if len < 2 || i + len > opts.len() {
                    // Malformed options: a router answers these with a
                    // Parameter Problem; we simply refuse the packet.
                    return Err(DropReason::BadHeader);
                }
                if kind == 0x83 || kind == 0x89 {
                    let ptr = usize::from(get8(opts, i + 2).map_err(|_| DropReason::BadHeader)?);
                    if ptr <= len {
                        return Ok(true);
                    }
                }
                i += len;
            }
        }
    }
    Ok(false)
}

// ---------------------------------------------------------------------------
// IPv6 header construction.

/// The 40-byte IPv6 header (RFC 7915 §4.1); flow label 0.
fn ipv6_header(
    tc: u8,
    payload_len: usize,
    next: u8,
    hop: u8,
    src: &Ipv6Addr,
    dst: &Ipv6Addr,
) -> [u8; IPV6_HDR] {
    let mut h = [0u8; IPV6_HDR];
    h[0] = 0x60 | (tc >> 4);
    h[1] = tc << 4;
    h[4..6].copy_from_slice(&(payload_len as u16).to_be_bytes());
    h[6] = next;
    h[7] = hop;
    h[8..24].copy_from_slice(&src.octets());
    h[24..40].copy_from_slice(&dst.octets());
    h
}

/// The 8-byte Fragment header; `offset` in bytes (a multiple of 8).
fn frag_header(next: u8, offset: usize, more: bool, ident: u32) -> [u8; FRAG_HDR] {
    let mut f = [0u8; FRAG_HDR];
    f[0] = next;
    let fo = (((offset / 8) as u16) << 3) | u16::from(more);
    f[2..4].copy_from_slice(&fo.to_be_bytes());
    f[4..8].copy_from_slice(&ident.to_be_bytes());
    f
}

/// §4.1 Traffic Class: the TOS octet, or 0 if configured so.
fn traffic_class(tos: u8, cfg: &XlatConfig) -> u8 {
    if cfg.copy_traffic_class {
        tos
    } else {
        0
    }
}

/// §4.1 Next Header: ICMPv4 becomes ICMPv6, anything else is copied.
fn next_header(p: u8) -> u8 {
    if p == proto::ICMP {
        proto::ICMPV6
    } else {
        p
    }
}

/// Move the front of the packet so that `old` leading bytes become `new`
/// bytes (the bytes after them stay where they are).
fn resize_front(buf: &mut PacketBuf, old: usize, new: usize) -> Result<(), DropReason> {
    if new >= old {
        if !buf.prepend(new - old) {
            return Err(DropReason::NoHeadroom);
        }
    } else if !buf.adj(old - new) {
        return Err(DropReason::Truncated);
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Public API.

/// Translate the IPv4 packet in `buf` into IPv6 per RFC 7915 §4, using the
/// addresses and ports of `plan` (and `plan.inner` for ICMP errors).
pub fn translate_4to6(
    buf: &mut PacketBuf,
    plan: &Plan<Ipv6Addr>,
    cfg: &XlatConfig,
    _st: &mut XlatState,
) -> Verdict {
    match translate(buf, plan, cfg) {
        Ok(v) => v,
        Err(r) => Verdict::Drop(r),
    }
}

fn translate(
    buf: &mut PacketBuf,
    plan: &Plan<Ipv6Addr>,
    cfg: &XlatConfig,
) -> Result<Verdict, DropReason> {
    let h = V4Hdr::parse(buf.data())?;
    let hdr = buf.data().get(..h.ihl).ok_or(DropReason::Truncated)?;
    if !ipv4_checksum_ok(hdr) {
        return Err(DropReason::BadIpv4Checksum);
    }
    // Anything after Total Length is link-layer padding.
    buf.truncate(h.total);
    let is_error = carries_icmp_error(buf.data(), &h);

    // §4.1 Hop Limit: the translator is a router and decrements the TTL;
    // reaching zero means ICMPv4 Time Exceeded, never in answer to an error.
    if h.ttl <= 1 {
        if is_error {
            return Err(DropReason::TtlExpiredOnError);
        }
        return Ok(icmpv4_error(buf, icmp::V4_TIME_EXCEEDED, 0, 0, cfg));
    }

    // §4.1: options are ignored, except an unexpired source route: the
    // packet is discarded and Destination Unreachable / Source Route Failed
    // (3/5) SHOULD be returned. We do return it; icmpv4_error drops
    // (DropReason::SourceRoute) where no error may be sent.
    let opts = buf
        .data()
        .get(IPV4_HDR..h.ihl)
        .ok_or(DropReason::Truncated)?;
    if unexpired_source_route(opts)? {
        return Ok(icmpv4_error(buf, icmp::V4_DST_UNREACHABLE, 5, 0, cfg));
    }

    // A fragment reaching past the 65535-byte datagram limit (RFC 791) has
    // no valid translation.
    if h.frag_off + h.l4_len() > 0xffff {
        return Err(DropReason::Fragment);
    }

    match h.proto {
        proto::ICMP => translate_icmp(buf, &h, plan, cfg),
        // §4.2 (IGMP messages): single-hop, SHOULD be silently dropped.
        proto::IGMP => Err(DropReason::UnknownProtocol),
        _ => translate_transport(buf, &h, &plan.outer, cfg),
    }
}

/// How the header is laid out after §4.1 size decisions.
struct Shape {
    /// Add a Fragment header.
    frag_hdr: bool,
    /// What to return once the header is written.
    verdict: Verdict,
}

/// §4 / §4.1 fragmentation and MTU decisions for a non-error packet.
/// `Err(verdict)` is an ICMPv4 error already written into `buf`.
fn shape(buf: &mut PacketBuf, h: &V4Hdr, cfg: &XlatConfig) -> Result<Shape, Verdict> {
    // §4.1: a Fragment header when the IPv4 packet is a fragment ...
    let frag_hdr = h.is_fragment();
    let size = IPV6_HDR + if frag_hdr { FRAG_HDR } else { 0 } + h.l4_len();
    if h.df {
        // Path MTU discovery runs end to end: too big for the IPv6 link is
        // Fragmentation Needed with the MTU the IPv4 sender must use.
        if size > usize::from(cfg.ipv6_mtu) {
            // The IPv4 size that translates to exactly the IPv6 MTU.
            let mtu4 = (usize::from(cfg.ipv6_mtu) + h.total)
                .saturating_sub(size)
                .min(0xffff);
            let mtu4 = mtu4 as u32;
            return Err(icmpv4_error(buf, icmp::V4_DST_UNREACHABLE, 4, mtu4, cfg));
        }
        return Ok(Shape {
            frag_hdr,
            verdict: Verdict::Forward,
        });
    }
    // ... or DF=0 and it would not fit the lowest IPv6 MTU: the translator
    // fragments it (the caller, with fragment_ipv6). Never above our own
    // link's MTU either.
    let mtu = cfg.lowest_ipv6_mtu.min(cfg.ipv6_mtu);
    if size > usize::from(mtu) {
        return Ok(Shape {
            frag_hdr: true,
            verdict: Verdict::Fragment { mtu },
        });
    }
    Ok(Shape {
        frag_hdr,
        verdict: Verdict::Forward,
    })
}

/// Replace the IPv4 header at the front of `buf` by the IPv6 header (+
/// Fragment header), §4.1. The payload stays where it is.
fn write_outer_header(
    buf: &mut PacketBuf,
    h: &V4Hdr,
    outer: &Rewrite<Ipv6Addr>,
    cfg: &XlatConfig,
    frag_hdr: bool,
) -> Result<(), DropReason> {
    let new_len = IPV6_HDR + if frag_hdr { FRAG_HDR } else { 0 };
    resize_front(buf, h.ihl, new_len)?;
    let nh = next_header(h.proto);
    let payload_len = new_len - IPV6_HDR + h.l4_len();
    let first = if frag_hdr { proto::IPV6_FRAG } else { nh };
    let hop = h.ttl - 1;
    let tc = traffic_class(h.tos, cfg);
    let data = buf.data_mut();
    put(
        data,
        0,
        &ipv6_header(tc, payload_len, first, hop, &outer.src, &outer.dst),
    )?;
    if frag_hdr {
        // §4.1 Fragment header: offset and M copied, identification = the
        // IPv4 Identification in the low-order 16 bits.
        put(
            data,
            IPV6_HDR,
            &frag_header(nh, h.frag_off, h.mf, u32::from(h.ident)),
        )?;
    }
    Ok(())
}

/// §4.5: TCP, UDP and other transports behind a translated header.
fn translate_transport(
    buf: &mut PacketBuf,
    h: &V4Hdr,
    outer: &Rewrite<Ipv6Addr>,
    cfg: &XlatConfig,
) -> Result<Verdict, DropReason> {
    let first = h.frag_off == 0;
    let l4 = h.ihl;
    let udp_zero = if first && h.proto == proto::UDP {
        let seg = buf.data().get(l4..).ok_or(DropReason::Truncated)?;
        if seg.len() < 8 {
            return Err(DropReason::Truncated);
        }
        if get16(seg, 6)? == 0 {
            // §4.5: UDP checksum 0 is computed afresh if configured, which
            // needs the whole datagram: not possible for a fragment.
            if h.is_fragment() || !cfg.amend_udp_checksum_zero {
                return Err(DropReason::UdpChecksumZero);
            }
            let ulen = usize::from(get16(seg, 4)?);
            if ulen < 8 || ulen > seg.len() {
                return Err(DropReason::BadHeader);
            }
            true
        } else {
            false
        }
    } else {
        false
    };
    if first && h.proto == proto::TCP && h.l4_len() < 20 {
        return Err(DropReason::Truncated);
    }

    let sh = match shape(buf, h, cfg) {
        Ok(s) => s,
        Err(v) => return Ok(v),
    };

    if first && (h.proto == proto::TCP || h.proto == proto::UDP) {
        let data = buf.data_mut();
        let seg = data.get_mut(l4..).ok_or(DropReason::Truncated)?;
        let ck_at = if h.proto == proto::TCP { 16 } else { 6 };
        let old_ports = csum::sum(seg.get(..4).ok_or(DropReason::Truncated)?);
        put16(seg, 0, outer.src_port)?;
        put16(seg, 2, outer.dst_port)?;
        if udp_zero {
            // §4.5 option 2: calculate the IPv6 checksum.
            let ulen = usize::from(get16(seg, 4)?);
            let body = seg.get(..ulen).ok_or(DropReason::Truncated)?;
            let s =
                csum::pseudo_v6(&outer.src, &outer.dst, proto::UDP, ulen as u32) + csum::sum(body);
            let c = csum::finish(s);
            put16(seg, 6, if c == 0 { 0xffff } else { c })?;
        } else {
            // §4.5: the pseudo-header changes from IPv4 to IPv6 addresses
            // (protocol and length are the same numbers) and the ports change.
            let old = csum::addr_v4(h.src) + csum::addr_v4(h.dst) + old_ports;
            let new = csum::sum(&outer.src.octets())
                + csum::sum(&outer.dst.octets())
                + u32::from(outer.src_port)
                + u32::from(outer.dst_port);
            let c = csum::update(get16(seg, ck_at)?, old, new);
            // A UDP checksum of 0 means "none": send 0xffff (RFC 768).
            let c = if h.proto == proto::UDP && c == 0 {
                0xffff
            } else {
                c
            };
            put16(seg, ck_at, c)?;
        }
    }
    write_outer_header(buf, h, outer, cfg, sh.frag_hdr)?;
    Ok(sh.verdict)
}

/// §4.2: ICMPv4 → ICMPv6.
fn translate_icmp(
    buf: &mut PacketBuf,
    h: &V4Hdr,
    plan: &Plan<Ipv6Addr>,
    cfg: &XlatConfig,
) -> Result<Verdict, DropReason> {
    if h.is_fragment() {
        // Deviation: the ICMPv6 checksum covers a pseudo-header holding the
        // whole message's length, unknown in a single fragment; without
        // reassembly a fragmented ICMPv4 message cannot be translated.
        return Err(DropReason::Fragment);
    }
    let msg = buf.data().get(h.ihl..).ok_or(DropReason::Truncated)?;
    if msg.len() < ICMP_HDR {
        return Err(DropReason::Truncated);
    }
    match get8(msg, 0)? {
        icmp::V4_ECHO_REQUEST | icmp::V4_ECHO_REPLY => translate_echo(buf, h, &plan.outer, cfg),
        icmp::V4_DST_UNREACHABLE | icmp::V4_TIME_EXCEEDED | icmp::V4_PARAM_PROBLEM => {
            translate_icmp_error(buf, h, plan, cfg)
        }
        // §4.2: Information Request/Reply, Timestamp, Address Mask, Router
        // Advertisement/Solicitation, Source Quench, Redirect, Alternative
        // Host Address and unknown types: silently drop.
        _ => Err(DropReason::IcmpUntranslatable),
    }
}

/// §4.2 Echo / Echo Reply: types 8/0 → 128/129, identifier from the plan,
/// checksum updated for the type, identifier and the ICMPv6 pseudo-header.
fn translate_echo(
    buf: &mut PacketBuf,
    h: &V4Hdr,
    outer: &Rewrite<Ipv6Addr>,
    cfg: &XlatConfig,
) -> Result<Verdict, DropReason> {
    let sh = match shape(buf, h, cfg) {
        Ok(s) => s,
        Err(v) => return Ok(v),
    };
    let len = h.l4_len();
    let msg = buf
        .data_mut()
        .get_mut(h.ihl..)
        .ok_or(DropReason::Truncated)?;
    let (t4, code) = (get8(msg, 0)?, get8(msg, 1)?);
    let t6 = if t4 == icmp::V4_ECHO_REQUEST {
        icmp::V6_ECHO_REQUEST
    } else {
        icmp::V6_ECHO_REPLY
    };
    let old = u32::from(u16::from_be_bytes([t4, code])) + u32::from(get16(msg, 4)?);
    let new = u32::from(u16::from_be_bytes([t6, code]))
        + u32::from(outer.src_port)
        + csum::pseudo_v6(&outer.src, &outer.dst, proto::ICMPV6, len as u32);
    let c = csum::update(get16(msg, 2)?, old, new);
    put(msg, 0, &[t6])?;
    put16(msg, 2, c)?;
    put16(msg, 4, outer.src_port)?;
    write_outer_header(buf, h, outer, cfg, sh.frag_hdr)?;
    Ok(sh.verdict)
}

/// RFC 1191 §7 plateau table.
const PLATEAUS: [u16; 11] = [
    65535, 32000, 17914, 8166, 4352, 2002, 1492, 1006, 508, 296, 68,
];

/// §4.2 Packet Too Big MTU: maximum(1280, minimum(MTU + 20,
/// MTU_of_IPv6_nexthop, MTU_of_IPv4_nexthop + 20)); an MTU of 0 (a router
/// without RFC 1191) is replaced by the greatest plateau below the quoted
/// Total Length.
fn packet_too_big_mtu(next_hop_mtu: u16, quoted_total: u16, cfg: &XlatConfig) -> u32 {
    let mtu4 = if next_hop_mtu == 0 {
        // "greatest plateau value that is less than the returned Total
        // Length field, but that is larger than or equal to 1280": a
        // plateau below 1280 ends as 1280 through the maximum() below.
        PLATEAUS
            .iter()
            .copied()
            .find(|&p| p < quoted_total)
            .unwrap_or(0)
    } else {
        next_hop_mtu
    };
    let m = (u32::from(mtu4) + 20)
        .min(u32::from(cfg.ipv6_mtu))
        .min(u32::from(cfg.ipv4_mtu) + 20);
    m.max(IPV6_MIN_MTU as u32)
}

/// §4.2 Figure 3: IPv4 pointer → IPv6 pointer (`None`: n/a, drop).
fn param_problem_pointer(p4: u8) -> Option<u32> {
    match p4 {
        0 => Some(0),        // Version/IHL -> Version/Traffic Class
        1 => Some(1),        // Type Of Service -> Traffic Class/Flow Label
        2 | 3 => Some(4),    // Total Length -> Payload Length
        8 => Some(7),        // Time to Live -> Hop Limit
        9 => Some(6),        // Protocol -> Next Header
        12..=15 => Some(8),  // Source Address
        16..=19 => Some(24), // Destination Address
        _ => None,           // Identification, Flags/Offset, Checksum, options
    }
}

/// §4.2 error type/code mapping: (ICMPv6 type, code, bytes 4..8).
fn map_icmp_error(msg: &[u8], cfg: &XlatConfig) -> Result<(u8, u8, u32), DropReason> {
    let (t, code) = (get8(msg, 0)?, get8(msg, 1)?);
    let untranslatable = Err(DropReason::IcmpUntranslatable);
    match t {
        icmp::V4_DST_UNREACHABLE => match code {
            // Net/Host Unreachable, Source Route Failed, 6, 7, 8, 11, 12:
            // No route to destination.
            0 | 1 | 5 | 6 | 7 | 8 | 11 | 12 => Ok((icmp::V6_DST_UNREACHABLE, 0, 0)),
            // Protocol Unreachable: Parameter Problem 4/1 at Next Header.
            2 => Ok((icmp::V6_PARAM_PROBLEM, 1, 6)),
            // Port Unreachable.
            3 => Ok((icmp::V6_DST_UNREACHABLE, 4, 0)),
            // Fragmentation Needed: Packet Too Big.
            4 => {
                let quoted_total = get16(msg, ICMP_HDR + 2)?;
                let mtu = packet_too_big_mtu(get16(msg, 6)?, quoted_total, cfg);
                Ok((icmp::V6_PACKET_TOO_BIG, 0, mtu))
            }
            // Administratively prohibited (9, 10, 13) and Precedence cutoff
            // (15): Communication administratively prohibited.
            9 | 10 | 13 | 15 => Ok((icmp::V6_DST_UNREACHABLE, 1, 0)),
            // 14 Host Precedence Violation and unknown codes: drop.
            _ => untranslatable,
        },
        // Time Exceeded: type 3, code unchanged.
        icmp::V4_TIME_EXCEEDED => Ok((icmp::V6_TIME_EXCEEDED, code, 0)),
        icmp::V4_PARAM_PROBLEM => match code {
            // Pointer indicates the error / Bad length: Erroneous header
            // field, pointer per Figure 3.
            0 | 2 => match param_problem_pointer(get8(msg, 4)?) {
                Some(p) => Ok((icmp::V6_PARAM_PROBLEM, 0, p)),
                None => untranslatable,
            },
            // Missing a required option, unknown codes: drop.
            _ => untranslatable,
        },
        _ => untranslatable,
    }
}

/// §4.2 + §4.3: an ICMPv4 error and the packet it quotes.
///
/// Layout before: `[IPv4 ihl][ICMPv4 8][inner IPv4 ihl'][inner L4 ...]`,
/// after: `[IPv6 40][ICMPv6 8][inner IPv6 40 (+8)][inner L4 ...]`: the
/// inner transport bytes stay in place and everything in front of them is
/// rewritten into the headroom, so nothing is copied but headers.
fn translate_icmp_error(
    buf: &mut PacketBuf,
    h: &V4Hdr,
    plan: &Plan<Ipv6Addr>,
    cfg: &XlatConfig,
) -> Result<Verdict, DropReason> {
    let inner = plan.inner.as_ref().ok_or(DropReason::IcmpInnerBad)?;
    let msg = buf.data().get(h.ihl..).ok_or(DropReason::Truncated)?;
    // The error is rebuilt with a fresh checksum: make sure we do not
    // launder a corrupt one.
    if csum::fold(csum::sum(msg)) != 0xffff {
        return Err(DropReason::BadIcmpChecksum);
    }
    let (t6, c6, rest6) = map_icmp_error(msg, cfg)?;
    let quoted = msg.get(ICMP_HDR..).ok_or(DropReason::Truncated)?;
    let ih = V4Hdr::parse_quoted(quoted).map_err(|_| DropReason::IcmpInnerBad)?;
    let inner_l4 = quoted.get(ih.ihl..).ok_or(DropReason::IcmpInnerBad)?;
    let inner_first = ih.frag_off == 0;
    // RFC 792: the quote holds the header and at least 8 data bytes.
    if inner_first && inner_l4.len() < 8 {
        return Err(DropReason::IcmpInnerBad);
    }
    if inner_first && ih.proto == proto::ICMP {
        let it = get8(inner_l4, 0)?;
        // §4.3: stop at the first embedded header: an error inside an error
        // (or any non-echo message) is not translated.
        if it != icmp::V4_ECHO_REQUEST && it != icmp::V4_ECHO_REPLY {
            return Err(DropReason::IcmpInnerBad);
        }
    }

    let inner_frag = ih.is_fragment();
    let inner_hdr6 = IPV6_HDR + if inner_frag { FRAG_HDR } else { 0 };
    let old_front = h.ihl + ICMP_HDR + ih.ihl;
    let new_front = IPV6_HDR + ICMP_HDR + inner_hdr6;
    // RFC 4443 §2.4 (c): as much of the invoking packet as fits in 1280.
    let final_len = (new_front + inner_l4.len()).min(IPV6_MIN_MTU);
    if final_len > usize::from(cfg.ipv6_mtu) {
        return Err(DropReason::TooBig);
    }

    // §4.3: the inner transport header gets the inner plan's ports and its
    // checksum the IPv4 → IPv6 pseudo-header change.
    let l4_at = h.ihl + ICMP_HDR + ih.ihl;
    if inner_first {
        let seg = buf
            .data_mut()
            .get_mut(l4_at..)
            .ok_or(DropReason::Truncated)?;
        rewrite_inner_l4(seg, &ih, inner)?;
    }

    resize_front(buf, old_front, new_front)?;
    let data = buf.data_mut();
    let tc = traffic_class(h.tos, cfg);
    put(
        data,
        0,
        &ipv6_header(
            tc,
            0,
            proto::ICMPV6,
            h.ttl - 1,
            &plan.outer.src,
            &plan.outer.dst,
        ),
    )?;
    // ICMPv6 header; RFC 4884 extensions are carried as opaque quoted data
    // (length attribute 0), a simplification of §4.2 "ICMP Error Payload".
    put(data, IPV6_HDR, &[t6, c6, 0, 0])?;
    put(data, IPV6_HDR + 4, &rest6.to_be_bytes())?;
    // §4.3: the quoted header is translated like any header, except that
    // its TTL is not decremented.
    let inh = next_header(ih.proto);
    let inner_payload = inner_hdr6 - IPV6_HDR + ih.l4_len();
    let inner_first_nh = if inner_frag { proto::IPV6_FRAG } else { inh };
    let itc = traffic_class(ih.tos, cfg);
    let ihdr = ipv6_header(
        itc,
        inner_payload,
        inner_first_nh,
        ih.ttl,
        &inner.src,
        &inner.dst,
    );
    put(data, IPV6_HDR + ICMP_HDR, &ihdr)?;
    if inner_frag {
        let fh = frag_header(inh, ih.frag_off, ih.mf, u32::from(ih.ident));
        put(data, IPV6_HDR + ICMP_HDR + IPV6_HDR, &fh)?;
    }
    buf.truncate(final_len);
    let data = buf.data_mut();
    let icmp_len = final_len - IPV6_HDR;
    put16(data, 4, icmp_len as u16)?;
    let msg6 = data.get(IPV6_HDR..).ok_or(DropReason::Truncated)?;
    let s = csum::pseudo_v6(
        &plan.outer.src,
        &plan.outer.dst,
        proto::ICMPV6,
        icmp_len as u32,
    ) + csum::sum(msg6);
    put16(data, IPV6_HDR + 2, csum::finish(s))?;
    Ok(Verdict::Forward)
}

/// §4.3 + §4.5 on the (possibly cut short) transport header of a quoted
/// packet: ports from `inner`, checksums adjusted where they are present.
fn rewrite_inner_l4(
    seg: &mut [u8],
    ih: &V4Hdr,
    inner: &Rewrite<Ipv6Addr>,
) -> Result<(), DropReason> {
    let addr_old = csum::addr_v4(ih.src) + csum::addr_v4(ih.dst);
    let addr_new = csum::sum(&inner.src.octets()) + csum::sum(&inner.dst.octets());
    match ih.proto {
        proto::TCP | proto::UDP => {
            let old = addr_old + csum::sum(seg.get(..4).ok_or(DropReason::IcmpInnerBad)?);
            let new = addr_new + u32::from(inner.src_port) + u32::from(inner.dst_port);
            put16(seg, 0, inner.src_port)?;
            put16(seg, 2, inner.dst_port)?;
            let ck_at = if ih.proto == proto::TCP { 16 } else { 6 };
            // The TCP checksum may lie beyond the quoted bytes; an inner UDP
            // checksum of 0 stays 0 (the datagram is not here to compute it).
            if let Ok(ck) = get16(seg, ck_at) {
                if !(ih.proto == proto::UDP && ck == 0) {
                    let c = csum::update(ck, old, new);
                    let c = if ih.proto == proto::UDP && c == 0 {
                        0xffff
                    } else {
                        c
                    };
                    put16(seg, ck_at, c)?;
                }
            }
        }
        proto::ICMP => {
            // Quoted echo: 8/0 → 128/129, identifier from the plan, checksum
            // gains the ICMPv6 pseudo-header of the quoted packet.
            let (t4, code) = (get8(seg, 0)?, get8(seg, 1)?);
            let t6 = if t4 == icmp::V4_ECHO_REQUEST {
                icmp::V6_ECHO_REQUEST
            } else {
                icmp::V6_ECHO_REPLY
            };
            let old = u32::from(u16::from_be_bytes([t4, code])) + u32::from(get16(seg, 4)?);
            let new = u32::from(u16::from_be_bytes([t6, code]))
                + u32::from(inner.src_port)
                + csum::pseudo_v6(&inner.src, &inner.dst, proto::ICMPV6, ih.l4_len() as u32);
            let c = csum::update(get16(seg, 2)?, old, new);
            put(seg, 0, &[t6])?;
            put16(seg, 2, c)?;
            put16(seg, 4, inner.src_port)?;
        }
        _ => {}
    }
    Ok(())
}

/// RFC 7915 §4.4 / RFC 1812 §4.3.2.7: may this source be sent an error?
fn may_answer(h: &V4Hdr) -> bool {
    let s = h.src.octets();
    let unicast_src = !(s[0] == 0 // "this network", zero address
        || s[0] == 127 // loopback
        || s[0] >= 224); // multicast, class E, limited broadcast
    let d = h.dst;
    unicast_src && !d.is_multicast() && !d.is_broadcast()
}

/// Replace the packet in `buf` by an ICMPv4 error (`icmp_type`/`code`, bytes
/// 4..8 = `rest_of_header`) from `cfg.own_ipv4` to the packet's source,
/// quoting as much of it as keeps the error within 576 bytes (RFC 1812
/// §4.3.2.3). Errors, non-first fragments and non-unicast sources are never
/// answered (RFC 1812 §4.3.2.7): those are dropped.
pub fn icmpv4_error(
    buf: &mut PacketBuf,
    icmp_type: u8,
    code: u8,
    rest_of_header: u32,
    cfg: &XlatConfig,
) -> Verdict {
    match build_icmpv4_error(buf, icmp_type, code, rest_of_header, cfg) {
        Ok(v) => v,
        Err(r) => Verdict::Drop(r),
    }
}

fn build_icmpv4_error(
    buf: &mut PacketBuf,
    icmp_type: u8,
    code: u8,
    rest_of_header: u32,
    cfg: &XlatConfig,
) -> Result<Verdict, DropReason> {
    let (reason, suppressed) = match (icmp_type, code) {
        (icmp::V4_DST_UNREACHABLE, 4) => (ReplyReason::PacketTooBig, DropReason::TooBig),
        (icmp::V4_DST_UNREACHABLE, 5) => {
            (ReplyReason::DestinationUnreachable, DropReason::SourceRoute)
        }
        (icmp::V4_DST_UNREACHABLE, _) => (
            ReplyReason::DestinationUnreachable,
            DropReason::IcmpErrorSuppressed,
        ),
        (icmp::V4_TIME_EXCEEDED, _) => (ReplyReason::TimeExceeded, DropReason::TtlExpiredOnError),
        (icmp::V4_PARAM_PROBLEM, _) => (
            ReplyReason::ParameterProblem,
            DropReason::IcmpErrorSuppressed,
        ),
        _ => return Err(DropReason::IcmpUntranslatable),
    };
    let h = V4Hdr::parse(buf.data())?;
    if h.frag_off != 0 || carries_icmp_error(buf.data(), &h) || !may_answer(&h) {
        return Err(suppressed);
    }
    const FRONT: usize = IPV4_HDR + ICMP_HDR;
    let quote = h.total.min(ICMPV4_ERROR_MAX - FRONT);
    buf.truncate(quote);
    if !buf.prepend(FRONT) {
        // Not enough headroom: slide the quote back instead.
        let start = buf.start();
        let raw = buf.raw_mut();
        if start + FRONT + quote > raw.len() {
            return Err(DropReason::NoHeadroom);
        }
        raw.copy_within(start..start + quote, start + FRONT);
        if !buf.set_bounds(start, FRONT + quote) {
            return Err(DropReason::NoHeadroom);
        }
    }
    let total = FRONT + quote;
    let mut ip = [0u8; IPV4_HDR];
    ip[0] = 0x45;
    ip[2..4].copy_from_slice(&(total as u16).to_be_bytes());
    // DF=1, MF=0, offset 0: an atomic datagram, whose Identification may be
    // anything (RFC 6864 §4.1); we use 0.
    ip[6] = 0x40;
    ip[8] = 64;
    ip[9] = proto::ICMP;
    ip[12..16].copy_from_slice(&cfg.own_ipv4.octets());
    ip[16..20].copy_from_slice(&h.src.octets());
    let c = csum::checksum(&ip);
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    let data = buf.data_mut();
    put(data, 0, &ip)?;
    put(data, IPV4_HDR, &[icmp_type, code, 0, 0])?;
    put(data, IPV4_HDR + 4, &rest_of_header.to_be_bytes())?;
    let c = csum::checksum(data.get(IPV4_HDR..).ok_or(DropReason::Truncated)?);
    put16(data, IPV4_HDR + 2, c)?;
    Ok(Verdict::Reply(reason))
}

/// Classify an IPv4 packet for RFC 6146 §3.4 without changing it: its
/// tuple, the tuple an ICMP error quotes, TCP flags, non-first fragment.
/// The header checksum is not verified here (translation does that).
pub fn flow4(pkt: &[u8]) -> Result<Flow<Ipv4Addr>, DropReason> {
    let h = V4Hdr::parse(pkt)?;
    let l4 = pkt.get(h.ihl..h.total).ok_or(DropReason::Truncated)?;
    let kind = match h.proto {
        proto::TCP => L4::Tcp,
        proto::UDP => L4::Udp,
        proto::ICMP => L4::Icmp,
        _ => return Err(DropReason::UnknownProtocol),
    };
    let mut flow = Flow {
        tuple: Tuple {
            l4: kind,
            src: h.src,
            dst: h.dst,
            src_port: 0,
            dst_port: 0,
        },
        inner: None,
        tcp_flags: 0,
        non_first_fragment: h.frag_off != 0,
    };
    if flow.non_first_fragment {
        return Ok(flow);
    }
    match kind {
        L4::Tcp => {
            if l4.len() < 20 {
                return Err(DropReason::Truncated);
            }
            flow.tuple.src_port = get16(l4, 0)?;
            flow.tuple.dst_port = get16(l4, 2)?;
            flow.tcp_flags = get8(l4, 13)?;
        }
        L4::Udp => {
            if l4.len() < 8 {
                return Err(DropReason::Truncated);
            }
            flow.tuple.src_port = get16(l4, 0)?;
            flow.tuple.dst_port = get16(l4, 2)?;
        }
        L4::Icmp => {
            if l4.len() < ICMP_HDR {
                return Err(DropReason::Truncated);
            }
            match get8(l4, 0)? {
                icmp::V4_ECHO_REQUEST | icmp::V4_ECHO_REPLY => {
                    let id = get16(l4, 4)?;
                    flow.tuple.src_port = id;
                    flow.tuple.dst_port = id;
                }
                icmp::V4_DST_UNREACHABLE | icmp::V4_TIME_EXCEEDED | icmp::V4_PARAM_PROBLEM => {
                    flow.inner = Some(quoted_tuple(l4.get(ICMP_HDR..).unwrap_or(&[]))?);
                }
                _ => return Err(DropReason::IcmpUntranslatable),
            }
        }
    }
    Ok(flow)
}

/// The tuple of the packet an ICMPv4 error quotes.
fn quoted_tuple(q: &[u8]) -> Result<Tuple<Ipv4Addr>, DropReason> {
    let bad = DropReason::IcmpInnerBad;
    let ih = V4Hdr::parse_quoted(q).map_err(|_| bad)?;
    if ih.frag_off != 0 {
        return Err(bad);
    }
    let l4 = q.get(ih.ihl..).ok_or(bad)?;
    let (kind, sp, dp) = match ih.proto {
        proto::TCP => (L4::Tcp, get16(l4, 0), get16(l4, 2)),
        proto::UDP => (L4::Udp, get16(l4, 0), get16(l4, 2)),
        proto::ICMP => match get8(l4, 0).map_err(|_| bad)? {
            icmp::V4_ECHO_REQUEST | icmp::V4_ECHO_REPLY => {
                let id = get16(l4, 4);
                (L4::Icmp, id, id)
            }
            _ => return Err(bad),
        },
        _ => return Err(bad),
    };
    Ok(Tuple {
        l4: kind,
        src: ih.src,
        dst: ih.dst,
        src_port: sp.map_err(|_| bad)?,
        dst_port: dp.map_err(|_| bad)?,
    })
}

/// Split the IPv6 packet `pkt`, which carries a Fragment header right after
/// its fixed header (as `translate_4to6` builds it for
/// `Verdict::Fragment`), into fragments of at most `mtu` bytes, handing each
/// to `out`. Offsets are multiples of 8, M is set on all but the last (or
/// kept from the original), the identification is kept. Stops at the first
/// `false` from `out`; returns how many fragments `out` accepted.
pub fn fragment_ipv6(
    pkt: &[u8],
    mtu: u16,
    out: &mut dyn FnMut(&[u8]) -> bool,
) -> Result<usize, DropReason> {
    if pkt.len() < IPV6_HDR + FRAG_HDR {
        return Err(DropReason::Truncated);
    }
    if get8(pkt, 0)? >> 4 != 6 {
        return Err(DropReason::BadHeader);
    }
    let total = IPV6_HDR + usize::from(get16(pkt, 4)?);
    if total > pkt.len() {
        return Err(DropReason::Truncated);
    }
    if total < IPV6_HDR + FRAG_HDR || get8(pkt, 6)? != proto::IPV6_FRAG {
        return Err(DropReason::Fragment);
    }
    let pkt = pkt.get(..total).ok_or(DropReason::Truncated)?;
    let mtu = usize::from(mtu).min(FRAG_BUF);
    if pkt.len() <= mtu {
        return Ok(usize::from(out(pkt)));
    }
    let front = IPV6_HDR + FRAG_HDR;
    let chunk = (mtu.saturating_sub(front)) & !7;
    if chunk == 0 {
        return Err(DropReason::TooBig);
    }
    let fo = get16(pkt, IPV6_HDR + 2)?;
    let base = usize::from(fo & !7);
    let more = fo & 1 != 0;
    let body = pkt.get(front..).ok_or(DropReason::Truncated)?;
    // The last piece must still have an offset the 13-bit field can hold;
    // check before handing out anything.
    let pieces = body.len().div_ceil(chunk);
    if base + (pieces.max(1) - 1) * chunk > 0xfff8 {
        return Err(DropReason::TooBig);
    }
    let mut frag = [0u8; FRAG_BUF];
    let head = pkt.get(..front).ok_or(DropReason::Truncated)?;
    frag.get_mut(..front)
        .ok_or(DropReason::Truncated)?
        .copy_from_slice(head);
    let mut n = 0;
    for (i, piece) in body.chunks(chunk).enumerate() {
        let last = (i + 1) * chunk >= body.len();
        let off = base + i * chunk;
        let fo = (off as u16) | u16::from(!last || more);
        put16(&mut frag, 4, (FRAG_HDR + piece.len()) as u16)?;
        put16(&mut frag, IPV6_HDR + 2, fo)?;
        put(&mut frag, front, piece)?;
        let len = front + piece.len();
        if !out(frag.get(..len).ok_or(DropReason::Truncated)?) {
            break;
        }
        n += 1;
    }
    Ok(n)
}
