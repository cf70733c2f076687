use super::*;
use crate::dataplane::l2::tests::{own, IN_MAC, OUT_MAC};
use etherparse::{
    EtherType, Ethernet2Header, Icmpv4Slice, Icmpv6Slice, Ipv4HeaderSlice, Ipv6HeaderSlice,
    PacketBuilder, VlanId,
};
use proptest::prelude::*;

const PEER_MAC: Mac = [0x02, 0, 0, 0, 0, 0x99];
const HEADROOM: usize = 128;

fn a6(s: &str) -> Ipv6Addr {
    s.parse().unwrap()
}

/// A frame in a buffer with headroom and `tail` bytes of tailroom.
struct Frame {
    mem: Vec<u8>,
    len: usize,
}

impl Frame {
    fn new(bytes: &[u8], tail: usize) -> Frame {
        let mut mem = vec![0u8; HEADROOM + bytes.len() + tail];
        mem[HEADROOM..HEADROOM + bytes.len()].copy_from_slice(bytes);
        Frame {
            mem,
            len: bytes.len(),
        }
    }

    /// Runs `f` over the frame; returns the verdict and the bytes after.
    fn run(
        &mut self,
        f: fn(&mut PacketBuf, &BoxIdentity) -> L2Verdict,
        own: &BoxIdentity,
    ) -> (L2Verdict, Vec<u8>) {
        let mut b = PacketBuf::new(&mut self.mem, HEADROOM, self.len).unwrap();
        let v = f(&mut b, own);
        let out = b.data().to_vec();
        self.len = out.len();
        (v, out)
    }
}

fn inside(bytes: &[u8]) -> (L2Verdict, Vec<u8>) {
    Frame::new(bytes, 64).run(inside_frame, &own())
}

fn outside(bytes: &[u8]) -> (L2Verdict, Vec<u8>) {
    Frame::new(bytes, 64).run(outside_frame, &own())
}

fn drop(reason: L2Drop) -> L2Verdict {
    L2Verdict::drop(reason)
}

fn exception(learn: Option<(IpAddr, Mac)>) -> L2Verdict {
    L2Verdict {
        action: L2Action::Exception,
        learn,
    }
}

/// An ICMPv6 message of raw type in an Ethernet frame, built by
/// etherparse (which computes the checksum).
fn icmp6_frame(
    dst_mac: Mac,
    src: Ipv6Addr,
    dst: Ipv6Addr,
    hop: u8,
    kind: u8,
    flags: u8,
    body: &[u8],
) -> Vec<u8> {
    let mut v = Vec::new();
    PacketBuilder::ethernet2(PEER_MAC, dst_mac)
        .ipv6(src.octets(), dst.octets(), hop)
        .icmpv6_raw(kind, 0, [flags, 0, 0, 0])
        .write(&mut v, body)
        .unwrap();
    v
}

fn ns_frame(
    dst_mac: Mac,
    src: Ipv6Addr,
    dst: Ipv6Addr,
    target: Ipv6Addr,
    sll: Option<Mac>,
) -> Vec<u8> {
    let mut body = target.octets().to_vec();
    if let Some(m) = sll {
        body.extend_from_slice(&[1, 1]); // SLLA option, 8 bytes
        body.extend_from_slice(&m);
    }
    icmp6_frame(dst_mac, src, dst, 255, 135, 0, &body)
}

fn echo6_frame(dst_mac: Mac, src: Ipv6Addr, dst: Ipv6Addr) -> Vec<u8> {
    let mut v = Vec::new();
    PacketBuilder::ethernet2(PEER_MAC, dst_mac)
        .ipv6(src.octets(), dst.octets(), 64)
        .icmpv6_echo_request(5, 6)
        .write(&mut v, b"ping")
        .unwrap();
    v
}

fn udp6_frame(dst_mac: Mac, src: Ipv6Addr, dst: Ipv6Addr) -> Vec<u8> {
    let mut v = Vec::new();
    PacketBuilder::ethernet2(PEER_MAC, dst_mac)
        .ipv6(src.octets(), dst.octets(), 64)
        .udp(1000, 53)
        .write(&mut v, b"query")
        .unwrap();
    v
}

/// Checks an NA frame with etherparse: Ethernet, IPv6, ICMPv6 checksum,
/// flags and the TLLA option.
fn assert_na(out: &[u8], l3: usize, eth_dst: Mac, ip_dst: Ipv6Addr, target: Ipv6Addr, flags: u8) {
    let eth = Ethernet2Header::from_slice(out).unwrap().0;
    assert_eq!((eth.destination, eth.source), (eth_dst, IN_MAC));
    assert_eq!(out.len(), l3 + 72);
    let ip = Ipv6HeaderSlice::from_slice(&out[l3..]).unwrap();
    assert_eq!((ip.source_addr(), ip.destination_addr()), (target, ip_dst));
    assert_eq!(ip.hop_limit(), 255);
    let icmp = Icmpv6Slice::from_slice(&out[l3 + 40..]).unwrap();
    assert_eq!((icmp.type_u8(), icmp.code_u8()), (136, 0));
    assert!(icmp.is_checksum_valid(target.octets(), ip_dst.octets()));
    assert_eq!(icmp.bytes5to8(), [flags, 0, 0, 0]);
    let mut body = target.octets().to_vec();
    body.extend_from_slice(&[2, 1]);
    body.extend_from_slice(&IN_MAC);
    assert_eq!(icmp.payload(), &body[..]);
}

