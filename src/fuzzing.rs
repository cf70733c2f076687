//! Fuzz harnesses shared by the cargo-fuzz targets in `fuzz/` and by the
//! seed-corpus test (`tests/fuzz_corpus.rs`), so the corpora run in CI
//! without a fuzzing toolchain. Each harness must return normally for any
//! input: a panic is the bug the fuzzer looks for.

mod pipeline;
pub use pipeline::pipeline_sequence;

use crate::wire::checksum;
use crate::wire::*;
use crate::xlat::v4to6::{flow4, fragment_ipv6, translate_4to6};
use crate::xlat::v6to4::{flow6, translate_6to4};
use crate::xlat::{PacketBuf, Plan, Rewrite, Verdict, XlatConfig, XlatState};
use std::net::{Ipv4Addr, Ipv6Addr};

/// Headroom and room of an mbuf-shaped buffer.
const HEADROOM: usize = 128;
const ROOM: usize = 128 + 9216;

/// The input read as an Ethernet frame, an IPv4 packet and an IPv6
/// packet: [`wire_views`] on the bytes and on every layer a view finds in
/// them (Ethernet payload, IP payload after extension headers, the packet
/// an ICMP error quotes).
pub fn wire_parse(data: &[u8]) {
    let _ = checksum::checksum(data);
    descend(data, 0);
}

fn descend(data: &[u8], depth: u8) {
    wire_views(data);
    if depth > 3 {
        return;
    }
    if let Ok(eth) = EthernetFrame::new_checked(data) {
        descend(eth.payload(), depth + 1);
    }
    if let Ok(p) = Ipv4Packet::new_checked(data) {
        descend(p.payload(), depth + 1);
    }
    if let Ok(chain) = walk_ext_headers(data) {
        if let Some(upper) = data.get(chain.upper_offset..) {
            descend(upper, depth + 1);
        }
    }
    if let Ok(icmp) = Icmpv4Packet::new_checked(data) {
        descend(icmp.payload(), depth + 1);
    }
}

