//! Start-up and shutdown: everything the workers run on, built once on the
//! main lcore, and released in order once they have stopped.
//!
//! What it promises:
//! - [`build`] brings up EAL, both ports with one rx and one tx queue per
//!   worker, the mbuf pool, the exception path's TAPs, the handoff rings
//!   (one single-producer, single-consumer ring per ordered pair of
//!   workers), the port-block event log and one `nat64::Worker` per worker
//!   lcore, one function per thing, each returning what it built. A
//!   failure names what could not be built (and the key or flag to fix) and
//!   releases what was built before it.
//! - [`Built::launch`] starts one poll loop (`dataplane::worker`) per worker
//!   lcore; the [`Runtime`] it returns holds what shutdown releases.
//! - [`Runtime::stop_workers`] and [`Runtime::release`] stop the loops, wait
//!   for them, and release queues, ports, the pool and EAL in that order,
//!   checking that every mbuf came back.
//!
//! The control loop that runs between launch and shutdown is
//! `control::main_loop`.

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crossbeam::queue::ArrayQueue;
use tracing::{info, warn};

use super::events::EventLog;
use super::http::{self, HttpServer, PortLink};
use super::metrics::{DpdkSample, Exporter};
use super::summary::{self, Facts, PortFacts};
use crate::config::Config;
use crate::dataplane::exception::{self, ExceptionPort};
use crate::dataplane::guard::{self, KernelGuard};
use crate::dataplane::stats::WorkerStats;
use crate::dataplane::worker::{ExceptionQueues, Shared, TestStall, WorkerSetup, SETTINGS_QUEUE};
use crate::dataplane::{BoxIdentity, Side};
use crate::dns64::server::{self as dns64_server, ServerHandle, ServerOptions};
use crate::dpdk::{
    tsc_cycles, Eal, LcoreJob, Mempool, Port, PortConfig, Ring, RingConsumer, RingProducer,
    RxQueue, TxQueue,
};
use crate::nat64::pipeline::Worker as Nat64Worker;

/// Handoff ring size (mbufs) per ordered pair of workers.
const RING_SIZE: u32 = 1024;
/// Neighbour updates queued per worker.
const NEIGH_UPDATES: usize = 256;
/// Port-block events queued per worker for the control side.
const EVENT_QUEUE: usize = 8192;
/// Inspection requests queued per worker (the HTTP thread asks one at a
/// time).
const INSPECT_QUEUE: usize = 4;

/// An error of start-up, said for the operator.
pub type BoxError = Box<dyn std::error::Error>;

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
    /// `--test-stall-worker` (tests of the health check only).
    pub test_stall: Option<TestStall>,
    /// `--config FILE`: what SIGHUP reads again (`control::reload`);
    /// `None`: SIGHUP only reopens the event log.
    pub config_path: Option<PathBuf>,
}

/// Everything start-up builds, before the workers are launched. Fields
/// drop in the order shutdown releases them.
pub struct Built {
    /// One per worker lcore, in `lcores` order.
    workers: Vec<WorkerSetup>,
    lcores: Vec<u32>,
    /// The DNS64 server (`dns64.enabled`), started after the exception
    /// TAPs and before the workers; stopped before the TAPs go.
    dns64: Option<ServerHandle>,
    /// The HTTP listener (`metrics.listen`), stopped first.
    http: HttpServer,
    links: Arc<[PortLink; 2]>,
    events: EventLog,
    exporter: Arc<Exporter>,
    shared: Arc<Shared>,
    exception_ports: Vec<ExceptionPort>,
    inside: Port,
    outside: Port,
    pool: Mempool,
    eal: Eal,
    /// The start-up summary, logged once the workers run.
    summary: String,
}

