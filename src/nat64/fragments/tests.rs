//! Tests of RFC 6146 §3.4's fragment handling: the store alone (bytes
//! seen, bounds, expiry, slots handed back), then whole workers with the
//! clock under control, driven as the dataplane drives them (parked
//! buffers kept by slot, handed-back ones run again, handoffs between
//! workers in ring order). Inputs are built and outputs read with
//! etherparse: the translated fragments are put back together by their
//! own headers and compared with the datagram etherparse builds for the
//! expected addresses and ports (checksum included).

use std::collections::VecDeque;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use etherparse::{
    IpFragOffset, IpNumber, Ipv4Header, Ipv4HeaderSlice, Ipv6HeaderSlice, PacketBuilder,
};
use proptest::prelude::*;

use super::*;
use crate::config::Config;
use crate::nat64::pipeline::{Action, DropCause, Nat64Drop, Worker};
use crate::nat64::pool4::PoolLayout;
use crate::xlat::v4to6::fragment_ipv6;
use crate::xlat::{DropReason, PacketBuf};

// ---- the store alone ----

fn store(datagrams: usize, held: usize, bytes: u64) -> FragStore {
    FragStore::new(datagrams, held, bytes, 2000, 7)
}

fn key(n: u32) -> FragKey {
    FragKey::v4(
        Ipv4Addr::new(198, 51, 100, 7),
        Ipv4Addr::new(192, 0, 2, 1),
        L4::Udp,
        n,
    )
}

#[test]
fn cover_in_order_out_of_order_and_overlaps() {
    let mut s = store(4, 4, 10_000);
    let e = s.create(key(1), 0).unwrap();
    assert_eq!(s.cover(e, 1000, 1000, true), Cover::Added);
    assert_eq!(s.cover(e, 2000, 500, false), Cover::Added);
    // A duplicate, an overlap, a piece past the end, a second end.
    assert_eq!(s.cover(e, 1000, 1000, true), Cover::Overlap);
    assert_eq!(s.cover(e, 1992, 16, true), Cover::Overlap);
    assert_eq!(s.cover(e, 2500, 8, true), Cover::Overlap);
    assert_eq!(s.cover(e, 0, 800, false), Cover::Overlap);
    assert_eq!(s.cover(e, 0, 0, true), Cover::Overlap);
    assert_eq!(s.cover(e, 0, 1000, true), Cover::Complete);
}

#[test]
fn cover_takes_any_order_and_refuses_malformed_pieces() {
    let mut s = store(1, 0, 0);
    let e = s.create(key(1), 0).unwrap();
    // Every other unit first (4096 gaps), then the rest.
    for u in (0..8192u32).step_by(2) {
        assert_eq!(s.cover(e, u * 8, 8, true), Cover::Added);
    }
    assert_eq!(
        s.cover(e, 8, 5, true),
        Cover::Overlap,
        "not the last: 8-byte units"
    );
    assert_eq!(s.cover(e, 12, 8, true), Cover::Overlap, "off the grid");
    assert_eq!(s.cover(e, 65528, 16, false), Cover::Overlap, "past 65535");
    for u in (1..8191u32).step_by(2) {
        assert_eq!(s.cover(e, u * 8, 8, true), Cover::Added);
    }
    assert_eq!(s.cover(e, 8191 * 8, 7, false), Cover::Complete);
}

#[test]
fn full_store_refuses_and_keeps_what_it_has() {
    let mut s = store(2, 0, 0);
    let a = s.create(key(1), 0).unwrap();
    let b = s.create(key(2), 0).unwrap();
    assert_eq!(s.create(key(3), 1), None);
    assert_eq!(s.find(&key(1)), Some(a));
    assert_eq!(s.find(&key(2)), Some(b));
    assert_eq!(s.find(&key(3)), None);
    s.remove(a);
    assert!(s.create(key(3), 1).is_some());
    assert_eq!(s.len(), 2);
}

#[test]
fn held_bounded_by_count_and_bytes_and_handed_back_once() {
    let mut s = store(4, 3, 2500);
    let e = s.create(key(1), 0).unwrap();
    let s1 = s.hold(e, 1000).unwrap();
    let s2 = s.hold(e, 1000).unwrap();
    // Bytes: 2000 + 1000 > 2500.
    assert_eq!(s.hold(e, 1000), None);
    let s3 = s.hold(e, 500).unwrap();
    // Count.
    assert_eq!(s.hold(e, 8), None);
    assert_eq!(s.parked(), 3);
    s.set_route(e, Route::Local);
    let back: Vec<_> = std::iter::from_fn(|| s.next_unparked()).collect();
    assert_eq!(
        back,
        [s1, s2, s3]
            .map(|slot| Unpark { slot, retry: true })
            .to_vec()
    );
    assert_eq!(s.parked(), 0);
    assert!(!s.has_unparked());
    // Every slot and byte is free again.
    let e2 = s.create(key(2), 0).unwrap();
    assert!(s.hold(e2, 2500).is_some());
}

