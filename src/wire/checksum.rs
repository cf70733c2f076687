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
#[inline]
pub fn sum(data: &[u8]) -> u32 {
    // One's-complement addition is associative over word size: summing
    // 32-bit big-endian words and folding gives the same value as summing
    // 16-bit words (RFC 1071 §2 (B), "parallel summation"), in half the
    // additions. A u64 accumulator cannot overflow for any slice that fits
    // in memory.
    let mut acc: u64 = 0;
    let mut quads = data.chunks_exact(4);
    for q in &mut quads {
        acc += u64::from(u32::from_be_bytes([q[0], q[1], q[2], q[3]]));
    }
    let rest = quads.remainder();
    let mut words = rest.chunks_exact(2);
    for w in &mut words {
        acc += u64::from(u16::from_be_bytes([w[0], w[1]]));
    }
    if let [last] = words.remainder() {
        acc += u64::from(*last) << 8;
    }
    u32::from(fold64(acc))
}

/// [`sum`] of a fixed-size region such as a header or its address fields:
/// the same value, but the length is known at compile time, so it always
/// unrolls into straight-line code wherever it is used.
#[inline(always)]
pub fn sum_fixed<const N: usize>(data: &[u8; N]) -> u32 {
    // RFC 1071 §2 (B), byte order independence: the words are summed in
    // the machine's own byte order (no byte swap per word) and only the
    // folded result is swapped to network order. Parallel summation: 64
    // bits at a time, each carry out added back in (end-around carry, so
    // the accumulator holds the same one's-complement sum; it is 0 only
    // for all-zero data). The last 1 to 7 bytes are one more word, padded
    // with zeros as RFC 1071 pads an odd last byte. Exactly `sum`'s value:
    // both are the one non-zero 16-bit representative of the same
    // one's-complement sum (or 0 for all-zero data).
    let (words, rest) = data.as_chunks::<8>();
    let mut acc: u64 = 0;
    for w in words {
        acc = add_carry(acc, u64::from_ne_bytes(*w));
    }
    if !rest.is_empty() {
        let mut last = [0u8; 8];
        last[..rest.len()].copy_from_slice(rest);
        acc = add_carry(acc, u64::from_ne_bytes(last));
    }
    u32::from(u16::from_be(fold64(acc)))
}

/// `a + b` in one's-complement arithmetic on 64 bits: the carry out is
/// added back in.
#[inline(always)]
fn add_carry(a: u64, b: u64) -> u64 {
    let (s, carry) = a.overflowing_add(b);
    s + u64::from(carry)
}

/// Folds a 64-bit one's-complement sum into 16 bits (RFC 1071 §2 (B)).
#[inline]
fn fold64(acc: u64) -> u16 {
    // The end-around carry of the two 32-bit halves in one addition: the
    // high half of `acc + acc.rotate_right(32)` is hi + lo + (carry out of
    // lo + hi), mod 2^32, the same one's-complement value as folding
    // until no carry is left (and 0 only for 0).
    fold((acc.wrapping_add(acc.rotate_right(32)) >> 32) as u32)
}

/// Sum of the eight words of an IPv6 address (the pseudo-header's address
/// part, RFC 8200 §8.1), as [`sum`] gives it for the 16 octets.
#[inline]
pub fn sum_ipv6_addr(addr: &Ipv6Addr) -> u32 {
    sum_fixed(&addr.octets())
}

/// Sum of the two words of an IPv4 address, as [`sum`] gives it for the 4
/// octets.
#[inline]
pub fn sum_ipv4_addr(addr: Ipv4Addr) -> u32 {
    u32::from(fold(addr.to_bits()))
}

/// Folds the carries of `sum` into 16 bits (RFC 1071 §4.1); not complemented.
#[inline]
pub fn fold(sum: u32) -> u16 {
    // The end-around carry of the two 16-bit halves in one addition, as in
    // fold64: the high half of `sum + sum.rotate_right(16)` is hi + lo +
    // (carry out of lo + hi), mod 2^16. No loop, no branch.
    (sum.wrapping_add(sum.rotate_right(16)) >> 16) as u16
}

/// The value to store in a header: the complement of the folded sum.
#[inline]
pub fn finish(sum: u32) -> u16 {
    !fold(sum)
}

/// The Internet checksum of `data`, ready to store.
#[inline]
pub fn checksum(data: &[u8]) -> u16 {
    finish(sum(data))
}

/// [`checksum`] of a fixed-size region (a header), unrolled like
/// [`sum_fixed`].
#[inline(always)]
pub fn checksum_fixed<const N: usize>(data: &[u8; N]) -> u16 {
    finish(sum_fixed(data))
}

/// Sum of the IPv4 pseudo-header (RFC 768, RFC 9293 §3.1) for an upper-layer
/// message of `len` bytes.
#[inline]
pub fn pseudo_v4(src: Ipv4Addr, dst: Ipv4Addr, proto: u8, len: u32) -> u32 {
    let mut acc = sum_ipv4_addr(src) + sum_ipv4_addr(dst);
    acc += u32::from(proto);
    acc += (len >> 16) + (len & 0xFFFF);
    acc
}

/// Sum of the IPv6 pseudo-header (RFC 8200 §8.1) for an upper-layer message
/// of `len` bytes.
#[inline]
pub fn pseudo_v6(src: &Ipv6Addr, dst: &Ipv6Addr, proto: u8, len: u32) -> u32 {
    let mut acc = sum_ipv6_addr(src) + sum_ipv6_addr(dst);
    acc += u32::from(proto);
    acc += (len >> 16) + (len & 0xFFFF);
    acc
}

/// Updates stored checksum `csum` after one 16-bit word changed from `old` to
/// `new`: RFC 1624 eqn. 3, `HC' = ~(~HC + ~m + m')`.
#[inline]
pub fn update16(csum: u16, old: u16, new: u16) -> u16 {
    let acc = u32::from(!csum) + u32::from(!old) + u32::from(new);
    !fold(acc)
}

/// Updates stored checksum `csum` after a summed region changed from a sum of
/// `old_sum` to `new_sum` (RFC 1624 eqn. 3 over the whole region).
#[inline]
pub fn update(csum: u16, old_sum: u32, new_sum: u32) -> u16 {
    let acc = u32::from(!csum) + u32::from(!fold(old_sum)) + u32::from(fold(new_sum));
    !fold(acc)
}

#[cfg(test)]
mod tests;
