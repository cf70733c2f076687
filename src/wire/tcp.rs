//! TCP header view (RFC 9293 §3.1) with checksums over the IPv4 and IPv6
//! pseudo-headers.
//!
//! `new_checked` promises `20 <= header_len <= buffer len`; the segment is
//! the whole buffer (TCP has no length field), so `payload()` is everything
//! after the options.

use std::net::{Ipv4Addr, Ipv6Addr};

use super::{
    checksum, clipped, clipped_mut, get_u16, get_u32, ip_proto, put_u16, put_u32, Error, Result,
};

/// Length of a TCP header without options.
pub const HEADER_LEN: usize = 20;

mod field {
    pub const SRC_PORT: usize = 0;
    pub const DST_PORT: usize = 2;
    pub const SEQ_NUM: usize = 4;
    pub const ACK_NUM: usize = 8;
    pub const DATA_OFF: usize = 12;
    pub const FLAGS: usize = 13;
    pub const WIN_SIZE: usize = 14;
    pub const CHECKSUM: usize = 16;
    pub const URGENT: usize = 18;
}

/// TCP flag bits of byte 13.
pub mod tcp_flag {
    /// No more data from sender.
    pub const FIN: u8 = 0x01;
    /// Synchronize sequence numbers.
    pub const SYN: u8 = 0x02;
    /// Reset the connection.
    pub const RST: u8 = 0x04;
    /// Push function.
    pub const PSH: u8 = 0x08;
    /// Acknowledgment field significant.
    pub const ACK: u8 = 0x10;
    /// Urgent pointer significant.
    pub const URG: u8 = 0x20;
    /// ECN echo (RFC 3168).
    pub const ECE: u8 = 0x40;
    /// Congestion window reduced (RFC 3168).
    pub const CWR: u8 = 0x80;
}