#[test]
fn expiry_frees_held_fragments_and_entries() {
    let mut s = store(4, 4, 10_000);
    let a = s.create(key(1), 0).unwrap();
    s.hold(a, 100).unwrap();
    s.hold(a, 100).unwrap();
    let b = s.create(key(2), 1500).unwrap();
    s.hold(b, 100).unwrap();
    assert_eq!(s.expire(1999), Expired::default());
    assert_eq!(
        s.expire(2000),
        Expired {
            datagrams: 1,
            fragments: 2
        }
    );
    let back: Vec<_> = std::iter::from_fn(|| s.next_unparked()).collect();
    assert_eq!(back.len(), 2);
    assert!(back.iter().all(|u| !u.retry));
    assert_eq!(s.find(&key(1)), None);
    assert_eq!(s.find(&key(2)), Some(b));
    assert_eq!(s.expire(3500).fragments, 1);
    s.next_unparked().unwrap();
    assert_eq!((s.len(), s.parked()), (0, 0));
}

// ---- whole workers ----

const HEADROOM: usize = 128;
const PREFIX: &str = "2001:db8:64::/96";
const Y4: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 7);
const SERVER_PORT: u16 = 7000;

fn x6() -> Ipv6Addr {
    "2001:db8:1::10".parse().unwrap()
}
fn x6b() -> Ipv6Addr {
    "2001:db8:2::20".parse().unwrap()
}
fn embed(v4: Ipv4Addr) -> Ipv6Addr {
    let p: crate::xlat::rfc6052::Nat64Prefix = PREFIX.parse().unwrap();
    p.embed(v4)
}

