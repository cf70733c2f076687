//! The configuration file exactly as written: one serde struct per section
//! of the contract (`config/cgn.toml` shows every key), every key with its
//! documented default, unknown keys refused.
//!
//! Promises: [`Config::from_table`] accepts exactly the keys these structs
//! have and names the key (or the section) of every refusal, which serde
//! alone does not (toml reports a span, not a key). Values that need
//! parsing (addresses, prefixes, ranges) stay strings here; each typed
//! section's `TryFrom` in `section.rs` turns its raw section into typed
//! values and names the key when one is wrong.

use serde::de::DeserializeOwned;
use serde::Deserialize;

use super::ConfigError;

/// The whole file: every section, each with its defaults where absent.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Config {
    pub translation: Translation,
    pub pool4: Pool4,
    pub timeouts: Timeouts,
    pub filtering: Filtering,
    pub static_bib: Vec<StaticBib>,
    pub inside: Inside,
    pub outside: Outside,
    pub workers: Workers,
    pub dns64: Dns64,
    pub metrics: Metrics,
    pub logging: Logging,
}

/// Sections the contract defines; anything else at the top level is unknown.
pub const SECTIONS: [&str; 11] = [
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
    /// The sections of a parsed TOML document: unknown sections and keys
    /// refused, absent ones defaulted, every serde error named by its key.
    pub fn from_table(root: &toml::Table) -> Result<Config, ConfigError> {
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
                    deserialize_table::<StaticBib>(v, &path, &path)
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
        Ok(Config {
            translation: section(root, "translation")?,
            pool4: section(root, "pool4")?,
            timeouts: section(root, "timeouts")?,
            filtering: section(root, "filtering")?,
            static_bib,
            inside: section(root, "inside")?,
            outside: section(root, "outside")?,
            workers: section(root, "workers")?,
            dns64: section(root, "dns64")?,
            metrics: section(root, "metrics")?,
            logging: section(root, "logging")?,
        })
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

/// `[translation]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Translation {
    pub prefix: String,
    pub allow_non_global_ipv4: bool,
    pub lowest_ipv6_mtu: u16,
    pub copy_traffic_class: bool,
    pub amend_udp_checksum_zero: bool,
    pub icmp_errors_per_second: u32,
    pub icmp_pmtu_errors_per_second: u32,
    /// IPv4 ranges subscribers may not reach (an added key); absent: the
    /// default `Config::deny4` computes.
    pub deny4: Option<Vec<String>>,
}

impl Default for Translation {
    fn default() -> Self {
        Translation {
            prefix: "64:ff9b::/96".into(),
            allow_non_global_ipv4: false,
            lowest_ipv6_mtu: 1280,
            copy_traffic_class: true,
            amend_udp_checksum_zero: true,
            icmp_errors_per_second: 1000,
            icmp_pmtu_errors_per_second: 1000,
            deny4: None,
        }
    }
}

/// `[pool4]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Pool4 {
    pub addresses: Vec<String>,
    pub port_range: String,
    pub block_size: u32,
    pub max_blocks_per_subscriber: u32,
    pub max_sessions_per_subscriber: u32,
    pub subscriber_prefix_len: u8,
    pub aggregate_prefix_len: u8,
    pub max_blocks_per_aggregate: u32,
    pub block_allocations_per_second: u32,
    pub allocation: String,
    pub paired: bool,
    /// RFC 7422: the IPv6 prefix whose subscribers are mapped
    /// deterministically (required with `allocation = "deterministic"`).
    pub deterministic_inside: Option<String>,
}

impl Default for Pool4 {
    fn default() -> Self {
        Pool4 {
            addresses: vec!["192.0.2.0/28".into()],
            port_range: "1024-65535".into(),
            block_size: 512,
            max_blocks_per_subscriber: 8,
            max_sessions_per_subscriber: 4096,
            subscriber_prefix_len: 56,
            aggregate_prefix_len: 48,
            max_blocks_per_aggregate: 0,
            block_allocations_per_second: 100,
            allocation: "dynamic".into(),
            paired: true,
            deterministic_inside: None,
        }
    }
}

/// `[timeouts]`, in seconds.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Timeouts {
    pub udp: u64,
    pub tcp_established: u64,
    pub tcp_transitory: u64,
    pub icmp: u64,
    pub tcp_incoming_syn: u64,
    pub fragment: u64,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            udp: 300,
            tcp_established: 7440,
            tcp_transitory: 240,
            icmp: 60,
            tcp_incoming_syn: 6,
            fragment: 2,
        }
    }
}

/// `[filtering]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Filtering {
    pub address_dependent: bool,
    pub drop_externally_initiated_tcp: bool,
    pub max_inbound_sessions_per_mapping: u32,
}

impl Default for Filtering {
    fn default() -> Self {
        Filtering {
            address_dependent: false,
            drop_externally_initiated_tcp: false,
            max_inbound_sessions_per_mapping: 256,
        }
    }
}

