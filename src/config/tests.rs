//! Tests of the configuration contract: `config/cgn.toml` shows every key
//! the parser accepts and parses with its documented values, defaults
//! apply, each section converts on its own, and each refusal names its key.

use super::*;
use crate::xlat::rfc6052::Nat64Prefix;
use crate::xlat::L4;
use std::collections::BTreeSet;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;
use std::time::Duration;

/// `config/<name>` of this repository.
fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("config")
        .join(name)
}

/// The contract's example: `config/cgn.toml`, every key shown.
pub(super) fn contract_path() -> PathBuf {
    example("cgn.toml")
}

/// What `config/cgn.toml` sets differently from the documented defaults:
/// the values every site has to choose (addresses, devices, servers) and
/// one static BIB entry as an example. Everything else in it is a default.
fn set_cgn_site_values(c: &mut Config) {
    c.pool4.addresses = vec![
        Ipv4Range {
            first: Ipv4Addr::new(192, 0, 2, 0),
            last: Ipv4Addr::new(192, 0, 2, 63),
        },
        Ipv4Range {
            first: Ipv4Addr::new(203, 0, 113, 32),
            last: Ipv4Addr::new(203, 0, 113, 47),
        },
    ];
    c.static_bib = vec![StaticBibEntry {
        protocol: L4::Tcp,
        ipv6: "[2001:db8:1::10]:443".parse().unwrap(),
        ipv4: "192.0.2.1:443".parse().unwrap(),
    }];
    c.inside.device = "0000:03:00.0".into();
    c.outside.device = "0000:03:00.1".into();
    c.outside.address = Ipv4Addr::new(198, 51, 100, 10);
    c.outside.gateway = Ipv4Addr::new(198, 51, 100, 1);
    c.dns64.listen = vec!["[2001:db8:1::53]:53".parse().unwrap()];
    c.dns64.upstream = vec![
        "198.51.100.53:53".parse().unwrap(),
        "198.51.100.54:53".parse().unwrap(),
    ];
    c.logging.events = EventSink::Syslog {
        host: "198.51.100.20".into(),
        port: 514,
    };
    // It names the subscribers it serves, so it starts without warnings.
    c.inside.subscribers = Some(vec![Ipv6Prefix {
        addr: "2001:db8::".parse().unwrap(),
        len: 32,
    }]);
    c.warnings.clear();
}

fn parse(text: &str) -> Config {
    Config::from_str(text).unwrap_or_else(|e| panic!("config refused: {e}\n{text}"))
}

/// The warnings for `text` but the one every file without
/// `inside.subscribers` gets (tested on its own).
fn warnings(text: &str) -> Vec<String> {
    parse(text)
        .warnings
        .into_iter()
        .filter(|w| !w.starts_with("inside.subscribers:"))
        .collect()
}

/// The exact error message for `text`.
fn error(text: &str) -> String {
    match Config::from_str(text) {
        Ok(_) => panic!("config accepted but should not be:\n{text}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn contract_file_parses_with_documented_values() {
    let c = Config::from_file(&contract_path()).unwrap();
    // The documented defaults, for the keys config/cgn.toml sets to a
    // site's own values (those values are asserted too).
    let d = parse("");
    assert_eq!(c.translation.prefix, Nat64Prefix::WELL_KNOWN);
    assert!(!c.translation.allow_non_global_ipv4);
    assert_eq!(c.translation.lowest_ipv6_mtu, 1280);
    assert!(c.translation.copy_traffic_class);
    assert!(c.translation.amend_udp_checksum_zero);
    assert_eq!(c.translation.icmp_errors_per_second, 1000);
    assert_eq!(
        d.pool4.addresses,
        vec![Ipv4Range {
            first: Ipv4Addr::new(192, 0, 2, 0),
            last: Ipv4Addr::new(192, 0, 2, 15),
        }]
    );
    assert_eq!(
        c.pool4
            .addresses
            .iter()
            .map(|r| r.to_string())
            .collect::<Vec<_>>(),
        ["192.0.2.0/26", "203.0.113.32/28"]
    );
    assert_eq!(c.pool4.port_range, (1024, 65535));
    assert_eq!(c.pool4.block_size, 512);
    assert_eq!(c.pool4.max_blocks_per_subscriber, 8);
    assert_eq!(c.pool4.subscriber_prefix_len, 56);
    assert_eq!(c.pool4.block_allocations_per_second, 100);
    assert_eq!(c.pool4.allocation, Allocation::Dynamic);
    assert!(c.pool4.paired);
    assert_eq!(c.pool4.blocks_per_address(), 126);
    assert_eq!(d.pool4.total_blocks(), 16 * 126);
    assert_eq!(c.pool4.total_blocks(), (64 + 16) * 126);
    assert_eq!(c.timeouts.udp, Duration::from_secs(300));
    assert_eq!(c.timeouts.tcp_established, Duration::from_secs(7440));
    assert_eq!(c.timeouts.tcp_transitory, Duration::from_secs(240));
    assert_eq!(c.timeouts.icmp, Duration::from_secs(60));
    assert_eq!(c.timeouts.tcp_incoming_syn, Duration::from_secs(6));
    assert_eq!(c.timeouts.fragment, Duration::from_secs(2));
    assert!(!c.filtering.address_dependent);
    assert!(!c.filtering.drop_externally_initiated_tcp);
    assert!(d.static_bib.is_empty());
    assert_eq!(c.static_bib.len(), 1);
    assert_eq!(d.inside.device, "net_tap0");
    assert_eq!(c.inside.device, "0000:03:00.0");
    assert_eq!(
        c.inside.address,
        "2001:db8:1::1".parse::<Ipv6Addr>().unwrap()
    );
    assert_eq!(c.inside.prefix_len, 64);
    assert_eq!(
        c.inside.gateway,
        "2001:db8:1::fffe".parse::<Ipv6Addr>().unwrap()
    );
    assert_eq!(c.inside.gateway_mac, None);
    assert_eq!(c.inside.mtu, 1500);
    assert_eq!(d.inside.subscribers, None);
    assert_eq!(
        c.inside
            .subscribers
            .as_ref()
            .map(|l| l.iter().map(|p| p.to_string()).collect::<Vec<_>>()),
        Some(vec!["2001:db8::/32".to_string()])
    );
    assert_eq!(d.outside.device, "net_tap1");
    assert_eq!(c.outside.device, "0000:03:00.1");
    assert_eq!(d.outside.address, Ipv4Addr::new(192, 0, 2, 254));
    assert_eq!(c.outside.address, Ipv4Addr::new(198, 51, 100, 10));
    assert_eq!(c.outside.prefix_len, 24);
    assert_eq!(d.outside.gateway, Ipv4Addr::new(192, 0, 2, 253));
    assert_eq!(c.outside.gateway, Ipv4Addr::new(198, 51, 100, 1));
    assert_eq!(c.outside.mtu, 1500);
    assert_eq!(c.workers.burst, 32);
    assert_eq!(c.workers.mbufs_per_worker, 16384);
    assert_eq!(c.workers.max_sessions_per_worker, 1_048_576);
    assert_eq!(c.workers.max_fragmented_datagrams_per_worker, 1024);
    assert_eq!(c.workers.max_held_fragments_per_worker, 256);
    assert_eq!(c.workers.max_held_fragment_bytes_per_worker, 1_048_576);
    assert!(c.dns64.enabled);
    assert_eq!(d.dns64.listen, vec!["[2001:db8:1::1]:53".parse().unwrap()]);
    assert_eq!(c.dns64.listen, vec!["[2001:db8:1::53]:53".parse().unwrap()]);
    assert_eq!(d.dns64.upstream, vec!["127.0.0.1:5300".parse().unwrap()]);
    assert_eq!(c.dns64.upstream.len(), 2);
    assert_eq!(c.dns64.timeout, Duration::from_millis(1500));
    assert_eq!(c.dns64.prefix, c.translation.prefix);
    assert_eq!(c.dns64.exclude.len(), 1);
    assert_eq!(c.dns64.exclude[0].to_string(), "::ffff:0.0.0.0/96");
    assert!(!c.dns64.filter_a);
    assert!(c.dns64.synthesize_ptr);
    assert_eq!(c.dns64.cache_entries, 65536);
    assert!(c.dns64.allow.is_empty());
    assert_eq!(c.dns64.rate_limit_qps, 200);
    assert_eq!(d.dns64.rate_limit_qps, 200);
    assert_eq!(c.metrics.listen, "127.0.0.1:9464".parse().unwrap());
    assert_eq!(c.logging.level, Level::Info);
    assert_eq!(
        d.logging.events,
        EventSink::File("/var/log/nat64-dpdk/events.log".into())
    );
    assert_eq!(
        c.logging.events.to_string(),
        "syslog+udp://198.51.100.20:514"
    );
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
}

#[test]
fn empty_file_gives_the_documented_defaults() {
    // Every value in config/cgn.toml but a site's own is its default, so
    // omitting all keys and setting those must give the file's
    // configuration.
    let mut defaults = parse("");
    set_cgn_site_values(&mut defaults);
    assert_eq!(defaults, Config::from_file(&contract_path()).unwrap());
}

/// Each raw section's keys, as serde lists them for `deny_unknown_fields`:
/// exactly the keys the parser accepts, read from the structs (a probe
/// deserializer that records the field list `deserialize_struct` is
/// given), not from any example file.
fn fields_of<T: serde::de::DeserializeOwned>() -> &'static [&'static str] {
    use serde::de::{Error, Visitor};

    struct Probe<'a>(&'a mut &'static [&'static str]);

    impl<'de> serde::Deserializer<'de> for Probe<'_> {
        type Error = serde::de::value::Error;

        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
            Err(Error::custom("not a struct"))
        }

        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _name: &'static str,
            fields: &'static [&'static str],
            _visitor: V,
        ) -> Result<V::Value, Self::Error> {
            *self.0 = fields;
            Err(Error::custom("probed"))
        }

        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
            bytes byte_buf option unit unit_struct newtype_struct seq tuple
            tuple_struct map enum identifier ignored_any
        }
    }

    let mut fields: &'static [&'static str] = &[];
    let _ = T::deserialize(Probe(&mut fields));
    assert!(
        !fields.is_empty(),
        "{} is no struct",
        std::any::type_name::<T>()
    );
    fields
}

