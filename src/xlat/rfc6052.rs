//! RFC 6052 IPv4-embedded IPv6 addresses: the NAT64 prefix, how an IPv4
//! address is placed under it and read back, and the §3.1 rule that the
//! well-known prefix carries only global IPv4 addresses.
//!
//! Implements RFC 6052 §2.1 (well-known prefix), §2.2 (address format, all
//! six prefix lengths, the u-octet), §2.3 (address translation algorithms)
//! and §3.1 (restrictions on the well-known prefix). RFC 8215's
//! `64:ff9b:1::/48` is deliberately *not* treated as well-known: it is a
//! locally used prefix and so a network-specific one in RFC 6052's terms.
//!
//! A [`Nat64Prefix`] is valid by construction: its length is one of the six
//! lengths of §2.2, bits 64..71 are zero and no bit past the length is set,
//! so [`Nat64Prefix::embed`] and [`Nat64Prefix::extract`] cannot fail on it.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// The prefix lengths RFC 6052 §2.2 allows.
pub const VALID_LENGTHS: [u8; 6] = [32, 40, 48, 56, 64, 96];

/// Byte index of the u-octet (bits 64..71), which never carries IPv4 bits.
const U_OCTET: usize = 8;

/// The well-known prefix `64:ff9b::/96` (RFC 6052 §2.1).
pub const WELL_KNOWN: Nat64Prefix = Nat64Prefix {
    addr: Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, 0, 0),
    len: 96,
    mask_ne: mask(96).to_be(),
};

/// Why a prefix is not usable as a NAT64 prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrefixError {
    /// The length is not one of 32, 40, 48, 56, 64, 96 (§2.2).
    BadLength(u8),
    /// Bits 64..71 (the u-octet) are not zero (§2.2).
    UOctetNotZero,
    /// Bits past the prefix length are set.
    HostBitsSet,
    /// The text is not `ADDRESS/LENGTH`.
    Syntax(String),
}

impl fmt::Display for PrefixError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PrefixError::BadLength(len) => {
                write!(f, "length {len} is not one of 32, 40, 48, 56, 64, 96")
            }
            PrefixError::UOctetNotZero => {
                write!(f, "bits 64..71 (the RFC 6052 u-octet) must be zero")
            }
            PrefixError::HostBitsSet => write!(f, "bits are set past the prefix length"),
            PrefixError::Syntax(text) => {
                write!(
                    f,
                    "{text:?} is not an IPv6 prefix (expected ADDRESS/LENGTH)"
                )
            }
        }
    }
}

impl std::error::Error for PrefixError {}

/// A validated RFC 6052 NAT64 prefix: an IPv6 address and a length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Nat64Prefix {
    addr: Ipv6Addr,
    len: u8,
    /// `mask(len)` in the address bytes' own order, for `contains` (made
    /// from `len` alone, so equality and hashing are those of addr/len).
    mask_ne: u128,
}

impl Nat64Prefix {
    /// The well-known prefix `64:ff9b::/96` (RFC 6052 §2.1).
    pub const WELL_KNOWN: Nat64Prefix = WELL_KNOWN;

    /// Validate `addr/len` as a NAT64 prefix (RFC 6052 §2.2).
    pub fn new(addr: Ipv6Addr, len: u8) -> Result<Self, PrefixError> {
        if !VALID_LENGTHS.contains(&len) {
            return Err(PrefixError::BadLength(len));
        }
        let octets = addr.octets();
        // Checked before the host bits: for lengths up to 64 the u-octet also
        // lies past the prefix, but it is the likelier mistake.
        if octets[U_OCTET] != 0 {
            return Err(PrefixError::UOctetNotZero);
        }
        if u128::from(addr) & !mask(len) != 0 {
            return Err(PrefixError::HostBitsSet);
        }
        Ok(Nat64Prefix {
            addr,
            len,
            mask_ne: mask(len).to_be(),
        })
    }

    /// The prefix's address (all bits past `len` zero).
    pub fn addr(&self) -> Ipv6Addr {
        self.addr
    }

    /// The prefix length: one of 32, 40, 48, 56, 64, 96.
    #[allow(clippy::len_without_is_empty)] // a bit length; never "empty"
    pub fn len(&self) -> u8 {
        self.len
    }

    /// Whether this is the well-known prefix `64:ff9b::/96` (and only that:
    /// RFC 8215's `64:ff9b:1::/48` is network-specific).
    pub fn is_well_known(&self) -> bool {
        *self == WELL_KNOWN
    }

    /// Whether `v6` lies under this prefix.
    #[inline]
    pub fn contains(&self, v6: &Ipv6Addr) -> bool {
        // Compared in the bytes' own order (the mask was put there when the
        // prefix was made), so neither address is byte-swapped on every
        // packet.
        (u128::from_ne_bytes(v6.octets()) ^ u128::from_ne_bytes(self.addr.octets())) & self.mask_ne
            == 0
    }

    /// RFC 6052 §2.3: the IPv4-embedded IPv6 address of `v4`. The IPv4 bits
    /// follow the prefix, skipping the u-octet (§2.2); u-octet and suffix are
    /// zero.
    #[inline]
    pub fn embed(&self, v4: Ipv4Addr) -> Ipv6Addr {
        if self.len == 96 {
            // The common case, on every translated packet: the IPv4 bits
            // are the last 32 (the prefix's own are zero there).
            return Ipv6Addr::from(u128::from(self.addr) | u128::from(u32::from(v4)));
        }
        let mut out = self.addr.octets();
        for (pos, byte) in self.v4_positions().into_iter().zip(v4.octets()) {
            out[pos] = byte;
        }
        Ipv6Addr::from(out)
    }

