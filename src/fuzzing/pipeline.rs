//! The `pipeline_sequence` harness: one stateful NAT64 [`Worker`] (RFC 6146
//! §3.4-§3.8) under a random but valid configuration, fed a sequence of
//! operations decoded from the input, on a clock the input drives.
//!
//! Promises checked (beyond "does not panic"), every output read with
//! etherparse, an independent parser:
//! - what a `process_*` call forwards parses as a packet of the other
//!   family (or, for a reply, of the same one), its IPv4 destination is the
//!   IPv6 destination's embedded address (RFC 6052 §2.3) and its IPv6
//!   source the IPv4 source embedded; for packets built well-formed, every
//!   checksum of the output is right;
//! - a dropped packet's cause is counted; a handed-off packet (and an IPv4
//!   packet for the box itself) is left as it was; each parking slot holds
//!   one fragment at a time and comes back once;
//! - the tables never hold more than their capacity, and the allocator's
//!   blocks are in use, free or held down, never more than its share;
//! - at the end, once the clock is past every timeout and the 120 s
//!   hold-down, every table, the held-SYN store and the fragment store are
//!   empty and every port block is free again: no leaked port or session.
//!
//! Deviation: the allocation is always dynamic (`pool4.allocation =
//! "deterministic"` needs every subscriber to fit the pool, a different
//! set of configurations), and there are no static BIB entries.

use crate::config::Config;
use crate::nat64::pipeline::{Action, Direction, Emit, Worker};
use crate::nat64::pool4::{PoolLayout, HOLD_DOWN};
use crate::nat64::table::BibEntry;
use crate::nat64::Millis;
use crate::xlat::rfc6052::Nat64Prefix;
use crate::xlat::PacketBuf;
use etherparse::{
    Icmpv4Header, Icmpv6Header, IpSlice, Ipv4HeaderSlice, NetHeaders, PacketBuilder, PacketHeaders,
    TransportHeader,
};
use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

/// Headroom of the packet buffers (the translation grows IPv4 to IPv6 in it).
const HEADROOM: usize = 128;
/// Room after a packet: enough for an ICMP error built from it.
const TAILROOM: usize = 1600;
/// Operations read from one input at most (keeps every run short).
const MAX_OPS: usize = 256;

/// The input, read a byte at a time; zeros once it runs out.
struct Input<'a> {
    data: &'a [u8],
}

impl Input<'_> {
    fn u8(&mut self) -> u8 {
        match self.data.split_first() {
            Some((&b, rest)) => {
                self.data = rest;
                b
            }
            None => 0,
        }
    }
    fn u16(&mut self) -> u16 {
        u16::from_be_bytes([self.u8(), self.u8()])
    }
    fn pick<T: Copy>(&mut self, from: &[T]) -> T {
        from[usize::from(self.u8()) % from.len()]
    }
    fn bytes(&mut self, n: usize) -> &[u8] {
        let (head, rest) = self.data.split_at(n.min(self.data.len()));
        self.data = rest;
        head
    }
    fn is_empty(&self) -> bool {
        self.data.is_empty()
    }
}

/// NAT64 prefixes of every RFC 6052 length, under 3fff::/20 (RFC 9637) so
/// the subscribers of 2001:db8::/32 are never inside them.
const PREFIXES: [&str; 6] = [
    "3fff:64::/32",
    "3fff:64:6400::/40",
    "3fff:64:64::/48",
    "3fff:64:64:6400::/56",
    "3fff:64:64:64::/64",
    "3fff:64:64:64::/96",
];

/// Inside hosts: two of one /64, others differing at /56, /48, beyond /64,
/// and one outside `inside.subscribers` when that is set.
const HOSTS: [Ipv6Addr; 6] = [
    Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 0x10),
    Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 0x11),
    Ipv6Addr::new(0x2001, 0xdb8, 1, 1, 0, 0, 0, 0x10),
    Ipv6Addr::new(0x2001, 0xdb8, 1, 0x100, 0, 0, 0, 0x10),
    Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0x8000, 0, 0, 1),
    Ipv6Addr::new(0x2001, 0xdb8, 2, 0, 0, 0, 0, 0x20),
];

/// Remote IPv4 hosts: servers, the pool (hairpinning), the outside
/// address, a non-global address (RFC 6052 §3.1) and the broadcast.
const REMOTES: [Ipv4Addr; 8] = [
    Ipv4Addr::new(198, 51, 100, 7),
    Ipv4Addr::new(203, 0, 113, 9),
    Ipv4Addr::new(203, 0, 113, 1),
    Ipv4Addr::new(192, 0, 2, 1),
    Ipv4Addr::new(192, 0, 2, 2),
    Ipv4Addr::new(192, 0, 2, 254),
    Ipv4Addr::new(10, 0, 0, 1),
    Ipv4Addr::new(255, 255, 255, 255),
];