/// A view of a TCP segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> TcpPacket<T> {
    /// Wraps `buffer` without validation.
    pub const fn new_unchecked(buffer: T) -> Self {
        TcpPacket { buffer }
    }

    /// Wraps `buffer` after checking `20 <= header_len <= buffer len`.
    pub fn new_checked(buffer: T) -> Result<Self> {
        let packet = Self::new_unchecked(buffer);
        let len = packet.buffer.as_ref().len();
        if len < HEADER_LEN {
            return Err(Error::Truncated);
        }
        if packet.header_len() < HEADER_LEN {
            return Err(Error::Malformed);
        }
        if packet.header_len() > len {
            return Err(Error::Truncated);
        }
        Ok(packet)
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

    /// Sequence number.
    pub fn seq_number(&self) -> u32 {
        get_u32(self.buffer.as_ref(), field::SEQ_NUM)
    }

    /// Acknowledgment number.
    pub fn ack_number(&self) -> u32 {
        get_u32(self.buffer.as_ref(), field::ACK_NUM)
    }

    /// Header length in bytes (data offset * 4).
    pub fn header_len(&self) -> usize {
        usize::from(self.buffer.as_ref()[field::DATA_OFF] >> 4) * 4
    }

    /// Flag byte (see [`tcp_flag`]).
    pub fn flags(&self) -> u8 {
        self.buffer.as_ref()[field::FLAGS]
    }

    /// FIN flag.
    pub fn fin(&self) -> bool {
        self.flags() & tcp_flag::FIN != 0
    }

    /// SYN flag.
    pub fn syn(&self) -> bool {
        self.flags() & tcp_flag::SYN != 0
    }

    /// RST flag.
    pub fn rst(&self) -> bool {
        self.flags() & tcp_flag::RST != 0
    }

    /// PSH flag.
    pub fn psh(&self) -> bool {
        self.flags() & tcp_flag::PSH != 0
    }

    /// ACK flag.
    pub fn ack(&self) -> bool {
        self.flags() & tcp_flag::ACK != 0
    }

    /// URG flag.
    pub fn urg(&self) -> bool {
        self.flags() & tcp_flag::URG != 0
    }

    /// Window size.
    pub fn window_len(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::WIN_SIZE)
    }

    /// Checksum as stored.
    pub fn checksum(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::CHECKSUM)
    }

    /// Urgent pointer.
    pub fn urgent_at(&self) -> u16 {
        get_u16(self.buffer.as_ref(), field::URGENT)
    }

    /// Options bytes (between byte 20 and `header_len`).
    pub fn options(&self) -> &[u8] {
        clipped(self.buffer.as_ref(), HEADER_LEN, self.header_len())
    }

    /// Payload: everything after the header.
    pub fn payload(&self) -> &[u8] {
        let data = self.buffer.as_ref();
        clipped(data, self.header_len(), data.len())
    }

    /// Whether the checksum is right over the IPv4 pseudo-header.
    pub fn verify_checksum_v4(&self, src: Ipv4Addr, dst: Ipv4Addr) -> bool {
        let data = self.buffer.as_ref();
        let acc = checksum::pseudo_v4(src, dst, ip_proto::TCP, data.len() as u32);
        checksum::fold(acc + checksum::sum(data)) == 0xFFFF
    }

    /// Whether the checksum is right over the IPv6 pseudo-header.
    pub fn verify_checksum_v6(&self, src: &Ipv6Addr, dst: &Ipv6Addr) -> bool {
        let data = self.buffer.as_ref();
        let acc = checksum::pseudo_v6(src, dst, ip_proto::TCP, data.len() as u32);
        checksum::fold(acc + checksum::sum(data)) == 0xFFFF
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> TcpPacket<T> {
    /// Sets the source port.
    pub fn set_src_port(&mut self, value: u16) {
        put_u16(self.buffer.as_mut(), field::SRC_PORT, value);
    }

    /// Sets the destination port.
    pub fn set_dst_port(&mut self, value: u16) {
        put_u16(self.buffer.as_mut(), field::DST_PORT, value);
    }

    /// Sets the sequence number.
    pub fn set_seq_number(&mut self, value: u32) {
        put_u32(self.buffer.as_mut(), field::SEQ_NUM, value);
    }

    /// Sets the acknowledgment number.
    pub fn set_ack_number(&mut self, value: u32) {
        put_u32(self.buffer.as_mut(), field::ACK_NUM, value);
    }

    /// Sets the header length in bytes (a multiple of 4, at most 60).
    pub fn set_header_len(&mut self, bytes: usize) {
        let d = self.buffer.as_mut();
        d[field::DATA_OFF] = (d[field::DATA_OFF] & 0x0F) | (((bytes / 4) as u8) << 4);
    }

    /// Sets the flag byte.
    pub fn set_flags(&mut self, value: u8) {
        self.buffer.as_mut()[field::FLAGS] = value;
    }

    fn set_flag(&mut self, flag: u8, on: bool) {
        let d = self.buffer.as_mut();
        d[field::FLAGS] = if on {
            d[field::FLAGS] | flag
        } else {
            d[field::FLAGS] & !flag
        };
    }

    /// Sets the FIN flag.
    pub fn set_fin(&mut self, on: bool) {
        self.set_flag(tcp_flag::FIN, on);
    }

    /// Sets the SYN flag.
    pub fn set_syn(&mut self, on: bool) {
        self.set_flag(tcp_flag::SYN, on);
    }

    /// Sets the RST flag.
    pub fn set_rst(&mut self, on: bool) {
        self.set_flag(tcp_flag::RST, on);
    }

    /// Sets the PSH flag.
    pub fn set_psh(&mut self, on: bool) {
        self.set_flag(tcp_flag::PSH, on);
    }

    /// Sets the ACK flag.
    pub fn set_ack(&mut self, on: bool) {
        self.set_flag(tcp_flag::ACK, on);
    }

    /// Sets the URG flag.
    pub fn set_urg(&mut self, on: bool) {
        self.set_flag(tcp_flag::URG, on);
    }

    /// Sets the window size.
    pub fn set_window_len(&mut self, value: u16) {
        put_u16(self.buffer.as_mut(), field::WIN_SIZE, value);
    }

    /// Sets the stored checksum.
    pub fn set_checksum(&mut self, value: u16) {
        put_u16(self.buffer.as_mut(), field::CHECKSUM, value);
    }

    /// Sets the urgent pointer.
    pub fn set_urgent_at(&mut self, value: u16) {
        put_u16(self.buffer.as_mut(), field::URGENT, value);
    }

    /// Options bytes, mutable.
    pub fn options_mut(&mut self) -> &mut [u8] {
        let end = self.header_len();
        clipped_mut(self.buffer.as_mut(), HEADER_LEN, end)
    }

    /// Payload, mutable.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let start = self.header_len();
        let data = self.buffer.as_mut();
        let end = data.len();
        clipped_mut(data, start, end)
    }

    fn store_checksum(&mut self, pseudo: u32) {
        self.set_checksum(0);
        let value = checksum::finish(pseudo + checksum::sum(self.buffer.as_ref()));
        self.set_checksum(value);
    }

    /// Computes and stores the checksum over the IPv4 pseudo-header.
    pub fn fill_checksum_v4(&mut self, src: Ipv4Addr, dst: Ipv4Addr) {
        let len = self.buffer.as_ref().len() as u32;
        self.store_checksum(checksum::pseudo_v4(src, dst, ip_proto::TCP, len));
    }

    /// Computes and stores the checksum over the IPv6 pseudo-header.
    pub fn fill_checksum_v6(&mut self, src: &Ipv6Addr, dst: &Ipv6Addr) {
        let len = self.buffer.as_ref().len() as u32;
        self.store_checksum(checksum::pseudo_v6(src, dst, ip_proto::TCP, len));
    }
}

#[cfg(test)]
mod tests;
