//! The typed sections, each converted from its raw section on its own.
//!
//! Promises: every section has its own conversion (`TryFrom<raw::X> for
//! X`; [`Dns64`] also takes the [`Translation`] its prefix defaults to,
//! and a `[[static_bib]]` entry its position), which checks every key of
//! that section and nothing else, and whose error names the key path. So a
//! section can be converted alone (a reload of one section on SIGHUP);
//! the checks that join two sections are
//! [`Config::check_across`](super::Config::check_across), run after the
//! conversions. A section value that exists is consistent in itself;
//! accepted but questionable values are reported by its `warnings()`.
//!
//! The checks follow the contract's comments and the RFCs they cite:
//! RFC 6052 §2.2 (the NAT64 prefix), RFC 6147 §5.2 (the DNS64 prefix),
//! RFC 6146 §4 and RFC 5508 (timeout minimums), RFC 7422 (deterministic
//! mapping), RFC 8200 §5 and RFC 791 (link MTU minimums).

use std::collections::HashSet;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::time::Duration;

use super::raw;
use super::value::{
    at, check_ifname, in_prefix_v6, mask_v4, parse_events, parse_iface, parse_ipv4_range,
    parse_ipv6_prefix, parse_list, parse_mac, parse_port_range, parse_socket, Allocation,
    ClientList, EventSink, Ipv4Range, Ipv6Prefix, Level,
};
use super::ConfigError;
use crate::wire::ethernet::{MAX_FRAME_LEN, VLAN_HEADER_LEN};
use crate::xlat::rfc6052::Nat64Prefix;
use crate::xlat::L4;

/// `[translation]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Translation {
    /// RFC 6052 NAT64 prefix.
    pub prefix: Nat64Prefix,
    /// Lift the RFC 6052 §3.1 rule for the well-known prefix.
    pub allow_non_global_ipv4: bool,
    /// Lowest IPv6 path MTU assumed for DF=0 IPv4 packets (RFC 7915 §4).
    pub lowest_ipv6_mtu: u16,
    /// Copy TOS <-> Traffic Class (false: 0).
    pub copy_traffic_class: bool,
    /// Compute a checksum for IPv4 UDP with checksum 0 (false: drop).
    pub amend_udp_checksum_zero: bool,
    /// ICMP errors each worker may originate per second (RFC 4443 §2.4
    /// (f), RFC 1812 §4.3.2.8) in each direction, Packet Too Big /
    /// Fragmentation Needed excepted; 0: no limit. An added key.
    pub icmp_errors_per_second: u32,
    /// Packet Too Big / Fragmentation Needed each worker may originate per
    /// second in each direction (their own budget, so path MTU discovery
    /// is never starved by unreachables); 0: no limit. An added key.
    pub icmp_pmtu_errors_per_second: u32,
    /// `translation.deny4` as written: IPv4 ranges subscribers may not
    /// reach. `None`: the key is absent, and `Config::deny4` gives the
    /// default. An added key.
    pub deny4: Option<Vec<Ipv4Range>>,
}

impl Translation {
    /// Accepted but questionable values: `icmp_errors_per_second = 0`
    /// lifts the limit RFC 4443 §2.4 (f) asks for, so a flood of packets
    /// that each draw an error makes the box a reflector; `deny4 = []`
    /// with a network-specific prefix lets subscribers reach every IPv4
    /// address, the outside link and private space included (the
    /// well-known prefix keeps non-global space out by RFC 6052 §3.1).
    pub fn warnings(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        if self.deny4.as_ref().is_some_and(Vec::is_empty) && !self.prefix.is_well_known() {
            warnings.push(format!(
                "translation.deny4: empty with the network-specific prefix {}: subscribers may \
                 reach every IPv4 address, the outside link and RFC 1918 space included",
                self.prefix
            ));
        }
        if self.icmp_errors_per_second == 0 {
            warnings.push(
                "translation.icmp_errors_per_second: 0 removes the limit on the ICMP errors \
                 the box originates (RFC 4443 section 2.4 (f) asks for one)"
                    .to_string(),
            );
        }
        warnings
    }
}

impl TryFrom<raw::Translation> for Translation {
    type Error = ConfigError;

    fn try_from(t: raw::Translation) -> Result<Self, ConfigError> {
        // RFC 6052 §2.2: lengths 32, 40, 48, 56, 64 or 96, u-octet zero.
        let prefix: Nat64Prefix = t
            .prefix
            .parse()
            .map_err(|e| ConfigError::invalid("translation.prefix", format!("{e}")))?;
        // RFC 8200 §5: no IPv6 link carries less than 1280 bytes.
        if t.lowest_ipv6_mtu < 1280 {
            return Err(ConfigError::invalid(
                "translation.lowest_ipv6_mtu",
                format!("{} is below the IPv6 minimum MTU 1280", t.lowest_ipv6_mtu),
            ));
        }
        Ok(Translation {
            prefix,
            allow_non_global_ipv4: t.allow_non_global_ipv4,
            lowest_ipv6_mtu: t.lowest_ipv6_mtu,
            copy_traffic_class: t.copy_traffic_class,
            amend_udp_checksum_zero: t.amend_udp_checksum_zero,
            icmp_errors_per_second: t.icmp_errors_per_second,
            icmp_pmtu_errors_per_second: t.icmp_pmtu_errors_per_second,
            deny4: t
                .deny4
                .as_deref()
                .map(|list| parse_list("translation.deny4", list, parse_ipv4_range))
                .transpose()?,
        })
    }
}

