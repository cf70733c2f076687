//! Tests for RFC 7915 §5 (IPv6 → IPv4), named after its sections and as a
//! matrix (`6to4-...` in the brief becomes `x6to4_...`: Rust names cannot
//! start with a digit). Inputs are built, and outputs checked, with
//! etherparse: an independent implementation, so no test only agrees with
//! our own parser. Extension and Fragment headers are spliced in by hand,
//! field by field.

use std::net::{Ipv4Addr, Ipv6Addr};

use etherparse::{
    Icmpv4Slice, Icmpv6Slice, IpNumber, Ipv4Header, Ipv4HeaderSlice, Ipv6HeaderSlice,
    PacketBuilder, TcpHeader, TcpOptionElement, UdpHeader,
};
use proptest::prelude::*;

use super::{flow6, icmpv6_error, simple6, translate_6to4};
use crate::xlat::{
    DropReason, Flow, PacketBuf, Plan, ReplyReason, Rewrite, Tuple, Verdict, XlatConfig, XlatState,
    L4,
};

const HEADROOM: usize = 128;
/// The IPv6 host behind the translator.
const HOST6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
/// 198.51.100.7 in 64:ff9b::/96.
const SERVER6: Ipv6Addr = Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, 0xc633, 0x6407);
const POOL4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 33);
const SERVER4: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 7);
const HOST_PORT: u16 = 5000;
const MAPPED_PORT: u16 = 40000;
const SERVER_PORT: u16 = 53;
/// The identification counter every test starts from.
const FIRST_ID: u16 = 0x1234;

/// Host → server, source port mapped (stateful NAT64).
fn plan() -> Plan<Ipv4Addr> {
    Plan {
        outer: Rewrite {
            src: POOL4,
            dst: SERVER4,
            src_port: MAPPED_PORT,
            dst_port: SERVER_PORT,
        },
        inner: None,
    }
}

/// An error from the host about a packet server → host.
fn error_plan() -> Plan<Ipv4Addr> {
    Plan {
        outer: Rewrite {
            src: POOL4,
            dst: SERVER4,
            src_port: 0,
            dst_port: 0,
        },
        inner: Some(Rewrite {
            src: SERVER4,
            dst: POOL4,
            src_port: SERVER_PORT,
            dst_port: MAPPED_PORT,
        }),
    }
}

struct Out {
    verdict: Verdict,
    bytes: Vec<u8>,
    next_id: u16,
}

fn run_with(pkt: &[u8], plan: &Plan<Ipv4Addr>, cfg: &XlatConfig) -> Out {
    let mut mem = vec![0u8; HEADROOM + pkt.len() + 16];
    mem[HEADROOM..HEADROOM + pkt.len()].copy_from_slice(pkt);
    let mut buf = PacketBuf::new(&mut mem, HEADROOM, pkt.len()).unwrap();
    let mut st = XlatState {
        next_ipv4_id: FIRST_ID,
    };
    let verdict = translate_6to4(&mut buf, plan, cfg, &mut st);
    Out {
        verdict,
        bytes: buf.data().to_vec(),
        next_id: st.next_ipv4_id,
    }
}

fn run(pkt: &[u8], plan: &Plan<Ipv4Addr>) -> Out {
    run_with(pkt, plan, &XlatConfig::default())
}

// ---- builders (etherparse) ----

fn udp6(src: Ipv6Addr, dst: Ipv6Addr, sport: u16, dport: u16, hop: u8, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    PacketBuilder::ipv6(src.octets(), dst.octets(), hop)
        .udp(sport, dport)
        .write(&mut v, payload)
        .unwrap();
    v
}

fn tcp6_syn(src: Ipv6Addr, dst: Ipv6Addr, sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    PacketBuilder::ipv6(src.octets(), dst.octets(), 64)
        .tcp(sport, dport, 0x0102_0304, 65000)
        .syn()
        .options(&[TcpOptionElement::MaximumSegmentSize(1440)])
        .unwrap()
        .write(&mut v, payload)
        .unwrap();
    v
}

fn echo6(
    src: Ipv6Addr,
    dst: Ipv6Addr,
    request: bool,
    id: u16,
    seq: u16,
    payload: &[u8],
) -> Vec<u8> {
    let mut v = Vec::new();
    let b = PacketBuilder::ipv6(src.octets(), dst.octets(), 64);
    if request {
        b.icmpv6_echo_request(id, seq)
            .write(&mut v, payload)
            .unwrap();
    } else {
        b.icmpv6_echo_reply(id, seq).write(&mut v, payload).unwrap();
    }
    v
}

/// Any ICMPv6 message, checksum computed by etherparse.
fn icmp6(
    src: Ipv6Addr,
    dst: Ipv6Addr,
    hop: u8,
    ty: u8,
    code: u8,
    rest: [u8; 4],
    payload: &[u8],
) -> Vec<u8> {
    let mut v = Vec::new();
    PacketBuilder::ipv6(src.octets(), dst.octets(), hop)
        .icmpv6_raw(ty, code, rest)
        .write(&mut v, payload)
        .unwrap();
    v
}

/// The UDP reply server → host that the host's ICMPv6 errors quote.
fn quoted_udp(payload: &[u8]) -> Vec<u8> {
    udp6(SERVER6, HOST6, SERVER_PORT, HOST_PORT, 60, payload)
}

/// An ICMPv6 error host → server quoting `inner`.
fn error6(ty: u8, code: u8, rest: [u8; 4], inner: &[u8]) -> Vec<u8> {
    icmp6(HOST6, SERVER6, 64, ty, code, rest, inner)
}

/// Sets the Traffic Class (bits 4..12 of the header; in no checksum).
fn set_traffic_class(pkt: &mut [u8], tc: u8) {
    pkt[0] = 0x60 | (tc >> 4);
    pkt[1] = (tc << 4) | (pkt[1] & 0x0F);
}

/// Splices extension headers `ext` (whose last next-header byte names the
/// original upper layer) after the fixed header; `first` is their type.
fn with_ext(pkt: &[u8], first: u8, ext: &[u8]) -> Vec<u8> {
    let mut v = pkt[..40].to_vec();
    v[6] = first;
    let plen = u16::from_be_bytes([v[4], v[5]]) + ext.len() as u16;
    v[4..6].copy_from_slice(&plen.to_be_bytes());
    v.extend_from_slice(ext);
    v.extend_from_slice(&pkt[40..]);
    v
}

/// A Fragment header: next header, offset in bytes, M flag, identification.
fn frag_header(next: u8, offset: u16, more: bool, ident: u32) -> [u8; 8] {
    let off_m = offset | u16::from(more);
    let [o0, o1] = off_m.to_be_bytes();
    let [i0, i1, i2, i3] = ident.to_be_bytes();
    [
        next, // Next Header
        0,    // Reserved
        o0, o1, // Fragment Offset (13 bits, 8-byte units) | Res | M
        i0, i1, i2, i3, // Identification
    ]
}

/// An IPv6 fragment of `upper` bytes `[start..end)` (header copied from `pkt`).
fn fragment(pkt: &[u8], start: usize, end: usize, more: bool, ident: u32) -> Vec<u8> {
    let upper = &pkt[40..];
    let mut v = pkt[..40].to_vec();
    let next = v[6];
    v[6] = 44;
    v[4..6].copy_from_slice(&((8 + end - start) as u16).to_be_bytes());
    v.extend_from_slice(&frag_header(next, start as u16, more, ident));
    v.extend_from_slice(&upper[start..end]);
    v
}

// ---- checks (etherparse) ----

/// Parses an IPv4 header, checking IHL 5, its checksum and that Total
/// Length is the packet length.
fn ipv4(out: &[u8]) -> Ipv4Header {
    let h = Ipv4HeaderSlice::from_slice(out)
        .expect("an IPv4 header")
        .to_header();
    assert_eq!(h.ihl(), 5, "no options");
    assert_eq!(
        h.header_checksum,
        h.calc_header_checksum(),
        "IPv4 header checksum"
    );
    assert_eq!(usize::from(h.total_len), out.len(), "total length");
    h
}

fn tos(h: &Ipv4Header) -> u8 {
    (h.dscp.value() << 2) | h.ecn.value()
}

/// UDP header of a complete datagram, checksum checked over the IPv4
/// pseudo-header.
fn udp4_ok(src: Ipv4Addr, dst: Ipv4Addr, l4: &[u8]) -> UdpHeader {
    let (h, payload) = UdpHeader::from_slice(l4).unwrap();
    let want = h
        .calc_checksum_ipv4_raw(src.octets(), dst.octets(), payload)
        .unwrap();
    assert_eq!(h.checksum, want, "UDP checksum");
    h
}

