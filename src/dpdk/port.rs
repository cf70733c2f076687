//! Ethernet ports: lookup by device name (or a virtual device probed at run
//! time), configuration, start/stop, counters, and the rx/tx queue handles
//! the workers poll.

use std::ffi::{CStr, CString};
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use super::eal::Eal;
use super::error::DpdkError;
use super::mbuf::Burst;
use super::mempool::Mempool;

/// An ethernet (MAC) address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct MacAddr(pub [u8; 6]);

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d, e, g] = self.0;
        write!(f, "{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{g:02x}")
    }
}

/// Link state of a port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Link {
    /// Link is up.
    pub up: bool,
    /// Speed in Mbit/s (0 if unknown).
    pub speed_mbps: u32,
    /// Full duplex.
    pub full_duplex: bool,
    /// Autonegotiated.
    pub autoneg: bool,
}

impl fmt::Display for Link {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.up {
            return f.write_str("down");
        }
        let duplex = if self.full_duplex {
            "full-duplex"
        } else {
            "half-duplex"
        };
        match self.speed_mbps {
            0 | u32::MAX => write!(f, "up, speed unknown, {duplex}"),
            s if s % 1000 == 0 => write!(f, "up, {} Gbit/s, {duplex}", s / 1000),
            s => write!(f, "up, {s} Mbit/s, {duplex}"),
        }
    }
}

/// What the driver says about a port.
#[derive(Clone, Debug)]
pub struct PortInfo {
    /// Driver name (`net_tap`, `net_ice`, ...).
    pub driver: String,
    /// Most rx queues.
    pub max_rx_queues: u16,
    /// Most tx queues.
    pub max_tx_queues: u16,
    /// Smallest MTU.
    pub min_mtu: u16,
    /// Largest MTU.
    pub max_mtu: u16,
    /// Rx offloads the driver can do (`RTE_ETH_RX_OFFLOAD_*` bits).
    pub rx_offload_capa: u64,
    /// Tx offloads the driver can do (`RTE_ETH_TX_OFFLOAD_*` bits).
    pub tx_offload_capa: u64,
    /// RSS hash types the driver supports (`RTE_ETH_RSS_*` bits).
    pub rss_offloads: u64,
}

/// How many queues `rte_eth_stats` counts one by one
/// (`RTE_ETHDEV_QUEUE_STAT_CNTRS`).
pub const QUEUE_STAT_COUNTERS: usize = dpdk_sys::RTE_ETHDEV_QUEUE_STAT_CNTRS as usize;

/// One queue's counters (`rte_eth_stats.q_*`). A driver that does not
/// count per queue leaves them 0.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QueueStats {
    /// Frames received on this rx queue.
    pub ipackets: u64,
    /// Bytes received on this rx queue.
    pub ibytes: u64,
    /// Frames sent on this tx queue.
    pub opackets: u64,
    /// Bytes sent on this tx queue.
    pub obytes: u64,
}

/// A port's basic counters (`rte_eth_stats`), since start.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PortStats {
    /// Frames received.
    pub ipackets: u64,
    /// Frames sent.
    pub opackets: u64,
    /// Bytes received.
    pub ibytes: u64,
    /// Bytes sent.
    pub obytes: u64,
    /// Frames the NIC dropped because no rx descriptor was free.
    pub imissed: u64,
    /// Erroneous frames received.
    pub ierrors: u64,
    /// Frames that failed to send.
    pub oerrors: u64,
    /// Rx mbuf allocation failures.
    pub rx_nombuf: u64,
    /// Queues 0 .. [`QUEUE_STAT_COUNTERS`] one by one.
    pub queues: [QueueStats; QUEUE_STAT_COUNTERS],
}

/// How to configure a port.
#[derive(Clone, Debug)]
pub struct PortConfig {
    /// Rx queues (RSS spreads flows over them when more than one).
    pub rx_queues: u16,
    /// Tx queues.
    pub tx_queues: u16,
    /// Descriptors per rx queue (adjusted to the driver's limits).
    pub rx_desc: u16,
    /// Descriptors per tx queue (adjusted to the driver's limits).
    pub tx_desc: u16,
    /// MTU (L3 bytes); `None` keeps the driver's.
    pub mtu: Option<u16>,
    /// Receive every frame, not just those to our MAC.
    pub promiscuous: bool,
    /// With several rx queues: hash IPv6 packets on their source address
    /// only (`RTE_ETH_RSS_L3_SRC_ONLY`), so one subscriber's flows tend to
    /// land on one queue. Where the driver cannot, a warning is logged and
    /// the usual IP/TCP/UDP hash is used. (Drivers differ in whether the
    /// TCP/UDP ports still enter the hash of TCP/UDP packets.)
    pub rss_ipv6_src_only: bool,
    /// Let the NIC compute IPv4 header checksums
    /// (`RTE_ETH_TX_OFFLOAD_IPV4_CKSUM`) where the driver can;
    /// [`Port::tx_ipv4_cksum_offload`] says whether it was enabled.
    pub tx_ipv4_cksum: bool,
}

