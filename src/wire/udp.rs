//! UDP header view (RFC 768) with checksums over the IPv4 (RFC 768) and
//! IPv6 (RFC 8200 §8.1) pseudo-headers.
//!
//! `new_checked` promises `8 <= len <= buffer len`; `payload()` stops at
//! `len`. [`UdpPacket::new_checked_header`] only needs the 8 header bytes,
//! for a first fragment or a datagram quoted in an ICMP error, whose length
//! field covers bytes that are not there.

use std::net::{Ipv4Addr, Ipv6Addr};

use super::{checksum, clipped, clipped_mut, get_u16, ip_proto, put_u16, Error, Result};

/// Length of the UDP header.
pub const HEADER_LEN: usize = 8;

mod field {
    pub const SRC_PORT: usize = 0;
    pub const DST_PORT: usize = 2;
    pub const LENGTH: usize = 4;
    pub const CHECKSUM: usize = 6;
}

/// A view of a UDP datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UdpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> UdpPacket<T> {
    /// Wraps `buffer` without validation.
    pub const fn new_unchecked(buffer: T) -> Self {
        UdpPacket { buffer }
    }

    /// Wraps `buffer` after checking `8 <= len <= buffer len`.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let packet = Self::new_checked_header(buffer)?;
        let len = usize::from(packet.len());
        if len < HEADER_LEN {
            return Err(Error::Malformed);
        }
        if len > packet.buffer.as_ref().len() {
            return Err(Error::Truncated);
        }
        Ok(packet)
    }

    /// Wraps `buffer` checking only that the 8 header bytes are present.
    pub fn new_checked_header(buffer: T) -> Result<Self> {
        if buffer.as_ref().len() < HEADER_LEN {
            return Err(Error::Truncated);
        }
        Ok(Self::new_unchecked(buffer))
    }

    /// Returns the underlying buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Source port.
    pub fn src_port(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::SRC_PORT)
    }

    /// Destination port.
    pub fn dst_port(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::DST_PORT)
    }

    /// Length field (header and payload).
    #[allow(clippy::len_without_is_empty)]
    pub fn len(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::LENGTH)
    }

    /// Checksum as stored (0 over IPv4 means "none").
    pub fn checksum(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::CHECKSUM)
    }

    /// Payload: bytes `8..len` (clipped to the buffer).
    pub fn payload(&self) -> &[u8] {
        clipped(self.buffer.as_ref(), HEADER_LEN, usize::from(self.len()))
    }

    fn datagram(&self) -> &[u8] {
        clipped(self.buffer.as_ref(), 0, usize::from(self.len()))
    }

    /// Whether the checksum is right over the IPv4 pseudo-header (a zero
    /// checksum, "not computed", passes per RFC 768).
    pub fn verify_checksum_v4(&self, src: Ipv4Addr, dst: Ipv4Addr) -> bool {
        if self.checksum() == 0 {
            return true;
        }
        let data = self.datagram();
        let acc = checksum::pseudo_v4(src, dst, ip_proto::UDP, data.len() as u32);
        checksum::fold(acc + checksum::sum(data)) == 0xFFFF
    }

    /// Whether the checksum is right over the IPv6 pseudo-header (zero is
    /// wrong over IPv6, RFC 8200 §8.1).
    pub fn verify_checksum_v6(&self, src: &Ipv6Addr, dst: &Ipv6Addr) -> bool {
        if self.checksum() == 0 {
            return false;
        }
        let data = self.datagram();
        let acc = checksum::pseudo_v6(src, dst, ip_proto::UDP, data.len() as u32);
        checksum::fold(acc + checksum::sum(data)) == 0xFFFF
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> UdpPacket<T> {
    /// Sets the source port.
    pub fn set_src_port(&mut self, value: u16) {
        put_u16(self.buffer.as_mut(), field::SRC_PORT, value);
    }

    /// Sets the destination port.
    pub fn set_dst_port(&mut self, value: u16) {
        put_u16(self.buffer.as_mut(), field::DST_PORT, value);
    }

    /// Sets the length field.
    pub fn set_len(&mut self, value: u16) {
        put_u16(self.buffer.as_mut(), field::LENGTH, value);
    }

    /// Sets the stored checksum.
    pub fn set_checksum(&mut self, value: u16) {
        put_u16(self.buffer.as_mut(), field::CHECKSUM, value);
    }

    /// Payload, mutable: bytes `8..len` (clipped to the buffer).
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let end = usize::from(self.len());
        clipped_mut(self.buffer.as_mut(), HEADER_LEN, end)
    }

    fn store_checksum(&mut self, pseudo: u32) {
        self.set_checksum(0);
        let value = checksum::finish(pseudo + checksum::sum(self.datagram()));
        // RFC 768: a computed zero is sent as all ones.
        self.set_checksum(if value == 0 { 0xFFFF } else { value });
    }

    /// Computes and stores the checksum over the IPv4 pseudo-header.
    pub fn fill_checksum_v4(&mut self, src: Ipv4Addr, dst: Ipv4Addr) {
        let len = self.datagram().len() as u32;
        self.store_checksum(checksum::pseudo_v4(src, dst, ip_proto::UDP, len));
    }

    /// Computes and stores the checksum over the IPv6 pseudo-header.
    pub fn fill_checksum_v6(&mut self, src: &Ipv6Addr, dst: &Ipv6Addr) {
        let len = self.datagram().len() as u32;
        self.store_checksum(checksum::pseudo_v6(src, dst, ip_proto::UDP, len));
    }
}

#[cfg(test)]
mod tests;