fn tcp4_ok(src: Ipv4Addr, dst: Ipv4Addr, l4: &[u8]) -> TcpHeader {
    let (h, payload) = TcpHeader::from_slice(l4).unwrap();
    let want = h
        .calc_checksum_ipv4_raw(src.octets(), dst.octets(), payload)
        .unwrap();
    assert_eq!(h.checksum, want, "TCP checksum");
    h
}

/// An ICMPv4 message with its checksum checked.
fn icmp4_ok(msg: &[u8]) -> Icmpv4Slice<'_> {
    let s = Icmpv4Slice::from_slice(msg).unwrap();
    let want = etherparse::Icmpv4Header::with_checksum(s.icmp_type(), s.payload()).checksum;
    assert_eq!(s.checksum(), want, "ICMPv4 checksum");
    s
}

/// Checks that `out` is the ICMPv6 error `ty`/`code`/`rest` from the
/// translator to `orig`'s source quoting `orig` (cut to 1280 bytes).
fn assert_icmp6_reply(out: &[u8], orig: &[u8], ty: u8, code: u8, rest: [u8; 4]) {
    let cfg = XlatConfig::default();
    let ip = Ipv6HeaderSlice::from_slice(out).unwrap();
    assert_eq!(ip.source_addr(), cfg.own_ipv6);
    assert_eq!(
        ip.destination_addr(),
        Ipv6HeaderSlice::from_slice(orig).unwrap().source_addr()
    );
    assert_eq!(ip.hop_limit(), 64);
    assert_eq!(ip.next_header(), IpNumber::IPV6_ICMP);
    assert_eq!(usize::from(ip.payload_length()), out.len() - 40);
    assert!(out.len() <= 1280);
    let icmp = Icmpv6Slice::from_slice(&out[40..]).unwrap();
    assert!(
        icmp.is_checksum_valid(ip.source(), ip.destination()),
        "ICMPv6 checksum"
    );
    assert_eq!(
        (icmp.type_u8(), icmp.code_u8(), icmp.bytes5to8()),
        (ty, code, rest)
    );
    let quote = &out[48..];
    assert_eq!(quote, &orig[..quote.len().min(orig.len())]);
    assert_eq!(quote.len(), orig.len().min(1280 - 48));
}

// ---- §5.1 ----

/// `6to4-udp`: every §5.1 field of a simple UDP datagram, ports rewritten.
#[test]
fn rfc7915_5_1_x6to4_udp() {
    let payload = b"a DNS query, more or less";
    let mut pkt = udp6(HOST6, SERVER6, HOST_PORT, SERVER_PORT, 64, payload);
    set_traffic_class(&mut pkt, 0xB8); // EF
    let out = run(&pkt, &plan());
    assert_eq!(out.verdict, Verdict::Forward);
    let h = ipv4(&out.bytes);
    assert_eq!(out.bytes.len(), pkt.len() - 20);
    assert_eq!(tos(&h), 0xB8, "TOS copied from Traffic Class");
    assert_eq!(h.identification, FIRST_ID, "ident from the counter");
    assert_eq!(out.next_id, FIRST_ID + 1);
    assert!(!h.dont_fragment, "DF=0 at <= 1260 bytes");
    assert!(!h.more_fragments);
    assert_eq!(h.fragment_offset.value(), 0);
    assert_eq!(h.time_to_live, 63, "hop limit - 1");
    assert_eq!(h.protocol, IpNumber::UDP);
    assert_eq!(h.source, POOL4.octets());
    assert_eq!(h.destination, SERVER4.octets());
    let udp = udp4_ok(POOL4, SERVER4, &out.bytes[20..]);
    assert_eq!(
        (udp.source_port, udp.destination_port),
        (MAPPED_PORT, SERVER_PORT)
    );
    assert_eq!(usize::from(udp.length), 8 + payload.len());
    assert_eq!(&out.bytes[28..], payload);
}

/// §5.1 TOS: "SHOULD provide the ability to ignore the IPv6 traffic class".
#[test]
fn rfc7915_5_1_traffic_class_not_copied() {
    let mut pkt = udp6(HOST6, SERVER6, HOST_PORT, SERVER_PORT, 64, b"x");
    set_traffic_class(&mut pkt, 0xB8);
    let cfg = XlatConfig {
        copy_traffic_class: false,
        ..XlatConfig::default()
    };
    let out = run_with(&pkt, &plan(), &cfg);
    assert_eq!(out.verdict, Verdict::Forward);
    assert_eq!(tos(&ipv4(&out.bytes)), 0);
}

/// §5.1 Flags: DF=0 up to 1260 translated bytes, DF=1 above; the ident is
/// generated either way.
#[test]
fn rfc7915_5_1_df_threshold_1260() {
    for (udp_payload, df) in [(1232usize, false), (1233, true), (1472, true)] {
        let pkt = udp6(
            HOST6,
            SERVER6,
            HOST_PORT,
            SERVER_PORT,
            64,
            &vec![0x5A; udp_payload],
        );
        let out = run(&pkt, &plan());
        assert_eq!(out.verdict, Verdict::Forward);
        let h = ipv4(&out.bytes);
        assert_eq!(usize::from(h.total_len), 28 + udp_payload);
        assert_eq!(h.dont_fragment, df, "total {}", h.total_len);
        assert_eq!(h.identification, FIRST_ID);
        udp4_ok(POOL4, SERVER4, &out.bytes[20..]);
    }
}

/// `6to4-tcp`: ports rewritten, checksum valid, the rest of the segment
/// (sequence number, flags, options, payload) untouched.
#[test]
fn rfc7915_5_1_x6to4_tcp() {
    let pkt = tcp6_syn(HOST6, SERVER6, HOST_PORT, SERVER_PORT, b"GET /");
    let out = run(&pkt, &plan());
    assert_eq!(out.verdict, Verdict::Forward);
    let h = ipv4(&out.bytes);
    assert_eq!(h.protocol, IpNumber::TCP);
    assert_eq!(h.time_to_live, 63);
    let tcp = tcp4_ok(POOL4, SERVER4, &out.bytes[20..]);
    assert_eq!(
        (tcp.source_port, tcp.destination_port),
        (MAPPED_PORT, SERVER_PORT)
    );
    assert_eq!(tcp.sequence_number, 0x0102_0304);
    assert!(tcp.syn && !tcp.ack);
    assert_eq!(tcp.window_size, 65000);
    // Everything after the ports and checksum is byte-identical.
    let (l4_in, l4_out) = (&pkt[40..], &out.bytes[20..]);
    assert_eq!(l4_in[4..16], l4_out[4..16]);
    assert_eq!(l4_in[18..], l4_out[18..]);
}

/// `6to4-hop-limit-1-time-exceeded`: hop limit 1 (and 0) is answered with
/// ICMPv6 Time Exceeded code 0 quoting the packet.
#[test]
fn rfc7915_5_1_x6to4_hop_limit_1_time_exceeded() {
    for hop in [1u8, 0] {
        let pkt = udp6(HOST6, SERVER6, HOST_PORT, SERVER_PORT, hop, b"ttl");
        let out = run(&pkt, &plan());
        assert_eq!(out.verdict, Verdict::Reply(ReplyReason::TimeExceeded));
        assert_icmp6_reply(&out.bytes, &pkt, 3, 0, [0; 4]);
        assert_eq!(out.next_id, FIRST_ID, "no ident consumed");
    }
    // Hop limit 2 still goes through, with TTL 1.
    let pkt = udp6(HOST6, SERVER6, HOST_PORT, SERVER_PORT, 2, b"ttl");
    let out = run(&pkt, &plan());
    assert_eq!(out.verdict, Verdict::Forward);
    assert_eq!(ipv4(&out.bytes).time_to_live, 1);
}

/// Never answer an ICMPv6 error with an error (RFC 4443 §2.4 (e)).
#[test]
fn rfc7915_5_1_hop_limit_1_on_error_dropped() {
    let mut pkt = error6(1, 4, [0; 4], &quoted_udp(b"x"));
    pkt[7] = 1; // Hop Limit (not in the ICMPv6 checksum)
    let out = run(&pkt, &error_plan());
    assert_eq!(out.verdict, Verdict::Drop(DropReason::TtlExpiredOnError));
}

