use super::*;
use proptest::prelude::*;

fn v6(s: &str) -> Ipv6Addr {
    s.parse().expect("test IPv6 address")
}

fn p(s: &str) -> Nat64Prefix {
    s.parse().expect("test prefix")
}

const EXAMPLE_V4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 33);

/// RFC 6052 §2.4 table: 192.0.2.33 under each network-specific prefix,
/// plus the well-known prefix example of the same section.
const RFC6052_2_4: [(&str, &str); 7] = [
    ("2001:db8::/32", "2001:db8:c000:221::"),
    ("2001:db8:100::/40", "2001:db8:1c0:2:21::"),
    ("2001:db8:122::/48", "2001:db8:122:c000:2:2100::"),
    ("2001:db8:122:300::/56", "2001:db8:122:3c0:0:221::"),
    ("2001:db8:122:344::/64", "2001:db8:122:344:c0:2:2100::"),
    ("2001:db8:122:344::/96", "2001:db8:122:344::192.0.2.33"),
    ("64:ff9b::/96", "64:ff9b::192.0.2.33"),
];

#[test]
fn rfc6052_2_2_embed_section_2_4_table() {
    for (prefix, expected) in RFC6052_2_4 {
        assert_eq!(p(prefix).embed(EXAMPLE_V4), v6(expected), "{prefix}");
    }
}

#[test]
fn rfc6052_2_3_extract_section_2_4_table() {
    for (prefix, addr) in RFC6052_2_4 {
        let prefix = p(prefix);
        assert!(prefix.contains(&v6(addr)), "{prefix}");
        assert_eq!(prefix.extract(&v6(addr)), Some(EXAMPLE_V4), "{prefix}");
    }
}

#[test]
fn rfc6052_2_2_u_octet_skipped_and_zero() {
    // 255.255.255.255 under every length: byte 8 stays zero and the
    // suffix past the IPv4 bits stays zero.
    for len in VALID_LENGTHS {
        let prefix = Nat64Prefix::new(v6("2001:db8::"), len).unwrap();
        let out = prefix.embed(Ipv4Addr::BROADCAST).octets();
        assert_eq!(out[U_OCTET], 0, "/{len}");
        let ones: Vec<usize> = (0..16).filter(|&i| out[i] == 0xff).collect();
        let start = usize::from(len / 8);
        let expected: Vec<usize> = if start < U_OCTET {
            (start..=start + 4).filter(|&i| i != U_OCTET).collect()
        } else if start == U_OCTET {
            (9..13).collect()
        } else {
            (12..16).collect()
        };
        assert_eq!(ones, expected, "/{len}");
    }
}

#[test]
fn rfc6052_2_2_nonzero_u_octet_rejected() {
    // Bits 64..71 set: rejected for every length that reaches them.
    let addr = v6("2001:db8:122:344:ff00::");
    assert_eq!(Nat64Prefix::new(addr, 96), Err(PrefixError::UOctetNotZero));
    assert_eq!(Nat64Prefix::new(addr, 64), Err(PrefixError::UOctetNotZero));
    assert_eq!(
        "2001:db8::100:0:0:0/96".parse::<Nat64Prefix>(),
        Err(PrefixError::UOctetNotZero)
    );
    // A /96 may have bits 72..95 set: they are part of the prefix.
    assert!(Nat64Prefix::new(v6("2001:db8:122:344:ff:ffff::"), 96).is_ok());
}

#[test]
fn rfc6052_2_2_bad_lengths_and_host_bits_rejected() {
    for len in [0, 24, 33, 63, 72, 80, 95, 97, 128] {
        assert_eq!(
            Nat64Prefix::new(v6("2001:db8::"), len),
            Err(PrefixError::BadLength(len)),
            "/{len}"
        );
    }
    assert_eq!(
        Nat64Prefix::new(v6("2001:db8::1"), 96),
        Err(PrefixError::HostBitsSet)
    );
    assert_eq!(
        Nat64Prefix::new(v6("2001:db8:1::"), 32),
        Err(PrefixError::HostBitsSet)
    );
    assert_eq!(
        PrefixError::BadLength(33).to_string(),
        "length 33 is not one of 32, 40, 48, 56, 64, 96"
    );
}

#[test]
fn rfc6052_2_2_parse_and_display() {
    assert_eq!(p("64:ff9b::/96"), WELL_KNOWN);
    assert_eq!(p("64:ff9b::/96").to_string(), "64:ff9b::/96");
    assert_eq!(p("2001:db8:100::/40").to_string(), "2001:db8:100::/40");
    assert_eq!(p("2001:db8:122::/48").len(), 48);
    for bad in [
        "64:ff9b::",
        "64:ff9b::/x",
        "64:ff9b::/200",
        "192.0.2.0/24",
        "",
    ] {
        assert_eq!(
            bad.parse::<Nat64Prefix>(),
            Err(PrefixError::Syntax(bad.to_string())),
            "{bad}"
        );
    }
}

#[test]
fn rfc6052_2_3_extract_outside_prefix_is_none() {
    let prefix = p("2001:db8:122::/48");
    assert_eq!(prefix.extract(&v6("2001:db8:123:c000:2:2100::")), None);
    assert!(!prefix.contains(&v6("2001:db8:123::")));
    assert_eq!(WELL_KNOWN.extract(&v6("64:ff9b:1::c000:221")), None);
    // The u-octet and suffix are ignored when reading (§2.3).
    assert_eq!(
        p("2001:db8:122:344::/64").extract(&v6("2001:db8:122:344:ffc0:2:2100:ffff")),
        Some(EXAMPLE_V4)
    );
}

