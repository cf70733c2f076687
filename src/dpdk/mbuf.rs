//! An owning mbuf and fixed-size bursts of them.
//!
//! Only single-segment mbufs are handled as packets: `data()` is the first
//! segment and [`Mbuf::packet_buf`] refuses chains. The ports are configured
//! without scatter-gather, so received mbufs are single-segment; a chain
//! that arrives anyway (a driver with different defaults) is freed and
//! counted by [`Burst::views`], which turns a whole burst into
//! [`PacketBuf`] views at once for the burst forms of the pipeline.

use std::marker::PhantomData;
use std::mem::{ManuallyDrop, MaybeUninit};
use std::ops::{Deref, DerefMut};
use std::ptr::NonNull;

use dpdk_sys::rte_mbuf;

use super::eal::Eal;
use super::mempool::Mempool;
use crate::xlat::PacketBuf;

/// An mbuf we own: freed on drop, handed to the NIC by a tx burst.
///
/// The lifetime is a borrow of the EAL (through a [`super::Mempool`] or a
/// [`Burst`]), so the mbuf cannot outlive `rte_eal_cleanup`.
#[repr(transparent)]
#[derive(Debug)]
pub struct Mbuf<'e> {
    ptr: NonNull<rte_mbuf>,
    _eal: PhantomData<&'e Eal>,
}

// SAFETY: an Mbuf is the only handle on its mbuf; mbufs may be freed or
// used from any thread (that is how rings hand them between lcores).
unsafe impl Send for Mbuf<'_> {}