/// Ports: a few clients' and servers', both classes, and 0.
const PORTS: [u16; 8] = [40000, 40001, 40002, 53, 80, 443, 1023, 0];

/// The worker's configuration from the input's first bytes: every knob
/// among values the configuration accepts, small tables and a small pool so
/// reclaim and exhaustion are reached, timeouts of seconds.
fn configure(inp: &mut Input) -> (Config, u16, bool) {
    let a = inp.u8();
    let b = inp.u8();
    let c = inp.u8();
    let d = inp.u8();
    let e = inp.u8();
    let prefix = PREFIXES[usize::from(a & 7) % 6];
    let subscriber_len = [32u8, 40, 48, 56, 64, 128][usize::from(b & 7) % 6];
    let block_size = [64u32, 128, 256, 512][usize::from((b >> 3) & 3)];
    let max_blocks = u32::from((b >> 5) & 3) + 1;
    let pool = ["192.0.2.1", "192.0.2.0/31", "192.0.2.0/30"][usize::from(c & 3) % 3];
    // One range across the well-known boundary (both port classes).
    let ports = ["1024-2047", "512-1535"][usize::from((c >> 2) & 1)];
    let sessions = [4u32, 8, 16, 64][usize::from((c >> 3) & 3)];
    let rate = [1u32, 2, 100][usize::from((c >> 5) & 3) % 3];
    let subscribers = if c & 0x80 != 0 {
        "[inside]\nsubscribers = [\"2001:db8:1::/48\"]\n"
    } else {
        ""
    };
    let t = |x: u8, lo: u8| u64::from(lo + x % 4);
    let text = format!(
        "[translation]\nprefix = \"{prefix}\"\nallow_non_global_ipv4 = {}\n\
         [pool4]\naddresses = [\"{pool}\"]\nport_range = \"{ports}\"\nblock_size = {block_size}\n\
         max_blocks_per_subscriber = {max_blocks}\nsubscriber_prefix_len = {subscriber_len}\n\
         block_allocations_per_second = {rate}\n\
         [filtering]\naddress_dependent = {}\ndrop_externally_initiated_tcp = {}\n\
         [timeouts]\nudp = {}\ntcp_established = {}\ntcp_transitory = {}\nicmp = {}\n\
         tcp_incoming_syn = {}\nfragment = {}\n\
         [workers]\nmax_sessions_per_worker = {sessions}\n\
         max_fragmented_datagrams_per_worker = {}\nmax_held_fragments_per_worker = {}\n\
         {subscribers}",
        a & 0x08 != 0,
        a & 0x10 != 0,
        a & 0x20 != 0,
        t(d, 1),
        t(d >> 2, 2),
        t(d >> 4, 1),
        t(d >> 6, 1),
        t(e, 1),
        t(e >> 2, 2),
        u32::from((e >> 4) & 3) + 1,
        (e >> 6) & 3,
    );
    let cfg = Config::from_str(&text).unwrap_or_else(|err| panic!("{err}\n{text}"));
    let n_workers = if a & 0x40 != 0 { 2 } else { 1 };
    (cfg, n_workers, a & 0x80 != 0)
}

/// One packet handed to the worker, and what is known of it.
struct Packet {
    bytes: Vec<u8>,
    /// IPv6 from the inside (`process_6to4`), else IPv4 (`process_4to6`).
    six: bool,
    /// Built well-formed (every checksum right): the output's are checked.
    well_formed: bool,
}

/// The harness's state beside the worker.
struct Run {
    w: Worker,
    prefix: Nat64Prefix,
    layout: Arc<PoolLayout>,
    outside: Ipv4Addr,
    offload: bool,
    now: Millis,
    /// What each parking slot holds (`Action::Park`).
    parked: Vec<Option<Packet>>,
}

/// See the module doc.
pub fn pipeline_sequence(data: &[u8]) {
    let mut inp = Input { data };
    let (cfg, n_workers, offload) = configure(&mut inp);
    let layout = Arc::new(PoolLayout::new(&cfg.pool4, &cfg.static_bib, n_workers));
    let mut w = Worker::new(&cfg, Arc::clone(&layout), 0, n_workers);
    w.set_ipv4_checksum_offload(offload);
    let total = w.allocator().blocks_total();
    assert_eq!(
        w.allocator().blocks_free(),
        total,
        "every block free at start"
    );
    let slots = w.parking_slots();
    let mut run = Run {
        w,
        prefix: cfg.translation.prefix,
        layout,
        outside: cfg.outside.address,
        offload,
        now: Millis::from(inp.u8()),
        parked: (0..slots).map(|_| None).collect(),
    };
    for _ in 0..MAX_OPS {
        if inp.is_empty() {
            break;
        }
        run.op(&mut inp);
        run.check_tables();
    }
    run.finish(&cfg);
}

