//! Reload on SIGHUP: the `--config` file read again and what may change
//! applied to the running box, without a restart and without dropping a
//! mapping.
//!
//! What it promises, on every SIGHUP:
//! - The event log is reopened (a `file:` log moved away by logrotate
//!   starts anew at its path), even when the configuration is unchanged.
//! - The file is read and validated as at start-up (`Config::from_file`:
//!   each section's `TryFrom`, then `Config::check_across`). A file that
//!   fails changes nothing: one error line naming the key.
//! - [`config::reload::diff`](crate::config::reload::diff) compares it with
//!   the running configuration through the one table of live and restart
//!   keys. A change of any key that needs a restart refuses the reload as
//!   a whole (one error line naming every such key: `reload refused:
//!   pool4.addresses cannot change without a restart`); the running
//!   configuration stays.
//! - Otherwise the live keys apply, and one info line lists them: the
//!   workers' settings (`nat64::live::LiveSettings`, with the static
//!   entries routed by `PoolLayout::with_static_bib`) go to every worker
//!   through its bounded settings queue and are applied between bursts;
//!   `[dns64]` goes to the DNS64 server (`ServerHandle::reload`, sockets
//!   kept); a new `logging.events` is opened (on failure the old one
//!   stays, with an error line). Sessions and BIB entries stay; what
//!   happens to their timers is `nat64::live`'s documentation.
//!
//! The decision ([`Reloader::judge`]) is separate from its application
//! ([`Reloader::reload`]) so it is tested without DPDK.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tracing::{error, info};

use super::events::EventLog;
use super::startup::Runtime;
use crate::config::reload::{diff, Changes, Refused};
use crate::config::Config;
use crate::nat64::live::LiveSettings;
use crate::nat64::pool4::PoolLayout;

/// What a reload of the file finds.
#[derive(Debug)]
pub enum Outcome {
    /// The file validates and equals the running configuration.
    Unchanged,
    /// The file could not be read or validated: the error, naming the key.
    Failed(String),
    /// Keys that need a restart changed.
    Refused(Refused),
    /// Only live keys changed: the new configuration and those keys.
    Apply(Box<Config>, Changes),
}

/// The running configuration and where to read its successor.
pub struct Reloader {
    path: Option<PathBuf>,
    running: Config,
    /// The pool layout the workers route static entries with.
    layout: Arc<PoolLayout>,
}

impl Reloader {
    /// Reload from `path` (`None`: SIGHUP only reopens the event log) a box
    /// running `config` with `layout`.
    pub fn new(path: Option<PathBuf>, config: &Config, layout: Arc<PoolLayout>) -> Reloader {
        Reloader {
            path,
            running: config.clone(),
            layout,
        }
    }

    /// The configuration in force.
    pub fn running(&self) -> &Config {
        &self.running
    }

    /// Read `path` and compare it with the running configuration; changes
    /// nothing.
    pub fn judge(path: &Path, running: &Config) -> Outcome {
        let new = match Config::from_file(path) {
            Ok(c) => c,
            Err(e) => return Outcome::Failed(e.to_string()),
        };
        match diff(running, &new) {
            Err(refused) => Outcome::Refused(refused),
            Ok(changes) if changes.is_empty() => Outcome::Unchanged,
            Ok(changes) => Outcome::Apply(Box::new(new), changes),
        }
    }

    /// SIGHUP: reopen the event log, then read, judge and apply the file
    /// (see the module documentation); every outcome is logged once.
    pub fn reload(&mut self, rt: &mut Runtime) {
        let Some(path) = self.path.clone() else {
            reopen(&mut rt.events, &self.running);
            return;
        };
        match Reloader::judge(&path, &self.running) {
            Outcome::Failed(e) => {
                reopen(&mut rt.events, &self.running);
                error!(
                    "reload: {}: {e}; the running configuration stays",
                    path.display()
                );
            }
            Outcome::Refused(r) => {
                reopen(&mut rt.events, &self.running);
                error!("{r}; the running configuration stays");
            }
            Outcome::Unchanged => {
                reopen(&mut rt.events, &self.running);
                info!("reload: {}: no change", path.display());
            }
            Outcome::Apply(new, changes) => {
                self.apply(rt, *new, &changes);
                info!("reload: {}: applied {changes}", path.display());
            }
        }
    }

    /// Apply `new`, whose live keys `changes` differ from the running ones.
    fn apply(&mut self, rt: &mut Runtime, mut new: Config, changes: &Changes) {
        for w in &new.warnings {
            tracing::warn!("{w}");
        }
        if [
            "translation",
            "pool4",
            "timeouts",
            "filtering",
            "static_bib",
            "inside",
        ]
        .iter()
        .any(|s| changes.touches(s))
        {
            if changes.touches("static_bib") {
                self.layout = Arc::new(self.layout.with_static_bib(&new.static_bib));
            }
            let settings = Arc::new(LiveSettings::new(&new, Arc::clone(&self.layout)));
            rt.shared.push_settings(&settings);
        }
        // The synthesis settings include translation.allow_non_global_ipv4.
        if changes.touches("dns64") || changes.touches("translation") {
            if let Some(server) = rt.dns64() {
                server.reload(&new);
            }
        }
        if changes.touches("metrics") {
            rt.http().set_allow(new.metrics.allow.clone());
        }
        if let Err(e) = rt.events.reopen(&new.logging.events) {
            error!("{e}; events go on to {}", self.running.logging.events);
            new.logging.events = self.running.logging.events.clone();
        }
        self.running = new;
    }
}

/// Reopen the running event log (logrotate); a failure keeps the old file
/// handle and is logged.
fn reopen(events: &mut EventLog, running: &Config) {
    if let Err(e) = events.reopen(&running.logging.events) {
        error!("{e}; events go on to the file as it was opened");
    }
}

#[cfg(test)]
mod tests;
