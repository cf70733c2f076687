//! Query strings, the rounds over the workers and the cursor (against a
//! fake set of workers), and the JSON shapes, read back with serde_json.

use super::*;
use crate::nat64::inspect::SessionRow;
use crate::nat64::{TcpState, L4};
use serde_json::Value;

fn bad(table: Table, q: &str) -> String {
    match parse(table, q) {
        Err(Error::BadRequest(m)) => m,
        other => panic!("{q}: {other:?}"),
    }
}

#[test]
fn query_strings_parse_or_name_the_bad_parameter() {
    let r = parse(Table::Sessions, "").unwrap();
    assert_eq!(
        (r.limit, r.cursor, r.subscriber, r.proto),
        (DEFAULT_LIMIT, None, None, None)
    );
    // Percent-encoded as a browser or ureq sends it.
    let r = parse(
        Table::Sessions,
        "subscriber=2001%3Adb8%3A1%3A%3A%2F56&proto=tcp&limit=7&cursor=1.-.42",
    )
    .unwrap();
    assert_eq!(r.subscriber, Some("2001:db8:1::/56".parse().unwrap()));
    assert_eq!(r.proto, Some(L4::Tcp));
    assert_eq!(r.limit, 7);
    assert_eq!(r.cursor, Some(Cursor(vec![Some(1), None, Some(42)])));
    assert!(bad(Table::Sessions, "subscriber=2001:db8::/200").starts_with("subscriber:"));
    assert!(bad(Table::Bib, "proto=sctp").starts_with("proto:"));
    assert!(bad(Table::Bib, "limit=0").starts_with("limit:"));
    assert!(bad(Table::Bib, &format!("limit={}", MAX_LIMIT + 1)).starts_with("limit:"));
    assert!(bad(Table::Bib, "limit=ten").starts_with("limit:"));
    assert!(bad(Table::Blocks, "cursor=zz").starts_with("cursor:"));
    assert!(bad(Table::Blocks, "cursor=1..2").starts_with("cursor:"));
    assert!(bad(Table::Blocks, "proto=udp").contains("\"proto\""));
    assert!(bad(Table::Sessions, "colour=red").contains("\"colour\""));
    let c = Cursor(vec![None, Some(9), Some(0)]);
    assert_eq!(Cursor::decode(&c.encode()), Some(c));
}

fn row(port: u16) -> SessionRow {
    SessionRow {
        proto: L4::Tcp,
        inside: ("2001:db8:1::10".parse().unwrap(), port),
        outside: ("192.0.2.1".parse().unwrap(), 2000 + port),
        remote: ("198.51.100.7".parse().unwrap(), 80),
        remote6: "64:ff9b::c633:6407".parse().unwrap(),
        tcp: Some(TcpState::Established),
        expires_in: 7_439_500,
    }
}

/// Fake workers: worker w holds `per[w]` sessions in every other slot
/// (0, 2, 4, ...), pages of at most `scan` slots per call (as
/// `SCAN_SLOTS` bounds a real one). Counts the rounds.
fn fake<'a>(
    per: &'a [usize],
    scan: usize,
    rounds: &'a mut usize,
) -> impl FnMut(&[(usize, Query)]) -> Result<Vec<Page>, Error> + 'a {
    move |asks| {
        *rounds += 1;
        Ok(asks
            .iter()
            .map(|&(w, q)| {
                let cap = per[w] * 2;
                let end = (q.from + scan).min(cap);
                let mut rows = Vec::new();
                let mut slots = Vec::new();
                let mut next = (end < cap).then_some(end);
                for slot in (q.from..end).filter(|s| s % 2 == 0) {
                    if rows.len() == q.limit {
                        next = Some(slot);
                        break;
                    }
                    rows.push(row((w * 1000 + slot / 2) as u16));
                    slots.push(slot);
                }
                Page {
                    rows: Rows::Sessions(rows),
                    slots,
                    next,
                }
            })
            .collect())
    }
}