#[test]
fn reply_kind_names_each_responder() {
    let o = own();
    let group = crate::dataplane::l2::solicited_node(&o.inside);
    let ns = ns_frame(multicast_mac(&group), a6("fe80::99"), group, o.inside, None);
    let cases = [
        (ns, Some(LocalReply::Nd)),
        (
            echo6_frame(IN_MAC, a6("fe80::99"), o.inside),
            Some(LocalReply::Echo6),
        ),
    ];
    for (f, want) in cases {
        let (v, out) = inside(&f);
        assert_eq!(v.action, L2Action::Reply);
        assert_eq!(reply_kind(&out), want);
        assert_eq!(reply_kind(&f), None, "requests are not replies");
    }
    let arp = arp_frame(
        [0xff; 6],
        1,
        PEER_MAC,
        [198, 51, 100, 254],
        [198, 51, 100, 1],
    );
    let echo = v4_frame(OUT_MAC, [203, 0, 113, 9], [198, 51, 100, 1], true);
    assert_eq!(reply_kind(&outside(&arp).1), Some(LocalReply::Arp));
    assert_eq!(reply_kind(&outside(&echo).1), Some(LocalReply::Echo4));
    assert_eq!(reply_kind(&echo), None);
    assert_eq!(reply_kind(&[]), None);
    let names: Vec<_> = LocalReply::ALL.iter().map(|k| k.name()).collect();
    assert_eq!(names, ["arp", "nd", "echo4", "echo6"]);
    assert!(LocalReply::ALL
        .iter()
        .enumerate()
        .all(|(i, k)| k.index() == i));
}

/// The fuzz seeds (written by a Python script, field by field, with
/// their own checksums) reach the paths they are meant to seed.
#[test]
fn fuzz_seeds_reach_their_paths() {
    macro_rules! seed {
        ($name:literal) => {
            include_bytes!(concat!("../../../fuzz/corpus/dataplane_frames/", $name))
        };
    }
    let reply = L2Verdict::of(L2Action::Reply);
    let nat = L2Verdict::of(L2Action::Nat64 { l3: 14 });
    let cases: [(&[u8], L2Action); 10] = [
        (seed!("seed-in-ns"), reply.action),
        (seed!("seed-in-ns-dad"), reply.action),
        (seed!("seed-in-na"), L2Action::Exception),
        (seed!("seed-in-echo6"), reply.action),
        (seed!("seed-in-echo6-allnodes"), reply.action),
        (seed!("seed-in-nat64-udp"), nat.action),
        (seed!("seed-out-arp-request"), reply.action),
        (seed!("seed-out-arp-reply"), L2Action::Exception),
        (seed!("seed-out-echo4"), reply.action),
        (seed!("seed-out-nat64-padded"), nat.action),
    ];
    for (i, (data, want)) in cases.into_iter().enumerate() {
        let (ctl, frame) = data.split_first().unwrap();
        let f = if ctl & 1 == 1 {
            outside_frame
        } else {
            inside_frame
        };
        let (v, _) = Frame::new(frame, 16).run(f, &own());
        assert_eq!(v.action, want, "seed {i}");
        crate::fuzzing::dataplane_frames(data);
    }
}

#[test]
fn drop_reasons_are_indexed_and_named_once() {
    assert_eq!(L2Drop::ALL.len(), L2Drop::COUNT);
    let mut names = std::collections::HashSet::new();
    for (i, d) in L2Drop::ALL.iter().enumerate() {
        assert_eq!(d.index(), i);
        assert!(names.insert(d.name()), "{}", d.name());
    }
    // The series share `nat64_drops_total` with the pipeline's reasons.
    for d in crate::xlat::DropReason::ALL {
        assert!(!names.contains(d.name()), "{}", d.name());
    }
    for d in crate::nat64::pipeline::Nat64Drop::ALL {
        assert!(!names.contains(d.name()), "{}", d.name());
    }
}

#[test]
fn rfc4861_7_2_3_ns_for_our_address_answered_with_solicited_na() {
    let o = own();
    let peer = a6("2001:db8:1::99");
    for target in [o.inside, o.inside_link_local] {
        let group = crate::dataplane::l2::solicited_node(&target);
        let f = ns_frame(
            multicast_mac(&group),
            peer,
            group,
            target,
            Some([0x02, 0, 0, 0, 0, 0x77]),
        );
        let (v, out) = inside(&f);
        assert_eq!(
            v,
            L2Verdict {
                action: L2Action::Reply,
                learn: Some((IpAddr::V6(peer), [0x02, 0, 0, 0, 0, 0x77])),
            }
        );
        // §7.2.4: unicast to the SLLA, flags R, S, O.
        assert_na(&out, 14, [0x02, 0, 0, 0, 0, 0x77], peer, target, 0xe0);
    }
    // NUD probe: unicast, no SLLA: answered to the frame's source MAC, nothing learned.
    let f = ns_frame(IN_MAC, peer, o.inside, o.inside, None);
    let (v, out) = inside(&f);
    assert_eq!(v.action, L2Action::Reply);
    assert_eq!(v.learn, None);
    assert_na(&out, 14, PEER_MAC, peer, o.inside, 0xe0);
}

