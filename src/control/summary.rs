//! The start-up summary: one block, logged once the workers run, naming
//! what an operator checks first: the version, each port (name, driver,
//! MAC, link), the kernel interfaces of the exception path, the addresses,
//! prefix and pool (from [`Config::summary`], the same text `--check`
//! prints), the workers and their lcores, where the DNS64 answers and the
//! metrics URL.
//!
//! What it promises: [`render`] is a pure function of what start-up
//! learnt, so a unit test checks the block without EAL; nothing here
//! decides anything.

use std::fmt::Write as _;
use std::net::SocketAddr;

use crate::config::Config;

/// One port as start-up found it.
#[derive(Debug, Clone)]
pub struct PortFacts {
    /// `inside` or `outside`.
    pub role: &'static str,
    /// The DPDK port name (`inside.device` / `outside.device`).
    pub name: String,
    pub driver: String,
    pub mac: String,
    /// The link as `dpdk::Link` prints it (`up, 10 Gbit/s, full-duplex`).
    pub link: String,
    /// The kernel interface of its exception path; `None` without one.
    pub kernel_iface: Option<String>,
}

/// What start-up learnt, beyond the configuration.
#[derive(Debug, Clone)]
pub struct Facts<'a> {
    /// `0.1.0 (commit abc1234, DPDK 22.11.11)`.
    pub version: &'a str,
    pub ports: &'a [PortFacts],
    pub main_lcore: u32,
    /// The CPU the control side (and the DNS64) is pinned to.
    pub main_cpu: Option<usize>,
    pub worker_lcores: &'a [u32],
    /// The DNS64's bound addresses; `None` when it is not running.
    pub dns64: Option<&'a [SocketAddr]>,
}

/// The summary block (lines without a trailing newline).
pub fn render(cfg: &Config, f: &Facts<'_>) -> String {
    let mut out = format!("nat64-dpdk {} running", f.version);
    for p in f.ports {
        let _ = write!(
            out,
            "\n{} port {}: driver {}, MAC {}, link {}",
            p.role, p.name, p.driver, p.mac, p.link
        );
        match &p.kernel_iface {
            Some(k) => {
                let _ = write!(out, "; kernel interface {k}");
            }
            None => out.push_str("; no exception path"),
        }
    }
    for line in cfg.summary().lines() {
        // The DNS64 line says what is configured; the running server's
        // addresses follow below.
        if !line.starts_with("dns64:") {
            out.push('\n');
            out.push_str(line);
        }
    }
    let lcores: Vec<String> = f.worker_lcores.iter().map(u32::to_string).collect();
    let _ = write!(
        out,
        "\nworkers: {} on lcore{} {}; control side on lcore {}",
        f.worker_lcores.len(),
        if f.worker_lcores.len() == 1 { "" } else { "s" },
        lcores.join(", "),
        f.main_lcore
    );
    if let Some(cpu) = f.main_cpu {
        let _ = write!(out, " (CPU {cpu})");
    }
    match f.dns64 {
        Some(addrs) if !addrs.is_empty() => {
            let list: Vec<String> = addrs.iter().map(SocketAddr::to_string).collect();
            let _ = write!(
                out,
                "\ndns64: answering on {} (UDP and TCP), prefix {}",
                list.join(", "),
                cfg.dns64.prefix
            );
        }
        _ => out.push_str("\ndns64: off"),
    }
    out
}

#[cfg(test)]
mod tests;