/// `[pool4]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Pool4 {
    /// Disjoint address ranges, in the order written.
    pub addresses: Vec<Ipv4Range>,
    /// First and last port handed out (inclusive, first >= 1).
    pub port_range: (u16, u16),
    /// Ports per block: a power of two no larger than the port range.
    pub block_size: u32,
    /// Most blocks one subscriber may hold (>= 1).
    pub max_blocks_per_subscriber: u32,
    /// Most sessions one subscriber may hold at once (0: no cap besides
    /// its ports). An added key.
    pub max_sessions_per_subscriber: u32,
    /// Leading IPv6 source bits that identify a subscriber (32..=128).
    pub subscriber_prefix_len: u8,
    /// Leading bits that group subscribers into one aggregate (a
    /// customer's delegated /48) for `max_blocks_per_aggregate`
    /// (32..=`subscriber_prefix_len` when that is set). An added key.
    pub aggregate_prefix_len: u8,
    /// Most blocks one aggregate may hold on all workers together (0: no
    /// cap; dynamic allocation only). An added key.
    pub max_blocks_per_aggregate: u32,
    /// New blocks each worker may hand out per second, with a burst of one
    /// second's worth (>= 1; dynamic allocation only). An added key.
    pub block_allocations_per_second: u32,
    pub allocation: Allocation,
    /// All blocks of a subscriber on one address (RFC 4787 REQ-2).
    pub paired: bool,
    /// `pool4.deterministic_inside`: the IPv6 prefix mapped by RFC 7422
    /// (set, and checked to fit the pool, when `allocation` is
    /// deterministic; see `nat64::pool4::deterministic_range`).
    pub deterministic_inside: Option<Ipv6Prefix>,
}

impl Pool4 {
    /// The shortest `subscriber_prefix_len`: a /32 is the smallest
    /// allocation a regional registry makes to a provider (RIPE-738 §5.1.2),
    /// so a shorter subscriber prefix lumps whole providers (or the whole
    /// Internet) into one subscriber, sharing `max_blocks_per_subscriber`
    /// blocks: a mistake, refused.
    pub const MIN_SUBSCRIBER_PREFIX_LEN: u8 = 32;

    /// The longest `subscriber_prefix_len` without a warning: a subscriber
    /// is given at least a /64 (RFC 6177, RFC 7421); a longer prefix splits
    /// one household into many subscribers, each with its own blocks, and
    /// a host that changes its address (RFC 8981) gets new blocks each time.
    pub const MAX_QUIET_SUBSCRIBER_PREFIX_LEN: u8 = 64;

    /// Number of pool addresses.
    pub fn address_count(&self) -> u64 {
        self.addresses.iter().map(Ipv4Range::len).sum()
    }

    /// Whether `addr` is a pool address.
    pub fn contains(&self, addr: Ipv4Addr) -> bool {
        self.addresses.iter().any(|r| r.contains(addr))
    }

    /// Every pool address, in the order written.
    pub fn iter(&self) -> impl Iterator<Item = Ipv4Addr> + '_ {
        self.addresses.iter().flat_map(Ipv4Range::iter)
    }

    /// Ports per address in `port_range`.
    pub fn port_count(&self) -> u32 {
        u32::from(self.port_range.1) - u32::from(self.port_range.0) + 1
    }

    /// Whole blocks per address; ports past the last whole block are unused.
    pub fn blocks_per_address(&self) -> u32 {
        self.port_count() / self.block_size
    }

    /// Whole blocks in the pool.
    pub fn total_blocks(&self) -> u64 {
        self.address_count() * u64::from(self.blocks_per_address())
    }

    /// Accepted but questionable values, in key order: ports that make no
    /// whole block, a block limit that paired pooling cannot reach, a
    /// subscriber prefix longer than /64, a `deterministic_inside` that
    /// dynamic allocation ignores.
    pub fn warnings(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        let ports = self.port_count();
        if !ports.is_multiple_of(self.block_size) {
            warnings.push(format!(
                "pool4.port_range: the last {} ports of \"{}-{}\" make no whole block of {} and are unused",
                ports % self.block_size,
                self.port_range.0,
                self.port_range.1,
                self.block_size
            ));
        }
        let blocks_per_address = self.blocks_per_address();
        if self.paired && self.max_blocks_per_subscriber > blocks_per_address {
            warnings.push(format!(
                "pool4.max_blocks_per_subscriber: {} is more than the {blocks_per_address} blocks \
                 of one address, and paired = true keeps a subscriber on one address",
                self.max_blocks_per_subscriber
            ));
        }
        if self.subscriber_prefix_len > Pool4::MAX_QUIET_SUBSCRIBER_PREFIX_LEN {
            warnings.push(format!(
                "pool4.subscriber_prefix_len: {} is longer than /{}: one customer's hosts are \
                 counted as separate subscribers, each with its own max_blocks_per_subscriber",
                self.subscriber_prefix_len,
                Pool4::MAX_QUIET_SUBSCRIBER_PREFIX_LEN
            ));
        }
        if let (Allocation::Dynamic, Some(inside)) = (self.allocation, self.deterministic_inside) {
            warnings.push(format!(
                "pool4.deterministic_inside: {inside} is ignored because pool4.allocation = \"dynamic\""
            ));
        }
        warnings
    }

    /// `pool4.deterministic_inside` against `pool4.allocation` (RFC 7422):
    /// the prefix is required for deterministic allocation, may not be
    /// longer than a subscriber prefix, and its 2^(subscriber_prefix_len -
    /// len) subscribers must each get a slot of `max_blocks_per_subscriber
    /// * block_size` consecutive ports on one address.
    fn check_deterministic(&self) -> Result<(), ConfigError> {
        const KEY: &str = "pool4.deterministic_inside";
        let inside = match (self.allocation, self.deterministic_inside) {
            (Allocation::Deterministic, Some(inside)) => inside,
            (Allocation::Deterministic, None) => {
                return Err(ConfigError::invalid(
                    KEY,
                    "missing: required when pool4.allocation = \"deterministic\"",
                ))
            }
            // Ignored (a warning, see `warnings`).
            (Allocation::Dynamic, _) => return Ok(()),
        };
        if inside.len > self.subscriber_prefix_len {
            return Err(ConfigError::invalid(
                KEY,
                format!(
                    "{inside} is longer than pool4.subscriber_prefix_len {}",
                    self.subscriber_prefix_len
                ),
            ));
        }
        let bits = u32::from(self.subscriber_prefix_len - inside.len);
        let slots_per_address = self.blocks_per_address() / self.max_blocks_per_subscriber;
        let slots = u128::from(self.address_count()) * u128::from(slots_per_address);
        // 2^bits subscribers; 2^64 already exceeds any pool's slot count.
        if bits >= 64 || (1u128 << bits) > slots {
            return Err(ConfigError::invalid(
                KEY,
                format!(
                    "{inside} holds 2^{bits} subscribers of /{}, but the pool has only {slots} \
                     slots of max_blocks_per_subscriber * block_size = {} ports \
                     ({slots_per_address} per address)",
                    self.subscriber_prefix_len,
                    u64::from(self.max_blocks_per_subscriber) * u64::from(self.block_size),
                ),
            ));
        }
        Ok(())
    }
}