/// A run in progress: the launched workers and everything shutdown
/// releases. Fields drop in the order [`Runtime::release`] releases them.
pub struct Runtime {
    jobs: Vec<LcoreJob>,
    /// The DNS64 server, stopped in [`Runtime::release`] before the TAPs.
    dns64: Option<ServerHandle>,
    /// The HTTP listener, stopped in [`Runtime::release`] first.
    http: HttpServer,
    /// The ports' links as the control loop last saw them (for
    /// `/healthz`).
    pub(super) links: Arc<[PortLink; 2]>,
    /// Port-block events go here (`logging.events`).
    pub(super) events: EventLog,
    /// Every metric (the workers', the ports', the pool's, the DNS64
    /// server's): `--counters` and the metrics endpoint.
    pub(super) exporter: Arc<Exporter>,
    /// What the workers share with the control side (counters, events,
    /// the stop flag).
    pub(super) shared: Arc<Shared>,
    exception_ports: Vec<ExceptionPort>,
    /// The ports (for the link watch).
    pub(super) inside: Port,
    pub(super) outside: Port,
    /// The mbuf pool (the metrics sample its use).
    pub(super) pool: Mempool,
    eal: Eal,
}

/// Build everything a run needs, in order: EAL, ports, mbuf pool, port
/// queues, exception path, handoff rings, the box's identity, the event
/// log, what the workers share, and the workers themselves.
pub fn build(eal_args: &[String], config: &Config, opts: &RunOptions) -> Result<Built, BoxError> {
    let (eal, lcores) = start_eal(eal_args)?;
    let main_cpu = main_lcore_cpu();
    let n = u16::try_from(lcores.len()).map_err(|_| "too many worker lcores")?;
    let (mut inside, mut outside) = open_ports(&eal, config)?;
    let (cin, cout) = port_configs(config, n);
    let socket = pool_socket(&eal, &inside);
    let pool = create_mempool(&eal, config, n, socket, &cin, &cout)?;

    let (inside_rx, inside_tx) = start_port(&mut inside, &cin, &pool)?;
    let (outside_rx, outside_tx) = start_port(&mut outside, &cout, &pool)?;
    let queues = PortQueues {
        inside_rx,
        inside_tx,
        outside_rx,
        outside_tx,
    };
    let ipv4_cksum_offload = outside.tx_ipv4_cksum_offload();
    log_ports(config, &inside, &outside, n, ipv4_cksum_offload)?;
    let inside_mac = inside.mac_addr()?.0;
    let outside_mac = outside.mac_addr()?.0;

    let exception = if opts.no_exception_path {
        ExceptionTaps::none(n)
    } else {
        create_exception_path(&eal, config, n, inside_mac, outside_mac, &pool)?
    };
    let rings = create_handoff_rings(&eal, n, socket)?;
    let own = BoxIdentity::new(config, inside_mac, outside_mac, n);

    // One clock for every worker: millisecond 0 is now.
    let epoch_tsc = tsc_cycles();
    let epoch_wall = SystemTime::now();
    let events = EventLog::open(&config.logging.events, epoch_wall)?;
    let shared = share(
        config,
        own,
        n,
        epoch_tsc,
        ipv4_cksum_offload,
        opts.test_stall,
    );

    let workers = build_workers(
        &eal,
        config,
        &pool,
        &shared,
        queues,
        exception.queues,
        rings,
    )?;
    let dns64 = start_dns64(config, opts, &exception.ports, main_cpu)?;
    let summary = summarize(
        config,
        &eal,
        [&inside, &outside],
        &exception.ports,
        main_cpu,
        &lcores,
        dns64.as_ref(),
    )?;
    let exporter = Exporter::new(
        &shared,
        DpdkSample::take(&inside, &outside, &pool, workers.len()),
        dns64.as_ref().map(ServerHandle::stats),
    )
    .map_err(|e| format!("metrics: {e}"))?;
    let exporter = Arc::new(exporter);
    let links = Arc::new(port_links(&inside, &outside));
    let http = start_http(config, &shared, &exporter, &links, main_cpu)?;
    Ok(Built {
        workers,
        lcores,
        dns64,
        http,
        links,
        events,
        exporter,
        shared,
        exception_ports: exception.ports,
        inside,
        outside,
        pool,
        eal,
        summary,
    })
}

