//! The configuration: `spec/cgn.toml` parsed, defaulted and validated into
//! typed values before anything starts.
//!
//! Promises: every key of the contract is accepted exactly as written, with
//! its documented default when omitted; an unknown key, a value of the wrong
//! type or range, or an inconsistent combination is a [`ConfigError`] whose
//! message names the key path (`pool4.block_size: 300 is not a power of
//! two`). A [`Config`] that exists is internally consistent: later code does
//! not re-check it.
//!
//! Parsing is two-staged: [`raw`] holds one serde struct per section
//! (`deny_unknown_fields`, strings for anything that needs parsing), and
//! this module turns it into typed values. To name the key of a serde error
//! (toml reports only a span), each key of a section is first deserialized
//! on its own, so a failure belongs to exactly that key.
//!
//! Choices made here, not in the contract:
//! - `dns64.allow_prefix_mismatch` (default false) is the escape hatch for a
//!   `dns64.prefix` that differs from `translation.prefix`.
//! - Timeouts below the RFC 6146 §4 / RFC 5508 minimums (udp 120,
//!   tcp_established 7440, tcp_transitory 240, icmp 60, tcp_incoming_syn 6)
//!   are accepted with a warning in [`Config::warnings`], not refused:
//!   test and lab setups shorten them on purpose. Zero is refused.
//! - `pool4.port_range` may not include port 0, and pool entries may not
//!   overlap. A static BIB entry's IPv4 port may lie inside the dynamic
//!   range: the pool allocator keeps that port's block out of circulation.

mod error;
pub mod raw;

pub use error::ConfigError;

use std::collections::HashSet;
use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use serde::de::DeserializeOwned;

use crate::xlat::rfc6052::Nat64Prefix;
use crate::xlat::{XlatConfig, L4};

/// A validated configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub translation: Translation,
    pub pool4: Pool4,
    pub timeouts: Timeouts,
    pub filtering: Filtering,
    pub static_bib: Vec<StaticBibEntry>,
    pub inside: Inside,
    pub outside: Outside,
    pub workers: Workers,
    pub dns64: Dns64,
    pub metrics: Metrics,
    pub logging: Logging,
    /// Accepted but questionable settings, to be logged at start-up.
    pub warnings: Vec<String>,
}

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
    /// (f), RFC 1812 §4.3.2.8); 0: no limit. An added key.
    pub icmp_errors_per_second: u32,
}

/// An inclusive range of IPv4 addresses, one entry of `pool4.addresses`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ipv4Range {
    pub first: Ipv4Addr,
    pub last: Ipv4Addr,
}

impl Ipv4Range {
    /// Number of addresses in the range (at least 1).
    #[allow(clippy::len_without_is_empty)] // never empty: first <= last
    pub fn len(&self) -> u64 {
        u64::from(u32::from(self.last)) - u64::from(u32::from(self.first)) + 1
    }

    /// Whether `addr` lies in the range.
    pub fn contains(&self, addr: Ipv4Addr) -> bool {
        self.first <= addr && addr <= self.last
    }

    /// Whether the two ranges share an address.
    pub fn overlaps(&self, other: &Ipv4Range) -> bool {
        self.first <= other.last && other.first <= self.last
    }

    /// Every address of the range, in order.
    pub fn iter(&self) -> impl Iterator<Item = Ipv4Addr> {
        (u32::from(self.first)..=u32::from(self.last)).map(Ipv4Addr::from)
    }
}

impl fmt::Display for Ipv4Range {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (first, n) = (u32::from(self.first), self.len());
        if n == 1 {
            write!(f, "{}", self.first)
        } else if n.is_power_of_two() && u64::from(first) % n == 0 {
            write!(f, "{}/{}", self.first, 32 - n.trailing_zeros())
        } else {
            write!(f, "{}-{}", self.first, self.last)
        }
    }
}

/// How port blocks are handed to subscribers (`pool4.allocation`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Allocation {
    /// Blocks on demand from a free list, each allocation logged (RFC 6888).
    Dynamic,
    /// RFC 7422 algorithmic mapping; nothing logged per allocation.
    Deterministic,
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
    /// Leading IPv6 source bits that identify a subscriber (1..=128).
    pub subscriber_prefix_len: u8,
    pub allocation: Allocation,
    /// All blocks of a subscriber on one address (RFC 4787 REQ-2).
    pub paired: bool,
    /// `pool4.deterministic_inside`: the IPv6 prefix mapped by RFC 7422
    /// (set, and checked to fit the pool, when `allocation` is
    /// deterministic; see `nat64::pool4::deterministic_range`).
    pub deterministic_inside: Option<Ipv6Prefix>,
}

impl Pool4 {
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
}