#[test]
fn rfc4861_7_2_4_dad_ns_answered_to_all_nodes_without_s_flag() {
    let o = own();
    let group = crate::dataplane::l2::solicited_node(&o.inside);
    let f = ns_frame(
        multicast_mac(&group),
        Ipv6Addr::UNSPECIFIED,
        group,
        o.inside,
        None,
    );
    assert_eq!(f.len(), 14 + 64);
    let (v, out) = inside(&f);
    assert_eq!(v, L2Verdict::of(L2Action::Reply));
    // The NA is 8 bytes longer than the DAD NS: the frame grew.
    assert_na(
        &out,
        14,
        [0x33, 0x33, 0, 0, 0, 1],
        a6("ff02::1"),
        o.inside,
        0xa0,
    );
    // Without tailroom it cannot be answered.
    let (v, out) = Frame::new(&f, 0).run(inside_frame, &o);
    assert_eq!(v, drop(L2Drop::NoRoom));
    assert_eq!(out, f);
}

/// Issue 15: the box is configured for no VLAN, so a frame tagged with
/// any VLAN ID is dropped and counted (before, an NS on VLAN 42 was
/// answered and a NAT64 packet on VLAN 7 translated); a priority tag (VID
/// 0, IEEE 802.1Q §9.6: no VLAN) is still accepted.
#[test]
fn ieee802_1q_frames_on_an_unconfigured_vlan_are_dropped() {
    let host = a6("2001:db8:1::99");
    let nat = a6("2001:db8:64::c000:205");
    for (vid, pcp) in [(42u16, 0u8), (7, 5), (4095, 0), (1, 7)] {
        let mut f = Vec::new();
        PacketBuilder::ethernet2(PEER_MAC, IN_MAC)
            .single_vlan(VlanId::try_new(vid).unwrap())
            .ipv6(host.octets(), nat.octets(), 64)
            .udp(1, 2)
            .write(&mut f, b"x")
            .unwrap();
        f[14] |= pcp << 5;
        assert_eq!(inside(&f).0, drop(L2Drop::UnknownVlan), "vid {vid}");
        let mut f = Vec::new();
        PacketBuilder::ethernet2(PEER_MAC, OUT_MAC)
            .single_vlan(VlanId::try_new(vid).unwrap())
            .ipv4([198, 51, 100, 9], [192, 0, 2, 5], 64)
            .udp(1, 2)
            .write(&mut f, b"x")
            .unwrap();
        assert_eq!(outside(&f).0, drop(L2Drop::UnknownVlan), "vid {vid}");
    }
    let mut f = Vec::new();
    PacketBuilder::ethernet2(PEER_MAC, IN_MAC)
        .single_vlan(VlanId::try_new(0).unwrap())
        .ipv6(host.octets(), nat.octets(), 64)
        .udp(1, 2)
        .write(&mut f, b"x")
        .unwrap();
    f[14] |= 3 << 5;
    assert_eq!(inside(&f).0, L2Verdict::of(L2Action::Nat64 { l3: 18 }));
    assert_eq!(L2Drop::UnknownVlan.name(), "unknown_vlan");
}

#[test]
fn ieee802_1q_priority_tagged_ns_keeps_its_tag() {
    let o = own();
    let peer = a6("fe80::99");
    let group = crate::dataplane::l2::solicited_node(&o.inside_link_local);
    let mut body = o.inside_link_local.octets().to_vec();
    body.extend_from_slice(&[1, 1, 0x02, 0, 0, 0, 0, 0x99]);
    let mut f = Vec::new();
    PacketBuilder::ethernet2(PEER_MAC, multicast_mac(&group))
        .single_vlan(VlanId::try_new(0).unwrap())
        .ipv6(peer.octets(), group.octets(), 255)
        .icmpv6_raw(135, 0, [0; 4])
        .write(&mut f, &body)
        .unwrap();
    let (v, out) = inside(&f);
    assert_eq!(v.action, L2Action::Reply);
    assert_eq!(v.learn, Some((IpAddr::V6(peer), PEER_MAC)));
    assert_eq!(&out[12..16], &[0x81, 0x00, 0x00, 0]);
    assert_eq!(&out[16..18], &[0x86, 0xdd]);
    assert_eq!(&out[..6], &PEER_MAC);
    let icmp = Icmpv6Slice::from_slice(&out[18 + 40..]).unwrap();
    assert!(icmp.is_checksum_valid(o.inside_link_local.octets(), peer.octets()));
    assert_eq!(out.len(), 18 + 72);
}

#[test]
fn rfc4861_7_1_1_ns_refused_matrix() {
    let o = own();
    let peer = a6("2001:db8:1::99");
    let group = crate::dataplane::l2::solicited_node(&o.inside);
    let mac = multicast_mac(&group);
    let mut hop64 = ns_frame(mac, peer, group, o.inside, Some(PEER_MAC));
    hop64[14 + 7] = 64;
    let mut bad_csum = ns_frame(mac, peer, group, o.inside, Some(PEER_MAC));
    bad_csum[14 + 40 + 2] ^= 0xff;
    let other = a6("2001:db8:1::5");
    let other_group = crate::dataplane::l2::solicited_node(&other);
    let cases = [
        ("hop-limit-64", hop64, drop(L2Drop::BadNd)),
        ("bad-checksum", bad_csum, drop(L2Drop::BadNd)),
        (
            "dad-with-slla",
            ns_frame(mac, Ipv6Addr::UNSPECIFIED, group, o.inside, Some(PEER_MAC)),
            drop(L2Drop::BadNd),
        ),
        (
            "other-target",
            ns_frame(
                multicast_mac(&other_group),
                peer,
                other_group,
                other,
                Some(PEER_MAC),
            ),
            drop(L2Drop::NdNotForUs),
        ),
        (
            "to-another-host-unicast",
            ns_frame(IN_MAC, peer, other, other, Some(PEER_MAC)),
            drop(L2Drop::NotOurAddress),
        ),
    ];
    for (name, f, want) in cases {
        let (v, out) = inside(&f);
        assert_eq!(v, want, "{name}");
        assert_eq!(out, f, "{name}: untouched");
    }
}

