//! The control loop on the main lcore, between launch and shutdown.
//!
//! What it promises: every `CONTROL_PERIOD` (100 ms) it writes the workers'
//! port-block events to the event log (RFC 6888 REQ-12, `control::events`),
//! samples the ports and the mbuf pool for the metrics and replaces the
//! `--counters` file atomically with every metric (`control::metrics`,
//! the text the metrics endpoint serves), and watches for idleness
//! (`--exit-after-idle`); it logs a change of either port's link, read
//! once per round for the metrics and `/healthz` alike. On SIGHUP it reloads the configuration and reopens the event log
//! (`control::reload`), between two of those rounds. It returns on
//! SIGINT/SIGTERM (or when the idle time is up); [`finish`] then writes
//! what the stopped workers left: the last events and the final counters.
//!
//! Signals are flags ([`Signals`], set by `signal-hook`'s handlers, which
//! do nothing else); the loop looks at them every [`SIGNAL_POLL`].
//!
//! It never touches a worker's tables: it reads the counters the workers
//! publish and drains the lock-free queues they fill.

use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tracing::{info, warn};

use super::events::EventLog;
use super::http::PortLink;
use super::metrics::{write_atomic, DpdkSample, Exporter};
use super::reload::Reloader;
use super::startup::{RunOptions, Runtime};
use crate::config::Config;
use crate::dataplane::worker::Shared;
use crate::dpdk::{Link, Port};

/// How often the control side writes the counters file.
const CONTROL_PERIOD: Duration = Duration::from_millis(100);
/// How often it looks at the signal flags.
pub const SIGNAL_POLL: Duration = Duration::from_millis(10);

/// The signals the process acts on, as flags their handlers set.
#[derive(Debug, Clone, Default)]
pub struct Signals {
    /// SIGINT or SIGTERM: stop.
    pub stop: Arc<AtomicBool>,
    /// SIGHUP: reload the configuration, reopen the event log.
    pub reload: Arc<AtomicBool>,
}

impl Signals {
    /// Register the handlers (`signal-hook`'s flags: async-signal-safe,
    /// nothing but a store in the handler).
    pub fn install() -> io::Result<Signals> {
        let s = Signals::default();
        for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
            signal_hook::flag::register(sig, Arc::clone(&s.stop))?;
        }
        signal_hook::flag::register(signal_hook::consts::SIGHUP, Arc::clone(&s.reload))?;
        Ok(s)
    }

    /// Sleep until `period` is over or a flag is up; whether stop is.
    pub fn wait(&self, period: Duration) -> bool {
        let until = Instant::now() + period;
        loop {
            if self.stop.load(Ordering::Relaxed) {
                return true;
            }
            let now = Instant::now();
            if now >= until || self.reload.load(Ordering::Relaxed) {
                return false;
            }
            std::thread::sleep(SIGNAL_POLL.min(until - now));
        }
    }

    /// Whether SIGHUP came since the last call.
    pub fn take_reload(&self) -> bool {
        self.reload.swap(false, Ordering::Relaxed)
    }
}

/// Serve the control side until SIGINT/SIGTERM (or `--exit-after-idle`),
/// reloading `config` on SIGHUP.
pub fn serve(rt: &mut Runtime, config: &Config, opts: &RunOptions, signals: &Signals) {
    let file = opts.counters.as_deref().filter(|p| p.as_os_str() != "-");
    let mut idle = IdleWatch::new(opts.exit_after_idle);
    let mut links = LinkWatch::default();
    let mut fragments = FragmentWatch::new(Instant::now());
    let mut reloader = Reloader::new(
        opts.config_path.clone(),
        config,
        Arc::clone(&rt.shared.own.pool),
    );
    loop {
        if signals.wait(CONTROL_PERIOD) {
            info!("stopping");
            break;
        }
        if signals.take_reload() {
            // Events the workers queued under the old sink go there first.
            drain_events(&rt.shared, &mut rt.events);
            reloader.reload(rt);
        }
        let sample = sample_dpdk(rt);
        links.check([&rt.inside, &rt.outside], sample, &rt.links);
        drain_events(&rt.shared, &mut rt.events);
        for line in fragments.check(Instant::now(), FragmentTotals::of(&rt.exporter)) {
            warn!("{line}");
        }
        if let Some(path) = file {
            write_counters(path, &rt.exporter.encode());
        }
        if idle.is_over(rt.exporter.rx_packets()) {
            break;
        }
    }
}

/// After the workers have stopped: write the events they left and the
/// final counters (`--counters -` prints them to stdout).
pub fn finish(rt: &mut Runtime, opts: &RunOptions) {
    drain_events(&rt.shared, &mut rt.events);
    if rt.events.failed > 0 {
        warn!(
            failed = rt.events.failed,
            "logging.events: some port-block events could not be written"
        );
    }
    sample_dpdk(rt);
    let text = rt.exporter.encode();
    match opts.counters.as_deref() {
        Some(p) if p.as_os_str() == "-" => print!("{text}"),
        Some(p) => write_counters(p, &text),
        None => {}
    }
}