impl Run {
    fn op(&mut self, inp: &mut Input) {
        match inp.u8() % 12 {
            0 => self.now += Millis::from(inp.u8()),
            1 => self.now += Millis::from(inp.u16()) * 8,
            2 => self.tick(),
            3 | 4 => {
                let p = self.build6(inp);
                self.one(p);
            }
            5 | 6 => {
                let p = self.build4(inp);
                self.one(p);
            }
            7 => {
                let six = inp.u8() & 1 == 0;
                let n = usize::from(inp.u8());
                let bytes = inp.bytes(n).to_vec();
                self.one(Packet {
                    bytes,
                    six,
                    well_formed: false,
                });
            }
            8 => {
                // A well-formed packet with a few bytes changed.
                let mut p = if inp.u8() & 1 == 0 {
                    self.build6(inp)
                } else {
                    self.build4(inp)
                };
                for _ in 0..(inp.u8() % 4) + 1 {
                    let at = usize::from(inp.u8());
                    let x = inp.u8();
                    if let Some(b) = p.bytes.get_mut(at) {
                        *b ^= x;
                    }
                }
                p.well_formed = false;
                self.one(p);
            }
            9 => self.fragments(inp),
            10 => self.burst(inp),
            _ => {
                let p = if inp.u8() & 1 == 0 {
                    self.error6(inp)
                } else {
                    self.error4(inp)
                };
                self.one(p);
            }
        }
        self.unpark();
        // The control side drains the block events between bursts.
        self.w.events().drain().for_each(drop);
    }

    /// An IPv6 packet from a subscriber to a remote IPv4 host (through the
    /// prefix), or to a mapping the BIB holds (§3.8 hairpinning): UDP, TCP
    /// with the input's flags, or an echo request.
    fn build6(&mut self, inp: &mut Input) -> Packet {
        let src = inp.pick(&HOSTS);
        let r = inp.u8();
        let bib = self.bib();
        let (dst, port) = match bib.get(usize::from(r & 0x7f) % bib.len().max(1)) {
            Some(e) if r & 0x80 != 0 => (e.v4, Some(e.v4_port)),
            _ => (REMOTES[usize::from(r) % REMOTES.len()], None),
        };
        let bytes = l4(inp, src, self.prefix.embed(dst), port);
        Packet {
            bytes,
            six: true,
            well_formed: true,
        }
    }

    /// An IPv4 packet from a remote host to a pool address: to a mapping
    /// the BIB holds (of its protocol), or to any pool port.
    fn build4(&mut self, inp: &mut Input) -> Packet {
        let (dst, dport, proto) = self.target(inp);
        let src = inp.pick(&REMOTES);
        let sport = inp.pick(&PORTS);
        let flags = inp.u8();
        let ttl = if flags & 0x80 != 0 { 1 } else { 64 };
        let len = usize::from(inp.u8()) * 6;
        let payload: Vec<u8> = (0..len).map(|i| i as u8).collect();
        let b = PacketBuilder::ipv4(src.octets(), dst.octets(), ttl);
        let mut bytes = Vec::new();
        match proto {
            0 => b.udp(sport, dport).write(&mut bytes, &payload),
            1 => tcp_flags(b.tcp(sport, dport, 5000, 65000), flags).write(&mut bytes, &payload),
            _ => {
                let b = if flags & 0x40 != 0 {
                    b.icmpv4_echo_request(dport, 1)
                } else {
                    b.icmpv4_echo_reply(dport, 1)
                };
                b.write(&mut bytes, &payload)
            }
        }
        .expect("a packet etherparse can write");
        set_df(&mut bytes, flags & 0x20 != 0);
        Packet {
            bytes,
            six: false,
            well_formed: true,
        }
    }

    /// The BIB entries, in slot order.
    fn bib(&self) -> Vec<BibEntry> {
        let t = self.w.tables();
        t.bibs_in(0..t.bib_capacity()).map(|(_, e)| *e).collect()
    }

    /// (pool address, port, protocol 0 UDP, 1 TCP, 2 ICMP): a BIB entry's,
    /// or any.
    fn target(&self, inp: &mut Input) -> (Ipv4Addr, u16, u8) {
        let pick = inp.u8();
        let any_port = inp.u16();
        let bib = self.bib();
        if pick & 1 == 1 && !bib.is_empty() {
            let e = bib[usize::from(pick >> 1) % bib.len()];
            let proto = match e.proto {
                crate::nat64::L4::Udp => 0,
                crate::nat64::L4::Tcp => 1,
                crate::nat64::L4::Icmp => 2,
            };
            (e.v4, e.v4_port, proto)
        } else {
            let n = self.layout.address_count().max(1);
            let addr = self
                .layout
                .address(u32::from(pick >> 2) % n)
                .unwrap_or(self.outside);
            (addr, any_port, (pick >> 1) % 3)
        }
    }

