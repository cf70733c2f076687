use super::*;
use etherparse::{EtherType, Ethernet2Header, IpNumber, Ipv6Header, PacketBuilder};

const MAC_A: [u8; 6] = [0x02, 0, 0, 0, 0, 0x11];
const MAC_B: [u8; 6] = [0x02, 0, 0, 0, 0, 0x99];
const V4_PEER: [u8; 4] = [203, 0, 113, 9];
const V4_BOX: [u8; 4] = [198, 51, 100, 1];
const V6_PEER: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9];
const V6_BOX: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];

fn rules(list: &[&str]) -> Vec<KernelRule> {
    list.iter().map(|s| KernelRule::parse(s).unwrap()).collect()
}

fn policy(pps: u32, bytes_per_second: u64) -> KernelPolicy {
    KernelPolicy {
        pps,
        bytes_per_second,
    }
}

fn guard(list: &[&str]) -> KernelGuard {
    KernelGuard::new(rules(list), LINUX_EPHEMERAL, policy(1_000_000, 1 << 40))
}

fn v4() -> etherparse::PacketBuilderStep<etherparse::IpHeaders> {
    PacketBuilder::ethernet2(MAC_B, MAC_A).ipv4(V4_PEER, V4_BOX, 64)
}

fn v6() -> etherparse::PacketBuilderStep<etherparse::IpHeaders> {
    PacketBuilder::ethernet2(MAC_B, MAC_A).ipv6(V6_PEER, V6_BOX, 64)
}

fn udp4(dport: u16) -> Vec<u8> {
    let b = v4().udp(40000, dport);
    let mut out = Vec::with_capacity(b.size(8));
    b.write(&mut out, &[0; 8]).unwrap();
    out
}

fn tcp4(dport: u16) -> Vec<u8> {
    let b = v4().tcp(40000, dport, 1, 1024).syn();
    let mut out = Vec::with_capacity(b.size(0));
    b.write(&mut out, &[]).unwrap();
    out
}

fn echo4() -> Vec<u8> {
    let b = v4().icmpv4_echo_request(1, 1);
    let mut out = Vec::new();
    b.write(&mut out, &[0; 16]).unwrap();
    out
}

fn udp6(dport: u16) -> Vec<u8> {
    let b = v6().udp(40000, dport);
    let mut out = Vec::new();
    b.write(&mut out, &[0; 8]).unwrap();
    out
}

fn tcp6(dport: u16) -> Vec<u8> {
    let b = v6().tcp(40000, dport, 1, 1024).syn();
    let mut out = Vec::new();
    b.write(&mut out, &[]).unwrap();
    out
}

fn echo6() -> Vec<u8> {
    let b = v6().icmpv6_echo_request(1, 1);
    let mut out = Vec::new();
    b.write(&mut out, &[0; 16]).unwrap();
    out
}

/// An IPv6 frame whose header chain starts with `next` and carries `rest`.
fn raw6(next: u8, rest: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    Ethernet2Header {
        source: MAC_B,
        destination: MAC_A,
        ether_type: EtherType::IPV6,
    }
    .write(&mut out)
    .unwrap();
    Ipv6Header {
        payload_length: rest.len() as u16,
        next_header: IpNumber(next),
        hop_limit: 255,
        source: V6_PEER,
        destination: V6_BOX,
        ..Default::default()
    }
    .write(&mut out)
    .unwrap();
    out.extend_from_slice(rest);
    out
}

/// A Fragment header (offset in 8-byte units) before the UDP header of
/// a packet to `dport`.
fn frag6(offset: u16, dport: u16) -> Vec<u8> {
    // RFC 8200 §4.5: next header, reserved, 13-bit offset | 2 reserved
    // bits | M, identification.
    let mut rest = vec![ip_proto::UDP, 0];
    rest.extend_from_slice(&(offset << 3 | 1).to_be_bytes());
    rest.extend_from_slice(&7u32.to_be_bytes());
    let udp = udp6(dport);
    rest.extend_from_slice(&udp[14 + 40..]);
    raw6(ip_proto::IPV6_FRAG, &rest)
}

