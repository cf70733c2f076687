//! Inspection pages against what the pipeline did: flows are run through
//! `process_6to4`, the translated packets read back with etherparse (an
//! independent parser), and every page row checked against them.

use super::*;
use crate::config::Config;
use crate::nat64::pipeline::Action;
use crate::nat64::pool4::PoolLayout;
use crate::xlat::buf::PacketBuf;
use etherparse::{NetHeaders, PacketBuilder, PacketHeaders, TransportHeader};
use std::collections::BTreeSet;
use std::sync::Arc;

const SERVER: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 7);

fn worker() -> (Worker, Config) {
    worker_with("block_size = 256\nsubscriber_prefix_len = 56")
}

fn worker_with(pool4: &str) -> (Worker, Config) {
    let cfg: Config = format!(
        "[translation]\nprefix = \"2001:db8:64::/96\"\n\
         [pool4]\naddresses = [\"192.0.2.0/30\"]\n{pool4}\n\
         [workers]\nmax_sessions_per_worker = 1024\n"
    )
    .parse()
    .unwrap();
    let layout = Arc::new(PoolLayout::new(&cfg.pool4, &cfg.static_bib, 1));
    (Worker::new(&cfg, layout, 0, 1), cfg)
}

/// Sends one UDP (or TCP SYN) packet X':x -> prefix(SERVER):dp through the
/// worker; the (T,t) etherparse reads from the translated packet.
fn flow(w: &mut Worker, cfg: &Config, x: Ipv6Addr, sp: u16, dp: u16, tcp: bool) -> (Ipv4Addr, u16) {
    let dst = cfg.translation.prefix.embed(SERVER);
    let b = PacketBuilder::ipv6(x.octets(), dst.octets(), 64);
    let mut pkt = Vec::new();
    if tcp {
        b.tcp(sp, dp, 1, 1000).syn().write(&mut pkt, &[]).unwrap();
    } else {
        b.udp(sp, dp).write(&mut pkt, b"inspect").unwrap();
    }
    let mut mem = vec![0u8; 128 + pkt.len() + 64];
    mem[128..128 + pkt.len()].copy_from_slice(&pkt);
    let mut buf = PacketBuf::new(&mut mem, 128, pkt.len()).unwrap();
    let a = w.process_6to4(&mut buf, 10);
    assert!(matches!(a, Action::Forward), "{a:?}");
    let h = PacketHeaders::from_ip_slice(buf.data()).unwrap();
    let Some(NetHeaders::Ipv4(ip, _)) = h.net else {
        panic!("not IPv4")
    };
    assert_eq!(Ipv4Addr::from(ip.destination), SERVER);
    let port = match h.transport {
        Some(TransportHeader::Udp(u)) => u.source_port,
        Some(TransportHeader::Tcp(t)) => t.source_port,
        t => panic!("{t:?}"),
    };
    (Ipv4Addr::from(ip.source), port)
}

fn query(table: Table, from: usize, limit: usize) -> Query {
    Query {
        table,
        subscriber: None,
        proto: None,
        from,
        limit,
    }
}

fn sessions(p: &Page) -> &[SessionRow] {
    match &p.rows {
        Rows::Sessions(r) => r,
        r => panic!("{r:?}"),
    }
}

#[test]
fn prefixes_parse_contain_and_overlap() {
    let p: Prefix = "2001:db8:1::/48".parse().unwrap();
    assert!(p.contains(&"2001:db8:1:ff::1".parse().unwrap()));
    assert!(!p.contains(&"2001:db8:2::1".parse().unwrap()));
    let host: Prefix = "2001:db8:1:2::9".parse().unwrap();
    assert_eq!(host.to_string(), "2001:db8:1:2::9/128");
    assert!(p.overlaps(&host) && host.overlaps(&p));
    assert!(!host.overlaps(&"2001:db8:1:3::/64".parse().unwrap()));
    // Bits past the length are cleared.
    assert_eq!(
        "2001:db8:1::5/48".parse::<Prefix>().unwrap().to_string(),
        "2001:db8:1::/48"
    );
    for bad in ["2001:db8::/129", "2001:db8::/x", "192.0.2.1", "nonsense/8"] {
        assert!(bad.parse::<Prefix>().is_err(), "{bad}");
    }
    assert_eq!(parse_proto("udp"), Some(L4::Udp));
    assert_eq!(parse_proto("sctp"), None);
}