#[test]
fn rfc4861_7_2_5_na_goes_to_kernel_and_is_learned() {
    let o = own();
    let peer = a6("2001:db8:1::99");
    let mut body = peer.octets().to_vec();
    body.extend_from_slice(&[2, 1, 0x02, 0, 0, 0, 0, 0x55]); // TLLA
    let f = icmp6_frame(IN_MAC, peer, o.inside, 255, 136, 0x60, &body);
    let (v, out) = inside(&f);
    assert_eq!(
        v,
        exception(Some((IpAddr::V6(peer), [0x02, 0, 0, 0, 0, 0x55])))
    );
    assert_eq!(out, f);
    // Unsolicited to all-nodes: learned too (the cache only updates or fills a free slot).
    let all = a6("ff02::1");
    let f = icmp6_frame(multicast_mac(&all), peer, all, 255, 136, 0x20, &body);
    assert_eq!(
        inside(&f).0.learn,
        Some((IpAddr::V6(peer), [0x02, 0, 0, 0, 0, 0x55]))
    );
    // Without TLLA: nothing to learn.
    let f = icmp6_frame(IN_MAC, peer, o.inside, 255, 136, 0x60, &peer.octets());
    assert_eq!(inside(&f).0, exception(None));
    // Claiming our own address: the kernel's business (DAD), not learned.
    let mut own_body = o.inside.octets().to_vec();
    own_body.extend_from_slice(&[2, 1, 0x02, 0, 0, 0, 0, 0x55]);
    let f = icmp6_frame(multicast_mac(&all), peer, all, 255, 136, 0x20, &own_body);
    assert_eq!(inside(&f).0, exception(None));
    // §7.1.2: S flag on a multicast NA: invalid.
    let f = icmp6_frame(multicast_mac(&all), peer, all, 255, 136, 0x60, &body);
    assert_eq!(inside(&f).0, drop(L2Drop::BadNd));
}

#[test]
fn rfc4443_4_2_echo_requests_to_the_box_inside() {
    let o = own();
    let cases = [
        // (sender, destination, frame dst MAC, expected reply source)
        (a6("2001:db8:1::99"), o.inside, IN_MAC, o.inside),
        (a6("2001:db8:7::99"), o.inside, IN_MAC, o.inside),
        (
            a6("fe80::99"),
            o.inside_link_local,
            IN_MAC,
            o.inside_link_local,
        ),
        (
            a6("fe80::99"),
            a6("ff02::1"),
            [0x33, 0x33, 0, 0, 0, 1],
            o.inside_link_local,
        ),
        (
            a6("2001:db8:1::99"),
            a6("ff02::1"),
            [0x33, 0x33, 0, 0, 0, 1],
            o.inside,
        ),
        (
            a6("fe80::99"),
            a6("ff02::2"),
            [0x33, 0x33, 0, 0, 0, 2],
            o.inside_link_local,
        ),
    ];
    for (src, dst, mac, from) in cases {
        let f = echo6_frame(mac, src, dst);
        let (v, out) = inside(&f);
        assert_eq!(v, L2Verdict::of(L2Action::Reply), "{dst}");
        let eth = Ethernet2Header::from_slice(&out).unwrap().0;
        assert_eq!((eth.destination, eth.source), (PEER_MAC, IN_MAC));
        let ip = Ipv6HeaderSlice::from_slice(&out[14..]).unwrap();
        assert_eq!(
            (ip.source_addr(), ip.destination_addr()),
            (from, src),
            "{dst}"
        );
        let icmp = Icmpv6Slice::from_slice(&out[54..]).unwrap();
        assert_eq!(
            icmp.icmp_type(),
            etherparse::Icmpv6Type::EchoReply(etherparse::IcmpEchoHeader { id: 5, seq: 6 })
        );
        assert_eq!(icmp.payload(), b"ping");
        assert!(icmp.is_checksum_valid(from.octets(), src.octets()));
    }
    // A group the box is not in: the kernel decides.
    let g = a6("ff05::1:3");
    let f = echo6_frame(multicast_mac(&g), a6("fe80::99"), g);
    assert_eq!(inside(&f), (exception(None), f.clone()));
    // A broken request: the kernel decides.
    let mut f = echo6_frame(IN_MAC, a6("fe80::99"), o.inside);
    f[14 + 40 + 2] ^= 1;
    assert_eq!(inside(&f), (exception(None), f.clone()));
}