impl TryFrom<raw::Pool4> for Pool4 {
    type Error = ConfigError;

    fn try_from(p: raw::Pool4) -> Result<Self, ConfigError> {
        if p.addresses.is_empty() {
            return Err(ConfigError::invalid("pool4.addresses", "empty pool"));
        }
        // Entries may not overlap: each address is one pool address.
        let addresses = parse_list("pool4.addresses", &p.addresses, parse_ipv4_range)?;
        for (j, b) in addresses.iter().enumerate() {
            if let Some(k) = addresses[..j].iter().position(|a| a.overlaps(b)) {
                return Err(ConfigError::invalid(
                    format!("pool4.addresses[{j}]"),
                    format!("{b} overlaps pool4.addresses[{k}] {}", addresses[k]),
                ));
            }
        }
        let port_range = at("pool4.port_range", parse_port_range(&p.port_range))?;
        let ports = u32::from(port_range.1) - u32::from(port_range.0) + 1;
        // Subscribers get whole blocks of a power of two ports.
        if !p.block_size.is_power_of_two() {
            return Err(ConfigError::invalid(
                "pool4.block_size",
                format!("{} is not a power of two", p.block_size),
            ));
        }
        if p.block_size > ports {
            return Err(ConfigError::invalid(
                "pool4.block_size",
                format!(
                    "{} is larger than pool4.port_range {:?} ({ports} ports)",
                    p.block_size, p.port_range
                ),
            ));
        }
        if p.max_blocks_per_subscriber == 0 {
            return Err(ConfigError::invalid(
                "pool4.max_blocks_per_subscriber",
                "must be at least 1",
            ));
        }
        if !(Pool4::MIN_SUBSCRIBER_PREFIX_LEN..=128).contains(&p.subscriber_prefix_len) {
            return Err(ConfigError::invalid(
                "pool4.subscriber_prefix_len",
                format!(
                    "{} is not within {}..=128 (a shorter prefix makes a whole provider's \
                     allocation one subscriber)",
                    p.subscriber_prefix_len,
                    Pool4::MIN_SUBSCRIBER_PREFIX_LEN
                ),
            ));
        }
        if p.block_allocations_per_second == 0 {
            return Err(ConfigError::invalid(
                "pool4.block_allocations_per_second",
                "must be at least 1",
            ));
        }
        let allocation = at("pool4.allocation", Allocation::parse(&p.allocation))?;
        if p.max_blocks_per_aggregate != 0 {
            if !(Pool4::MIN_SUBSCRIBER_PREFIX_LEN..=p.subscriber_prefix_len)
                .contains(&p.aggregate_prefix_len)
            {
                return Err(ConfigError::invalid(
                    "pool4.aggregate_prefix_len",
                    format!(
                        "{} is not within {}..={} (pool4.subscriber_prefix_len: an aggregate \
                         groups whole subscribers)",
                        p.aggregate_prefix_len,
                        Pool4::MIN_SUBSCRIBER_PREFIX_LEN,
                        p.subscriber_prefix_len
                    ),
                ));
            }
            if allocation == Allocation::Deterministic {
                return Err(ConfigError::invalid(
                    "pool4.max_blocks_per_aggregate",
                    "has no effect with deterministic allocation (each subscriber's range \
                     is fixed): leave it 0",
                ));
            }
        }
        let deterministic_inside = p
            .deterministic_inside
            .as_deref()
            .map(|s| at("pool4.deterministic_inside", parse_ipv6_prefix(s)))
            .transpose()?;
        let pool4 = Pool4 {
            addresses,
            port_range,
            block_size: p.block_size,
            max_blocks_per_subscriber: p.max_blocks_per_subscriber,
            max_sessions_per_subscriber: p.max_sessions_per_subscriber,
            subscriber_prefix_len: p.subscriber_prefix_len,
            aggregate_prefix_len: p.aggregate_prefix_len,
            max_blocks_per_aggregate: p.max_blocks_per_aggregate,
            block_allocations_per_second: p.block_allocations_per_second,
            allocation,
            paired: p.paired,
            deterministic_inside,
        };
        // RFC 7422: the deterministic prefix is there and fits the pool.
        pool4.check_deterministic()?;
        Ok(pool4)
    }
}

/// `[timeouts]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Timeouts {
    pub udp: Duration,
    pub tcp_established: Duration,
    pub tcp_transitory: Duration,
    pub icmp: Duration,
    /// How long an unmatched IPv4-initiated SYN is held (RFC 6146 §3.5.2.2).
    pub tcp_incoming_syn: Duration,
    /// How long a fragmented datagram's state lives (RFC 6146 §3.4): at
    /// least [`Timeouts::FRAGMENT_MIN`].
    pub fragment: Duration,
}

/// Each timeout's key, the RFC minimum and where it is asked for.
const TIMEOUT_MINIMUMS: [(&str, u64, &str); 5] = [
    ("udp", 120, "RFC 6146 section 4"),
    ("tcp_established", 7440, "RFC 6146 section 4"),
    ("tcp_transitory", 240, "RFC 6146 section 4"),
    ("icmp", 60, "RFC 5508 REQ-1"),
    ("tcp_incoming_syn", 6, "RFC 6146 section 3.5.2.2"),
];