#[test]
fn sessions_show_what_the_pipeline_mapped_and_filter() {
    let (mut w, cfg) = worker();
    let a: Ipv6Addr = "2001:db8:1::10".parse().unwrap();
    let b: Ipv6Addr = "2001:db8:2::20".parse().unwrap();
    let ta = flow(&mut w, &cfg, a, 4000, 53, false);
    let tb = flow(&mut w, &cfg, b, 5000, 80, true);
    let page = w.inspect(&query(Table::Sessions, 0, 100), 1010);
    assert_eq!(page.next, None);
    let rows = sessions(&page);
    assert_eq!(rows.len(), 2);
    let ra = rows.iter().find(|r| r.inside.0 == a).unwrap();
    assert_eq!((ra.proto, ra.inside.1, ra.outside), (L4::Udp, 4000, ta));
    assert_eq!(ra.remote, (SERVER, 53));
    assert_eq!(ra.remote6, cfg.translation.prefix.embed(SERVER));
    assert_eq!(ra.tcp, None);
    let udp_ms = cfg.timeouts.udp.as_millis() as u64;
    assert_eq!(ra.expires_in, udp_ms - 1000);
    let rb = rows.iter().find(|r| r.inside.0 == b).unwrap();
    assert_eq!(
        (rb.proto, rb.outside, rb.remote),
        (L4::Tcp, tb, (SERVER, 80))
    );
    assert_eq!(rb.tcp.map(TcpState::name), Some("V6 INIT"));

    // Subscriber and protocol filters.
    let mut q = query(Table::Sessions, 0, 100);
    q.subscriber = Some("2001:db8:2::/56".parse().unwrap());
    let p = w.inspect(&q, 10);
    assert_eq!(
        sessions(&p).iter().map(|r| r.inside.0).collect::<Vec<_>>(),
        [b]
    );
    let mut q = query(Table::Sessions, 0, 100);
    q.proto = Some(L4::Udp);
    let p = w.inspect(&q, 10);
    assert_eq!(
        sessions(&p).iter().map(|r| r.inside.0).collect::<Vec<_>>(),
        [a]
    );

    // BIB: the same two bindings.
    let p = w.inspect(&query(Table::Bib, 0, 100), 10);
    let Rows::Bib(bib) = &p.rows else { panic!() };
    let got: BTreeSet<_> = bib
        .iter()
        .map(|r| (r.inside, r.outside, r.sessions))
        .collect();
    let want: BTreeSet<_> = [((a, 4000), ta, 1), ((b, 5000), tb, 1)].into();
    assert_eq!(got, want);
    assert!(bib.iter().all(|r| !r.is_static));
}

#[test]
fn pages_resume_where_they_stopped_and_see_each_entry_once() {
    let (mut w, cfg) = worker();
    let x: Ipv6Addr = "2001:db8:1::10".parse().unwrap();
    let mut want = BTreeSet::new();
    for i in 0..25u16 {
        let t = flow(&mut w, &cfg, x, 10_000 + i, 53, false);
        want.insert(((x, 10_000 + i), t));
    }
    let whole = w.inspect(&query(Table::Sessions, 0, 1000), 10);
    assert_eq!(sessions(&whole).len(), 25);
    let mut got = Vec::new();
    let mut from = 0;
    let mut pages = 0;
    loop {
        let p = w.inspect(&query(Table::Sessions, from, 4), 10);
        assert!(sessions(&p).len() <= 4);
        got.extend(sessions(&p).iter().map(|r| (r.inside, r.outside)));
        pages += 1;
        match p.next {
            Some(n) => {
                assert!(n > from);
                from = n;
            }
            None => break,
        }
    }
    assert!(pages >= 7, "{pages}");
    // A walk resumed at a row's slot shows that row first.
    let slots = &whole.slots;
    assert!(slots.windows(2).all(|s| s[0] < s[1]), "{slots:?}");
    let again = w.inspect(&query(Table::Sessions, slots[3], 1), 10);
    assert_eq!(sessions(&again), &sessions(&whole)[3..4]);
    assert_eq!(got.len(), 25, "an entry seen twice or missed");
    assert_eq!(got.into_iter().collect::<BTreeSet<_>>(), want);
}

#[test]
fn blocks_name_their_owner_and_age() {
    let (mut w, cfg) = worker();
    let a: Ipv6Addr = "2001:db8:1::10".parse().unwrap();
    let (t, port) = flow(&mut w, &cfg, a, 4000, 53, false);
    let p = w.inspect(&query(Table::Blocks, 0, 100), 2010);
    let Rows::Blocks(rows) = &p.rows else {
        panic!()
    };
    assert_eq!(rows.len(), 1);
    let r = rows[0];
    assert_eq!(r.addr, t);
    assert!((r.first_port..=r.first_port + (r.size - 1) as u16).contains(&port));
    assert_eq!(r.size, 256);
    assert_eq!(r.owner.to_string(), "2001:db8:1::/56");
    assert_eq!(r.age, 2000);
    let mut q = query(Table::Blocks, 0, 100);
    q.subscriber = Some("2001:db8:1::10".parse().unwrap());
    assert_eq!(w.inspect(&q, 10).rows.len(), 1);
    q.subscriber = Some("2001:db8:9::/48".parse().unwrap());
    assert!(w.inspect(&q, 10).rows.is_empty());
}

#[test]
fn deterministic_blocks_are_shown_while_a_port_is_used() {
    let (mut w, cfg) = worker_with(
        "allocation = \"deterministic\"\nsubscriber_prefix_len = 64\n\
         deterministic_inside = \"2001:db8:100::/62\"",
    );
    assert!(w.inspect(&query(Table::Blocks, 0, 100), 0).rows.is_empty());
    let x: Ipv6Addr = "2001:db8:100:2::9".parse().unwrap();
    let (t, port) = flow(&mut w, &cfg, x, 4000, 53, false);
    let p = w.inspect(&query(Table::Blocks, 0, 100), 510);
    let Rows::Blocks(rows) = &p.rows else {
        panic!()
    };
    assert_eq!(rows.len(), 1, "{rows:?}");
    let r = rows[0];
    // The block is the one RFC 7422 gives the subscriber.
    let layout = PoolLayout::new(&cfg.pool4, &cfg.static_bib, 1);
    let (addr, lo, hi) = layout
        .deterministic_range(Subscriber::of(&x, 64))
        .expect("in deterministic_inside");
    assert_eq!(r.addr, addr);
    assert!(lo <= r.first_port && u32::from(r.first_port) + r.size - 1 <= u32::from(hi));
    assert!((r.first_port..=r.first_port + (r.size - 1) as u16).contains(&port));
    assert_eq!(r.addr, t);
    assert_eq!(r.owner.to_string(), "2001:db8:100:2::/64");
    assert_eq!(r.age, 500);
}