/// Every view's `new_checked` (and `new_checked_header`) on `data` as it
/// is, and every getter of each view that accepts it; the extension-header
/// walks' offsets must stay inside the packet.
pub fn wire_views(data: &[u8]) {
    let v4 = Ipv4Addr::new(192, 0, 2, 1);
    let v6 = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
    if let Ok(f) = EthernetFrame::new_checked(data) {
        let _ = (
            f.dst_addr(),
            f.src_addr(),
            f.vlan(),
            f.ethertype(),
            f.header_len(),
            f.payload(),
        );
    }
    if let Ok(p) = ArpPacket::new_checked(data) {
        let _ = (
            p.operation(),
            p.sender_hw(),
            p.sender_ip(),
            p.target_hw(),
            p.target_ip(),
        );
        let _ = (p.hardware_type(), p.protocol_type());
    }
    for p in [
        Ipv4Packet::new_checked(data),
        Ipv4Packet::new_checked_header(data),
    ]
    .into_iter()
    .flatten()
    {
        let _ = (
            p.version(),
            p.header_len(),
            p.tos(),
            p.total_len(),
            p.ident(),
            p.dont_frag(),
        );
        let _ = (
            p.more_frags(),
            p.frag_offset(),
            p.ttl(),
            p.protocol(),
            p.checksum(),
        );
        let _ = (
            p.src_addr(),
            p.dst_addr(),
            p.options(),
            p.payload(),
            p.verify_checksum(),
        );
    }
    for p in [
        Ipv6Packet::new_checked(data),
        Ipv6Packet::new_checked_header(data),
    ]
    .into_iter()
    .flatten()
    {
        let _ = (
            p.version(),
            p.traffic_class(),
            p.flow_label(),
            p.payload_len(),
            p.next_header(),
        );
        let _ = (p.hop_limit(), p.src_addr(), p.dst_addr(), p.payload());
    }
    for chain in [walk_ext_headers(data), walk_ext_headers_quoted(data)]
        .into_iter()
        .flatten()
    {
        // The walk's offsets must point inside the packet.
        assert!(chain.upper_offset <= data.len());
        assert!(chain.last_next_header_offset < chain.upper_offset);
        assert_eq!(data[chain.last_next_header_offset], chain.upper_proto);
    }
    if let Ok(f) = Ipv6FragHeader::new_checked(data) {
        let _ = (f.next_header(), f.frag_offset(), f.more_frags(), f.ident());
    }
    for p in [
        UdpPacket::new_checked(data),
        UdpPacket::new_checked_header(data),
    ]
    .into_iter()
    .flatten()
    {
        let _ = (
            p.src_port(),
            p.dst_port(),
            p.len(),
            p.checksum(),
            p.payload(),
        );
        let _ = (p.verify_checksum_v4(v4, v4), p.verify_checksum_v6(&v6, &v6));
    }
    if let Ok(p) = TcpPacket::new_checked(data) {
        let _ = (
            p.src_port(),
            p.dst_port(),
            p.seq_number(),
            p.ack_number(),
            p.header_len(),
            p.flags(),
        );
        let _ = (
            p.syn(),
            p.ack(),
            p.fin(),
            p.rst(),
            p.psh(),
            p.urg(),
            p.window_len(),
            p.checksum(),
        );
        let _ = (p.urgent_at(), p.options(), p.payload());
        let _ = (p.verify_checksum_v4(v4, v4), p.verify_checksum_v6(&v6, &v6));
    }
    if let Ok(p) = Icmpv4Packet::new_checked(data) {
        let _ = (
            p.msg_type(),
            p.msg_code(),
            p.checksum(),
            p.echo_ident(),
            p.echo_seq_no(),
        );
        let _ = (
            p.rest_of_header(),
            p.next_hop_mtu(),
            p.pointer(),
            p.payload(),
            p.verify_checksum(),
        );
    }
    if let Ok(p) = Icmpv6Packet::new_checked(data) {
        let _ = (
            p.msg_type(),
            p.msg_code(),
            p.checksum(),
            p.echo_ident(),
            p.echo_seq_no(),
        );
        let _ = (
            p.mtu(),
            p.pointer(),
            p.payload(),
            p.verify_checksum(&v6, &v6),
        );
    }
    if let Ok(n) = NdpNeighbor::new_checked(data) {
        let _ = (
            n.msg_type(),
            n.target_addr(),
            n.router_flag(),
            n.solicited_flag(),
            n.override_flag(),
        );
        let _ = (n.source_ll_addr(), n.target_ll_addr());
        assert!(n.options().all(|o| o.is_ok()));
    }
}

fn config() -> XlatConfig {
    XlatConfig::default()
}

/// Classify and translate the input as an IPv6 packet (RFC 7915 §5).
pub fn xlat_6to4(data: &[u8]) {
    let _ = flow6(data);
    let plan = Plan {
        outer: Rewrite {
            src: Ipv4Addr::new(203, 0, 113, 1),
            dst: Ipv4Addr::new(198, 51, 100, 7),
            src_port: 2048,
            dst_port: 53,
        },
        inner: Some(Rewrite {
            src: Ipv4Addr::new(198, 51, 100, 7),
            dst: Ipv4Addr::new(203, 0, 113, 1),
            src_port: 53,
            dst_port: 2048,
        }),
    };
    let Some(mut mem) = room(data) else { return };
    let Some(mut buf) = PacketBuf::new(&mut mem, HEADROOM, data.len()) else {
        return;
    };
    let v = translate_6to4(&mut buf, &plan, &config(), &mut XlatState::default());
    if let Verdict::Forward = v {
        // What leaves must itself be a well-formed IPv4 packet.
        assert!(
            Ipv4Packet::new_checked(buf.data()).is_ok(),
            "6to4 emitted a malformed IPv4 packet"
        );
    }
}

/// Classify and translate the input as an IPv4 packet (RFC 7915 §4),
/// fragmenting when told to.
pub fn xlat_4to6(data: &[u8]) {
    let _ = flow4(data);
    let client = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 0x10);
    let server = Ipv6Addr::new(0x2001, 0xdb8, 0x64, 0, 0, 0, 0xc633, 0x6407);
    let plan = Plan {
        outer: Rewrite {
            src: server,
            dst: client,
            src_port: 53,
            dst_port: 40000,
        },
        inner: Some(Rewrite {
            src: client,
            dst: server,
            src_port: 40000,
            dst_port: 53,
        }),
    };
    let Some(mut mem) = room(data) else { return };
    let Some(mut buf) = PacketBuf::new(&mut mem, HEADROOM, data.len()) else {
        return;
    };
    let cfg = config();
    match translate_4to6(&mut buf, &plan, &cfg, &mut XlatState::default()) {
        Verdict::Forward => {
            assert!(
                Ipv6Packet::new_checked(buf.data()).is_ok(),
                "4to6 emitted a malformed IPv6 packet"
            );
        }
        Verdict::Fragment { mtu } => {
            let _ = fragment_ipv6(buf.data(), mtu, &mut |head: &[u8], piece: &[u8]| {
                assert!(
                    head.len() + piece.len() <= usize::from(mtu),
                    "fragment larger than the MTU"
                );
                true
            });
        }
        _ => {}
    }
}

