//! Fuzz harnesses shared by the cargo-fuzz targets in `fuzz/` and by the
//! seed-corpus test (`tests/fuzz_corpus.rs`), so the corpora run in CI
//! without a fuzzing toolchain. Each harness must return normally for any
//! input: a panic is the bug the fuzzer looks for.

use crate::wire::{self, checksum};
use crate::xlat::v4to6::{flow4, fragment_ipv6, translate_4to6};
use crate::xlat::v6to4::{flow6, translate_6to4};
use crate::xlat::{PacketBuf, Plan, Rewrite, Verdict, XlatConfig, XlatState};
use std::net::{Ipv4Addr, Ipv6Addr};

/// Headroom and room of an mbuf-shaped buffer.
const HEADROOM: usize = 128;
const ROOM: usize = 128 + 9216;

/// Every view's `new_checked` and every accessor, on the input read as an
/// Ethernet frame, an IPv4 packet and an IPv6 packet.
pub fn wire_parse(data: &[u8]) {
    let _ = checksum::checksum(data);
    if let Ok(eth) = wire::EthernetFrame::new_checked(data) {
        let _ = (eth.dst_addr(), eth.src_addr(), eth.vlan(), eth.ethertype());
        let l3 = eth.payload();
        if let Ok(arp) = wire::ArpPacket::new_checked(l3) {
            let _ = (arp.operation(), arp.sender_hw(), arp.sender_ip(), arp.target_hw(), arp.target_ip());
        }
        ip(l3);
    }
    ip(data);
}

fn ip(data: &[u8]) {
    if let Ok(p) = wire::Ipv4Packet::new_checked(data) {
        let _ = (p.tos(), p.ident(), p.dont_frag(), p.more_frags(), p.frag_offset(), p.ttl());
        let _ = (p.src_addr(), p.dst_addr(), p.options(), p.verify_checksum());
        l4(p.protocol(), p.payload());
    }
    if let Ok(p) = wire::Ipv6Packet::new_checked(data) {
        let _ = (p.traffic_class(), p.flow_label(), p.hop_limit(), p.src_addr(), p.dst_addr());
        if let Ok(chain) = wire::walk_ext_headers(data) {
            if let Some(rest) = data.get(chain.upper_offset..) {
                l4(chain.upper_proto, rest);
            }
        }
    }
}

fn l4(proto: u8, data: &[u8]) {
    use wire::ip_proto;
    match proto {
        ip_proto::UDP => {
            if let Ok(u) = wire::UdpPacket::new_checked(data) {
                let _ = (u.src_port(), u.dst_port(), u.len(), u.checksum(), u.payload());
            }
        }
        ip_proto::TCP => {
            if let Ok(t) = wire::TcpPacket::new_checked(data) {
                let _ = (t.src_port(), t.seq_number(), t.ack_number(), t.flags(), t.payload());
            }
        }
        ip_proto::ICMP => {
            if let Ok(i) = wire::Icmpv4Packet::new_checked(data) {
                let _ = (i.msg_type(), i.msg_code(), i.echo_ident(), i.next_hop_mtu(), i.pointer());
                let _ = i.verify_checksum();
                ip(i.payload());
            }
        }
        ip_proto::ICMPV6 => {
            if let Ok(i) = wire::Icmpv6Packet::new_checked(data) {
                let _ = (i.msg_type(), i.msg_code(), i.echo_ident(), i.mtu(), i.pointer());
                ip(i.payload());
            }
        }
        _ => {}
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
    let Some(mut buf) = PacketBuf::new(&mut mem, HEADROOM, data.len()) else { return };
    let v = translate_6to4(&mut buf, &plan, &config(), &mut XlatState::default());
    if let Verdict::Forward = v {
        // What leaves must itself be a well-formed IPv4 packet.
        assert!(wire::Ipv4Packet::new_checked(buf.data()).is_ok(), "6to4 emitted a malformed IPv4 packet");
    }
}

/// Classify and translate the input as an IPv4 packet (RFC 7915 §4),
/// fragmenting when told to.
pub fn xlat_4to6(data: &[u8]) {
    let _ = flow4(data);
    let client = Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 0x10);
    let server = Ipv6Addr::new(0x2001, 0xdb8, 0x64, 0, 0, 0, 0xc633, 0x6407);
    let plan = Plan {
        outer: Rewrite { src: server, dst: client, src_port: 53, dst_port: 40000 },
        inner: Some(Rewrite { src: client, dst: server, src_port: 40000, dst_port: 53 }),
    };
    let Some(mut mem) = room(data) else { return };
    let Some(mut buf) = PacketBuf::new(&mut mem, HEADROOM, data.len()) else { return };
    let cfg = config();
    match translate_4to6(&mut buf, &plan, &cfg, &mut XlatState::default()) {
        Verdict::Forward => {
            assert!(wire::Ipv6Packet::new_checked(buf.data()).is_ok(), "4to6 emitted a malformed IPv6 packet");
        }
        Verdict::Fragment { mtu } => {
            let _ = fragment_ipv6(buf.data(), mtu, &mut |frag: &[u8]| {
                assert!(frag.len() <= usize::from(mtu), "fragment larger than the MTU");
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
