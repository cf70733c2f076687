//! Tests of the reload table: every key of the contract is classified,
//! every key that needs a restart is refused by its name, live keys are
//! accepted and reported. Configurations are the contract's example
//! (`config/cgn.toml`) with keys set through the TOML text, parsed and
//! validated as a reload reads them.

use super::super::tests::{accepted_keys, contract_path};
use super::*;

/// The contract's example as a TOML table.
fn contract() -> toml::Table {
    let text = std::fs::read_to_string(contract_path()).unwrap();
    toml::from_str(&text).unwrap()
}

/// `root` with `section.key` set to `value` (parsed as a TOML value).
fn set(mut root: toml::Table, path: &str, value: &str) -> toml::Table {
    let (section, key) = path.split_once('.').unwrap();
    let value: toml::Value =
        toml::from_str::<toml::Table>(&format!("v = {value}")).unwrap()["v"].clone();
    let t = root
        .entry(section)
        .or_insert_with(|| toml::Value::Table(toml::Table::new()))
        .as_table_mut()
        .unwrap();
    t.insert(key.to_string(), value);
    root
}

/// Validate `root` as a reload does.
fn config(root: &toml::Table) -> Config {
    Config::from_str(&toml::to_string(root).unwrap())
        .unwrap_or_else(|e| panic!("refused: {e}\n{root}"))
}

#[test]
fn every_key_of_the_contract_is_classified() {
    let paths: Vec<&str> = KEYS.iter().map(|k| k.path).collect();
    for key in accepted_keys() {
        let section = key.split('.').next().unwrap();
        // Not kept in a Config: it only lets dns64.prefix differ from
        // translation.prefix, and dns64.prefix is compared.
        if key == "dns64.allow_prefix_mismatch" {
            continue;
        }
        assert!(
            paths.contains(&key.as_str()) || paths.contains(&section),
            "{key} is not in reload::KEYS"
        );
    }
    for p in paths {
        let section = p.split('.').next().unwrap();
        assert!(
            accepted_keys()
                .iter()
                .any(|k| k == p || k.split('.').next() == Some(section) && p == section),
            "reload::KEYS names {p}, which the contract does not accept"
        );
    }
}

#[test]
fn the_same_configuration_changes_nothing() {
    let c = config(&contract());
    assert_eq!(diff(&c, &c.clone()), Ok(Changes::default()));
}

/// Keys set (path, TOML value) and the keys a reload must refuse.
type Case = (
    &'static [(&'static str, &'static str)],
    &'static [&'static str],
);

#[test]
fn each_key_that_needs_a_restart_is_refused_by_its_name() {
    let old = config(&contract());
    let cases: &[Case] = &[
        (
            &[("translation.prefix", "\"2001:db8:64::/96\"")],
            &["translation.prefix"],
        ),
        (
            &[(
                "pool4.addresses",
                "[\"192.0.2.0/26\", \"203.0.113.32-203.0.113.48\"]",
            )],
            &["pool4.addresses"],
        ),
        (
            &[("pool4.port_range", "\"2048-65535\"")],
            &["pool4.port_range"],
        ),
        (&[("pool4.block_size", "1024")], &["pool4.block_size"]),
        (
            &[("pool4.subscriber_prefix_len", "60")],
            &["pool4.subscriber_prefix_len"],
        ),
        (&[("pool4.paired", "false")], &["pool4.paired"]),
        (
            &[("pool4.deterministic_inside", "\"2001:db8:100::/49\"")],
            &["pool4.deterministic_inside"],
        ),
        (
            &[
                ("pool4.allocation", "\"deterministic\""),
                ("pool4.deterministic_inside", "\"2001:db8:100::/49\""),
            ],
            &["pool4.allocation", "pool4.deterministic_inside"],
        ),
        (&[("inside.device", "\"net_tap9\"")], &["inside.device"]),
        (
            &[("inside.address", "\"2001:db8:1::2/64\"")],
            &["inside.address"],
        ),
        (
            &[("inside.address", "\"2001:db8:1::1/56\"")],
            &["inside.address"],
        ),
        (
            &[("inside.gateway", "\"2001:db8:1::fffd\"")],
            &["inside.gateway"],
        ),
        (
            &[("inside.gateway_mac", "\"02:00:00:00:00:02\"")],
            &["inside.gateway_mac"],
        ),
        (&[("inside.mtu", "1400")], &["inside.mtu"]),
        (
            &[("inside.kernel_iface", "\"n64-in2\"")],
            &["inside.kernel_iface"],
        ),
        (&[("outside.device", "\"net_tap9\"")], &["outside.device"]),
        (
            &[("outside.address", "\"198.51.100.11/24\"")],
            &["outside.address"],
        ),
        (
            &[("outside.gateway", "\"198.51.100.2\"")],
            &["outside.gateway"],
        ),
        (
            &[("outside.gateway_mac", "\"02:00:00:00:00:03\"")],
            &["outside.gateway_mac"],
        ),
        (&[("outside.mtu", "1400")], &["outside.mtu"]),
        (
            &[("outside.kernel_iface", "\"n64-out2\"")],
            &["outside.kernel_iface"],
        ),
        (&[("workers.burst", "16")], &["workers.burst"]),
        (
            &[("workers.mbufs_per_worker", "8192")],
            &["workers.mbufs_per_worker"],
        ),
        (
            &[("workers.max_sessions_per_worker", "1024")],
            &["workers.max_sessions_per_worker"],
        ),
        (&[("dns64.enabled", "false")], &["dns64.enabled"]),
        (
            &[("dns64.listen", "[\"[2001:db8:1::54]:53\"]")],
            &["dns64.listen"],
        ),
        (
            &[("metrics.listen", "\"127.0.0.1:9465\"")],
            &["metrics.listen"],
        ),
        (&[("logging.level", "\"debug\"")], &["logging.level"]),
        // A live key beside them is refused with them: nothing applies.
        (
            &[("timeouts.udp", "60"), ("pool4.block_size", "256")],
            &["pool4.block_size"],
        ),
    ];
    for (sets, refused) in cases {
        let root = sets.iter().fold(contract(), |r, (k, v)| set(r, k, v));
        let new = config(&root);
        let err = diff(&old, &new).expect_err(&format!("{sets:?} was accepted"));
        assert_eq!(err.keys, *refused, "{sets:?}");
        let line = err.to_string();
        assert_eq!(
            line,
            format!(
                "reload refused: {} cannot change without a restart",
                refused.join(", ")
            )
        );
    }
}