#[test]
fn inside_matrix() {
    let o = own();
    let host = a6("2001:db8:1::99");
    let nat = a6("2001:db8:64::c000:205"); // 192.0.2.5 under the prefix
    let mut padded = udp6_frame(IN_MAC, host, nat);
    let real = padded.len();
    padded.extend_from_slice(&[0xEE; 6]); // trailer after the IPv6 packet
    let mut tagged = Vec::new();
    PacketBuilder::ethernet2(PEER_MAC, IN_MAC)
        .single_vlan(VlanId::try_new(0).unwrap())
        .ipv6(host.octets(), nat.octets(), 64)
        .udp(1, 2)
        .write(&mut tagged, b"x")
        .unwrap();
    let mut ipv4 = Vec::new();
    PacketBuilder::ethernet2(PEER_MAC, IN_MAC)
        .ipv4([192, 0, 2, 9], [192, 0, 2, 1], 64)
        .udp(1, 2)
        .write(&mut ipv4, b"x")
        .unwrap();
    let mut arp = Ethernet2Header {
        source: PEER_MAC,
        destination: [0xff; 6],
        ether_type: EtherType::ARP,
    }
    .to_bytes()
    .to_vec();
    arp.extend_from_slice(&[0; 28]);
    let mut qinq = udp6_frame(IN_MAC, host, nat);
    qinq[12..14].copy_from_slice(&[0x81, 0x00]);
    qinq.splice(14..14, [0, 0, 0x81, 0x00]);
    let mut bad_version = udp6_frame(IN_MAC, host, nat);
    bad_version[14] = 0x40;
    let mut src_group = udp6_frame(IN_MAC, host, nat);
    src_group[6] = 0x01;
    let mut short_payload = udp6_frame(IN_MAC, host, nat);
    short_payload.truncate(14 + 40 + 4);
    let cases: Vec<(&str, Vec<u8>, L2Verdict)> = vec![
        (
            "nat64",
            udp6_frame(IN_MAC, host, nat),
            L2Verdict::of(L2Action::Nat64 { l3: 14 }),
        ),
        (
            "nat64-tagged",
            tagged,
            L2Verdict::of(L2Action::Nat64 { l3: 18 }),
        ),
        (
            "udp-to-box",
            udp6_frame(IN_MAC, host, o.inside),
            exception(None),
        ),
        (
            "udp-to-all-nodes",
            udp6_frame([0x33, 0x33, 0, 0, 0, 1], host, a6("ff02::1")),
            exception(None),
        ),
        (
            "to-another-host",
            udp6_frame(IN_MAC, host, a6("2001:db8:1::5")),
            drop(L2Drop::NotOurAddress),
        ),
        (
            "unicast-in-group-frame",
            udp6_frame([0x33, 0x33, 0, 0, 0, 1], host, nat),
            drop(L2Drop::GroupFrameUnicastIp),
        ),
        (
            "unicast-in-broadcast",
            udp6_frame([0xff; 6], host, o.inside),
            drop(L2Drop::GroupFrameUnicastIp),
        ),
        (
            "other-mac",
            udp6_frame([0x02, 0, 0, 0, 0, 0x12], host, nat),
            drop(L2Drop::NotForUs),
        ),
        ("group-src-mac", src_group, drop(L2Drop::BadSrcMac)),
        ("ipv4", ipv4, drop(L2Drop::WrongFamily)),
        ("arp", arp, drop(L2Drop::WrongFamily)),
        ("qinq", qinq, drop(L2Drop::UnknownEthertype)),
        ("bad-version", bad_version, drop(L2Drop::BadIpv6)),
        ("truncated", short_payload, drop(L2Drop::BadIpv6)),
        // RFC 4291 §2.7: never translated (it would take a pool port).
        (
            "multicast-src",
            udp6_frame(IN_MAC, a6("ff0e::1"), nat),
            drop(L2Drop::BadIpv6),
        ),
        ("runt", vec![0; 13], drop(L2Drop::Runt)),
    ];
    for (name, f, want) in cases {
        let (v, out) = inside(&f);
        assert_eq!(v, want, "{name}");
        assert_eq!(out, f, "{name}: untouched");
    }
    let (v, out) = inside(&padded);
    assert_eq!(v, L2Verdict::of(L2Action::Nat64 { l3: 14 }));
    assert_eq!(out, padded[..real], "trailer trimmed");
}

/// An Ethernet + ARP frame, the ARP bytes written by hand (etherparse
/// 0.16 has no ARP).
#[rustfmt::skip]
fn arp_frame(dst_mac: Mac, op: u16, sha: Mac, spa: [u8; 4], tpa: [u8; 4]) -> Vec<u8> {
    let mut f = Ethernet2Header { source: sha, destination: dst_mac, ether_type: EtherType::ARP }
        .to_bytes()
        .to_vec();
    f.extend_from_slice(&[0x00, 0x01, 0x08, 0x00, 6, 4]); // Ethernet, IPv4, 6, 4
    f.extend_from_slice(&op.to_be_bytes());               // operation
    f.extend_from_slice(&sha);                            // sender hardware address
    f.extend_from_slice(&spa);                            // sender protocol address
    f.extend_from_slice(&[0; 6]);                         // target hardware address
    f.extend_from_slice(&tpa);                            // target protocol address
    f.extend_from_slice(&[0; 18]);                        // padding to 60 bytes
    f
}

#[test]
#[rustfmt::skip]
fn rfc826_request_for_our_addresses_answered_and_sender_learned() {
    let gw = [198, 51, 100, 254];
    for ours in [[198, 51, 100, 1], [192, 0, 2, 0], [192, 0, 2, 15]] {
        let f = arp_frame([0xff; 6], 1, PEER_MAC, gw, ours);
        let (v, out) = outside(&f);
        assert_eq!(
            v,
            L2Verdict {
                action: L2Action::Reply,
                learn: Some((IpAddr::V4(Ipv4Addr::from(gw)), PEER_MAC)),
            }
        );
        let mut expect = vec![
            0x02, 0, 0, 0, 0, 0x99,             // Ethernet dst: the requester
            0x02, 0, 0, 0, 0, 0x22,             // Ethernet src: outside MAC
            0x08, 0x06,                         // ARP
            0x00, 0x01, 0x08, 0x00, 6, 4,
            0x00, 0x02,                         // op: reply
            0x02, 0, 0, 0, 0, 0x22,             // sender: our MAC
        ];
        expect.extend_from_slice(&ours);        // sender: the address asked for
        expect.extend_from_slice(&PEER_MAC);    // target: the requester
        expect.extend_from_slice(&gw);
        expect.extend_from_slice(&[0; 18]);     // padding kept
        assert_eq!(out, expect);
    }
    // RFC 5227 probe (sender 0.0.0.0): answered, not learned.
    let f = arp_frame([0xff; 6], 1, PEER_MAC, [0; 4], [198, 51, 100, 1]);
    assert_eq!(outside(&f).0, L2Verdict::of(L2Action::Reply));
}