/// Every key the parser accepts, as `section.key`.
pub(super) fn accepted_keys() -> BTreeSet<String> {
    let sections: [(&str, &[&str]); 11] = [
        ("translation", fields_of::<raw::Translation>()),
        ("pool4", fields_of::<raw::Pool4>()),
        ("timeouts", fields_of::<raw::Timeouts>()),
        ("filtering", fields_of::<raw::Filtering>()),
        ("static_bib", fields_of::<raw::StaticBib>()),
        ("inside", fields_of::<raw::Inside>()),
        ("outside", fields_of::<raw::Outside>()),
        ("workers", fields_of::<raw::Workers>()),
        ("dns64", fields_of::<raw::Dns64>()),
        ("metrics", fields_of::<raw::Metrics>()),
        ("logging", fields_of::<raw::Logging>()),
    ];
    // The same sections as the parser's list, so none is left out here.
    assert_eq!(sections.map(|(s, _)| s), raw::SECTIONS);
    sections
        .iter()
        .flat_map(|(s, keys)| keys.iter().map(move |k| format!("{s}.{k}")))
        .collect()
}

/// `text` with every commented-out assignment (`# key = value`, the
/// optional keys shown with an example value) made live.
fn uncomment_keys(text: &str) -> String {
    text.lines()
        .map(|line| match line.strip_prefix("# ") {
            Some(rest)
                if rest.split_once(" = ").is_some_and(|(k, _)| {
                    !k.is_empty()
                        && k.bytes()
                            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
                }) =>
            {
                rest
            }
            _ => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `section.key` of every key in a TOML document (tables and arrays of
/// tables one level deep, as the contract has them).
fn keys_in(root: &toml::Table) -> BTreeSet<String> {
    let mut keys = BTreeSet::new();
    for (section, value) in root {
        let tables: Vec<&toml::Table> = match value {
            toml::Value::Table(t) => vec![t],
            toml::Value::Array(a) => a.iter().filter_map(toml::Value::as_table).collect(),
            other => panic!("{section} is a {}, not a section", other.type_str()),
        };
        for t in tables {
            keys.extend(t.keys().map(|k| format!("{section}.{k}")));
        }
    }
    keys
}

#[test]
fn contract_file_shows_every_accepted_key_and_no_other() {
    let text = std::fs::read_to_string(contract_path()).unwrap();
    // The optional keys shown commented out are valid as written.
    let live = uncomment_keys(&text);
    let c = Config::from_str(&live).unwrap_or_else(|e| panic!("uncommented: {e}"));
    assert_ne!(
        c,
        Config::from_str(&text).unwrap(),
        "nothing was uncommented"
    );
    let shown = keys_in(&toml::from_str(&live).unwrap());
    let accepted = accepted_keys();
    let missing: Vec<_> = accepted.difference(&shown).collect();
    assert!(
        missing.is_empty(),
        "config/cgn.toml does not show {missing:?}"
    );
    let unknown: Vec<_> = shown.difference(&accepted).collect();
    assert!(
        unknown.is_empty(),
        "config/cgn.toml shows unknown keys {unknown:?}"
    );
}

#[test]
fn omitted_keys_in_a_present_section_take_defaults() {
    let c = parse("[pool4]\nblock_size = 1024\n[dns64]\nenabled = false\n");
    assert_eq!(c.pool4.block_size, 1024);
    assert_eq!(c.pool4.port_range, (1024, 65535));
    assert_eq!(c.pool4.max_blocks_per_subscriber, 8);
    assert!(!c.dns64.enabled);
    assert_eq!(c.dns64.timeout, Duration::from_millis(1500));
    assert_eq!(c.dns64.cache_entries, 65536);
}

#[test]
fn example_cgn_toml_parses() {
    let c = Config::from_file(&contract_path()).unwrap();
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    assert!(c.pool4.address_count() > 1);
}

#[test]
fn example_demo_toml_parses_for_the_tap_demo() {
    let c = Config::from_file(&example("demo.toml")).unwrap();
    assert_eq!(c.inside.device, "net_tap0");
    assert_eq!(
        c.inside.address,
        "2001:db8:1::1".parse::<Ipv6Addr>().unwrap()
    );
    assert_eq!(c.inside.prefix_len, 64);
    assert_eq!(
        c.inside.gateway,
        "2001:db8:1::2".parse::<Ipv6Addr>().unwrap()
    );
    assert_eq!(c.outside.device, "net_tap1");
    assert_eq!(c.outside.address, Ipv4Addr::new(198, 51, 100, 1));
    assert_eq!(c.outside.prefix_len, 24);
    assert_eq!(c.outside.gateway, Ipv4Addr::new(198, 51, 100, 2));
    assert_eq!(c.pool4.addresses[0].to_string(), "203.0.113.0/28");
    assert_eq!(c.translation.prefix.to_string(), "2001:db8:64::/96");
    // RFC 6052 §3.1: documentation addresses need a network-specific prefix.
    assert!(c
        .translation
        .prefix
        .permits(Ipv4Addr::new(198, 51, 100, 2), false));
    assert_eq!(c.dns64.listen, vec!["[2001:db8:1::1]:53".parse().unwrap()]);
    assert_eq!(c.dns64.upstream, vec!["127.0.0.1:5300".parse().unwrap()]);
    assert_eq!(c.dns64.prefix, c.translation.prefix);
    assert_eq!(c.metrics.listen, "127.0.0.1:9464".parse().unwrap());
    assert_eq!(
        c.logging.events,
        EventSink::File("/tmp/nat64-dpdk-demo-events.log".into())
    );
    assert_eq!(c.workers.mbufs_per_worker, 4096);
    assert_eq!(c.workers.max_sessions_per_worker, 65536);
    // The server on the outside link stays reachable: private space only.
    assert_eq!(
        c.deny4().iter().map(|r| r.to_string()).collect::<Vec<_>>(),
        ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]
    );
    assert_eq!(
        c.inside.subscribers.as_deref().map(|l| l[0].to_string()),
        Some("2001:db8:1::/64".to_string())
    );
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
}

// ---- one test per refusal, asserting the exact message and its key ----

#[test]
fn error_block_size_not_power_of_two() {
    assert_eq!(
        error("[pool4]\nblock_size = 300\n"),
        "pool4.block_size: 300 is not a power of two"
    );
    assert_eq!(
        error("[pool4]\nblock_size = 0\n"),
        "pool4.block_size: 0 is not a power of two"
    );
}

#[test]
fn error_block_size_larger_than_port_range() {
    assert_eq!(
        error("[pool4]\nport_range = \"1024-2047\"\nblock_size = 2048\n"),
        "pool4.block_size: 2048 is larger than pool4.port_range \"1024-2047\" (1024 ports)"
    );
}

#[test]
fn dns64_allow_takes_ipv4_and_ipv6_prefixes_and_names_a_bad_one() {
    let c = parse("[dns64]\nallow = [\"192.0.2.0/24\", \"2001:db8:5::/48\"]\nrate_limit_qps = 0\n");
    assert_eq!(c.dns64.allow.v4.len(), 1);
    assert!(c.dns64.allow.v4[0].contains(Ipv4Addr::new(192, 0, 2, 77)));
    assert_eq!(c.dns64.allow.v6[0].to_string(), "2001:db8:5::/48");
    assert_eq!(c.dns64.rate_limit_qps, 0);
    let e = error("[dns64]\nallow = [\"192.0.2.0/24\", \"2001:db8::1/16\"]\n");
    assert!(e.starts_with("dns64.allow[1]: "), "{e}");
    let e = error("[dns64]\nallow = [\"192.0.2.0/33\"]\n");
    assert!(e.starts_with("dns64.allow[0]: "), "{e}");
}

#[test]
fn metrics_allow_takes_ipv4_and_ipv6_entries_and_names_a_bad_one() {
    assert_eq!(parse("").metrics.allow, None);
    let c =
        parse("[metrics]\nallow = [\"192.0.2.10\", \"198.51.100.0/24\", \"2001:db8:5::/48\"]\n");
    let allow = c.metrics.allow.expect("metrics.allow");
    assert_eq!((allow.v4.len(), allow.v6.len()), (2, 1));
    assert!(allow.contains("192.0.2.10".parse().unwrap()));
    assert!(!allow.contains("192.0.2.11".parse().unwrap()));
    assert!(allow.contains("2001:db8:5:1::1".parse().unwrap()));
    let e = error("[metrics]\nallow = [\"192.0.2.0/24\", \"2001:db8::1/16\"]\n");
    assert!(e.starts_with("metrics.allow[1]: "), "{e}");
}

#[test]
fn error_translation_prefix_bad_length() {
    assert_eq!(
        error("[translation]\nprefix = \"2001:db8::/33\"\n"),
        "translation.prefix: length 33 is not one of 32, 40, 48, 56, 64, 96"
    );
}

#[test]
fn error_translation_prefix_u_octet_and_syntax() {
    assert_eq!(
        error("[translation]\nprefix = \"2001:db8:0:0:ff00::/96\"\n"),
        "translation.prefix: bits 64..71 (the RFC 6052 u-octet) must be zero"
    );
    assert_eq!(
        error("[translation]\nprefix = \"64:ff9b::\"\n"),
        "translation.prefix: \"64:ff9b::\" is not an IPv6 prefix (expected ADDRESS/LENGTH)"
    );
}

#[test]
fn error_dns64_listen_not_on_the_inside_link() {
    assert_eq!(
        error("[dns64]\nlisten = [\"[2001:db8:2::53]:53\"]\n"),
        "dns64.listen: [2001:db8:2::53]:53 is not on the inside link \
         (inside.address 2001:db8:1::1/64) nor loopback"
    );
    assert_eq!(
        error("[dns64]\nlisten = [\"127.0.0.1:53\", \"192.0.2.53:53\"]\n"),
        "dns64.listen: 192.0.2.53:53 is not on the inside link \
         (inside.address 2001:db8:1::1/64) nor loopback"
    );
    assert!(error("[dns64]\nlisten = [\"[::]:53\"]\n").starts_with("dns64.listen: [::]:53 is not"));
    // Loopback and another address on the link are accepted.
    let c =
        parse("[dns64]\nlisten = [\"[2001:db8:1::53]:53\", \"[::1]:5353\", \"127.0.0.1:5353\"]\n");
    assert_eq!(c.dns64.listen.len(), 3);
}

#[test]
fn error_dns64_listen_on_someone_elses_address() {
    // On the link, but another node's: the box would answer neighbour
    // discovery for it and take it over.
    assert_eq!(
        error("[dns64]\nlisten = [\"[2001:db8:1::fffe]:53\"]\n"),
        "dns64.listen: [2001:db8:1::fffe]:53 is inside.gateway, not an address of the box"
    );
    assert_eq!(
        error("[dns64]\nlisten = [\"[2001:db8:1::]:53\"]\n"),
        "dns64.listen: [2001:db8:1::]:53 is the Subnet-Router anycast address of the inside \
         link, not an address of the box"
    );
    assert_eq!(
        error(
            "[dns64]\nlisten = [\"[2001:db8:1::10]:53\"]\n[pool4]\naddresses = [\"192.0.2.0/28\"]\n\
             [[static_bib]]\nprotocol = \"tcp\"\nipv6 = \"[2001:db8:1::10]:443\"\n\
             ipv4 = \"192.0.2.1:443\"\n"
        ),
        "dns64.listen: [2001:db8:1::10]:53 is static_bib[0].ipv6, not an address of the box"
    );
    // The box's own address and a free one on the link stay accepted.
    let c = parse("[dns64]\nlisten = [\"[2001:db8:1::1]:53\", \"[2001:db8:1::53]:53\"]\n");
    assert_eq!(c.dns64.listen.len(), 2);
}

#[test]
fn error_pool_contains_the_outside_gateway_or_address() {
    assert_eq!(
        error("[pool4]\naddresses = [\"192.0.2.0/28\"]\n[outside]\ngateway = \"192.0.2.9\"\n"),
        "pool4.addresses[0]: 192.0.2.0/28 contains outside.gateway 192.0.2.9"
    );
    assert_eq!(
        error(
            "[pool4]\naddresses = [\"198.51.100.7\", \"192.0.2.240-192.0.2.255\"]\n\
             [outside]\naddress = \"192.0.2.254/24\"\ngateway = \"192.0.2.1\"\n"
        ),
        "pool4.addresses[1]: 192.0.2.240/28 contains outside.address 192.0.2.254"
    );
    // Beside them on the same link is fine.
    let c = parse("[pool4]\naddresses = [\"192.0.2.16/28\"]\n[outside]\ngateway = \"192.0.2.1\"\n");
    assert_eq!(c.outside.gateway, Ipv4Addr::new(192, 0, 2, 1));
}

#[test]
fn inside_subscribers_any_by_default_with_a_warning() {
    // Absent: any source, and a warning naming the key.
    let c = parse("");
    assert_eq!(c.inside.subscribers, None);
    assert_eq!(
        c.warnings,
        [
            "inside.subscribers: not set, so packets from any IPv6 source are translated and may \
          take port blocks (spoofed sources can exhaust the pool); list the prefixes you serve, \
          or [\"::/0\"] to serve any on purpose"
        ]
    );
    assert_eq!(c.inside.subscriber_prefixes().len(), 1);
    assert_eq!(c.inside.subscriber_prefixes()[0].len, 0);
    // "Any" written out, or a list: no warning.
    for list in [
        "[\"::/0\"]",
        "[\"2001:db8:100::/40\", \"2001:db8:200::/48\"]",
    ] {
        let c = parse(&format!("[inside]\nsubscribers = {list}\n"));
        assert!(c.warnings.is_empty(), "{list}: {:?}", c.warnings);
        assert!(c.inside.subscribers.is_some());
    }
    // Refusals name the key (and the entry).
    assert_eq!(
        error("[inside]\nsubscribers = []\n"),
        "inside.subscribers: empty: no source would be served (write [\"::/0\"] to serve any)"
    );
    assert!(
        error("[inside]\nsubscribers = [\"::/0\", \"2001:db8::1/32\"]\n")
            .starts_with("inside.subscribers[1]: "),
    );
    let many: Vec<String> = (0..65)
        .map(|i| format!("\"2001:db8:{i:x}::/48\""))
        .collect();
    assert_eq!(
        error(&format!("[inside]\nsubscribers = [{}]\n", many.join(", "))),
        "inside.subscribers: 65 prefixes, more than 64: aggregate them"
    );
}

#[test]
fn block_allocation_rate_key() {
    assert_eq!(parse("").pool4.block_allocations_per_second, 100);
    assert_eq!(
        parse("[pool4]\nblock_allocations_per_second = 5\n")
            .pool4
            .block_allocations_per_second,
        5
    );
    assert_eq!(
        error("[pool4]\nblock_allocations_per_second = 0\n"),
        "pool4.block_allocations_per_second: must be at least 1"
    );
}

#[test]
fn session_flood_keys() {
    let d = parse("");
    assert_eq!(d.pool4.max_sessions_per_subscriber, 4096);
    assert_eq!(d.filtering.max_inbound_sessions_per_mapping, 256);
    let c = parse(
        "[pool4]\nmax_sessions_per_subscriber = 0\n\
         [filtering]\nmax_inbound_sessions_per_mapping = 65535\n",
    );
    assert_eq!(c.pool4.max_sessions_per_subscriber, 0);
    assert_eq!(c.filtering.max_inbound_sessions_per_mapping, 65535);
    assert_eq!(
        error("[filtering]\nmax_inbound_sessions_per_mapping = 65536\n"),
        "filtering.max_inbound_sessions_per_mapping: 65536 is above 65535 (0 means no cap)"
    );
}

#[test]
fn aggregate_share_keys() {
    let d = parse("");
    assert_eq!(
        (
            d.pool4.aggregate_prefix_len,
            d.pool4.max_blocks_per_aggregate
        ),
        (48, 0)
    );
    // Unchecked while there is no cap.
    assert_eq!(
        parse("[pool4]\nsubscriber_prefix_len = 40\n")
            .pool4
            .aggregate_prefix_len,
        48
    );
    assert_eq!(
        error("[pool4]\nsubscriber_prefix_len = 40\nmax_blocks_per_aggregate = 64\n"),
        "pool4.aggregate_prefix_len: 48 is not within 32..=40 (pool4.subscriber_prefix_len: \
         an aggregate groups whole subscribers)"
    );
    assert_eq!(
        error(
            "[pool4]\nallocation = \"deterministic\"\n\
             deterministic_inside = \"2001:db8::/52\"\nmax_blocks_per_aggregate = 64\n"
        ),
        "pool4.max_blocks_per_aggregate: has no effect with deterministic allocation \
         (each subscriber's range is fixed): leave it 0"
    );
}

/// `Config::deny4` as text.
fn deny4_of(text: &str) -> Vec<String> {
    parse(text).deny4().iter().map(|r| r.to_string()).collect()
}

#[test]
fn deny4_defaults_with_a_network_specific_prefix_and_warns_when_empty() {
    let nsp = "[translation]\nprefix = \"2001:db8:64::/96\"\n";
    // Absent: the outside link (default 192.0.2.254/24) less the pool
    // (default 192.0.2.0/28), then RFC 1918.
    assert_eq!(
        deny4_of(nsp),
        [
            "192.0.2.16-192.0.2.255",
            "10.0.0.0/8",
            "172.16.0.0/12",
            "192.168.0.0/16"
        ]
    );
    assert!(warnings(nsp).is_empty());
    // With the well-known prefix, RFC 6052 §3.1 alone.
    assert!(deny4_of("").is_empty());
    // As written, pool addresses taken out (hairpinning stays possible).
    assert_eq!(
        deny4_of(&format!(
            "{nsp}deny4 = [\"100.64.0.0/10\", \"192.0.2.0/24\"]\n\
             [pool4]\naddresses = [\"192.0.2.8/29\"]\n"
        )),
        ["100.64.0.0/10", "192.0.2.0/29", "192.0.2.16-192.0.2.255"]
    );
    // Explicitly empty: nothing denied; warned about with a network-
    // specific prefix only.
    let empty = format!("{nsp}deny4 = []\n");
    assert!(deny4_of(&empty).is_empty());
    assert_eq!(
        warnings(&empty),
        [
            "translation.deny4: empty with the network-specific prefix 2001:db8:64::/96: \
          subscribers may reach every IPv4 address, the outside link and RFC 1918 space included"
        ]
    );
    assert!(warnings("[translation]\ndeny4 = []\n").is_empty());
    // A bad entry is named.
    assert!(
        error(&format!("{nsp}deny4 = [\"10.0.0.0/8\", \"10.0.0.0/33\"]\n"))
            .starts_with("translation.deny4[1]: "),
    );
}

#[test]
fn error_mtu_the_mbuf_cannot_hold() {
    // One mbuf holds 2048 bytes of frame: an MTU plus an 802.1Q Ethernet
    // header of 18 bytes.
    let room = crate::wire::ethernet::MAX_FRAME_LEN;
    let most = room - crate::wire::ethernet::VLAN_HEADER_LEN;
    for side in ["inside", "outside"] {
        let c = parse(&format!("[{side}]\nmtu = {most}\n"));
        assert_eq!(
            if side == "inside" {
                c.inside.mtu
            } else {
                c.outside.mtu
            },
            most as u16
        );
        for too_big in [most + 1, 9000] {
            assert_eq!(
                error(&format!("[{side}]\nmtu = {too_big}\n")),
                format!(
                    "{side}.mtu: {too_big} makes frames of up to {} bytes (with an 802.1Q \
                     header), more than the {room} bytes of packet data an mbuf holds \
                     (at most {most})",
                    too_big + 18
                )
            );
        }
    }
}

#[test]
fn error_translation_prefix_overlaps_inside_link() {
    assert_eq!(
        error("[translation]\nprefix = \"2001:db8:1::/96\"\n"),
        "translation.prefix: 2001:db8:1::/96 overlaps the inside link 2001:db8:1::1/64"
    );
}

#[test]
fn error_port_range_reversed() {
    assert_eq!(
        error("[pool4]\nport_range = \"2000-1024\"\n"),
        "pool4.port_range: \"2000-1024\" is reversed"
    );
}

#[test]
fn error_port_range_malformed_or_port_zero() {
    assert_eq!(
        error("[pool4]\nport_range = \"1024-70000\"\n"),
        "pool4.port_range: \"1024-70000\" is not a port range \"first-last\" within 1-65535"
    );
    assert_eq!(
        error("[pool4]\nport_range = \"0-65535\"\n"),
        "pool4.port_range: \"0-65535\" includes port 0, which cannot be handed out"
    );
}

#[test]
fn error_empty_pool() {
    assert_eq!(
        error("[pool4]\naddresses = []\n"),
        "pool4.addresses: empty pool"
    );
}

#[test]
fn error_pool_entries_bad_reversed_overlapping() {
    assert_eq!(
        error("[pool4]\naddresses = [\"192.0.2.0/28\", \"192.0.2.300\"]\n"),
        "pool4.addresses[1]: \"192.0.2.300\" is not an IPv4 address, prefix or range"
    );
    assert_eq!(
        error("[pool4]\naddresses = [\"192.0.2.9-192.0.2.1\"]\n"),
        "pool4.addresses[0]: \"192.0.2.9-192.0.2.1\" is reversed"
    );
    assert_eq!(
        error("[pool4]\naddresses = [\"192.0.2.1/28\"]\n"),
        "pool4.addresses[0]: \"192.0.2.1/28\" has bits set past the prefix length"
    );
    assert_eq!(
        error("[pool4]\naddresses = [\"192.0.2.0/28\", \"192.0.2.8-192.0.2.20\"]\n"),
        "pool4.addresses[1]: 192.0.2.8-192.0.2.20 overlaps pool4.addresses[0] 192.0.2.0/28"
    );
}

#[test]
fn pool_mixes_prefixes_ranges_and_single_addresses() {
    let c = parse(
        "[pool4]\naddresses = [\"192.0.2.0/30\", \"198.51.100.5-198.51.100.7\", \"203.0.113.9\"]\n",
    );
    assert_eq!(c.pool4.address_count(), 4 + 3 + 1);
    let all: Vec<Ipv4Addr> = c.pool4.iter().collect();
    assert_eq!(all[4], Ipv4Addr::new(198, 51, 100, 5));
    assert_eq!(all[7], Ipv4Addr::new(203, 0, 113, 9));
    assert!(c.pool4.contains(Ipv4Addr::new(198, 51, 100, 6)));
    assert!(!c.pool4.contains(Ipv4Addr::new(198, 51, 100, 8)));
}

#[test]
fn error_max_blocks_per_subscriber_zero() {
    assert_eq!(
        error("[pool4]\nmax_blocks_per_subscriber = 0\n"),
        "pool4.max_blocks_per_subscriber: must be at least 1"
    );
}

#[test]
fn error_subscriber_prefix_len_range() {
    let why = "(a shorter prefix makes a whole provider's allocation one subscriber)";
    for bad in [0, 31, 129] {
        assert_eq!(
            error(&format!("[pool4]\nsubscriber_prefix_len = {bad}\n")),
            format!("pool4.subscriber_prefix_len: {bad} is not within 32..=128 {why}")
        );
    }
    // /32 to /64: quiet; longer: accepted with a warning naming the key.
    for quiet in [32, 48, 64] {
        let text = format!("[pool4]\nsubscriber_prefix_len = {quiet}\n");
        assert_eq!(parse(&text).pool4.subscriber_prefix_len, quiet);
        assert!(
            warnings(&text).is_empty(),
            "/{quiet}: {:?}",
            warnings(&text)
        );
    }
    for loud in [65, 128] {
        let text = format!("[pool4]\nsubscriber_prefix_len = {loud}\n");
        assert_eq!(parse(&text).pool4.subscriber_prefix_len, loud);
        assert_eq!(
            warnings(&text),
            [format!(
                "pool4.subscriber_prefix_len: {loud} is longer than /64: one customer's hosts \
                 are counted as separate subscribers, each with its own max_blocks_per_subscriber"
            )]
        );
    }
}

#[test]
fn allocation_values() {
    let c = parse(
        "[pool4]\nallocation = \"deterministic\"\ndeterministic_inside = \"2001:db8:100::/49\"\n",
    );
    assert_eq!(c.pool4.allocation, Allocation::Deterministic);
    assert_eq!(
        c.pool4.deterministic_inside.map(|p| p.to_string()),
        Some("2001:db8:100::/49".to_string())
    );
    assert_eq!(
        error("[pool4]\nallocation = \"random\"\n"),
        "pool4.allocation: \"random\" is not \"dynamic\" or \"deterministic\""
    );
}

#[test]
fn error_dns64_listen_not_socket_address() {
    assert_eq!(
        error("[dns64]\nlisten = [\"x\"]\n"),
        "dns64.listen[0]: \"x\" is not an address:port"
    );
    assert_eq!(
        error("[dns64]\nupstream = [\"127.0.0.1:53\", \"2001:db8::53\"]\n"),
        "dns64.upstream[1]: \"2001:db8::53\" is not an address:port"
    );
}

#[test]
fn error_dns64_enabled_needs_listen_and_upstream() {
    assert_eq!(
        error("[dns64]\nlisten = []\n"),
        "dns64.listen: empty, but dns64 is enabled"
    );
    assert_eq!(
        error("[dns64]\nupstream = []\n"),
        "dns64.upstream: empty, but dns64 is enabled"
    );
    let c = parse("[dns64]\nenabled = false\nlisten = []\nupstream = []\n");
    assert!(!c.dns64.enabled);
    assert_eq!(
        error("[dns64]\ntimeout_ms = 0\n"),
        "dns64.timeout_ms: must be greater than 0"
    );
}

#[test]
fn error_unknown_key_in_section() {
    assert_eq!(
        error("[translation]\nfoo = 1\n"),
        "unknown key \"foo\" in [translation]"
    );
    let e = Config::from_str("[pool4]\nblocksize = 512\n").unwrap_err();
    assert_eq!(e.to_string(), "unknown key \"blocksize\" in [pool4]");
    assert_eq!(e.key(), Some("blocksize"));
}

#[test]
fn error_unknown_top_level_section_and_static_bib_key() {
    assert_eq!(
        error("[nat]\nfoo = 1\n"),
        "unknown section or key \"nat\" at the top level"
    );
    assert_eq!(
        error("prefix = \"64:ff9b::/96\"\n"),
        "unknown section or key \"prefix\" at the top level"
    );
    assert_eq!(
        error(
            "[[static_bib]]\nprotocol = \"tcp\"\nipv6 = \"[2001:db8:1::10]:80\"\n\
             ipv4 = \"192.0.2.1:8080\"\nport = 1\n"
        ),
        "unknown key \"port\" in static_bib[0]"
    );
}

#[test]
fn error_wrong_types_name_the_key() {
    assert_eq!(
        error("[pool4]\nblock_size = \"512\"\n"),
        "pool4.block_size: invalid type: string \"512\", expected an integer from 0 to 4294967295"
    );
    assert_eq!(
        error("[translation]\ncopy_traffic_class = \"yes\"\n"),
        "translation.copy_traffic_class: invalid type: string \"yes\", expected true or false"
    );
    assert_eq!(
        error("[inside]\nmtu = 70000\n"),
        "inside.mtu: invalid value: integer `70000`, expected an integer from 0 to 65535"
    );
    assert_eq!(
        error("translation = 5\n"),
        "translation: expected a table, found integer"
    );
    assert_eq!(
        error("[static_bib]\nprotocol = \"tcp\"\n"),
        "static_bib: expected an array of tables ([[static_bib]]), found table"
    );
    assert_eq!(
        error("[dns64]\nlisten = [53]\n"),
        "dns64.listen: invalid type: integer `53`, expected a string"
    );
}

#[test]
fn error_durations_are_integers() {
    assert_eq!(
        error("[timeouts]\nudp = 1.5\n"),
        "timeouts.udp: invalid type: floating point `1.5`, expected a non-negative integer \
         (durations are whole seconds or ms)"
    );
    assert_eq!(
        error("[timeouts]\nudp = \"5m\"\n"),
        "timeouts.udp: invalid type: string \"5m\", expected a non-negative integer \
         (durations are whole seconds or ms)"
    );
    assert_eq!(
        error("[timeouts]\nicmp = -1\n"),
        "timeouts.icmp: invalid value: integer `-1`, expected a non-negative integer \
         (durations are whole seconds or ms)"
    );
}

#[test]
fn error_dns64_prefix_mismatch_and_escape_hatch() {
    assert_eq!(
        error("[dns64]\nprefix = \"2001:db8:64::/96\"\n"),
        "dns64.prefix: 2001:db8:64::/96 differs from translation.prefix 64:ff9b::/96 \
         (set dns64.allow_prefix_mismatch = true if that is intended)"
    );
    let c = parse("[dns64]\nprefix = \"2001:db8:64::/96\"\nallow_prefix_mismatch = true\n");
    assert_eq!(c.dns64.prefix.to_string(), "2001:db8:64::/96");
    assert_eq!(c.translation.prefix, Nat64Prefix::WELL_KNOWN);
    let same = parse("[dns64]\nprefix = \"64:ff9b::/96\"\n");
    assert_eq!(same.dns64.prefix, Nat64Prefix::WELL_KNOWN);
}

#[test]
fn error_timeouts_zero_and_warnings_below_rfc_minimums() {
    for key in [
        "udp",
        "tcp_established",
        "tcp_transitory",
        "icmp",
        "tcp_incoming_syn",
    ] {
        assert_eq!(
            error(&format!("[timeouts]\n{key} = 0\n")),
            format!("timeouts.{key}: must be greater than 0")
        );
    }
    let text = "[timeouts]\nudp = 30\ntcp_established = 600\ntcp_transitory = 60\nicmp = 10\n";
    assert_eq!(parse(text).timeouts.udp, Duration::from_secs(30));
    assert_eq!(
        warnings(text),
        vec![
            "timeouts.udp: 30 s is below the RFC 6146 section 4 minimum of 120 s",
            "timeouts.tcp_established: 600 s is below the RFC 6146 section 4 minimum of 7440 s",
            "timeouts.tcp_transitory: 60 s is below the RFC 6146 section 4 minimum of 240 s",
            "timeouts.icmp: 10 s is below the RFC 5508 REQ-1 minimum of 60 s",
        ]
    );
}

#[test]
fn error_mtu_ranges() {
    assert_eq!(
        error("[inside]\nmtu = 1279\n"),
        "inside.mtu: 1279 is below the IPv6 minimum MTU 1280"
    );
    assert_eq!(
        error("[outside]\nmtu = 67\n"),
        "outside.mtu: 67 is below the IPv4 minimum MTU 68"
    );
    assert_eq!(parse("[outside]\nmtu = 68\n").outside.mtu, 68);
    assert_eq!(
        error("[translation]\nlowest_ipv6_mtu = 1200\n"),
        "translation.lowest_ipv6_mtu: 1200 is below the IPv6 minimum MTU 1280"
    );
    assert_eq!(
        error("[translation]\nlowest_ipv6_mtu = 1500\n[inside]\nmtu = 1400\n"),
        "translation.lowest_ipv6_mtu: 1500 is larger than inside.mtu 1400"
    );
}

#[test]
fn error_workers_zero() {
    for key in ["burst", "mbufs_per_worker", "max_sessions_per_worker"] {
        assert_eq!(
            error(&format!("[workers]\n{key} = 0\n")),
            format!("workers.{key}: must be greater than 0")
        );
    }
}

#[test]
fn fragment_keys_defaults_and_refusals() {
    let d = parse("");
    assert_eq!(d.timeouts.fragment, Duration::from_secs(2));
    assert_eq!(d.workers.max_fragmented_datagrams_per_worker, 1024);
    assert_eq!(d.workers.max_held_fragments_per_worker, 256);
    assert_eq!(d.workers.max_held_fragment_bytes_per_worker, 1 << 20);
    let c = parse(
        "[timeouts]\nfragment = 5\n[workers]\nmax_fragmented_datagrams_per_worker = 7\n\
         max_held_fragments_per_worker = 0\nmax_held_fragment_bytes_per_worker = 0\n",
    );
    assert_eq!(c.timeouts.fragment, Duration::from_secs(5));
    assert_eq!(c.workers.max_fragmented_datagrams_per_worker, 7);
    assert_eq!(c.workers.max_held_fragments_per_worker, 0);
    // RFC 6146 FRAGMENT_MIN.
    assert_eq!(
        error("[timeouts]\nfragment = 1\n"),
        "timeouts.fragment: 1 s is below FRAGMENT_MIN, 2 s (RFC 6146 section 4)"
    );
    assert_eq!(
        error("[workers]\nmax_fragmented_datagrams_per_worker = 0\n"),
        "workers.max_fragmented_datagrams_per_worker: must be greater than 0"
    );
    assert_eq!(
        error("[workers]\nmbufs_per_worker = 1000\nmax_held_fragments_per_worker = 501\n"),
        "workers.max_held_fragments_per_worker: 501 is more than half of \
         workers.mbufs_per_worker 1000: held fragments keep their buffers"
    );
    assert_eq!(
        error("[workers]\nmbufs_per_worker = 200000\nmax_held_fragments_per_worker = 65536\n"),
        "workers.max_held_fragments_per_worker: 65536 is more than 65535, the most a worker can hold"
    );
    let e = Config::from_str("[workers]\nmax_held_fragment_bytes_per_worker = -1\n").unwrap_err();
    assert_eq!(e.key(), Some("workers.max_held_fragment_bytes_per_worker"));
}

#[test]
fn workers_burst_is_1_to_32() {
    for burst in [1, 16, 32] {
        assert_eq!(
            parse(&format!("[workers]\nburst = {burst}\n"))
                .workers
                .burst,
            burst
        );
    }
    assert_eq!(Workers::MAX_BURST, 32);
    assert_eq!(
        error("[workers]\nburst = 33\n"),
        "workers.burst: 33 is more than 32, the most packets a worker takes per poll"
    );
    let e = Config::from_str("[workers]\nburst = 65535\n").unwrap_err();
    assert_eq!(e.key(), Some("workers.burst"));
    assert_eq!(
        error("[workers]\nburst = 32\nmbufs_per_worker = 16\n"),
        "workers.burst: 32 is more than workers.mbufs_per_worker 16"
    );
}

#[test]
fn error_logging_level_and_events() {
    assert_eq!(
        error("[logging]\nlevel = \"verbose\"\n"),
        "logging.level: \"verbose\" is not one of error, warn, info, debug, trace"
    );
    assert_eq!(
        error("[logging]\nevents = \"/var/log/x\"\n"),
        "logging.events: \"/var/log/x\" is not \"syslog+udp://HOST:PORT\" or \"file:/PATH\""
    );
    for (text, sink) in [
        (
            "syslog+udp://192.0.2.50:514",
            EventSink::Syslog {
                host: "192.0.2.50".into(),
                port: 514,
            },
        ),
        (
            "syslog+udp://[2001:db8::50]:1514",
            EventSink::Syslog {
                host: "2001:db8::50".into(),
                port: 1514,
            },
        ),
        (
            "syslog+udp://logs.example.net",
            EventSink::Syslog {
                host: "logs.example.net".into(),
                port: 514,
            },
        ),
        (
            "file:/tmp/events.log",
            EventSink::File("/tmp/events.log".into()),
        ),
    ] {
        let c = parse(&format!(
            "[logging]\nevents = {text:?}\nlevel = \"trace\"\n"
        ));
        assert_eq!(c.logging.events, sink, "{text}");
        assert_eq!(
            c.logging.events.to_string(),
            text.replace("//logs.example.net", "//logs.example.net:514")
        );
        assert_eq!(c.logging.level, Level::Trace);
    }
    for bad in [
        "syslog+udp://:514",
        "syslog+udp://h:0",
        "syslog+udp://[x]:1",
        "file:",
    ] {
        assert!(
            error(&format!("[logging]\nevents = {bad:?}\n")).starts_with("logging.events: "),
            "{bad}"
        );
    }
}

#[test]
fn static_bib_entries_parse() {
    let c = parse(
        "[[static_bib]]\nprotocol = \"tcp\"\nipv6 = \"[2001:db8:1::10]:80\"\nipv4 = \"192.0.2.1:8080\"\n\
         [[static_bib]]\nprotocol = \"icmp\"\nipv6 = \"[2001:db8:1::11]:7\"\nipv4 = \"192.0.2.1:7\"\n",
    );
    assert_eq!(
        c.static_bib,
        vec![
            StaticBibEntry {
                protocol: L4::Tcp,
                ipv6: "[2001:db8:1::10]:80".parse().unwrap(),
                ipv4: "192.0.2.1:8080".parse().unwrap(),
            },
            StaticBibEntry {
                protocol: L4::Icmp,
                ipv6: "[2001:db8:1::11]:7".parse().unwrap(),
                ipv4: "192.0.2.1:7".parse().unwrap(),
            },
        ]
    );
}

#[test]
fn error_static_bib_entries() {
    let entry = |proto: &str, v6: &str, v4: &str| {
        format!("[[static_bib]]\nprotocol = {proto:?}\nipv6 = {v6:?}\nipv4 = {v4:?}\n")
    };
    assert_eq!(
        error(&entry("tcp", "[2001:db8:1::10]:80", "198.51.100.1:80")),
        "static_bib[0].ipv4: 198.51.100.1 is not in pool4.addresses"
    );
    assert_eq!(
        error(&entry("sctp", "[2001:db8:1::10]:80", "192.0.2.1:80")),
        "static_bib[0].protocol: \"sctp\" is not \"tcp\", \"udp\" or \"icmp\""
    );
    assert_eq!(
        error(&entry("udp", "2001:db8:1::10", "192.0.2.1:80")),
        "static_bib[0].ipv6: \"2001:db8:1::10\" is not an address:port"
    );
    assert_eq!(
        error(&entry("udp", "192.0.2.7:80", "192.0.2.1:80")),
        "static_bib[0].ipv6: 192.0.2.7:80 is not an IPv6 \"[address]:port\""
    );
    assert_eq!(
        error(&entry("udp", "[64:ff9b::c000:207]:80", "192.0.2.1:80")),
        "static_bib[0].ipv6: 64:ff9b::c000:207 is under translation.prefix 64:ff9b::/96"
    );
    assert_eq!(
        error(&entry("udp", "[2001:db8:1::10]:0", "192.0.2.1:80")),
        "static_bib[0].ipv4: port 0 cannot be mapped"
    );
    let twice = entry("tcp", "[2001:db8:1::10]:80", "192.0.2.1:80")
        + &entry("tcp", "[2001:db8:1::11]:80", "192.0.2.1:80");
    assert_eq!(
        error(&twice),
        "static_bib[1].ipv4: 192.0.2.1:80 is mapped twice"
    );
    assert_eq!(
        error("[[static_bib]]\nprotocol = \"tcp\"\nipv4 = \"192.0.2.1:80\"\n"),
        "static_bib[0].ipv6: missing (protocol, ipv6 and ipv4 are required)"
    );
}

#[test]
fn links_gateways_and_macs() {
    let c = parse(
        "[inside]\ngateway = \"fe80::1\"\ngateway_mac = \"02:00:00:00:00:02\"\n\
         [outside]\ngateway_mac = \"02-00-00-00-00-03\"\n",
    );
    assert_eq!(c.inside.gateway_mac, Some([2, 0, 0, 0, 0, 2]));
    assert_eq!(c.outside.gateway_mac, Some([2, 0, 0, 0, 0, 3]));
    assert!(c.inside.on_link(&"2001:db8:1::77".parse().unwrap()));
    assert!(!c.inside.on_link(&"2001:db8:2::77".parse().unwrap()));
    assert!(c.outside.on_link(Ipv4Addr::new(192, 0, 2, 77)));
    assert!(!c.outside.on_link(Ipv4Addr::new(192, 0, 3, 77)));
    assert_eq!(
        error("[inside]\ngateway_mac = \"01:00:5e:00:00:01\"\n"),
        "inside.gateway_mac: \"01:00:5e:00:00:01\" is not a unicast MAC address"
    );
    assert_eq!(
        error("[outside]\ngateway_mac = \"02:00:00:00:00\"\n"),
        "outside.gateway_mac: \"02:00:00:00:00\" is not a MAC address like \"02:00:00:00:00:02\""
    );
    assert_eq!(
        error("[outside]\ngateway = \"198.51.100.1\"\n"),
        "outside.gateway: 198.51.100.1 is not on the outside link 192.0.2.254/24"
    );
    assert_eq!(
        error("[inside]\ngateway = \"2001:db8:2::1\"\n"),
        "inside.gateway: 2001:db8:2::1 is not on the inside link 2001:db8:1::1/64"
    );
    assert_eq!(
        error("[inside]\naddress = \"2001:db8:1::1\"\n"),
        "inside.address: \"2001:db8:1::1\" is not ADDRESS/PREFIX-LENGTH"
    );
    assert_eq!(
        error("[outside]\naddress = \"192.0.2.254/33\"\n"),
        "outside.address: \"192.0.2.254/33\": prefix length 33 is not within 1..=32"
    );
    assert_eq!(
        error("[outside]\ndevice = \"net_tap0\"\n"),
        "outside.device: \"net_tap0\" is also inside.device"
    );
}

#[test]
fn icmp_error_rate_key_accepted_and_typed() {
    let c = parse("[translation]\nicmp_errors_per_second = 0\n");
    assert_eq!(c.translation.icmp_errors_per_second, 0);
    // Unlimited errors make the box a reflector: accepted, with a warning.
    assert_eq!(
        warnings("[translation]\nicmp_errors_per_second = 0\n"),
        [
            "translation.icmp_errors_per_second: 0 removes the limit on the ICMP errors the box \
          originates (RFC 4443 section 2.4 (f) asks for one)"
        ]
    );
    assert!(warnings("[translation]\nicmp_errors_per_second = 1\n").is_empty());
    let e = error("[translation]\nicmp_errors_per_second = -5\n");
    assert!(e.contains("icmp_errors_per_second"), "{e}");
    assert_eq!(parse("").translation.icmp_pmtu_errors_per_second, 1000);
    let c = parse("[translation]\nicmp_pmtu_errors_per_second = 7\n");
    assert_eq!(c.translation.icmp_pmtu_errors_per_second, 7);
    let e = error("[translation]\nicmp_pmtu_errors_per_second = -1\n");
    assert!(e.contains("icmp_pmtu_errors_per_second"), "{e}");
}

#[test]
fn xlat_config_carries_translation_and_link_settings() {
    let c = parse(
        "[translation]\ncopy_traffic_class = false\namend_udp_checksum_zero = false\n\
         lowest_ipv6_mtu = 1400\n[inside]\nmtu = 2000\n[outside]\nmtu = 1492\n",
    );
    let x = c.xlat_config();
    assert_eq!(x.lowest_ipv6_mtu, 1400);
    assert!(!x.copy_traffic_class);
    assert!(!x.amend_udp_checksum_zero);
    assert_eq!(x.ipv6_mtu, 2000);
    assert_eq!(x.ipv4_mtu, 1492);
    assert_eq!(x.own_ipv6, c.inside.address);
    assert_eq!(x.own_ipv4, c.outside.address);
}

#[test]
fn summary_names_what_it_will_do() {
    // The documented defaults.
    let s = parse("").summary();
    for needle in [
        "NAT64 prefix 64:ff9b::/96 (well-known, non-global IPv4 refused)",
        "16 address(es) [192.0.2.0/28], ports 1024-65535, 126 blocks of 512 per address (2016 in all)",
        "at most 8 per /56 subscriber, dynamic, paired",
        "burst 32, 16384 mbufs and 1048576 sessions each",
        "dns64: on",
    ] {
        assert!(s.contains(needle), "{needle:?} not in:\n{s}");
    }
    let off = parse("[dns64]\nenabled = false\n").summary();
    assert!(off.contains("dns64: off"), "{off}");
    assert!(off.contains("serves any source (inside.subscribers not set)"));
    let nsp = parse("[translation]\nprefix = \"2001:db8:64::/96\"\n").summary();
    assert!(
        nsp.contains(
            "subscribers may not reach 192.0.2.16-192.0.2.255, 10.0.0.0/8, 172.16.0.0/12, \
             192.168.0.0/16"
        ),
        "{nsp}"
    );
    let cgn = Config::from_file(&contract_path()).unwrap().summary();
    for needle in [
        "80 address(es) [192.0.2.0/26, 203.0.113.32/28], ports 1024-65535, \
         126 blocks of 512 per address (10080 in all)",
        "static BIB: 1 entry",
        "serves 2001:db8::/32; no IPv4 range is denied beyond RFC 6052 section 3.1",
        "inside 0000:03:00.0: 2001:db8:1::1/64 via 2001:db8:1::fffe, mtu 1500",
        "events to syslog+udp://198.51.100.20:514",
    ] {
        assert!(cgn.contains(needle), "{needle:?} not in:\n{cgn}");
    }
}

#[test]
fn warnings_for_odd_pool_shapes() {
    assert_eq!(
        warnings(
            "[pool4]\nport_range = \"1024-2047\"\nblock_size = 256\nmax_blocks_per_subscriber = 8\n",
        ),
        vec![
            "pool4.max_blocks_per_subscriber: 8 is more than the 4 blocks of one address, \
             and paired = true keeps a subscriber on one address"
        ]
    );
    assert_eq!(
        warnings(
            "[pool4]\nport_range = \"1024-2000\"\nblock_size = 256\nmax_blocks_per_subscriber = 2\n",
        ),
        vec!["pool4.port_range: the last 209 ports of \"1024-2000\" make no whole block of 256 and are unused"]
    );
}

#[test]
fn error_syntax_and_missing_file() {
    let e = error("[pool4\n");
    assert!(e.starts_with("not valid TOML: "), "{e}");
    assert!(e.contains("line 1"), "{e}");
    let e = Config::from_file(Path::new("/nonexistent/nat64.toml")).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("cannot read /nonexistent/nat64.toml: "),
        "{e}"
    );
}

#[test]
fn rfc7422_deterministic_inside_required_sized_and_fitting() {
    // Defaults: 16 addresses, 126 blocks of 512 per address, 8 blocks per
    // subscriber: 15 slots per address, 240 in all; /56 subscribers.
    assert_eq!(
        error("[pool4]\nallocation = \"deterministic\"\n"),
        "pool4.deterministic_inside: missing: required when pool4.allocation = \"deterministic\""
    );
    assert_eq!(
        error(
            "[pool4]\nallocation = \"deterministic\"\ndeterministic_inside = \"2001:db8::1/48\"\n"
        ),
        "pool4.deterministic_inside: \"2001:db8::1/48\" has bits set past the prefix length"
    );
    assert_eq!(
        error("[pool4]\nallocation = \"deterministic\"\ndeterministic_inside = \"2001:db8:100::/60\"\n"),
        "pool4.deterministic_inside: 2001:db8:100::/60 is longer than pool4.subscriber_prefix_len 56"
    );
    // /48 holds 2^8 = 256 subscribers: 16 more than the 240 slots.
    assert_eq!(
        error("[pool4]\nallocation = \"deterministic\"\ndeterministic_inside = \"2001:db8:100::/48\"\n"),
        "pool4.deterministic_inside: 2001:db8:100::/48 holds 2^8 subscribers of /56, but the pool \
         has only 240 slots of max_blocks_per_subscriber * block_size = 4096 ports (15 per address)"
    );
    // Far too many subscribers does not overflow.
    assert!(error("[pool4]\nallocation = \"deterministic\"\nsubscriber_prefix_len = 128\ndeterministic_inside = \"2001:db8::/32\"\n")
        .starts_with("pool4.deterministic_inside: 2001:db8::/32 holds 2^96 subscribers"));
    // /64 subscribers with one block each: 2^10 of them in 126 * 16 = 2016 slots.
    let c = parse(
        "[pool4]\nallocation = \"deterministic\"\nsubscriber_prefix_len = 64\n\
         max_blocks_per_subscriber = 1\ndeterministic_inside = \"2001:db8:100::/54\"\n",
    );
    assert_eq!(c.pool4.deterministic_inside.unwrap().len, 54);
    assert!(c
        .summary()
        .contains("deterministic (RFC 7422) for 2001:db8:100::/54"));
    // Set with dynamic allocation: accepted, warned about, unused.
    let c = parse("[pool4]\ndeterministic_inside = \"2001:db8:100::/49\"\n");
    assert!(c
        .warnings
        .iter()
        .any(|w| w.starts_with("pool4.deterministic_inside: 2001:db8:100::/49 is ignored")));
}

#[test]
fn kernel_iface_defaults_and_overrides() {
    let c = parse("");
    assert_eq!(c.inside.kernel_iface, "n64-in");
    assert_eq!(c.outside.kernel_iface, "n64-out");
    let c =
        parse("[inside]\nkernel_iface = \"cgn6\"\n[outside]\nkernel_iface = \"cgn4-abcdefghij\"\n");
    assert_eq!(c.inside.kernel_iface, "cgn6");
    assert_eq!(c.outside.kernel_iface, "cgn4-abcdefghij");
}

#[test]
fn error_kernel_iface_matrix() {
    assert_eq!(
        error("[inside]\nkernel_iface = \"\"\n"),
        "inside.kernel_iface: \"\" must be 1 to 15 bytes long (Linux interface names)"
    );
    assert_eq!(
        error("[outside]\nkernel_iface = \"abcdefghijklmnop\"\n"),
        "outside.kernel_iface: \"abcdefghijklmnop\" must be 1 to 15 bytes long (Linux interface names)"
    );
    assert_eq!(
        error("[inside]\nkernel_iface = \"n64/in\"\n"),
        "inside.kernel_iface: \"n64/in\" contains '/'; Linux interface names have no '/', ':' or whitespace"
    );
    assert_eq!(
        error("[inside]\nkernel_iface = \"n64 in\"\n"),
        "inside.kernel_iface: \"n64 in\" contains ' '; Linux interface names have no '/', ':' or whitespace"
    );
    assert_eq!(
        error("[outside]\nkernel_iface = \"n64-in\"\n"),
        "outside.kernel_iface: \"n64-in\" is also inside.kernel_iface"
    );
}

#[test]
fn each_section_converts_on_its_own() {
    let d = parse("");
    let t = Translation::try_from(raw::Translation::default()).unwrap();
    assert_eq!(t, d.translation);
    assert_eq!(Pool4::try_from(raw::Pool4::default()).unwrap(), d.pool4);
    assert_eq!(
        Timeouts::try_from(raw::Timeouts::default()).unwrap(),
        d.timeouts
    );
    assert_eq!(
        Filtering::try_from(raw::Filtering::default()).unwrap(),
        d.filtering
    );
    assert_eq!(Inside::try_from(raw::Inside::default()).unwrap(), d.inside);
    assert_eq!(
        Outside::try_from(raw::Outside::default()).unwrap(),
        d.outside
    );
    assert_eq!(static_bib(Vec::new()).unwrap(), d.static_bib);
    assert_eq!(
        Workers::try_from(raw::Workers::default()).unwrap(),
        d.workers
    );
    assert_eq!(
        Dns64::try_from((raw::Dns64::default(), &t)).unwrap(),
        d.dns64
    );
    assert_eq!(
        Metrics::try_from(raw::Metrics::default()).unwrap(),
        d.metrics
    );
    assert_eq!(
        Logging::try_from(raw::Logging::default()).unwrap(),
        d.logging
    );
    // A section's error names its key without the other sections.
    let w = raw::Workers {
        burst: 64,
        ..raw::Workers::default()
    };
    assert_eq!(
        Workers::try_from(w).unwrap_err().key(),
        Some("workers.burst")
    );
    let tm = raw::Timeouts {
        udp: 30,
        ..raw::Timeouts::default()
    };
    assert_eq!(
        Timeouts::try_from(tm).unwrap().warnings(),
        ["timeouts.udp: 30 s is below the RFC 6146 section 4 minimum of 120 s"]
    );
}

#[test]
fn checks_across_sections_run_on_the_converted_sections() {
    let mut c = parse("");
    assert!(c.check_across().is_ok());
    // A reloaded [inside] whose MTU no longer fits translation's floor.
    c.inside = Inside::try_from(raw::Inside {
        mtu: 1280,
        ..raw::Inside::default()
    })
    .unwrap();
    c.translation.lowest_ipv6_mtu = 1400;
    assert_eq!(
        c.check_across().unwrap_err().to_string(),
        "translation.lowest_ipv6_mtu: 1400 is larger than inside.mtu 1280"
    );
    let mut c = parse("");
    c.outside.device = c.inside.device.clone();
    assert_eq!(c.check_across().unwrap_err().key(), Some("outside.device"));
}

#[test]
fn kernel_allow_defaults_follow_the_dns64() {
    let rule = |s: &str| KernelRule::parse(s).unwrap();
    let c = parse(
        "[dns64]\nenabled = true\nlisten = [\"[2001:db8:1::1]:53\", \"[2001:db8:1::1]:5353\"]\n",
    );
    assert_eq!(
        c.inside_kernel_allow(),
        ["icmp", "udp/53", "tcp/53", "udp/5353", "tcp/5353"].map(rule)
    );
    assert_eq!(c.outside.kernel_allow, vec![rule("icmp")]);
    let c = parse("[dns64]\nenabled = false\n");
    assert_eq!(c.inside_kernel_allow(), vec![rule("icmp")]);
    // Set: exactly what is listed, even empty.
    let c = parse("[inside]\nkernel_allow = [\"tcp/22\"]\n[outside]\nkernel_allow = []\n");
    assert_eq!(c.inside_kernel_allow(), vec![rule("tcp/22")]);
    assert!(c.outside.kernel_allow.is_empty());
    assert_eq!(
        c.inside.kernel_policy,
        KernelPolicy {
            pps: KernelPolicy::DEFAULT_PPS,
            bytes_per_second: KernelPolicy::DEFAULT_BYTES_PER_SECOND
        }
    );
    let c = parse("[outside]\nkernel_pps = 10\nkernel_bytes_per_second = 4096\n");
    assert_eq!(c.outside.kernel_policy.pps, 10);
    assert_eq!(c.outside.kernel_policy.bytes_per_second, 4096);
}

#[test]
fn kernel_rules_parse() {
    let r = KernelRule::parse("udp/53").unwrap();
    assert_eq!((r.proto, r.port), (KernelProto::Udp, Some(53)));
    let r = KernelRule::parse("tcp").unwrap();
    assert_eq!((r.proto, r.port), (KernelProto::Tcp, None));
    let r = KernelRule::parse("icmp").unwrap();
    assert_eq!((r.proto, r.port), (KernelProto::Icmp, None));
}

#[test]
fn error_kernel_keys_matrix() {
    assert_eq!(
        error("[outside]\nkernel_allow = [\"icmp\", \"gre\"]\n"),
        "outside.kernel_allow[1]: \"gre\": the protocol must be \"icmp\", \"udp\" or \"tcp\""
    );
    assert_eq!(
        error("[inside]\nkernel_allow = [\"icmp/8\"]\n"),
        "inside.kernel_allow[0]: \"icmp/8\": ICMP has no ports (write \"icmp\")"
    );
    for bad in ["udp/0", "udp/65536", "tcp/", "tcp/ssh"] {
        assert_eq!(
            error(&format!("[inside]\nkernel_allow = [\"{bad}\"]\n")),
            format!("inside.kernel_allow[0]: \"{bad}\": the port must be 1 to 65535")
        );
    }
    assert_eq!(
        error("[inside]\nkernel_pps = 0\n"),
        "inside.kernel_pps: must be at least 1 (the exception path is always policed)"
    );
    assert_eq!(
        error("[outside]\nkernel_bytes_per_second = 2047\n"),
        "outside.kernel_bytes_per_second: 2047 is below 2048, the largest frame"
    );
}
