//! The Internet checksum: RFC 1071 (computation) and RFC 1624 (incremental
//! update, equation 3).
//!
//! [`sum`] adds 16-bit big-endian words without folding, so partial sums of
//! several regions (a pseudo-header and a payload) can be added before one
//! [`finish`]. [`update16`] and [`update`] patch a stored checksum when a
//! field or a whole summed region (the IPv6 pseudo-header replaced by the
//! IPv4 one, RFC 7915 §4.5/§5.5) changes, without touching the payload.

use std::net::{Ipv4Addr, Ipv6Addr};

/// Sums `data` as 16-bit big-endian words (an odd last byte is padded with
/// zero), RFC 1071 §4.1. Not complemented; the carries are folded into at
/// most 16 bits, so a few sums (pseudo-header, header, payload) can be added
/// with plain `+` in a `u32` before one [`finish`].
pub fn sum(data: &[u8]) -> u32 {
    // A u64 accumulator cannot overflow for any slice that fits in memory;
    // folding the end-around carries keeps the one's-complement value.
    let mut acc: u64 = 0;
    let mut chunks = data.chunks_exact(2);
    for word in &mut chunks {
        acc += u64::from(u16::from_be_bytes([word[0], word[1]]));
    }
    if let [last] = chunks.remainder() {
        acc += u64::from(*last) << 8;
    }
    while acc > 0xFFFF {
        acc = (acc & 0xFFFF) + (acc >> 16);
    }
    acc as u32
}

/// Folds the carries of `sum` into 16 bits (RFC 1071 §4.1); not complemented.
pub fn fold(mut sum: u32) -> u16 {
    while sum > 0xFFFF {
        sum = (sum & 0xFFFF) + (sum >> 16);
    }
    sum as u16
}

/// The value to store in a header: the complement of the folded sum.
pub fn finish(sum: u32) -> u16 {
    !fold(sum)
}

/// The Internet checksum of `data`, ready to store.
pub fn checksum(data: &[u8]) -> u16 {
    finish(sum(data))
}

/// Sum of the IPv4 pseudo-header (RFC 768, RFC 9293 §3.1) for an upper-layer
/// message of `len` bytes.
pub fn pseudo_v4(src: Ipv4Addr, dst: Ipv4Addr, proto: u8, len: u32) -> u32 {
    let mut acc = sum(&src.octets()) + sum(&dst.octets());
    acc += u32::from(proto);
    acc += (len >> 16) + (len & 0xFFFF);
    acc
}

/// Sum of the IPv6 pseudo-header (RFC 8200 §8.1) for an upper-layer message
/// of `len` bytes.
pub fn pseudo_v6(src: &Ipv6Addr, dst: &Ipv6Addr, proto: u8, len: u32) -> u32 {
    let mut acc = sum(&src.octets()) + sum(&dst.octets());
    acc += u32::from(proto);
    acc += (len >> 16) + (len & 0xFFFF);
    acc
}

/// Updates stored checksum `csum` after one 16-bit word changed from `old` to
/// `new`: RFC 1624 eqn. 3, `HC' = ~(~HC + ~m + m')`.
pub fn update16(csum: u16, old: u16, new: u16) -> u16 {
    let acc = u32::from(!csum) + u32::from(!old) + u32::from(new);
    !fold(acc)
}

/// Updates stored checksum `csum` after a summed region changed from a sum of
/// `old_sum` to `new_sum` (RFC 1624 eqn. 3 over the whole region).
pub fn update(csum: u16, old_sum: u32, new_sum: u32) -> u16 {
    let acc = u32::from(!csum) + u32::from(!fold(old_sum)) + u32::from(fold(new_sum));
    !fold(acc)
}
