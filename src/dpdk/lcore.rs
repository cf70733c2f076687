//! Running a Rust closure on a worker lcore (`rte_eal_remote_launch`).

use std::ffi::{c_int, c_void};
use std::marker::PhantomData;
use std::panic::{catch_unwind, AssertUnwindSafe};

use super::eal::{lcore_id, Eal};
use super::error::DpdkError;

type Job = Box<dyn FnOnce() -> i32 + Send + 'static>;

/// A closure running on a worker lcore.
#[derive(Debug)]
#[must_use = "join the lcore to get its result"]
pub struct LcoreJob {
    lcore: u32,
    /// Joined only from the main lcore: not Send.
    _main_only: PhantomData<*const ()>,
}

impl LcoreJob {
    /// The lcore it runs on.
    pub fn lcore(&self) -> u32 {
        self.lcore
    }

    /// Wait for the closure to return and give its result (-1 if it panicked).
    pub fn join(self) -> i32 {
        // SAFETY: called on the main lcore (launch checked it, and LcoreJob
        // is !Send); the lcore was launched by us.
        unsafe { dpdk_sys::rte_eal_wait_lcore(self.lcore) }
    }
}

/// Entry point DPDK calls on the worker; `arg` is a `Box<Job>`.
unsafe extern "C" fn trampoline(arg: *mut c_void) -> c_int {
    // SAFETY: arg is the Box<Job> leaked by `launch`, handed over exactly once.
    let job: Box<Job> = unsafe { Box::from_raw(arg.cast::<Job>()) };
    // A panic must not unwind into C.
    match catch_unwind(AssertUnwindSafe(job)) {
        Ok(ret) => ret,
        Err(_) => {
            tracing::error!(lcore = lcore_id(), "worker panicked");
            -1
        }
    }
}

pub(crate) fn launch<F>(eal: &Eal, lcore: u32, f: F) -> Result<LcoreJob, DpdkError>
where
    F: FnOnce() -> i32 + Send + 'static,
{
    if lcore_id() != eal.main_lcore() {
        return Err(DpdkError::Lcore {
            lcore,
            reason: "launch must be called from the main lcore".into(),
        });
    }
    if lcore == eal.main_lcore() || !eal.worker_lcores().contains(&lcore) {
        return Err(DpdkError::Lcore {
            lcore,
            reason: "not an enabled worker lcore (see -l / --lcores)".into(),
        });
    }
    let job: Box<Job> = Box::new(Box::new(f));
    let arg = Box::into_raw(job).cast::<c_void>();
    // SAFETY: trampoline has the lcore_function_t ABI; arg stays valid until
    // the trampoline takes it back; called on the main lcore.
    let ret = unsafe { dpdk_sys::rte_eal_remote_launch(Some(trampoline), arg, lcore) };
    if ret != 0 {
        // SAFETY: the launch failed, so the trampoline never runs and the
        // box is still ours to free.
        drop(unsafe { Box::from_raw(arg.cast::<Job>()) });
        return Err(DpdkError::Lcore {
            lcore,
            reason: format!("launch failed: {}", super::strerror(-ret)),
        });
    }
    Ok(LcoreJob {
        lcore,
        _main_only: PhantomData,
    })
}