impl Timeouts {
    /// RFC 6146 §4 FRAGMENT_MIN, in seconds: `timeouts.fragment` may not be
    /// shorter.
    pub const FRAGMENT_MIN: u64 = 2;

    /// The values in [`TIMEOUT_MINIMUMS`] order.
    fn in_key_order(&self) -> [Duration; 5] {
        [
            self.udp,
            self.tcp_established,
            self.tcp_transitory,
            self.icmp,
            self.tcp_incoming_syn,
        ]
    }

    /// Timeouts below their RFC minimum (accepted: test and lab setups
    /// shorten them on purpose), in key order.
    pub fn warnings(&self) -> Vec<String> {
        TIMEOUT_MINIMUMS
            .iter()
            .zip(self.in_key_order())
            .filter(|((_, rfc_min, _), value)| value.as_secs() < *rfc_min)
            .map(|((key, rfc_min, rfc), value)| {
                format!(
                    "timeouts.{key}: {} s is below the {rfc} minimum of {rfc_min} s",
                    value.as_secs()
                )
            })
            .collect()
    }
}

impl TryFrom<raw::Timeouts> for Timeouts {
    type Error = ConfigError;

    fn try_from(tm: raw::Timeouts) -> Result<Self, ConfigError> {
        // Zero refused (a mapping that expires at once); below the RFC
        // 6146 §4 / RFC 5508 minimums only warned about.
        let values = [
            tm.udp,
            tm.tcp_established,
            tm.tcp_transitory,
            tm.icmp,
            tm.tcp_incoming_syn,
        ];
        if let Some(((key, _, _), _)) = TIMEOUT_MINIMUMS.iter().zip(values).find(|(_, v)| *v == 0) {
            return Err(ConfigError::invalid(
                format!("timeouts.{key}"),
                "must be greater than 0",
            ));
        }
        // RFC 6146 §3.4 / §4: "the NAT64 MUST ... wait at least
        // FRAGMENT_MIN" for the fragments of a datagram: refused below.
        if tm.fragment < Timeouts::FRAGMENT_MIN {
            return Err(ConfigError::invalid(
                "timeouts.fragment",
                format!(
                    "{} s is below FRAGMENT_MIN, {} s (RFC 6146 section 4)",
                    tm.fragment,
                    Timeouts::FRAGMENT_MIN
                ),
            ));
        }
        Ok(Timeouts {
            udp: Duration::from_secs(tm.udp),
            tcp_established: Duration::from_secs(tm.tcp_established),
            tcp_transitory: Duration::from_secs(tm.tcp_transitory),
            icmp: Duration::from_secs(tm.icmp),
            tcp_incoming_syn: Duration::from_secs(tm.tcp_incoming_syn),
            fragment: Duration::from_secs(tm.fragment),
        })
    }
}

/// `[filtering]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Filtering {
    /// Address-dependent (true) or endpoint-independent filtering (RFC 6146 §3.5.1).
    pub address_dependent: bool,
    /// Drop IPv4-initiated SYNs outright instead of holding them.
    pub drop_externally_initiated_tcp: bool,
    /// Sessions IPv4 packets may open on one mapping (0: no cap; at most
    /// [`Filtering::MAX_INBOUND_SESSIONS_PER_MAPPING`]). An added key.
    pub max_inbound_sessions_per_mapping: u32,
}

impl Filtering {
    /// The largest `max_inbound_sessions_per_mapping`: a BIB entry counts
    /// its sessions opened from the IPv4 side in 16 bits (it has no room
    /// for more in its 32 bytes).
    pub const MAX_INBOUND_SESSIONS_PER_MAPPING: u32 = u16::MAX as u32;
}

impl TryFrom<raw::Filtering> for Filtering {
    type Error = ConfigError;

    fn try_from(f: raw::Filtering) -> Result<Self, ConfigError> {
        if f.max_inbound_sessions_per_mapping > Filtering::MAX_INBOUND_SESSIONS_PER_MAPPING {
            return Err(ConfigError::invalid(
                "filtering.max_inbound_sessions_per_mapping",
                format!(
                    "{} is above {} (0 means no cap)",
                    f.max_inbound_sessions_per_mapping,
                    Filtering::MAX_INBOUND_SESSIONS_PER_MAPPING
                ),
            ));
        }
        Ok(Filtering {
            address_dependent: f.address_dependent,
            drop_externally_initiated_tcp: f.drop_externally_initiated_tcp,
            max_inbound_sessions_per_mapping: f.max_inbound_sessions_per_mapping,
        })
    }
}

/// One `[[static_bib]]` entry: a fixed BIB mapping. For ICMP the ports are
/// echo identifiers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StaticBibEntry {
    pub protocol: L4,
    pub ipv6: SocketAddrV6,
    pub ipv4: SocketAddrV4,
}

impl TryFrom<(usize, raw::StaticBib)> for StaticBibEntry {
    type Error = ConfigError;

    /// Entry `n` of the `[[static_bib]]` array (its position names the key).
    fn try_from((n, e): (usize, raw::StaticBib)) -> Result<Self, ConfigError> {
        let key = |k: &str| format!("static_bib[{n}].{k}");
        let missing = |k: &str| {
            ConfigError::invalid(key(k), "missing (protocol, ipv6 and ipv4 are required)")
        };
        let protocol = match e.protocol.as_deref().ok_or_else(|| missing("protocol"))? {
            "tcp" => L4::Tcp,
            "udp" => L4::Udp,
            "icmp" => L4::Icmp,
            other => {
                return Err(ConfigError::invalid(
                    key("protocol"),
                    format!("{other:?} is not \"tcp\", \"udp\" or \"icmp\""),
                ))
            }
        };
        let ipv6 = match at(
            &key("ipv6"),
            parse_socket(e.ipv6.as_deref().ok_or_else(|| missing("ipv6"))?),
        )? {
            SocketAddr::V6(a) => a,
            SocketAddr::V4(a) => {
                return Err(ConfigError::invalid(
                    key("ipv6"),
                    format!("{a} is not an IPv6 \"[address]:port\""),
                ))
            }
        };
        let ipv4 = match at(
            &key("ipv4"),
            parse_socket(e.ipv4.as_deref().ok_or_else(|| missing("ipv4"))?),
        )? {
            SocketAddr::V4(a) => a,
            SocketAddr::V6(a) => {
                return Err(ConfigError::invalid(
                    key("ipv4"),
                    format!("{a} is not an IPv4 \"address:port\""),
                ))
            }
        };
        // Port 0 is reserved (RFC 6335 §6); an ICMP identifier 0 is not.
        if protocol != L4::Icmp && (ipv4.port() == 0 || ipv6.port() == 0) {
            return Err(ConfigError::invalid(key("ipv4"), "port 0 cannot be mapped"));
        }
        Ok(StaticBibEntry {
            protocol,
            ipv6,
            ipv4,
        })
    }
}

