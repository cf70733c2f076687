use super::*;
use crate::nat64::Subscriber;

fn ev(kind: BlockEventKind) -> BlockEvent {
    BlockEvent {
        time: 1_500,
        kind,
        subscriber: Subscriber("2001:db8:1::".parse().unwrap()),
        prefix_len: 56,
        addr: Ipv4Addr::new(203, 0, 113, 1),
        first_port: 1024,
        last_port: 1535,
    }
}

#[test]
fn rfc3339_known_instants() {
    assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
    // 2000-02-29 (a leap day of a century leap year) 12:34:56.789.
    let t = UNIX_EPOCH + Duration::from_millis(951_827_696_789);
    assert_eq!(rfc3339(t), "2000-02-29T12:34:56.789Z");
    // 2026-11-26T00:00:00Z = 1_795_651_200.
    let t = UNIX_EPOCH + Duration::from_secs(1_795_651_200);
    assert_eq!(rfc3339(t), "2026-11-26T00:00:00.000Z");
}

#[test]
fn rfc6888_req12_file_line_has_subscriber_address_ports_no_destination() {
    let at = UNIX_EPOCH + Duration::from_secs(1_795_651_200);
    let line = file_line(&ev(BlockEventKind::Allocated), at);
    assert_eq!(
        line,
        "2026-11-26T00:00:00.000Z allocated subscriber=2001:db8:1::/56 address=203.0.113.1 ports=1024-1535"
    );
    let mut refused = ev(BlockEventKind::PoolExhausted);
    refused.addr = Ipv4Addr::UNSPECIFIED;
    refused.first_port = 0;
    refused.last_port = 0;
    assert!(file_line(&refused, at)
        .ends_with("pool-exhausted subscriber=2001:db8:1::/56 address=- ports=-"));
}

#[test]
fn rfc5424_message_shape() {
    let at = UNIX_EPOCH + Duration::from_secs(1_795_651_200);
    let m = syslog_message(&ev(BlockEventKind::Released), at, "cgn1", 42);
    assert!(m.starts_with("<134>1 2026-11-26T00:00:00.000Z cgn1 nat64-dpdk 42 NAT64-BLOCK [nat64@32473 event=\"released\" subscriber=\"2001:db8:1::/56\" address=\"203.0.113.1\" ports=\"1024-1535\"] "), "{m}");
}

#[test]
fn file_sink_appends_lines_and_syslog_sink_sends_datagrams() {
    let dir = std::env::temp_dir().join(format!("nat64-events-{}", std::process::id()));
    let path = dir.join("sub/events.log");
    let mut log = EventLog::open(&EventSink::File(path.clone()), UNIX_EPOCH).unwrap();
    log.write(&ev(BlockEventKind::Allocated));
    log.write(&ev(BlockEventKind::Released));
    log.flush();
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text.lines().count(), 2, "{text}");
    assert!(text.lines().nth(1).unwrap().contains(" released "));
    let _ = std::fs::remove_dir_all(&dir);

    let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
    rx.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let port = rx.local_addr().unwrap().port();
    let sink = EventSink::Syslog {
        host: "127.0.0.1".into(),
        port,
    };
    let mut log = EventLog::open(&sink, UNIX_EPOCH).unwrap();
    log.write(&ev(BlockEventKind::SubscriberLimit));
    let mut buf = [0u8; 1024];
    let n = rx.recv(&mut buf).unwrap();
    let msg = std::str::from_utf8(&buf[..n]).unwrap();
    assert!(msg.starts_with("<134>1 1970-01-01T00:00:01.500Z "), "{msg}");
    assert!(msg.contains("event=\"subscriber-limit\""), "{msg}");
    assert_eq!(log.written, 1);
}

#[test]
fn unopenable_file_names_the_key() {
    let e = EventLog::open(&EventSink::File("/proc/nope/events.log".into()), UNIX_EPOCH)
        .err()
        .unwrap();
    assert!(e.starts_with("logging.events: "), "{e}");
}

/// logrotate moves the file away and signals: the next event starts a new
/// file at the path, nothing is lost or written twice.
#[test]
fn reopen_after_rotation_writes_to_a_new_file_at_the_path() {
    let dir = std::env::temp_dir().join(format!("nat64-events-reopen-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let path = dir.join("events.log");
    let sink = EventSink::File(path.clone());
    let mut log = EventLog::open(&sink, UNIX_EPOCH).unwrap();
    log.write(&ev(BlockEventKind::Allocated));
    let rotated = dir.join("events.log.1");
    std::fs::rename(&path, &rotated).unwrap();
    // Buffered before the rotation: flushed into the rotated file.
    log.reopen(&sink).unwrap();
    log.write(&ev(BlockEventKind::Released));
    log.flush();
    let old = std::fs::read_to_string(&rotated).unwrap();
    let new = std::fs::read_to_string(&path).unwrap();
    assert_eq!(old.lines().count(), 1, "{old}");
    assert!(old.contains(" allocated "), "{old}");
    assert_eq!(new.lines().count(), 1, "{new}");
    assert!(new.contains(" released "), "{new}");
    assert_eq!(log.written, 2);
    // A sink that cannot be opened leaves the current one in place.
    let bad = EventSink::File("/proc/nope/events.log".into());
    assert!(log
        .reopen(&bad)
        .unwrap_err()
        .starts_with("logging.events: "));
    log.write(&ev(BlockEventKind::Allocated));
    log.flush();
    assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 2);
    let _ = std::fs::remove_dir_all(&dir);
}
