//! A real upstream for the DNS64 tests: nsd (Debian's `nsd` package)
//! serving the test zone `n64.example.` (`tests/dns64/zone/`) on a free
//! loopback port, UDP and TCP.
//!
//! [`Nsd::start`] copies the zone and fills in `tests/dns64/nsd.conf` in a
//! temp directory of its own, starts `nsd -d` in a process group of its
//! own, and returns once it answers a SOA query; dropping the [`Nsd`]
//! stops the whole group (nsd forks a transfer daemon and a server
//! process) and removes the directory. The tests skip, with the reason
//! printed, only when nsd is not installed, and never under CI (`CI`
//! set): there they fail.

use std::net::{Ipv4Addr, SocketAddr, TcpListener, UdpSocket};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// The test zone's origin.
pub const ZONE: &str = "n64.example.";

/// Where nsd is installed on Debian.
const NSD: &str = "/usr/sbin/nsd";

/// `Err(why)` when nsd is not installed (a failure under CI).
pub fn can_run() -> Result<(), String> {
    let found = Path::new(NSD).exists()
        || Command::new("nsd")
            .arg("-v")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok();
    match found {
        true => Ok(()),
        false if std::env::var_os("CI").is_some() => {
            panic!("CI is set, so the DNS64 tests may not skip: nsd is not installed")
        }
        false => Err("nsd is not installed (Debian package nsd); run scripts/setup.sh".into()),
    }
}

/// A running nsd; stopped on drop.
pub struct Nsd {
    child: Child,
    dir: PathBuf,
    addr: SocketAddr,
}

impl Nsd {
    /// Start nsd on a free loopback port and wait (at most 10 s) until it
    /// answers.
    pub fn start() -> Nsd {
        static SEQ: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "nat64-nsd-{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("nsd temp dir");
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/dns64");
        std::fs::copy(
            fixtures.join("zone/n64.example.zone"),
            dir.join("n64.example.zone"),
        )
        .expect("copy the test zone");
        let port = free_port();
        let conf = std::fs::read_to_string(fixtures.join("nsd.conf"))
            .expect("tests/dns64/nsd.conf")
            .replace("@DIR@", dir.to_str().expect("temp dir is UTF-8"))
            .replace("@PORT@", &port.to_string());
        let conf_path = dir.join("nsd.conf");
        std::fs::write(&conf_path, conf).expect("write nsd.conf");
        let nsd = if Path::new(NSD).exists() { NSD } else { "nsd" };
        let child = Command::new(nsd)
            .arg("-d")
            .arg("-c")
            .arg(&conf_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("start nsd");
        let mut nsd = Nsd {
            child,
            dir,
            addr: (Ipv4Addr::LOCALHOST, port).into(),
        };
        nsd.wait_ready();
        nsd
    }

    /// Where it listens (UDP and TCP).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// nsd's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("nsd.log")).unwrap_or_default()
    }

    fn wait_ready(&mut self) {
        let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind");
        socket
            .set_read_timeout(Some(Duration::from_millis(100)))
            .expect("timeout");
        let probe = soa_query(0x5a5a);
        let until = Instant::now() + Duration::from_secs(10);
        let mut buf = [0; 512];
        while Instant::now() < until {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("nsd exited with {status} at start:\n{}", self.log());
            }
            let _ = socket.send_to(&probe, self.addr);
            if let Ok((n, from)) = socket.recv_from(&mut buf) {
                if from == self.addr && n >= 12 && buf[..2] == probe[..2] {
                    return;
                }
            }
        }
        panic!("nsd did not answer within 10 s:\n{}", self.log());
    }
}

impl Drop for Nsd {
    fn drop(&mut self) {
        super::dns::stop_group(&mut self.child, Duration::from_secs(3));
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A loopback port free for both UDP and TCP at this moment.
fn free_port() -> u16 {
    for _ in 0..100 {
        let udp = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind");
        let port = udp.local_addr().expect("local addr").port();
        if TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok() {
            return port;
        }
    }
    panic!("no free loopback port for UDP and TCP")
}

/// A SOA query for the zone's apex, built by hand.
fn soa_query(id: u16) -> Vec<u8> {
    let mut m = id.to_be_bytes().to_vec();
    m.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
    for label in ZONE.trim_end_matches('.').split('.') {
        m.push(label.len() as u8);
        m.extend_from_slice(label.as_bytes());
    }
    m.extend_from_slice(&[0, 0, 6, 0, 1]);
    m
}