fn room(data: &[u8]) -> Option<Vec<u8>> {
    if data.len() > ROOM - HEADROOM {
        return None;
    }
    let mut mem = vec![0u8; ROOM];
    mem[HEADROOM..HEADROOM + data.len()].copy_from_slice(data);
    Some(mem)
}

/// The box the `dataplane_frames` harness (and the dataplane's unit tests)
/// classify for: inside 2001:db8:1::1/64 via 2001:db8:1::fe (MAC 02::11,
/// link-local fe80::11), outside 198.51.100.1/24 via 198.51.100.254 (MAC
/// 02::22), pool 192.0.2.0/28, prefix 2001:db8:64::/96.
pub fn dataplane_own() -> &'static crate::dataplane::BoxIdentity {
    static OWN: std::sync::OnceLock<crate::dataplane::BoxIdentity> = std::sync::OnceLock::new();
    OWN.get_or_init(|| {
        let pool = crate::config::Pool4 {
            addresses: vec![crate::config::Ipv4Range {
                first: Ipv4Addr::new(192, 0, 2, 0),
                last: Ipv4Addr::new(192, 0, 2, 15),
            }],
            port_range: (1024, 65535),
            block_size: 512,
            max_blocks_per_subscriber: 8,
            max_sessions_per_subscriber: 4096,
            subscriber_prefix_len: 56,
            aggregate_prefix_len: 48,
            max_blocks_per_aggregate: 0,
            block_allocations_per_second: 100,
            allocation: crate::config::Allocation::Dynamic,
            paired: true,
            deterministic_inside: None,
        };
        crate::dataplane::BoxIdentity {
            inside_mac: [0x02, 0, 0, 0, 0, 0x11],
            outside_mac: [0x02, 0, 0, 0, 0, 0x22],
            inside: Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 1),
            inside_link_local: Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0x11),
            inside_prefix_len: 64,
            inside_extra: vec![Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 0x53)],
            inside_gateway: Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 0xfe),
            outside: Ipv4Addr::new(198, 51, 100, 1),
            outside_prefix_len: 24,
            outside_gateway: Ipv4Addr::new(198, 51, 100, 254),
            prefix: crate::xlat::rfc6052::Nat64Prefix::new(
                Ipv6Addr::new(0x2001, 0xdb8, 0x64, 0, 0, 0, 0, 0),
                96,
            )
            .expect("a valid prefix"),
            pool: std::sync::Arc::new(crate::nat64::pool4::PoolLayout::new(&pool, &[], 1)),
        }
    })
}