#[test]
fn the_cursor_walks_every_worker_once() {
    let per = [5, 0, 12, 3];
    let mut seen = Vec::new();
    let mut q = "limit=4".to_string();
    let mut pages = 0;
    let mut rounds = 0;
    loop {
        let req = parse(Table::Sessions, &q).unwrap();
        let got = collect(&req, per.len(), fake(&per, 5, &mut rounds)).unwrap();
        assert!(got.sessions.len() <= 4);
        seen.extend(got.sessions.iter().map(|(w, r)| (*w, r.inside.1)));
        pages += 1;
        match got.next {
            Some(n) => q = format!("limit=4&cursor={}", n.encode()),
            None => break,
        }
        assert!(pages < 50, "the walk does not end");
    }
    let mut want: Vec<(usize, u16)> = per
        .iter()
        .enumerate()
        .flat_map(|(w, &n)| (0..n).map(move |s| (w, (w * 1000 + s) as u16)))
        .collect();
    seen.sort();
    want.sort();
    assert_eq!(seen, want, "each row exactly once");
    // Every page but the last is full.
    assert_eq!(pages, per.iter().sum::<usize>().div_ceil(4));

    // One round asks every worker at once: one page of all the rows.
    let mut rounds = 0;
    let req = parse(Table::Sessions, "limit=100").unwrap();
    let got = collect(&req, per.len(), fake(&per, 1000, &mut rounds)).unwrap();
    assert_eq!((got.sessions.len(), rounds, got.next), (20, 1, None));
    // A cursor for another number of workers is refused.
    let req = parse(Table::Sessions, "cursor=0.0").unwrap();
    assert!(matches!(
        collect(&req, 4, fake(&per, 5, &mut rounds)),
        Err(Error::BadRequest(m)) if m.starts_with("cursor:")
    ));
}

#[test]
fn a_silent_worker_is_named() {
    let req = parse(Table::Bib, "").unwrap();
    let err = collect(&req, 3, |asks| {
        Err(Error::Unavailable(format!(
            "worker {}: no answer within 1 s",
            asks[0].0
        )))
    })
    .unwrap_err();
    assert_eq!(
        err,
        Error::Unavailable("worker 0: no answer within 1 s".into())
    );
}

#[test]
fn json_shapes() {
    let req = parse(Table::Sessions, "limit=2").unwrap();
    let mut rounds = 0;
    let got = collect(&req, 2, fake(&[1, 5], 100, &mut rounds)).unwrap();
    let v: Value = serde_json::from_str(&to_json(Table::Sessions, &got)).unwrap();
    let rows = v["sessions"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    let s = &rows[1];
    assert_eq!(s["worker"], 1);
    assert_eq!(s["protocol"], "tcp");
    assert_eq!(s["inside"]["address"], "2001:db8:1::10");
    assert_eq!(s["inside"]["port"], 1000);
    assert_eq!(s["outside"]["address"], "192.0.2.1");
    assert_eq!(s["remote"]["ipv4"], "198.51.100.7");
    assert_eq!(s["remote"]["ipv6"], "64:ff9b::c633:6407");
    assert_eq!(s["remote"]["port"], 80);
    assert_eq!(s["state"], "ESTABLISHED");
    assert_eq!(s["expires_in"], 7439.5);
    let next = v["next"].as_str().unwrap();
    // Worker 0 is done; worker 1 goes on at its second row (slot 2).
    assert_eq!(Cursor::decode(next), Some(Cursor(vec![None, Some(2)])));

    let c = Collected {
        blocks: vec![(
            0,
            BlockRow {
                addr: "192.0.2.1".parse().unwrap(),
                first_port: 1024,
                size: 256,
                owner: "2001:db8:1::/56".parse().unwrap(),
                age: 1500,
            },
        )],
        bib: vec![(
            2,
            BibRow {
                proto: L4::Udp,
                inside: ("2001:db8:1::10".parse().unwrap(), 53),
                outside: ("192.0.2.1".parse().unwrap(), 1053),
                is_static: true,
                sessions: 0,
            },
        )],
        ..Collected::default()
    };
    let v: Value = serde_json::from_str(&to_json(Table::Blocks, &c)).unwrap();
    assert_eq!(v["next"], Value::Null);
    let b = &v["blocks"][0];
    assert_eq!(
        (b["address"].as_str(), b["first_port"].as_u64()),
        (Some("192.0.2.1"), Some(1024))
    );
    assert_eq!(
        (b["size"].as_u64(), b["owner"].as_str(), b["age"].as_f64()),
        (Some(256), Some("2001:db8:1::/56"), Some(1.5))
    );
    let v: Value = serde_json::from_str(&to_json(Table::Bib, &c)).unwrap();
    let b = &v["bib"][0];
    assert_eq!(
        (b["worker"].as_u64(), b["protocol"].as_str()),
        (Some(2), Some("udp"))
    );
    assert_eq!(
        (b["static"].as_bool(), b["sessions"].as_u64()),
        (Some(true), Some(0))
    );
    assert_eq!(b["outside"]["port"], 1053);
}
