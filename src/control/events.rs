//! The port-block event log (RFC 6888 REQ-12 and REQ-13).
//!
//! Workers queue a [`BlockEvent`] when a subscriber gets or gives back a
//! block of ports, or is refused one (REQ-11); the control side drains the
//! queues and writes each event once to `logging.events`:
//!
//! - `file:/PATH`: one line per event, appended:
//!   `2026-11-26T12:00:00.123Z allocated subscriber=2001:db8:1::/56 address=203.0.113.1 ports=1024-1535`
//! - `syslog+udp://HOST:PORT`: one RFC 5424 message per event over UDP
//!   (RFC 5426), facility local0, severity informational, MSGID
//!   `NAT64-BLOCK`, the same fields as structured data under the
//!   documentation enterprise number 32473 (RFC 5612).
//!
//! Events never carry destination addresses (REQ-12): a block log is
//! enough to answer "who had this address and port at that time".

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::net::{Ipv4Addr, ToSocketAddrs, UdpSocket};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::config::EventSink;
use crate::nat64::{BlockEvent, BlockEventKind};

/// Name of an event kind in the log.
pub fn kind_name(k: BlockEventKind) -> &'static str {
    match k {
        BlockEventKind::Allocated => "allocated",
        BlockEventKind::Released => "released",
        BlockEventKind::SubscriberLimit => "subscriber-limit",
        BlockEventKind::PoolExhausted => "pool-exhausted",
    }
}

/// `t` as an RFC 3339 UTC timestamp with milliseconds
/// (`1985-04-12T23:20:50.520Z`), as RFC 5424 §6.2.3 wants.
pub fn rfc3339(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
    let secs = d.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, dd) = civil_from_days(days as i64);
    format!(
        "{y:04}-{m:02}-{dd:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        d.subsec_millis()
    )
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian
/// calendar (the well-known era-based conversion).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// The fields of an event as `key=value` pairs, in log order.
fn fields(ev: &BlockEvent) -> [(&'static str, String); 4] {
    let ports = if ev.first_port == 0 && ev.last_port == 0 {
        "-".to_string()
    } else {
        format!("{}-{}", ev.first_port, ev.last_port)
    };
    let addr = if ev.addr == Ipv4Addr::UNSPECIFIED {
        "-".to_string()
    } else {
        ev.addr.to_string()
    };
    [
        ("event", kind_name(ev.kind).to_string()),
        (
            "subscriber",
            format!("{}/{}", ev.subscriber.0, ev.prefix_len),
        ),
        ("address", addr),
        ("ports", ports),
    ]
}

/// One file line (without the newline).
pub fn file_line(ev: &BlockEvent, at: SystemTime) -> String {
    let f = fields(ev);
    format!(
        "{} {} {}={} {}={} {}={}",
        rfc3339(at),
        f[0].1,
        f[1].0,
        f[1].1,
        f[2].0,
        f[2].1,
        f[3].0,
        f[3].1
    )
}

/// One RFC 5424 message: `<134>1 TIMESTAMP HOST nat64-dpdk PID NAT64-BLOCK [SD] MSG`.
pub fn syslog_message(ev: &BlockEvent, at: SystemTime, host: &str, pid: u32) -> String {
    let f = fields(ev);
    // PRI = facility local0 (16) * 8 + severity informational (6).
    let mut sd = String::from("[nat64@32473");
    for (k, v) in &f {
        // RFC 5424 §6.3.3: '"', '\' and ']' are escaped in PARAM-VALUE.
        let v = v
            .replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace(']', "\\]");
        sd.push_str(&format!(" {k}=\"{v}\""));
    }
    sd.push(']');
    format!(
        "<134>1 {} {host} nat64-dpdk {pid} NAT64-BLOCK {sd} {} {} {} ports {}",
        rfc3339(at),
        f[0].1,
        f[1].1,
        f[2].1,
        f[3].1
    )
}

enum Sink {
    File(BufWriter<File>),
    Syslog { socket: UdpSocket, host: String },
}

/// Where events are written.
pub struct EventLog {
    sink: Sink,
    /// Wall-clock time of the workers' millisecond 0.
    epoch: SystemTime,
    pid: u32,
    /// Events that could not be written.
    pub failed: u64,
    /// Events written.
    pub written: u64,
}

impl EventLog {
    /// Open `sink`; `epoch` is the wall-clock time of the workers' clock
    /// zero. Errors name `logging.events`.
    pub fn open(sink: &EventSink, epoch: SystemTime) -> Result<EventLog, String> {
        let sink = match sink {
            EventSink::File(path) => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(|e| {
                        format!("logging.events: cannot create {}: {e}", dir.display())
                    })?;
                }
                let f = OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .map_err(|e| format!("logging.events: cannot open {}: {e}", path.display()))?;
                Sink::File(BufWriter::new(f))
            }
            EventSink::Syslog { host, port } => {
                let target = (host.as_str(), *port)
                    .to_socket_addrs()
                    .map_err(|e| format!("logging.events: cannot resolve {host}: {e}"))?
                    .next()
                    .ok_or_else(|| format!("logging.events: {host} has no address"))?;
                let bind = if target.is_ipv6() {
                    "[::]:0"
                } else {
                    "0.0.0.0:0"
                };
                let socket = UdpSocket::bind(bind)
                    .and_then(|s| s.connect(target).map(|()| s))
                    .map_err(|e| format!("logging.events: syslog socket to {target}: {e}"))?;
                let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
                    .map(|h| h.trim().to_string())
                    .ok()
                    .filter(|h| !h.is_empty() && h.is_ascii() && !h.contains(' '))
                    .unwrap_or_else(|| "-".to_string());
                Sink::Syslog { socket, host }
            }
        };
        Ok(EventLog {
            sink,
            epoch,
            pid: std::process::id(),
            failed: 0,
            written: 0,
        })
    }

    /// Open `sink` again (SIGHUP: a `file:` log moved away by logrotate
    /// starts anew at its path, or a reload's new `logging.events`), after
    /// flushing what is buffered; the counts go on. On an error the
    /// current sink stays.
    pub fn reopen(&mut self, sink: &EventSink) -> Result<(), String> {
        self.flush();
        let next = EventLog::open(sink, self.epoch)?;
        self.sink = next.sink;
        Ok(())
    }

    /// Write one event.
    pub fn write(&mut self, ev: &BlockEvent) {
        let at = self.epoch + Duration::from_millis(ev.time);
        let ok = match &mut self.sink {
            Sink::File(f) => writeln!(f, "{}", file_line(ev, at)).is_ok(),
            Sink::Syslog { socket, host } => {
                let msg = syslog_message(ev, at, host, self.pid);
                socket.send(msg.as_bytes()).is_ok()
            }
        };
        if ok {
            self.written += 1;
        } else {
            self.failed += 1;
        }
    }

    /// Push buffered lines to the file.
    pub fn flush(&mut self) {
        if let Sink::File(f) = &mut self.sink {
            if f.flush().is_err() {
                self.failed += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests;