    /// An ICMPv6 error from an inside host about a packet that came from
    /// the IPv4 side (RFC 7915 §5.2): the quoted packet runs from a remote
    /// (through the prefix) to the host, truncated.
    fn error6(&mut self, inp: &mut Input) -> Packet {
        let host = inp.pick(&HOSTS);
        let remote = self.prefix.embed(inp.pick(&REMOTES));
        let inner = l4(inp, remote, host, None);
        let keep = usize::from(inp.u8()) * 4;
        let (ty, code) = inp.pick(&[(1u8, 4u8), (1, 0), (2, 0), (3, 0), (4, 0), (4, 1)]);
        let rest = u32::from(inp.u16()).to_be_bytes();
        let mut bytes = Vec::new();
        PacketBuilder::ipv6(host.octets(), remote.octets(), 64)
            .icmpv6_raw(ty, code, rest)
            .write(&mut bytes, &inner[..keep.min(inner.len())])
            .expect("a packet etherparse can write");
        Packet {
            bytes,
            six: true,
            well_formed: true,
        }
    }

    /// An ICMPv4 error from a remote host (or router) about a packet the
    /// box sent (RFC 7915 §4.2): the quoted packet runs from a pool
    /// mapping to the remote, truncated.
    fn error4(&mut self, inp: &mut Input) -> Packet {
        let (pool, port, proto) = self.target(inp);
        let remote = inp.pick(&REMOTES);
        let rport = inp.pick(&PORTS);
        let mut inner = Vec::new();
        let b = PacketBuilder::ipv4(pool.octets(), remote.octets(), 64);
        match proto {
            0 => b.udp(port, rport).write(&mut inner, b"quoted"),
            1 => b.tcp(port, rport, 1, 1000).syn().write(&mut inner, &[]),
            _ => b.icmpv4_echo_request(port, 1).write(&mut inner, b"quoted"),
        }
        .expect("a packet etherparse can write");
        let keep = usize::from(inp.u8()) % (inner.len() + 1);
        let (ty, code) = inp.pick(&[
            (3u8, 3u8),
            (3, 4),
            (3, 1),
            (3, 13),
            (11, 0),
            (12, 0),
            (5, 0),
        ]);
        let rest = u32::from(inp.u16()).to_be_bytes();
        let from = inp.pick(&REMOTES);
        let mut bytes = Vec::new();
        PacketBuilder::ipv4(from.octets(), pool.octets(), 64)
            .icmpv4_raw(ty, code, rest)
            .write(&mut bytes, &inner[..keep])
            .expect("a packet etherparse can write");
        Packet {
            bytes,
            six: false,
            well_formed: true,
        }
    }

    /// A UDP datagram split into two fragments (RFC 8200 §4.5, RFC 791),
    /// sent in the input's order, one of them maybe lost.
    fn fragments(&mut self, inp: &mut Input) {
        let six = inp.u8() & 1 == 0;
        let how = inp.u8();
        let ident = inp.u16();
        let len = usize::from(inp.u8()) + 16;
        let chunk = ((usize::from(how >> 2) % (len / 8)) + 1) * 8;
        let payload: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
        let sport = inp.pick(&PORTS);
        let dport = inp.pick(&PORTS);
        let mut whole = Vec::new();
        let pieces: Vec<Vec<u8>> = if six {
            let src = inp.pick(&HOSTS);
            let dst = self.prefix.embed(inp.pick(&REMOTES));
            PacketBuilder::ipv6(src.octets(), dst.octets(), 64)
                .udp(sport, dport)
                .write(&mut whole, &payload)
                .expect("a packet etherparse can write");
            let body = &whole[40..];
            let n = body.len().div_ceil(chunk);
            body.chunks(chunk)
                .enumerate()
                .map(|(i, piece)| {
                    let mut v = whole[..40].to_vec();
                    v[6] = 44;
                    v[4..6].copy_from_slice(&((8 + piece.len()) as u16).to_be_bytes());
                    // RFC 8200 §4.5, by hand (etherparse 0.16 swaps the
                    // offset's low bits and M).
                    let field = ((i * chunk) as u16 & !7) | u16::from(i + 1 < n);
                    v.extend_from_slice(&[17, 0]);
                    v.extend_from_slice(&field.to_be_bytes());
                    v.extend_from_slice(&u32::from(ident).to_be_bytes());
                    v.extend_from_slice(piece);
                    v
                })
                .collect()
        } else {
            let (dst, dport, _) = self.target(inp);
            let src = inp.pick(&REMOTES);
            PacketBuilder::ipv4(src.octets(), dst.octets(), 64)
                .udp(sport, dport)
                .write(&mut whole, &payload)
                .expect("a packet etherparse can write");
            let ip = Ipv4HeaderSlice::from_slice(&whole)
                .expect("etherparse reads what it wrote")
                .to_header();
            let body = &whole[ip.header_len()..];
            let n = body.len().div_ceil(chunk);
            body.chunks(chunk)
                .enumerate()
                .map(|(i, piece)| {
                    let mut h = ip.clone();
                    h.identification = ident;
                    h.dont_fragment = false;
                    h.more_fragments = i + 1 < n;
                    h.fragment_offset = etherparse::IpFragOffset::try_new((i * chunk / 8) as u16)
                        .expect("a small offset");
                    h.set_payload_len(piece.len()).expect("a small payload");
                    h.header_checksum = h.calc_header_checksum();
                    let mut v = Vec::new();
                    h.write(&mut v).expect("etherparse writes a header");
                    v.extend_from_slice(piece);
                    v
                })
                .collect()
        };
        let mut order: Vec<usize> = (0..pieces.len()).collect();
        if how & 1 == 1 {
            order.reverse();
        }
        let lose = (how & 2 == 2).then(|| usize::from(how >> 4) % pieces.len());
        for i in order {
            if Some(i) == lose {
                continue;
            }
            self.one(Packet {
                bytes: pieces[i].clone(),
                six,
                well_formed: true,
            });
            self.unpark();
        }
    }