/// `6to4-routing-segments-left-param-problem`: a Routing header with
/// Segments Left != 0 is answered with Parameter Problem code 0 pointing at
/// the Segments Left byte (40 + 3).
#[test]
fn rfc7915_5_1_x6to4_routing_segments_left_param_problem() {
    let udp = udp6(HOST6, SERVER6, HOST_PORT, SERVER_PORT, 64, b"routed");
    let routing = [
        17,  // Next Header: UDP
        0,   // Hdr Ext Len: 8 bytes
        253, // Routing Type: experimental (RFC 4727)
        2,   // Segments Left
        0, 0, 0, 0, // type-specific data
    ];
    let pkt = with_ext(&udp, 43, &routing);
    let out = run(&pkt, &plan());
    assert_eq!(out.verdict, Verdict::Reply(ReplyReason::ParameterProblem));
    assert_icmp6_reply(&out.bytes, &pkt, 4, 0, 43u32.to_be_bytes());
}

/// `6to4-ext-headers-skipped`: Hop-by-Hop, Routing (Segments Left 0) and
/// Destination Options are skipped; Total Length and Protocol follow.
#[test]
fn rfc7915_5_1_x6to4_ext_headers_skipped() {
    let payload = b"behind three extension headers";
    let udp = udp6(HOST6, SERVER6, HOST_PORT, SERVER_PORT, 64, payload);
    let ext = [
        // Hop-by-Hop Options
        43, // Next Header: Routing
        0,  // Hdr Ext Len: 8 bytes
        1, 4, 0, 0, 0, 0, // PadN, 4 bytes
        // Routing
        60,  // Next Header: Destination Options
        0,   // Hdr Ext Len: 8 bytes
        253, // Routing Type: experimental
        0,   // Segments Left: 0 (skip)
        0, 0, 0, 0, // type-specific data
        // Destination Options
        17, // Next Header: UDP
        1,  // Hdr Ext Len: 16 bytes
        1, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // PadN, 12 bytes
    ];
    let pkt = with_ext(&udp, 0, &ext);
    let out = run(&pkt, &plan());
    assert_eq!(out.verdict, Verdict::Forward);
    let h = ipv4(&out.bytes);
    assert_eq!(usize::from(h.total_len), 20 + 8 + payload.len());
    assert_eq!(h.protocol, IpNumber::UDP);
    let udp = udp4_ok(POOL4, SERVER4, &out.bytes[20..]);
    assert_eq!(udp.source_port, MAPPED_PORT);
    assert_eq!(&out.bytes[28..], payload);
}

/// §5.1 Protocol/§5.5: an upper layer the translator does not know is
/// still translated, its bytes untouched.
#[test]
fn rfc7915_5_1_unknown_protocol_passed() {
    let udp = udp6(
        HOST6,
        SERVER6,
        HOST_PORT,
        SERVER_PORT,
        64,
        b"sctp-ish payload",
    );
    let mut pkt = udp.clone();
    pkt[6] = 132; // Next Header: SCTP
    let out = run(&pkt, &plan());
    assert_eq!(out.verdict, Verdict::Forward);
    let h = ipv4(&out.bytes);
    assert_eq!(h.protocol, IpNumber(132));
    assert_eq!(&out.bytes[20..], &pkt[40..]);
}

/// Ethernet padding after the payload is not translated as payload.
#[test]
fn rfc7915_5_1_trailing_padding_ignored() {
    let payload = b"pad";
    let mut pkt = udp6(HOST6, SERVER6, HOST_PORT, SERVER_PORT, 64, payload);
    pkt.extend_from_slice(&[0xEE; 6]);
    let out = run(&pkt, &plan());
    assert_eq!(out.verdict, Verdict::Forward);
    ipv4(&out.bytes);
    udp4_ok(POOL4, SERVER4, &out.bytes[20..]);
}

/// `6to4-too-big-ptb`: a translated packet over the IPv4 MTU is answered
/// with Packet Too Big, MTU = max(1280, IPv4 MTU + 20), quoting 1232 bytes.
#[test]
fn rfc7915_5_1_x6to4_too_big_ptb() {
    let fits = udp6(HOST6, SERVER6, HOST_PORT, SERVER_PORT, 64, &[7; 1472]);
    assert_eq!(run(&fits, &plan()).verdict, Verdict::Forward);

    let pkt = udp6(HOST6, SERVER6, HOST_PORT, SERVER_PORT, 64, &[7; 1473]);
    let out = run(&pkt, &plan());
    assert_eq!(out.verdict, Verdict::Reply(ReplyReason::PacketTooBig));
    assert_icmp6_reply(&out.bytes, &pkt, 2, 0, 1520u32.to_be_bytes());
    assert_eq!(out.bytes.len(), 1280);

    let small = XlatConfig {
        ipv4_mtu: 1000,
        ..XlatConfig::default()
    };
    let pkt = udp6(HOST6, SERVER6, HOST_PORT, SERVER_PORT, 64, &[7; 1000]);
    let out = run_with(&pkt, &plan(), &small);
    assert_eq!(out.verdict, Verdict::Reply(ReplyReason::PacketTooBig));
    assert_icmp6_reply(&out.bytes, &pkt, 2, 0, 1280u32.to_be_bytes());
}

// ---- §5.1.1 ----

/// `6to4-fragment-first` / `6to4-fragment-non-first`: ident from the low
/// 16 bits, MF from M, DF=0, offset copied; the non-first fragment only has
/// its IP header translated; reassembled, the UDP checksum is valid.
#[test]
fn rfc7915_5_1_1_x6to4_fragment_first_and_non_first() {
    let payload: Vec<u8> = (0..40u8).collect();
    let whole = udp6(HOST6, SERVER6, HOST_PORT, SERVER_PORT, 64, &payload);
    let first = fragment(&whole, 0, 24, true, 0xDEAD_BEEF);
    let second = fragment(&whole, 24, 48, false, 0xDEAD_BEEF);

    let out1 = run(&first, &plan());
    assert_eq!(out1.verdict, Verdict::Forward);
    let h1 = ipv4(&out1.bytes);
    assert_eq!(h1.total_len, 20 + 24);
    assert_eq!(h1.identification, 0xBEEF);
    assert!(h1.more_fragments && !h1.dont_fragment);
    assert_eq!(h1.fragment_offset.value(), 0);
    assert_eq!(h1.protocol, IpNumber::UDP);
    assert_eq!(out1.next_id, FIRST_ID, "no ident generated for fragments");

    let out2 = run(&second, &plan());
    assert_eq!(out2.verdict, Verdict::Forward);
    let h2 = ipv4(&out2.bytes);
    assert_eq!(h2.total_len, 20 + 24);
    assert_eq!(h2.identification, 0xBEEF);
    assert!(!h2.more_fragments && !h2.dont_fragment);
    assert_eq!(h2.fragment_offset.value() * 8, 24);
    assert_eq!(h2.protocol, IpNumber::UDP);
    assert_eq!(
        &out2.bytes[20..],
        &whole[40 + 24..],
        "non-first data untouched"
    );

    let mut datagram = out1.bytes[20..].to_vec();
    datagram.extend_from_slice(&out2.bytes[20..]);
    let udp = udp4_ok(POOL4, SERVER4, &datagram);
    assert_eq!(udp.source_port, MAPPED_PORT);
    assert_eq!(&datagram[8..], &payload[..]);
}

/// §5.1.1: an extension header after the Fragment header: drop.
#[test]
fn rfc7915_5_1_1_ext_after_fragment_dropped() {
    let udp = udp6(HOST6, SERVER6, HOST_PORT, SERVER_PORT, 64, b"frag+opts");
    let mut ext = frag_header(60, 0, false, 7).to_vec();
    ext.extend_from_slice(&[
        17, // Destination Options, Next Header: UDP
        0, 1, 4, 0, 0, 0, 0, // Hdr Ext Len 0, PadN 4
    ]);
    let pkt = with_ext(&udp, 44, &ext);
    assert_eq!(
        run(&pkt, &plan()).verdict,
        Verdict::Drop(DropReason::BadExtensionHeader)
    );
    // The same for a non-first fragment whose next header is AH.
    let mut pkt = fragment(&udp, 8, 16, false, 7);
    pkt[40] = 51;
    assert_eq!(
        run(&pkt, &plan()).verdict,
        Verdict::Drop(DropReason::BadExtensionHeader)
    );
}

/// Deviation: fragmented ICMPv6 cannot have its checksum moved; dropped.
#[test]
fn rfc7915_5_1_1_fragmented_icmpv6_dropped() {
    let echo = echo6(HOST6, SERVER6, true, 1, 1, &[0; 64]);
    for (start, end, more) in [(0, 32, true), (32, 72, false)] {
        let pkt = fragment(&echo, start, end, more, 9);
        assert_eq!(
            run(&pkt, &plan()).verdict,
            Verdict::Drop(DropReason::Fragment)
        );
        assert_eq!(flow6(&pkt), Err(DropReason::Fragment));
    }
}

