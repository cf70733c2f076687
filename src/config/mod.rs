//! The configuration: `config/cgn.toml` (the documented example, every
//! key shown) parsed, defaulted and validated into typed values before
//! anything starts.
//!
//! Promises: every key of the contract is accepted exactly as written, with
//! its documented default when omitted; an unknown key, a value of the wrong
//! type or range, or an inconsistent combination is a [`ConfigError`] whose
//! message names the key path (`pool4.block_size: 300 is not a power of
//! two`). A [`Config`] that exists is internally consistent: later code does
//! not re-check it.
//!
//! Parsing is staged: [`raw`] holds one serde struct per section
//! (`deny_unknown_fields`, strings for anything that needs parsing); each
//! typed section converts from its raw section on its own (`TryFrom`, in
//! `section.rs`, with the value parsers of `value.rs`), so one section can
//! be converted and checked alone; then [`Config::check_across`] runs the
//! few checks that join two sections. To name the key of a serde error
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
//! - `workers.burst` is at most [`Workers::MAX_BURST`] (32), the capacity
//!   of a worker's rx burst.
//! - Added keys for fragments (RFC 6146 §3.4): `timeouts.fragment`
//!   (refused below FRAGMENT_MIN, 2 s) and the per-worker bounds
//!   `workers.max_fragmented_datagrams_per_worker`,
//!   `workers.max_held_fragments_per_worker` (at most half of
//!   `mbufs_per_worker`: held fragments keep their buffers) and
//!   `workers.max_held_fragment_bytes_per_worker`.

mod error;
pub mod raw;
pub mod reload;
mod section;
mod value;

pub use error::ConfigError;
pub use section::{
    static_bib, Dns64, Filtering, Inside, KernelPolicy, KernelProto, KernelRule, Logging, Metrics,
    Outside, Pool4, StaticBibEntry, Timeouts, Translation, Workers,
};
pub use value::{unmapped, Allocation, ClientList, EventSink, Ipv4Range, Ipv6Prefix, Level};

use std::net::SocketAddr;
use std::path::Path;
use std::str::FromStr;

use crate::xlat::XlatConfig;

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

