//! The control side (main lcore): what is not per packet.
//!
//! [`run`] is a whole run of the NAT64: start-up builds everything the
//! workers run on and launches them (`startup`), the control loop serves
//! the main lcore until SIGINT/SIGTERM or `--exit-after-idle`, reloading
//! on SIGHUP (`main_loop`), and shutdown stops the workers and releases everything in
//! order (`startup` again). [`metrics`] exports every metric (the
//! workers', the ports', the mbuf pool's, the DNS64 server's) as
//! Prometheus text through one `Exporter`; [`events`] is the
//! port-block event log (RFC 6888 REQ-12, REQ-13); [`summary`] is the
//! block start-up logs once the workers run. With `dns64.enabled`,
//! start-up also starts the DNS64 server (`crate::dns64::server`) on a
//! thread pinned to the main lcore's CPU, after the exception TAPs and
//! before the workers; shutdown stops it before the TAPs close.
//!
//! [`http`] is the listener at `metrics.listen` (`/metrics`, `/healthz`
//! and the inspection routes of [`inspect`]), on a thread pinned to the
//! main lcore's CPU, started after the DNS64 server and stopped first.
//!
//! What it promises: the control side never touches a worker's tables; it
//! reads the counters the workers publish, drains the lock-free queues
//! they fill, and asks the workers themselves for pages of their tables
//! (`inspect`). [`reload`] applies a configuration reloaded on SIGHUP
//! (the live keys; a change of any other refuses the reload) and reopens
//! the event log.

pub mod events;
pub mod http;
pub mod inspect;
mod main_loop;
pub mod metrics;
pub mod reload;
mod startup;
pub mod summary;

use crate::config::Config;

pub use main_loop::Signals;
pub use startup::{BoxError, RunOptions};

/// Run the NAT64 until SIGINT/SIGTERM (`signals.stop`, or the idle
/// timer), reloading on SIGHUP (`signals.reload`): build and launch
/// (`startup::build`, `Built::launch`), serve the control loop
/// (`main_loop::serve`), then stop the workers, write what they left
/// (`main_loop::finish`) and release everything (`Runtime::release`).
pub fn run(
    eal_args: &[String],
    config: &Config,
    opts: &RunOptions,
    signals: &Signals,
) -> Result<(), BoxError> {
    let mut rt = startup::build(eal_args, config, opts)?.launch()?;
    main_loop::serve(&mut rt, config, opts, signals);
    rt.stop_workers();
    main_loop::finish(&mut rt, opts);
    rt.release();
    Ok(())
}