#[test]
fn rfc826_arp_matrix() {
    let peer = PEER_MAC;
    let gw = [198, 51, 100, 254];
    let learn_gw = Some((IpAddr::V4(Ipv4Addr::from(gw)), peer));
    let mut foreign_htype = arp_frame([0xff; 6], 1, peer, gw, [198, 51, 100, 1]);
    foreign_htype[15] = 6;
    let mut bcast_sha = arp_frame([0xff; 6], 1, peer, gw, [198, 51, 100, 1]);
    bcast_sha[22..28].copy_from_slice(&[0xff; 6]);
    let cases: Vec<(&str, Vec<u8>, L2Verdict)> = vec![
        (
            "reply-to-us",
            arp_frame(OUT_MAC, 2, peer, gw, [198, 51, 100, 1]),
            exception(learn_gw),
        ),
        (
            "reply-to-pool",
            arp_frame(OUT_MAC, 2, peer, gw, [192, 0, 2, 3]),
            exception(learn_gw),
        ),
        (
            "gratuitous-request",
            arp_frame([0xff; 6], 1, peer, gw, gw),
            exception(learn_gw),
        ),
        (
            "gratuitous-reply",
            arp_frame([0xff; 6], 2, peer, gw, gw),
            exception(learn_gw),
        ),
        (
            "request-for-other",
            arp_frame([0xff; 6], 1, peer, gw, [198, 51, 100, 7]),
            drop(L2Drop::ArpNotForUs),
        ),
        (
            "reply-for-other",
            arp_frame([0xff; 6], 2, peer, gw, [198, 51, 100, 7]),
            drop(L2Drop::ArpNotForUs),
        ),
        (
            "claims-our-address",
            arp_frame([0xff; 6], 1, peer, [198, 51, 100, 1], [198, 51, 100, 1]),
            drop(L2Drop::ArpConflict),
        ),
        (
            "claims-pool-address",
            arp_frame([0xff; 6], 2, peer, [192, 0, 2, 4], gw),
            drop(L2Drop::ArpConflict),
        ),
        (
            "op-3",
            arp_frame([0xff; 6], 3, peer, gw, [198, 51, 100, 1]),
            drop(L2Drop::BadArp),
        ),
        ("foreign-htype", foreign_htype, drop(L2Drop::BadArp)),
        ("broadcast-sha", bcast_sha, drop(L2Drop::BadArp)),
        (
            "truncated",
            arp_frame([0xff; 6], 1, peer, gw, [198, 51, 100, 1])[..41].to_vec(),
            drop(L2Drop::BadArp),
        ),
        (
            "to-other-mac",
            arp_frame([0x02, 0, 0, 0, 0, 0x33], 2, peer, gw, [198, 51, 100, 1]),
            drop(L2Drop::NotForUs),
        ),
    ];
    for (name, f, want) in cases {
        let (v, out) = outside(&f);
        assert_eq!(v, want, "{name}");
        assert_eq!(out, f, "{name}: untouched");
    }
    // ARP on the inside is the wrong family.
    let f = arp_frame([0xff; 6], 1, peer, gw, [198, 51, 100, 1]);
    assert_eq!(inside(&f).0, drop(L2Drop::WrongFamily));
}

fn v4_frame(dst_mac: Mac, src: [u8; 4], dst: [u8; 4], icmp_echo: bool) -> Vec<u8> {
    let mut v = Vec::new();
    let b = PacketBuilder::ethernet2(PEER_MAC, dst_mac).ipv4(src, dst, 64);
    if icmp_echo {
        b.icmpv4_echo_request(9, 10).write(&mut v, b"ping").unwrap();
    } else {
        b.udp(1000, 2000).write(&mut v, b"x").unwrap();
    }
    v
}

#[test]
fn rfc792_echo_to_the_outside_address_answered() {
    let f = v4_frame(OUT_MAC, [203, 0, 113, 9], [198, 51, 100, 1], true);
    let (v, out) = outside(&f);
    assert_eq!(v, L2Verdict::of(L2Action::Reply));
    let eth = Ethernet2Header::from_slice(&out).unwrap().0;
    assert_eq!((eth.destination, eth.source), (PEER_MAC, OUT_MAC));
    let ip = Ipv4HeaderSlice::from_slice(&out[14..]).unwrap();
    assert_eq!(
        (ip.source(), ip.destination()),
        ([198, 51, 100, 1], [203, 0, 113, 9])
    );
    assert_eq!(ip.header_checksum(), ip.to_header().calc_header_checksum());
    let icmp = Icmpv4Slice::from_slice(&out[34..]).unwrap();
    let echo = etherparse::IcmpEchoHeader { id: 9, seq: 10 };
    assert_eq!(icmp.icmp_type(), etherparse::Icmpv4Type::EchoReply(echo));
    assert_eq!(
        icmp.checksum(),
        etherparse::Icmpv4Header::with_checksum(etherparse::Icmpv4Type::EchoReply(echo), b"ping")
            .checksum
    );
}

