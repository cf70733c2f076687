//! Ethernet II frame view (IEEE 802.3 §3.1.1) with at most one 802.1Q tag.
//!
//! `new_checked` promises the 14-byte header, and the 18-byte header when
//! the outer EtherType is 802.1Q. Stacked tags (QinQ) are not unwrapped:
//! `ethertype()` then names the second tag and the caller drops the frame.

use super::{ethertype, get_u16, put_u16, Error, Result};

/// Length of an untagged Ethernet header.
pub const HEADER_LEN: usize = 14;
/// Length of an Ethernet header with one 802.1Q tag.
pub const VLAN_HEADER_LEN: usize = 18;
/// The longest frame the box receives whole: the packet data of one
/// mbuf (the dataplane's pools are created with this data room plus
/// DPDK's headroom, and receive no multi-segment frames). A link MTU
/// whose tagged frame is longer is refused (`inside.mtu`, `outside.mtu`).
pub const MAX_FRAME_LEN: usize = 2048;

mod field {
    use core::ops::Range;
    pub const DST: Range<usize> = 0..6;
    pub const SRC: Range<usize> = 6..12;
    pub const ETHERTYPE: usize = 12;
    pub const TCI: usize = 14;
    pub const INNER_ETHERTYPE: usize = 16;
}

/// A view of an Ethernet II frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EthernetFrame<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> EthernetFrame<T> {
    /// Wraps `buffer` without validation.
    pub const fn new_unchecked(buffer: T) -> Self {
        EthernetFrame { buffer }
    }

    /// Wraps `buffer` after checking the (tagged) header fits.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let frame = Self::new_unchecked(buffer);
        if frame.buffer.as_ref().len() < HEADER_LEN
            || frame.buffer.as_ref().len() < frame.header_len()
        {
            return Err(Error::Truncated);
        }
        Ok(frame)
    }

    /// Returns the underlying buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn outer_ethertype(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::ETHERTYPE)
    }

    fn tagged(&self) -> bool {
        self.outer_ethertype() == ethertype::VLAN
    }

    /// Destination MAC address.
    pub fn dst_addr(&self) -> [u8; 6] {
        let mut mac = [0u8; 6];
        mac.copy_from_slice(&self.buffer.as_ref()[field::DST]);
        mac
    }

    /// Source MAC address.
    pub fn src_addr(&self) -> [u8; 6] {
        let mut mac = [0u8; 6];
        mac.copy_from_slice(&self.buffer.as_ref()[field::SRC]);
        mac
    }

    /// Tag control information of the 802.1Q tag, if tagged.
    pub fn vlan(&self) -> Option<u16> {
        self.tagged()
            .then(|| get_u16(self.buffer.as_ref(), field::TCI))
    }

    /// EtherType of the payload (the inner one when tagged).
    pub fn ethertype(&self) -> u16 {
        if self.tagged() {
            get_u16(self.buffer.as_ref(), field::INNER_ETHERTYPE)
        } else {
            self.outer_ethertype()
        }
    }

    /// Header length: 14, or 18 with an 802.1Q tag.
    pub fn header_len(&self) -> usize {
        if self.tagged() {
            VLAN_HEADER_LEN
        } else {
            HEADER_LEN
        }
    }

    /// Payload after the header.
    pub fn payload(&self) -> &[u8] {
        let data = self.buffer.as_ref();
        &data[self.header_len().min(data.len())..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> EthernetFrame<T> {
    /// Sets the destination MAC address.
    pub fn set_dst_addr(&mut self, mac: [u8; 6]) {
        self.buffer.as_mut()[field::DST].copy_from_slice(&mac);
    }

    /// Sets the source MAC address.
    pub fn set_src_addr(&mut self, mac: [u8; 6]) {
        self.buffer.as_mut()[field::SRC].copy_from_slice(&mac);
    }

    /// Sets the payload EtherType (the inner one when tagged).
    pub fn set_ethertype(&mut self, value: u16) {
        let at = if self.tagged() {
            field::INNER_ETHERTYPE
        } else {
            field::ETHERTYPE
        };
        put_u16(self.buffer.as_mut(), at, value);
    }

    /// Sets the TCI of an existing 802.1Q tag (no effect when untagged).
    pub fn set_vlan(&mut self, tci: u16) {
        if self.tagged() {
            put_u16(self.buffer.as_mut(), field::TCI, tci);
        }
    }

    /// Payload after the header, mutable.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let start = self.header_len();
        let data = self.buffer.as_mut();
        let start = start.min(data.len());
        &mut data[start..]
    }
}

#[cfg(test)]
mod tests;
