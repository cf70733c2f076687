//! The dataplane's DPDK additions against the real EAL and the real kernel:
//! the SP/SC mbuf ring, burst-wide packet views, mbuf copies, run-time vdev
//! probing, port counters and the exception TAPs.
//!
//! The EAL initialises once per process, so everything runs in one test
//! function, in steps. It needs root and /dev/net/tun (net_tap) and skips,
//! saying why, without them. Run with
//! `cargo test --test dpdk_api -- --test-threads=1`.
//!
//! Frames are built and checked with etherparse (an independent
//! implementation); what the kernel sees is read back with iproute2 and
//! /sys, /proc.

mod common;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::ops::DerefMut;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use etherparse::{Icmpv6Type, LinkSlice, NetSlice, PacketBuilder, SlicedPacket, TransportSlice};
use nat64_dpdk::dataplane::exception::{self, ExceptionRx, Side};
use nat64_dpdk::dpdk::{
    Burst, DpdkError, Eal, Mbuf, Mempool, Port, PortConfig, Ring, RxQueue, TxQueue, SOCKET_ANY,
};
use nat64_dpdk::xlat::PacketBuf;

/// Run a command; its stdout, or a panic with its stderr.
fn run(cmd: &str, args: &[&str]) -> String {
    let out = Command::new(cmd).args(args).output().expect(cmd);
    assert!(
        out.status.success(),
        "{cmd} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn iface_exists(name: &str) -> bool {
    Path::new("/sys/class/net").join(name).exists()
}

fn read_sys(path: &str) -> String {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{path}: {e}"))
        .trim()
        .to_string()
}

/// An mbuf holding `bytes`.
fn mbuf_with<'p>(pool: &'p Mempool, bytes: &[u8]) -> Mbuf<'p> {
    let mut m = pool.alloc().expect("alloc");
    m.append(bytes.len() as u16)
        .expect("tailroom")
        .copy_from_slice(bytes);
    m
}

/// The first byte of each mbuf in the burst.
fn tags<const N: usize>(b: &Burst<'_, N>) -> Vec<u8> {
    b.as_slice().iter().map(|m| m.data()[0]).collect()
}

/// What the pipeline's burst form asks of its packets: a contiguous slice
/// of `P: DerefMut<Target = PacketBuf>`. Strips a 14-byte Ethernet header
/// off each, as `l2::decap` would.
fn strip_l2_burst<'a, P: DerefMut<Target = PacketBuf<'a>>>(pkts: &mut [P]) -> usize {
    pkts.iter_mut().map(|p| p.adj(14)).filter(|ok| *ok).count()
}

/// How long the kernel may take to answer through a TAP: generous, as on a
/// loaded 2-CPU machine busy-polling DPDK processes can starve its
/// softirqs for seconds.
const KERNEL_WAIT: Duration = Duration::from_secs(10);