impl Default for PortConfig {
    fn default() -> Self {
        PortConfig {
            rx_queues: 1,
            tx_queues: 1,
            rx_desc: 1024,
            tx_desc: 1024,
            mtu: None,
            promiscuous: true,
            rss_ipv6_src_only: false,
            tx_ipv4_cksum: false,
        }
    }
}

/// Ports that have a live [`Port`] (or queue handle): one owner per port,
/// so that only one of them stops and closes it.
static OPEN_PORTS: Mutex<Vec<u16>> = Mutex::new(Vec::new());

/// State shared by a port and its queue handles. The port is stopped and
/// closed when the last of them goes, so nothing can still be polling it.
#[derive(Debug)]
struct PortShared {
    id: u16,
    name: String,
    started: AtomicBool,
    closed: AtomicBool,
    /// Created by [`Port::probe_vdev`]: removed from the vdev bus on close,
    /// so that its name (and a TAP's kernel interface) is free again.
    probed: bool,
    _eal: Eal,
}

impl PortShared {
    fn err(&self, op: impl Into<String>, ret: i32) -> DpdkError {
        let errno = if ret < 0 { -ret } else { ret };
        DpdkError::Port {
            port: self.id,
            name: self.name.clone(),
            op: op.into(),
            reason: super::strerror(errno),
        }
    }

    fn check(&self, op: &str, ret: i32) -> Result<(), DpdkError> {
        if ret < 0 {
            Err(self.err(op, ret))
        } else {
            Ok(())
        }
    }

    fn stop_and_close(&self) -> Result<(), DpdkError> {
        if self.closed.swap(true, Ordering::SeqCst) {
            return Ok(());
        }
        if self.started.swap(false, Ordering::SeqCst) {
            // SAFETY: valid port id; no queue handle exists (caller's
            // contract), so no lcore is polling.
            let ret = unsafe { dpdk_sys::rte_eth_dev_stop(self.id) };
            self.check("stop", ret)?;
        }
        // SAFETY: as above; the port is stopped.
        let ret = unsafe { dpdk_sys::rte_eth_dev_close(self.id) };
        self.check("close", ret)?;
        if self.probed {
            if let Ok(c_name) = CString::new(self.name.as_str()) {
                // SAFETY: the EAL is up (we hold a handle); the ethdev is
                // closed, so removing its vdev touches nothing in use.
                let ret = unsafe { remove_vdev(&c_name) };
                self.check("vdev removal", ret)?;
            }
        }
        Ok(())
    }
}

impl Drop for PortShared {
    fn drop(&mut self) {
        if let Err(e) = self.stop_and_close() {
            tracing::warn!("{e}");
        }
        let mut open = OPEN_PORTS
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        open.retain(|&id| id != self.id);
    }
}

/// An ethernet port, found by its device name.
#[derive(Debug)]
pub struct Port {
    shared: Arc<PortShared>,
    configured: bool,
    /// Tx offloads enabled by `configure`.
    tx_offloads: u64,
}

impl Port {
    /// The port of DPDK device `name`: a PCI address (`0000:03:00.0`) or a
    /// vdev name given with `--vdev` (`net_tap0`).
    pub fn by_name(eal: &Eal, name: &str) -> Result<Port, DpdkError> {
        let id = port_id_by_name(name).ok_or_else(|| DpdkError::port_not_found(name))?;
        Port::open(eal, id, name, false)
    }