/// `[filtering]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Filtering {
    /// Address-dependent (true) or endpoint-independent filtering (RFC 6146 §3.5.1).
    pub address_dependent: bool,
    /// Drop IPv4-initiated SYNs outright instead of holding them.
    pub drop_externally_initiated_tcp: bool,
}

/// One `[[static_bib]]` entry: a fixed BIB mapping. For ICMP the ports are
/// echo identifiers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StaticBibEntry {
    pub protocol: L4,
    pub ipv6: SocketAddrV6,
    pub ipv4: SocketAddrV4,
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
}

impl Inside {
    /// Whether `addr` is on the inside link.
    pub fn on_link(&self, addr: &Ipv6Addr) -> bool {
        in_prefix_v6(addr, &self.address, self.prefix_len)
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
}

impl Outside {
    /// Whether `addr` is on the outside link.
    pub fn on_link(&self, addr: Ipv4Addr) -> bool {
        let m = mask_v4(self.prefix_len);
        u32::from(addr) & m == u32::from(self.address) & m
    }
}

/// `[workers]`: per-worker sizing. All values are at least 1.
#[derive(Debug, Clone, PartialEq)]
pub struct Workers {
    pub burst: u16,
    pub mbufs_per_worker: u32,
    pub max_sessions_per_worker: u32,
}

/// An IPv6 prefix (`dns64.exclude`): no bits set past `len`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ipv6Prefix {
    pub addr: Ipv6Addr,
    pub len: u8,
}

impl Ipv6Prefix {
    /// Whether `addr` lies under the prefix.
    pub fn contains(&self, addr: &Ipv6Addr) -> bool {
        in_prefix_v6(addr, &self.addr, self.len)
    }
}

impl fmt::Display for Ipv6Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
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
    /// Cache size in entries; 0 disables the cache.
    pub cache_entries: u32,
}

/// `[metrics]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Metrics {
    /// HTTP listener for `/metrics` and `/healthz`.
    pub listen: SocketAddr,
}

/// `logging.level`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Error,
    Warn,
    Info,
    Debug,
    Trace,
}

impl Level {
    /// The name as written in the file (and understood by tracing filters).
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Warn => "warn",
            Level::Info => "info",
            Level::Debug => "debug",
            Level::Trace => "trace",
        }
    }
}

/// Where port-block events go (`logging.events`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventSink {
    /// `syslog+udp://HOST:PORT`: RFC 5424 over UDP (port 514 if omitted).
    Syslog { host: String, port: u16 },
    /// `file:/PATH`: one line per event.
    File(PathBuf),
}

impl fmt::Display for EventSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EventSink::Syslog { host, port } if host.contains(':') => {
                write!(f, "syslog+udp://[{host}]:{port}")
            }
            EventSink::Syslog { host, port } => write!(f, "syslog+udp://{host}:{port}"),
            EventSink::File(path) => write!(f, "file:{}", path.display()),
        }
    }
}

/// `[logging]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Logging {
    pub level: Level,
    pub events: EventSink,
}

/// Sections the contract defines; anything else at the top level is unknown.
const SECTIONS: [&str; 11] = [
    "translation",
    "pool4",
    "timeouts",
    "filtering",
    "static_bib",
    "inside",
    "outside",
    "workers",
    "dns64",
    "metrics",
    "logging",
];

impl Config {
    /// Read and validate the configuration file at `path`.
    pub fn from_file(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Config::from_str(&text)
    }