impl<'e> Mbuf<'e> {
    /// Take ownership of a raw mbuf; `None` if `m` is null.
    ///
    /// # Safety
    /// `m` is a valid, direct, single-reference mbuf that nothing else will
    /// use or free, and the EAL outlives `'e`.
    pub unsafe fn from_raw(m: *mut rte_mbuf) -> Option<Mbuf<'e>> {
        NonNull::new(m).map(|ptr| Mbuf {
            ptr,
            _eal: PhantomData,
        })
    }

    /// Give up ownership (e.g. to a NIC or a ring); the caller frees it.
    pub fn into_raw(self) -> *mut rte_mbuf {
        ManuallyDrop::new(self).ptr.as_ptr()
    }

    fn raw(&self) -> &rte_mbuf {
        // SAFETY: ptr is a valid mbuf we own (type invariant).
        unsafe { self.ptr.as_ref() }
    }

    /// Packet length over all segments (`pkt_len`).
    pub fn len(&self) -> usize {
        self.raw().pkt_len as usize
    }

    /// True if the packet is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Length of the first segment (`data_len`).
    pub fn data_len(&self) -> usize {
        usize::from(self.raw().data_len)
    }

    /// Number of segments.
    pub fn segments(&self) -> u16 {
        self.raw().nb_segs
    }

    /// Input port of a received mbuf.
    pub fn port(&self) -> u16 {
        self.raw().port
    }

    /// Free bytes before the data.
    pub fn headroom(&self) -> usize {
        // SAFETY: valid mbuf (type invariant).
        usize::from(unsafe { dpdk_sys::shim_rte_pktmbuf_headroom(self.ptr.as_ptr()) })
    }

    /// Free bytes after the data of the last segment.
    pub fn tailroom(&self) -> usize {
        // SAFETY: valid mbuf (type invariant).
        usize::from(unsafe { dpdk_sys::shim_rte_pktmbuf_tailroom(self.ptr.as_ptr()) })
    }

    fn data_ptr(&self) -> *mut u8 {
        // rte_pktmbuf_mtod without a call: buf_addr + data_off (wrapping_add
        // computes the address without unsafe; data() bounds its use).
        let raw = self.raw();
        raw.buf_addr
            .cast::<u8>()
            .wrapping_add(usize::from(raw.data_off))
    }

    /// The first segment's bytes.
    pub fn data(&self) -> &[u8] {
        // SAFETY: mtod..mtod+data_len lies inside the mbuf's buffer, which
        // we own; the slice borrows self so it cannot outlive the mbuf.
        unsafe { std::slice::from_raw_parts(self.data_ptr(), self.data_len()) }
    }

    /// The first segment's bytes, mutable.
    pub fn data_mut(&mut self) -> &mut [u8] {
        // SAFETY: as data(); &mut self makes the access exclusive, and the
        // buffer is ours alone (direct, one reference: from_raw contract).
        unsafe { std::slice::from_raw_parts_mut(self.data_ptr(), self.data_len()) }
    }

    /// Grow the packet at the front by `n` bytes and return them; `None`
    /// (packet unchanged) if the headroom is too small.
    pub fn prepend(&mut self, n: u16) -> Option<&mut [u8]> {
        // SAFETY: valid mbuf we own exclusively.
        let p = unsafe { dpdk_sys::shim_rte_pktmbuf_prepend(self.ptr.as_ptr(), n) };
        // SAFETY: on success p..p+n is the new front of the data, in the buffer.
        (!p.is_null())
            .then(|| unsafe { std::slice::from_raw_parts_mut(p.cast::<u8>(), usize::from(n)) })
    }

    /// Remove `n` bytes from the front; false (unchanged) if the first
    /// segment is shorter.
    pub fn adj(&mut self, n: u16) -> bool {
        // SAFETY: valid mbuf we own exclusively.
        !unsafe { dpdk_sys::shim_rte_pktmbuf_adj(self.ptr.as_ptr(), n) }.is_null()
    }

    /// Grow the packet at the end by `n` bytes and return them; `None`
    /// (unchanged) if the tailroom is too small.
    pub fn append(&mut self, n: u16) -> Option<&mut [u8]> {
        // SAFETY: valid mbuf we own exclusively.
        let p = unsafe { dpdk_sys::shim_rte_pktmbuf_append(self.ptr.as_ptr(), n) };
        // SAFETY: on success p..p+n is the new tail of the last segment.
        (!p.is_null())
            .then(|| unsafe { std::slice::from_raw_parts_mut(p.cast::<u8>(), usize::from(n)) })
    }

    /// Remove `n` bytes from the end; false (unchanged) if the last segment
    /// is shorter.
    pub fn trim(&mut self, n: u16) -> bool {
        // SAFETY: valid mbuf we own exclusively.
        unsafe { dpdk_sys::shim_rte_pktmbuf_trim(self.ptr.as_ptr(), n) == 0 }
    }

    /// Have the NIC fill in the IPv4 header checksum of this frame (`l2`
    /// bytes of L2 header, then an IPv4 header of `l3` bytes whose checksum
    /// field is 0): only on a port whose `tx_ipv4_cksum_offload` is on.
    pub fn offload_ipv4_cksum(&mut self, l2: u8, l3: u16) {
        // SAFETY: valid mbuf we own exclusively; only offload fields change.
        unsafe { dpdk_sys::shim_mbuf_tx_ipv4_cksum(self.ptr.as_ptr(), l2, l3) }
    }

    /// Ask the CPU to start loading the packet's first cache line
    /// (`rte_prefetch0`), a few packets before it is parsed.
    #[inline]
    pub fn prefetch(&self) {
        let raw = self.raw();
        // wrapping_add: computing the address needs no unsafe, and a prefetch
        // of any address is harmless (it never faults).
        let p = raw
            .buf_addr
            .cast::<u8>()
            .wrapping_add(usize::from(raw.data_off));
        #[cfg(target_arch = "x86_64")]
        // SAFETY: prefetch is a hint; it does not fault or read memory
        // architecturally, whatever the address. SSE is baseline on x86_64.
        unsafe {
            std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p.cast())
        };
        #[cfg(not(target_arch = "x86_64"))]
        let _ = p;
    }

    /// A plain copy of the whole packet (every segment) into a new mbuf
    /// from `pool`, e.g. for a frame that goes both to the dataplane and to
    /// the kernel; `None` if the pool is empty. The copy is single-segment
    /// when the packet fits the pool's data room.
    pub fn copy_to<'p>(&self, pool: &'p Mempool) -> Option<Mbuf<'p>> {
        // SAFETY: self is a valid mbuf (type invariant), only read; the pool
        // is valid while `pool` is; UINT32_MAX copies up to the end.
        let m =
            unsafe { dpdk_sys::rte_pktmbuf_copy(self.ptr.as_ptr(), pool.as_ptr(), 0, u32::MAX) };
        // SAFETY: a fresh copy is direct, single-reference and ours alone;
        // its lifetime borrows the pool, which keeps the EAL up.
        unsafe { Mbuf::from_raw(m) }
    }

    /// True if [`Mbuf::packet_buf`] can view it: one segment whose data
    /// lies within the data room.
    pub fn is_viewable(&self) -> bool {
        let raw = self.raw();
        raw.nb_segs == 1
            && usize::from(raw.data_off) + usize::from(raw.data_len) <= usize::from(raw.buf_len)
    }

    /// View the whole data room as a [`PacketBuf`] (packet = data_off ..
    /// data_off + data_len) for the translator; the new bounds are written
    /// back to the mbuf when the view is dropped. `None` for a chain.
    pub fn packet_buf(&mut self) -> Option<MbufPacket<'_>> {
        if !self.is_viewable() {
            return None;
        }
        let raw = self.raw();
        let (buf_addr, buf_len) = (raw.buf_addr.cast::<u8>(), usize::from(raw.buf_len));
        let (start, len) = (usize::from(raw.data_off), usize::from(raw.data_len));
        // SAFETY: buf_addr..buf_addr+buf_len is the mbuf's data room, owned
        // by us alone (from_raw contract) and exclusively borrowed through
        // &mut self for the view's lifetime. It does not overlap the
        // rte_mbuf header, which the view only touches on drop.
        let room = unsafe { std::slice::from_raw_parts_mut(buf_addr, buf_len) };
        let buf = PacketBuf::new(room, start, len)?;
        Some(MbufPacket {
            buf,
            mbuf: self.ptr,
            _mbuf: PhantomData,
        })
    }
}

