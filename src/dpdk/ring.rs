//! A single-producer / single-consumer `rte_ring` of mbufs: how a worker
//! hands a packet it does not own to the worker that does.
//!
//! What it promises:
//! - One producer and one consumer: [`Ring::split`] gives exactly one
//!   [`RingProducer`] and one [`RingConsumer`]; both are `Send` (each may
//!   live on its own lcore) and neither is `Clone`, and their burst
//!   functions take `&mut self`, so the ring's SP/SC fast paths are sound.
//! - Never blocks: an enqueue moves what fits and leaves the rest in the
//!   caller's burst (a full ring is the caller's counted drop).
//! - Nothing leaks or dangles: when the last handle goes, the mbufs still in
//!   the ring are freed and then the ring itself; every handle keeps the EAL
//!   alive.

use std::ffi::CString;
use std::ptr::NonNull;
use std::sync::Arc;

use dpdk_sys::rte_ring;

use super::eal::Eal;
use super::error::DpdkError;
use super::mbuf::Burst;

/// The ring itself, shared by its two handles.
#[derive(Debug)]
struct RingInner {
    ptr: NonNull<rte_ring>,
    name: String,
    capacity: u32,
    _eal: Eal,
}

// SAFETY: an rte_ring is shared memory usable from any thread; which
// thread enqueues or dequeues is restricted by the handles (one producer,
// one consumer), not by this type.
unsafe impl Send for RingInner {}
// SAFETY: through a shared &RingInner the handles only call the SP enqueue
// (from the one producer), the SC dequeue (from the one consumer) and
// rte_ring_count, which may run concurrently with each other.
unsafe impl Sync for RingInner {}

impl RingInner {
    fn enqueue<const N: usize>(&self, burst: &mut Burst<'_, N>) -> usize {
        let (mbufs, len) = burst.held_raw();
        if len == 0 {
            return 0;
        }
        // SAFETY: the ring is valid (type invariant); only the one producer
        // calls this (RingProducer is not Clone and takes &mut self, or the
        // unsplit Ring takes &mut self); mbufs holds len owned mbufs whose
        // pointers are copied into the ring (len <= N fits u32).
        let n = unsafe {
            dpdk_sys::shim_rte_ring_sp_enqueue_burst(
                self.ptr.as_ptr(),
                mbufs.cast(),
                len as u32,
                std::ptr::null_mut(),
            )
        } as usize;
        // SAFETY: the ring owns the first n mbufs now; the rest move to the
        // front of the burst, still owned by it.
        unsafe { burst.taken_front(n) };
        n
    }

    fn dequeue<const N: usize>(&self, burst: &mut Burst<'_, N>) -> usize {
        let (slots, room) = burst.spare_raw();
        if room == 0 {
            return 0;
        }
        // SAFETY: the ring is valid; only the one consumer calls this (as
        // for enqueue); slots has room for `room` pointers (<= N, fits u32).
        let n = unsafe {
            dpdk_sys::shim_rte_ring_sc_dequeue_burst(
                self.ptr.as_ptr(),
                slots.cast(),
                room as u32,
                std::ptr::null_mut(),
            )
        } as usize;
        // SAFETY: the ring held only owned, valid mbufs (put there by
        // enqueue); the n dequeued are now the burst's. The burst's lifetime
        // is the caller's borrow of an EAL, which outlives it.
        unsafe { burst.commit(n) };
        n
    }

    fn count(&self) -> u32 {
        // SAFETY: the ring is valid; reading the counters is thread-safe.
        unsafe { dpdk_sys::shim_rte_ring_count(self.ptr.as_ptr()) }
    }
}

impl Drop for RingInner {
    fn drop(&mut self) {
        // No handle is left, so nobody enqueues or dequeues concurrently.
        let mut ptrs = [std::ptr::null_mut::<core::ffi::c_void>(); 64];
        loop {
            // SAFETY: valid ring, used by nobody else now; ptrs has room for 64.
            let n = unsafe {
                dpdk_sys::shim_rte_ring_sc_dequeue_burst(
                    self.ptr.as_ptr(),
                    ptrs.as_mut_ptr(),
                    ptrs.len() as u32,
                    std::ptr::null_mut(),
                )
            };
            if n == 0 {
                break;
            }
            // SAFETY: the ring held owned mbufs; these n are ours to free.
            unsafe {
                dpdk_sys::rte_pktmbuf_free_bulk(ptrs.as_mut_ptr().cast(), n);
            }
        }
        // SAFETY: the ring is empty and no handle refers to it any more.
        unsafe { dpdk_sys::rte_ring_free(self.ptr.as_ptr()) }
    }
}