    /// Parse and validate configuration text.
    #[allow(clippy::should_implement_trait)] // it is implemented too; this needs no import
    pub fn from_str(text: &str) -> Result<Config, ConfigError> {
        let root: toml::Table =
            toml::from_str(text).map_err(|e| ConfigError::Syntax(e.to_string()))?;
        if let Some(key) = root.keys().find(|k| !SECTIONS.contains(&k.as_str())) {
            return Err(ConfigError::UnknownKey {
                key: key.clone(),
                within: None,
            });
        }
        let static_bib = match root.get("static_bib") {
            None => Vec::new(),
            Some(toml::Value::Array(entries)) => entries
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    let path = format!("static_bib[{i}]");
                    deserialize_table::<raw::StaticBib>(v, &path, &path)
                })
                .collect::<Result<_, _>>()?,
            Some(other) => {
                return Err(ConfigError::invalid(
                    "static_bib",
                    format!(
                        "expected an array of tables ([[static_bib]]), found {}",
                        other.type_str()
                    ),
                ))
            }
        };
        validate(
            section(&root, "translation")?,
            section(&root, "pool4")?,
            section(&root, "timeouts")?,
            section(&root, "filtering")?,
            static_bib,
            section(&root, "inside")?,
            section(&root, "outside")?,
            section(&root, "workers")?,
            section(&root, "dns64")?,
            section(&root, "metrics")?,
            section(&root, "logging")?,
        )
    }

    /// Settings for the stateless translator.
    pub fn xlat_config(&self) -> XlatConfig {
        XlatConfig {
            lowest_ipv6_mtu: self.translation.lowest_ipv6_mtu,
            copy_traffic_class: self.translation.copy_traffic_class,
            amend_udp_checksum_zero: self.translation.amend_udp_checksum_zero,
            ipv6_mtu: self.inside.mtu,
            ipv4_mtu: self.outside.mtu,
            own_ipv6: self.inside.address,
            own_ipv4: self.outside.address,
            // Known only once the outside port is up (its driver's
            // offloads): the dataplane sets it.
            ipv4_checksum_offload: false,
        }
    }

    /// A short human summary of what this configuration will do.
    pub fn summary(&self) -> String {
        let t = &self.translation;
        let p = &self.pool4;
        let d = &self.dns64;
        let mut out = String::new();
        let rule = if !t.prefix.is_well_known() {
            "network-specific"
        } else if t.allow_non_global_ipv4 {
            "well-known, non-global IPv4 allowed"
        } else {
            "well-known, non-global IPv4 refused"
        };
        out += &format!("NAT64 prefix {} ({rule})\n", t.prefix);
        let ranges: Vec<String> = p.addresses.iter().map(|r| r.to_string()).collect();
        out += &format!(
            "pool4: {} address(es) [{}], ports {}-{}, {} blocks of {} per address \
             ({} in all), at most {} per /{} subscriber, {}{}\n",
            p.address_count(),
            ranges.join(", "),
            p.port_range.0,
            p.port_range.1,
            p.blocks_per_address(),
            p.block_size,
            p.total_blocks(),
            p.max_blocks_per_subscriber,
            p.subscriber_prefix_len,
            match (p.allocation, p.deterministic_inside) {
                (Allocation::Deterministic, Some(inside)) =>
                    format!("deterministic (RFC 7422) for {inside}"),
                (Allocation::Deterministic, None) => "deterministic (RFC 7422)".to_string(),
                (Allocation::Dynamic, _) => "dynamic".to_string(),
            },
            if p.paired { ", paired" } else { "" },
        );
        if !self.static_bib.is_empty() {
            let n = self.static_bib.len();
            out += &format!(
                "static BIB: {n} {}\n",
                if n == 1 { "entry" } else { "entries" }
            );
        }
        let i = &self.inside;
        let o = &self.outside;
        out += &format!(
            "inside {}: {}/{} via {}, mtu {}; outside {}: {}/{} via {}, mtu {}\n",
            i.device,
            i.address,
            i.prefix_len,
            i.gateway,
            i.mtu,
            o.device,
            o.address,
            o.prefix_len,
            o.gateway,
            o.mtu
        );
        let w = &self.workers;
        out += &format!(
            "workers: burst {}, {} mbufs and {} sessions each\n",
            w.burst, w.mbufs_per_worker, w.max_sessions_per_worker
        );
        if d.enabled {
            let list = |v: &[SocketAddr]| {
                v.iter()
                    .map(|a| a.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            out += &format!(
                "dns64: on, prefix {}, listening on {}, upstream {}\n",
                d.prefix,
                list(&d.listen),
                list(&d.upstream)
            );
        } else {
            out += "dns64: off\n";
        }
        out += &format!(
            "metrics on http://{}/metrics; log level {}; events to {}",
            self.metrics.listen,
            self.logging.level.as_str(),
            self.logging.events
        );
        out
    }
}

impl FromStr for Config {
    type Err = ConfigError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Config::from_str(s)
    }
}

/// Section `name` of `root`, or its defaults when absent.
fn section<T: DeserializeOwned + Default>(
    root: &toml::Table,
    name: &str,
) -> Result<T, ConfigError> {
    match root.get(name) {
        None => Ok(T::default()),
        Some(v) => deserialize_table(v, name, &format!("[{name}]")),
    }
}

/// Deserialize the table `value` at key path `path` into `T`.
///
/// toml reports a serde error with a span but no key, so each key is
/// deserialized alone first (the other fields take their defaults): an
/// error then belongs to exactly that key.
fn deserialize_table<T: DeserializeOwned + Default>(
    value: &toml::Value,
    path: &str,
    within: &str,
) -> Result<T, ConfigError> {
    let table = value.as_table().ok_or_else(|| {
        ConfigError::invalid(
            path,
            format!("expected a table, found {}", value.type_str()),
        )
    })?;
    for (key, v) in table {
        let mut one = toml::Table::new();
        one.insert(key.clone(), v.clone());
        if let Err(e) = toml::Value::Table(one).try_into::<T>() {
            let msg = e.message();
            if msg.starts_with("unknown field") {
                return Err(ConfigError::UnknownKey {
                    key: key.clone(),
                    within: Some(within.to_string()),
                });
            }
            return Err(ConfigError::invalid(format!("{path}.{key}"), tidy(msg)));
        }
    }
    toml::Value::Table(table.clone())
        .try_into::<T>()
        .map_err(|e| ConfigError::invalid(path, tidy(e.message())))
}