// ---- §5.2 ----

/// `6to4-icmp-echo`: 128/129 → 8/0, identifier from the plan, sequence
/// number and data untouched, checksum without the pseudo-header.
#[test]
fn rfc7915_5_2_x6to4_icmp_echo() {
    for (request, type4) in [(true, 8u8), (false, 0)] {
        let data = b"ping data 0123456789";
        let pkt = echo6(HOST6, SERVER6, request, 0x4242, 7, data);
        let plan = Plan {
            outer: Rewrite {
                src: POOL4,
                dst: SERVER4,
                src_port: 0x9999,
                dst_port: 0x9999,
            },
            inner: None,
        };
        let out = run(&pkt, &plan);
        assert_eq!(out.verdict, Verdict::Forward);
        let h = ipv4(&out.bytes);
        assert_eq!(h.protocol, IpNumber::ICMP);
        let icmp = icmp4_ok(&out.bytes[20..]);
        assert_eq!((icmp.type_u8(), icmp.code_u8()), (type4, 0));
        assert_eq!(icmp.bytes5to8(), [0x99, 0x99, 0, 7]);
        assert_eq!(icmp.payload(), data);
    }
}

/// `6to4-mld-nd-dropped`: MLD (130-132), ND (133-137) and unknown
/// informational messages are dropped silently, whatever the hop limit;
/// so are unknown error types.
#[test]
fn rfc7915_5_2_x6to4_mld_nd_dropped() {
    for ty in (130u8..=137).chain([138, 200, 255, 5, 100, 127]) {
        for hop in [1u8, 255] {
            let pkt = icmp6(HOST6, SERVER6, hop, ty, 0, [0; 4], &quoted_udp(b"x"));
            let out = run(&pkt, &plan());
            // Unknown errors with hop limit 1 are expired errors.
            let want = if ty < 128 && hop == 1 {
                DropReason::TtlExpiredOnError
            } else {
                DropReason::IcmpUntranslatable
            };
            assert_eq!(out.verdict, Verdict::Drop(want), "type {ty} hop {hop}");
        }
    }
}

/// Checks a translated ICMPv4 error quoting the UDP packet of
/// [`quoted_udp`] with `payload`; returns the ICMPv4 bytes 4..8.
fn check_error_udp(out: &Out, type4: u8, code4: u8, payload: &[u8]) -> [u8; 4] {
    assert_eq!(out.verdict, Verdict::Forward);
    let b = &out.bytes;
    let h = ipv4(b);
    assert_eq!(h.protocol, IpNumber::ICMP);
    assert_eq!(
        (h.source, h.destination),
        (POOL4.octets(), SERVER4.octets())
    );
    assert_eq!(h.time_to_live, 63);
    assert_eq!(h.identification, FIRST_ID);
    assert!(!h.dont_fragment);
    let icmp = icmp4_ok(&b[20..]);
    assert_eq!((icmp.type_u8(), icmp.code_u8()), (type4, code4));
    // The quoted packet: IPv4 header, hop limit kept, Total Length of the
    // original.
    let inner = Ipv4HeaderSlice::from_slice(&b[28..]).unwrap().to_header();
    assert_eq!(inner.header_checksum, inner.calc_header_checksum());
    assert_eq!(usize::from(inner.total_len), 28 + payload.len());
    assert_eq!(inner.time_to_live, 60, "inner TTL not decremented");
    assert_eq!(inner.protocol, IpNumber::UDP);
    assert_eq!(
        (inner.source, inner.destination),
        (SERVER4.octets(), POOL4.octets())
    );
    assert_eq!(inner.identification, 0);
    let quoted_len = b.len() - 48;
    if quoted_len == 8 + payload.len() {
        let udp = udp4_ok(SERVER4, POOL4, &b[48..]);
        assert_eq!(
            (udp.source_port, udp.destination_port),
            (SERVER_PORT, MAPPED_PORT)
        );
    }
    assert_eq!(&b[56..], &payload[..quoted_len - 8]);
    icmp.bytes5to8()
}

/// `6to4-icmp-dest-unreach-each-code`: codes 0, 2, 3 → 3/1, 1 → 3/10,
/// 4 → 3/3, all others dropped.
#[test]
fn rfc7915_5_2_x6to4_icmp_dest_unreach_each_code() {
    let payload = b"reply that did not arrive";
    for code in 0u8..=255 {
        let pkt = error6(1, code, [0; 4], &quoted_udp(payload));
        let out = run(&pkt, &error_plan());
        let want = match code {
            0 | 2 | 3 => Some(1),
            1 => Some(10),
            4 => Some(3),
            _ => None,
        };
        match want {
            Some(code4) => {
                assert_eq!(
                    check_error_udp(&out, 3, code4, payload),
                    [0; 4],
                    "code {code}"
                );
            }
            None => assert_eq!(out.verdict, Verdict::Drop(DropReason::IcmpUntranslatable)),
        }
    }
}

/// `6to4-icmp-ptb-mtu`: Packet Too Big → 3/4 with MTU
/// min(advertised - 20, IPv4 MTU, IPv6 MTU - 20).
#[test]
fn rfc7915_5_2_x6to4_icmp_ptb_mtu() {
    let payload = b"big reply";
    for (advertised, mtu4, mtu6, want) in [
        (1400u32, 1500u16, 1500u16, 1380u16),
        (1500, 1300, 1500, 1300),
        (1500, 1500, 1400, 1380),
        (9000, 9000, 9000, 8980),
        (100_000, 65535, 65535, 65515),
        (10, 1500, 1500, 0),
    ] {
        let cfg = XlatConfig {
            ipv4_mtu: mtu4,
            ipv6_mtu: mtu6,
            ..XlatConfig::default()
        };
        let pkt = error6(2, 0, advertised.to_be_bytes(), &quoted_udp(payload));
        let out = run_with(&pkt, &error_plan(), &cfg);
        let [m0, m1] = want.to_be_bytes();
        assert_eq!(
            check_error_udp(&out, 3, 4, payload),
            [0, 0, m0, m1],
            "{advertised}"
        );
    }
}

/// Time Exceeded → 11, code unchanged.
#[test]
fn rfc7915_5_2_time_exceeded() {
    for code in [0u8, 1] {
        let pkt = error6(3, code, [0; 4], &quoted_udp(b"late"));
        let out = run(&pkt, &error_plan());
        assert_eq!(check_error_udp(&out, 11, code, b"late"), [0; 4]);
    }
}

/// `6to4-icmp-param-problem-pointer-table`: code 0 → 12/0 with the pointer
/// of Figure 6 (unlisted and n/a pointers dropped), code 1 → 3/2, code 2
/// and beyond dropped.
#[test]
fn rfc7915_5_2_x6to4_icmp_param_problem_pointer_table() {
    let payload = b"bad header";
    let figure6 = |p: u32| -> Option<u8> {
        Some(match p {
            0 => 0,
            1 => 1,
            4 | 5 => 2,
            6 => 9,
            7 => 8,
            8..=23 => 12,
            24..=39 => 16,
            _ => return None,
        })
    };
    for pointer in (0u32..=64).chain([255, 256, 0xFFFF_FFFF]) {
        let pkt = error6(4, 0, pointer.to_be_bytes(), &quoted_udp(payload));
        let out = run(&pkt, &error_plan());
        match figure6(pointer) {
            Some(p4) => {
                assert_eq!(
                    check_error_udp(&out, 12, 0, payload),
                    [p4, 0, 0, 0],
                    "ptr {pointer}"
                );
            }
            None => assert_eq!(out.verdict, Verdict::Drop(DropReason::IcmpUntranslatable)),
        }
    }
    let pkt = error6(4, 1, 40u32.to_be_bytes(), &quoted_udp(payload));
    assert_eq!(
        check_error_udp(&run(&pkt, &error_plan()), 3, 2, payload),
        [0; 4]
    );
    for code in [2u8, 3, 10] {
        let pkt = error6(4, code, 40u32.to_be_bytes(), &quoted_udp(payload));
        assert_eq!(
            run(&pkt, &error_plan()).verdict,
            Verdict::Drop(DropReason::IcmpUntranslatable)
        );
    }
}

/// A corrupt ICMPv6 error is not given a fresh valid ICMPv4 checksum.
#[test]
fn rfc7915_5_2_bad_icmpv6_checksum_dropped() {
    let mut pkt = error6(1, 4, [0; 4], &quoted_udp(b"corrupt"));
    let last = pkt.len() - 1;
    pkt[last] ^= 0x01;
    assert_eq!(
        run(&pkt, &error_plan()).verdict,
        Verdict::Drop(DropReason::BadIcmpChecksum)
    );
}