    /// Up to 8 well-formed packets of one direction as one burst.
    fn burst(&mut self, inp: &mut Input) {
        let six = inp.u8() & 1 == 0;
        let n = usize::from(inp.u8() % 8) + 1;
        let pkts: Vec<Packet> = (0..n)
            .map(|_| {
                if six {
                    self.build6(inp)
                } else {
                    self.build4(inp)
                }
            })
            .collect();
        let mut mems: Vec<Vec<u8>> = pkts.iter().map(|p| room(&p.bytes)).collect();
        let mut bufs: Vec<PacketBuf> = mems
            .iter_mut()
            .zip(&pkts)
            .map(|(m, p)| PacketBuf::new(m, HEADROOM, p.bytes.len()).expect("room for it"))
            .collect();
        let mut refs: Vec<&mut PacketBuf> = bufs.iter_mut().collect();
        let mut actions = vec![Action::Held; n];
        let drops_before = self.drops_total();
        if six {
            self.w.process_6to4_burst(&mut refs, self.now, &mut actions);
        } else {
            self.w.process_4to6_burst(&mut refs, self.now, &mut actions);
        }
        let dropped = actions
            .iter()
            .filter(|a| matches!(a, Action::Drop(_)))
            .count() as u64;
        assert!(
            self.drops_total() >= drops_before + dropped,
            "every dropped packet of a burst is counted"
        );
        let outs: Vec<Vec<u8>> = bufs.iter().map(|b| b.data().to_vec()).collect();
        for ((p, a), out) in pkts.into_iter().zip(actions).zip(outs) {
            if let Action::Drop(c) = a {
                assert!(self.w.counters().drops(c) > 0, "{c:?} counted");
            }
            self.check(p, a, out);
        }
    }

    /// All drop counters together.
    fn drops_total(&self) -> u64 {
        use crate::nat64::pipeline::Nat64Drop;
        use crate::xlat::DropReason;
        let c = self.w.counters();
        Nat64Drop::ALL
            .iter()
            .map(|d| c.nat64_drops(*d))
            .sum::<u64>()
            + DropReason::ALL
                .iter()
                .map(|r| c.xlat_drops(*r))
                .sum::<u64>()
    }

    /// One packet through `process_6to4` / `process_4to6`, its outcome
    /// checked.
    fn one(&mut self, p: Packet) {
        let mut mem = room(&p.bytes);
        let Some(mut buf) = PacketBuf::new(&mut mem, HEADROOM, p.bytes.len()) else {
            return;
        };
        let before = self.drops_total();
        let a = if p.six {
            self.w.process_6to4(&mut buf, self.now)
        } else {
            self.w.process_4to6(&mut buf, self.now)
        };
        if let Action::Drop(c) = a {
            assert!(self.w.counters().drops(c) > 0, "{c:?} counted");
            assert!(self.drops_total() > before, "a drop is counted");
        }
        let out = buf.data().to_vec();
        self.check(p, a, out);
    }