/// The start-up summary block (`control::summary`).
fn summarize(
    config: &Config,
    eal: &Eal,
    ports: [&Port; 2],
    exception: &[ExceptionPort],
    main_cpu: Option<usize>,
    lcores: &[u32],
    dns64: Option<&ServerHandle>,
) -> Result<String, BoxError> {
    let mut facts = Vec::with_capacity(2);
    for (i, (role, port)) in ["inside", "outside"].into_iter().zip(ports).enumerate() {
        facts.push(PortFacts {
            role,
            name: port.name().to_string(),
            driver: port.info()?.driver,
            mac: port.mac_addr()?.to_string(),
            link: port.link()?.to_string(),
            kernel_iface: exception.get(i).map(|e| e.iface.clone()),
        });
    }
    let dns64_addrs = dns64.map(ServerHandle::local_addrs);
    Ok(summary::render(
        config,
        &Facts {
            version: crate::version!(),
            ports: &facts,
            main_lcore: eal.main_lcore(),
            main_cpu,
            worker_lcores: lcores,
            dns64: dns64_addrs.as_deref(),
        },
    ))
}

/// EAL, and the worker lcores it gives (at least one).
fn start_eal(eal_args: &[String]) -> Result<(Eal, Vec<u32>), BoxError> {
    let eal = Eal::init(eal_args)?;
    let lcores = eal.worker_lcores();
    if lcores.is_empty() {
        return Err(
            "no worker lcore: give EAL at least two lcores (e.g. -l 0-1 or \
                    --lcores '0@0,1@1'); the first runs the control side, the others forward"
                .into(),
        );
    }
    info!(
        main_lcore = eal.main_lcore(),
        workers = lcores.len(),
        ports = eal.port_count(),
        "EAL initialised"
    );
    Ok((eal, lcores))
}

/// The ports `inside.device` and `outside.device` name.
fn open_ports(eal: &Eal, config: &Config) -> Result<(Port, Port), BoxError> {
    let inside =
        Port::by_name(eal, &config.inside.device).map_err(|e| format!("inside.device: {e}"))?;
    let outside =
        Port::by_name(eal, &config.outside.device).map_err(|e| format!("outside.device: {e}"))?;
    Ok((inside, outside))
}

/// Both ports' settings for `n` workers.
///
/// Inside: IPv6 (no header checksum), RSS on the subscriber. Outside: the
/// NIC fills IPv4 header checksums where it can. (TCP/UDP/ICMP checksums
/// stay in software, updated incrementally, RFC 1624: an L4 offload would
/// need the pseudo-header sum written first, which costs what the update
/// does.)
fn port_configs(config: &Config, n: u16) -> (PortConfig, PortConfig) {
    let conf = |mtu: u16, inside: bool| PortConfig {
        rx_queues: n,
        tx_queues: n,
        mtu: Some(mtu),
        rss_ipv6_src_only: inside,
        tx_ipv4_cksum: !inside,
        ..PortConfig::default()
    };
    (
        conf(config.inside.mtu, true),
        conf(config.outside.mtu, false),
    )
}

/// The NUMA socket of the inside port (of the main lcore when the port
/// has none): where the pool and the rings go.
fn pool_socket(eal: &Eal, inside: &Port) -> i32 {
    match inside.socket() {
        s if s < 0 => eal.lcore_socket(eal.main_lcore()) as i32,
        s => s,
    }
}

