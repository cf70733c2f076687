//! The exception path: one Linux TAP interface per side that carries
//! traffic for the box itself (DNS64 queries, ssh, a routing daemon's
//! sessions) to the kernel, so ordinary sockets serve it.
//!
//! What it promises:
//! - [`create`] makes a `net_tap` DPDK port at run time with the real
//!   port's MAC, so the kernel's frames leave the real port unchanged and
//!   neighbours see one MAC per link; the kernel side carries the box's
//!   address and the link's MTU and is up.
//! - Each kernel-side step (a `/proc/sys` write, an `ip` command) is logged
//!   at INFO before it runs; a failure names the step and what the kernel
//!   or `ip` said.
//! - An interface name that already exists is refused before anything is
//!   created, with what to do about it, instead of DPDK's TAP errors.
//! - The kernel interface goes away with the port (the TAP is not
//!   persistent): when the [`ExceptionPort`] and its queue handles are
//!   dropped.
//!
//! Deliberate choices: on the inside (IPv6) side the kernel ignores router
//! advertisements (`accept_ra = 0`), since the box's address is configured,
//! not learned; on the outside (IPv4) side the kernel's IPv6 is switched off
//! (`disable_ipv6 = 1`) so that it sends no IPv6 (RS, MLD, DAD) onto the
//! IPv4 link. The inside address is added with `nodad`: the dataplane
//! already answers for it, and DAD would delay the address for a second.

use std::net::IpAddr;
use std::path::Path;
use std::process::Command;

use crate::dpdk::{Burst, DpdkError, Eal, MacAddr, Mempool, Port, PortConfig, RxQueue, TxQueue};

use super::Mac;

/// Which link an exception port serves (re-exported here: the exception
/// path's API names it).
pub use super::Side;

/// A side's exception TAP: the DPDK port and its kernel interface's name.
#[derive(Debug)]
pub struct ExceptionPort {
    /// The `net_tap` port (frames to the kernel are sent on it, frames the
    /// kernel sends are received from it).
    pub port: Port,
    /// The kernel interface (`inside.kernel_iface` / `outside.kernel_iface`).
    pub iface: String,
}

/// The receiving end of an exception TAP: every rx queue of the port.
///
/// net_tap needs as many rx as tx queues, and the kernel spreads the frames
/// it sends over all of them (by flow hash), so all are polled. One handle,
/// `&mut self`: one thread polls them (worker 0 in the dataplane).
#[derive(Debug)]
pub struct ExceptionRx {
    queues: Vec<RxQueue>,
    next: usize,
}

impl ExceptionRx {
    /// Receive into the free slots of `burst` from the queues in turn,
    /// starting one further each call so none is starved; returns how many
    /// arrived.
    pub fn rx_burst<const N: usize>(&mut self, burst: &mut Burst<'_, N>) -> usize {
        let n_queues = self.queues.len();
        let mut got = 0;
        for i in 0..n_queues {
            if burst.is_full() {
                break;
            }
            if let Some(q) = self.queues.get_mut((self.next + i) % n_queues) {
                got += q.rx_burst(burst);
            }
        }
        self.next = (self.next + 1) % n_queues.max(1);
        got
    }

    /// Port id.
    pub fn port(&self) -> u16 {
        self.queues.first().map_or(u16::MAX, RxQueue::port)
    }

    /// Number of rx queues polled.
    pub fn queues(&self) -> usize {
        self.queues.len()
    }
}

/// Rx descriptors per exception queue; net_tap takes this many mbufs from
/// the pool per rx queue, up front.
pub const RX_DESC: u16 = 128;

/// Highest `net_tap<N>` index tried for a free device name.
const MAX_TAP_INDEX: u32 = 64;