#[test]
fn outside_ipv4_matrix() {
    let o = own();
    let peer = [203, 0, 113, 9];
    let mut ipv6 = Vec::new();
    PacketBuilder::ethernet2(PEER_MAC, OUT_MAC)
        .ipv6(a6("2001:db8::1").octets(), a6("2001:db8::2").octets(), 64)
        .udp(1, 2)
        .write(&mut ipv6, b"x")
        .unwrap();
    let mut bad_ihl = v4_frame(OUT_MAC, peer, [198, 51, 100, 1], false);
    bad_ihl[14] = 0x44;
    let cases: Vec<(&str, Vec<u8>, L2Verdict)> = vec![
        (
            "udp-to-box",
            v4_frame(OUT_MAC, peer, [198, 51, 100, 1], false),
            exception(None),
        ),
        (
            "echo-to-pool",
            v4_frame(OUT_MAC, peer, [192, 0, 2, 9], true),
            L2Verdict::of(L2Action::Nat64 { l3: 14 }),
        ),
        (
            "limited-broadcast",
            v4_frame([0xff; 6], peer, [255, 255, 255, 255], false),
            exception(None),
        ),
        (
            "directed-broadcast",
            v4_frame([0xff; 6], peer, [198, 51, 100, 255], false),
            exception(None),
        ),
        (
            "multicast",
            v4_frame([0x01, 0, 0x5e, 0, 0, 0x12], peer, [224, 0, 0, 18], false),
            exception(None),
        ),
        (
            "echo-to-broadcast",
            v4_frame([0xff; 6], peer, [255, 255, 255, 255], true),
            exception(None),
        ),
        (
            "to-other",
            v4_frame(OUT_MAC, peer, [198, 51, 100, 7], false),
            drop(L2Drop::NotOurAddress),
        ),
        (
            "unicast-in-broadcast",
            v4_frame([0xff; 6], peer, [192, 0, 2, 9], false),
            drop(L2Drop::GroupFrameUnicastIp),
        ),
        ("ipv6", ipv6, drop(L2Drop::WrongFamily)),
        ("bad-ihl", bad_ihl, drop(L2Drop::BadIpv4)),
        (
            "other-mac",
            v4_frame(IN_MAC, peer, [192, 0, 2, 9], false),
            drop(L2Drop::NotForUs),
        ),
    ];
    for (name, f, want) in cases {
        let (v, out) = Frame::new(&f, 64).run(outside_frame, &o);
        assert_eq!(v, want, "{name}");
        assert_eq!(out, f, "{name}: untouched");
    }
}

#[test]
fn nat64_frame_loses_its_ethernet_padding() {
    // 14 + 20 + 8 + 1 = 43 bytes, padded to the 60-byte minimum.
    let mut f = v4_frame(OUT_MAC, [203, 0, 113, 9], [192, 0, 2, 9], false);
    let real = f.len();
    f.resize(60, 0);
    let (v, out) = outside(&f);
    assert_eq!(v, L2Verdict::of(L2Action::Nat64 { l3: 14 }));
    assert_eq!(out, f[..real]);
}

#[test]
fn outside_address_in_the_pool_is_nat64() {
    let mut o = own();
    o.outside = Ipv4Addr::new(192, 0, 2, 1);
    let f = v4_frame(OUT_MAC, [203, 0, 113, 9], [192, 0, 2, 1], true);
    let (v, _) = Frame::new(&f, 64).run(outside_frame, &o);
    assert_eq!(v, L2Verdict::of(L2Action::Nat64 { l3: 14 }));
}

/// Frames that get past the Ethernet checks often: our MAC or a group,
/// a known EtherType, random bytes after.
fn plausible_frame() -> impl Strategy<Value = (Vec<u8>, usize)> {
    (
        prop::sample::select(vec![
            IN_MAC,
            OUT_MAC,
            [0xff; 6],
            [0x33, 0x33, 0xff, 0, 0, 1],
        ]),
        prop::sample::select(vec![0x86ddu16, 0x0800, 0x0806, 0x8100]),
        prop::sample::select(vec![0x60u8, 0x45, 0x00]),
        prop::collection::vec(any::<u8>(), 0..120),
        0usize..16,
    )
        .prop_map(|(dst, et, first, rest, tail)| {
            let mut f = dst.to_vec();
            f.extend_from_slice(&PEER_MAC);
            f.extend_from_slice(&et.to_be_bytes());
            f.push(first);
            f.extend_from_slice(&rest);
            (f, tail)
        })
}

/// Valid NS / echo / ARP frames with a few random bytes changed.
fn mutated_frame() -> impl Strategy<Value = (Vec<u8>, Vec<(usize, u8)>, usize)> {
    let o = own();
    let group = crate::dataplane::l2::solicited_node(&o.inside);
    let bases = vec![
        ns_frame(
            multicast_mac(&group),
            a6("fe80::99"),
            group,
            o.inside,
            Some(PEER_MAC),
        ),
        ns_frame(
            multicast_mac(&group),
            Ipv6Addr::UNSPECIFIED,
            group,
            o.inside,
            None,
        ),
        echo6_frame(IN_MAC, a6("fe80::99"), o.inside),
        arp_frame(
            [0xff; 6],
            1,
            PEER_MAC,
            [198, 51, 100, 254],
            [198, 51, 100, 1],
        ),
        v4_frame(OUT_MAC, [203, 0, 113, 9], [198, 51, 100, 1], true),
    ];
    (
        prop::sample::select(bases),
        prop::collection::vec((any::<usize>(), any::<u8>()), 0..4),
        0usize..16,
    )
}