/// The mbuf pool: the workers' own mbufs (`workers.mbufs_per_worker`
/// each), plus every descriptor of both ports and of the exception TAPs
/// (drivers such as net_tap fill their rx rings up front).
fn create_mempool(
    eal: &Eal,
    config: &Config,
    n: u16,
    socket: i32,
    cin: &PortConfig,
    cout: &PortConfig,
) -> Result<Mempool, BoxError> {
    let descs = |c: &PortConfig| u32::from(n) * (u32::from(c.rx_desc) + u32::from(c.tx_desc));
    let mbufs = config.workers.mbufs_per_worker * u32::from(n) + 2 * descs(cin) + descs(cout);
    let pool = Mempool::new(eal, "nat64_mbufs", mbufs, socket)?;
    info!(socket, mbufs, "mbuf pool created");
    Ok(pool)
}

/// Configure `port` as `conf` says, on `pool`, and start it; its rx and
/// tx queues, one each per worker.
fn start_port(
    port: &mut Port,
    conf: &PortConfig,
    pool: &Mempool,
) -> Result<(Vec<RxQueue>, Vec<TxQueue>), BoxError> {
    let queues = port.configure(conf, std::slice::from_ref(pool))?;
    port.start()?;
    Ok(queues)
}

/// Log how IPv4 header checksums are filled, and each port's identity.
fn log_ports(
    config: &Config,
    inside: &Port,
    outside: &Port,
    n: u16,
    ipv4_cksum_offload: bool,
) -> Result<(), BoxError> {
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
    for (role, port, mtu) in [
        ("inside", inside, config.inside.mtu),
        ("outside", outside, config.outside.mtu),
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
    Ok(())
}

/// The exception path: the TAP ports, and each worker's queues on them
/// (inside, outside).
struct ExceptionTaps {
    ports: Vec<ExceptionPort>,
    /// Index = worker id; all `None` without an exception path.
    queues: Vec<Option<(ExceptionQueues, ExceptionQueues)>>,
}

impl ExceptionTaps {
    /// No exception path (`--no-exception-path`).
    fn none(n: u16) -> ExceptionTaps {
        ExceptionTaps {
            ports: Vec::new(),
            queues: (0..n).map(|_| None).collect(),
        }
    }
}

/// The exception path to the box's kernel: a TAP per side with the port's
/// MAC and the box's address, for traffic the dataplane does not answer
/// itself. Every worker gets a tx queue on each; worker 0 also polls the
/// TAPs' rx queues.
fn create_exception_path(
    eal: &Eal,
    config: &Config,
    n: u16,
    inside_mac: crate::dataplane::Mac,
    outside_mac: crate::dataplane::Mac,
    pool: &Mempool,
) -> Result<ExceptionTaps, BoxError> {
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
        exception::create(eal, side, iface, mac, addr, len, mtu, n, pool)
            .map_err(|e| format!("{side} exception path: {e}"))
    });
    let (ein, ein_rx, ein_tx) = ein?;
    let (eout, eout_rx, eout_tx) = eout?;
    exception::add_inside_addresses(
        &config.inside.kernel_iface,
        &crate::dataplane::inside_extra_addresses(config),
        config.inside.prefix_len,
    )
    .map_err(|e| format!("inside exception path: dns64.listen: {e}"))?;
    let mut queues = ExceptionTaps::none(n).queues;
    let mut rx = Some((ein_rx, eout_rx));
    for (slot, (ti, to)) in queues.iter_mut().zip(ein_tx.into_iter().zip(eout_tx)) {
        // The rx queues go to the first worker.
        let (ri, ro) = match rx.take() {
            Some((a, b)) => (Some(a), Some(b)),
            None => (None, None),
        };
        *slot = Some((
            ExceptionQueues { tx: ti, rx: ri },
            ExceptionQueues { tx: to, rx: ro },
        ));
    }
    info!(
        inside = %ein.iface,
        outside = %eout.iface,
        "exception path: kernel interfaces up with the box's addresses"
    );
    Ok(ExceptionTaps {
        ports: vec![ein, eout],
        queues,
    })
}