/// Create `side`'s exception TAP: a `net_tap` port with MAC `mac` whose
/// kernel interface `iface` gets `addr/prefix_len`, MTU `mtu` and is up.
/// The port has `n_tx_queues` tx queues and as many rx queues (net_tap wants
/// them paired; each holds [`RX_DESC`] mbufs of `pool`), all polled through the one
/// [`ExceptionRx`], and is started. The error says which step failed and why.
#[allow(clippy::too_many_arguments)]
pub fn create(
    eal: &Eal,
    side: Side,
    iface: &str,
    mac: Mac,
    addr: IpAddr,
    prefix_len: u8,
    mtu: u16,
    n_tx_queues: u16,
    pool: &Mempool,
) -> Result<(ExceptionPort, ExceptionRx, Vec<TxQueue>), String> {
    let key = format!("{side}.kernel_iface");
    if n_tx_queues == 0 {
        return Err(format!(
            "exception path {side}: at least one tx queue is needed"
        ));
    }
    match (side, addr) {
        (Side::Inside, IpAddr::V6(_)) | (Side::Outside, IpAddr::V4(_)) => {}
        _ => {
            return Err(format!(
                "exception path {side}: address {addr} is of the wrong family for this side"
            ))
        }
    }
    let max_len = if addr.is_ipv4() { 32 } else { 128 };
    if prefix_len > max_len {
        return Err(format!(
            "exception path {side}: prefix length /{prefix_len} is too long for {addr}"
        ));
    }
    if iface.is_empty()
        || iface.len() > 15
        || iface.contains(['/', ':'])
        || iface.chars().any(char::is_whitespace)
    {
        return Err(format!("{key}: {iface:?} is not a Linux interface name"));
    }
    if Path::new("/sys/class/net").join(iface).exists() {
        return Err(format!(
            "{key}: a kernel interface named {iface} exists already (left over from a run that did \
             not exit cleanly, another running nat64-dpdk, or something else's): remove it with \
             `ip link del {iface}` if it is a stale one, or set {key} to another name"
        ));
    }

    let mac_text = MacAddr(mac).to_string();
    let port =
        probe_tap(eal, iface, &mac_text).map_err(|e| format!("exception path {side}: {e}"))?;
    let dev = port.name().to_string();
    tracing::info!(
        "exception path {side}: {dev} created, kernel interface {iface}, MAC {mac_text}"
    );

    // Before the link comes up (start), so the kernel never acts on an RA
    // nor sends IPv6 onto the IPv4 link.
    match side {
        Side::Inside => sysctl(&format!("net/ipv6/conf/{iface}/accept_ra"), "0")?,
        // A kernel booted without IPv6 has nothing to switch off.
        Side::Outside if !Path::new("/proc/sys/net/ipv6").exists() => {}
        Side::Outside => sysctl(&format!("net/ipv6/conf/{iface}/disable_ipv6"), "1")?,
    }

    let mut port = port;
    let conf = PortConfig {
        rx_queues: n_tx_queues,
        tx_queues: n_tx_queues,
        // net_tap fills every rx descriptor from `pool` at setup: keep the
        // exception path's share small (it carries little traffic).
        rx_desc: RX_DESC,
        tx_desc: RX_DESC,
        mtu: Some(mtu),
        // The kernel's frames are ours to forward whatever their
        // destination; frames towards the kernel carry its own MAC.
        promiscuous: false,
        rss_ipv6_src_only: false,
        // The kernel's frames leave with the kernel's checksums.
        tx_ipv4_cksum: false,
    };
    let step = |e: DpdkError| format!("exception path {side}: {e}");
    let (rx, tx) = port
        .configure(&conf, std::slice::from_ref(pool))
        .map_err(step)?;
    port.start().map_err(step)?;

    let mtu_text = mtu.to_string();
    ip(&["link", "set", "dev", iface, "mtu", &mtu_text])?;
    let cidr = format!("{addr}/{prefix_len}");
    match side {
        Side::Inside => ip(&["-6", "addr", "add", &cidr, "dev", iface, "nodad"])?,
        Side::Outside => ip(&["-4", "addr", "add", &cidr, "dev", iface])?,
    }
    ip(&["link", "set", "dev", iface, "up"])?;

    let rx = ExceptionRx {
        queues: rx,
        next: 0,
    };
    Ok((
        ExceptionPort {
            port,
            iface: iface.to_string(),
        },
        rx,
        tx,
    ))
}

/// Add the box's other inside addresses ([`BoxIdentity::inside_extra`]:
/// `dns64.listen` addresses on the inside link) to the inside TAP's kernel
/// interface `iface`, as `create` added `inside.address`: `/prefix_len`,
/// `nodad` (the dataplane answers NS for them).
///
/// [`BoxIdentity::inside_extra`]: super::BoxIdentity::inside_extra
pub fn add_inside_addresses(
    iface: &str,
    addrs: &[std::net::Ipv6Addr],
    prefix_len: u8,
) -> Result<(), String> {
    for a in addrs {
        let cidr = format!("{a}/{prefix_len}");
        ip(&["-6", "addr", "add", &cidr, "dev", iface, "nodad"])?;
    }
    Ok(())
}

/// Probe `net_tap<N>,iface=..,mac=..` with the first free index N.
fn probe_tap(eal: &Eal, iface: &str, mac: &str) -> Result<Port, DpdkError> {
    let mut last = None;
    for n in 0..MAX_TAP_INDEX {
        let devargs = format!("net_tap{n},iface={iface},mac={mac}");
        tracing::info!("probing DPDK device {devargs}");
        match Port::probe_vdev(eal, &devargs) {
            Ok(port) => return Ok(port),
            // The name is taken (a --vdev net_tapN, another exception TAP).
            Err(e @ DpdkError::Probe { errno, .. }) if errno == libc::EEXIST => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| DpdkError::Probe {
        devargs: format!("net_tap<N>,iface={iface},mac={mac}"),
        errno: 0,
        reason: "no free net_tap index".into(),
    }))
}

/// Write `value` to `/proc/sys/<key>` (what `sysctl -w` does), logged.
fn sysctl(key: &str, value: &str) -> Result<(), String> {
    let path = Path::new("/proc/sys").join(key);
    tracing::info!(
        "exception path: sysctl -w {}={value}",
        key.replace('/', ".")
    );
    std::fs::write(&path, value)
        .map_err(|e| format!("cannot write {value} to {}: {e}", path.display()))
}

/// Run `ip <args>` (iproute2), logged; the error names the command and
/// quotes its stderr.
fn ip(args: &[&str]) -> Result<(), String> {
    let line = format!("ip {}", args.join(" "));
    tracing::info!("exception path: {line}");
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("cannot run `{line}`: {e} (is iproute2 installed?)"))?;
    if out.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    Err(format!(
        "`{line}` failed ({}): {}",
        out.status,
        stderr.trim()
    ))
}