/// The `[[static_bib]]` array: each entry converted, and each side mapped
/// at most once per protocol (a BIB is one-to-one, RFC 6146 §3.1).
pub fn static_bib(entries: Vec<raw::StaticBib>) -> Result<Vec<StaticBibEntry>, ConfigError> {
    let mut static_bib: Vec<StaticBibEntry> = Vec::with_capacity(entries.len());
    let mut seen6 = HashSet::new();
    let mut seen4 = HashSet::new();
    for (n, e) in entries.into_iter().enumerate() {
        let entry = StaticBibEntry::try_from((n, e))?;
        if !seen6.insert((entry.protocol, entry.ipv6)) {
            return Err(ConfigError::invalid(
                format!("static_bib[{n}].ipv6"),
                format!("{} is mapped twice", entry.ipv6),
            ));
        }
        if !seen4.insert((entry.protocol, entry.ipv4)) {
            return Err(ConfigError::invalid(
                format!("static_bib[{n}].ipv4"),
                format!("{} is mapped twice", entry.ipv4),
            ));
        }
        static_bib.push(entry);
    }
    Ok(static_bib)
}

/// `[inside]`: the IPv6 port.
#[derive(Debug, Clone, PartialEq)]
pub struct Inside {
    /// DPDK device name (PCI address or vdev name).
    pub device: String,
    /// The box's own address on the link.
    pub address: Ipv6Addr,
    /// The link's prefix length: destinations inside it are on-link.
    pub prefix_len: u8,
    /// Next hop for everything off-link.
    pub gateway: Ipv6Addr,
    /// Fixed next-hop MAC; ND for the gateway is skipped when set.
    pub gateway_mac: Option<[u8; 6]>,
    pub mtu: u16,
    /// Name of the kernel interface of this side's exception path (the TAP
    /// that carries the box's own traffic to Linux); `inside.kernel_iface`.
    pub kernel_iface: String,
    /// `inside.subscribers` (an added key): the IPv6 prefixes the box
    /// serves, at most [`Inside::MAX_SUBSCRIBER_PREFIXES`]; IPv6 from any
    /// other source is dropped before it can take a port (a uRPF check).
    /// `None`: the key is absent and any source is served (warned about).
    pub subscribers: Option<Vec<Ipv6Prefix>>,
    /// `inside.kernel_allow` (an added key): what the exception path passes
    /// to the kernel. `None`: the key is absent, and
    /// [`crate::config::Config::inside_kernel_allow`] gives the default
    /// (ICMPv6 and the DNS64's ports).
    pub kernel_allow: Option<Vec<KernelRule>>,
    /// `inside.kernel_pps`, `inside.kernel_bytes_per_second` (added keys).
    pub kernel_policy: KernelPolicy,
}

impl Inside {
    /// The most `inside.subscribers` entries: every new flow is checked
    /// against each in turn, so the list is kept short (aggregate it).
    pub const MAX_SUBSCRIBER_PREFIXES: usize = 64;

    /// Whether `addr` is on the inside link.
    pub fn on_link(&self, addr: &Ipv6Addr) -> bool {
        in_prefix_v6(addr, &self.address, self.prefix_len)
    }

    /// The prefixes the box serves: `inside.subscribers`, or `::/0` when
    /// the key is absent.
    pub fn subscriber_prefixes(&self) -> Vec<Ipv6Prefix> {
        self.subscribers.clone().unwrap_or_else(|| {
            vec![Ipv6Prefix {
                addr: Ipv6Addr::UNSPECIFIED,
                len: 0,
            }]
        })
    }

    /// Accepted but questionable values: no `inside.subscribers`, so any
    /// IPv6 source may take port blocks (a spoofed-source flood can hold
    /// the whole pool).
    pub fn warnings(&self) -> Vec<String> {
        if self.subscribers.is_some() {
            return Vec::new();
        }
        vec![
            "inside.subscribers: not set, so packets from any IPv6 source are translated \
              and may take port blocks (spoofed sources can exhaust the pool); list the \
              prefixes you serve, or [\"::/0\"] to serve any on purpose"
                .to_string(),
        ]
    }
}

impl TryFrom<raw::Inside> for Inside {
    type Error = ConfigError;