    /// Create a virtual device at run time (`rte_dev_probe`), e.g.
    /// `net_tap3,iface=n64-in,mac=02:00:00:00:00:01`, and return its port.
    /// The device name is the text before the first `,`. The device is
    /// removed again when the port is closed.
    pub fn probe_vdev(eal: &Eal, devargs: &str) -> Result<Port, DpdkError> {
        let fail_errno = |errno: i32, reason: String| DpdkError::Probe {
            devargs: devargs.to_string(),
            errno,
            reason,
        };
        let fail = |reason: String| fail_errno(0, reason);
        let name = devargs.split(',').next().unwrap_or_default().trim();
        if name.is_empty() {
            return Err(fail("no device name before the first ','".into()));
        }
        let c_devargs = CString::new(devargs).map_err(|_| fail("contains a NUL byte".into()))?;
        if port_id_by_name(name).is_some() {
            return Err(fail_errno(
                libc::EEXIST,
                format!("a port named '{name}' exists already (pick another index)"),
            ));
        }
        // SAFETY: the EAL is initialised (eal exists); c_devargs is a valid
        // C string that DPDK parses and copies.
        let ret = unsafe { dpdk_sys::rte_dev_probe(c_devargs.as_ptr()) };
        if ret < 0 {
            let errno = -ret;
            let hint = match errno {
                libc::EEXIST => format!(" (a device named '{name}' is probed already)"),
                libc::ENOENT | libc::ENOTSUP | libc::ENODEV | libc::EINVAL | libc::EFAULT => {
                    format!(
                        " (malformed, or no driver for '{name}': vdev names start with their \
                     driver, e.g. net_tap0; is that driver's PMD installed?)"
                    )
                }
                _ => " (see the driver's messages above)".to_string(),
            };
            return Err(fail_errno(
                errno,
                format!("rte_dev_probe failed: {}{hint}", super::strerror(errno)),
            ));
        }
        let Some(id) = port_id_by_name(name) else {
            if let Ok(c_name) = CString::new(name) {
                // SAFETY: the EAL is up; the device was probed just now and
                // has no ethdev anybody could use.
                unsafe { remove_vdev(&c_name) };
            }
            return Err(fail(format!(
                "probed, but no ethernet port named '{name}' appeared (not a network device?)"
            )));
        };
        Port::open(eal, id, name, true)
    }

    /// The one handle on port `id`.
    fn open(eal: &Eal, id: u16, name: &str, probed: bool) -> Result<Port, DpdkError> {
        let mut open = OPEN_PORTS
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if open.contains(&id) {
            return Err(DpdkError::Port {
                port: id,
                name: name.to_string(),
                op: "open".into(),
                reason: "another handle on this port is still alive (one per port)".into(),
            });
        }
        open.push(id);
        drop(open);
        let shared = PortShared {
            id,
            name: name.to_string(),
            started: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            probed,
            _eal: eal.clone(),
        };
        Ok(Port {
            shared: Arc::new(shared),
            configured: false,
            tx_offloads: 0,
        })
    }

    /// DPDK port id.
    pub fn id(&self) -> u16 {
        self.shared.id
    }

    /// Whether `configure` enabled the NIC's IPv4 header checksum
    /// (asked by [`PortConfig::tx_ipv4_cksum`], and the driver can).
    pub fn tx_ipv4_cksum_offload(&self) -> bool {
        // SAFETY: immutable constant defined by the shim.
        self.tx_offloads & unsafe { dpdk_sys::shim_RTE_ETH_TX_OFFLOAD_IPV4_CKSUM } != 0
    }

    /// Device name.
    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// NUMA socket of the device, or [`super::SOCKET_ANY`] if unknown.
    pub fn socket(&self) -> i32 {
        // SAFETY: valid port id.
        unsafe { dpdk_sys::rte_eth_dev_socket_id(self.id()) }
    }

    fn dev_info(&self) -> Result<dpdk_sys::rte_eth_dev_info, DpdkError> {
        let mut info = dpdk_sys::rte_eth_dev_info::default();
        // SAFETY: valid port id and out pointer.
        let ret = unsafe { dpdk_sys::rte_eth_dev_info_get(self.id(), &mut info) };
        self.shared.check("info", ret)?;
        Ok(info)
    }

    /// Driver name and limits.
    pub fn info(&self) -> Result<PortInfo, DpdkError> {
        let info = self.dev_info()?;
        let driver = if info.driver_name.is_null() {
            String::new()
        } else {
            // SAFETY: a non-null driver_name is a static C string of the driver.
            unsafe { CStr::from_ptr(info.driver_name) }
                .to_string_lossy()
                .into_owned()
        };
        Ok(PortInfo {
            driver,
            max_rx_queues: info.max_rx_queues,
            max_tx_queues: info.max_tx_queues,
            min_mtu: info.min_mtu,
            max_mtu: info.max_mtu,
            rx_offload_capa: info.rx_offload_capa,
            tx_offload_capa: info.tx_offload_capa,
            rss_offloads: info.flow_type_rss_offloads,
        })
    }