/// The CPU the DNS64 server is pinned to: the first CPU of the main
/// lcore's cpuset. Right after `rte_eal_init` this thread is the main
/// lcore, which EAL has pinned to its cpuset (`-l`'s first lcore, or the
/// `@cpus` of `--lcores`), so the current thread's affinity mask
/// (`core_affinity::get_core_ids`, which reads `sched_getaffinity` of the
/// calling thread) is that cpuset; lcore ids need not equal CPU ids, so
/// the lcore id itself is not used. `None` (no pinning, a warning) when
/// the mask cannot be read.
fn main_lcore_cpu() -> Option<usize> {
    let cpu = core_affinity::get_core_ids().and_then(|ids| ids.into_iter().map(|c| c.id).min());
    if cpu.is_none() {
        warn!("dns64: cannot read the main lcore's CPU; the server thread will not be pinned");
    }
    cpu
}

/// Start the DNS64 server when `dns64.enabled`: after the exception TAPs
/// exist (its inside listen addresses are on the inside TAP, and its
/// sockets are bound to that interface), before the workers launch,
/// pinned to the main lcore's CPU, never a worker's. With
/// `--no-exception-path` there is no inside TAP: the loopback listen
/// addresses start and the others are skipped with a warning naming
/// `dns64.listen` (none left: the server is not started, also warned).
fn start_dns64(
    config: &Config,
    opts: &RunOptions,
    taps: &[ExceptionPort],
    pin_cpu: Option<usize>,
) -> Result<Option<ServerHandle>, BoxError> {
    if !config.dns64.enabled {
        return Ok(None);
    }
    let mut cfg = config.clone();
    let inside_iface = if opts.no_exception_path || taps.is_empty() {
        let (lo, others): (Vec<_>, Vec<_>) =
            cfg.dns64.listen.iter().partition(|a| a.ip().is_loopback());
        for a in &others {
            warn!(
                "dns64.listen: {a} skipped: --no-exception-path leaves no inside interface \
                 for subscribers to reach it (only loopback listen addresses work)"
            );
        }
        if lo.is_empty() {
            warn!("dns64: not started: no loopback dns64.listen address and --no-exception-path");
            return Ok(None);
        }
        cfg.dns64.listen = lo;
        None
    } else {
        Some(config.inside.kernel_iface.clone())
    };
    let handle = dns64_server::start(
        &cfg,
        ServerOptions {
            pin_cpu,
            inside_iface,
            ..ServerOptions::default()
        },
    )
    .map_err(|e| format!("dns64: {e}"))?;
    let cpu = pin_cpu.map_or_else(|| "unpinned".to_string(), |c| format!("CPU {c}"));
    for a in handle.local_addrs() {
        info!("dns64: listening on {a} (UDP and TCP), {cpu}");
    }
    Ok(Some(handle))
}

/// Both ports' links as they are now (`/healthz` reads them; the control
/// loop refreshes them).
fn port_links(inside: &Port, outside: &Port) -> [PortLink; 2] {
    [("inside", inside), ("outside", outside)].map(|(role, p)| PortLink {
        role,
        name: p.name().to_string(),
        up: p.link().is_ok_and(|l| l.up).into(),
    })
}

/// Start the HTTP listener at `metrics.listen`, pinned to the main
/// lcore's CPU like the DNS64 server: `/metrics` serves what
/// `--counters` writes (`Exporter::encode`).
fn start_http(
    config: &Config,
    shared: &Arc<Shared>,
    exporter: &Arc<Exporter>,
    links: &Arc<[PortLink; 2]>,
    pin_cpu: Option<usize>,
) -> Result<HttpServer, BoxError> {
    let epoch = shared.epoch_tsc;
    let per_ms = (crate::dpdk::tsc_hz() / 1000).max(1);
    let ctx = http::Context {
        metrics: {
            let exporter = Arc::clone(exporter);
            Arc::new(move || exporter.encode())
        },
        shared: Arc::clone(shared),
        clock: Arc::new(move || tsc_cycles().saturating_sub(epoch) / per_ms),
        links: Arc::clone(links),
        acl: Arc::new(http::HttpAcl::new(config.metrics.allow.clone())),
        refused: exporter.http_refused(),
    };
    Ok(http::start(config.metrics.listen, ctx, pin_cpu)?)
}