    fn try_from(i: raw::Inside) -> Result<Self, ConfigError> {
        if i.device.trim().is_empty() {
            return Err(ConfigError::invalid("inside.device", "must not be empty"));
        }
        let (address, prefix_len) = at("inside.address", parse_iface::<Ipv6Addr>(&i.address, 128))?;
        let gateway: Ipv6Addr = i.gateway.parse().map_err(|_| {
            ConfigError::invalid(
                "inside.gateway",
                format!("{:?} is not an IPv6 address", i.gateway),
            )
        })?;
        let inside = Inside {
            device: i.device,
            address,
            prefix_len,
            gateway,
            gateway_mac: i
                .gateway_mac
                .as_deref()
                .map(|s| at("inside.gateway_mac", parse_mac(s)))
                .transpose()?,
            mtu: i.mtu,
            kernel_iface: at("inside.kernel_iface", check_ifname(&i.kernel_iface))?,
            subscribers: i
                .subscribers
                .as_deref()
                .map(|list| parse_list("inside.subscribers", list, parse_ipv6_prefix))
                .transpose()?,
            kernel_allow: i
                .kernel_allow
                .as_deref()
                .map(|list| parse_list("inside.kernel_allow", list, KernelRule::parse))
                .transpose()?,
            kernel_policy: KernelPolicy::new("inside", i.kernel_pps, i.kernel_bytes_per_second)?,
        };
        match inside.subscribers.as_deref() {
            Some([]) => {
                return Err(ConfigError::invalid(
                    "inside.subscribers",
                    "empty: no source would be served (write [\"::/0\"] to serve any)",
                ))
            }
            Some(list) if list.len() > Inside::MAX_SUBSCRIBER_PREFIXES => {
                return Err(ConfigError::invalid(
                    "inside.subscribers",
                    format!(
                        "{} prefixes, more than {}: aggregate them",
                        list.len(),
                        Inside::MAX_SUBSCRIBER_PREFIXES
                    ),
                ))
            }
            _ => {}
        }
        // The next hop is on the link; a link-local one (fe80::/10, RFC
        // 4291 §2.5.6) is usual for IPv6 and always on-link.
        let link_local = (u128::from(gateway) >> 118) == 0x3fa;
        if !link_local && !inside.on_link(&gateway) {
            return Err(ConfigError::invalid(
                "inside.gateway",
                format!("{gateway} is not on the inside link {}", i.address),
            ));
        }
        if gateway == address {
            return Err(ConfigError::invalid(
                "inside.gateway",
                format!("{gateway} is the box's own inside.address"),
            ));
        }
        // RFC 8200 §5: every IPv6 link carries at least 1280 bytes.
        if inside.mtu < 1280 {
            return Err(ConfigError::invalid(
                "inside.mtu",
                format!("{} is below the IPv6 minimum MTU 1280", inside.mtu),
            ));
        }
        check_frame_fits("inside.mtu", inside.mtu)?;
        Ok(inside)
    }
}

/// A link MTU whose frames (with one 802.1Q tag) one mbuf holds: the
/// dataplane receives no multi-segment frames, so a longer frame would be
/// dropped by the NIC and the link could not carry what its MTU promises.
fn check_frame_fits(key: &str, mtu: u16) -> Result<(), ConfigError> {
    let frame = usize::from(mtu) + VLAN_HEADER_LEN;
    if frame > MAX_FRAME_LEN {
        return Err(ConfigError::invalid(
            key,
            format!(
                "{mtu} makes frames of up to {frame} bytes (with an 802.1Q header), more than \
                 the {MAX_FRAME_LEN} bytes of packet data an mbuf holds (at most {})",
                MAX_FRAME_LEN - VLAN_HEADER_LEN
            ),
        ));
    }
    Ok(())
}

/// A protocol of an exception-path allow rule ([`KernelRule`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KernelProto {
    /// ICMP on the outside, ICMPv6 on the inside.
    Icmp,
    Udp,
    Tcp,
}

/// One entry of `inside.kernel_allow` / `outside.kernel_allow`: `"icmp"`,
/// `"udp"` / `"tcp"` (every port) or `"udp/53"` / `"tcp/22"` (one
/// destination port).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KernelRule {
    pub proto: KernelProto,
    /// The destination port; `None`: any (always `None` for ICMP).
    pub port: Option<u16>,
}

impl KernelRule {
    /// Parses `"icmp"`, `"udp"`, `"tcp"`, `"udp/<port>"`, `"tcp/<port>"`.
    pub fn parse(s: &str) -> Result<KernelRule, String> {
        let (proto, port) = match s.split_once('/') {
            Some((p, port)) => (p, Some(port)),
            None => (s, None),
        };
        let proto = match proto {
            "icmp" => KernelProto::Icmp,
            "udp" => KernelProto::Udp,
            "tcp" => KernelProto::Tcp,
            _ => {
                return Err(format!(
                    "{s:?}: the protocol must be \"icmp\", \"udp\" or \"tcp\""
                ))
            }
        };
        let port = match (proto, port) {
            (_, None) => None,
            (KernelProto::Icmp, Some(_)) => {
                return Err(format!("{s:?}: ICMP has no ports (write \"icmp\")"))
            }
            (_, Some(p)) => match p.parse::<u16>() {
                Ok(n) if n != 0 => Some(n),
                _ => return Err(format!("{s:?}: the port must be 1 to 65535")),
            },
        };
        Ok(KernelRule { proto, port })
    }
}

/// A side's exception-path policer: each worker passes at most `pps`
/// packets and `bytes_per_second` bytes a second to the kernel on that side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KernelPolicy {
    pub pps: u32,
    pub bytes_per_second: u64,
}

impl KernelPolicy {
    /// Default `<side>.kernel_pps`.
    pub const DEFAULT_PPS: u32 = 2000;
    /// Default `<side>.kernel_bytes_per_second` (16 Mbit/s).
    pub const DEFAULT_BYTES_PER_SECOND: u64 = 2_000_000;
    /// The least `<side>.kernel_bytes_per_second`: one largest frame a
    /// second must fit.
    pub const MIN_BYTES_PER_SECOND: u64 = MAX_FRAME_LEN as u64;

    fn new(side: &str, pps: u32, bytes_per_second: u64) -> Result<KernelPolicy, ConfigError> {
        if pps == 0 {
            return Err(ConfigError::invalid(
                format!("{side}.kernel_pps"),
                "must be at least 1 (the exception path is always policed)",
            ));
        }
        if bytes_per_second < Self::MIN_BYTES_PER_SECOND {
            return Err(ConfigError::invalid(
                format!("{side}.kernel_bytes_per_second"),
                format!(
                    "{bytes_per_second} is below {}, the largest frame",
                    Self::MIN_BYTES_PER_SECOND
                ),
            ));
        }
        Ok(KernelPolicy {
            pps,
            bytes_per_second,
        })
    }
}

