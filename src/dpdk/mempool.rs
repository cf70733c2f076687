//! Pools of packet buffers (`rte_pktmbuf_pool_create`).

use std::ffi::CString;
use std::ptr::NonNull;

use dpdk_sys::rte_mempool;

use super::eal::Eal;
use super::error::DpdkError;
use super::mbuf::{Burst, Mbuf};
use crate::wire::ethernet::MAX_FRAME_LEN;

/// Any NUMA socket.
pub const SOCKET_ANY: i32 = dpdk_sys::SOCKET_ID_ANY;

/// Default data room of an mbuf: the longest frame the box receives
/// ([`MAX_FRAME_LEN`], 2048 bytes) plus the headroom.
const DEFAULT_DATA_ROOM: u16 = (MAX_FRAME_LEN as u32 + dpdk_sys::RTE_PKTMBUF_HEADROOM) as u16;

/// A pool of mbufs on one NUMA socket. Clones share the pool.
///
/// A pool is never freed before the EAL is cleaned up: mbufs from it may be
/// anywhere (a NIC ring, another lcore's burst), so freeing it earlier could
/// leave them dangling.
#[derive(Clone, Debug)]
pub struct Mempool {
    ptr: NonNull<rte_mempool>,
    name: String,
    eal: Eal,
}

// SAFETY: rte_mempool get/put are thread-safe (per-lcore caches, lock-free
// ring behind); the pool is never freed while a handle exists.
unsafe impl Send for Mempool {}
// SAFETY: as above; &Mempool only allocates and reads counters.
unsafe impl Sync for Mempool {}

impl Mempool {
    /// A pool of `n` mbufs with the default data room (2048 bytes plus
    /// headroom) on `socket` (or [`SOCKET_ANY`]).
    pub fn new(eal: &Eal, name: &str, n: u32, socket: i32) -> Result<Mempool, DpdkError> {
        // DPDK's guidance: cache at most n / 1.5 and at most 512.
        let cache = (n * 2 / 3).min(256);
        Mempool::with_options(eal, name, n, cache, DEFAULT_DATA_ROOM, socket)
    }

    /// A pool with an explicit per-lcore cache and data room size.
    pub fn with_options(
        eal: &Eal,
        name: &str,
        n: u32,
        cache: u32,
        data_room: u16,
        socket: i32,
    ) -> Result<Mempool, DpdkError> {
        let err = |reason: String| DpdkError::Mempool {
            name: name.to_string(),
            reason,
        };
        let c_name = CString::new(name).map_err(|_| err("name contains a NUL byte".into()))?;
        // SAFETY: the EAL is initialised (eal exists); c_name is a valid
        // C string; DPDK copies it.
        let ptr = unsafe {
            dpdk_sys::rte_pktmbuf_pool_create(c_name.as_ptr(), n, cache, 0, data_room, socket)
        };
        match NonNull::new(ptr) {
            Some(ptr) => Ok(Mempool {
                ptr,
                name: name.to_string(),
                eal: eal.clone(),
            }),
            None => {
                let errno = super::rte_errno();
                let mut reason = format!(
                    "cannot create {n} mbufs on socket {socket}: {}",
                    super::strerror(errno)
                );
                if errno == libc::ENAMETOOLONG {
                    reason.push_str(" (names are limited to 25 bytes)");
                } else if errno == libc::EEXIST {
                    reason.push_str(" (a pool with this name exists; names must be unique)");
                } else if errno == libc::ENOMEM {
                    reason.push_str(" (too little memory: raise -m, add hugepages, or lower workers.mbufs_per_worker)");
                }
                Err(err(reason))
            }
        }
    }

    /// The pool's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The EAL it lives in.
    pub fn eal(&self) -> &Eal {
        &self.eal
    }

    /// The raw pool, for queue setup.
    pub(crate) fn as_ptr(&self) -> *mut rte_mempool {
        self.ptr.as_ptr()
    }

    /// Take one mbuf (empty, default headroom); `None` if the pool is empty.
    pub fn alloc(&self) -> Option<Mbuf<'_>> {
        // SAFETY: the pool is valid while self is.
        let m = unsafe { dpdk_sys::shim_rte_pktmbuf_alloc(self.ptr.as_ptr()) };
        // SAFETY: a fresh mbuf from the pool is direct, single-segment and
        // ours alone; its lifetime is tied to &self, which keeps the EAL up.
        unsafe { Mbuf::from_raw(m) }
    }

    /// Fill `n` more slots of `burst` with fresh mbufs, all or none; false
    /// (burst unchanged) if the pool has fewer or the burst lacks room.
    pub fn alloc_bulk<'a, const N: usize>(&'a self, burst: &mut Burst<'a, N>, n: usize) -> bool {
        let (slots, room) = burst.spare_raw();
        if n > room {
            return false;
        }
        // SAFETY: the pool is valid while self is; slots has room for n
        // pointers (n <= room <= N, so the u32 cast is lossless).
        let ret =
            unsafe { dpdk_sys::shim_rte_pktmbuf_alloc_bulk(self.ptr.as_ptr(), slots, n as u32) };
        if ret != 0 {
            return false;
        }
        // SAFETY: DPDK wrote n fresh, direct, single-reference mbufs into
        // the slots; their lifetime 'a borrows this pool (and so the EAL).
        unsafe { burst.commit(n) };
        true
    }

    /// Mbufs currently free in the pool (caches included).
    pub fn available(&self) -> u32 {
        // SAFETY: the pool is valid while self is.
        unsafe { dpdk_sys::rte_mempool_avail_count(self.ptr.as_ptr()) }
    }

    /// Mbufs currently taken from the pool.
    pub fn in_use(&self) -> u32 {
        // SAFETY: the pool is valid while self is.
        unsafe { dpdk_sys::rte_mempool_in_use_count(self.ptr.as_ptr()) }
    }
}
