//! Start-up, the control side's loop, and shutdown.
//!
//! `run` brings up EAL, both ports with one rx and one tx queue per worker,
//! the exception TAPs, the handoff rings (one single-producer,
//! single-consumer ring per ordered pair of workers) and one
//! `nat64::Worker` per worker lcore, launches the poll loops, then serves
//! the control side on the main lcore until SIGINT/SIGTERM (or
//! `--exit-after-idle`): it writes the counters file and watches for
//! idleness. Shutdown stops the loops, waits for them, writes the final
//! counters, and releases queues, ports, pools and EAL in that order.

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant, SystemTime};

use crossbeam::queue::ArrayQueue;
use tracing::{info, warn};

use super::exception;
use super::stats::{self, WorkerStats};
use super::worker::{ExceptionQueues, Shared, WorkerSetup};
use super::BoxIdentity;
use super::Side;
use crate::config::Config;
use crate::control::events::EventLog;
use crate::dpdk::{tsc_cycles, Eal, Mempool, Port, PortConfig, Ring, RingConsumer, RingProducer};
use crate::nat64::pipeline::Worker as Nat64Worker;

/// Handoff ring size (mbufs) per ordered pair of workers.
const RING_SIZE: u32 = 1024;
/// Neighbour updates queued per worker.
const NEIGH_UPDATES: usize = 256;
/// Port-block events queued per worker for the control side.
const EVENT_QUEUE: usize = 8192;
/// How often the control side writes the counters file.
const CONTROL_PERIOD: Duration = Duration::from_millis(100);

/// Command-line options that shape a run.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// `--counters PATH` (`-` = stdout at exit).
    pub counters: Option<PathBuf>,
    /// `--exit-after-idle MS`.
    pub exit_after_idle: Option<Duration>,
    /// `--no-exception-path`: no TAPs, nothing reaches the kernel (offline
    /// pcap runs).
    pub no_exception_path: bool,
}

type BoxError = Box<dyn std::error::Error>;