/// `[outside]`: the IPv4 port.
#[derive(Debug, Clone, PartialEq)]
pub struct Outside {
    /// DPDK device name (PCI address or vdev name).
    pub device: String,
    /// The box's own address on the link.
    pub address: Ipv4Addr,
    /// The link's prefix length: destinations inside it are on-link.
    pub prefix_len: u8,
    /// Next hop for everything off-link.
    pub gateway: Ipv4Addr,
    /// Fixed next-hop MAC; ARP for the gateway is skipped when set.
    pub gateway_mac: Option<[u8; 6]>,
    pub mtu: u16,
    /// Name of the kernel interface of this side's exception path (the TAP
    /// that carries the box's own traffic to Linux); `outside.kernel_iface`.
    pub kernel_iface: String,
    /// `outside.kernel_allow` (an added key): what the exception path
    /// passes to the kernel; default ICMP only.
    pub kernel_allow: Vec<KernelRule>,
    /// `outside.kernel_pps`, `outside.kernel_bytes_per_second` (added keys).
    pub kernel_policy: KernelPolicy,
}

impl Outside {
    /// Whether `addr` is on the outside link.
    pub fn on_link(&self, addr: Ipv4Addr) -> bool {
        let m = mask_v4(self.prefix_len);
        u32::from(addr) & m == u32::from(self.address) & m
    }
}

impl TryFrom<raw::Outside> for Outside {
    type Error = ConfigError;

    fn try_from(o: raw::Outside) -> Result<Self, ConfigError> {
        if o.device.trim().is_empty() {
            return Err(ConfigError::invalid("outside.device", "must not be empty"));
        }
        let (address, prefix_len) = at("outside.address", parse_iface::<Ipv4Addr>(&o.address, 32))?;
        let gateway: Ipv4Addr = o.gateway.parse().map_err(|_| {
            ConfigError::invalid(
                "outside.gateway",
                format!("{:?} is not an IPv4 address", o.gateway),
            )
        })?;
        let outside = Outside {
            device: o.device,
            address,
            prefix_len,
            gateway,
            gateway_mac: o
                .gateway_mac
                .as_deref()
                .map(|s| at("outside.gateway_mac", parse_mac(s)))
                .transpose()?,
            mtu: o.mtu,
            kernel_iface: at("outside.kernel_iface", check_ifname(&o.kernel_iface))?,
            kernel_allow: parse_list("outside.kernel_allow", &o.kernel_allow, KernelRule::parse)?,
            kernel_policy: KernelPolicy::new("outside", o.kernel_pps, o.kernel_bytes_per_second)?,
        };
        // The next hop is on the link (IPv4 has no link-local next hops).
        if !outside.on_link(gateway) {
            return Err(ConfigError::invalid(
                "outside.gateway",
                format!("{gateway} is not on the outside link {}", o.address),
            ));
        }
        if gateway == address {
            return Err(ConfigError::invalid(
                "outside.gateway",
                format!("{gateway} is the box's own outside.address"),
            ));
        }
        // RFC 791: every IPv4 module forwards a 68-byte datagram whole.
        if outside.mtu < 68 {
            return Err(ConfigError::invalid(
                "outside.mtu",
                format!("{} is below the IPv4 minimum MTU 68", outside.mtu),
            ));
        }
        check_frame_fits("outside.mtu", outside.mtu)?;
        Ok(outside)
    }
}

/// `[workers]`: per-worker sizing. All values are at least 1 (the held
/// fragments' count and bytes may be 0: nothing is held), `burst` at
/// most [`Workers::MAX_BURST`] and at most `mbufs_per_worker`, the held
/// fragments at most half of `mbufs_per_worker` (they keep their
/// buffers).
#[derive(Debug, Clone, PartialEq)]
pub struct Workers {
    /// Packets a worker takes per poll (rx burst), 1..=[`Workers::MAX_BURST`].
    pub burst: u16,
    pub mbufs_per_worker: u32,
    pub max_sessions_per_worker: u32,
    /// Fragmented datagrams a worker tracks at once (RFC 6146 §3.4).
    pub max_fragmented_datagrams_per_worker: u32,
    /// Fragments a worker holds until their first fragment comes.
    pub max_held_fragments_per_worker: u32,
    /// Bytes of those held fragments, at most.
    pub max_held_fragment_bytes_per_worker: u32,
}

impl Workers {
    /// The largest `workers.burst`: the capacity of a worker's rx burst.
    pub const MAX_BURST: u16 = 32;
    /// The largest `workers.max_held_fragments_per_worker`: parking slots
    /// are numbered in 16 bits.
    pub const MAX_HELD_FRAGMENTS: u32 = 65535;
}

impl TryFrom<raw::Workers> for Workers {
    type Error = ConfigError;

    fn try_from(w: raw::Workers) -> Result<Self, ConfigError> {
        for (k, v) in [
            ("burst", u32::from(w.burst)),
            ("mbufs_per_worker", w.mbufs_per_worker),
            ("max_sessions_per_worker", w.max_sessions_per_worker),
            (
                "max_fragmented_datagrams_per_worker",
                w.max_fragmented_datagrams_per_worker,
            ),
        ] {
            if v == 0 {
                return Err(ConfigError::invalid(
                    format!("workers.{k}"),
                    "must be greater than 0",
                ));
            }
        }
        if w.burst > Workers::MAX_BURST {
            return Err(ConfigError::invalid(
                "workers.burst",
                format!(
                    "{} is more than {}, the most packets a worker takes per poll",
                    w.burst,
                    Workers::MAX_BURST
                ),
            ));
        }
        if u32::from(w.burst) > w.mbufs_per_worker {
            return Err(ConfigError::invalid(
                "workers.burst",
                format!(
                    "{} is more than workers.mbufs_per_worker {}",
                    w.burst, w.mbufs_per_worker
                ),
            ));
        }
        if w.max_held_fragments_per_worker > Workers::MAX_HELD_FRAGMENTS {
            return Err(ConfigError::invalid(
                "workers.max_held_fragments_per_worker",
                format!(
                    "{} is more than {}, the most a worker can hold",
                    w.max_held_fragments_per_worker,
                    Workers::MAX_HELD_FRAGMENTS
                ),
            ));
        }
        if w.max_held_fragments_per_worker > w.mbufs_per_worker / 2 {
            return Err(ConfigError::invalid(
                "workers.max_held_fragments_per_worker",
                format!(
                    "{} is more than half of workers.mbufs_per_worker {}: held fragments keep their buffers",
                    w.max_held_fragments_per_worker, w.mbufs_per_worker
                ),
            ));
        }
        Ok(Workers {
            burst: w.burst,
            mbufs_per_worker: w.mbufs_per_worker,
            max_sessions_per_worker: w.max_sessions_per_worker,
            max_fragmented_datagrams_per_worker: w.max_fragmented_datagrams_per_worker,
            max_held_fragments_per_worker: w.max_held_fragments_per_worker,
            max_held_fragment_bytes_per_worker: w.max_held_fragment_bytes_per_worker,
        })
    }
}