    /// The port's counters since start (`rte_eth_stats_get`).
    pub fn stats(&self) -> Result<PortStats, DpdkError> {
        let mut st = dpdk_sys::rte_eth_stats::default();
        // SAFETY: valid port id and out pointer.
        let ret = unsafe { dpdk_sys::rte_eth_stats_get(self.id(), &mut st) };
        self.shared.check("stats query", ret)?;
        Ok(PortStats {
            ipackets: st.ipackets,
            opackets: st.opackets,
            ibytes: st.ibytes,
            obytes: st.obytes,
            imissed: st.imissed,
            ierrors: st.ierrors,
            oerrors: st.oerrors,
            rx_nombuf: st.rx_nombuf,
            queues: std::array::from_fn(|q| QueueStats {
                ipackets: st.q_ipackets[q],
                ibytes: st.q_ibytes[q],
                opackets: st.q_opackets[q],
                obytes: st.q_obytes[q],
            }),
        })
    }

    /// The port's MAC address.
    pub fn mac_addr(&self) -> Result<MacAddr, DpdkError> {
        let mut mac = dpdk_sys::rte_ether_addr::default();
        // SAFETY: valid port id and out pointer.
        let ret = unsafe { dpdk_sys::rte_eth_macaddr_get(self.id(), &mut mac) };
        self.shared.check("MAC address query", ret)?;
        Ok(MacAddr(mac.addr_bytes))
    }

    /// Link state, without waiting for autonegotiation.
    pub fn link(&self) -> Result<Link, DpdkError> {
        let mut link = dpdk_sys::rte_eth_link::default();
        // SAFETY: valid port id and out pointer.
        let ret = unsafe { dpdk_sys::rte_eth_link_get_nowait(self.id(), &mut link) };
        self.shared.check("link query", ret)?;
        Ok(Link {
            up: link.link_status() != 0,
            speed_mbps: link.link_speed,
            full_duplex: link.link_duplex() != 0,
            autoneg: link.link_autoneg() != 0,
        })
    }