/// An IPv4 UDP packet to `dport` marked as a fragment at `offset` (8-byte
/// units).
fn frag4(offset: u16, dport: u16) -> Vec<u8> {
    let b = PacketBuilder::ethernet2(MAC_B, MAC_A)
        .ip(etherparse::IpHeaders::Ipv4(
            {
                let mut h =
                    etherparse::Ipv4Header::new(0, 64, IpNumber::UDP, V4_PEER, V4_BOX).unwrap();
                h.fragment_offset = etherparse::IpFragOffset::try_new(offset).unwrap();
                h.more_fragments = true;
                h
            },
            Default::default(),
        ))
        .udp(40000, dport);
    let mut out = Vec::new();
    b.write(&mut out, &[0; 8]).unwrap();
    out
}

#[test]
fn outside_default_passes_icmp_only() {
    let g = guard(&["icmp"]);
    assert!(g.allowed(&echo4()));
    for port in [22, 53, 9, 1, 32767, 61000, 65535] {
        assert!(!g.allowed(&udp4(port)), "udp/{port}");
        assert!(!g.allowed(&tcp4(port)), "tcp/{port}");
    }
}

#[test]
fn listed_ports_pass_and_only_their_protocol() {
    let g = guard(&["udp/53", "tcp/22"]);
    assert!(g.allowed(&udp4(53)));
    assert!(g.allowed(&tcp4(22)));
    assert!(!g.allowed(&tcp4(53)));
    assert!(!g.allowed(&udp4(22)));
    assert!(!g.allowed(&echo4()), "no icmp entry");
    assert!(g.allowed(&udp6(53)));
    assert!(!g.allowed(&tcp6(53)));
    let any = guard(&["udp"]);
    assert!(any.allowed(&udp4(7)) && any.allowed(&udp6(65535)));
    assert!(!any.allowed(&tcp4(7)));
}

#[test]
fn replies_to_the_kernels_ephemeral_ports_pass() {
    let g = guard(&[]);
    let (lo, hi) = (*LINUX_EPHEMERAL.start(), *LINUX_EPHEMERAL.end());
    for port in [lo, lo + 1, hi] {
        assert!(g.allowed(&udp4(port)) && g.allowed(&tcp6(port)), "{port}");
    }
    assert!(!g.allowed(&udp4(lo - 1)) && !g.allowed(&udp6(hi + 1)));
    let narrow = KernelGuard::new(vec![], 50000..=50010, policy(1, 1 << 20));
    assert!(narrow.allowed(&udp4(50005)) && !narrow.allowed(&udp4(40000)));
}

#[test]
fn arp_and_neighbor_discovery_always_pass() {
    let g = guard(&[]);
    // ARP is judged by its EtherType (classification checked the rest).
    let mut arp = Vec::new();
    Ethernet2Header {
        source: MAC_B,
        destination: MAC_A,
        ether_type: EtherType::ARP,
    }
    .write(&mut arp)
    .unwrap();
    arp.extend_from_slice(&[0; 28]);
    assert!(g.allowed(&arp));
    let icmp6 = |t: u8| raw6(ip_proto::ICMPV6, &[t, 0, 0, 0, 0, 0, 0, 0]);
    for t in [icmpv6_type::NEIGHBOR_SOLICIT, icmpv6_type::NEIGHBOR_ADVERT] {
        assert!(g.allowed(&icmp6(t)), "type {t}");
    }
    // RS, RA, Redirect: only with the icmp entry.
    for t in [
        icmpv6_type::ROUTER_SOLICIT,
        icmpv6_type::ROUTER_SOLICIT + 1,
        icmpv6_type::REDIRECT,
    ] {
        assert!(!g.allowed(&icmp6(t)), "type {t}");
        assert!(guard(&["icmp"]).allowed(&icmp6(t)), "type {t}");
    }
    assert!(!g.allowed(&echo6()), "echo needs the icmp entry");
    assert!(guard(&["icmp"]).allowed(&echo6()));
}

#[test]
fn fragments_judged_by_the_first() {
    let g = guard(&["udp/53"]);
    assert!(g.allowed(&frag4(0, 53)));
    assert!(!g.allowed(&frag4(0, 22)));
    assert!(g.allowed(&frag4(185, 22)), "a later fragment has no ports");
    assert!(g.allowed(&frag6(0, 53)));
    assert!(
        !g.allowed(&frag6(0, 22)),
        "an atomic fragment is judged whole"
    );
    assert!(g.allowed(&frag6(185, 22)));
}

