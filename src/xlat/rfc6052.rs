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

/// An inclusive range of IPv4 addresses (first, last).
pub type Ipv4Span = (Ipv4Addr, Ipv4Addr);

/// A short list of inclusive IPv4 ranges (`translation.deny4`), asked
/// once per translated packet: a bitmap of the /16s the ranges touch
/// (8 KiB) answers "none" for every address outside them with one load
/// and a test, before the list is walked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ipv4Spans {
    /// Bit `n` set: some range holds an address of the /16 `n`.
    slash16: Box<[u64; 1024]>,
    spans: Vec<Ipv4Span>,
}

impl Default for Ipv4Spans {
    fn default() -> Ipv4Spans {
        Ipv4Spans::new([])
    }
}

impl Ipv4Spans {
    /// The ranges `spans` (each first <= last).
    pub fn new(spans: impl IntoIterator<Item = Ipv4Span>) -> Ipv4Spans {
        let spans: Vec<Ipv4Span> = spans.into_iter().collect();
        let mut slash16 = Box::new([0u64; 1024]);
        for &(first, last) in &spans {
            for n in u32::from(first) >> 16..=u32::from(last) >> 16 {
                slash16[(n >> 6) as usize] |= 1 << (n & 63);
            }
        }
        Ipv4Spans { slash16, spans }
    }

    /// Whether one of the ranges holds `v4`.
    #[inline]
    pub fn contains(&self, v4: Ipv4Addr) -> bool {
        let n = u32::from(v4) >> 16;
        if self.slash16[(n >> 6) as usize] & (1 << (n & 63)) == 0 {
            return false;
        }
        self.spans
            .iter()
            .any(|&(first, last)| first <= v4 && v4 <= last)
    }
}

/// Why a subscriber may not reach an IPv4 address ([`Nat64Prefix::reaches`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unreachable {
    /// RFC 6052 §3.1: not global, under the well-known prefix.
    NonGlobal,
    /// In one of the operator's denied ranges (`translation.deny4`).
    Denied,
}

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
    #[inline]
    pub fn permits(&self, v4: Ipv4Addr, allow_non_global: bool) -> bool {
        allow_non_global || !self.is_well_known() || is_global_ipv4(v4)
    }

    /// Whether a subscriber may reach `v4` under this prefix: RFC 6052
    /// §3.1 ([`Nat64Prefix::permits`]), then the operator's ranges that
    /// subscribers may not reach (`translation.deny4`, inclusive, a short
    /// list). The one rule both the translator (each new flow's
    /// destination, each packet of an established one) and the DNS64
    /// (each address it would synthesize) apply.
    #[inline]
    pub fn reaches(
        &self,
        v4: Ipv4Addr,
        allow_non_global: bool,
        deny: &Ipv4Spans,
    ) -> Result<(), Unreachable> {
        if !self.permits(v4, allow_non_global) {
            return Err(Unreachable::NonGlobal);
        }
        if deny.contains(v4) {
            return Err(Unreachable::Denied);
        }
        Ok(())
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
mod tests;
