//! Safe wrappers over DPDK: the EAL, ethernet ports and their queues (and
//! virtual devices probed at run time), mbuf pools, an owning [`Mbuf`],
//! bursts of mbufs and their [`PacketViews`], SP/SC mbuf rings and lcore
//! launch.
//!
//! This is the only module of the crate allowed `unsafe`; every `unsafe`
//! block says why it is sound in a `// SAFETY:` comment.
//!
//! What it promises:
//! - Nothing DPDK hands out outlives the EAL. [`Eal`] is a cheap clonable
//!   handle; [`Port`], [`Mempool`], [`RxQueue`] and [`TxQueue`] each hold one,
//!   and an [`Mbuf`] borrows one (through its pool or its [`Burst`]), so
//!   `rte_eal_cleanup` runs only once every handle is gone.
//! - An rx or tx queue is polled by one thread at a time: each queue has
//!   exactly one handle, and its burst functions take `&mut self`.
//! - A port is stopped and closed only when no queue handle remains, so no
//!   lcore can be polling it.
//! - Mempools are never freed before the EAL is cleaned up, so an mbuf can
//!   never dangle.
//! - A [`Ring`] has one producer and one consumer handle; mbufs left in it
//!   are freed with it.
//!
//! The packet code (`wire`, `xlat`, ...) never sees this module: an mbuf is
//! turned into a [`crate::xlat::PacketBuf`] at the edge with
//! [`Mbuf::packet_buf`].
#![allow(unsafe_code)]

mod eal;
mod error;
mod hugealloc;
mod lcore;
mod mbuf;
mod mempool;
mod port;
mod ring;

pub use eal::{lcore_id, tsc_cycles, tsc_hz, Eal};
pub use error::DpdkError;
pub use hugealloc::{HugeAlloc, HUGE_PAGE};
pub use lcore::LcoreJob;
pub use mbuf::{Burst, Drain, Mbuf, MbufPacket, PacketViews};
pub use mempool::{Mempool, SOCKET_ANY};
pub use port::{
    Link, MacAddr, Port, PortConfig, PortInfo, PortStats, QueueStats, RxQueue, TxQueue,
    QUEUE_STAT_COUNTERS,
};
pub use ring::{Ring, RingConsumer, RingProducer};

use core::ffi::CStr;

/// The text of a DPDK or libc error number (`rte_strerror`).
pub(crate) fn strerror(errno: i32) -> String {
    // SAFETY: rte_strerror accepts any value and returns a pointer to a
    // NUL-terminated string that is static or thread-local and valid until
    // the next call on this thread; it is copied out at once.
    let text = unsafe { CStr::from_ptr(dpdk_sys::rte_strerror(errno)) };
    text.to_string_lossy().into_owned()
}

/// The calling thread's `rte_errno`.
pub(crate) fn rte_errno() -> i32 {
    // SAFETY: reads a thread-local integer; no preconditions.
    unsafe { dpdk_sys::shim_rte_errno() }
}