fn never_panics(bytes: &[u8], tail: usize) {
    let o = own();
    for f in [
        inside_frame as fn(&mut PacketBuf, &BoxIdentity) -> L2Verdict,
        outside_frame,
    ] {
        let mut frame = Frame::new(bytes, tail);
        let (v, out) = frame.run(f, &o);
        match v.action {
            L2Action::Nat64 { l3 } => {
                assert!(l3 <= out.len());
                assert_eq!(out, bytes[..out.len()], "only trimmed");
            }
            L2Action::Exception | L2Action::Drop(_) => assert_eq!(out, bytes),
            L2Action::Reply => assert!(out.len() <= bytes.len() + tail),
        }
    }
}

/// The shortcuts take a frame only when the general path would have
/// made it the same NAT64 frame, trimmed the same way.
fn shortcut_agrees(bytes: &[u8]) {
    let o = own();
    for (short, general) in [
        (
            nat64_shortcut_inside as fn(&[u8], &BoxIdentity) -> Option<usize>,
            inside_general as fn(&mut PacketBuf, &BoxIdentity) -> L2Verdict,
        ),
        (nat64_shortcut_outside, outside_general),
    ] {
        let Some(ip_len) = short(bytes, &o) else {
            continue;
        };
        let (v, out) = Frame::new(bytes, 0).run(general, &o);
        assert_eq!(v, L2Verdict::of(L2Action::Nat64 { l3: ETHER_LEN }));
        assert_eq!(out.len(), ETHER_LEN + ip_len);
    }
}

/// NAT64 frames both ways (and near misses) with a few bytes changed.
fn nat64_frame() -> impl Strategy<Value = (Vec<u8>, Vec<(usize, u8)>)> {
    let o = own();
    let server = o.prefix.embed(Ipv4Addr::new(192, 0, 2, 33));
    let bases = vec![
        udp6_frame(IN_MAC, a6("2001:db8:1::99"), server),
        udp6_frame(IN_MAC, a6("2001:db8:1::99"), a6("2001:db8:2::1")),
        udp6_frame([0xff; 6], a6("2001:db8:1::99"), server),
        v4_frame(OUT_MAC, [203, 0, 113, 9], [192, 0, 2, 1], false),
        v4_frame(OUT_MAC, [203, 0, 113, 9], [198, 51, 100, 1], false),
    ];
    (
        prop::sample::select(bases),
        prop::collection::vec((any::<usize>(), any::<u8>()), 0..3),
    )
}

proptest! {
    #[test]
    fn shortcuts_agree_with_the_general_path((mut bytes, edits) in nat64_frame()) {
        for (at, value) in edits {
            let n = bytes.len();
            bytes[at % n] = value;
        }
        shortcut_agrees(&bytes);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..160), tail in 0usize..16) {
        never_panics(&bytes, tail);
    }

    #[test]
    fn plausible_frames_never_panic((bytes, tail) in plausible_frame()) {
        never_panics(&bytes, tail);
    }

    #[test]
    fn mutated_valid_frames_never_panic((mut bytes, edits, tail) in mutated_frame()) {
        for (at, value) in edits {
            let n = bytes.len();
            bytes[at % n] = value;
        }
        never_panics(&bytes, tail);
    }
}

#[test]
fn ns_for_an_extra_inside_address_answered_like_the_box_address() {
    // The dns64.listen address on the inside link (2001:db8:1::53 in the
    // test box): its solicited-node NS is answered (RFC 4861 §7.2.3/4).
    let o = own();
    let extra = a6("2001:db8:1::53");
    assert_eq!(o.inside_extra, vec![extra]);
    let peer = a6("2001:db8:1::99");
    let group = crate::dataplane::l2::solicited_node(&extra);
    let f = ns_frame(
        multicast_mac(&group),
        peer,
        group,
        extra,
        Some([0x02, 0, 0, 0, 0, 0x77]),
    );
    let (v, out) = inside(&f);
    assert_eq!(
        v,
        L2Verdict {
            action: L2Action::Reply,
            learn: Some((IpAddr::V6(peer), [0x02, 0, 0, 0, 0, 0x77])),
        }
    );
    assert_na(&out, 14, [0x02, 0, 0, 0, 0, 0x77], peer, extra, 0xe0);
    // An address on the link that is not ours stays unanswered.
    let other = a6("2001:db8:1::54");
    let group = crate::dataplane::l2::solicited_node(&other);
    let f = ns_frame(multicast_mac(&group), peer, group, other, None);
    assert_eq!(inside(&f).0, drop(L2Drop::NdNotForUs));
}

#[test]
fn udp_to_an_extra_inside_address_takes_the_exception_path() {
    let peer = a6("2001:db8:1::99");
    let (v, _) = inside(&udp6_frame(IN_MAC, peer, a6("2001:db8:1::53")));
    assert_eq!(v, exception(None));
    // Not ours: dropped, as before.
    let (v, _) = inside(&udp6_frame(IN_MAC, peer, a6("2001:db8:1::54")));
    assert_eq!(v, drop(L2Drop::NotOurAddress));
}