// ---- §5.3 ----

/// `6to4-icmp-error-inner-udp`: the quoted UDP packet with addresses and
/// ports from plan.inner and a checksum valid for them.
#[test]
fn rfc7915_5_3_x6to4_icmp_error_inner_udp() {
    let payload = b"inner udp payload";
    let pkt = error6(1, 4, [0; 4], &quoted_udp(payload));
    let out = run(&pkt, &error_plan());
    check_error_udp(&out, 3, 3, payload);
    assert_eq!(out.bytes.len(), 20 + 8 + 20 + 8 + payload.len());
}

/// `6to4-icmp-error-inner-tcp`.
#[test]
fn rfc7915_5_3_x6to4_icmp_error_inner_tcp() {
    let inner = tcp6_syn(SERVER6, HOST6, SERVER_PORT, HOST_PORT, b"syn data");
    let pkt = error6(1, 1, [0; 4], &inner);
    let out = run(&pkt, &error_plan());
    assert_eq!(out.verdict, Verdict::Forward);
    let b = &out.bytes;
    ipv4(b);
    let icmp = icmp4_ok(&b[20..]);
    assert_eq!((icmp.type_u8(), icmp.code_u8()), (3, 10));
    let ih = Ipv4HeaderSlice::from_slice(&b[28..]).unwrap().to_header();
    assert_eq!(ih.header_checksum, ih.calc_header_checksum());
    assert_eq!(usize::from(ih.total_len), 20 + inner.len() - 40);
    assert_eq!(ih.protocol, IpNumber::TCP);
    assert_eq!(ih.time_to_live, 64);
    let tcp = tcp4_ok(SERVER4, POOL4, &b[48..]);
    assert_eq!(
        (tcp.source_port, tcp.destination_port),
        (SERVER_PORT, MAPPED_PORT)
    );
    assert_eq!(tcp.sequence_number, 0x0102_0304);
}

/// `6to4-icmp-error-inner-echo`: a quoted Echo becomes an ICMPv4 Echo with
/// the plan's identifier and a checksum without pseudo-header.
#[test]
fn rfc7915_5_3_x6to4_icmp_error_inner_echo() {
    let inner = echo6(SERVER6, HOST6, true, 0x4242, 3, b"echo data");
    let pkt = error6(3, 0, [0; 4], &inner);
    let plan = Plan {
        outer: error_plan().outer,
        inner: Some(Rewrite {
            src: SERVER4,
            dst: POOL4,
            src_port: 0x9999,
            dst_port: 0x9999,
        }),
    };
    let out = run(&pkt, &plan);
    assert_eq!(out.verdict, Verdict::Forward);
    let b = &out.bytes;
    ipv4(b);
    let icmp = icmp4_ok(&b[20..]);
    assert_eq!((icmp.type_u8(), icmp.code_u8()), (11, 0));
    let ih = Ipv4HeaderSlice::from_slice(&b[28..]).unwrap().to_header();
    assert_eq!(ih.header_checksum, ih.calc_header_checksum());
    assert_eq!(ih.protocol, IpNumber::ICMP);
    let echo = icmp4_ok(&b[48..]);
    assert_eq!((echo.type_u8(), echo.code_u8()), (8, 0));
    assert_eq!(echo.bytes5to8(), [0x99, 0x99, 0, 3]);
    assert_eq!(echo.payload(), b"echo data");
}

/// §5.3: the translated error is cut to 576 bytes; the quoted Total Length
/// and UDP checksum stay those of the whole original.
#[test]
fn rfc7915_5_3_error_truncated_to_576() {
    let payload: Vec<u8> = (0..1000u32).map(|i| i as u8).collect();
    let pkt = error6(1, 0, [0; 4], &quoted_udp(&payload));
    let out = run(&pkt, &error_plan());
    assert_eq!(out.bytes.len(), 576);
    check_error_udp(&out, 3, 1, &payload);
    // The quoted UDP checksum is the one of the whole translated datagram.
    let udp = UdpHeader {
        source_port: SERVER_PORT,
        destination_port: MAPPED_PORT,
        length: 8 + payload.len() as u16,
        checksum: 0,
    };
    let want = udp
        .calc_checksum_ipv4_raw(SERVER4.octets(), POOL4.octets(), &payload)
        .unwrap();
    assert_eq!(u16::from_be_bytes([out.bytes[54], out.bytes[55]]), want);
}

/// §5.3: an error the IPv4 link cannot carry (MTU below 576) is dropped,
/// never answered.
#[test]
fn rfc7915_5_3_error_too_big_dropped() {
    let pkt = error6(1, 0, [0; 4], &quoted_udp(&[1; 1000]));
    let cfg = XlatConfig {
        ipv4_mtu: 500,
        ..XlatConfig::default()
    };
    assert_eq!(
        run_with(&pkt, &error_plan(), &cfg).verdict,
        Verdict::Drop(DropReason::TooBig)
    );
}

/// §5.3: an error inside an error, or a quote too short for the ports, is
/// dropped.
#[test]
fn rfc7915_5_3_inner_error_or_short_dropped() {
    let inner_error = icmp6(SERVER6, HOST6, 60, 1, 4, [0; 4], &quoted_udp(b"x"));
    let pkt = error6(1, 4, [0; 4], &inner_error);
    assert_eq!(
        run(&pkt, &error_plan()).verdict,
        Verdict::Drop(DropReason::IcmpInnerBad)
    );
    assert_eq!(flow6(&pkt), Err(DropReason::IcmpInnerBad));

    let full = quoted_udp(b"payload");
    for cut in [0usize, 20, 39, 40, 44, 47] {
        let pkt = error6(1, 4, [0; 4], &full[..cut]);
        let out = run(&pkt, &error_plan());
        assert_eq!(
            out.verdict,
            Verdict::Drop(DropReason::IcmpInnerBad),
            "cut {cut}"
        );
    }
    // 8 bytes of UDP are enough.
    let pkt = error6(1, 4, [0; 4], &full[..48]);
    assert_eq!(run(&pkt, &error_plan()).verdict, Verdict::Forward);
}

/// §5.3 with a quoted non-first fragment: only its IP header is translated.
#[test]
fn rfc7915_5_3_inner_non_first_fragment() {
    let whole = quoted_udp(&[3; 40]);
    let inner = fragment(&whole, 24, 48, false, 0x0001_0002);
    let pkt = error6(1, 4, [0; 4], &inner);
    let out = run(&pkt, &error_plan());
    assert_eq!(out.verdict, Verdict::Forward);
    let ih = Ipv4HeaderSlice::from_slice(&out.bytes[28..])
        .unwrap()
        .to_header();
    assert_eq!(ih.identification, 0x0002);
    assert_eq!(ih.fragment_offset.value() * 8, 24);
    assert_eq!(usize::from(ih.total_len), 20 + 24);
    assert_eq!(&out.bytes[48..], &whole[40 + 24..]);
    icmp4_ok(&out.bytes[20..]);
}

// ---- §5.4 ----

/// §5.4: the translator's own error, e.g. the NAT64's Destination
/// Unreachable code 1 (administratively prohibited).
#[test]
fn rfc7915_5_4_icmpv6_error_dest_unreach() {
    let pkt = udp6(HOST6, SERVER6, HOST_PORT, SERVER_PORT, 64, b"no pool left");
    let mut mem = vec![0u8; HEADROOM + pkt.len()];
    mem[HEADROOM..].copy_from_slice(&pkt);
    let mut buf = PacketBuf::new(&mut mem, HEADROOM, pkt.len()).unwrap();
    let v = icmpv6_error(&mut buf, 1, 1, 0, &XlatConfig::default());
    assert_eq!(v, Verdict::Reply(ReplyReason::DestinationUnreachable));
    assert_icmp6_reply(buf.data(), &pkt, 1, 1, [0; 4]);
}

