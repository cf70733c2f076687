//! The CLI's table and stats rendering, from JSON and exposition text
//! built with serde_json and the server's own renderer's format.

use super::*;

#[test]
fn table_aligns_columns_and_flattens_objects() {
    let rows: Vec<Value> = serde_json::from_str(
        r#"[{"worker":0,"protocol":"tcp","inside":{"address":"2001:db8:1::10","port":40000},
             "remote":{"ipv6":"64:ff9b::c633:6407","ipv4":"198.51.100.7","port":80},"state":null},
            {"worker":12,"protocol":"udp","inside":{"address":"2001:db8:1::2","port":53},
             "remote":{"ipv6":"64:ff9b::1","ipv4":"0.0.0.1","port":5353},"state":"ESTABLISHED"}]"#,
    )
    .unwrap();
    let t = table(&rows);
    let lines: Vec<&str> = t.lines().collect();
    assert_eq!(lines.len(), 3);
    let header: Vec<&str> = lines[0].split_whitespace().collect();
    assert_eq!(
        header,
        [
            "worker",
            "protocol",
            "inside",
            "remote.ipv6",
            "remote.ipv4",
            "remote.port",
            "state"
        ]
    );
    // Every column starts at the same offset on every line.
    fn at<'a>(header: &str, l: &'a str, name: &str) -> Option<&'a str> {
        header.find(name).map(|i| &l[i..])
    }
    let col = |l, name| at(lines[0], l, name);
    assert!(col(lines[1], "inside")
        .unwrap()
        .starts_with("2001:db8:1::10 40000"));
    assert!(col(lines[2], "inside")
        .unwrap()
        .starts_with("2001:db8:1::2 53"));
    assert!(col(lines[1], "state").unwrap().starts_with('-'));
    assert!(col(lines[2], "state").unwrap().starts_with("ESTABLISHED"));
    assert_eq!(table(&[]), "(none)\n");
}

#[test]
fn stats_keeps_nonzero_samples() {
    let text = "# HELP nat64_rx_packets_total Frames received.\n\
                # TYPE nat64_rx_packets_total counter\n\
                nat64_rx_packets_total{port=\"inside\"} 12\n\
                nat64_rx_packets_total{port=\"outside\"} 0\n\
                nat64_sessions 3\n";
    let s = stats(text);
    let lines: Vec<Vec<&str>> = s.lines().map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(
        lines,
        [
            vec!["nat64_rx_packets_total{port=\"inside\"}", "12"],
            vec!["nat64_sessions", "3"]
        ]
    );
}
