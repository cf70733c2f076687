//! What the exception path lets through to the box's own kernel: an allow
//! list and a policer per side, applied by the worker before the frame is
//! queued to the TAP (a system call per frame on a forwarding core).
//!
//! What it promises: [`KernelGuard::admit`] takes any bytes (an Ethernet
//! frame the classification sent down the exception path) and never
//! panics; a frame passes only if the allow list admits it and both token
//! buckets (packets, bytes) of its side hold enough; a refused frame takes
//! no token. Nothing here allocates per frame.
//!
//! The allow list (`inside.kernel_allow` / `outside.kernel_allow`, see
//! [`KernelRule`]) admits ICMP (ICMPv6 on the inside) and UDP or TCP by
//! destination port. Always admitted, whatever the list says:
//! - ARP and Neighbor Solicitations and Advertisements (RFC 4861 §4.3,
//!   §4.4): the kernel resolves its own neighbours (the classification
//!   passes only what is for the box). Router Solicitations and
//!   Advertisements and Redirects are ICMPv6 like any other: the kernel
//!   learns no route from the link unless `icmp` is listed;
//! - UDP and TCP to the kernel's ephemeral ports (Linux's
//!   `net.ipv4.ip_local_port_range`, which IPv6 shares): replies to
//!   connections the kernel opened (the DNS64's upstream queries) pass
//!   with no connection tracking. Deviation: a service bound to a port in
//!   that range is reachable; a source-port rule would instead admit any
//!   sender that picks source port 53;
//! - fragments after the first (IPv4 offset non-zero, RFC 791; IPv6
//!   Fragment header with a non-zero offset, RFC 8200 §4.5): their ports
//!   are unknown, the kernel reassembles them and its socket lookup
//!   decides. A first fragment is judged by its ports like a whole packet.
//!
//! Everything else (other protocols, IPv6 extension headers other than a
//! Fragment header, a truncated header) is refused.
//!
//! The policer: each bucket fills at its rate (`<side>.kernel_pps`,
//! `<side>.kernel_bytes_per_second`, per worker) and holds a tenth of a
//! second's worth (at least one packet, one largest frame); bytes are
//! counted over the whole Ethernet frame.

use std::net::Ipv4Addr;
use std::ops::RangeInclusive;

use crate::config::{KernelPolicy, KernelProto, KernelRule};
use crate::nat64::Millis;
use crate::wire::{ethertype, icmpv6_type, ip_proto, EthernetFrame, Ipv4Packet, Ipv6Packet};

/// Linux's default `net.ipv4.ip_local_port_range`.
pub const LINUX_EPHEMERAL: RangeInclusive<u16> = 32768..=60999;

/// The kernel's ephemeral port range, from
/// `/proc/sys/net/ipv4/ip_local_port_range`; Linux's default
/// ([`LINUX_EPHEMERAL`]) when it cannot be read.
pub fn ephemeral_ports() -> RangeInclusive<u16> {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|t| parse_port_range(&t))
        .unwrap_or(LINUX_EPHEMERAL)
}

/// Parses `ip_local_port_range`'s text: two ports, whitespace apart.
pub fn parse_port_range(text: &str) -> Option<RangeInclusive<u16>> {
    let mut it = text.split_whitespace().map(str::parse::<u16>);
    let (lo, hi) = (it.next()?.ok()?, it.next()?.ok()?);
    (lo <= hi && it.next().is_none()).then_some(lo..=hi)
}

/// Whether the IPv4 packet `pkt` (from its IP header on) is for
/// `outside`, the one IPv4 address the kernel owns: a pool address is the
/// translator's, and what no mapping claims there (a refused echo request,
/// say) never reaches the kernel. False for a packet too short to say.
pub fn kernel_owns_v4(pkt: &[u8], outside: Ipv4Addr) -> bool {
    Ipv4Packet::new_checked(pkt).is_ok_and(|ip| ip.dst_addr() == outside)
}

/// Why the guard refused a frame; one counter each.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KernelDrop {
    /// Not in the side's allow list.
    NotAllowed,
    /// Over the side's packet or byte rate.
    Policed,
}

/// `rate` units a second, holding at most `cap` (in thousandths, as
/// `ratelimit::TokenBucket`).
#[derive(Debug, Clone)]
struct Bucket {
    rate: u64,
    milli: u64,
    cap_milli: u64,
    last: Millis,
}

impl Bucket {
    /// A full bucket of `rate` a second holding a tenth of a second's
    /// worth, at least `min_depth`.
    fn new(rate: u64, min_depth: u64) -> Bucket {
        let cap = (rate / 10).max(min_depth).saturating_mul(1000);
        Bucket {
            rate,
            milli: cap,
            cap_milli: cap,
            last: 0,
        }
    }

    fn refill(&mut self, now: Millis) {
        let dt = now.saturating_sub(self.last);
        self.last = self.last.max(now);
        self.milli = self
            .milli
            .saturating_add(dt.saturating_mul(self.rate))
            .min(self.cap_milli);
    }