impl Config {
    /// What the inside exception path passes to the kernel:
    /// `inside.kernel_allow`, or by default ICMPv6 and, with the DNS64
    /// enabled, UDP and TCP to each `dns64.listen` port.
    pub fn inside_kernel_allow(&self) -> Vec<KernelRule> {
        if let Some(list) = &self.inside.kernel_allow {
            return list.clone();
        }
        let mut rules = vec![KernelRule {
            proto: KernelProto::Icmp,
            port: None,
        }];
        if self.dns64.enabled {
            for a in &self.dns64.listen {
                for proto in [KernelProto::Udp, KernelProto::Tcp] {
                    let r = KernelRule {
                        proto,
                        port: Some(a.port()),
                    };
                    if !rules.contains(&r) {
                        rules.push(r);
                    }
                }
            }
        }
        rules
    }

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
        validate(raw::Config::from_table(&root)?)
    }

    /// The checks that join two sections, run after each section was
    /// converted on its own: what a reload of one section must pass
    /// against the others before it replaces its predecessor.
    pub fn check_across(&self) -> Result<(), ConfigError> {
        check_translation_and_inside(&self.translation, &self.inside)?;
        check_inside_and_outside(&self.inside, &self.outside)?;
        check_pool_and_outside(&self.pool4, &self.outside)?;
        check_static_bib(&self.static_bib, &self.translation, &self.pool4)?;
        check_dns64_listen(&self.dns64, &self.inside, &self.static_bib)
    }

    /// `translation.deny4` in force, the one list the translator and the
    /// DNS64 apply (`Nat64Prefix::reaches`): as written, or when the key is
    /// absent and the prefix is network-specific (which RFC 6052 §3.1
    /// does not restrict) the outside link's subnet and the RFC 1918
    /// ranges, so subscribers do not reach the box's own link or private
    /// space behind it; absent with the well-known prefix, nothing more
    /// than §3.1. Pool addresses are taken out: hairpinning (RFC 6146
    /// §3.8) to another subscriber stays possible.
    pub fn deny4(&self) -> Vec<Ipv4Range> {
        let listed = match &self.translation.deny4 {
            Some(list) => list.clone(),
            None if self.translation.prefix.is_well_known() => Vec::new(),
            None => {
                let o = &self.outside;
                let mask = value::mask_v4(o.prefix_len);
                let net = u32::from(o.address) & mask;
                let link = Ipv4Range {
                    first: net.into(),
                    last: (net | !mask).into(),
                };
                let rfc1918 = [(0x0a00_0000u32, 8u8), (0xac10_0000, 12), (0xc0a8_0000, 16)];
                std::iter::once(link)
                    .chain(rfc1918.iter().map(|&(net, len)| Ipv4Range {
                        first: net.into(),
                        last: (net | !value::mask_v4(len)).into(),
                    }))
                    .collect()
            }
        };
        self.pool4.addresses.iter().fold(listed, |ranges, pool| {
            ranges.iter().flat_map(|r| r.minus(pool)).collect()
        })
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
        let served = match &self.inside.subscribers {
            None => "any source (inside.subscribers not set)".to_string(),
            Some(list) => list
                .iter()
                .map(|p| p.to_string())
                .collect::<Vec<_>>()
                .join(", "),
        };
        let deny4 = self.deny4();
        let denied = if deny4.is_empty() {
            "no IPv4 range is denied beyond RFC 6052 section 3.1".to_string()
        } else {
            let list: Vec<String> = deny4.iter().map(|r| r.to_string()).collect();
            format!("subscribers may not reach {}", list.join(", "))
        };
        out += &format!("serves {served}; {denied}\n");
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

/// Turn the raw sections into a checked [`Config`]: each section on its
/// own, in file order, then the checks across sections.
fn validate(raw: raw::Config) -> Result<Config, ConfigError> {
    let translation = Translation::try_from(raw.translation)?;
    let pool4 = Pool4::try_from(raw.pool4)?;
    let timeouts = Timeouts::try_from(raw.timeouts)?;
    let filtering = Filtering::try_from(raw.filtering)?;
    let inside = Inside::try_from(raw.inside)?;
    let outside = Outside::try_from(raw.outside)?;
    let static_bib = static_bib(raw.static_bib)?;
    let workers = Workers::try_from(raw.workers)?;
    let dns64 = Dns64::try_from((raw.dns64, &translation))?;
    let metrics = Metrics::try_from(raw.metrics)?;
    let logging = Logging::try_from(raw.logging)?;
    let warnings = translation
        .warnings()
        .into_iter()
        .chain(pool4.warnings())
        .chain(timeouts.warnings())
        .chain(inside.warnings())
        .collect();
    let config = Config {
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
    };
    config.check_across()?;
    Ok(config)
}

/// `dns64.listen` against `inside` and the static BIB: subscribers reach
/// the DNS64 through the inside exception TAP, so a listen address is
/// loopback (local tools, benchmarks) or an IPv6 address the box may own
/// on the inside link (under `inside.address`'s prefix; one other than
/// `inside.address` is added to the TAP and answered in neighbour
/// discovery). Anything else (another network, an IPv4 address, the
/// unspecified address) could not be reached by a subscriber and is
/// refused; so is an on-link address that belongs to someone else, which
/// the box would take over by answering neighbour discovery for it: the
/// inside gateway, the link's Subnet-Router anycast address (RFC 4291
/// §2.6.1) and a static BIB entry's host. Checked even when dns64 is
/// disabled.
fn check_dns64_listen(d: &Dns64, i: &Inside, bib: &[StaticBibEntry]) -> Result<(), ConfigError> {
    for a in &d.listen {
        let ip = a.ip();
        if ip.is_loopback() {
            continue;
        }
        let v6 = match ip {
            std::net::IpAddr::V6(v6)
                if !v6.is_unspecified()
                    && !v6.is_multicast()
                    && value::in_prefix_v6(&i.address, &v6, i.prefix_len) =>
            {
                v6
            }
            _ => {
                return Err(ConfigError::invalid(
                    "dns64.listen",
                    format!(
                        "{a} is not on the inside link (inside.address {}/{}) nor loopback",
                        i.address, i.prefix_len
                    ),
                ))
            }
        };
        let taken = if v6 == i.gateway {
            Some("inside.gateway".to_string())
        } else if i.prefix_len < 128 && v6 == value::network_v6(&i.address, i.prefix_len) {
            Some("the Subnet-Router anycast address of the inside link".to_string())
        } else {
            bib.iter()
                .position(|e| *e.ipv6.ip() == v6)
                .map(|n| format!("static_bib[{n}].ipv6"))
        };
        if let Some(owner) = taken {
            return Err(ConfigError::invalid(
                "dns64.listen",
                format!("{a} is {owner}, not an address of the box"),
            ));
        }
    }
    Ok(())
}

/// `pool4` against `outside`: a pool address is the box's to translate to,
/// so neither the outside gateway (its traffic would be taken for
/// subscribers', and the route out lost) nor the box's own outside
/// address (the kernel's, on the exception path) may be one.
fn check_pool_and_outside(p: &Pool4, o: &Outside) -> Result<(), ConfigError> {
    for (n, r) in p.addresses.iter().enumerate() {
        for (key, addr) in [
            ("outside.gateway", o.gateway),
            ("outside.address", o.address),
        ] {
            if r.contains(addr) {
                return Err(ConfigError::invalid(
                    format!("pool4.addresses[{n}]"),
                    format!("{r} contains {key} {addr}"),
                ));
            }
        }
    }
    Ok(())
}

/// `translation` against `inside`: the IPv6 MTU floor fits the link (RFC
/// 7915 §4), and the NAT64 prefix is not the inside link (translated
/// destinations must not look on-link, nor the link translated).
fn check_translation_and_inside(t: &Translation, i: &Inside) -> Result<(), ConfigError> {
    if t.lowest_ipv6_mtu > i.mtu {
        return Err(ConfigError::invalid(
            "translation.lowest_ipv6_mtu",
            format!("{} is larger than inside.mtu {}", t.lowest_ipv6_mtu, i.mtu),
        ));
    }
    let prefix = t.prefix;
    let link_len = i.prefix_len.min(prefix.len());
    if value::in_prefix_v6(&prefix.addr(), &i.address, link_len) {
        return Err(ConfigError::invalid(
            "translation.prefix",
            format!(
                "{prefix} overlaps the inside link {}/{}",
                i.address, i.prefix_len
            ),
        ));
    }
    Ok(())
}

/// `inside` against `outside`: two ports, two kernel interfaces.
fn check_inside_and_outside(i: &Inside, o: &Outside) -> Result<(), ConfigError> {
    if o.device == i.device {
        return Err(ConfigError::invalid(
            "outside.device",
            format!("{:?} is also inside.device", o.device),
        ));
    }
    if o.kernel_iface == i.kernel_iface {
        return Err(ConfigError::invalid(
            "outside.kernel_iface",
            format!("{:?} is also inside.kernel_iface", o.kernel_iface),
        ));
    }
    Ok(())
}

/// The static BIB against `translation` and `pool4` (RFC 6146 §3.1): the
/// IPv6 side is no translated address, the IPv4 side a pool address.
fn check_static_bib(
    entries: &[StaticBibEntry],
    t: &Translation,
    p: &Pool4,
) -> Result<(), ConfigError> {
    for (n, e) in entries.iter().enumerate() {
        if t.prefix.contains(e.ipv6.ip()) {
            return Err(ConfigError::invalid(
                format!("static_bib[{n}].ipv6"),
                format!("{} is under translation.prefix {}", e.ipv6.ip(), t.prefix),
            ));
        }
        if !p.contains(*e.ipv4.ip()) {
            return Err(ConfigError::invalid(
                format!("static_bib[{n}].ipv4"),
                format!("{} is not in pool4.addresses", e.ipv4.ip()),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