    /// What `process_*` did with `p` (its buffer now holds `out`) is what
    /// the action says.
    fn check(&mut self, p: Packet, a: Action, out: Vec<u8>) {
        match a {
            Action::Forward if p.six => {
                let (src, dst) = self.ipv4_out(&out, p.well_formed, false);
                assert!(
                    self.layout.contains(src) || src == self.outside,
                    "6to4 source {src} is not ours"
                );
                let want = in_dst6(&p.bytes).and_then(|d| self.prefix.extract(&d));
                assert_eq!(Some(dst), want, "6to4 destination is the embedded one");
            }
            Action::Forward => {
                let (src, _) = self.ipv6_out(&out, p.well_formed);
                self.check_embedded_src(&p.bytes, src);
            }
            Action::Fragment { mtu } => {
                assert!(!p.six, "only 4to6 fragments");
                let (src, _) = self.ipv6_out(&out, false);
                self.check_embedded_src(&p.bytes, src);
                let mut pieces = 0;
                crate::xlat::v4to6::fragment_ipv6(&out, mtu, &mut |head: &[u8], piece: &[u8]| {
                    assert!(
                        head.len() + piece.len() <= usize::from(mtu),
                        "fragment over the MTU"
                    );
                    let f = [head, piece].concat();
                    assert!(
                        matches!(IpSlice::from_slice(&f), Ok(IpSlice::Ipv6(_))),
                        "a fragment etherparse cannot read"
                    );
                    pieces += 1;
                    true
                })
                .expect("a translated packet fragments");
                assert!(pieces >= 2, "fragmented into one piece");
            }
            Action::Hairpin => {
                assert!(p.six, "only IPv6 hairpins");
                self.ipv6_out(&out, p.well_formed);
            }
            Action::Reply(_) if p.six => {
                self.ipv6_out(&out, p.well_formed);
            }
            Action::Reply(_) => {
                self.ipv4_out(&out, p.well_formed, false);
            }
            // §3.8: the IPv4 half of a hairpin, for the pool port's owner,
            // with its header checksum whatever the offload (the owner
            // checks it).
            Action::Handoff {
                worker,
                dir: Direction::FourToSix,
            } if p.six => {
                assert_ne!(worker, 0, "handed to itself");
                self.ipv4_out(&out, p.well_formed, true);
            }
            Action::Handoff { worker, .. } => {
                assert_ne!(worker, 0, "handed to itself");
                assert_eq!(out, p.bytes, "a handed-off packet is untouched");
            }
            Action::Local if !p.six => {
                assert_eq!(out, p.bytes, "a packet for the box is untouched");
            }
            Action::Local => {
                self.ipv4_out(&out, false, false);
            }
            // An IPv4 SYN, or an IPv6 one hairpinned to a pool address
            // (its IPv4 half meets no mapping: §3.5.2.2 then §3.8).
            Action::Held if p.six => {
                let to = in_dst6(&p.bytes).and_then(|d| self.prefix.extract(&d));
                assert!(
                    to.is_some_and(|a| self.layout.contains(a)),
                    "an IPv6 SYN held that is no hairpin"
                );
            }
            Action::Held => {}
            Action::Park { slot } => {
                let s = self
                    .parked
                    .get_mut(usize::from(slot))
                    .expect("a parking slot within max_held_fragments_per_worker");
                assert!(s.is_none(), "slot {slot} parked twice");
                // As received, or (a hairpin) its IPv4 half: what the
                // dataplane runs again is what the buffer holds.
                let six = out.first().map(|b| b >> 4) == Some(6);
                if six == p.six {
                    assert_eq!(out, p.bytes, "a parked fragment is untouched");
                }
                *s = Some(Packet {
                    bytes: out,
                    six,
                    well_formed: p.well_formed,
                });
            }
            Action::Drop(_) => {}
        }
    }

    /// The output read as IPv4 (every checksum right when `full`; the
    /// header's also when `header_sum` or without the offload): its
    /// (source, destination).
    fn ipv4_out(&self, out: &[u8], full: bool, header_sum: bool) -> (Ipv4Addr, Ipv4Addr) {
        let Ok(IpSlice::Ipv4(ip)) = IpSlice::from_slice(out) else {
            panic!("not an IPv4 packet: {out:02x?}");
        };
        let h = ip.header();
        if header_sum || !self.offload {
            let hdr = h.to_header();
            assert_eq!(
                hdr.header_checksum,
                hdr.calc_header_checksum(),
                "IPv4 header checksum"
            );
        }
        if full {
            check_l4(out);
        }
        (h.source_addr(), h.destination_addr())
    }

    /// The output read as IPv6 (every checksum right when `full`).
    fn ipv6_out(&self, out: &[u8], full: bool) -> (Ipv6Addr, Ipv6Addr) {
        let Ok(IpSlice::Ipv6(ip)) = IpSlice::from_slice(out) else {
            panic!("not an IPv6 packet: {out:02x?}");
        };
        if full {
            check_l4(out);
        }
        (ip.header().source_addr(), ip.header().destination_addr())
    }