    /// RFC 6052 §2.3: the IPv4 address embedded in `v6`, or `None` when `v6`
    /// is not under this prefix.
    ///
    /// The u-octet and suffix are not checked: §2.2 says they are set to
    /// zero when an address is *built*, and §2.3 extraction reads only the
    /// IPv4 bits, so a reader ignores them as the RFC does.
    #[inline]
    pub fn extract(&self, v6: &Ipv6Addr) -> Option<Ipv4Addr> {
        if !self.contains(v6) {
            return None;
        }
        if self.len == 96 {
            // As `embed`: the last 32 bits.
            return Some(Ipv4Addr::from(u128::from(*v6) as u32));
        }
        let octets = v6.octets();
        let mut v4 = [0u8; 4];
        for (byte, pos) in v4.iter_mut().zip(self.v4_positions()) {
            *byte = octets[pos];
        }
        Some(Ipv4Addr::from(v4))
    }

    /// RFC 6052 §3.1: whether `v4` may be represented under this prefix.
    /// The well-known prefix carries only global IPv4 addresses unless the
    /// operator lifts the rule (`translation.allow_non_global_ipv4`).
    pub fn permits(&self, v4: Ipv4Addr, allow_non_global: bool) -> bool {
        allow_non_global || !self.is_well_known() || is_global_ipv4(v4)
    }

    /// Byte indexes of the four IPv4 octets: from the end of the prefix on,
    /// skipping the u-octet (RFC 6052 §2.2 figure 1).
    fn v4_positions(&self) -> [usize; 4] {
        let mut pos = usize::from(self.len / 8);
        let mut out = [0usize; 4];
        for slot in out.iter_mut() {
            if pos == U_OCTET {
                pos += 1;
            }
            *slot = pos;
            pos += 1;
        }
        out
    }
}

/// Network mask of `len` leading one bits.
#[inline]
const fn mask(len: u8) -> u128 {
    match len {
        0 => 0,
        l if l >= 128 => u128::MAX,
        l => u128::MAX << (128 - l as u32),
    }
}

impl FromStr for Nat64Prefix {
    type Err = PrefixError;

    /// Parse `ADDRESS/LENGTH`, e.g. `64:ff9b::/96`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let syntax = || PrefixError::Syntax(s.to_string());
        let (addr, len) = s.trim().split_once('/').ok_or_else(syntax)?;
        let addr: Ipv6Addr = addr.parse().map_err(|_| syntax())?;
        let len: u8 = len.parse().map_err(|_| syntax())?;
        if len > 128 {
            return Err(syntax());
        }
        Nat64Prefix::new(addr, len)
    }
}

impl fmt::Display for Nat64Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

/// Whether `v4` is globally reachable per the IANA IPv4 Special-Purpose
/// Address Registry (RFC 6890 and its updates). Used for RFC 6052 §3.1.
pub fn is_global_ipv4(v4: Ipv4Addr) -> bool {
    let a = u32::from(v4);
    // The registry marks these two /32s inside 192.0.0.0/24 globally
    // reachable: PCP anycast (RFC 7723) and TURN anycast (RFC 8155).
    if a == 0xc000_0009 || a == 0xc000_000a {
        return true;
    }
    // (network, prefix length) of every block the registry marks not global.
    const NON_GLOBAL: [(u32, u8); 16] = [
        (0x0000_0000, 8),  // 0.0.0.0/8 "this network" (RFC 791)
        (0x0a00_0000, 8),  // 10.0.0.0/8 private (RFC 1918)
        (0x6440_0000, 10), // 100.64.0.0/10 shared address space (RFC 6598)
        (0x7f00_0000, 8),  // 127.0.0.0/8 loopback (RFC 1122)
        (0xa9fe_0000, 16), // 169.254.0.0/16 link local (RFC 3927)
        (0xac10_0000, 12), // 172.16.0.0/12 private (RFC 1918)
        (0xc000_0000, 24), // 192.0.0.0/24 IETF protocol assignments (RFC 6890)
        (0xc000_0200, 24), // 192.0.2.0/24 TEST-NET-1 (RFC 5737)
        (0xc058_6300, 24), // 192.88.99.0/24 6to4 relay anycast (RFC 7526)
        (0xc0a8_0000, 16), // 192.168.0.0/16 private (RFC 1918)
        (0xc612_0000, 15), // 198.18.0.0/15 benchmarking (RFC 2544)
        (0xc633_6400, 24), // 198.51.100.0/24 TEST-NET-2 (RFC 5737)
        (0xcb00_7100, 24), // 203.0.113.0/24 TEST-NET-3 (RFC 5737)
        (0xe000_0000, 4),  // 224.0.0.0/4 multicast (RFC 5771)
        (0xf000_0000, 4),  // 240.0.0.0/4 reserved (RFC 1112), incl. broadcast
        (0xffff_ffff, 32), // 255.255.255.255/32 limited broadcast (RFC 919)
    ];
    !NON_GLOBAL.iter().any(|&(net, len)| {
        let m = (mask(len) >> 96) as u32;
        a & m == net
    })
}

#[cfg(test)]
mod tests {
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
}