#[test]
fn rfc6052_2_1_well_known_is_only_64_ff9b_96() {
    assert!(p("64:ff9b::/96").is_well_known());
    assert!(Nat64Prefix::WELL_KNOWN.is_well_known());
    // RFC 8215 local-use prefix is network-specific.
    assert!(!p("64:ff9b:1::/48").is_well_known());
    assert!(!p("2001:db8:64::/96").is_well_known());
}

#[test]
fn rfc6052_3_1_well_known_prefix_refuses_non_global() {
    let wkp = WELL_KNOWN;
    let nsp = p("2001:db8:64::/96");
    for s in [
        "0.1.2.3",
        "10.1.2.3",
        "100.64.0.1",
        "100.127.255.255",
        "127.0.0.1",
        "169.254.1.1",
        "172.16.0.1",
        "172.31.255.255",
        "192.0.0.1",
        "192.0.2.33",
        "192.88.99.1",
        "192.168.1.1",
        "198.18.0.1",
        "198.19.255.255",
        "198.51.100.7",
        "203.0.113.9",
        "224.0.0.1",
        "239.255.255.255",
        "240.0.0.1",
        "255.255.255.255",
    ] {
        let v4: Ipv4Addr = s.parse().unwrap();
        assert!(!is_global_ipv4(v4), "{s}");
        assert!(!wkp.permits(v4, false), "{s}");
        assert!(wkp.permits(v4, true), "{s}");
        assert!(nsp.permits(v4, false), "{s}");
    }
    for s in [
        "1.1.1.1",
        "8.8.8.8",
        "100.63.255.255",
        "100.128.0.0",
        "172.15.255.255",
        "172.32.0.0",
        "192.0.0.9",
        "192.0.0.10",
        "192.0.3.1",
        "192.169.0.1",
        "198.17.255.255",
        "198.20.0.0",
        "223.255.255.255",
    ] {
        let v4: Ipv4Addr = s.parse().unwrap();
        assert!(is_global_ipv4(v4), "{s}");
        assert!(wkp.permits(v4, false), "{s}");
    }
}

fn any_prefix() -> impl Strategy<Value = Nat64Prefix> {
    (any::<u128>(), 0usize..VALID_LENGTHS.len()).prop_map(|(bits, i)| {
        let len = VALID_LENGTHS[i];
        let mut octets = (bits & mask(len)).to_be_bytes();
        octets[U_OCTET] = 0;
        Nat64Prefix::new(Ipv6Addr::from(octets), len).unwrap()
    })
}

proptest! {
    #[test]
    fn rfc6052_2_3_round_trip_all_lengths(prefix in any_prefix(), v4 in any::<u32>()) {
        let v4 = Ipv4Addr::from(v4);
        let addr = prefix.embed(v4);
        prop_assert!(prefix.contains(&addr));
        prop_assert_eq!(addr.octets()[U_OCTET], 0);
        prop_assert_eq!(prefix.extract(&addr), Some(v4));
        // The display form parses back to the same prefix.
        prop_assert_eq!(prefix.to_string().parse::<Nat64Prefix>(), Ok(prefix));
    }

    /// `contains` against a bit-by-bit comparison of the first `len`
    /// bits, for addresses near the prefix (one bit flipped) and anywhere.
    #[test]
    fn contains_is_the_first_len_bits(
        prefix in any_prefix(),
        other in any::<u128>(),
        flip in 0u32..128,
        near in any::<bool>(),
    ) {
        let base = u128::from(prefix.addr());
        let a = if near { base ^ (1u128 << flip) | (other & !mask(prefix.len())) } else { other };
        let bit = |x: u128, i: u32| (x >> (127 - i)) & 1;
        let want = (0..u32::from(prefix.len())).all(|i| bit(a, i) == bit(base, i));
        prop_assert_eq!(prefix.contains(&Ipv6Addr::from(a)), want);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// The first-octet bitmap only ever skips the walk for addresses no
    /// range holds: `contains` is the plain walk over the ranges.
    #[test]
    fn ipv4_spans_contains_is_the_walk(
        raw in proptest::collection::vec((any::<u32>(), 0u32..1 << 26), 0..6),
        probes in proptest::collection::vec(any::<u32>(), 64),
    ) {
        let spans: Vec<Ipv4Span> = raw
            .iter()
            .map(|&(a, len)| (Ipv4Addr::from(a), Ipv4Addr::from(a.saturating_add(len))))
            .collect();
        let set = Ipv4Spans::new(spans.iter().copied());
        // Probes near each range's ends as well as anywhere.
        let near = spans.iter().flat_map(|&(f, l)| {
            let (f, l) = (u32::from(f), u32::from(l));
            [f.wrapping_sub(1), f, l, l.wrapping_add(1)]
        });
        for v in probes.into_iter().chain(near).map(Ipv4Addr::from) {
            let walk = spans.iter().any(|&(f, l)| f <= v && v <= l);
            prop_assert_eq!(set.contains(v), walk, "{}", v);
        }
    }
}

#[test]
fn ipv4_spans_rfc1918() {
    let set = Ipv4Spans::new([
        (Ipv4Addr::new(10, 0, 0, 0), Ipv4Addr::new(10, 255, 255, 255)),
        (
            Ipv4Addr::new(172, 16, 0, 0),
            Ipv4Addr::new(172, 31, 255, 255),
        ),
    ]);
    assert!(set.contains(Ipv4Addr::new(10, 1, 2, 3)));
    assert!(set.contains(Ipv4Addr::new(172, 31, 0, 1)));
    assert!(!set.contains(Ipv4Addr::new(172, 32, 0, 1)));
    assert!(!set.contains(Ipv4Addr::new(11, 0, 0, 1)));
    assert!(!Ipv4Spans::default().contains(Ipv4Addr::new(10, 0, 0, 1)));
}