    /// A 4to6 packet's IPv6 source is its IPv4 source embedded (RFC 6052).
    fn check_embedded_src(&self, input: &[u8], src: Ipv6Addr) {
        if let Ok(h) = Ipv4HeaderSlice::from_slice(input) {
            assert_eq!(
                src,
                self.prefix.embed(h.source_addr()),
                "4to6 source is the embedded one"
            );
        }
    }

    /// Parked fragments handed back: run again, or freed.
    fn unpark(&mut self) {
        while let Some(u) = self.w.next_unparked() {
            let p = self.parked[usize::from(u.slot)]
                .take()
                .expect("a slot handed back holds a fragment");
            if u.retry {
                self.one(p);
            }
        }
    }

    fn tick(&mut self) {
        let offload = self.offload;
        self.w.tick(self.now, &mut |e| match e {
            Emit::Outside(pkt) => {
                // RFC 6146 §3.5.2.2: an ICMP port unreachable for a held SYN.
                let h = PacketHeaders::from_ip_slice(pkt).expect("an IPv4 packet");
                let Some(NetHeaders::Ipv4(ip, _)) = &h.net else {
                    panic!("not IPv4");
                };
                if !offload {
                    assert_eq!(ip.header_checksum, ip.calc_header_checksum());
                }
                assert!(matches!(h.transport, Some(TransportHeader::Icmpv4(_))));
            }
        });
        self.unpark();
    }

    fn check_tables(&self) {
        let t = self.w.tables();
        assert!(t.sessions_len() <= t.capacity(), "sessions over capacity");
        assert!(t.bib_len() <= t.bib_capacity(), "BIB over capacity");
        let a = self.w.allocator();
        assert!(
            a.blocks_in_use() + a.blocks_free() + a.blocks_held_down() <= a.blocks_total(),
            "blocks counted twice"
        );
        assert!(self.w.parked_fragments() <= self.parked.len());
    }

    /// Past every timeout, then past the hold-down: nothing left.
    fn finish(mut self, cfg: &Config) {
        let t = &cfg.timeouts;
        let longest = [
            t.udp,
            t.tcp_established,
            t.tcp_transitory,
            t.icmp,
            t.tcp_incoming_syn,
            t.fragment,
        ]
        .into_iter()
        .max()
        .unwrap_or_default()
        .as_millis() as Millis;
        // The tables touch lazily, up to a granularity late.
        self.now += longest + crate::nat64::table::DEFAULT_TOUCH_GRANULARITY + 1;
        self.tick();
        let t = self.w.tables();
        assert_eq!(t.sessions_len(), 0, "sessions left after every timeout");
        assert_eq!(t.bib_len(), 0, "BIB entries left after every timeout");
        assert_eq!(self.w.held_syns(), 0, "SYNs held after their timeout");
        assert_eq!(
            self.w.fragment_datagrams(),
            0,
            "datagrams after their timeout"
        );
        assert_eq!(
            self.w.parked_fragments(),
            0,
            "fragments parked after their timeout"
        );
        assert!(
            self.parked.iter().all(Option::is_none),
            "a slot never handed back"
        );
        assert_eq!(self.w.allocator().blocks_in_use(), 0, "blocks in use");
        assert_eq!(self.w.allocator().subscribers(), 0, "subscribers left");
        self.now += HOLD_DOWN + 1;
        self.tick();
        let a = self.w.allocator();
        assert_eq!(a.blocks_held_down(), 0, "blocks still held down");
        assert_eq!(a.blocks_free(), a.blocks_total(), "a port block leaked");
    }
}

/// A buffer with headroom and tailroom holding `pkt`.
fn room(pkt: &[u8]) -> Vec<u8> {
    let mut mem = vec![0u8; HEADROOM + pkt.len() + TAILROOM];
    mem[HEADROOM..HEADROOM + pkt.len()].copy_from_slice(pkt);
    mem
}

/// The destination of an IPv6 packet.
fn in_dst6(pkt: &[u8]) -> Option<Ipv6Addr> {
    match IpSlice::from_slice(pkt) {
        Ok(IpSlice::Ipv6(ip)) => Some(ip.header().destination_addr()),
        _ => None,
    }
}

