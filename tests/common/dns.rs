//! DNS exchanges for the DNS64 tests: queries built and answers read with
//! hickory-proto (an independent implementation), over UDP and TCP.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hickory_proto::op::{Edns, Message, Query};
use hickory_proto::rr::{Name, RecordType};

/// A query with RD set, with EDNS(0) and this UDP payload size when `edns`.
pub fn query_msg(id: u16, name: &str, rtype: RecordType, edns: Option<u16>) -> Vec<u8> {
    let mut m = Message::query();
    m.metadata.id = id;
    m.metadata.recursion_desired = true;
    m.add_query(Query::query(Name::from_ascii(name).unwrap(), rtype));
    if let Some(size) = edns {
        let mut e = Edns::new();
        e.set_max_payload(size);
        m.set_edns(e);
    }
    m.to_vec().unwrap()
}

/// `q` to `server` over UDP from a loopback socket of its family; the
/// answer's bytes, or `None` when none came within `wait`.
pub fn udp_exchange(server: SocketAddr, q: &[u8], wait: Duration) -> Option<Vec<u8>> {
    let bind: SocketAddr = match server {
        SocketAddr::V4(_) => (Ipv4Addr::LOCALHOST, 0).into(),
        SocketAddr::V6(_) => (Ipv6Addr::LOCALHOST, 0).into(),
    };
    let s = UdpSocket::bind(bind).unwrap();
    s.set_read_timeout(Some(wait)).unwrap();
    s.send_to(q, server).unwrap();
    let mut buf = vec![0; 65535];
    let (n, _) = s.recv_from(&mut buf).ok()?;
    Some(buf[..n].to_vec())
}

/// `q` to `server` over a new TCP connection (RFC 7766 length prefix); the
/// answer's bytes.
pub fn tcp_exchange(server: SocketAddr, q: &[u8]) -> Vec<u8> {
    let mut s = TcpStream::connect(server).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut framed = (q.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(q);
    s.write_all(&framed).unwrap();
    let mut len = [0; 2];
    s.read_exact(&mut len).unwrap();
    let mut buf = vec![0; usize::from(u16::from_be_bytes(len))];
    s.read_exact(&mut buf).unwrap();
    buf
}

/// Stops a DNS server the tests started as the leader of its own process
/// group: SIGTERM to the group, up to `grace` for it to exit, then SIGKILL
/// to whatever is left of the group (a server's worker may outlive the
/// main process by a moment), and reaps it.
pub fn stop_group(child: &mut Child, grace: Duration) {
    let group = format!("-{}", child.id());
    let _ = Command::new("kill")
        .args(["-TERM", "--", &group])
        .stderr(Stdio::null())
        .status();
    let until = Instant::now() + grace;
    while Instant::now() < until {
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = Command::new("kill")
        .args(["-KILL", "--", &group])
        .stderr(Stdio::null())
        .status();
    let _ = child.wait();
}