/// The handoff rings, one per ordered pair of workers: `out[i][j]` is
/// worker i's producer towards worker j (`None` for i = j), `inbound[j]`
/// every consumer of worker j.
struct HandoffRings {
    out: Vec<Vec<Option<RingProducer>>>,
    inbound: Vec<Vec<RingConsumer>>,
}

/// Create the handoff rings for `n` workers on `socket`.
fn create_handoff_rings(eal: &Eal, n: u16, socket: i32) -> Result<HandoffRings, BoxError> {
    let n = usize::from(n);
    let mut out: Vec<Vec<Option<RingProducer>>> =
        (0..n).map(|_| (0..n).map(|_| None).collect()).collect();
    let mut inbound: Vec<Vec<RingConsumer>> = (0..n).map(|_| Vec::new()).collect();
    for (i, producers) in out.iter_mut().enumerate() {
        for (j, (slot, consumers)) in producers.iter_mut().zip(&mut inbound).enumerate() {
            if i == j {
                continue;
            }
            let ring = Ring::new(eal, &format!("nat64_ho_{i}_{j}"), RING_SIZE, socket)?;
            let (p, c) = ring.split();
            *slot = Some(p);
            consumers.push(c);
        }
    }
    Ok(HandoffRings { out, inbound })
}

/// What every worker shares: the box's identity, queues between workers
/// and to the control side, each worker's published counters (laid out as
/// `dataplane::stats` says, with a cell per pool address), and the stop
/// flag.
fn share(
    config: &Config,
    own: BoxIdentity,
    n: u16,
    epoch_tsc: u64,
    ipv4_cksum_offload: bool,
    test_stall: Option<TestStall>,
) -> Arc<Shared> {
    let addresses = own.pool.address_count() as usize;
    Arc::new(Shared {
        own,
        inside_gateway_mac: config.inside.gateway_mac,
        outside_gateway_mac: config.outside.gateway_mac,
        neigh_updates: (0..n).map(|_| ArrayQueue::new(NEIGH_UPDATES)).collect(),
        stats: (0..n)
            .map(|_| Arc::new(WorkerStats::new(addresses)))
            .collect(),
        events: (0..n).map(|_| ArrayQueue::new(EVENT_QUEUE)).collect(),
        epoch_tsc,
        icmp_errors_per_second: config.translation.icmp_errors_per_second,
        icmp_pmtu_errors_per_second: config.translation.icmp_pmtu_errors_per_second,
        kernel_guards: {
            let ephemeral = guard::ephemeral_ports();
            (
                KernelGuard::new(
                    config.inside_kernel_allow(),
                    ephemeral.clone(),
                    config.inside.kernel_policy,
                ),
                KernelGuard::new(
                    config.outside.kernel_allow.clone(),
                    ephemeral,
                    config.outside.kernel_policy,
                ),
            )
        },
        ipv4_cksum_offload,
        rx_burst: config.workers.burst,
        stop: Default::default(),
        inspect: (0..n).map(|_| ArrayQueue::new(INSPECT_QUEUE)).collect(),
        test_stall,
        settings: (0..n).map(|_| ArrayQueue::new(SETTINGS_QUEUE)).collect(),
    })
}

/// Both ports' queues, one of each kind per worker.
struct PortQueues {
    inside_rx: Vec<RxQueue>,
    inside_tx: Vec<TxQueue>,
    outside_rx: Vec<RxQueue>,
    outside_tx: Vec<TxQueue>,
}