/// One `[[static_bib]]` entry. All three keys are required.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StaticBib {
    pub protocol: Option<String>,
    pub ipv6: Option<String>,
    pub ipv4: Option<String>,
}

/// `[inside]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Inside {
    pub device: String,
    pub address: String,
    pub gateway: String,
    pub gateway_mac: Option<String>,
    pub mtu: u16,
    pub kernel_iface: String,
    /// The IPv6 prefixes the box serves (an added key); absent: any source,
    /// warned about.
    pub subscribers: Option<Vec<String>>,
    /// What the exception path passes to the kernel (an added key);
    /// absent: the DNS64's ports and ICMPv6.
    pub kernel_allow: Option<Vec<String>>,
    /// Exception-path policer, per worker (added keys).
    pub kernel_pps: u32,
    pub kernel_bytes_per_second: u64,
}

impl Default for Inside {
    fn default() -> Self {
        Inside {
            device: "net_tap0".into(),
            address: "2001:db8:1::1/64".into(),
            gateway: "2001:db8:1::fffe".into(),
            gateway_mac: None,
            mtu: 1500,
            kernel_iface: "n64-in".into(),
            subscribers: None,
            kernel_allow: None,
            kernel_pps: super::section::KernelPolicy::DEFAULT_PPS,
            kernel_bytes_per_second: super::section::KernelPolicy::DEFAULT_BYTES_PER_SECOND,
        }
    }
}

/// `[outside]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Outside {
    pub device: String,
    pub address: String,
    pub gateway: String,
    pub gateway_mac: Option<String>,
    pub mtu: u16,
    pub kernel_iface: String,
    /// What the exception path passes to the kernel (an added key);
    /// default: ICMP only.
    pub kernel_allow: Vec<String>,
    /// Exception-path policer, per worker (added keys).
    pub kernel_pps: u32,
    pub kernel_bytes_per_second: u64,
}

impl Default for Outside {
    fn default() -> Self {
        Outside {
            device: "net_tap1".into(),
            address: "192.0.2.254/24".into(),
            gateway: "192.0.2.253".into(),
            gateway_mac: None,
            mtu: 1500,
            kernel_iface: "n64-out".into(),
            kernel_allow: vec!["icmp".into()],
            kernel_pps: super::section::KernelPolicy::DEFAULT_PPS,
            kernel_bytes_per_second: super::section::KernelPolicy::DEFAULT_BYTES_PER_SECOND,
        }
    }
}

/// `[workers]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Workers {
    pub burst: u16,
    pub mbufs_per_worker: u32,
    pub max_sessions_per_worker: u32,
    pub max_fragmented_datagrams_per_worker: u32,
    pub max_held_fragments_per_worker: u32,
    pub max_held_fragment_bytes_per_worker: u32,
}

impl Default for Workers {
    fn default() -> Self {
        Workers {
            burst: 32,
            mbufs_per_worker: 16384,
            max_sessions_per_worker: 1_048_576,
            max_fragmented_datagrams_per_worker: 1024,
            max_held_fragments_per_worker: 256,
            max_held_fragment_bytes_per_worker: 1 << 20,
        }
    }
}

/// `[dns64]`. `allow_prefix_mismatch` is ours, not the contract's: the
/// explicit escape hatch for a `prefix` that differs from
/// `translation.prefix`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Dns64 {
    pub enabled: bool,
    pub listen: Vec<String>,
    pub upstream: Vec<String>,
    pub timeout_ms: u64,
    pub prefix: Option<String>,
    pub allow_prefix_mismatch: bool,
    pub exclude: Vec<String>,
    pub filter_a: bool,
    pub synthesize_ptr: bool,
    pub synthesize_on_error: bool,
    pub cache_entries: u32,
    pub allow: Vec<String>,
    pub rate_limit_qps: u32,
}

impl Default for Dns64 {
    fn default() -> Self {
        Dns64 {
            enabled: true,
            listen: vec!["[2001:db8:1::1]:53".into()],
            upstream: vec!["127.0.0.1:5300".into()],
            timeout_ms: 1500,
            prefix: None,
            allow_prefix_mismatch: false,
            exclude: vec!["::ffff:0:0/96".into()],
            filter_a: false,
            synthesize_ptr: true,
            synthesize_on_error: true,
            cache_entries: 65536,
            allow: Vec::new(),
            rate_limit_qps: 200,
        }
    }
}

/// `[metrics]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Metrics {
    pub listen: String,
    pub allow: Option<Vec<String>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            listen: "127.0.0.1:9464".into(),
            allow: None,
        }
    }
}

/// `[logging]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Logging {
    pub level: String,
    pub events: String,
}

impl Default for Logging {
    fn default() -> Self {
        Logging {
            level: "info".into(),
            events: "file:/var/log/nat64-dpdk/events.log".into(),
        }
    }
}