/// §5.4 / RFC 4443 §2.4 (e): no error for an error, for an unspecified,
/// loopback or multicast source, nor (save PTB) to a multicast destination.
#[test]
fn rfc7915_5_4_icmpv6_error_refusals() {
    let cfg = XlatConfig::default();
    let call = |pkt: &[u8], ty: u8| {
        let mut mem = vec![0u8; HEADROOM + pkt.len()];
        mem[HEADROOM..].copy_from_slice(pkt);
        let mut buf = PacketBuf::new(&mut mem, HEADROOM, pkt.len()).unwrap();
        icmpv6_error(&mut buf, ty, 0, 1280, &cfg)
    };
    let error = error6(1, 4, [0; 4], &quoted_udp(b"x"));
    assert_eq!(
        call(&error, 1),
        Verdict::Drop(DropReason::IcmpErrorSuppressed)
    );
    assert_eq!(
        call(&error, 3),
        Verdict::Drop(DropReason::TtlExpiredOnError)
    );
    assert_eq!(call(&error, 2), Verdict::Drop(DropReason::TooBig));
    for src in [
        Ipv6Addr::UNSPECIFIED,
        Ipv6Addr::LOCALHOST,
        "ff02::1".parse().unwrap(),
    ] {
        let pkt = udp6(src, SERVER6, 1, 2, 64, b"x");
        assert_eq!(
            call(&pkt, 1),
            Verdict::Drop(DropReason::IcmpErrorSuppressed)
        );
    }
    let to_group = udp6(HOST6, "ff0e::1".parse().unwrap(), 1, 2, 64, b"x");
    assert_eq!(
        call(&to_group, 3),
        Verdict::Drop(DropReason::TtlExpiredOnError)
    );
    assert_eq!(
        call(&to_group, 2),
        Verdict::Reply(ReplyReason::PacketTooBig)
    );
    // Echo is not an error: answered.
    let echo = echo6(HOST6, SERVER6, true, 1, 1, b"x");
    assert_eq!(call(&echo, 3), Verdict::Reply(ReplyReason::TimeExceeded));
    // Not IPv6 at all.
    assert_eq!(
        call(&[0x45; 60], 3),
        Verdict::Drop(DropReason::TtlExpiredOnError)
    );
}

/// §5.4 without headroom: the quote slides back in the buffer and is cut
/// to what the buffer holds.
#[test]
fn rfc7915_5_4_icmpv6_error_without_headroom() {
    let pkt = udp6(HOST6, SERVER6, HOST_PORT, SERVER_PORT, 1, &[9; 100]);
    for headroom in [0usize, 10, 47] {
        // Exactly enough room after the packet for the whole quote.
        let mut mem = vec![0u8; headroom + pkt.len() + 48];
        mem[headroom..headroom + pkt.len()].copy_from_slice(&pkt);
        let mut buf = PacketBuf::new(&mut mem, headroom, pkt.len()).unwrap();
        let v = icmpv6_error(&mut buf, 3, 0, 0, &XlatConfig::default());
        assert_eq!(v, Verdict::Reply(ReplyReason::TimeExceeded));
        assert_icmp6_reply(buf.data(), &pkt, 3, 0, [0; 4]);
    }
    // A buffer smaller than the 48-byte error prefix: dropped, no panic.
    let mut tiny = pkt[..44].to_vec();
    tiny[4..6].copy_from_slice(&4u16.to_be_bytes()); // Payload Length: 4
    let mut buf = PacketBuf::new(&mut tiny, 0, 44).unwrap();
    let v = icmpv6_error(&mut buf, 3, 0, 0, &XlatConfig::default());
    assert_eq!(v, Verdict::Drop(DropReason::TtlExpiredOnError));
    // 50 bytes: an error quoting 2 bytes.
    let mut small = pkt[..50].to_vec();
    small[4..6].copy_from_slice(&10u16.to_be_bytes()); // Payload Length: 10
    let mut buf = PacketBuf::new(&mut small, 0, 50).unwrap();
    let v = icmpv6_error(&mut buf, 3, 0, 0, &XlatConfig::default());
    assert_eq!(v, Verdict::Reply(ReplyReason::TimeExceeded));
    assert_eq!(buf.len(), 50);
    assert_eq!(&buf.data()[48..], &pkt[..2]);
    // No room at all beyond the packet: the quote is shortened.
    let mut mem = pkt.clone();
    let mut buf = PacketBuf::new(&mut mem, 0, pkt.len()).unwrap();
    let v = icmpv6_error(&mut buf, 3, 0, 0, &XlatConfig::default());
    assert_eq!(v, Verdict::Reply(ReplyReason::TimeExceeded));
    let out = buf.data();
    assert_eq!(out.len(), pkt.len());
    assert_eq!(&out[48..], &pkt[..pkt.len() - 48]);
    let ip = Ipv6HeaderSlice::from_slice(out).unwrap();
    let icmp = Icmpv6Slice::from_slice(&out[40..]).unwrap();
    assert!(icmp.is_checksum_valid(ip.source(), ip.destination()));
}

// ---- §5.5 ----

/// §5.5: checksums follow the pseudo-header and ports; a zero IPv6 UDP
/// checksum stays zero ("no checksum" in IPv4).
#[test]
fn rfc7915_5_5_udp_zero_checksum_kept() {
    let mut pkt = udp6(HOST6, SERVER6, HOST_PORT, SERVER_PORT, 64, b"zero");
    pkt[46] = 0;
    pkt[47] = 0;
    let out = run(&pkt, &plan());
    assert_eq!(out.verdict, Verdict::Forward);
    let (udp, _) = UdpHeader::from_slice(&out.bytes[20..]).unwrap();
    assert_eq!(udp.checksum, 0);
    assert_eq!(udp.source_port, MAPPED_PORT);
}

/// §5.5 across many port pairs (incl. ones whose checksum lands on 0):
/// always valid, never stored as zero.
#[test]
fn rfc7915_5_5_checksum_matrix() {
    for sport in [0u16, 1, 0x7FFF, 0xFFFF, 40000] {
        for dport in [0u16, 53, 0xFFFE] {
            for data in [&b""[..], b"\x00\x01", b"odd"] {
                let pkt = udp6(HOST6, SERVER6, HOST_PORT, SERVER_PORT, 64, data);
                let plan = Plan {
                    outer: Rewrite {
                        src: POOL4,
                        dst: SERVER4,
                        src_port: sport,
                        dst_port: dport,
                    },
                    inner: None,
                };
                let out = run(&pkt, &plan);
                let udp = udp4_ok(POOL4, SERVER4, &out.bytes[20..]);
                assert_ne!(udp.checksum, 0);
                let tcp = tcp6_syn(HOST6, SERVER6, HOST_PORT, SERVER_PORT, data);
                tcp4_ok(POOL4, SERVER4, &run(&tcp, &plan).bytes[20..]);
            }
        }
    }
}

/// §5.5 / RFC 768: over every source port some translated UDP checksum
/// computes to zero; it must be sent as 0xFFFF (etherparse agrees).
#[test]
fn rfc7915_5_5_udp_checksum_never_zero_all_ports() {
    let pkt = udp6(HOST6, SERVER6, HOST_PORT, SERVER_PORT, 64, b"sweep");
    let mut saw_ffff = false;
    for sport in 0..=u16::MAX {
        let plan = Plan {
            outer: Rewrite {
                src: POOL4,
                dst: SERVER4,
                src_port: sport,
                dst_port: SERVER_PORT,
            },
            inner: None,
        };
        let out = run(&pkt, &plan);
        let (udp, payload) = UdpHeader::from_slice(&out.bytes[20..]).unwrap();
        let want = udp
            .calc_checksum_ipv4_raw(POOL4.octets(), SERVER4.octets(), payload)
            .unwrap();
        assert_eq!(udp.checksum, want, "port {sport}");
        saw_ffff |= udp.checksum == 0xFFFF;
    }
    assert!(saw_ffff, "the sweep reached the zero case");
}

// ---- flow6 (RFC 6146 §3.4) ----

/// The simple-packet shortcut of `flow6` (`flow6_simple`) answers exactly as the full reading
/// wherever it answers at all: on TCP and UDP packets (from etherparse) cut
/// at every length, with a wrong version, and with a payload length past
/// the end; and it answers (`Some`) for the whole simple packets.
#[test]
fn flow6_simple_agrees_with_full_reading() {
    use super::flow::{flow6_full, flow6_simple};
    let udp = udp6(HOST6, SERVER6, HOST_PORT, SERVER_PORT, 64, b"xyz");
    let tcp = tcp6_syn(HOST6, SERVER6, HOST_PORT, 80, b"hello");
    let echo = echo6(HOST6, SERVER6, true, 0x4242, 1, b"");
    for pkt in [&udp, &tcp] {
        let whole = flow6_simple(pkt).expect("simple packet takes the shortcut");
        assert_eq!(Ok(whole), flow6_full(pkt));
    }
    assert_eq!(flow6_simple(&echo), None, "ICMPv6 goes the full way");
    for pkt in [&udp, &tcp, &echo] {
        let mut variants: Vec<Vec<u8>> = (0..=pkt.len()).map(|n| pkt[..n].to_vec()).collect();
        let mut bad_version = pkt.clone();
        bad_version[0] = 0x45;
        variants.push(bad_version);
        let mut long = pkt.clone();
        long[5] = long[5].wrapping_add(1);
        variants.push(long);
        for v in &variants {
            if let Some(f) = flow6_simple(v) {
                assert_eq!(Ok(f), flow6_full(v), "{v:02x?}");
            }
            assert_eq!(flow6(v), flow6_full(v), "{v:02x?}");
        }
    }
}

