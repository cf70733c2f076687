//! A packet in a buffer with headroom, the shape of a DPDK mbuf's data room.
//!
//! The packet occupies `buf[start..end]`. Translation grows the front
//! (`prepend`, 4→6 adds 20 bytes) or shrinks it (`adj`, 6→4 removes at least
//! 20) without moving the payload, exactly as `rte_pktmbuf_prepend` /
//! `rte_pktmbuf_adj` do on an mbuf.

/// A packet inside a larger buffer; see the module docs.
#[derive(Debug)]
pub struct PacketBuf<'a> {
    buf: &'a mut [u8],
    start: usize,
    end: usize,
}

impl<'a> PacketBuf<'a> {
    /// The packet is `buf[start..start + len]`; `None` if that is out of range.
    pub fn new(buf: &'a mut [u8], start: usize, len: usize) -> Option<Self> {
        let end = start.checked_add(len)?;
        if end > buf.len() {
            return None;
        }
        Some(PacketBuf { buf, start, end })
    }

    /// The packet bytes.
    #[inline]
    pub fn data(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    /// The packet bytes, mutable.
    #[inline]
    pub fn data_mut(&mut self) -> &mut [u8] {
        &mut self.buf[self.start..self.end]
    }

    /// Packet length.
    #[inline]
    pub fn len(&self) -> usize {
        self.end - self.start
    }

    /// True if the packet is empty.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }

    /// Offset of the packet's first byte in the buffer (an mbuf's `data_off`).
    #[inline]
    pub fn start(&self) -> usize {
        self.start
    }

    /// Free bytes before the packet.
    #[inline]
    pub fn headroom(&self) -> usize {
        self.start
    }

    /// Free bytes after the packet.
    #[inline]
    pub fn tailroom(&self) -> usize {
        self.buf.len() - self.end
    }

    /// Grow the packet by `n` bytes at the front; false if no headroom.
    #[must_use]
    #[inline]
    pub fn prepend(&mut self, n: usize) -> bool {
        if n > self.start {
            return false;
        }
        self.start -= n;
        true
    }

    /// Remove `n` bytes from the front; false if the packet is shorter.
    #[must_use]
    #[inline]
    pub fn adj(&mut self, n: usize) -> bool {
        if n > self.len() {
            return false;
        }
        self.start += n;
        true
    }

    /// Cut the packet to `len` bytes (no-op if already shorter).
    #[inline]
    pub fn truncate(&mut self, len: usize) {
        if len < self.len() {
            self.end = self.start + len;
        }
    }

    /// Grow the packet by `n` bytes at the end; false if no tailroom.
    #[must_use]
    #[inline]
    pub fn append(&mut self, n: usize) -> bool {
        if n > self.tailroom() {
            return false;
        }
        self.end += n;
        true
    }

    /// Replace the packet with `len` bytes starting at buffer offset `start`
    /// (for code that rebuilds a packet elsewhere in the same buffer); false
    /// if out of range.
    #[must_use]
    pub fn set_bounds(&mut self, start: usize, len: usize) -> bool {
        match start.checked_add(len) {
            Some(end) if end <= self.buf.len() => {
                self.start = start;
                self.end = end;
                true
            }
            _ => false,
        }
    }

    /// The whole underlying buffer, headroom and tailroom included.
    pub fn raw_mut(&mut self) -> &mut [u8] {
        self.buf
    }
}

#[cfg(test)]
mod tests;