/// Say "an integer from 0 to 65535" where serde says "u16".
fn tidy(msg: &str) -> String {
    msg.replace("expected u8", "expected an integer from 0 to 255")
        .replace("expected u16", "expected an integer from 0 to 65535")
        .replace("expected u32", "expected an integer from 0 to 4294967295")
        .replace(
            "expected u64",
            "expected a non-negative integer (durations are whole seconds or ms)",
        )
        .replace("expected a boolean", "expected true or false")
}

/// `len` leading one bits of an IPv4 address.
fn mask_v4(len: u8) -> u32 {
    match len {
        0 => 0,
        l => u32::MAX << (32 - u32::from(l.min(32))),
    }
}

/// `len` leading one bits of an IPv6 address.
fn mask_v6(len: u8) -> u128 {
    match len {
        0 => 0,
        l => u128::MAX << (128 - u32::from(l.min(128))),
    }
}

/// Whether `addr` and `net` agree in the first `len` bits.
fn in_prefix_v6(addr: &Ipv6Addr, net: &Ipv6Addr, len: u8) -> bool {
    (u128::from(*addr) ^ u128::from(*net)) & mask_v6(len) == 0
}

/// `"a.b.c.d/len"`, `"a.b.c.d-a.b.c.e"` or `"a.b.c.d"`.
fn parse_ipv4_range(s: &str) -> Result<Ipv4Range, String> {
    let bad = || format!("{s:?} is not an IPv4 address, prefix or range");
    let s = s.trim();
    if let Some((addr, len)) = s.split_once('/') {
        let addr: Ipv4Addr = addr.parse().map_err(|_| bad())?;
        let len: u8 = len.parse().map_err(|_| bad())?;
        if len > 32 {
            return Err(format!("{s:?}: prefix length {len} is over 32"));
        }
        let m = mask_v4(len);
        if u32::from(addr) & !m != 0 {
            return Err(format!("{s:?} has bits set past the prefix length"));
        }
        Ok(Ipv4Range {
            first: addr,
            last: Ipv4Addr::from(u32::from(addr) | !m),
        })
    } else if let Some((first, last)) = s.split_once('-') {
        let first: Ipv4Addr = first.trim().parse().map_err(|_| bad())?;
        let last: Ipv4Addr = last.trim().parse().map_err(|_| bad())?;
        if first > last {
            return Err(format!("{s:?} is reversed"));
        }
        Ok(Ipv4Range { first, last })
    } else {
        let addr: Ipv4Addr = s.parse().map_err(|_| bad())?;
        Ok(Ipv4Range {
            first: addr,
            last: addr,
        })
    }
}

/// `"first-last"` (a single `"port"` is a range of one).
fn parse_port_range(s: &str) -> Result<(u16, u16), String> {
    let bad = || format!("{s:?} is not a port range \"first-last\" within 1-65535");
    let (first, last) = s.split_once('-').unwrap_or((s, s));
    let first: u16 = first.trim().parse().map_err(|_| bad())?;
    let last: u16 = last.trim().parse().map_err(|_| bad())?;
    if first > last {
        return Err(format!("{s:?} is reversed"));
    }
    if first == 0 {
        return Err(format!("{s:?} includes port 0, which cannot be handed out"));
    }
    Ok((first, last))
}

/// `"addr/len"` for an interface address on a link.
fn parse_iface<A: FromStr>(s: &str, max_len: u8) -> Result<(A, u8), String> {
    let bad = || format!("{s:?} is not ADDRESS/PREFIX-LENGTH");
    let (addr, len) = s.trim().split_once('/').ok_or_else(bad)?;
    let addr: A = addr.parse().map_err(|_| bad())?;
    let len: u8 = len.parse().map_err(|_| bad())?;
    if len == 0 || len > max_len {
        return Err(format!(
            "{s:?}: prefix length {len} is not within 1..={max_len}"
        ));
    }
    Ok((addr, len))
}