/// An IPv6 packet from `src` to `dst`, from the input: UDP, TCP (with the
/// input's flags) or an echo request, ports (the destination port, or the
/// echo identifier, `port` when given), hop limit 1 or 64, payload length.
fn l4(inp: &mut Input, src: Ipv6Addr, dst: Ipv6Addr, port: Option<u16>) -> Vec<u8> {
    let proto = inp.u8() % 3;
    let sport = inp.pick(&PORTS);
    let dport = inp.pick(&PORTS);
    let (sport, dport) = match (proto, port) {
        (2, Some(p)) => (p, dport),
        (_, Some(p)) => (sport, p),
        _ => (sport, dport),
    };
    let flags = inp.u8();
    // Hop limit 1: time exceeded (RFC 7915 §5.1).
    let hop_limit = if flags & 0x80 != 0 { 1 } else { 64 };
    let len = usize::from(inp.u8()) * 6;
    let payload: Vec<u8> = (0..len).map(|i| i as u8).collect();
    let b = PacketBuilder::ipv6(src.octets(), dst.octets(), hop_limit);
    let mut v = Vec::new();
    match proto {
        0 => b.udp(sport, dport).write(&mut v, &payload),
        1 => tcp_flags(b.tcp(sport, dport, 1000, 65000), flags).write(&mut v, &payload),
        _ => b.icmpv6_echo_request(sport, 1).write(&mut v, &payload),
    }
    .expect("a packet etherparse can write");
    v
}

/// SYN, FIN, RST, ACK from the input's bits 0-3.
fn tcp_flags(
    mut b: etherparse::PacketBuilderStep<etherparse::TcpHeader>,
    f: u8,
) -> etherparse::PacketBuilderStep<etherparse::TcpHeader> {
    if f & 1 != 0 {
        b = b.syn();
    }
    if f & 2 != 0 {
        b = b.fin();
    }
    if f & 4 != 0 {
        b = b.rst();
    }
    if f & 8 != 0 {
        b = b.ack(77);
    }
    b
}

/// Sets or clears an IPv4 packet's DF bit, the header checksum redone.
fn set_df(pkt: &mut [u8], df: bool) {
    let Ok(h) = Ipv4HeaderSlice::from_slice(pkt) else {
        return;
    };
    let mut h = h.to_header();
    h.dont_fragment = df;
    h.header_checksum = h.calc_header_checksum();
    let mut hdr = Vec::new();
    h.write(&mut hdr).expect("etherparse writes a header");
    pkt[..hdr.len()].copy_from_slice(&hdr);
}

/// Every checksum of a translated packet is right (RFC 768, RFC 793, RFC
/// 792, RFC 4443 §2.3), by etherparse; fragments' are not checked (and an
/// IPv6 Fragment header is not left to etherparse 0.16, which swaps its
/// offset's low bits and M: see `Run::fragments`).
fn check_l4(pkt: &[u8]) {
    let fragment = match IpSlice::from_slice(pkt) {
        Ok(IpSlice::Ipv4(ip)) => {
            ip.header().more_fragments() || ip.header().fragments_offset().value() != 0
        }
        // The translator puts a Fragment header first, if any (RFC 7915 §4.1).
        Ok(IpSlice::Ipv6(ip)) => {
            ip.header().next_header() == etherparse::IpNumber::IPV6_FRAGMENTATION_HEADER
        }
        Err(_) => false,
    };
    if fragment {
        return;
    }
    let h = PacketHeaders::from_ip_slice(pkt).expect("a packet etherparse reads");
    let payload = h.payload.slice();
    match (&h.net, &h.transport) {
        (Some(NetHeaders::Ipv4(ip, _)), Some(TransportHeader::Udp(u))) => {
            assert_eq!(
                u.checksum,
                u.calc_checksum_ipv4(ip, payload).expect("sized"),
                "UDP checksum"
            );
        }
        (Some(NetHeaders::Ipv4(ip, _)), Some(TransportHeader::Tcp(t))) => {
            assert_eq!(
                t.checksum,
                t.calc_checksum_ipv4(ip, payload).expect("sized"),
                "TCP checksum"
            );
        }
        (Some(NetHeaders::Ipv4(_, _)), Some(TransportHeader::Icmpv4(i))) => {
            let want = Icmpv4Header::with_checksum(i.icmp_type.clone(), payload);
            assert_eq!(i.checksum, want.checksum, "ICMPv4 checksum");
        }
        (Some(NetHeaders::Ipv6(ip, _)), Some(TransportHeader::Udp(u))) => {
            assert_eq!(
                u.checksum,
                u.calc_checksum_ipv6(ip, payload).expect("sized"),
                "UDP checksum"
            );
        }
        (Some(NetHeaders::Ipv6(ip, _)), Some(TransportHeader::Tcp(t))) => {
            assert_eq!(
                t.checksum,
                t.calc_checksum_ipv6(ip, payload).expect("sized"),
                "TCP checksum"
            );
        }
        (Some(NetHeaders::Ipv6(ip, _)), Some(TransportHeader::Icmpv6(i))) => {
            let want = Icmpv6Header::with_checksum(i.icmp_type, ip.source, ip.destination, payload)
                .expect("sized");
            assert_eq!(i.checksum, want.checksum, "ICMPv6 checksum");
        }
        _ => {}
    }
}