/// Read the ports' counters and links and the mbuf pool's use for the
/// metrics (here, on the main lcore, which owns them).
fn sample_dpdk(rt: &Runtime) -> [Option<Link>; 2] {
    let sample = DpdkSample::take(&rt.inside, &rt.outside, &rt.pool, rt.shared.stats.len());
    let links = sample.links();
    rt.exporter.set_dpdk(sample);
    links
}

/// Replace the counters file; a failure is logged, never fatal.
fn write_counters(path: &Path, text: &str) {
    if let Err(e) = write_atomic(path, text) {
        warn!("--counters {}: {e}", path.display());
    }
}

/// Write every queued port-block event to the log.
fn drain_events(shared: &Shared, log: &mut EventLog) {
    let mut any = false;
    for q in &shared.events {
        while let Some(ev) = q.pop() {
            log.write(&ev);
            any = true;
        }
    }
    if any {
        log.flush();
    }
}

/// `--exit-after-idle`: how long since the received-frame count last moved.
struct IdleWatch {
    limit: Option<Duration>,
    last_rx: u64,
    last_activity: Instant,
}

impl IdleWatch {
    fn new(limit: Option<Duration>) -> IdleWatch {
        IdleWatch {
            limit,
            last_rx: 0,
            last_activity: Instant::now(),
        }
    }

    /// Whether no frame has arrived for the limit, given the frames
    /// received so far (`rx`); logs why when it is.
    fn is_over(&mut self, rx: u64) -> bool {
        if rx != self.last_rx {
            self.last_rx = rx;
            self.last_activity = Instant::now();
        }
        match self.limit {
            Some(idle) if self.last_activity.elapsed() >= idle => {
                info!(
                    "no packet for {} ms: stopping (--exit-after-idle)",
                    idle.as_millis()
                );
                true
            }
            _ => false,
        }
    }
}

/// The fragment events an operator should see (RFC 6146 §3.4), summed
/// over the workers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct FragmentTotals {
    /// New fragmented datagrams refused: the store was full.
    refused: u64,
    /// Held fragments freed because their first fragment never came.
    timed_out: u64,
}

impl FragmentTotals {
    fn of(e: &Exporter) -> FragmentTotals {
        let get = |event| e.workers_total("nat64_fragments_total", &[("event", event)]);
        FragmentTotals {
            refused: get("refused"),
            timed_out: get("timed_out"),
        }
    }
}

/// Turns the fragment counters into log events: at most one warning per
/// kind every [`FRAGMENT_LOG_PERIOD`], with the count since the last, so
/// a flood of fragments shows in the log without filling it.
struct FragmentWatch {
    logged: FragmentTotals,
    next: Instant,
}

/// How often the fragment events are logged at most.
const FRAGMENT_LOG_PERIOD: Duration = Duration::from_secs(10);

impl FragmentWatch {
    fn new(now: Instant) -> FragmentWatch {
        FragmentWatch {
            logged: FragmentTotals::default(),
            next: now,
        }
    }

    /// The warnings due at `now`, given the totals so far.
    fn check(&mut self, now: Instant, totals: FragmentTotals) -> Vec<String> {
        if now < self.next {
            return Vec::new();
        }
        let mut lines = Vec::new();
        let refused = totals.refused.saturating_sub(self.logged.refused);
        if refused > 0 {
            lines.push(format!(
                "fragments: {refused} refused since the last report: the fragment store is full \
                 (workers.max_fragmented_datagrams_per_worker, \
                 workers.max_held_fragments_per_worker, workers.max_held_fragment_bytes_per_worker)"
            ));
        }
        let timed_out = totals.timed_out.saturating_sub(self.logged.timed_out);
        if timed_out > 0 {
            lines.push(format!(
                "fragments: {timed_out} held fragments freed since the last report: their \
                 datagram's first fragment never came within timeouts.fragment"
            ));
        }
        if !lines.is_empty() {
            self.logged = totals;
            self.next = now + FRAGMENT_LOG_PERIOD;
        }
        lines
    }
}

/// The ports' link states as last logged (`None` before the first
/// round: the start-up summary said them).
#[derive(Default)]
struct LinkWatch {
    seen: Option<[Option<Link>; 2]>,
}

impl LinkWatch {
    /// With the links of this round's sample (inside, outside): log a
    /// port whose link changed, and record both for `/healthz`.
    fn check(&mut self, ports: [&Port; 2], links: [Option<Link>; 2], published: &[PortLink; 2]) {
        let seen = self.seen.get_or_insert(links);
        for ((((role, port), seen), link), now) in ["inside", "outside"]
            .into_iter()
            .zip(ports)
            .zip(seen.iter_mut())
            .zip(published)
            .zip(links)
        {
            link.up.store(now.is_some_and(|l| l.up), Ordering::Relaxed);
            if now != *seen {
                match now {
                    Some(l) => info!("{role} port {}: link {l}", port.name()),
                    None => warn!("{role} port {}: link state unknown", port.name()),
                }
                *seen = now;
            }
        }
    }
}

#[cfg(test)]
mod tests;