/// An SP/SC ring of mbufs; [`Ring::split`] it into its two ends.
#[derive(Debug)]
pub struct Ring {
    inner: Arc<RingInner>,
}

impl Ring {
    /// A ring holding up to `capacity` mbufs (exactly; need not be a power
    /// of two) on NUMA `socket` (or [`super::SOCKET_ANY`]). `name` is unique
    /// per process and at most 28 bytes.
    pub fn new(eal: &Eal, name: &str, capacity: u32, socket: i32) -> Result<Ring, DpdkError> {
        let err = |reason: String| DpdkError::Ring {
            name: name.to_string(),
            reason,
        };
        let c_name = CString::new(name).map_err(|_| err("name contains a NUL byte".into()))?;
        if capacity == 0 {
            return Err(err("capacity must be at least 1".into()));
        }
        let flags = dpdk_sys::RING_F_SP_ENQ | dpdk_sys::RING_F_SC_DEQ | dpdk_sys::RING_F_EXACT_SZ;
        // SAFETY: the EAL is initialised (eal exists); c_name is a valid C
        // string that DPDK copies.
        let ptr = unsafe { dpdk_sys::rte_ring_create(c_name.as_ptr(), capacity, socket, flags) };
        match NonNull::new(ptr) {
            Some(ptr) => Ok(Ring {
                inner: Arc::new(RingInner {
                    ptr,
                    name: name.to_string(),
                    capacity,
                    _eal: eal.clone(),
                }),
            }),
            None => {
                let errno = super::rte_errno();
                let mut reason = format!(
                    "cannot create a ring of {capacity} on socket {socket}: {}",
                    super::strerror(errno)
                );
                match errno {
                    libc::ENAMETOOLONG => reason.push_str(" (names are limited to 28 bytes)"),
                    libc::EEXIST => {
                        reason.push_str(" (a ring with this name exists; names must be unique)")
                    }
                    libc::ENOMEM => {
                        reason.push_str(" (too little memory: raise -m or add hugepages)")
                    }
                    libc::EINVAL => reason.push_str(" (capacity too large)"),
                    _ => {}
                }
                Err(err(reason))
            }
        }
    }

    /// The ring's name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// Most mbufs it holds.
    pub fn capacity(&self) -> u32 {
        self.inner.capacity
    }

    /// Mbufs in it now.
    pub fn len(&self) -> u32 {
        self.inner.count()
    }

    /// True if it holds none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Move as many mbufs of `burst` as fit into the ring, in order; the
    /// rest stay in `burst` (in order, at its front). Returns how many moved.
    pub fn enqueue_burst<const N: usize>(&mut self, burst: &mut Burst<'_, N>) -> usize {
        self.inner.enqueue(burst)
    }

    /// Move mbufs from the ring into the free slots of `burst`, oldest
    /// first; returns how many.
    pub fn dequeue_burst<const N: usize>(&mut self, burst: &mut Burst<'_, N>) -> usize {
        self.inner.dequeue(burst)
    }

    /// The producer and the consumer end, each for one thread.
    pub fn split(self) -> (RingProducer, RingConsumer) {
        (
            RingProducer {
                inner: Arc::clone(&self.inner),
            },
            RingConsumer { inner: self.inner },
        )
    }
}

/// The one producer end of a [`Ring`].
#[derive(Debug)]
pub struct RingProducer {
    inner: Arc<RingInner>,
}

impl RingProducer {
    /// Move as many mbufs of `burst` as fit into the ring, in order; the
    /// rest stay in `burst` (in order, at its front) for the caller to count
    /// and free. Returns how many moved.
    pub fn enqueue_burst<const N: usize>(&mut self, burst: &mut Burst<'_, N>) -> usize {
        self.inner.enqueue(burst)
    }

    /// Mbufs in the ring now.
    pub fn len(&self) -> u32 {
        self.inner.count()
    }

    /// True if the ring holds none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Most mbufs the ring holds.
    pub fn capacity(&self) -> u32 {
        self.inner.capacity
    }
}

/// The one consumer end of a [`Ring`].
#[derive(Debug)]
pub struct RingConsumer {
    inner: Arc<RingInner>,
}

impl RingConsumer {
    /// Move mbufs from the ring into the free slots of `burst`, oldest
    /// first; returns how many.
    pub fn dequeue_burst<const N: usize>(&mut self, burst: &mut Burst<'_, N>) -> usize {
        self.inner.dequeue(burst)
    }

    /// Mbufs in the ring now.
    pub fn len(&self) -> u32 {
        self.inner.count()
    }

    /// True if the ring holds none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