#[test]
fn flow6_tuples() {
    let udp = udp6(HOST6, SERVER6, HOST_PORT, SERVER_PORT, 64, b"x");
    assert_eq!(
        flow6(&udp),
        Ok(Flow {
            tuple: Tuple {
                l4: L4::Udp,
                src: HOST6,
                dst: SERVER6,
                src_port: HOST_PORT,
                dst_port: SERVER_PORT
            },
            inner: None,
            tcp_flags: 0,
            non_first_fragment: false,
            frag: None,
        })
    );
    let tcp = tcp6_syn(HOST6, SERVER6, HOST_PORT, 80, b"");
    let f = flow6(&tcp).unwrap();
    assert_eq!(f.tuple.l4, L4::Tcp);
    assert_eq!((f.tuple.src_port, f.tuple.dst_port), (HOST_PORT, 80));
    assert_eq!(f.tcp_flags, 0x02, "SYN");

    let echo = echo6(HOST6, SERVER6, true, 0x4242, 1, b"");
    let f = flow6(&echo).unwrap();
    assert_eq!(
        f.tuple,
        Tuple {
            l4: L4::Icmp,
            src: HOST6,
            dst: SERVER6,
            src_port: 0x4242,
            dst_port: 0x4242
        }
    );

    let err = error6(1, 4, [0; 4], &quoted_udp(b"x"));
    let f = flow6(&err).unwrap();
    assert_eq!(
        f.tuple,
        Tuple {
            l4: L4::Icmp,
            src: HOST6,
            dst: SERVER6,
            src_port: 0,
            dst_port: 0
        }
    );
    assert_eq!(
        f.inner,
        Some(Tuple {
            l4: L4::Udp,
            src: SERVER6,
            dst: HOST6,
            src_port: SERVER_PORT,
            dst_port: HOST_PORT
        })
    );

    let whole = udp6(HOST6, SERVER6, HOST_PORT, SERVER_PORT, 64, &[0; 40]);
    let f = flow6(&fragment(&whole, 24, 48, false, 1)).unwrap();
    assert!(f.non_first_fragment);
    assert_eq!(
        f.tuple,
        Tuple {
            l4: L4::Udp,
            src: HOST6,
            dst: SERVER6,
            src_port: 0,
            dst_port: 0
        }
    );
    let f = flow6(&fragment(&whole, 0, 24, true, 1)).unwrap();
    assert!(!f.non_first_fragment);
    assert_eq!(f.tuple.src_port, HOST_PORT);

    let mut sctp = udp.clone();
    sctp[6] = 132;
    assert_eq!(flow6(&sctp), Err(DropReason::UnknownProtocol));
    let mld = icmp6(HOST6, SERVER6, 1, 131, 0, [0; 4], &[0; 16]);
    assert_eq!(flow6(&mld), Err(DropReason::IcmpUntranslatable));
    assert_eq!(flow6(&udp[..30]), Err(DropReason::Truncated));
    assert_eq!(flow6(&[0x45; 60]), Err(DropReason::BadHeader));
}

// ---- robustness ----

/// Every valid packet the tests use, for the truncation sweep.
fn corpus() -> Vec<Vec<u8>> {
    let udp = udp6(HOST6, SERVER6, HOST_PORT, SERVER_PORT, 64, b"corpus udp");
    let whole = udp6(HOST6, SERVER6, HOST_PORT, SERVER_PORT, 64, &[0; 40]);
    // Hop-by-Hop (next: Routing, PadN 4) + Routing (next: UDP, type 253,
    // Segments Left 0).
    let ext = [43, 0, 1, 4, 0, 0, 0, 0, 17, 0, 253, 0, 0, 0, 0, 0];
    vec![
        udp.clone(),
        tcp6_syn(HOST6, SERVER6, HOST_PORT, SERVER_PORT, b"corpus tcp"),
        echo6(HOST6, SERVER6, true, 1, 2, b"corpus echo"),
        error6(1, 4, [0; 4], &quoted_udp(b"corpus")),
        error6(
            2,
            0,
            1400u32.to_be_bytes(),
            &tcp6_syn(SERVER6, HOST6, 1, 2, b"t"),
        ),
        error6(
            4,
            0,
            7u32.to_be_bytes(),
            &echo6(SERVER6, HOST6, false, 1, 2, b"e"),
        ),
        error6(3, 0, [0; 4], &fragment(&whole, 0, 24, true, 5)),
        with_ext(&udp, 0, &ext),
        with_ext(&udp, 43, &[17, 0, 253, 1, 0, 0, 0, 0]),
        fragment(&whole, 0, 24, true, 5),
        fragment(&whole, 24, 48, false, 5),
        icmp6(HOST6, SERVER6, 255, 135, 0, [0; 4], &[0; 24]),
    ]
}

/// Checks the invariants of any outcome: a forwarded packet is IPv4 with
/// a valid header and Total Length, a reply is an IPv6 error within 1280.
fn check_outcome(verdict: Verdict, out: &[u8]) {
    match verdict {
        Verdict::Forward => {
            ipv4(out);
        }
        Verdict::Reply(_) => {
            let ip = Ipv6HeaderSlice::from_slice(out).unwrap();
            assert_eq!(usize::from(ip.payload_length()) + 40, out.len());
            assert!(out.len() <= 1280);
        }
        Verdict::Drop(_) => {}
        Verdict::Fragment { .. } => panic!("6to4 never asks for IPv6 fragmentation"),
    }
}

/// Truncation of every prefix length of every valid packet never panics,
/// with the Payload Length as it was (mostly `Truncated`) and fixed up to
/// the cut (reaching the deeper parsers).
#[test]
fn truncated_prefixes_never_panic() {
    for pkt in corpus() {
        for n in 0..=pkt.len() {
            let mut cut = pkt[..n].to_vec();
            let out = run(&cut, &error_plan());
            check_outcome(out.verdict, &out.bytes);
            let _ = flow6(&cut);
            if n >= 40 {
                cut[4..6].copy_from_slice(&((n - 40) as u16).to_be_bytes());
                let out = run(&cut, &error_plan());
                check_outcome(out.verdict, &out.bytes);
                let _ = flow6(&cut);
            }
        }
    }
}

proptest! {
    /// Arbitrary bytes never panic translate_6to4 or flow6.
    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..1600)) {
        let out = run(&data, &error_plan());
        check_outcome(out.verdict, &out.bytes);
        let _ = flow6(&data);
    }

    /// A valid IPv6 header over arbitrary payload of any next header.
    #[test]
    fn arbitrary_payload_never_panics(
        next in prop::sample::select(vec![0u8, 6, 17, 43, 44, 51, 58, 59, 60, 132]),
        hop in any::<u8>(),
        payload in proptest::collection::vec(any::<u8>(), 0..1400),
    ) {
        let mut pkt = udp6(HOST6, SERVER6, 1, 2, hop, &[])[..40].to_vec();
        pkt[6] = next;
        pkt[4..6].copy_from_slice(&(payload.len() as u16).to_be_bytes());
        pkt.extend_from_slice(&payload);
        let out = run(&pkt, &plan());
        check_outcome(out.verdict, &out.bytes);
        let _ = flow6(&pkt);
    }

    /// ICMPv6 errors with a valid checksum around an arbitrary quote,
    /// which is an IPv6 header over arbitrary bytes half of the time.
    #[test]
    fn arbitrary_icmp_errors_never_panic(
        ty in 0u8..6,
        code in 0u8..6,
        rest in any::<[u8; 4]>(),
        inner_next in prop::sample::select(vec![0u8, 6, 17, 43, 44, 58, 60]),
        ipv6_quote in any::<bool>(),
        body in proptest::collection::vec(any::<u8>(), 0..700),
    ) {
        let mut quote = body.clone();
        if ipv6_quote {
            let mut h = udp6(SERVER6, HOST6, 1, 2, 9, &[])[..40].to_vec();
            h[6] = inner_next;
            h[4..6].copy_from_slice(&(body.len() as u16).to_be_bytes());
            h.extend_from_slice(&body);
            quote = h;
        }
        let pkt = error6(ty, code, rest, &quote);
        let out = run(&pkt, &error_plan());
        check_outcome(out.verdict, &out.bytes);
        if out.verdict == Verdict::Forward {
            icmp4_ok(&out.bytes[20..]);
            prop_assert!(out.bytes.len() <= 576);
        }
        let _ = flow6(&pkt);
    }
}

