//! The values of single keys: address ranges, prefixes, MAC addresses,
//! interface names, socket addresses, log levels and event sinks, each with
//! the parser that reads it from the string the file holds.
//!
//! Promises: a parser either returns a value that is well-formed on its
//! own terms (a range that is not reversed, a prefix with no bits past its
//! length, a unicast MAC, a Linux-valid interface name, a port that is not
//! 0) or a message saying what is wrong with the string, without the key:
//! the section conversions in `section.rs` put the key in front ([`at`],
//! [`parse_list`]). Nothing here looks at another key.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::str::FromStr;

use super::ConfigError;

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

    /// The range less the addresses of `other`: none, one or two ranges.
    pub fn minus(&self, other: &Ipv4Range) -> Vec<Ipv4Range> {
        if !self.overlaps(other) {
            return vec![*self];
        }
        let (first, last) = (u32::from(self.first), u32::from(self.last));
        let (o_first, o_last) = (u32::from(other.first), u32::from(other.last));
        let mut out = Vec::new();
        if first < o_first {
            out.push(Ipv4Range {
                first: self.first,
                last: Ipv4Addr::from(o_first - 1),
            });
        }
        if o_last < last {
            out.push(Ipv4Range {
                first: Ipv4Addr::from(o_last + 1),
                last: self.last,
            });
        }
        out
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

/// An IPv6 prefix (`dns64.exclude`, `pool4.deterministic_inside`): no bits
/// set past `len`.
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

/// How port blocks are handed to subscribers (`pool4.allocation`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Allocation {
    /// Blocks on demand from a free list, each allocation logged (RFC 6888).
    Dynamic,
    /// RFC 7422 algorithmic mapping; nothing logged per allocation.
    Deterministic,
}

impl Allocation {
    /// `"dynamic"` or `"deterministic"`.
    pub(super) fn parse(s: &str) -> Result<Allocation, String> {
        match s {
            "dynamic" => Ok(Allocation::Dynamic),
            "deterministic" => Ok(Allocation::Deterministic),
            other => Err(format!("{other:?} is not \"dynamic\" or \"deterministic\"")),
        }
    }
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

    /// One of the names [`Level::as_str`] gives.
    pub(super) fn parse(s: &str) -> Result<Level, String> {
        match s {
            "error" => Ok(Level::Error),
            "warn" => Ok(Level::Warn),
            "info" => Ok(Level::Info),
            "debug" => Ok(Level::Debug),
            "trace" => Ok(Level::Trace),
            other => Err(format!(
                "{other:?} is not one of error, warn, info, debug, trace"
            )),
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

/// `len` leading one bits of an IPv4 address.
pub(super) fn mask_v4(len: u8) -> u32 {
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
pub(super) fn in_prefix_v6(addr: &Ipv6Addr, net: &Ipv6Addr, len: u8) -> bool {
    (u128::from(*addr) ^ u128::from(*net)) & mask_v6(len) == 0
}

/// The network address of `addr`'s `len`-bit prefix (host bits zero).
pub(super) fn network_v6(addr: &Ipv6Addr, len: u8) -> Ipv6Addr {
    Ipv6Addr::from(u128::from(*addr) & mask_v6(len))
}

/// `"a.b.c.d/len"`, `"a.b.c.d-a.b.c.e"` or `"a.b.c.d"`.
pub(super) fn parse_ipv4_range(s: &str) -> Result<Ipv4Range, String> {
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
pub(super) fn parse_port_range(s: &str) -> Result<(u16, u16), String> {
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
pub(super) fn parse_iface<A: FromStr>(s: &str, max_len: u8) -> Result<(A, u8), String> {
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

/// A Linux interface name: 1..=15 bytes (IFNAMSIZ - 1), no '/', ':' or
/// whitespace, not "." or "..".
pub(super) fn check_ifname(s: &str) -> Result<String, String> {
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

/// `"02:00:00:00:00:02"` (or with `-`): a unicast MAC.
pub(super) fn parse_mac(s: &str) -> Result<[u8; 6], String> {
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
pub(super) fn parse_socket(s: &str) -> Result<SocketAddr, String> {
    s.trim()
        .parse()
        .map_err(|_| format!("{s:?} is not an address:port"))
}

/// A generic IPv6 prefix, no bits past the length.
pub(super) fn parse_ipv6_prefix(s: &str) -> Result<Ipv6Prefix, String> {
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
pub(super) fn parse_events(s: &str) -> Result<EventSink, String> {
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

/// A list of client addresses a service answers (`dns64.allow`,
/// `metrics.allow`): IPv4 ranges and prefixes, IPv6 prefixes, in any mix.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientList {
    pub v4: Vec<Ipv4Range>,
    pub v6: Vec<Ipv6Prefix>,
}

impl ClientList {
    /// The entries of `list`, each an IPv4 range or prefix
    /// ("a.b.c.d/n", "a.b.c.d-a.b.c.e", "a.b.c.d") or an IPv6 prefix,
    /// naming `key[i]` on failure.
    pub(super) fn parse(key: &str, list: &[String]) -> Result<ClientList, ConfigError> {
        let mut l = ClientList::default();
        for (i, s) in list.iter().enumerate() {
            let r = if s.contains(':') {
                parse_ipv6_prefix(s).map(|p| l.v6.push(p))
            } else {
                parse_ipv4_range(s).map(|r| l.v4.push(r))
            };
            r.map_err(|e| ConfigError::invalid(format!("{key}[{i}]"), e))?;
        }
        Ok(l)
    }

    /// Whether `source` is listed; an IPv4-mapped IPv6 source (a
    /// dual-stack socket) counts as its IPv4 address.
    pub fn contains(&self, source: IpAddr) -> bool {
        match unmapped(source) {
            IpAddr::V4(a) => self.v4.iter().any(|r| r.contains(a)),
            IpAddr::V6(a) => self.v6.iter().any(|p| p.contains(&a)),
        }
    }

    /// No entry.
    pub fn is_empty(&self) -> bool {
        self.v4.is_empty() && self.v6.is_empty()
    }
}

/// An IPv4-mapped IPv6 address (a dual-stack socket's peer) as its IPv4
/// address; any other address as it is.
pub fn unmapped(a: IpAddr) -> IpAddr {
    match a {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(a, IpAddr::V4),
        IpAddr::V4(_) => a,
    }
}

/// Parse each string of `list` with `parse`, naming `key[i]` on failure.
pub(super) fn parse_list<T>(
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
pub(super) fn at<T>(key: &str, r: Result<T, String>) -> Result<T, ConfigError> {
    r.map_err(|e| ConfigError::invalid(key, e))
}