/// `"02:00:00:00:00:02"` (or with `-`): a unicast MAC.
/// A Linux interface name: 1..=15 bytes (IFNAMSIZ - 1), no '/', ':' or
/// whitespace, not "." or "..".
fn check_ifname(s: &str) -> Result<String, String> {
    if s.is_empty() || s.len() > 15 {
        return Err(format!(
            "{s:?} must be 1 to 15 bytes long (Linux interface names)"
        ));
    }
    if s == "." || s == ".." {
        return Err(format!("{s:?} is not a valid interface name"));
    }
    if let Some(c) = s
        .chars()
        .find(|c| *c == '/' || *c == ':' || c.is_whitespace() || c.is_control())
    {
        return Err(format!(
            "{s:?} contains {c:?}; Linux interface names have no '/', ':' or whitespace"
        ));
    }
    Ok(s.to_string())
}

fn parse_mac(s: &str) -> Result<[u8; 6], String> {
    let bad = || format!("{s:?} is not a MAC address like \"02:00:00:00:00:02\"");
    let mut mac = [0u8; 6];
    let parts: Vec<&str> = s.split([':', '-']).collect();
    if parts.len() != 6 {
        return Err(bad());
    }
    for (byte, part) in mac.iter_mut().zip(parts) {
        if part.len() != 2 {
            return Err(bad());
        }
        *byte = u8::from_str_radix(part, 16).map_err(|_| bad())?;
    }
    if mac[0] & 1 != 0 || mac == [0; 6] {
        return Err(format!("{s:?} is not a unicast MAC address"));
    }
    Ok(mac)
}

/// `"addr:port"` / `"[v6]:port"`.
fn parse_socket(s: &str) -> Result<SocketAddr, String> {
    s.trim()
        .parse()
        .map_err(|_| format!("{s:?} is not an address:port"))
}

/// A generic IPv6 prefix, no bits past the length.
fn parse_ipv6_prefix(s: &str) -> Result<Ipv6Prefix, String> {
    let bad = || format!("{s:?} is not an IPv6 prefix ADDRESS/LENGTH");
    let (addr, len) = s.trim().split_once('/').ok_or_else(bad)?;
    let addr: Ipv6Addr = addr.parse().map_err(|_| bad())?;
    let len: u8 = len.parse().map_err(|_| bad())?;
    if len > 128 {
        return Err(bad());
    }
    if u128::from(addr) & !mask_v6(len) != 0 {
        return Err(format!("{s:?} has bits set past the prefix length"));
    }
    Ok(Ipv6Prefix { addr, len })
}

/// `"syslog+udp://HOST:PORT"` or `"file:/PATH"`.
fn parse_events(s: &str) -> Result<EventSink, String> {
    let bad = || format!("{s:?} is not \"syslog+udp://HOST:PORT\" or \"file:/PATH\"");
    if let Some(path) = s.strip_prefix("file:") {
        if path.is_empty() {
            return Err(bad());
        }
        return Ok(EventSink::File(PathBuf::from(path)));
    }
    let rest = s.strip_prefix("syslog+udp://").ok_or_else(bad)?;
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    // "[v6]:port", "[v6]", "host:port" or "host".
    let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
        let (host, after) = v6.split_once(']').ok_or_else(bad)?;
        host.parse::<Ipv6Addr>().map_err(|_| bad())?;
        match after {
            "" => (host, None),
            p => (host, Some(p.strip_prefix(':').ok_or_else(bad)?)),
        }
    } else {
        match rest.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (rest, None),
        }
    };
    if host.is_empty() || host.contains(['/', ' ']) {
        return Err(bad());
    }
    let port = match port {
        None => 514,
        Some(p) => match p.parse::<u16>() {
            Ok(p) if p != 0 => p,
            _ => return Err(bad()),
        },
    };
    Ok(EventSink::Syslog {
        host: host.to_string(),
        port,
    })
}

/// Parse each string of `list` with `parse`, naming `key[i]` on failure.
fn parse_list<T>(
    key: &str,
    list: &[String],
    parse: impl Fn(&str) -> Result<T, String>,
) -> Result<Vec<T>, ConfigError> {
    list.iter()
        .enumerate()
        .map(|(i, s)| parse(s).map_err(|e| ConfigError::invalid(format!("{key}[{i}]"), e)))
        .collect()
}

/// Wrap a parse error with its key.
fn at<T>(key: &str, r: Result<T, String>) -> Result<T, ConfigError> {
    r.map_err(|e| ConfigError::invalid(key, e))
}