/// Classify the input as a received frame (`dataplane::classify`), then
/// run the in-place responders on its L3 part. The first byte steers: bit
/// 0 picks the side (0 inside, 1 outside); bits 1-2 rewrite the Ethernet
/// destination (keep, the side's MAC, broadcast, 33:33:ff:00:00:01) so
/// mutated frames get past the MAC filter; bits 3-6 are the tailroom.
pub fn dataplane_frames(data: &[u8]) {
    use crate::dataplane::{classify, local};
    let Some((&ctl, frame)) = data.split_first() else {
        return;
    };
    let own = dataplane_own();
    let outside = ctl & 1 == 1;
    let mut bytes = frame.to_vec();
    let mac = if outside {
        own.outside_mac
    } else {
        own.inside_mac
    };
    let dst = match (ctl >> 1) & 3 {
        0 => None,
        1 => Some(mac),
        2 => Some([0xff; 6]),
        _ => Some([0x33, 0x33, 0xff, 0, 0, 1]),
    };
    if let (Some(dst), Some(slot)) = (dst, bytes.get_mut(..6)) {
        slot.copy_from_slice(&dst);
    }
    let tail = usize::from((ctl >> 3) & 15);
    let mut mem = vec![0u8; HEADROOM + bytes.len() + tail];
    mem[HEADROOM..HEADROOM + bytes.len()].copy_from_slice(&bytes);
    let Some(mut buf) = PacketBuf::new(&mut mem, HEADROOM, bytes.len()) else {
        return;
    };
    let v = if outside {
        classify::outside_frame(&mut buf, own)
    } else {
        classify::inside_frame(&mut buf, own)
    };
    match v.action {
        classify::L2Action::Nat64 { l3 } => {
            assert!(l3 <= buf.len(), "L3 offset past the frame");
            assert_eq!(
                buf.data(),
                &bytes[..buf.len()],
                "a NAT64 frame is only trimmed"
            );
        }
        classify::L2Action::Reply => {
            assert!(
                classify::reply_kind(buf.data()).is_some(),
                "a reply of no known kind"
            );
        }
        classify::L2Action::Exception | classify::L2Action::Drop(_) => {
            assert_eq!(buf.data(), &bytes[..], "a frame not answered is untouched");
        }
    }
    // The responders on their own, over whatever follows the Ethernet header.
    let mut l3 = frame.get(14..).unwrap_or(&[]).to_vec();
    let _ = local::echo_reply_ipv4(&mut l3);
    let _ = local::echo_reply_ipv6(&mut l3);
    let _ = local::echo_reply_ipv6_from(&mut l3, own.inside);
    let _ = local::arp_reply(&mut l3, own.outside_mac);
    let _ = local::parse_ns(&l3);
    let _ = local::parse_na(&l3);
}

/// The DNS64 core over one exchange. Byte 0 picks the settings (bit 0
/// `filter_a`, bit 1 `synthesize_on_error`, bit 2
/// `allow_non_global_ipv4`, bit 3 a /64 prefix in place of the well-known
/// one, bit 4 192.0.2.0/24 denied); bytes 1..3 are the query's length (big-endian); then the query,
/// then the upstream's response, handed back to every question the core
/// asks (an empty one counts as a failed upstream). The whole input is
/// also tried as a query.
pub fn dns64_exchange(data: &[u8]) {
    use crate::config::Ipv6Prefix;
    use crate::dns64::{Dns64, Settings, Step, UpstreamReply};
    use crate::xlat::rfc6052::Nat64Prefix;

    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let prefix = if flags & 8 != 0 {
        Nat64Prefix::new(Ipv6Addr::new(0x2001, 0xdb8, 0x122, 0x344, 0, 0, 0, 0), 64)
            .unwrap_or(Nat64Prefix::WELL_KNOWN)
    } else {
        Nat64Prefix::WELL_KNOWN
    };
    let core = Dns64::new(Settings {
        prefix,
        exclude: vec![Ipv6Prefix {
            addr: Ipv6Addr::new(0, 0, 0, 0, 0, 0xffff, 0, 0),
            len: 96,
        }],
        filter_a: flags & 1 != 0,
        synthesize_ptr: true,
        synthesize_on_error: flags & 2 != 0,
        allow_non_global_ipv4: flags & 4 != 0,
        // Bit 4: the documentation ranges denied (`translation.deny4`).
        deny4: if flags & 16 != 0 {
            crate::xlat::rfc6052::Ipv4Spans::new([(
                Ipv4Addr::new(192, 0, 2, 0),
                Ipv4Addr::new(192, 0, 2, 255),
            )])
        } else {
            crate::xlat::rfc6052::Ipv4Spans::default()
        },
    });
    let _ = core.query(data);
    let [hi, lo, rest @ ..] = rest else {
        return;
    };
    let len = usize::from(u16::from_be_bytes([*hi, *lo])).min(rest.len());
    let (query, response) = rest.split_at(len);
    let mut step = core.query(query);
    // At most two questions per query (AAAA then A); a third would be a bug
    // the loop bound does not hide: it simply stops.
    for _ in 0..3 {
        let Step::Ask(ask) = step else {
            return;
        };
        let _ = ask.question.to_query(0x1234);
        let upstream = if response.is_empty() {
            UpstreamReply::Failed
        } else {
            UpstreamReply::Response(response)
        };
        step = core.resume(ask.pending, upstream);
    }
}