// ---- the simple-packet path ----

/// `run_with`, but through the full §5 path alone (`translate`), without
/// the `translate_simple` shortcut `translate_6to4` tries first.
fn run_full(pkt: &[u8], plan: &Plan<Ipv4Addr>, cfg: &XlatConfig) -> Out {
    let mut mem = vec![0u8; HEADROOM + pkt.len() + 16];
    mem[HEADROOM..HEADROOM + pkt.len()].copy_from_slice(pkt);
    let mut buf = PacketBuf::new(&mut mem, HEADROOM, pkt.len()).unwrap();
    let mut st = XlatState {
        next_ipv4_id: FIRST_ID,
    };
    let verdict = match super::translate(&mut buf, plan, cfg, &mut st) {
        Ok(v) => v,
        Err(r) => Verdict::Drop(r),
    };
    Out {
        verdict,
        bytes: buf.data().to_vec(),
        next_id: st.next_ipv4_id,
    }
}

/// `rewrite_simple` alone on `pkt` (which `simple6` accepted).
fn run_rewrite_simple(pkt: &[u8], plan: &Plan<Ipv4Addr>, cfg: &XlatConfig) -> Out {
    let mut mem = vec![0u8; HEADROOM + pkt.len() + 16];
    mem[HEADROOM..HEADROOM + pkt.len()].copy_from_slice(pkt);
    let mut buf = PacketBuf::new(&mut mem, HEADROOM, pkt.len()).unwrap();
    let mut st = XlatState {
        next_ipv4_id: FIRST_ID,
    };
    assert_eq!(
        super::rewrite_simple(&mut buf, &plan.outer, cfg, &mut st),
        Some(())
    );
    Out {
        verdict: Verdict::Forward,
        bytes: buf.data().to_vec(),
        next_id: st.next_ipv4_id,
    }
}

proptest! {
    /// The simple-packet path for TCP, UDP and echo packets gives exactly what
    /// the full path gives (verdict, bytes, identification counter), also
    /// for packets near its edges: any hop limit, Traffic Class, size
    /// against the IPv4 MTU, corrupted bytes anywhere in the headers, cut
    /// short or padded.
    #[test]
    fn simple_path_equals_full_path(
        kind in 0u8..4,
        hop in any::<u8>(),
        tc in any::<u8>(),
        copy_tc in any::<bool>(),
        ipv4_mtu in 1200u16..1600,
        len in 0usize..1500,
        flips in proptest::collection::vec((0usize..80, any::<u8>()), 0..3),
        cut in 0usize..64,
        pad in 0usize..8,
        offload in any::<bool>(),
    ) {
        let payload: Vec<u8> = (0..len).map(|i| i as u8).collect();
        let mut pkt = match kind {
            0 => udp6(HOST6, SERVER6, HOST_PORT, SERVER_PORT, hop, &payload),
            1 => tcp6_syn(HOST6, SERVER6, HOST_PORT, SERVER_PORT, &payload),
            2 => echo6(HOST6, SERVER6, true, 7, 1, &payload),
            _ => echo6(HOST6, SERVER6, false, 7, 1, &payload),
        };
        pkt[7] = hop;
        set_traffic_class(&mut pkt, tc);
        let pristine = flips.iter().all(|&(_, x)| x == 0) && (cut == 0 || cut % 4 != 0);
        for (at, x) in flips {
            if let Some(b) = pkt.get_mut(at) {
                *b ^= x;
            }
        }
        if cut % 4 == 0 {
            pkt.truncate(pkt.len().saturating_sub(cut));
        }
        pkt.extend(std::iter::repeat_n(0xEE, pad));
        let cfg = XlatConfig {
            ipv4_mtu,
            copy_traffic_class: copy_tc,
            ipv4_checksum_offload: offload,
            ..XlatConfig::default()
        };
        let fast = run_with(&pkt, &plan(), &cfg);
        let full = run_full(&pkt, &plan(), &cfg);
        if !offload {
            // (With the offload the header checksum is left 0 for the NIC.)
            check_outcome(fast.verdict, &fast.bytes);
        }
        prop_assert_eq!(fast.verdict, full.verdict);
        prop_assert_eq!(fast.next_id, full.next_id);
        prop_assert_eq!(&fast.bytes, &full.bytes);
        // The pipeline's burst fast path: what `simple6` accepts, `flow6`
        // reads the same and `rewrite_simple` translates as the full path.
        if let Some(p) = simple6(&pkt, &cfg) {
            prop_assert_eq!(flow6(&pkt), Ok(Flow {
                tuple: p.tuple,
                inner: None,
                tcp_flags: p.tcp_flags,
                non_first_fragment: false,
                frag: None,
            }));
            let direct = run_rewrite_simple(&pkt, &plan(), &cfg);
            prop_assert_eq!(full.verdict, Verdict::Forward);
            prop_assert_eq!(direct.next_id, full.next_id);
            prop_assert_eq!(&direct.bytes, &full.bytes);
        } else {
            // Whole TCP and UDP packets that fit are never refused.
            let upper = (pkt.len() - pad).saturating_sub(40);
            prop_assert!(
                !(pristine && kind < 2 && hop > 1 && 20 + upper <= usize::from(ipv4_mtu)),
                "simple6 refused a whole packet"
            );
        }
    }
}

// ---- IPv4 header checksum left to the NIC (tx offload) ----

/// Runs `pkt` with and without `ipv4_checksum_offload`: the outer IPv4
/// header's checksum is 0 with it, and every other byte is the same. The
/// software run's checksum is checked by etherparse in `ipv4`.
fn offload_matches_software(pkt: &[u8], plan: &Plan<Ipv4Addr>) -> Vec<u8> {
    let soft = run(pkt, plan);
    let cfg = XlatConfig {
        ipv4_checksum_offload: true,
        ..XlatConfig::default()
    };
    let nic = run_with(pkt, plan, &cfg);
    assert_eq!(soft.verdict, Verdict::Forward);
    assert_eq!(nic.verdict, Verdict::Forward);
    ipv4(&soft.bytes);
    assert_eq!(
        &nic.bytes[10..12],
        &[0, 0],
        "outer checksum left to the NIC"
    );
    assert_eq!(nic.bytes.len(), soft.bytes.len());
    assert_eq!(nic.bytes[..10], soft.bytes[..10]);
    assert_eq!(nic.bytes[12..], soft.bytes[12..]);
    // What the NIC does (RFC 791 checksum over the header with the field
    // 0) gives back the software run's bytes.
    let mut filled = nic.bytes.clone();
    let h = Ipv4HeaderSlice::from_slice(&filled).unwrap().to_header();
    filled[10..12].copy_from_slice(&h.calc_header_checksum().to_be_bytes());
    assert_eq!(filled, soft.bytes);
    nic.bytes
}

/// The common path (`translate_simple`): UDP, TCP and ICMPv6 echo.
#[test]
fn ipv4_checksum_offload_leaves_outer_checksum_zero() {
    offload_matches_software(
        &udp6(HOST6, SERVER6, HOST_PORT, SERVER_PORT, 64, b"u"),
        &plan(),
    );
    offload_matches_software(
        &tcp6_syn(HOST6, SERVER6, HOST_PORT, SERVER_PORT, b"t"),
        &plan(),
    );
}

/// The full path (`translate`, here for an extension header) does the same.
#[test]
fn ipv4_checksum_offload_full_path() {
    let udp = udp6(
        HOST6,
        SERVER6,
        HOST_PORT,
        SERVER_PORT,
        64,
        b"behind a header",
    );
    // Destination Options, 8 bytes of PadN, then UDP.
    let pkt = with_ext(&udp, 60, &[17, 0, 1, 4, 0, 0, 0, 0]);
    offload_matches_software(&pkt, &plan());
}

/// An ICMPv6 error becomes an ICMPv4 error whose outer checksum is the
/// NIC's, while the quoted IPv4 header keeps its own: the NIC never sees it.
#[test]
fn ipv4_checksum_offload_keeps_inner_header_checksum() {
    let pkt = error6(1, 4, [0; 4], &quoted_udp(b"inner"));
    let out = offload_matches_software(&pkt, &error_plan());
    // The quoted header starts after the outer header and 8 ICMP bytes.
    ipv4_inner_checksum_ok(&out[28..48]);
}

fn ipv4_inner_checksum_ok(hdr: &[u8]) {
    let h = Ipv4HeaderSlice::from_slice(hdr).unwrap().to_header();
    assert_eq!(
        h.header_checksum,
        h.calc_header_checksum(),
        "inner header checksum"
    );
    assert_ne!(h.header_checksum, 0);
}