/// Run the NAT64 until `stop` fires (or the idle timer): see the module docs.
pub fn run(
    eal_args: &[String],
    config: &Config,
    opts: &RunOptions,
    stop: mpsc::Receiver<()>,
) -> Result<(), BoxError> {
    let eal = Eal::init(eal_args)?;
    let lcores = eal.worker_lcores();
    if lcores.is_empty() {
        return Err(
            "no worker lcore: give EAL at least two lcores (e.g. -l 0-1 or \
                    --lcores '0@0,1@1'); the first runs the control side, the others forward"
                .into(),
        );
    }
    let n = u16::try_from(lcores.len()).map_err(|_| "too many worker lcores")?;
    info!(
        main_lcore = eal.main_lcore(),
        workers = n,
        ports = eal.port_count(),
        "EAL initialised"
    );

    let mut inside =
        Port::by_name(&eal, &config.inside.device).map_err(|e| format!("inside.device: {e}"))?;
    let mut outside =
        Port::by_name(&eal, &config.outside.device).map_err(|e| format!("outside.device: {e}"))?;

    let socket = match inside.socket() {
        s if s < 0 => eal.lcore_socket(eal.main_lcore()) as i32,
        s => s,
    };
    // Inside: IPv6 (no header checksum), RSS on the subscriber. Outside:
    // the NIC fills IPv4 header checksums where it can. (TCP/UDP/ICMP
    // checksums stay in software, updated incrementally, RFC 1624: an L4
    // offload would need the pseudo-header sum written first, which costs
    // what the update does.)
    let conf = |mtu: u16, inside: bool| PortConfig {
        rx_queues: n,
        tx_queues: n,
        mtu: Some(mtu),
        rss_ipv6_src_only: inside,
        tx_ipv4_cksum: !inside,
        ..PortConfig::default()
    };
    let (cin, cout) = (
        conf(config.inside.mtu, true),
        conf(config.outside.mtu, false),
    );
    // Workers' own mbufs, plus every descriptor of both ports and of the
    // exception TAPs (drivers such as net_tap fill their rx rings up front).
    let descs = |c: &PortConfig| u32::from(n) * (u32::from(c.rx_desc) + u32::from(c.tx_desc));
    let mbufs = config.workers.mbufs_per_worker * u32::from(n) + 2 * descs(&cin) + descs(&cout);
    let pool = Mempool::new(&eal, "nat64_mbufs", mbufs, socket)?;
    info!(socket, mbufs, "mbuf pool created");

    let (inside_rx, inside_tx) = inside.configure(&cin, std::slice::from_ref(&pool))?;
    inside.start()?;
    let (outside_rx, outside_tx) = outside.configure(&cout, std::slice::from_ref(&pool))?;
    outside.start()?;
    let ipv4_cksum_offload = outside.tx_ipv4_cksum_offload();
    if ipv4_cksum_offload {
        info!(
            port = outside.name(),
            "IPv4 header checksums: filled in by the NIC (tx offload)"
        );
    } else {
        info!(
            port = outside.name(),
            "IPv4 header checksums: computed in software (the driver has no IPv4 checksum offload)"
        );
    }
    let inside_mac = inside.mac_addr()?.0;
    let outside_mac = outside.mac_addr()?.0;
    for (role, port, mtu) in [
        ("inside", &inside, config.inside.mtu),
        ("outside", &outside, config.outside.mtu),
    ] {
        let info = port.info()?;
        info!(
            "{role} port {}: port id {}, driver {}, MAC {}, link {}, MTU {mtu}, {n} rx/tx queues",
            port.name(),
            port.id(),
            info.driver,
            port.mac_addr()?,
            port.link()?
        );
    }

    // The kernel's side of the box: a TAP per side with the port's MAC and
    // the box's address, for traffic the dataplane does not answer itself.
    let mut exception_ports = Vec::new();
    let mut exception: Vec<Option<(ExceptionQueues, ExceptionQueues)>> =
        (0..n).map(|_| None).collect();
    if !opts.no_exception_path {
        let sides = [
            (
                Side::Inside,
                &config.inside.kernel_iface,
                inside_mac,
                IpAddr::V6(config.inside.address),
                config.inside.prefix_len,
                config.inside.mtu,
            ),
            (
                Side::Outside,
                &config.outside.kernel_iface,
                outside_mac,
                IpAddr::V4(config.outside.address),
                config.outside.prefix_len,
                config.outside.mtu,
            ),
        ];
        let [ein, eout] = sides.map(|(side, iface, mac, addr, len, mtu)| {
            exception::create(&eal, side, iface, mac, addr, len, mtu, n, &pool)
                .map_err(|e| format!("{side} exception path: {e}"))
        });
        let (ein, ein_rx, ein_tx) = ein?;
        let (eout, eout_rx, eout_tx) = eout?;
        let mut rx = Some((ein_rx, eout_rx));
        for (i, (ti, to)) in ein_tx.into_iter().zip(eout_tx).enumerate() {
            let (ri, ro) = match rx.take() {
                Some((a, b)) => (Some(a), Some(b)),
                None => (None, None),
            };
            if let Some(slot) = exception.get_mut(i) {
                *slot = Some((
                    ExceptionQueues { tx: ti, rx: ri },
                    ExceptionQueues { tx: to, rx: ro },
                ));
            }
        }
        info!(
            inside = %ein.iface,
            outside = %eout.iface,
            "exception path: kernel interfaces up with the box's addresses"
        );
        exception_ports.push(ein);
        exception_ports.push(eout);
    }

    // Handoff rings: producers[i][j] feeds consumers of worker j.
    let mut producers: Vec<Vec<Option<RingProducer>>> =
        (0..n).map(|_| (0..n).map(|_| None).collect()).collect();
    let mut consumers: Vec<Vec<RingConsumer>> = (0..n).map(|_| Vec::new()).collect();
    for (i, out) in producers.iter_mut().enumerate() {
        for (j, (slot, inbound)) in out.iter_mut().zip(&mut consumers).enumerate() {
            if i == j {
                continue;
            }
            let ring = Ring::new(&eal, &format!("nat64_ho_{i}_{j}"), RING_SIZE, socket)?;
            let (p, c) = ring.split();
            *slot = Some(p);
            inbound.push(c);
        }
    }

    let own = BoxIdentity::new(config, inside_mac, outside_mac, n);
    // One clock for every worker: millisecond 0 is now.
    let epoch_tsc = tsc_cycles();
    let epoch_wall = SystemTime::now();
    let mut event_log = EventLog::open(&config.logging.events, epoch_wall)?;
    let layout = stats::layout();
    let worker_stats: Vec<Arc<WorkerStats>> = (0..n)
        .map(|_| Arc::new(WorkerStats::new(layout.len())))
        .collect();
    let shared = Arc::new(Shared {
        own: own.clone(),
        inside_gateway_mac: config.inside.gateway_mac,
        outside_gateway_mac: config.outside.gateway_mac,
        neigh_updates: (0..n).map(|_| ArrayQueue::new(NEIGH_UPDATES)).collect(),
        stats: worker_stats.clone(),
        events: (0..n).map(|_| ArrayQueue::new(EVENT_QUEUE)).collect(),
        epoch_tsc,
        icmp_errors_per_second: config.translation.icmp_errors_per_second,
        ipv4_cksum_offload,
        stop: Default::default(),
    });

    let mut jobs = Vec::with_capacity(lcores.len());
    let mut inside_rx = inside_rx.into_iter();
    let mut inside_tx = inside_tx.into_iter();
    let mut outside_rx = outside_rx.into_iter();
    let mut outside_tx = outside_tx.into_iter();
    for (i, (&lcore, (ho_out, ho_in))) in lcores
        .iter()
        .zip(producers.into_iter().zip(consumers))
        .enumerate()
    {
        let id = i as u16;
        let (Some(irx), Some(itx), Some(orx), Some(otx)) = (
            inside_rx.next(),
            inside_tx.next(),
            outside_rx.next(),
            outside_tx.next(),
        ) else {
            return Err("a port gave fewer queues than workers".into());
        };
        let setup = WorkerSetup {
            id,
            eal: eal.clone(),
            pool: pool.clone(),
            nat: {
                let mut w = Nat64Worker::new(config, Arc::clone(&own.pool), id, n);
                w.set_ipv4_checksum_offload(ipv4_cksum_offload);
                w
            },
            inside_rx: irx,
            inside_tx: itx,
            outside_rx: orx,
            outside_tx: otx,
            exception: exception.get_mut(i).and_then(Option::take),
            handoff_out: ho_out,
            handoff_in: ho_in,
            shared: Arc::clone(&shared),
        };
        jobs.push(eal.launch(lcore, move || setup.run())?);
    }
    info!("forwarding: {n} workers");

    // The control side: counters file, idle watch, signals.
    let rx_series: Vec<usize> = layout
        .iter()
        .enumerate()
        .filter(|(_, s)| {
            s.metric == "nat64_packets_total"
                && s.labels.iter().any(|&(k, v)| k == "dir" && v == "rx")
        })
        .map(|(i, _)| i)
        .collect();
    let file = opts.counters.as_ref().filter(|p| p.as_os_str() != "-");
    let mut last_rx = 0u64;
    let mut last_activity = Instant::now();
    let mut links = [inside.link().ok(), outside.link().ok()];
    let mut next_link_check = Instant::now();
    loop {
        match stop.recv_timeout(CONTROL_PERIOD) {
            Ok(()) | Err(mpsc::RecvTimeoutError::Disconnected) => {
                info!("stopping");
                break;
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
        }
        if Instant::now() >= next_link_check {
            next_link_check = Instant::now() + Duration::from_secs(1);
            for ((role, port), seen) in [("inside", &inside), ("outside", &outside)]
                .into_iter()
                .zip(&mut links)
            {
                let now = port.link().ok();
                if now != *seen {
                    match now {
                        Some(l) => info!("{role} port {}: link {l}", port.name()),
                        None => warn!("{role} port {}: link state unknown", port.name()),
                    }
                    *seen = now;
                }
            }
        }
        drain_events(&shared, &mut event_log);
        let values = stats::totals(layout.len(), &worker_stats);
        if let Some(path) = file {
            if let Err(e) = stats::write_atomic(path, &stats::render(&layout, &values)) {
                warn!("--counters {}: {e}", path.display());
            }
        }
        let rx: u64 = rx_series.iter().map(|&i| values[i]).sum();
        if rx != last_rx {
            last_rx = rx;
            last_activity = Instant::now();
        }
        if let Some(idle) = opts.exit_after_idle {
            if last_activity.elapsed() >= idle {
                info!(
                    "no packet for {} ms: stopping (--exit-after-idle)",
                    idle.as_millis()
                );
                break;
            }
        }
    }

    shared.stop.store(true, Ordering::SeqCst);
    for job in jobs {
        let lcore = job.lcore();
        let rc = job.join();
        if rc != 0 {
            warn!(lcore, rc, "worker ended with an error");
        }
    }
    drain_events(&shared, &mut event_log);
    if event_log.failed > 0 {
        warn!(
            failed = event_log.failed,
            "logging.events: some port-block events could not be written"
        );
    }
    let values = stats::totals(layout.len(), &worker_stats);
    let text = stats::render(&layout, &values);
    match opts.counters.as_deref() {
        Some(p) if p.as_os_str() == "-" => print!("{text}"),
        Some(p) => {
            if let Err(e) = stats::write_atomic(p, &text) {
                warn!("--counters {}: {e}", p.display());
            }
        }
        None => {}
    }

    // Queue handles went with the workers; now the ports, then the EAL.
    drop(shared);
    for ep in exception_ports {
        let name = ep.port.name().to_string();
        if let Err(e) = ep.port.close() {
            warn!("{name}: {e}");
        }
    }
    for port in [inside, outside] {
        let name = port.name().to_string();
        if let Err(e) = port.close() {
            warn!("{name}: {e}");
        }
    }
    // Every mbuf is back: the workers freed what they held, the closed
    // ports what sat in their rings. Anything else is a leak.
    match pool.in_use() {
        0 => info!("all mbufs returned to the pool"),
        n => warn!(mbufs = n, "mbufs not returned to the pool (a leak)"),
    }
    drop(pool);
    drop(eal);
    info!("stopped");
    Ok(())
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