#[test]
fn live_keys_are_accepted_and_reported() {
    let old = config(&contract());
    let cases: &[(&str, &str)] = &[
        ("translation.allow_non_global_ipv4", "true"),
        ("translation.lowest_ipv6_mtu", "1400"),
        ("translation.copy_traffic_class", "false"),
        ("translation.amend_udp_checksum_zero", "false"),
        ("translation.icmp_errors_per_second", "10"),
        ("translation.icmp_pmtu_errors_per_second", "10"),
        ("pool4.max_blocks_per_subscriber", "4"),
        ("pool4.block_allocations_per_second", "10"),
        ("inside.subscribers", "[\"2001:db8:100::/40\"]"),
        ("timeouts.udp", "60"),
        ("timeouts.tcp_established", "8000"),
        ("timeouts.tcp_transitory", "300"),
        ("timeouts.icmp", "30"),
        ("timeouts.tcp_incoming_syn", "3"),
        ("filtering.address_dependent", "true"),
        ("filtering.drop_externally_initiated_tcp", "true"),
        ("dns64.upstream", "[\"198.51.100.55:53\"]"),
        ("dns64.timeout_ms", "500"),
        ("dns64.exclude", "[]"),
        ("dns64.filter_a", "true"),
        ("dns64.synthesize_ptr", "false"),
        ("dns64.synthesize_on_error", "false"),
        ("dns64.allow", "[\"198.51.100.0/24\", \"2001:db8:2::/48\"]"),
        ("dns64.rate_limit_qps", "50"),
        ("dns64.cache_entries", "0"),
        ("logging.events", "\"file:/var/log/nat64-dpdk/events.log\""),
    ];
    for (key, value) in cases {
        let new = config(&set(contract(), key, value));
        let changes = diff(&old, &new).unwrap_or_else(|e| panic!("{key}: {e}"));
        assert_eq!(changes.keys, vec![*key]);
        assert!(changes.touches(key.split('.').next().unwrap()));
    }
}

#[test]
fn static_bib_entries_added_and_removed_are_live() {
    let old = config(&contract());
    let mut root = contract();
    let entries = root["static_bib"].as_array_mut().unwrap();
    let mut added = toml::Table::new();
    added.insert("protocol".into(), "udp".into());
    added.insert("ipv6".into(), "[2001:db8:1::11]:5060".into());
    added.insert("ipv4".into(), "192.0.2.2:5060".into());
    entries.push(toml::Value::Table(added));
    let new = config(&root);
    assert_eq!(diff(&old, &new).unwrap().keys, vec!["static_bib"]);
    // And back: removing it is a change of the same key.
    assert_eq!(diff(&new, &old).unwrap().keys, vec!["static_bib"]);
}

#[test]
fn max_blocks_per_subscriber_needs_a_restart_with_deterministic_allocation() {
    let det = |root: toml::Table| {
        let root = set(root, "pool4.allocation", "\"deterministic\"");
        set(root, "pool4.deterministic_inside", "\"2001:db8:100::/49\"")
    };
    let old = config(&det(contract()));
    let new = config(&det(set(
        contract(),
        "pool4.max_blocks_per_subscriber",
        "4",
    )));
    assert_eq!(
        diff(&old, &new).unwrap_err().keys,
        vec!["pool4.max_blocks_per_subscriber"]
    );
}

/// The backticked key paths in `docs/operations.md` between the heading
/// `### {from}` and the next heading.
fn documented(from: &str) -> Vec<String> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/operations.md");
    let text = std::fs::read_to_string(path).unwrap();
    let start = text
        .find(&format!("### {from}\n"))
        .unwrap_or_else(|| panic!("no ### {from} in docs/operations.md"));
    let section = &text[start + from.len() + 5..];
    let section = &section[..section.find("\n#").unwrap_or(section.len())];
    section
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|k| KEYS.iter().any(|key| key.path == *k))
        .map(String::from)
        .collect()
}

#[test]
fn docs_list_every_key_as_the_table_classifies_it() {
    let live = documented("Applied live");
    let restart = documented("Need a restart");
    for key in KEYS {
        let (listed, other) = match key.apply {
            Apply::Live => (&live, &restart),
            Apply::Restart => (&restart, &live),
            // Live with dynamic allocation, a restart with deterministic.
            Apply::LiveIfDynamic => (&live, &live),
        };
        assert!(
            listed.iter().any(|k| k == key.path),
            "docs/operations.md does not list {} under {:?}",
            key.path,
            key.apply
        );
        if key.apply == Apply::LiveIfDynamic {
            assert!(restart.iter().any(|k| k == key.path), "{}", key.path);
        } else {
            assert!(
                !other.iter().any(|k| k == key.path),
                "docs/operations.md lists {} under both",
                key.path
            );
        }
    }
}