impl Drop for Mbuf<'_> {
    fn drop(&mut self) {
        // SAFETY: we own the mbuf and nobody uses it after this.
        unsafe { dpdk_sys::shim_rte_pktmbuf_free(self.ptr.as_ptr()) }
    }
}

/// An mbuf seen as a [`PacketBuf`]; writes `data_off`, `data_len` and
/// `pkt_len` back on drop.
#[derive(Debug)]
pub struct MbufPacket<'m> {
    buf: PacketBuf<'m>,
    mbuf: NonNull<rte_mbuf>,
    _mbuf: PhantomData<&'m mut rte_mbuf>,
}

impl<'m> Deref for MbufPacket<'m> {
    type Target = PacketBuf<'m>;
    fn deref(&self) -> &PacketBuf<'m> {
        &self.buf
    }
}

impl DerefMut for MbufPacket<'_> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.buf
    }
}

impl Drop for MbufPacket<'_> {
    fn drop(&mut self) {
        // PacketBuf keeps start + len <= buf.len() == buf_len (a u16).
        let start = self.buf.start() as u16;
        let len = self.buf.len() as u16;
        // SAFETY: the header is valid and exclusively ours (the view borrows
        // the Mbuf mutably); the data room slice is not touched here.
        let m = unsafe { self.mbuf.as_mut() };
        m.data_off = start;
        m.data_len = len;
        m.pkt_len = u32::from(len);
    }
}

/// Up to `N` mbufs in a fixed array: what an rx burst fills and a tx burst
/// sends. Dropping it frees what it still holds.
pub struct Burst<'e, const N: usize> {
    mbufs: [MaybeUninit<Mbuf<'e>>; N],
    len: usize,
}

impl<'e, const N: usize> Burst<'e, N> {
    /// An empty burst whose mbufs borrow `eal`.
    pub fn new(_eal: &'e Eal) -> Self {
        Burst {
            mbufs: [const { MaybeUninit::uninit() }; N],
            len: 0,
        }
    }

    /// Number of mbufs held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True if it holds none.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// True if it holds `N`.
    pub fn is_full(&self) -> bool {
        self.len == N
    }

    /// Add an mbuf at the end; gives it back if the burst is full.
    pub fn push(&mut self, m: Mbuf<'e>) -> Result<(), Mbuf<'e>> {
        match self.mbufs.get_mut(self.len) {
            Some(slot) => {
                slot.write(m);
                self.len += 1;
                Ok(())
            }
            None => Err(m),
        }
    }

    /// Take the last mbuf.
    pub fn pop(&mut self) -> Option<Mbuf<'e>> {
        self.len = self.len.checked_sub(1)?;
        // SAFETY: slots 0..old len are initialised; the one at the new len
        // is moved out and no longer counted.
        Some(unsafe { self.mbufs[self.len].assume_init_read() })
    }

    /// The mbufs held.
    pub fn as_slice(&self) -> &[Mbuf<'e>] {
        // SAFETY: slots 0..len are initialised; MaybeUninit<T> has T's layout.
        unsafe { std::slice::from_raw_parts(self.mbufs.as_ptr().cast(), self.len) }
    }