/// `[dns64]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Dns64 {
    pub enabled: bool,
    /// Where the responder listens (UDP and TCP). Non-empty when enabled.
    pub listen: Vec<SocketAddr>,
    /// Upstream resolvers, in failover order. Non-empty when enabled.
    pub upstream: Vec<SocketAddr>,
    /// Upstream query timeout (> 0).
    pub timeout: Duration,
    /// Synthesis prefix: `translation.prefix` unless set (and allowed) otherwise.
    pub prefix: Nat64Prefix,
    /// AAAA records under these prefixes count as absent (RFC 6147 §5.1.4).
    pub exclude: Vec<Ipv6Prefix>,
    /// Answer A queries with an empty answer.
    pub filter_a: bool,
    /// Synthesize PTR answers under the prefix (RFC 6147 §5.3.1).
    pub synthesize_ptr: bool,
    /// Treat an upstream failure or an rcode other than NOERROR, NXDOMAIN
    /// and SERVFAIL as NODATA and synthesize (RFC 6147 §5.1.3). An added key.
    pub synthesize_on_error: bool,
    /// Cache size in entries; 0 disables the cache.
    pub cache_entries: u32,
    /// `dns64.allow`: clients answered besides those on the inside
    /// interface and loopback. An added key.
    pub allow: ClientList,
    /// Queries per second one client may send (a token bucket, burst of
    /// one second's worth); 0 turns the limit off. An added key.
    pub rate_limit_qps: u32,
}

impl TryFrom<(raw::Dns64, &Translation)> for Dns64 {
    type Error = ConfigError;

    /// The section with the translation whose prefix it synthesizes under
    /// unless `dns64.prefix` says (and is allowed to say) otherwise.
    fn try_from((d, translation): (raw::Dns64, &Translation)) -> Result<Self, ConfigError> {
        // Values are checked even when disabled.
        let listen = parse_list("dns64.listen", &d.listen, parse_socket)?;
        let upstream = parse_list("dns64.upstream", &d.upstream, parse_socket)?;
        let exclude = parse_list("dns64.exclude", &d.exclude, parse_ipv6_prefix)?;
        let allow = ClientList::parse("dns64.allow", &d.allow)?;
        // RFC 6147 §5.2: synthesis under the NAT64's own prefix, unless
        // another NAT64 serves a different one (the escape hatch).
        let own = translation.prefix;
        let prefix = match &d.prefix {
            None => own,
            Some(s) => {
                let p: Nat64Prefix = s
                    .parse()
                    .map_err(|e| ConfigError::invalid("dns64.prefix", format!("{e}")))?;
                if p != own && !d.allow_prefix_mismatch {
                    return Err(ConfigError::invalid(
                        "dns64.prefix",
                        format!(
                            "{p} differs from translation.prefix {own} \
                             (set dns64.allow_prefix_mismatch = true if that is intended)"
                        ),
                    ));
                }
                p
            }
        };
        if d.enabled && listen.is_empty() {
            return Err(ConfigError::invalid(
                "dns64.listen",
                "empty, but dns64 is enabled",
            ));
        }
        if d.enabled && upstream.is_empty() {
            return Err(ConfigError::invalid(
                "dns64.upstream",
                "empty, but dns64 is enabled",
            ));
        }
        if d.timeout_ms == 0 {
            return Err(ConfigError::invalid(
                "dns64.timeout_ms",
                "must be greater than 0",
            ));
        }
        Ok(Dns64 {
            enabled: d.enabled,
            listen,
            upstream,
            timeout: Duration::from_millis(d.timeout_ms),
            prefix,
            exclude,
            filter_a: d.filter_a,
            synthesize_ptr: d.synthesize_ptr,
            synthesize_on_error: d.synthesize_on_error,
            cache_entries: d.cache_entries,
            allow,
            rate_limit_qps: d.rate_limit_qps,
        })
    }
}

/// `[metrics]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Metrics {
    /// HTTP listener for `/metrics` and `/healthz`.
    pub listen: SocketAddr,
    /// `metrics.allow` (an added key): the clients answered besides
    /// loopback; `None` (the key absent): every client that reaches the
    /// listener.
    pub allow: Option<ClientList>,
}

impl TryFrom<raw::Metrics> for Metrics {
    type Error = ConfigError;

    fn try_from(m: raw::Metrics) -> Result<Self, ConfigError> {
        Ok(Metrics {
            listen: at("metrics.listen", parse_socket(&m.listen))?,
            allow: m
                .allow
                .as_deref()
                .map(|l| ClientList::parse("metrics.allow", l))
                .transpose()?,
        })
    }
}

/// `[logging]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Logging {
    pub level: Level,
    pub events: EventSink,
}

impl TryFrom<raw::Logging> for Logging {
    type Error = ConfigError;

    fn try_from(l: raw::Logging) -> Result<Self, ConfigError> {
        Ok(Logging {
            level: at("logging.level", Level::parse(&l.level))?,
            // RFC 5424 over UDP, or a file.
            events: at("logging.events", parse_events(&l.events))?,
        })
    }
}