    /// Configure the port: queues, MTU, promiscuous mode, RSS when there
    /// are several rx queues. Rx queue `i` takes its mbufs from
    /// `pools[i % pools.len()]`. Returns the queue handles, one per queue;
    /// a port is configured once.
    pub fn configure(
        &mut self,
        conf: &PortConfig,
        pools: &[Mempool],
    ) -> Result<(Vec<RxQueue>, Vec<TxQueue>), DpdkError> {
        let shared = Arc::clone(&self.shared);
        let fail = |op: &str, reason: String| DpdkError::Port {
            port: shared.id,
            name: shared.name.clone(),
            op: op.to_string(),
            reason,
        };
        if self.configured {
            return Err(fail("configure", "the port is already configured".into()));
        }
        if pools.is_empty() {
            return Err(fail(
                "configure",
                "no mempool given for the rx queues".into(),
            ));
        }
        let info = self.dev_info()?;
        if conf.rx_queues == 0 || conf.rx_queues > info.max_rx_queues {
            return Err(fail(
                "configure",
                format!(
                    "{} rx queues asked, the driver allows 1..={}",
                    conf.rx_queues, info.max_rx_queues
                ),
            ));
        }
        if conf.tx_queues == 0 || conf.tx_queues > info.max_tx_queues {
            return Err(fail(
                "configure",
                format!(
                    "{} tx queues asked, the driver allows 1..={}",
                    conf.tx_queues, info.max_tx_queues
                ),
            ));
        }
        let mut eth_conf = dpdk_sys::rte_eth_conf::default();
        if let Some(mtu) = conf.mtu {
            if mtu < info.min_mtu || mtu > info.max_mtu {
                return Err(fail(
                    "configure",
                    format!(
                        "MTU {mtu} outside what the driver allows ({}..={})",
                        info.min_mtu, info.max_mtu
                    ),
                ));
            }
            eth_conf.rxmode.mtu = u32::from(mtu);
        }
        if conf.rx_queues > 1 {
            // SAFETY: immutable constants defined by the shim.
            let (ip, ipv6, src_only) = unsafe {
                (
                    dpdk_sys::shim_RTE_ETH_RSS_IP
                        | dpdk_sys::shim_RTE_ETH_RSS_TCP
                        | dpdk_sys::shim_RTE_ETH_RSS_UDP,
                    dpdk_sys::shim_RTE_ETH_RSS_IPV6_ALL,
                    dpdk_sys::shim_RTE_ETH_RSS_L3_SRC_ONLY,
                )
            };
            let caps = info.flow_type_rss_offloads;
            let wanted = if !conf.rss_ipv6_src_only {
                ip
            } else if caps & src_only != 0 && caps & ipv6 != 0 {
                (ipv6 & caps) | src_only
            } else {
                tracing::warn!(
                    port = self.name(),
                    "driver cannot hash IPv6 on the source address only; using the IP/TCP/UDP hash"
                );
                ip
            };
            let hf = wanted & (caps | src_only);
            if hf != 0 {
                eth_conf.rxmode.mq_mode = dpdk_sys::RTE_ETH_MQ_RX_RSS;
                eth_conf.rx_adv_conf.rss_conf.rss_hf = hf;
            } else {
                tracing::warn!(
                    port = self.name(),
                    "driver has no IP RSS; flows land on rx queue 0 only"
                );
            }
        }
        // SAFETY: immutable constant defined by the shim.
        let ipv4_cksum = unsafe { dpdk_sys::shim_RTE_ETH_TX_OFFLOAD_IPV4_CKSUM };
        if conf.tx_ipv4_cksum && info.tx_offload_capa & ipv4_cksum != 0 {
            eth_conf.txmode.offloads |= ipv4_cksum;
        }
        let id = self.id();
        // SAFETY: valid port id, stopped (never started); eth_conf is a
        // valid, fully initialised configuration that DPDK copies.
        let ret = unsafe {
            dpdk_sys::rte_eth_dev_configure(id, conf.rx_queues, conf.tx_queues, &eth_conf)
        };
        self.shared.check("configure", ret)?;
        self.configured = true;
        self.tx_offloads = eth_conf.txmode.offloads;

        let (mut rx_desc, mut tx_desc) = (conf.rx_desc, conf.tx_desc);
        // SAFETY: valid port id and out pointers.
        let ret =
            unsafe { dpdk_sys::rte_eth_dev_adjust_nb_rx_tx_desc(id, &mut rx_desc, &mut tx_desc) };
        self.shared.check("descriptor count adjustment", ret)?;

        let socket = match self.socket() {
            s if s < 0 => dpdk_sys::SOCKET_ID_ANY as u32,
            s => s as u32,
        };
        let mut rx = Vec::with_capacity(usize::from(conf.rx_queues));
        for q in 0..conf.rx_queues {
            let pool = &pools[usize::from(q) % pools.len()];
            // SAFETY: valid port, configured with this queue; NULL conf means
            // the driver default; the pool lives until EAL cleanup.
            let ret = unsafe {
                dpdk_sys::rte_eth_rx_queue_setup(
                    id,
                    q,
                    rx_desc,
                    socket,
                    std::ptr::null(),
                    pool.as_ptr(),
                )
            };
            self.shared.check(&format!("rx queue {q} setup"), ret)?;
            rx.push(RxQueue {
                shared: Arc::clone(&self.shared),
                queue: q,
            });
        }
        let mut tx = Vec::with_capacity(usize::from(conf.tx_queues));
        for q in 0..conf.tx_queues {
            // SAFETY: valid port, configured with this queue; NULL conf means
            // the driver default.
            let ret = unsafe {
                dpdk_sys::rte_eth_tx_queue_setup(id, q, tx_desc, socket, std::ptr::null())
            };
            self.shared.check(&format!("tx queue {q} setup"), ret)?;
            tx.push(TxQueue {
                shared: Arc::clone(&self.shared),
                queue: q,
            });
        }
        if conf.promiscuous {
            // SAFETY: valid port id.
            let ret = unsafe { dpdk_sys::rte_eth_promiscuous_enable(id) };
            if ret == -libc::ENOTSUP {
                tracing::warn!(port = self.name(), "driver cannot enable promiscuous mode");
            } else {
                self.shared.check("promiscuous enable", ret)?;
            }
        }
        Ok((rx, tx))
    }

    /// Start the port (after [`Port::configure`]).
    pub fn start(&mut self) -> Result<(), DpdkError> {
        // SAFETY: valid port id; starting an unconfigured port fails cleanly.
        let ret = unsafe { dpdk_sys::rte_eth_dev_start(self.id()) };
        self.shared.check("start", ret)?;
        self.shared.started.store(true, Ordering::SeqCst);
        Ok(())
    }