fn config(extra: &str) -> Config {
    let text = format!(
        "[translation]\nprefix = \"{PREFIX}\"\n[pool4]\naddresses = [\"192.0.2.0/28\"]\n\
         [workers]\nmax_sessions_per_worker = 4096\n{extra}"
    );
    Config::from_str(&text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

/// What the box did with each packet, as the dataplane would see it.
#[derive(Default)]
struct Out {
    /// Translated packets leaving the box (IPv6 split as the dataplane
    /// splits `Action::Fragment`).
    sent: Vec<Vec<u8>>,
    /// Why packets were dropped.
    drops: Vec<DropCause>,
    /// Parked buffers freed unsent.
    freed: usize,
    /// ICMP errors.
    replies: Vec<Vec<u8>>,
}

/// `n` workers and what the dataplane keeps for them: the parked buffers
/// by slot, and the packets in flight between them (one FIFO: per pair of
/// workers, ring order is kept).
struct Nat64Box {
    workers: Vec<Worker>,
    parked: Vec<Vec<Option<Vec<u8>>>>,
    queue: VecDeque<(usize, Vec<u8>, bool)>,
}

impl Nat64Box {
    fn new(n: u16, extra: &str) -> Nat64Box {
        let cfg = config(extra);
        let layout = Arc::new(PoolLayout::new(&cfg.pool4, &cfg.static_bib, n));
        let workers: Vec<Worker> = (0..n)
            .map(|i| Worker::new(&cfg, Arc::clone(&layout), i, n))
            .collect();
        let parked = workers
            .iter()
            .map(|w| vec![None; w.parking_slots()])
            .collect();
        Nat64Box {
            workers,
            parked,
            queue: VecDeque::new(),
        }
    }

    /// `pkt` received by worker `w` from the wire, and everything it leads
    /// to (handoffs, parked fragments run again).
    fn rx(&mut self, w: usize, pkt: &[u8], now: Millis, out: &mut Out) {
        self.queue.push_back((w, pkt.to_vec(), false));
        self.run(now, out);
    }

    fn run(&mut self, now: Millis, out: &mut Out) {
        while let Some((w, pkt, handed)) = self.queue.pop_front() {
            let mut mem = vec![0u8; HEADROOM + pkt.len() + 64];
            mem[HEADROOM..HEADROOM + pkt.len()].copy_from_slice(&pkt);
            let mut b = PacketBuf::new(&mut mem, HEADROOM, pkt.len()).unwrap();
            let worker = &mut self.workers[w];
            let a = match (pkt[0] >> 4, handed) {
                (6, _) => worker.process_6to4(&mut b, now),
                (_, false) => worker.process_4to6(&mut b, now),
                (_, true) => worker.process_handed_4to6(&mut b, now),
            };
            let data = b.data().to_vec();
            match a {
                Action::Forward | Action::Hairpin => out.sent.push(data),
                Action::Fragment { mtu } => {
                    fragment_ipv6(&data, mtu, &mut |head: &[u8], piece: &[u8]| {
                        out.sent.push([head, piece].concat());
                        true
                    })
                    .unwrap();
                }
                Action::Reply(_) => out.replies.push(data),
                Action::Handoff { worker, .. } => {
                    assert_ne!(usize::from(worker), w, "handed to itself");
                    self.queue.push_back((usize::from(worker), data, true));
                }
                Action::Park { slot } => {
                    let s = &mut self.parked[w][slot as usize];
                    assert!(s.is_none(), "slot {slot} parked twice");
                    *s = Some(pkt);
                }
                Action::Drop(c) => out.drops.push(c),
                Action::Held | Action::Local => panic!("unexpected {a:?}"),
            }
            self.unpark(w, out);
        }
    }

    /// What worker `w` hands back: run again (in the queue's order, as
    /// the dataplane runs them after the burst) or freed.
    fn unpark(&mut self, w: usize, out: &mut Out) {
        while let Some(u) = self.workers[w].next_unparked() {
            let pkt = self.parked[w][u.slot as usize]
                .take()
                .expect("a slot handed back holds a buffer");
            if u.retry {
                self.queue.push_back((w, pkt, false));
            } else {
                out.freed += 1;
            }
        }
    }

    fn tick(&mut self, now: Millis, out: &mut Out) {
        for w in 0..self.workers.len() {
            self.workers[w].tick(now, &mut |_| {});
            self.unpark(w, out);
        }
        self.run(now, out);
    }

    fn sum(&self, f: impl Fn(&Worker) -> u64) -> u64 {
        self.workers.iter().map(f).sum()
    }

    fn parked_total(&self) -> usize {
        self.parked.iter().flatten().filter(|p| p.is_some()).count()
    }
}

/// A UDP datagram of `len` payload bytes (a pattern, so misplaced bytes
/// show), IPv6.
fn udp6(src: Ipv6Addr, sp: u16, dst: Ipv6Addr, dp: u16, len: usize) -> Vec<u8> {
    let payload: Vec<u8> = (0..len).map(|i| (i * 7 + i / 251) as u8).collect();
    let mut v = Vec::new();
    PacketBuilder::ipv6(src.octets(), dst.octets(), 64)
        .udp(sp, dp)
        .write(&mut v, &payload)
        .unwrap();
    v
}

/// The same, IPv4.
fn udp4(src: Ipv4Addr, sp: u16, dst: Ipv4Addr, dp: u16, len: usize) -> Vec<u8> {
    let payload: Vec<u8> = (0..len).map(|i| (i * 5 + i / 253) as u8).collect();
    let mut v = Vec::new();
    PacketBuilder::ipv4(src.octets(), dst.octets(), 64)
        .udp(sp, dp)
        .write(&mut v, &payload)
        .unwrap();
    v
}

/// An IPv6 packet (no extension header) split into fragments of `chunk`
/// bytes of its payload (a multiple of 8), as a sender does (RFC 8200 §4.5).
fn frag6(pkt: &[u8], ident: u32, chunk: usize) -> Vec<Vec<u8>> {
    let ip = Ipv6HeaderSlice::from_slice(pkt).unwrap().to_header();
    let body = &pkt[40..];
    let pieces: Vec<&[u8]> = body.chunks(chunk).collect();
    pieces
        .iter()
        .enumerate()
        .map(|(i, piece)| {
            let mut h = ip.clone();
            h.next_header = IpNumber::IPV6_FRAGMENTATION_HEADER;
            h.payload_length = (8 + piece.len()) as u16;
            let mut v = Vec::new();
            h.write(&mut v).unwrap();
            v.extend_from_slice(&frag_header(
                ip.next_header.0,
                i * chunk,
                i + 1 < pieces.len(),
                ident,
            ));
            v.extend_from_slice(piece);
            v
        })
        .collect()
}

/// The 8 bytes of an IPv6 Fragment header, RFC 8200 §4.5: next header,
/// reserved, offset (13 bits, in 8-byte units) with 2 reserved bits and M,
/// identification. Written and read here by hand: etherparse before 0.20
/// swaps the offset's low bits and M (etherparse#150; see
/// `wire::ipv6::tests::etherparse_0_16_fragment_header_is_not_rfc8200`).
fn frag_header(next: u8, offset: usize, more: bool, ident: u32) -> [u8; 8] {
    let field = (offset as u16 & !7) | u16::from(more);
    let [a, b] = field.to_be_bytes();
    let [i0, i1, i2, i3] = ident.to_be_bytes();
    [next, 0, a, b, i0, i1, i2, i3]
}

/// Reads an IPv6 Fragment header (see [`frag_header`]): (offset in bytes,
/// M, identification).
fn read_frag_header(h: &[u8]) -> (usize, bool, u32) {
    let field = u16::from_be_bytes([h[2], h[3]]);
    let ident = u32::from_be_bytes([h[4], h[5], h[6], h[7]]);
    (usize::from(field & !7), field & 1 == 1, ident)
}

/// An IPv4 packet split into fragments of `chunk` bytes (a multiple of 8).
fn frag4(pkt: &[u8], ident: u16, chunk: usize) -> Vec<Vec<u8>> {
    let ip = Ipv4HeaderSlice::from_slice(pkt).unwrap().to_header();
    let body = &pkt[ip.header_len()..];
    let pieces: Vec<&[u8]> = body.chunks(chunk).collect();
    pieces
        .iter()
        .enumerate()
        .map(|(i, piece)| {
            let mut h: Ipv4Header = ip.clone();
            h.identification = ident;
            h.dont_fragment = false;
            h.more_fragments = i + 1 < pieces.len();
            h.fragment_offset = IpFragOffset::try_new((i * chunk / 8) as u16).unwrap();
            h.set_payload_len(piece.len()).unwrap();
            h.header_checksum = h.calc_header_checksum();
            let mut v = Vec::new();
            h.write(&mut v).unwrap();
            v.extend_from_slice(piece);
            v
        })
        .collect()
}

/// Puts IPv4 fragments (any order) back together by their headers:
/// (source, destination, TTL, payload). Panics on a byte seen twice, a
/// gap, or fragments of more than one datagram.
fn reassemble4(frags: &[Vec<u8>]) -> (Ipv4Addr, Ipv4Addr, u8, Vec<u8>) {
    let mut seen: Vec<Option<u8>> = Vec::new();
    let mut end = None;
    let mut who = None;
    for f in frags {
        let ip = Ipv4HeaderSlice::from_slice(f).unwrap();
        assert!(!ip.dont_fragment(), "RFC 7915 §5.1.1: DF cleared");
        let id = (
            ip.source_addr(),
            ip.destination_addr(),
            ip.identification(),
            ip.ttl(),
        );
        assert_eq!(*who.get_or_insert(id), id, "one datagram");
        let off = usize::from(ip.fragments_offset().value()) * 8;
        let data = &f[ip.slice().len()..usize::from(ip.total_len())];
        if !ip.more_fragments() {
            end = Some(off + data.len());
        }
        if seen.len() < off + data.len() {
            seen.resize(off + data.len(), None);
        }
        for (i, b) in data.iter().enumerate() {
            assert!(seen[off + i].is_none(), "byte {} twice", off + i);
            seen[off + i] = Some(*b);
        }
    }
    assert_eq!(end, Some(seen.len()), "last fragment");
    let (src, dst, _, ttl) = who.unwrap();
    let bytes = seen.into_iter().map(|b| b.expect("a gap")).collect();
    (src, dst, ttl, bytes)
}

/// The same for IPv6 fragments: (source, destination, hop limit, payload).
fn reassemble6(frags: &[Vec<u8>]) -> (Ipv6Addr, Ipv6Addr, u8, Vec<u8>) {
    let mut seen: Vec<Option<u8>> = Vec::new();
    let mut end = None;
    let mut who = None;
    for f in frags {
        let ip = Ipv6HeaderSlice::from_slice(f).unwrap();
        assert_eq!(ip.next_header(), IpNumber::IPV6_FRAGMENTATION_HEADER);
        let (off, more, ident) = read_frag_header(&f[40..48]);
        let id = (
            ip.source_addr(),
            ip.destination_addr(),
            ident,
            ip.hop_limit(),
        );
        assert_eq!(*who.get_or_insert(id), id, "one datagram");
        let data = &f[48..40 + usize::from(ip.payload_length())];
        if !more {
            end = Some(off + data.len());
        }
        if seen.len() < off + data.len() {
            seen.resize(off + data.len(), None);
        }
        for (i, b) in data.iter().enumerate() {
            assert!(seen[off + i].is_none(), "byte {} twice", off + i);
            seen[off + i] = Some(*b);
        }
    }
    assert_eq!(end, Some(seen.len()), "last fragment");
    let (src, dst, _, hop) = who.unwrap();
    let bytes = seen.into_iter().map(|b| b.expect("a gap")).collect();
    (src, dst, hop, bytes)
}

/// The UDP datagram (header and payload) etherparse builds for these
/// addresses and ports around `payload`, checksum included.
fn expected_udp4(src: Ipv4Addr, sp: u16, dst: Ipv4Addr, dp: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    PacketBuilder::ipv4(src.octets(), dst.octets(), 1)
        .udp(sp, dp)
        .write(&mut v, payload)
        .unwrap();
    v.split_off(20)
}
fn expected_udp6(src: Ipv6Addr, sp: u16, dst: Ipv6Addr, dp: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    PacketBuilder::ipv6(src.octets(), dst.octets(), 1)
        .udp(sp, dp)
        .write(&mut v, payload)
        .unwrap();
    v.split_off(40)
}

/// Opens the mapping of x6():5000 -> Y4:7000 with one whole packet;
/// returns the pool transport address (T, t).
fn open_mapping(b: &mut Nat64Box, src: Ipv6Addr, now: Millis) -> (Ipv4Addr, u16) {
    let w = b.workers[0].subscriber_owner_of(&src);
    let mut out = Out::default();
    b.rx(
        w,
        &udp6(src, 5000, embed(Y4), SERVER_PORT, 8),
        now,
        &mut out,
    );
    assert_eq!(out.sent.len(), 1, "{:?}", out.drops);
    let ip = Ipv4HeaderSlice::from_slice(&out.sent[0]).unwrap();
    let t = u16::from_be_bytes([out.sent[0][20], out.sent[0][21]]);
    (ip.source_addr(), t)
}

/// 6to4: a datagram of `len` bytes from `src` cut into `chunk`-byte
/// fragments, sent in `order`, each received by worker `rx(i)`; checks
/// that it leaves whole and translated.
fn six_to_four(b: &mut Nat64Box, src: Ipv6Addr, len: usize, order: &[usize], now: Millis) -> Out {
    let pkt = udp6(src, 5000, embed(Y4), SERVER_PORT, len);
    let frags = frag6(&pkt, 0x1234_5678, 1232);
    let mut out = Out::default();
    let n = b.workers.len();
    for (k, &i) in order.iter().enumerate() {
        b.rx(k % n, &frags[i], now, &mut out);
    }
    assert!(out.drops.is_empty(), "{:?}", out.drops);
    assert_eq!(out.sent.len(), frags.len());
    let (s, d, ttl, bytes) = reassemble4(&out.sent);
    assert_eq!((d, ttl), (Y4, 63));
    let t = u16::from_be_bytes([bytes[0], bytes[1]]);
    assert_eq!(bytes, expected_udp4(s, t, Y4, SERVER_PORT, &pkt[48..]));
    for f in &out.sent {
        // §5.1.1: the low 16 bits of the identification.
        assert_eq!(
            Ipv4HeaderSlice::from_slice(f).unwrap().identification(),
            0x5678
        );
    }
    out
}

impl Worker {
    /// Test helper: the worker `src`'s subscriber belongs to.
    fn subscriber_owner_of(&self, src: &Ipv6Addr) -> usize {
        usize::from(self.subscriber_owner(src))
    }
}

#[test]
fn six_to_four_in_order_and_out_of_order() {
    for order in [[0, 1, 2], [2, 1, 0], [1, 2, 0], [2, 0, 1]] {
        let mut b = Nat64Box::new(1, "");
        six_to_four(&mut b, x6(), 3000, &order, 0);
        let w = &b.workers[0];
        let c = w.counters();
        assert_eq!(c.fragments_tracked, 1);
        assert_eq!(c.fragments_translated, 3);
        let held = order.iter().take_while(|&&i| i != 0).count() as u64;
        assert_eq!(c.fragments_held, held, "{order:?}");
        // Every byte seen: the datagram left the store at once.
        assert_eq!((w.fragment_datagrams(), w.parked_fragments()), (0, 0));
        assert_eq!(b.parked_total(), 0);
    }
}

#[test]
fn six_to_four_with_four_workers() {
    let mut b = Nat64Box::new(4, "");
    for order in [[0, 1, 2], [2, 1, 0]] {
        six_to_four(&mut b, x6(), 3000, &order, 0);
        six_to_four(&mut b, x6b(), 3000, &order, 0);
    }
    assert_eq!(b.sum(|w| w.fragment_datagrams() as u64), 0);
}

/// 4to6: a datagram from Y4:7000 to (T, t) in `chunk`-byte fragments, in
/// `order`, each received by worker `k % n`; checks it arrives whole.
fn four_to_six(
    b: &mut Nat64Box,
    x: Ipv6Addr,
    tt: (Ipv4Addr, u16),
    ident: u16,
    order: &[usize],
    now: Millis,
) -> Out {
    let pkt = udp4(Y4, SERVER_PORT, tt.0, tt.1, 3000);
    let frags = frag4(&pkt, ident, 1480);
    let mut out = Out::default();
    let n = b.workers.len();
    for (k, &i) in order.iter().enumerate() {
        b.rx((k + usize::from(ident)) % n, &frags[i], now, &mut out);
    }
    assert!(out.drops.is_empty(), "{:?}", out.drops);
    let (s, d, hop, bytes) = reassemble6(&out.sent);
    assert_eq!((s, d, hop), (embed(Y4), x, 63));
    assert_eq!(bytes, expected_udp6(s, SERVER_PORT, x, 5000, &pkt[28..]));
    out
}

#[test]
fn four_to_six_in_order_and_out_of_order_one_and_four_workers() {
    for n in [1, 4] {
        let mut b = Nat64Box::new(n, "");
        let tt = open_mapping(&mut b, x6(), 0);
        for (k, order) in [[0, 1, 2], [2, 1, 0], [1, 0, 2], [2, 0, 1]]
            .iter()
            .enumerate()
        {
            four_to_six(&mut b, x6(), tt, 100 + k as u16, order, 1);
        }
        assert!(b.sum(|w| w.counters().fragments_tracked) >= 4);
        if n > 1 {
            // Fragments went to their home worker, then to the owner.
            assert!(b.sum(|w| w.counters().handed_off) > 0);
        }
        assert_eq!(b.sum(|w| w.fragment_datagrams() as u64), 0, "n = {n}");
        assert_eq!(b.parked_total(), 0);
    }
}

#[test]
fn duplicates_and_overlaps_are_dropped_and_counted() {
    let mut b = Nat64Box::new(1, "");
    let pkt = udp6(x6(), 5000, embed(Y4), SERVER_PORT, 3000);
    let frags = frag6(&pkt, 9, 1232);
    let mut out = Out::default();
    b.rx(0, &frags[1], 0, &mut out);
    // A duplicate of a held fragment: caught when both run again.
    b.rx(0, &frags[1], 0, &mut out);
    b.rx(0, &frags[0], 0, &mut out);
    b.rx(0, &frags[0], 0, &mut out);
    // An overlapping piece: the first fragment's last 16 bytes again.
    let mut overlap = frags[0].clone();
    let cut = overlap.len() - 16;
    overlap.drain(48..cut);
    overlap[4..6].copy_from_slice(&24u16.to_be_bytes());
    overlap[42..44].copy_from_slice(&((1216 / 8) << 3 | 1u16).to_be_bytes());
    b.rx(0, &overlap, 0, &mut out);
    b.rx(0, &frags[2], 0, &mut out);
    let overlap_drop = DropCause::Nat64(Nat64Drop::FragmentOverlap);
    assert_eq!(out.drops, vec![overlap_drop; 3]);
    assert_eq!(b.workers[0].counters().drops(overlap_drop), 3);
    let (_, _, _, bytes) = reassemble4(&out.sent);
    assert_eq!(bytes.len(), 3008);
}

#[test]
fn first_never_comes_expires_and_frees_everything() {
    let mut b = Nat64Box::new(1, "[timeouts]\nfragment = 3\n");
    let pkt = udp6(x6(), 5000, embed(Y4), SERVER_PORT, 3000);
    let frags = frag6(&pkt, 1, 1232);
    let mut out = Out::default();
    b.rx(0, &frags[2], 1000, &mut out);
    b.rx(0, &frags[1], 1500, &mut out);
    assert_eq!(b.parked_total(), 2);
    b.tick(3999, &mut out);
    assert_eq!(b.parked_total(), 2);
    b.tick(4000, &mut out);
    assert_eq!((b.parked_total(), out.freed), (0, 2));
    let w = &b.workers[0];
    assert_eq!(w.counters().fragments_timed_out, 2);
    assert_eq!((w.fragment_datagrams(), w.parked_fragments()), (0, 0));
    // The first fragment, late: a new datagram, whose rest never comes.
    b.rx(0, &frags[0], 4001, &mut out);
    assert_eq!(out.sent.len(), 1);
    assert_eq!(b.workers[0].fragment_datagrams(), 1);
    b.tick(7001, &mut out);
    assert_eq!(b.workers[0].fragment_datagrams(), 0);
}

#[test]
fn full_store_refuses_new_datagrams_and_keeps_its_own() {
    let mut b = Nat64Box::new(1, "max_fragmented_datagrams_per_worker = 2\n");
    let mut out = Out::default();
    let frags: Vec<_> = (0..3u32)
        .map(|i| {
            frag6(
                &udp6(x6(), 5000 + i as u16, embed(Y4), SERVER_PORT, 3000),
                i,
                1232,
            )
        })
        .collect();
    b.rx(0, &frags[0][2], 0, &mut out);
    b.rx(0, &frags[1][2], 0, &mut out);
    // A stranger: refused, nobody evicted.
    b.rx(0, &frags[2][2], 0, &mut out);
    b.rx(0, &frags[2][0], 0, &mut out);
    let full = DropCause::Nat64(Nat64Drop::FragmentStoreFull);
    assert_eq!(out.drops, vec![full; 2]);
    assert_eq!(b.workers[0].counters().fragments_refused, 2);
    for f in &frags[..2] {
        b.rx(0, &f[0], 0, &mut out);
        b.rx(0, &f[1], 0, &mut out);
    }
    assert_eq!(out.sent.len(), 6);
    assert_eq!(b.workers[0].fragment_datagrams(), 0);
}

#[test]
fn held_fragments_beyond_their_bound_are_refused() {
    let mut b = Nat64Box::new(1, "max_held_fragments_per_worker = 1\n");
    let pkt = udp6(x6(), 5000, embed(Y4), SERVER_PORT, 4000);
    let frags = frag6(&pkt, 3, 1232);
    let mut out = Out::default();
    b.rx(0, &frags[3], 0, &mut out);
    b.rx(0, &frags[2], 0, &mut out);
    assert_eq!(
        out.drops,
        vec![DropCause::Nat64(Nat64Drop::FragmentStoreFull)]
    );
    assert_eq!(b.workers[0].counters().fragments_held, 1);
}

#[test]
fn first_fragment_without_its_transport_header_is_dropped() {
    let mut b = Nat64Box::new(1, "");
    // A TCP segment whose first fragment holds 8 of its 20 header bytes.
    let mut v = Vec::new();
    PacketBuilder::ipv6(x6().octets(), embed(Y4).octets(), 64)
        .tcp(5000, 80, 1, 1000)
        .syn()
        .write(&mut v, &[0u8; 100])
        .unwrap();
    let frags = frag6(&v, 5, 8);
    let mut out = Out::default();
    b.rx(0, &frags[0], 0, &mut out);
    assert_eq!(
        out.drops,
        vec![DropCause::Xlat(DropReason::FirstFragmentShort)]
    );
    // IPv4 too.
    let mut v = Vec::new();
    PacketBuilder::ipv4(Y4.octets(), [192, 0, 2, 1], 64)
        .tcp(80, 5000, 1, 1000)
        .write(&mut v, &[0u8; 100])
        .unwrap();
    b.rx(0, &frag4(&v, 5, 16)[0], 0, &mut out);
    assert_eq!(
        out.drops[1],
        DropCause::Xlat(DropReason::FirstFragmentShort)
    );
}

#[test]
fn same_identification_from_different_sources() {
    let mut b = Nat64Box::new(1, "");
    let p1 = udp6(x6(), 5000, embed(Y4), SERVER_PORT, 3000);
    let p2 = udp6(x6b(), 6000, embed(Y4), SERVER_PORT, 3000);
    let (f1, f2) = (frag6(&p1, 42, 1232), frag6(&p2, 42, 1232));
    let mut out1 = Out::default();
    let mut out2 = Out::default();
    for i in [2, 1] {
        b.rx(0, &f1[i], 0, &mut out1);
        b.rx(0, &f2[i], 0, &mut out2);
    }
    b.rx(0, &f2[0], 0, &mut out2);
    b.rx(0, &f1[0], 0, &mut out1);
    for (out, p) in [(&out1, &p1), (&out2, &p2)] {
        let (s, _, _, bytes) = reassemble4(&out.sent);
        let t = u16::from_be_bytes([bytes[0], bytes[1]]);
        assert_eq!(bytes, expected_udp4(s, t, Y4, SERVER_PORT, &p[48..]));
    }
    let s1 = Ipv4HeaderSlice::from_slice(&out1.sent[0])
        .unwrap()
        .source_addr();
    let t1 = &reassemble4(&out1.sent).3[..2];
    let t2 = &reassemble4(&out2.sent).3[..2];
    assert!(s1 != reassemble4(&out2.sent).0 || t1 != t2, "two mappings");
}

#[test]
fn atomic_fragments_are_whole_datagrams_icmp_included() {
    let mut b = Nat64Box::new(1, "");
    // An ICMPv6 echo request with a Fragment header, offset 0, M = 0.
    let mut v = Vec::new();
    PacketBuilder::ipv6(x6().octets(), embed(Y4).octets(), 64)
        .icmpv6_echo_request(0x77, 1)
        .write(&mut v, b"atomic ping")
        .unwrap();
    let atomic = frag6(&v, 0xabcd, 4096);
    assert_eq!(atomic.len(), 1);
    let mut out = Out::default();
    b.rx(0, &atomic[0], 0, &mut out);
    assert!(out.drops.is_empty(), "{:?}", out.drops);
    let got = etherparse::PacketHeaders::from_ip_slice(&out.sent[0]).unwrap();
    match got.transport {
        Some(etherparse::TransportHeader::Icmpv4(h)) => {
            assert!(matches!(
                h.icmp_type,
                etherparse::Icmpv4Type::EchoRequest(_)
            ));
            let ip = Ipv4HeaderSlice::from_slice(&out.sent[0])
                .unwrap()
                .to_header();
            assert_eq!(
                h.checksum,
                etherparse::Icmpv4Header::with_checksum(h.icmp_type.clone(), got.payload.slice())
                    .checksum
            );
            assert!(!ip.more_fragments && ip.fragment_offset.value() == 0);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(b.workers[0].counters().fragments_tracked, 0);
    // A UDP atomic fragment is a whole datagram too.
    let atomic = frag6(&udp6(x6(), 5000, embed(Y4), SERVER_PORT, 100), 1, 4096);
    b.rx(0, &atomic[0], 0, &mut out);
    assert_eq!(out.sent.len(), 2);
    assert_eq!(b.workers[0].counters().fragments_tracked, 0);
}

#[test]
fn fragmented_icmp_is_dropped_with_its_reason() {
    let mut b = Nat64Box::new(1, "");
    let mut v = Vec::new();
    PacketBuilder::ipv6(x6().octets(), embed(Y4).octets(), 64)
        .icmpv6_echo_request(0x77, 1)
        .write(&mut v, &[1u8; 3000])
        .unwrap();
    let mut out = Out::default();
    for f in frag6(&v, 8, 1232) {
        b.rx(0, &f, 0, &mut out);
    }
    assert_eq!(out.drops, vec![DropCause::Xlat(DropReason::Fragment); 3]);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Every byte of a fragmented datagram arrives translated exactly
    /// once, whatever order its fragments come in, in both directions,
    /// with one worker or four, whichever worker receives each.
    #[test]
    fn prop_every_byte_once_in_any_order(
        len in 1usize..6000,
        chunk8 in 8usize..180,
        four in any::<bool>(),
        six in any::<bool>(),
        perm in Just(()).prop_perturb(|_, mut rng| {
            let mut v: Vec<usize> = (0..800).collect();
            for i in (1..v.len()).rev() {
                v.swap(i, (rng.next_u32() as usize) % (i + 1));
            }
            v
        }),
        rx in proptest::collection::vec(0usize..4, 800),
    ) {
        let chunk = chunk8 * 8;
        let n = if four { 4 } else { 1 };
        let mut b = Nat64Box::new(n, "");
        let tt = open_mapping(&mut b, x6(), 0);
        let (pkt, frags) = if six {
            let p = udp6(x6(), 5000, embed(Y4), SERVER_PORT, len);
            let f = frag6(&p, 77, chunk);
            (p, f)
        } else {
            let p = udp4(Y4, SERVER_PORT, tt.0, tt.1, len);
            let f = frag4(&p, 77, chunk);
            (p, f)
        };
        prop_assume!(frags.len() > 1);
        let order: Vec<usize> = perm.iter().copied().filter(|&i| i < frags.len()).collect();
        let mut out = Out::default();
        for (k, &i) in order.iter().enumerate() {
            b.rx(rx[k] % usize::from(n), &frags[i], 1, &mut out);
        }
        prop_assert!(out.drops.is_empty(), "{:?}", out.drops);
        if six {
            let (s, d, _, bytes) = reassemble4(&out.sent);
            prop_assert_eq!((s, d), tt_addr(tt, Y4));
            prop_assert_eq!(bytes, expected_udp4(tt.0, tt.1, Y4, SERVER_PORT, &pkt[48..]));
        } else {
            let (s, d, _, bytes) = reassemble6(&out.sent);
            prop_assert_eq!((s, d), (embed(Y4), x6()));
            prop_assert_eq!(bytes, expected_udp6(s, SERVER_PORT, x6(), 5000, &pkt[28..]));
        }
        prop_assert_eq!(b.sum(|w| w.fragment_datagrams() as u64), 0);
        prop_assert_eq!(b.parked_total(), 0);
    }
}

/// (T, Y) of a mapping: the 6to4 packets' addresses.
fn tt_addr(tt: (Ipv4Addr, u16), y: Ipv4Addr) -> (Ipv4Addr, Ipv4Addr) {
    (tt.0, y)
}