/// Receive from `rx` until `want` accepts a frame or `timeout` passes;
/// the frames seen, for the failure message.
fn rx_until<const N: usize>(
    rx: &mut impl RxBurst,
    burst: &mut Burst<'_, N>,
    timeout: Duration,
    mut want: impl FnMut(&[u8]) -> bool,
) -> Result<Vec<u8>, Vec<Vec<u8>>> {
    let deadline = Instant::now() + timeout;
    let mut seen = Vec::new();
    while Instant::now() < deadline {
        rx.rx(burst);
        for m in burst.drain() {
            if want(m.data()) {
                return Ok(m.data().to_vec());
            }
            seen.push(m.data().to_vec());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    Err(seen)
}

/// An rx queue or the exception path's set of them.
trait RxBurst {
    fn rx<const N: usize>(&mut self, burst: &mut Burst<'_, N>) -> usize;
}

impl RxBurst for RxQueue {
    fn rx<const N: usize>(&mut self, burst: &mut Burst<'_, N>) -> usize {
        self.rx_burst(burst)
    }
}

impl RxBurst for ExceptionRx {
    fn rx<const N: usize>(&mut self, burst: &mut Burst<'_, N>) -> usize {
        self.rx_burst(burst)
    }
}

fn tx_one(tx: &mut TxQueue, eal: &Eal, m: Mbuf<'_>) -> usize {
    let mut b: Burst<'_, 4> = Burst::new(eal);
    b.push(m).unwrap();
    tx.tx_burst(&mut b)
}

#[test]
fn dpdk_api_against_eal_and_kernel() {
    if let Err(why) = common::can_run() {
        eprintln!("skipped: {why}");
        return;
    }
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .try_init();
    let pid = std::process::id();
    let args: Vec<String> = [
        "dpdk_api",
        "-l",
        "0",
        "--no-pci",
        "--no-huge",
        "-m",
        "256",
        "--vdev=net_ring_api0",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([format!("--file-prefix=dpdk-api-test-{pid}")])
    .collect();
    let eal = Eal::init(&args).expect("EAL init");
    let pool = Mempool::new(&eal, "api_pool", 2047, SOCKET_ANY).expect("mempool");

    ring_steps(&eal, &pool);
    views_and_copy_steps(&eal, &pool);
    net_ring_stats_step(&eal, &pool);
    probe_vdev_steps(&eal, &pool);
    exception_inside_steps(&eal, &pool);
    exception_outside_steps(&eal, &pool);
    assert_eq!(pool.in_use(), 0, "every mbuf went back to the pool");
    drop(pool);
    drop(eal);
    // EAL leaves its runtime directory behind; this run's prefix is unique.
    let _ = std::fs::remove_dir_all(format!("/var/run/dpdk/dpdk-api-test-{pid}"));
}

/// Order, a full ring leaving the rest in the burst, Send ends on another
/// thread, and drop freeing what is still queued.
fn ring_steps(eal: &Eal, pool: &Mempool) {
    assert_eq!(pool.in_use(), 0);
    let ring = Ring::new(eal, "api_ring", 4, SOCKET_ANY).expect("ring");
    assert_eq!(
        ring.capacity(),
        4,
        "RING_F_EXACT_SZ: exactly what was asked"
    );
    let err = Ring::new(eal, "api_ring", 4, SOCKET_ANY).unwrap_err();
    assert!(matches!(err, DpdkError::Ring { .. }), "{err}");
    assert!(err.to_string().contains("names must be unique"), "{err}");

    let (mut prod, mut cons) = ring.split();
    let mut burst: Burst<'_, 8> = Burst::new(eal);
    for tag in 0..6u8 {
        burst.push(mbuf_with(pool, &[tag, 0xee])).unwrap();
    }
    // Full after 4: the other two stay in the burst, in order, at its front.
    assert_eq!(prod.enqueue_burst(&mut burst), 4);
    assert_eq!(tags(&burst), [4, 5]);
    assert_eq!(prod.len(), 4);
    assert_eq!(prod.enqueue_burst(&mut burst), 0, "ring full");
    assert_eq!(tags(&burst), [4, 5]);
    assert_eq!(pool.in_use(), 6);

    // The consumer on another thread (both ends are Send).
    let mut got: Burst<'_, 8> = Burst::new(eal);
    std::thread::scope(|s| {
        s.spawn(|| {
            assert_eq!(cons.dequeue_burst(&mut got), 4);
        });
    });
    assert_eq!(tags(&got), [0, 1, 2, 3], "FIFO order");
    // The producer on another thread too.
    std::thread::scope(|s| {
        s.spawn(|| assert_eq!(prod.enqueue_burst(&mut burst), 2));
    });
    assert!(burst.is_empty());
    // A small burst takes only what fits.
    let mut two: Burst<'_, 1> = Burst::new(eal);
    assert_eq!(cons.dequeue_burst(&mut two), 1);
    assert_eq!(tags(&two), [4]);
    drop(two);
    drop(got);
    assert_eq!(pool.in_use(), 1, "one mbuf still in the ring");
    // Dropping both ends frees the ring and what it holds.
    drop(prod);
    assert_eq!(pool.in_use(), 1, "the consumer keeps the ring alive");
    drop(cons);
    assert_eq!(pool.in_use(), 0, "the ring's mbufs were freed with it");
    // The name is free again: the ring itself was freed.
    let mut ring = Ring::new(eal, "api_ring", 2, SOCKET_ANY).expect("ring again");
    let mut b: Burst<'_, 4> = Burst::new(eal);
    b.push(mbuf_with(pool, &[9])).unwrap();
    assert_eq!(ring.enqueue_burst(&mut b), 1);
    assert_eq!(ring.len(), 1);
    drop(ring);
    assert_eq!(pool.in_use(), 0);
}

/// Burst-wide PacketBuf views (a chain is dropped and counted; indices stay
/// aligned), prefetch, and copies (single-segment and chained).
fn views_and_copy_steps(eal: &Eal, pool: &Mempool) {
    // A pool whose mbufs hold 128 bytes of data: a longer copy is a chain.
    let small = Mempool::with_options(
        eal,
        "api_small",
        63,
        0,
        128 + 128, /* RTE_PKTMBUF_HEADROOM */
        SOCKET_ANY,
    )
    .expect("small pool");
    let long = mbuf_with(pool, &[0xab; 300]);
    let chain = long.copy_to(&small).expect("chained copy");
    assert!(chain.segments() > 1, "300 bytes into 128-byte segments");
    assert_eq!(chain.len(), 300);
    assert!(!chain.is_viewable());
    let plain = long.copy_to(pool).expect("copy");
    assert_eq!(plain.segments(), 1);
    assert_eq!(plain.data(), long.data());
    drop(long);

    let frame = |tag: u8| {
        let mut f = vec![0u8; 14 + 20];
        f[0] = tag;
        f[14] = 0x45;
        f
    };
    let mut burst: Burst<'_, 8> = Burst::new(eal);
    burst.push(mbuf_with(pool, &frame(1))).unwrap();
    burst.push(chain).unwrap();
    burst.push(mbuf_with(pool, &frame(2))).unwrap();
    burst.push(plain).unwrap();
    for m in burst.as_slice() {
        m.prefetch();
    }
    {
        let (mut views, dropped) = burst.views();
        assert_eq!(dropped, 1, "the chain was freed and counted");
        assert_eq!(views.len(), 3);
        assert_eq!(strip_l2_burst(views.as_mut_slice()), 3);
        views[1].data_mut()[0] = 0x46; // second IPv4 header, now at offset 0
        assert!(views[2].prepend(4));
    }
    // Indices line up with the burst, and the bounds were written back.
    assert_eq!(burst.len(), 3);
    let s = burst.as_slice();
    assert_eq!((s[0].len(), s[0].data()[0]), (20, 0x45));
    assert_eq!((s[1].len(), s[1].data()[0]), (20, 0x46));
    assert_eq!(s[2].len(), 300 - 14 + 4);
    let (n, dropped) = burst.with_views(|v| strip_l2_burst(v));
    assert_eq!((n, dropped), (3, 0));
    assert_eq!(burst.as_slice()[0].len(), 6);
    assert_eq!(burst.retain(|m| m.len() == 6), 1);
    assert_eq!(burst.len(), 2);
    drop(burst);
    assert_eq!(small.in_use(), 0);
    assert_eq!(pool.in_use(), 0);
}

/// Port counters on a net_ring loopback; RSS asked on a single-queue port
/// changes nothing.
fn net_ring_stats_step(eal: &Eal, pool: &Mempool) {
    let mut port = Port::by_name(eal, "net_ring_api0").expect("net_ring port");
    let conf = PortConfig {
        rx_desc: 64,
        tx_desc: 64,
        rss_ipv6_src_only: true,
        ..PortConfig::default()
    };
    let (mut rx, mut tx) = port
        .configure(&conf, std::slice::from_ref(pool))
        .expect("configure");
    port.start().expect("start");
    let info = port.info().expect("info");
    assert_eq!(info.driver, "net_ring");
    assert_eq!(port.stats().expect("stats"), Default::default());
    let frame = udp6_frame([2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2], b"count me");
    assert_eq!(tx_one(&mut tx[0], eal, mbuf_with(pool, &frame)), 1);
    let mut b: Burst<'_, 8> = Burst::new(eal);
    let got = rx_until(&mut rx[0], &mut b, Duration::from_secs(2), |f| f == frame)
        .unwrap_or_else(|seen| panic!("net_ring did not loop the frame back: {seen:?}"));
    assert_eq!(got, frame);
    let st = port.stats().expect("stats");
    assert_eq!((st.opackets, st.ipackets), (1, 1), "{st:?}");
    // net_ring counts no bytes (DPDK 22.11); the TAP steps check ibytes.
}

/// rte_dev_probe of a net_tap: its kernel interface appears; closing the
/// port removes it and frees the name for another probe.
fn probe_vdev_steps(eal: &Eal, pool: &Mempool) {
    let iface = "dpdkapi-probe";
    assert!(
        !iface_exists(iface),
        "{iface} left over from an earlier run"
    );
    let devargs = format!("net_tap_api7,iface={iface},mac=02:00:00:00:a7:07");
    let mut port = Port::probe_vdev(eal, &devargs).expect("probe net_tap");
    assert_eq!(port.name(), "net_tap_api7");
    assert_eq!(port.mac_addr().unwrap().to_string(), "02:00:00:00:a7:07");
    let link = run("ip", &["-o", "link", "show", "dev", iface]);
    assert!(link.contains("02:00:00:00:a7:07"), "{link}");
    // The same name again is refused and says so.
    let err = Port::probe_vdev(eal, &devargs).unwrap_err();
    assert!(
        matches!(err, DpdkError::Probe { errno, .. } if errno == libc::EEXIST),
        "{err}"
    );
    // A driver that does not exist.
    let err = Port::probe_vdev(eal, "net_nosuchdriver0")
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("cannot create DPDK device 'net_nosuchdriver0': rte_dev_probe failed: ")
            && err.contains("vdev names start with their driver"),
        "{err}"
    );
    // Configured (two queues with IPv6 source-only RSS asked: net_tap
    // cannot, so it falls back to the IP/TCP/UDP hash) and started, then
    // closed: the kernel interface goes.
    let info = port.info().expect("info");
    assert_eq!(info.driver, "net_tap");
    let conf = PortConfig {
        rx_queues: 2,
        tx_queues: 2,
        rx_desc: 64,
        tx_desc: 64,
        rss_ipv6_src_only: true,
        ..PortConfig::default()
    };
    let (rx, tx) = port
        .configure(&conf, std::slice::from_ref(pool))
        .expect("configure tap with RSS");
    port.start().expect("start tap");
    drop((rx, tx));
    port.close().expect("close");
    assert!(!iface_exists(iface), "{iface} still there after close");
    // And the device name is free again.
    let port = Port::probe_vdev(eal, &devargs).expect("probe the same name again");
    drop(port);
    assert!(!iface_exists(iface));
}

fn udp6_frame(src_mac: [u8; 6], dst_mac: [u8; 6], payload: &[u8]) -> Vec<u8> {
    let mut f = Vec::new();
    PacketBuilder::ethernet2(src_mac, dst_mac)
        .ipv6(
            Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 2).octets(),
            Ipv6Addr::new(0x2001, 0xdb8, 2, 0, 0, 0, 0, 2).octets(),
            64,
        )
        .udp(4000, 5000)
        .write(&mut f, payload)
        .unwrap();
    f
}

/// The inside exception TAP: kernel address, MAC, MTU and sysctl; an echo
/// request tx'd on the TAP reaches the kernel, which resolves the sender
/// with an NS that we rx on the TAP; after our NA, its echo reply comes back.
fn exception_inside_steps(eal: &Eal, pool: &Mempool) {
    let iface = "dpdkapi-in";
    let mac = [0x02, 0, 0, 0, 0xa0, 0x01];
    let peer_mac = [0x02, 0, 0, 0, 0xa0, 0x02];
    let own = Ipv6Addr::new(0x2001, 0xdb8, 0xa, 0, 0, 0, 0, 1);
    let peer = Ipv6Addr::new(0x2001, 0xdb8, 0xa, 0, 0, 0, 0, 2);
    let (ex, mut rx, mut tx) = exception::create(
        eal,
        Side::Inside,
        iface,
        mac,
        IpAddr::V6(own),
        64,
        1400,
        2,
        pool,
    )
    .unwrap_or_else(|e| panic!("exception::create inside: {e}"));
    assert_eq!(ex.iface, iface);
    assert_eq!(tx.len(), 2);
    assert_eq!(rx.queues(), 2, "net_tap pairs rx with tx queues");
    assert!(ex.port.name().starts_with("net_tap"), "{}", ex.port.name());
    let addr = run("ip", &["-br", "addr", "show", "dev", iface]);
    assert!(addr.contains("2001:db8:a::1/64"), "{addr}");
    let link = run("ip", &["-br", "link", "show", "dev", iface]);
    assert!(link.contains("02:00:00:00:a0:01"), "{link}");
    assert!(link.contains("UP"), "{link}");
    assert_eq!(read_sys(&format!("/sys/class/net/{iface}/mtu")), "1400");
    assert_eq!(
        read_sys(&format!("/proc/sys/net/ipv6/conf/{iface}/accept_ra")),
        "0"
    );
    assert_eq!(ex.port.mac_addr().unwrap().0, mac);

    // The name is taken now: a second create says what to do.
    let err = exception::create(
        eal,
        Side::Inside,
        iface,
        mac,
        IpAddr::V6(own),
        64,
        1400,
        1,
        pool,
    )
    .unwrap_err();
    assert!(
        err.contains("exists already") && err.contains("ip link del dpdkapi-in"),
        "{err}"
    );

    // Echo request from the peer to the kernel's address.
    let mut req = Vec::new();
    PacketBuilder::ethernet2(peer_mac, mac)
        .ipv6(peer.octets(), own.octets(), 64)
        .icmpv6_echo_request(0x1234, 1)
        .write(&mut req, b"to the kernel")
        .unwrap();
    let before = ex.port.stats().unwrap();
    let rx_kernel_before: u64 = read_sys(&format!("/sys/class/net/{iface}/statistics/rx_packets"))
        .parse()
        .unwrap();
    assert_eq!(tx_one(&mut tx[1], eal, mbuf_with(pool, &req)), 1);
    let mut burst: Burst<'_, 32> = Burst::new(eal);
    let ns = rx_until(&mut rx, &mut burst, KERNEL_WAIT, |f| {
        icmpv6(f).is_some_and(|(ty, body)| ty == 135 && body.get(4..20) == Some(&peer.octets()[..]))
    })
    .unwrap_or_else(|seen| panic!("no NS for {peer} from the kernel; saw {seen:02x?}"));
    let rx_kernel: u64 = read_sys(&format!("/sys/class/net/{iface}/statistics/rx_packets"))
        .parse()
        .unwrap();
    assert!(rx_kernel > rx_kernel_before, "the kernel counted our frame");
    // The kernel's frame comes from the TAP's (the real port's) MAC.
    assert_eq!(&ns[6..12], &mac);

    // NA: solicited + override, target LL option.
    let mut na_body = peer.octets().to_vec();
    na_body.extend_from_slice(&[2, 1]);
    na_body.extend_from_slice(&peer_mac);
    let mut na = Vec::new();
    PacketBuilder::ethernet2(peer_mac, mac)
        .ipv6(peer.octets(), own.octets(), 255)
        .icmpv6(Icmpv6Type::Unknown {
            type_u8: 136,
            code_u8: 0,
            bytes5to8: [0x60, 0, 0, 0],
        })
        .write(&mut na, &na_body)
        .unwrap();
    assert_eq!(tx_one(&mut tx[0], eal, mbuf_with(pool, &na)), 1);
    let reply = rx_until(&mut rx, &mut burst, KERNEL_WAIT, |f| {
        icmpv6(f).is_some_and(|(ty, _)| ty == 129)
    })
    .unwrap_or_else(|seen| panic!("no echo reply from the kernel; saw {seen:02x?}"));
    let p = SlicedPacket::from_ethernet(&reply).unwrap();
    let Some(LinkSlice::Ethernet2(eth)) = &p.link else {
        panic!("not Ethernet")
    };
    assert_eq!((eth.source(), eth.destination()), (mac, peer_mac));
    let Some(NetSlice::Ipv6(ip6)) = &p.net else {
        panic!("not IPv6")
    };
    assert_eq!(ip6.header().source_addr(), own);
    assert_eq!(ip6.header().destination_addr(), peer);
    let Some(TransportSlice::Icmpv6(icmp)) = &p.transport else {
        panic!("not ICMPv6")
    };
    assert_eq!(icmp.payload(), b"to the kernel");
    let after = ex.port.stats().unwrap();
    assert!(
        after.opackets >= before.opackets + 2,
        "{before:?} {after:?}"
    );
    assert!(
        after.ipackets >= before.ipackets + 2,
        "{before:?} {after:?}"
    );
    assert!(after.ibytes > before.ibytes);

    drop(burst);
    drop((rx, tx));
    drop(ex);
    assert!(
        !iface_exists(iface),
        "the kernel interface goes with the port"
    );
}

/// The outside exception TAP: IPv4 address, IPv6 off; the kernel's ARP for
/// an on-link address (ping from that interface) is rx'd on the TAP.
fn exception_outside_steps(eal: &Eal, pool: &Mempool) {
    let iface = "dpdkapi-out";
    let mac = [0x02, 0, 0, 0, 0xb0, 0x01];
    let (ex, mut rx, tx) = exception::create(
        eal,
        Side::Outside,
        iface,
        mac,
        IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)),
        24,
        1500,
        1,
        pool,
    )
    .unwrap_or_else(|e| panic!("exception::create outside: {e}"));
    let addr = run("ip", &["-br", "addr", "show", "dev", iface]);
    assert!(addr.contains("192.0.2.1/24"), "{addr}");
    assert_eq!(
        read_sys(&format!("/proc/sys/net/ipv6/conf/{iface}/disable_ipv6")),
        "1"
    );
    // Wrong family for the side.
    let err = exception::create(
        eal,
        Side::Outside,
        "dpdkapi-x",
        mac,
        IpAddr::V6(Ipv6Addr::LOCALHOST),
        64,
        1500,
        1,
        pool,
    )
    .unwrap_err();
    assert!(err.contains("wrong family"), "{err}");

    let before = ex.port.stats().unwrap();
    let ping = std::thread::spawn(move || {
        Command::new("ping")
            .args(["-c1", "-W1", "-I", iface, "192.0.2.77"])
            .output()
    });
    let mut burst: Burst<'_, 32> = Burst::new(eal);
    let arp = rx_until(&mut rx, &mut burst, KERNEL_WAIT, |f| {
        f.len() >= 42 && f[12..14] == [0x08, 0x06] && f[38..42] == [192, 0, 2, 77]
    });
    let _ = ping.join();
    let arp = arp.unwrap_or_else(|seen| panic!("no ARP request from the kernel; saw {seen:02x?}"));
    assert_eq!(&arp[0..6], &[0xff; 6], "broadcast");
    assert_eq!(&arp[6..12], &mac);
    assert_eq!(&arp[20..22], &[0, 1], "request");
    assert_eq!(&arp[28..32], &[192, 0, 2, 1], "sender: the box's address");
    let after = ex.port.stats().unwrap();
    assert!(after.ipackets > before.ipackets, "{before:?} {after:?}");
    drop(burst);
    drop((rx, tx, ex));
    assert!(!iface_exists(iface));
}

/// ICMPv6 type and the bytes after the 4-byte type/code/checksum, parsed
/// by etherparse; `None` if the frame is not ICMPv6.
fn icmpv6(frame: &[u8]) -> Option<(u8, Vec<u8>)> {
    let p = SlicedPacket::from_ethernet(frame).ok()?;
    match p.transport? {
        TransportSlice::Icmpv6(icmp) => {
            let s = icmp.slice();
            Some((s[0], s.get(4..)?.to_vec()))
        }
        _ => None,
    }
}
