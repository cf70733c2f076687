//! The Environment Abstraction Layer: initialisation from argv, lcores,
//! cleanup once nothing uses it any more.

use std::ffi::{c_char, c_int, CString};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use super::error::DpdkError;
use super::lcore::{self, LcoreJob};

/// Set by the first `Eal::init`; DPDK allows one initialisation per process,
/// even after `rte_eal_cleanup`.
static INITIALISED: AtomicBool = AtomicBool::new(false);

/// A handle on the initialised EAL. Clones are cheap; `rte_eal_cleanup`
/// runs when the last one is dropped (on the main lcore).
#[derive(Clone, Debug)]
pub struct Eal {
    inner: Arc<EalInner>,
}

#[derive(Debug)]
struct EalInner {
    main_lcore: u32,
}

impl Eal {
    /// Initialise the EAL with `args` (`args[0]` is the program name, the
    /// rest EAL options such as `-l 0-3 --vdev net_tap0 --no-huge -m 512`).
    pub fn init(args: &[String]) -> Result<Eal, DpdkError> {
        let mut c_args: Vec<*mut c_char> = Vec::with_capacity(args.len() + 1);
        for arg in args {
            let c = CString::new(arg.as_str()).map_err(|_| DpdkError::BadArgument(arg.clone()))?;
            // EAL may keep pointers into argv (and getopt permutes it), so
            // the strings live for the rest of the process.
            c_args.push(c.into_raw());
        }
        let argc = c_int::try_from(args.len())
            .map_err(|_| DpdkError::BadArgument("too many arguments".into()))?;
        c_args.push(std::ptr::null_mut());
        if INITIALISED.swap(true, Ordering::SeqCst) {
            return Err(DpdkError::EalAlreadyInitialised);
        }
        let argv = Box::leak(c_args.into_boxed_slice());
        // SAFETY: argv holds argc valid NUL-terminated strings followed by a
        // NULL, all leaked so they outlive the EAL; INITIALISED ensures this
        // runs once per process.
        let ret = unsafe { dpdk_sys::rte_eal_init(argc, argv.as_mut_ptr()) };
        if ret < 0 {
            // SAFETY: geteuid has no preconditions.
            let is_root = unsafe { libc::geteuid() } == 0;
            return Err(DpdkError::eal_init(super::rte_errno(), args, is_root));
        }
        // SAFETY: the EAL is initialised.
        let main_lcore = unsafe { dpdk_sys::rte_get_main_lcore() };
        Ok(Eal {
            inner: Arc::new(EalInner { main_lcore }),
        })
    }

    /// The main lcore (the one that called `init`).
    pub fn main_lcore(&self) -> u32 {
        self.inner.main_lcore
    }

    /// Number of lcores enabled with `-l` / `--lcores`, the main one included.
    pub fn lcore_count(&self) -> u32 {
        // SAFETY: the EAL is initialised (self exists).
        unsafe { dpdk_sys::rte_lcore_count() }
    }

    /// The enabled lcores other than the main one, in increasing order.
    pub fn worker_lcores(&self) -> Vec<u32> {
        let mut lcores = Vec::new();
        let mut i = u32::MAX; // -1: rte_get_next_lcore starts from i + 1
        loop {
            // SAFETY: the EAL is initialised; any i is accepted.
            i = unsafe { dpdk_sys::rte_get_next_lcore(i, 1, 0) };
            if i >= dpdk_sys::RTE_MAX_LCORE {
                return lcores;
            }
            lcores.push(i);
        }
    }

    /// The NUMA socket of `lcore`.
    pub fn lcore_socket(&self, lcore: u32) -> u32 {
        // SAFETY: the EAL is initialised; out-of-range ids are handled by DPDK.
        unsafe { dpdk_sys::rte_lcore_to_socket_id(lcore) }
    }

    /// Run `f` on worker lcore `lcore`; join it with [`LcoreJob::join`].
    /// Must be called from the main lcore; the lcore must be idle.
    pub fn launch<F>(&self, lcore: u32, f: F) -> Result<LcoreJob, DpdkError>
    where
        F: FnOnce() -> i32 + Send + 'static,
    {
        lcore::launch(self, lcore, f)
    }

    /// Number of ethernet ports DPDK found (PCI devices and `--vdev`s).
    pub fn port_count(&self) -> u16 {
        // SAFETY: the EAL is initialised.
        unsafe { dpdk_sys::rte_eth_dev_count_avail() }
    }
}

impl Drop for EalInner {
    fn drop(&mut self) {
        if lcore_id() != self.main_lcore {
            // The last handle went away on a worker: cleanup must run on the
            // main lcore with the workers idle, so leave it to process exit.
            return;
        }
        // SAFETY: no Eal handle is left, so no port, queue, pool or mbuf is
        // either; waiting for the workers first makes sure none still runs.
        unsafe {
            dpdk_sys::rte_eal_mp_wait_lcore();
            dpdk_sys::rte_eal_cleanup();
        }
    }
}

/// The calling thread's lcore id (`u32::MAX` on a non-EAL thread).
pub fn lcore_id() -> u32 {
    // SAFETY: reads a thread-local variable; valid on any thread.
    unsafe { dpdk_sys::shim_rte_lcore_id() }
}

/// The TSC, a cheap monotonic cycle counter.
pub fn tsc_cycles() -> u64 {
    // SAFETY: rdtsc; no preconditions.
    unsafe { dpdk_sys::shim_rte_get_tsc_cycles() }
}

/// TSC cycles per second (meaningful once the EAL is initialised).
pub fn tsc_hz() -> u64 {
    // SAFETY: reads a global set by EAL init (0 before); no preconditions.
    unsafe { dpdk_sys::shim_rte_get_tsc_hz() }
}