    /// The mbufs held, mutable.
    pub fn as_mut_slice(&mut self) -> &mut [Mbuf<'e>] {
        // SAFETY: as as_slice.
        unsafe { std::slice::from_raw_parts_mut(self.mbufs.as_mut_ptr().cast(), self.len) }
    }

    /// Take every mbuf, in order; the burst is empty afterwards (mbufs the
    /// iterator did not yield are freed when it is dropped).
    pub fn drain(&mut self) -> Drain<'_, 'e, N> {
        let end = std::mem::replace(&mut self.len, 0);
        Drain {
            burst: self,
            next: 0,
            end,
        }
    }

    /// Free every mbuf held.
    pub fn clear(&mut self) {
        let len = std::mem::replace(&mut self.len, 0);
        if len > 0 {
            // SAFETY: slots 0..len held owned mbufs (Mbuf is a transparent
            // mbuf pointer), no longer counted, so freeing them is ours to do.
            unsafe { dpdk_sys::rte_pktmbuf_free_bulk(self.mbufs.as_mut_ptr().cast(), len as u32) }
        }
    }

    /// Keep only the mbufs for which `keep` is true, in order; free the
    /// others. Returns how many were freed.
    pub fn retain(&mut self, mut keep: impl FnMut(&Mbuf<'e>) -> bool) -> usize {
        // While this runs the burst counts nothing, so a panicking `keep`
        // leaks the unvisited mbufs instead of freeing one twice.
        let len = std::mem::replace(&mut self.len, 0);
        let mut kept = 0;
        for i in 0..len {
            // SAFETY: slots i..len are initialised and not yet moved out;
            // slot i is read exactly once.
            let m = unsafe { self.mbufs[i].assume_init_read() };
            if keep(&m) {
                // kept <= i: the slot was already read out (or is slot i).
                self.mbufs[kept].write(m);
                kept += 1;
            }
        }
        self.len = kept;
        len - kept
    }

    /// Every mbuf as a [`PacketBuf`] view, in order, in a fixed array (no
    /// allocation): `views[i]` is `as_slice()[i]` once the views are dropped
    /// (which writes their new bounds back to the mbufs). Mbufs that cannot
    /// be viewed (chains, see [`Mbuf::is_viewable`]) are freed first; the
    /// second value says how many, for the caller to count.
    pub fn views(&mut self) -> (PacketViews<'_, N>, usize) {
        // Chains are rare: the mbufs are moved only when one is there.
        let dropped = if self.as_slice().iter().all(Mbuf::is_viewable) {
            0
        } else {
            self.retain(Mbuf::is_viewable)
        };
        let mut views = PacketViews {
            views: [const { MaybeUninit::uninit() }; N],
            len: 0,
        };
        for m in self.as_mut_slice() {
            // Every remaining mbuf is viewable, so this never skips one and
            // the indices stay aligned with the burst.
            if let Some(v) = m.packet_buf() {
                views.views[views.len].write(v);
                views.len += 1;
            }
        }
        (views, dropped)
    }

    /// Run `f` over [`Burst::views`]; returns what `f` returns and how many
    /// mbufs could not be viewed (freed).
    pub fn with_views<R>(&mut self, f: impl FnOnce(&mut [MbufPacket<'_>]) -> R) -> (R, usize) {
        let (mut views, dropped) = self.views();
        (f(views.as_mut_slice()), dropped)
    }

    /// Forget the first `n` mbufs (handed to a ring) and move the rest to
    /// the front, in order; the burst keeps those.
    ///
    /// # Safety
    /// The first `n` mbufs were handed over and must not be used or freed here.
    pub(crate) unsafe fn taken_front(&mut self, n: usize) {
        let n = n.min(self.len);
        let rest = self.len - n;
        let p = self.mbufs.as_mut_ptr();
        // SAFETY: slots n..len are initialised; copying them to 0..rest (an
        // overlapping move) and counting rest keeps each owned exactly once.
        unsafe { std::ptr::copy(p.add(n), p, rest) };
        self.len = rest;
    }

    /// Pointer to the free slots and their number, for an rx burst.
    pub(crate) fn spare_raw(&mut self) -> (*mut *mut rte_mbuf, usize) {
        // SAFETY: len <= N, so the offset stays inside (or one past) the array.
        let p = unsafe { self.mbufs.as_mut_ptr().add(self.len) };
        (p.cast(), N - self.len)
    }

    /// Count `n` more slots as filled by the NIC.
    ///
    /// # Safety
    /// The `n` slots after `len` hold valid mbufs now owned by this burst.
    pub(crate) unsafe fn commit(&mut self, n: usize) {
        debug_assert!(self.len + n <= N);
        self.len += n;
    }

    /// Pointer to the held mbufs and their number, for a tx burst.
    pub(crate) fn held_raw(&mut self) -> (*mut *mut rte_mbuf, usize) {
        (self.mbufs.as_mut_ptr().cast(), self.len)
    }

    /// Forget the first `n` mbufs (the NIC took them) and free the rest.
    ///
    /// # Safety
    /// The first `n` mbufs were handed over and must not be freed here.
    pub(crate) unsafe fn sent(&mut self, n: usize) {
        let len = std::mem::replace(&mut self.len, 0);
        if n < len {
            // SAFETY: slots n..len still hold mbufs we own.
            unsafe {
                dpdk_sys::rte_pktmbuf_free_bulk(
                    self.mbufs.as_mut_ptr().add(n).cast(),
                    (len - n) as u32,
                )
            }
        }
    }
}

impl<const N: usize> Drop for Burst<'_, N> {
    fn drop(&mut self) {
        self.clear();
    }
}

impl<const N: usize> std::fmt::Debug for Burst<'_, N> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Burst")
            .field("len", &self.len)
            .field("capacity", &N)
            .finish()
    }
}

