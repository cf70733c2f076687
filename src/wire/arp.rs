//! ARP packet view for Ethernet and IPv4 only (RFC 826).
//!
//! `new_checked` promises 28 bytes with hardware type 1 (Ethernet), protocol
//! type 0x0800, hardware length 6 and protocol length 4; anything else is
//! `Malformed`, since the box resolves nothing but IPv4 over Ethernet.

use std::net::Ipv4Addr;

use super::{ethertype, get_u16, put_u16, Error, Result};

/// Length of an Ethernet/IPv4 ARP packet.
pub const PACKET_LEN: usize = 28;
/// Hardware type of Ethernet.
pub const HTYPE_ETHERNET: u16 = 1;

/// ARP operation codes.
pub mod arp_op {
    /// Request.
    pub const REQUEST: u16 = 1;
    /// Reply.
    pub const REPLY: u16 = 2;
}

mod field {
    use core::ops::Range;
    pub const HTYPE: usize = 0;
    pub const PTYPE: usize = 2;
    pub const HLEN: usize = 4;
    pub const PLEN: usize = 5;
    pub const OPER: usize = 6;
    pub const SHA: Range<usize> = 8..14;
    pub const SPA: Range<usize> = 14..18;
    pub const THA: Range<usize> = 18..24;
    pub const TPA: Range<usize> = 24..28;
}

/// A view of an Ethernet/IPv4 ARP packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

fn mac_at(data: &[u8], range: core::ops::Range<usize>) -> [u8; 6] {
    let mut mac = [0u8; 6];
    mac.copy_from_slice(&data[range]);
    mac
}

fn ip_at(data: &[u8], range: core::ops::Range<usize>) -> Ipv4Addr {
    let mut octets = [0u8; 4];
    octets.copy_from_slice(&data[range]);
    Ipv4Addr::from(octets)
}

impl<T: AsRef<[u8]>> ArpPacket<T> {
    /// Wraps `buffer` without validation.
    pub const fn new_unchecked(buffer: T) -> Self {
        ArpPacket { buffer }
    }

    /// Wraps `buffer` after checking length and the Ethernet/IPv4 types.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let packet = Self::new_unchecked(buffer);
        let d = packet.buffer.as_ref();
        if d.len() < PACKET_LEN {
            return Err(Error::Truncated);
        }
        if get_u16(d, field::HTYPE) != HTYPE_ETHERNET
            || get_u16(d, field::PTYPE) != ethertype::IPV4
            || d[field::HLEN] != 6
            || d[field::PLEN] != 4
        {
            return Err(Error::Malformed);
        }
        Ok(packet)
    }

    /// Returns the underlying buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Hardware type (1 for Ethernet).
    pub fn hardware_type(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::HTYPE)
    }

    /// Protocol type (0x0800 for IPv4).
    pub fn protocol_type(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::PTYPE)
    }

    /// Operation (see [`arp_op`]).
    pub fn operation(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::OPER)
    }

    /// Sender hardware address.
    pub fn sender_hw(&self) -> [u8; 6] {
        mac_at(self.buffer.as_ref(), field::SHA)
    }

    /// Sender protocol address.
    pub fn sender_ip(&self) -> Ipv4Addr {
        ip_at(self.buffer.as_ref(), field::SPA)
    }

    /// Target hardware address.
    pub fn target_hw(&self) -> [u8; 6] {
        mac_at(self.buffer.as_ref(), field::THA)
    }

    /// Target protocol address.
    pub fn target_ip(&self) -> Ipv4Addr {
        ip_at(self.buffer.as_ref(), field::TPA)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> ArpPacket<T> {
    /// Writes the fixed Ethernet/IPv4 type and length fields.
    pub fn init_ethernet_ipv4(&mut self) {
        let d = self.buffer.as_mut();
        put_u16(d, field::HTYPE, HTYPE_ETHERNET);
        put_u16(d, field::PTYPE, ethertype::IPV4);
        d[field::HLEN] = 6;
        d[field::PLEN] = 4;
    }

    /// Sets the operation.
    pub fn set_operation(&mut self, value: u16) {
        put_u16(self.buffer.as_mut(), field::OPER, value);
    }

    /// Sets the sender hardware address.
    pub fn set_sender_hw(&mut self, mac: [u8; 6]) {
        self.buffer.as_mut()[field::SHA].copy_from_slice(&mac);
    }

    /// Sets the sender protocol address.
    pub fn set_sender_ip(&mut self, addr: Ipv4Addr) {
        self.buffer.as_mut()[field::SPA].copy_from_slice(&addr.octets());
    }

    /// Sets the target hardware address.
    pub fn set_target_hw(&mut self, mac: [u8; 6]) {
        self.buffer.as_mut()[field::THA].copy_from_slice(&mac);
    }

    /// Sets the target protocol address.
    pub fn set_target_ip(&mut self, addr: Ipv4Addr) {
        self.buffer.as_mut()[field::TPA].copy_from_slice(&addr.octets());
    }
}

#[cfg(test)]
mod tests;