/// `pool4.deterministic_inside` against `pool4.allocation` (RFC 7422): the
/// prefix is required for deterministic allocation, may not be longer than
/// a subscriber prefix, and its 2^(subscriber_prefix_len - len)
/// subscribers must each get a slot of `max_blocks_per_subscriber *
/// block_size` consecutive ports on one address.
fn check_deterministic(p: &Pool4, warnings: &mut Vec<String>) -> Result<(), ConfigError> {
    const KEY: &str = "pool4.deterministic_inside";
    let inside = match (p.allocation, p.deterministic_inside) {
        (Allocation::Deterministic, Some(inside)) => inside,
        (Allocation::Deterministic, None) => {
            return Err(ConfigError::invalid(
                KEY,
                "missing: required when pool4.allocation = \"deterministic\"",
            ))
        }
        (Allocation::Dynamic, Some(inside)) => {
            warnings.push(format!(
                "{KEY}: {inside} is ignored because pool4.allocation = \"dynamic\""
            ));
            return Ok(());
        }
        (Allocation::Dynamic, None) => return Ok(()),
    };
    if inside.len > p.subscriber_prefix_len {
        return Err(ConfigError::invalid(
            KEY,
            format!(
                "{inside} is longer than pool4.subscriber_prefix_len {}",
                p.subscriber_prefix_len
            ),
        ));
    }
    let bits = u32::from(p.subscriber_prefix_len - inside.len);
    let slots_per_address = p.blocks_per_address() / p.max_blocks_per_subscriber;
    let slots = u128::from(p.address_count()) * u128::from(slots_per_address);
    // 2^bits subscribers; 2^64 already exceeds any pool's slot count.
    if bits >= 64 || (1u128 << bits) > slots {
        return Err(ConfigError::invalid(
            KEY,
            format!(
                "{inside} holds 2^{bits} subscribers of /{}, but the pool has only {slots} \
                 slots of max_blocks_per_subscriber * block_size = {} ports \
                 ({slots_per_address} per address)",
                p.subscriber_prefix_len,
                u64::from(p.max_blocks_per_subscriber) * u64::from(p.block_size),
            ),
        ));
    }
    Ok(())
}