    fn holds(&self, n: u64) -> bool {
        self.milli >= n.saturating_mul(1000)
    }

    fn take(&mut self, n: u64) {
        self.milli = self.milli.saturating_sub(n.saturating_mul(1000));
    }
}

/// One side's exception-path guard in one worker (see the module docs).
#[derive(Debug, Clone)]
pub struct KernelGuard {
    rules: Vec<KernelRule>,
    ephemeral: RangeInclusive<u16>,
    packets: Bucket,
    bytes: Bucket,
}

/// The transport facts the allow list judges.
enum Transport {
    /// Always passed (ARP, ND, a later fragment).
    Pass,
    Icmp,
    Ported(KernelProto, u16),
    /// Refused.
    Other,
}

impl KernelGuard {
    /// A guard admitting `rules`, replies to `ephemeral` ports, at the
    /// rates of `policy`, its buckets full.
    pub fn new(
        rules: Vec<KernelRule>,
        ephemeral: RangeInclusive<u16>,
        policy: KernelPolicy,
    ) -> KernelGuard {
        KernelGuard {
            rules,
            ephemeral,
            packets: Bucket::new(u64::from(policy.pps), 1),
            bytes: Bucket::new(
                policy.bytes_per_second,
                crate::wire::ethernet::MAX_FRAME_LEN as u64,
            ),
        }
    }

    /// Whether `frame` may go to the kernel at `now`: the allow list, then
    /// the policer (which it draws on only if admitted).
    pub fn admit(&mut self, frame: &[u8], now: Millis) -> Result<(), KernelDrop> {
        if !self.allowed(frame) {
            return Err(KernelDrop::NotAllowed);
        }
        let len = frame.len() as u64;
        self.packets.refill(now);
        self.bytes.refill(now);
        if !(self.packets.holds(1) && self.bytes.holds(len)) {
            return Err(KernelDrop::Policed);
        }
        self.packets.take(1);
        self.bytes.take(len);
        Ok(())
    }

    /// Whether the allow list admits `frame` (no token taken).
    pub fn allowed(&self, frame: &[u8]) -> bool {
        match transport(frame) {
            Transport::Pass => true,
            Transport::Icmp => self.rules.iter().any(|r| r.proto == KernelProto::Icmp),
            Transport::Ported(proto, port) => {
                self.ephemeral.contains(&port)
                    || self
                        .rules
                        .iter()
                        .any(|r| r.proto == proto && r.port.is_none_or(|p| p == port))
            }
            Transport::Other => false,
        }
    }
}

/// The destination port of a UDP or TCP header (its bytes 2 and 3).
fn ported(proto: u8, l4: &[u8]) -> Transport {
    let proto = match proto {
        ip_proto::UDP => KernelProto::Udp,
        ip_proto::TCP => KernelProto::Tcp,
        _ => return Transport::Other,
    };
    match l4.get(2..4) {
        Some(p) => Transport::Ported(proto, u16::from_be_bytes([p[0], p[1]])),
        None => Transport::Other,
    }
}

fn transport(frame: &[u8]) -> Transport {
    let Ok(eth) = EthernetFrame::new_checked(frame) else {
        return Transport::Other;
    };
    match eth.ethertype() {
        ethertype::ARP => Transport::Pass,
        ethertype::IPV4 => {
            let Ok(ip) = Ipv4Packet::new_checked(eth.payload()) else {
                return Transport::Other;
            };
            // RFC 791: only the first fragment (offset 0) holds the ports.
            if ip.frag_offset() != 0 {
                return Transport::Pass;
            }
            match ip.protocol() {
                ip_proto::ICMP => Transport::Icmp,
                p => ported(p, ip.payload()),
            }
        }
        ethertype::IPV6 => {
            let Ok(ip) = Ipv6Packet::new_checked(eth.payload()) else {
                return Transport::Other;
            };
            let (mut next, mut l4) = (ip.next_header(), ip.payload());
            if next == ip_proto::IPV6_FRAG {
                // RFC 8200 §4.5: next header (1 byte), reserved, then the
                // 13-bit offset in the top of bytes 2..4.
                let Some(h) = l4.get(..8) else {
                    return Transport::Other;
                };
                if u16::from_be_bytes([h[2], h[3]]) >> 3 != 0 {
                    return Transport::Pass;
                }
                next = h[0];
                l4 = &l4[8..];
            }
            match next {
                ip_proto::ICMPV6 => match l4.first() {
                    // RFC 4861 §4.3, §4.4: what the kernel's own address
                    // resolution and unreachability detection need.
                    Some(&(icmpv6_type::NEIGHBOR_SOLICIT | icmpv6_type::NEIGHBOR_ADVERT)) => {
                        Transport::Pass
                    }
                    Some(_) => Transport::Icmp,
                    None => Transport::Other,
                },
                p => ported(p, l4),
            }
        }
        _ => Transport::Other,
    }
}

#[cfg(test)]
mod tests;