#[test]
fn other_protocols_and_garbage_are_refused() {
    let g = guard(&["icmp", "udp", "tcp"]);
    // Hop-by-hop options before UDP, GRE, a truncated UDP header.
    assert!(!g.allowed(&raw6(ip_proto::HOPOPT, &[17, 0, 0, 0, 0, 0, 0, 0])));
    assert!(!g.allowed(&raw6(47, &[0; 8])));
    assert!(!g.allowed(&raw6(ip_proto::UDP, &[0, 53])));
    let u = udp4(53);
    for n in 0..u.len() {
        // Any prefix of a frame: judged or refused, never a panic.
        let _ = g.allowed(&u[..n]);
    }
    assert!(!g.allowed(&u[..14 + 20 + 2]));
    assert!(!g.allowed(&[]));
}

#[test]
fn packet_rate_burst_then_refill() {
    // 100 a second: a burst of a tenth of a second (10), then one every
    // 10 ms.
    let mut g = KernelGuard::new(rules(&["icmp"]), LINUX_EPHEMERAL, policy(100, 1 << 30));
    let f = echo4();
    let passed = |g: &mut KernelGuard, now, n| (0..n).filter(|_| g.admit(&f, now).is_ok()).count();
    assert_eq!(passed(&mut g, 0, 50), 10);
    assert_eq!(g.admit(&f, 0), Err(KernelDrop::Policed));
    assert_eq!(passed(&mut g, 10, 50), 1);
    let over_a_second: usize = (11..=1010).map(|t| passed(&mut g, t, 5)).sum();
    assert_eq!(over_a_second, 100);
    // Refused by the allow list: no token taken, and not "policed".
    let mut h = KernelGuard::new(rules(&["icmp"]), LINUX_EPHEMERAL, policy(1, 1 << 30));
    for _ in 0..5 {
        assert_eq!(h.admit(&tcp4(22), 0), Err(KernelDrop::NotAllowed));
    }
    assert_eq!(h.admit(&f, 0), Ok(()));
    assert_eq!(h.admit(&f, 0), Err(KernelDrop::Policed));
}

#[test]
fn byte_rate_counts_whole_frames() {
    // 20480 bytes a second: a burst of 2048 bytes (a tenth of a second).
    let mut g = KernelGuard::new(rules(&["udp"]), LINUX_EPHEMERAL, policy(1_000_000, 20480));
    let b = v4().udp(1, 9);
    let mut f = Vec::new();
    b.write(&mut f, &[0; 1000 - 14 - 20 - 8]).unwrap();
    assert_eq!(f.len(), 1000);
    assert_eq!(g.admit(&f, 0), Ok(()));
    assert_eq!(g.admit(&f, 0), Ok(()));
    assert_eq!(g.admit(&f, 0), Err(KernelDrop::Policed));
    // 48 bytes are left; the other 952 take 952 / 20.48 = 46.5 ms.
    assert_eq!(g.admit(&f, 46), Err(KernelDrop::Policed));
    assert_eq!(g.admit(&f, 47), Ok(()));
}

#[test]
fn ephemeral_range_text() {
    assert_eq!(parse_port_range("32768\t60999\n"), Some(32768..=60999));
    assert_eq!(parse_port_range("1024 1024"), Some(1024..=1024));
    assert_eq!(parse_port_range("60999 32768"), None);
    assert_eq!(parse_port_range("1 2 3"), None);
    assert_eq!(parse_port_range("x 2"), None);
    let live = ephemeral_ports();
    assert!(live.start() <= live.end());
}

#[test]
fn only_the_outside_address_is_the_kernels() {
    let outside = Ipv4Addr::from(V4_BOX);
    let echo = echo4();
    assert!(kernel_owns_v4(&echo[14..], outside));
    // The same request to a pool address (another of the box's IPv4
    // addresses, not the kernel's).
    let b = PacketBuilder::ethernet2(MAC_B, MAC_A)
        .ipv4(V4_PEER, [192, 0, 2, 1], 64)
        .icmpv4_echo_request(1, 1);
    let mut pool = Vec::new();
    b.write(&mut pool, &[0; 16]).unwrap();
    assert!(!kernel_owns_v4(&pool[14..], outside));
    assert!(!kernel_owns_v4(&echo[14..14 + 19], outside), "truncated");
    assert!(!kernel_owns_v4(&[], outside));
}