    /// True once started.
    pub fn is_started(&self) -> bool {
        self.shared.started.load(Ordering::SeqCst)
    }

    /// Stop and close the port now. Fails (and leaves it running) while
    /// rx/tx queue handles exist: drop them, after the workers that poll
    /// them have returned, first. Otherwise this happens on drop.
    pub fn close(self) -> Result<(), DpdkError> {
        if Arc::strong_count(&self.shared) > 1 {
            return Err(DpdkError::Port {
                port: self.id(),
                name: self.name().to_string(),
                op: "close".into(),
                reason: "its rx/tx queue handles are still in use".into(),
            });
        }
        self.shared.stop_and_close()
    }
}

/// Take virtual device `name` off the vdev bus (`rte_eal_hotplug_remove`;
/// `rte_vdev_uninit` lives in a library pkg-config does not link).
///
/// # Safety
/// The EAL is initialised and nothing uses the device's ethdev any more.
unsafe fn remove_vdev(name: &CStr) -> i32 {
    // SAFETY: both are valid C strings; the caller guarantees the rest.
    unsafe { dpdk_sys::rte_eal_hotplug_remove(c"vdev".as_ptr(), name.as_ptr()) }
}

/// The port id of ethdev `name`, if there is one.
fn port_id_by_name(name: &str) -> Option<u16> {
    let c_name = CString::new(name).ok()?;
    let mut id = 0u16;
    // SAFETY: EAL is initialised (callers hold an Eal); c_name is a valid C
    // string; id is a valid out pointer.
    let ret = unsafe { dpdk_sys::rte_eth_dev_get_port_by_name(c_name.as_ptr(), &mut id) };
    (ret == 0).then_some(id)
}

/// The one handle on an rx queue; polled by one lcore at a time.
#[derive(Debug)]
pub struct RxQueue {
    shared: Arc<PortShared>,
    queue: u16,
}

impl RxQueue {
    /// Port id.
    pub fn port(&self) -> u16 {
        self.shared.id
    }

    /// Queue index.
    pub fn queue(&self) -> u16 {
        self.queue
    }

    /// Receive into the free slots of `burst`; returns how many arrived.
    pub fn rx_burst<const N: usize>(&mut self, burst: &mut Burst<'_, N>) -> usize {
        self.rx_burst_max(burst, N)
    }

    /// Receive at most `max` frames into the free slots of `burst`; returns
    /// how many arrived.
    pub fn rx_burst_max<const N: usize>(&mut self, burst: &mut Burst<'_, N>, max: usize) -> usize {
        let (slots, room) = burst.spare_raw();
        let room = room.min(max).min(usize::from(u16::MAX)) as u16;
        if room == 0 {
            return 0;
        }
        // SAFETY: the port and queue are set up and live (shared keeps the
        // port open); &mut self makes this the only poller of the queue;
        // slots has room for `room` pointers.
        let n = unsafe { dpdk_sys::shim_rte_eth_rx_burst(self.shared.id, self.queue, slots, room) };
        // SAFETY: the driver wrote n valid mbufs, now ours, into the slots.
        unsafe { burst.commit(usize::from(n)) };
        usize::from(n)
    }
}

/// The one handle on a tx queue; used by one lcore at a time.
#[derive(Debug)]
pub struct TxQueue {
    shared: Arc<PortShared>,
    queue: u16,
}

impl TxQueue {
    /// Port id.
    pub fn port(&self) -> u16 {
        self.shared.id
    }

    /// Queue index.
    pub fn queue(&self) -> u16 {
        self.queue
    }

    /// Send everything in `burst`; what the NIC did not take is freed. The
    /// burst is empty afterwards. Returns how many were sent.
    pub fn tx_burst<const N: usize>(&mut self, burst: &mut Burst<'_, N>) -> usize {
        let (mbufs, len) = burst.held_raw();
        let len = len.min(usize::from(u16::MAX)) as u16;
        let sent = if len == 0 {
            0
        } else {
            // SAFETY: port and queue set up and live; &mut self makes this
            // the only user of the queue; mbufs holds len owned mbufs.
            unsafe { dpdk_sys::shim_rte_eth_tx_burst(self.shared.id, self.queue, mbufs, len) }
        };
        // SAFETY: the NIC owns the first `sent` mbufs now.
        unsafe { burst.sent(usize::from(sent)) };
        usize::from(sent)
    }
}