/// Turn the raw sections into a checked [`Config`].
#[allow(clippy::too_many_arguments)] // one argument per section, in file order
fn validate(
    t: raw::Translation,
    p: raw::Pool4,
    tm: raw::Timeouts,
    f: raw::Filtering,
    sb: Vec<raw::StaticBib>,
    i: raw::Inside,
    o: raw::Outside,
    w: raw::Workers,
    d: raw::Dns64,
    m: raw::Metrics,
    l: raw::Logging,
) -> Result<Config, ConfigError> {
    let mut warnings = Vec::new();

    // [translation]
    let prefix: Nat64Prefix = t
        .prefix
        .parse()
        .map_err(|e| ConfigError::invalid("translation.prefix", format!("{e}")))?;
    if t.lowest_ipv6_mtu < 1280 {
        return Err(ConfigError::invalid(
            "translation.lowest_ipv6_mtu",
            format!("{} is below the IPv6 minimum MTU 1280", t.lowest_ipv6_mtu),
        ));
    }
    let translation = Translation {
        prefix,
        allow_non_global_ipv4: t.allow_non_global_ipv4,
        lowest_ipv6_mtu: t.lowest_ipv6_mtu,
        copy_traffic_class: t.copy_traffic_class,
        amend_udp_checksum_zero: t.amend_udp_checksum_zero,
        icmp_errors_per_second: t.icmp_errors_per_second,
    };

    // [pool4]
    if p.addresses.is_empty() {
        return Err(ConfigError::invalid("pool4.addresses", "empty pool"));
    }
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
    if ports % p.block_size != 0 {
        warnings.push(format!(
            "pool4.port_range: the last {} ports of {:?} make no whole block of {} and are unused",
            ports % p.block_size,
            p.port_range,
            p.block_size
        ));
    }
    if p.max_blocks_per_subscriber == 0 {
        return Err(ConfigError::invalid(
            "pool4.max_blocks_per_subscriber",
            "must be at least 1",
        ));
    }
    let blocks_per_address = ports / p.block_size;
    if p.paired && p.max_blocks_per_subscriber > blocks_per_address {
        warnings.push(format!(
            "pool4.max_blocks_per_subscriber: {} is more than the {blocks_per_address} blocks \
             of one address, and paired = true keeps a subscriber on one address",
            p.max_blocks_per_subscriber
        ));
    }
    if !(1..=128).contains(&p.subscriber_prefix_len) {
        return Err(ConfigError::invalid(
            "pool4.subscriber_prefix_len",
            format!("{} is not within 1..=128", p.subscriber_prefix_len),
        ));
    }
    let allocation = match p.allocation.as_str() {
        "dynamic" => Allocation::Dynamic,
        "deterministic" => Allocation::Deterministic,
        other => {
            return Err(ConfigError::invalid(
                "pool4.allocation",
                format!("{other:?} is not \"dynamic\" or \"deterministic\""),
            ))
        }
    };
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
        subscriber_prefix_len: p.subscriber_prefix_len,
        allocation,
        paired: p.paired,
        deterministic_inside,
    };
    check_deterministic(&pool4, &mut warnings)?;

    // [timeouts]: zero refused; below the RFC minimums only warned about.
    let mut secs = |key: &str, value: u64, rfc_min: u64, rfc: &str| {
        if value == 0 {
            return Err(ConfigError::invalid(
                format!("timeouts.{key}"),
                "must be greater than 0",
            ));
        }
        if value < rfc_min {
            warnings.push(format!(
                "timeouts.{key}: {value} s is below the {rfc} minimum of {rfc_min} s"
            ));
        }
        Ok(Duration::from_secs(value))
    };
    let timeouts = Timeouts {
        udp: secs("udp", tm.udp, 120, "RFC 6146 section 4")?,
        tcp_established: secs(
            "tcp_established",
            tm.tcp_established,
            7440,
            "RFC 6146 section 4",
        )?,
        tcp_transitory: secs(
            "tcp_transitory",
            tm.tcp_transitory,
            240,
            "RFC 6146 section 4",
        )?,
        icmp: secs("icmp", tm.icmp, 60, "RFC 5508 REQ-1")?,
        tcp_incoming_syn: secs(
            "tcp_incoming_syn",
            tm.tcp_incoming_syn,
            6,
            "RFC 6146 section 3.5.2.2",
        )?,
    };

    let filtering = Filtering {
        address_dependent: f.address_dependent,
        drop_externally_initiated_tcp: f.drop_externally_initiated_tcp,
    };

    // [inside]
    if i.device.trim().is_empty() {
        return Err(ConfigError::invalid("inside.device", "must not be empty"));
    }
    let (in_addr, in_len) = at("inside.address", parse_iface::<Ipv6Addr>(&i.address, 128))?;
    let in_gw: Ipv6Addr = i.gateway.parse().map_err(|_| {
        ConfigError::invalid(
            "inside.gateway",
            format!("{:?} is not an IPv6 address", i.gateway),
        )
    })?;
    let inside = Inside {
        device: i.device,
        address: in_addr,
        prefix_len: in_len,
        gateway: in_gw,
        gateway_mac: i
            .gateway_mac
            .as_deref()
            .map(|s| at("inside.gateway_mac", parse_mac(s)))
            .transpose()?,
        mtu: i.mtu,
        kernel_iface: at("inside.kernel_iface", check_ifname(&i.kernel_iface))?,
    };
    // A link-local next hop is usual for IPv6 and always on-link.
    let link_local = (u128::from(in_gw) >> 118) == 0x3fa; // fe80::/10
    if !link_local && !inside.on_link(&in_gw) {
        return Err(ConfigError::invalid(
            "inside.gateway",
            format!("{in_gw} is not on the inside link {}", i.address),
        ));
    }
    if in_gw == in_addr {
        return Err(ConfigError::invalid(
            "inside.gateway",
            format!("{in_gw} is the box's own inside.address"),
        ));
    }
    if inside.mtu < 1280 {
        return Err(ConfigError::invalid(
            "inside.mtu",
            format!("{} is below the IPv6 minimum MTU 1280", inside.mtu),
        ));
    }
    if translation.lowest_ipv6_mtu > inside.mtu {
        return Err(ConfigError::invalid(
            "translation.lowest_ipv6_mtu",
            format!(
                "{} is larger than inside.mtu {}",
                translation.lowest_ipv6_mtu, inside.mtu
            ),
        ));
    }
    // Translated destinations must not look on-link, nor the link translated.
    let link_len = in_len.min(prefix.len());
    if in_prefix_v6(&prefix.addr(), &in_addr, link_len) {
        return Err(ConfigError::invalid(
            "translation.prefix",
            format!("{prefix} overlaps the inside link {}", i.address),
        ));
    }

    // [outside]
    if o.device.trim().is_empty() {
        return Err(ConfigError::invalid("outside.device", "must not be empty"));
    }
    if o.device == inside.device {
        return Err(ConfigError::invalid(
            "outside.device",
            format!("{:?} is also inside.device", o.device),
        ));
    }
    let (out_addr, out_len) = at("outside.address", parse_iface::<Ipv4Addr>(&o.address, 32))?;
    let out_gw: Ipv4Addr = o.gateway.parse().map_err(|_| {
        ConfigError::invalid(
            "outside.gateway",
            format!("{:?} is not an IPv4 address", o.gateway),
        )
    })?;
    let outside = Outside {
        device: o.device,
        address: out_addr,
        prefix_len: out_len,
        gateway: out_gw,
        gateway_mac: o
            .gateway_mac
            .as_deref()
            .map(|s| at("outside.gateway_mac", parse_mac(s)))
            .transpose()?,
        mtu: o.mtu,
        kernel_iface: at("outside.kernel_iface", check_ifname(&o.kernel_iface))?,
    };
    if outside.kernel_iface == inside.kernel_iface {
        return Err(ConfigError::invalid(
            "outside.kernel_iface",
            format!("{:?} is also inside.kernel_iface", outside.kernel_iface),
        ));
    }
    if !outside.on_link(out_gw) {
        return Err(ConfigError::invalid(
            "outside.gateway",
            format!("{out_gw} is not on the outside link {}", o.address),
        ));
    }
    if out_gw == out_addr {
        return Err(ConfigError::invalid(
            "outside.gateway",
            format!("{out_gw} is the box's own outside.address"),
        ));
    }
    if outside.mtu < 68 {
        return Err(ConfigError::invalid(
            "outside.mtu",
            format!("{} is below the IPv4 minimum MTU 68", outside.mtu),
        ));
    }

    // [[static_bib]]
    let mut static_bib: Vec<StaticBibEntry> = Vec::with_capacity(sb.len());
    let mut seen6 = HashSet::new();
    let mut seen4 = HashSet::new();
    for (n, e) in sb.into_iter().enumerate() {
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
        if prefix.contains(ipv6.ip()) {
            return Err(ConfigError::invalid(
                key("ipv6"),
                format!("{} is under translation.prefix {prefix}", ipv6.ip()),
            ));
        }
        if !pool4.contains(*ipv4.ip()) {
            return Err(ConfigError::invalid(
                key("ipv4"),
                format!("{} is not in pool4.addresses", ipv4.ip()),
            ));
        }
        if protocol != L4::Icmp && (ipv4.port() == 0 || ipv6.port() == 0) {
            return Err(ConfigError::invalid(key("ipv4"), "port 0 cannot be mapped"));
        }
        if !seen6.insert((protocol, ipv6)) {
            return Err(ConfigError::invalid(
                key("ipv6"),
                format!("{ipv6} is mapped twice"),
            ));
        }
        if !seen4.insert((protocol, ipv4)) {
            return Err(ConfigError::invalid(
                key("ipv4"),
                format!("{ipv4} is mapped twice"),
            ));
        }
        static_bib.push(StaticBibEntry {
            protocol,
            ipv6,
            ipv4,
        });
    }

    // [workers]
    for (k, v) in [
        ("burst", u32::from(w.burst)),
        ("mbufs_per_worker", w.mbufs_per_worker),
        ("max_sessions_per_worker", w.max_sessions_per_worker),
    ] {
        if v == 0 {
            return Err(ConfigError::invalid(
                format!("workers.{k}"),
                "must be greater than 0",
            ));
        }
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
    let workers = Workers {
        burst: w.burst,
        mbufs_per_worker: w.mbufs_per_worker,
        max_sessions_per_worker: w.max_sessions_per_worker,
    };

    // [dns64]: values are checked even when disabled.
    let listen = parse_list("dns64.listen", &d.listen, parse_socket)?;
    let upstream = parse_list("dns64.upstream", &d.upstream, parse_socket)?;
    let exclude = parse_list("dns64.exclude", &d.exclude, parse_ipv6_prefix)?;
    let dns_prefix = match &d.prefix {
        None => prefix,
        Some(s) => {
            let p: Nat64Prefix = s
                .parse()
                .map_err(|e| ConfigError::invalid("dns64.prefix", format!("{e}")))?;
            if p != prefix && !d.allow_prefix_mismatch {
                return Err(ConfigError::invalid(
                    "dns64.prefix",
                    format!(
                        "{p} differs from translation.prefix {prefix} \
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
    let dns64 = Dns64 {
        enabled: d.enabled,
        listen,
        upstream,
        timeout: Duration::from_millis(d.timeout_ms),
        prefix: dns_prefix,
        exclude,
        filter_a: d.filter_a,
        synthesize_ptr: d.synthesize_ptr,
        cache_entries: d.cache_entries,
    };

    // [metrics]
    let metrics = Metrics {
        listen: at("metrics.listen", parse_socket(&m.listen))?,
    };

    // [logging]
    let level = match l.level.as_str() {
        "error" => Level::Error,
        "warn" => Level::Warn,
        "info" => Level::Info,
        "debug" => Level::Debug,
        "trace" => Level::Trace,
        other => {
            return Err(ConfigError::invalid(
                "logging.level",
                format!("{other:?} is not one of error, warn, info, debug, trace"),
            ))
        }
    };
    let logging = Logging {
        level,
        events: at("logging.events", parse_events(&l.events))?,
    };

    Ok(Config {
        translation,
        pool4,
        timeouts,
        filtering,
        static_bib,
        inside,
        outside,
        workers,
        dns64,
        metrics,
        logging,
        warnings,
    })
}

#[cfg(test)]
mod tests;