/// [`PacketBuf`] views of every mbuf of a [`Burst`], in a fixed array; see
/// [`Burst::views`]. Derefs to `[MbufPacket<'b>]`; dropping it writes each
/// view's bounds back to its mbuf.
pub struct PacketViews<'b, const N: usize> {
    views: [MaybeUninit<MbufPacket<'b>>; N],
    len: usize,
}

impl<'b, const N: usize> PacketViews<'b, N> {
    /// The views, in burst order.
    pub fn as_mut_slice(&mut self) -> &mut [MbufPacket<'b>] {
        // SAFETY: slots 0..len are initialised; MaybeUninit<T> has T's layout.
        unsafe { std::slice::from_raw_parts_mut(self.views.as_mut_ptr().cast(), self.len) }
    }

    /// The views, read-only.
    pub fn as_slice(&self) -> &[MbufPacket<'b>] {
        // SAFETY: as as_mut_slice.
        unsafe { std::slice::from_raw_parts(self.views.as_ptr().cast(), self.len) }
    }
}

impl<'b, const N: usize> Deref for PacketViews<'b, N> {
    type Target = [MbufPacket<'b>];
    fn deref(&self) -> &[MbufPacket<'b>] {
        self.as_slice()
    }
}

impl<const N: usize> DerefMut for PacketViews<'_, N> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        self.as_mut_slice()
    }
}

impl<const N: usize> Drop for PacketViews<'_, N> {
    fn drop(&mut self) {
        let len = std::mem::replace(&mut self.len, 0);
        for slot in &mut self.views[..len] {
            // SAFETY: slots 0..len are initialised, each dropped once (which
            // writes its bounds back to its mbuf).
            unsafe { slot.assume_init_drop() };
        }
    }
}

impl<const N: usize> std::fmt::Debug for PacketViews<'_, N> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.as_slice()).finish()
    }
}

/// Iterator over the mbufs taken out of a [`Burst`].
pub struct Drain<'b, 'e, const N: usize> {
    burst: &'b mut Burst<'e, N>,
    next: usize,
    end: usize,
}

impl<'e, const N: usize> Iterator for Drain<'_, 'e, N> {
    type Item = Mbuf<'e>;

    fn next(&mut self) -> Option<Mbuf<'e>> {
        if self.next >= self.end {
            return None;
        }
        // SAFETY: slots next..end are initialised and owned by the drain;
        // each is read out exactly once.
        let m = unsafe { self.burst.mbufs[self.next].assume_init_read() };
        self.next += 1;
        Some(m)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.end - self.next;
        (n, Some(n))
    }
}

impl<const N: usize> Drop for Drain<'_, '_, N> {
    fn drop(&mut self) {
        for slot in &mut self.burst.mbufs[self.next..self.end] {
            // SAFETY: not yet yielded, so still initialised and owned here.
            drop(unsafe { slot.assume_init_read() });
        }
    }
}