/// One [`WorkerSetup`] per worker: its NAT64 pipeline, its rx and tx queue
/// of each port, its exception path queues and its handoff rings.
fn build_workers(
    eal: &Eal,
    config: &Config,
    pool: &Mempool,
    shared: &Arc<Shared>,
    queues: PortQueues,
    exception: Vec<Option<(ExceptionQueues, ExceptionQueues)>>,
    rings: HandoffRings,
) -> Result<Vec<WorkerSetup>, BoxError> {
    let n = u16::try_from(exception.len()).map_err(|_| "too many worker lcores")?;
    let mut inside_rx = queues.inside_rx.into_iter();
    let mut inside_tx = queues.inside_tx.into_iter();
    let mut outside_rx = queues.outside_rx.into_iter();
    let mut outside_tx = queues.outside_tx.into_iter();
    let per_worker = exception
        .into_iter()
        .zip(rings.out.into_iter().zip(rings.inbound));
    let mut workers = Vec::with_capacity(usize::from(n));
    for (id, (exception, (handoff_out, handoff_in))) in (0..n).zip(per_worker) {
        let (Some(irx), Some(itx), Some(orx), Some(otx)) = (
            inside_rx.next(),
            inside_tx.next(),
            outside_rx.next(),
            outside_tx.next(),
        ) else {
            return Err("a port gave fewer queues than workers".into());
        };
        let mut nat = Nat64Worker::new(config, Arc::clone(&shared.own.pool), id, n);
        nat.set_ipv4_checksum_offload(shared.ipv4_cksum_offload);
        workers.push(WorkerSetup {
            id,
            eal: eal.clone(),
            pool: pool.clone(),
            nat,
            inside_rx: irx,
            inside_tx: itx,
            outside_rx: orx,
            outside_tx: otx,
            exception,
            handoff_out,
            handoff_in,
            shared: Arc::clone(shared),
        });
    }
    Ok(workers)
}

impl Built {
    /// Launch every worker's poll loop on its lcore.
    pub fn launch(self) -> Result<Runtime, BoxError> {
        let Built {
            workers,
            lcores,
            dns64,
            http,
            links,
            events,
            exporter,
            shared,
            exception_ports,
            inside,
            outside,
            pool,
            eal,
            summary,
        } = self;
        let n = workers.len();
        let mut jobs = Vec::with_capacity(n);
        for (&lcore, setup) in lcores.iter().zip(workers) {
            jobs.push(eal.launch(lcore, move || setup.run())?);
        }
        info!("forwarding: {n} workers");
        info!("{summary}");
        Ok(Runtime {
            jobs,
            dns64,
            http,
            links,
            events,
            exporter,
            shared,
            exception_ports,
            inside,
            outside,
            pool,
            eal,
        })
    }
}

impl Runtime {
    /// The DNS64 server, while it runs (a reload's `[dns64]` goes to it).
    pub(super) fn dns64(&self) -> Option<&ServerHandle> {
        self.dns64.as_ref()
    }

    /// The HTTP listener (a reload's `metrics.allow` goes to it).
    pub(super) fn http(&self) -> &HttpServer {
        &self.http
    }

    /// Stop every worker and wait for it; their queue handles go with
    /// them.
    pub fn stop_workers(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        for job in self.jobs.drain(..) {
            let lcore = job.lcore();
            let rc = job.join();
            if rc != 0 {
                warn!(lcore, rc, "worker ended with an error");
            }
        }
    }

    /// Once the workers have stopped: close the exception TAPs and the
    /// ports, check that every mbuf came back to the pool, and release the
    /// pool and EAL.
    pub fn release(mut self) {
        self.stop_workers();
        let Runtime {
            jobs: _,
            dns64,
            http,
            links: _,
            events,
            exporter,
            shared,
            exception_ports,
            inside,
            outside,
            pool,
            eal,
        } = self;
        http.stop();
        drop(events);
        drop(exporter);
        drop(shared);
        if let Some(server) = dns64 {
            info!("dns64: stopping");
            server.stop();
        }
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
    }
}

#[cfg(test)]
mod tests;
