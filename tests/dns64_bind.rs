//! Differential test of the DNS64 (`nat64_dpdk::dns64::server`) against
//! BIND 9.18 configured as a DNS64 (`dns64 <prefix> { clients { any; }; }`).
//!
//! ```text
//!   test ──> ours (in-process, 127.0.0.1:0) ──┐
//!                                              ├─> BIND, plain resolver ──> nsd (n64.example.)
//!   test ──> BIND as DNS64 (named -g) ─────────┘    (+ 2.0.192.in-addr.arpa)
//! ```
//!
//! Both DNS64s have the same upstream: a recursive resolver, as
//! `dns64.upstream` is meant to be (a plain BIND forwarding the test zone to
//! nsd, `tests/common/nsd.rs`, and serving the reverse zone of 192.0.2.0/24
//! itself, which nsd's test zone lacks). Both are asked the same questions
//! (every name of the zone × AAAA and A, SOA, NS, CNAME, DNAME, an NXDOMAIN
//! name, the PTR of a synthesized address and an empty non-terminal under
//! the prefix, ipv4only.arpa, the 40-A name over UDP (truncated) and TCP),
//! and the answers, parsed with `hickory-proto` (an independent DNS
//! library), are compared: rcode, the answer section as a set of RRs (owner
//! names lowercased), their TTLs within [`TTL_SLACK`] seconds (BIND counts
//! down its cache), and the AA, AD, RA and TC flags.
//!
//! Where the RFCs leave a choice and BIND chose otherwise, the comparison
//! of that case is narrowed, with the reason and the section at the case
//! ([`Compare`]); each narrowed case is printed with both sides' TTLs:
//!
//! - ipv4only.arpa (RFC 8880 §7.2): BIND answers from a built-in zone
//!   (AA=1, TTL 3600), ours with AA clear and 600 s: AA and TTL not compared.
//! - The reverse of a synthesized address (RFC 6147 §5.3.1): BIND's
//!   built-in reverse zone sets AA; ours does not: AA not compared.
//! - A TC=1 answer (RFC 2181 §9): BIND fills it with what fits, ours sends
//!   the question alone: only TC compared.
//!
//! Everything else is compared whole, the synthesized AAAA's TTLs (RFC 6147
//! §5.1.7) included. Run once under the well-known prefix and once under a
//! network-specific /40 (RFC 6052 §2.2, the u-octet).
//!
//! Skips, with the reason printed, only when `named` (Debian package
//! `bind9`) or `nsd` is not installed, and never under CI (`CI` set):
//! there it fails.

mod common;

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, UdpSocket};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use common::dns::{query_msg, tcp_exchange, udp_exchange};
use common::nsd::{self, Nsd};
use hickory_proto::op::{Message, MessageType, ResponseCode};
use hickory_proto::rr::RecordType;
use nat64_dpdk::config::Config;
use nat64_dpdk::dns64::server::{self, ServerOptions};
use nat64_dpdk::xlat::rfc6052::Nat64Prefix;

/// Where Debian installs BIND's server.
const NAMED: &str = "/usr/sbin/named";

/// How far apart the two TTLs of one RR may be: BIND returns its cache's
/// remaining TTL, and the questions take a few seconds in all.
const TTL_SLACK: u32 = 5;

/// The reverse zone of 192.0.2.0/24 that the plain resolver serves: the
/// PTR target of the synthesized-address PTR cases.
const REVERSE_ZONE: &str = "$TTL 300
@ 60 IN SOA ns.n64.example. hostmaster.n64.example. 1 3600 600 86400 30
@ NS ns.n64.example.
1 PTR v4only.n64.example.
";

/// `Err(why)` when named is not installed (a failure under CI).
fn named_can_run() -> Result<(), String> {
    if Path::new(NAMED).exists() {
        return Ok(());
    }
    if std::env::var_os("CI").is_some() {
        panic!("CI is set, so the differential test may not skip: named is not installed");
    }
    Err("named is not installed (Debian package bind9); run scripts/setup.sh".into())
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

/// BIND as a DNS64 in front of `upstream`; stopped on drop.
struct Named {
    child: Child,
    dir: PathBuf,
    addr: SocketAddr,
}

impl Named {
    /// A DNS64 under `prefix`, or (`None`) a plain forwarding resolver.
    fn start(prefix: Option<&str>, upstream: SocketAddr) -> Named {
        static SEQ: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "nat64-named-{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("named temp dir");
        let port = free_port();
        let d = dir.display();
        // `disable-empty-zone`: BIND would otherwise answer the
        // documentation ranges' reverse zones (2.0.192.in-addr.arpa,
        // 8.b.d.0.1.0.0.2.ip6.arpa, ...) itself (RFC 6303), which the zone
        // of this test uses; the empty zones stay enabled, as BIND creates
        // its ipv4only.arpa and DNS64 reverse zones with them. `mapped {
        // any; }` is BIND's default, written out: every A is synthesized,
        // as ours does with `allow_non_global_ipv4`.
        // Forward zones, not global forwarders: with a global `forward
        // only` BIND creates none of its built-in zones (ipv4only.arpa,
        // RFC 8880 §7.2, among them). The reverse zone of the zone's
        // addresses (nsd serves none): a primary zone in the plain
        // resolver, forwarded to it by the DNS64.
        let reverse = match prefix {
            Some(_) => format!(
                r#"zone "2.0.192.in-addr.arpa" {{ type forward; forward only; forwarders {{ {} port {}; }}; }};"#,
                upstream.ip(),
                upstream.port()
            ),
            None => {
                std::fs::write(dir.join("reverse.zone"), REVERSE_ZONE).expect("reverse zone");
                r#"zone "2.0.192.in-addr.arpa" { type primary; file "reverse.zone"; };"#.to_string()
            }
        };
        let dns64 = match prefix {
            Some(prefix) => format!(
                r#"dns64 {prefix} {{
        clients {{ any; }};
        mapped {{ any; }};
        exclude {{ ::ffff:0.0.0.0/96; }};
    }};
    dns64-server "ns.n64.example.";
    dns64-contact "hostmaster.n64.example.";"#
            ),
            None => String::new(),
        };
        let conf = format!(
            r#"options {{
    directory "{d}";
    pid-file "{d}/named.pid";
    session-keyfile "{d}/session.key";
    managed-keys-directory "{d}";
    listen-on port {port} {{ 127.0.0.1; }};
    listen-on-v6 {{ none; }};
    recursion yes;
    allow-query {{ any; }};
    allow-recursion {{ any; }};
    dnssec-validation no;
    disable-empty-zone "2.0.192.in-addr.arpa";
    disable-empty-zone "100.51.198.in-addr.arpa";
    disable-empty-zone "113.0.203.in-addr.arpa";
    disable-empty-zone "8.b.d.0.1.0.0.2.ip6.arpa";
    notify no;
    {dns64}
}};
controls {{ }};
zone "{zone}" {{ type forward; forward only; forwarders {{ {up} port {up_port}; }}; }};
{reverse}
"#,
            zone = nsd::ZONE,
            up = upstream.ip(),
            up_port = upstream.port(),
        );
        let conf_path = dir.join("named.conf");
        std::fs::write(&conf_path, conf).expect("write named.conf");
        let log = std::fs::File::create(dir.join("named.log")).expect("named.log");
        let child = Command::new(NAMED)
            .arg("-g")
            .arg("-4")
            .arg("-n")
            .arg("1")
            .arg("-c")
            .arg(&conf_path)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log fd"))
            .stderr(log)
            .process_group(0)
            .spawn()
            .expect("start named");
        let mut named = Named {
            child,
            dir,
            addr: (Ipv4Addr::LOCALHOST, port).into(),
        };
        named.wait_ready();
        named
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("named.log")).unwrap_or_default()
    }

    /// Until it answers a query for the zone's apex (through the
    /// forwarder: the first answer also warms nothing the tests ask).
    fn wait_ready(&mut self) {
        let until = Instant::now() + Duration::from_secs(20);
        let probe = query_msg(0x7a7a, "ns.n64.example.", RecordType::NS, None);
        while Instant::now() < until {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "named exited with {status} at start (where AppArmor is active, \
                     its usr.sbin.named profile keeps named out of temp directories: \
                     scripts/setup.sh disables it when it installs bind9):\n{}",
                    self.log()
                );
            }
            if udp_exchange(self.addr, &probe, Duration::from_millis(200)).is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("named did not answer within 20 s:\n{}", self.log());
    }
}

impl Drop for Named {
    fn drop(&mut self) {
        common::dns::stop_group(&mut self.child, Duration::from_secs(5));
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Transport {
    /// UDP without EDNS: 512 bytes at most.
    Udp,
    /// UDP with EDNS(0), a 4096-byte payload size.
    UdpEdns,
    Tcp,
}

/// One answer, reduced to what is compared.
#[derive(Debug)]
struct Seen {
    rcode: ResponseCode,
    aa: bool,
    ad: bool,
    ra: bool,
    tc: bool,
    /// (owner lowercased, type, RDATA in presentation form) -> TTL.
    answer: BTreeMap<(String, RecordType, String), u32>,
}

impl Seen {
    fn rrs(&self) -> Vec<&(String, RecordType, String)> {
        self.answer.keys().collect()
    }
}

fn ask(server: SocketAddr, name: &str, rtype: RecordType, transport: Transport) -> Seen {
    let edns = (transport == Transport::UdpEdns).then_some(4096);
    let q = query_msg(0x3c3c, name, rtype, edns);
    let raw = match transport {
        Transport::Udp | Transport::UdpEdns => udp_exchange(server, &q, Duration::from_secs(5))
            .unwrap_or_else(|| panic!("no UDP answer from {server} to {name} {rtype}")),
        Transport::Tcp => tcp_exchange(server, &q),
    };
    let m = Message::from_vec(&raw).expect("hickory parses the answer");
    assert_eq!(m.metadata.id, 0x3c3c, "{server} {name} {rtype}: ID");
    assert_eq!(m.metadata.message_type, MessageType::Response);
    assert_eq!(m.queries.len(), 1, "{server} {name} {rtype}: the question");
    assert_eq!(
        m.queries[0].name().to_ascii().to_lowercase(),
        name.to_lowercase()
    );
    assert_eq!(m.queries[0].query_type(), rtype);
    let mut answer = BTreeMap::new();
    for r in &m.answers {
        let key = (
            r.name.to_ascii().to_lowercase(),
            r.record_type(),
            r.data.to_string().to_lowercase(),
        );
        answer.insert(key, r.ttl);
    }
    Seen {
        rcode: m.metadata.response_code,
        aa: m.metadata.authoritative,
        ad: m.metadata.authentic_data,
        ra: m.metadata.recursion_available,
        tc: m.metadata.truncation,
        answer,
    }
}

/// How much of one case is compared, with why when not everything.
#[derive(Clone, Copy, Debug)]
enum Compare {
    /// rcode, the AA, AD, RA and TC flags, answer RRs and their TTLs.
    All,
    /// All but the AA flag (the reason given).
    NoAa(&'static str),
    /// All but the AA flag and the TTLs (the reason given).
    NoAaTtl(&'static str),
    /// Only the TC flag, set by both (the reason given).
    TcOnly(&'static str),
}

impl Compare {
    fn why(self) -> Option<&'static str> {
        match self {
            Compare::All => None,
            Compare::NoAa(w) | Compare::NoAaTtl(w) | Compare::TcOnly(w) => Some(w),
        }
    }
    fn ttl(self) -> bool {
        matches!(self, Compare::All | Compare::NoAa(_))
    }
    fn aa(self) -> bool {
        matches!(self, Compare::All)
    }
}

struct Case {
    name: String,
    rtype: RecordType,
    transport: Transport,
    compare: Compare,
}

fn case(name: &str, rtype: RecordType, transport: Transport, compare: Compare) -> Case {
    Case {
        name: name.to_string(),
        rtype,
        transport,
        compare,
    }
}

/// RFC 6052 §2.2, written here independently of the crate: the IPv6
/// address of `v4` under `prefix`.
fn embed(prefix: &str, v4: Ipv4Addr) -> std::net::Ipv6Addr {
    let (addr, len) = prefix.split_once('/').unwrap();
    let mut b = addr.parse::<std::net::Ipv6Addr>().unwrap().octets();
    let len: usize = len.parse().unwrap();
    let mut i = len / 8;
    for x in v4.octets() {
        if i == 8 {
            i += 1; // the u-octet stays 0
        }
        b[i] = x;
        i += 1;
    }
    std::net::Ipv6Addr::from(b)
}

/// The ip6.arpa name of an address: 32 nibbles.
fn ip6_arpa(a: std::net::Ipv6Addr) -> String {
    let mut s = String::new();
    for byte in a.octets().iter().rev() {
        s.push_str(&format!("{:x}.{:x}.", byte & 0xf, byte >> 4));
    }
    s + "ip6.arpa."
}

fn cases(prefix: &str) -> Vec<Case> {
    use Compare::*;
    use RecordType::{A, AAAA, CNAME, DNAME, NS, PTR, SOA};
    use Transport::*;
    let z = |l: &str| {
        if l.is_empty() {
            nsd::ZONE.to_string()
        } else {
            format!("{l}.{}", nsd::ZONE)
        }
    };
    let mut out = Vec::new();
    // Every name of the zone, AAAA and A.
    for l in [
        "", "ns", "v4only", "v4multi", "dual", "v6only", "mapped", "chain", "chain2", "old",
        "host.old", "host.new", "private", "absent",
    ] {
        for t in [AAAA, A] {
            // Synthesized AAAA included, TTLs too: both take min(A TTL,
            // the negative AAAA answer's SOA TTL and MINIMUM) (RFC 6147
            // §5.1.7): 30 s here.
            let how = All;
            out.push(case(&z(l), t, Udp, how));
        }
    }
    out.push(case(&z(""), SOA, Udp, All));
    out.push(case(&z(""), NS, Udp, All));
    out.push(case(&z("chain"), CNAME, Udp, All));
    out.push(case(&z("old"), DNAME, Udp, All));
    // The 40-A name: 40 A records (656 bytes) do not fit 512 bytes, so
    // over UDP without EDNS both set TC; over TCP, and over UDP with a
    // 4096-byte EDNS payload size, all 40 A and all 40 synthesized AAAA.
    for t in [A, AAAA] {
        out.push(case(
            &z("many"),
            t,
            Udp,
            // BIND fills a truncated answer with the records that fit
            // (17 of 40 AAAA), ours sends the header and question alone;
            // RFC 2181 §9 allows both (the client must retry over TCP).
            TcOnly("RFC 2181 9: what a TC=1 answer holds is the server's choice"),
        ));
    }
    out.push(case(&z("many"), A, Tcp, All));
    out.push(case(&z("many"), A, UdpEdns, All));
    out.push(case(&z("many"), AAAA, UdpEdns, All));
    out.push(case(&z("many"), AAAA, Tcp, All));
    out.push(case(&z("v4only"), AAAA, Tcp, All));
    out.push(case(&z("chain"), AAAA, Tcp, All));
    // NXDOMAIN with the chain: a name that does not exist.
    out.push(case(&z("nothing.absent"), AAAA, Udp, All));
    // ipv4only.arpa (RFC 7050 §2.2, RFC 8880 §7.2): both answer it
    // locally, never upstream, with 192.0.0.170 and 192.0.0.171 and the
    // same two under the prefix: rcode, RRs, AD/RA/TC compared. BIND serves
    // it from a built-in zone of its own, so its answer is authoritative
    // (AA=1) with that zone's TTL (3600 s); ours answers from the DNS64,
    // AA clear, with the DNS64's default TTL (600 s, the RFC 6147 §5.1.7
    // default). RFC 8880 §7.2 says what to answer, not with which TTL or
    // AA bit: those two are not compared.
    for t in [A, AAAA] {
        out.push(case(
            "ipv4only.arpa.",
            t,
            Udp,
            NoAaTtl("RFC 8880 7.2: BIND answers from its own zone (AA=1, TTL 3600)"),
        ));
    }
    // PTR of a synthesized address (RFC 6147 §5.3.1): a CNAME to the
    // in-addr.arpa name, then the upstream's PTR for it (the plain
    // resolver's reverse zone): RRs and TTLs compared. BIND answers the
    // CNAME from a built-in reverse zone of its own, so with AA=1; ours
    // clears AA on what it built (it is no zone's authority). §5.3.1 says
    // nothing of AA: AA not compared.
    let a = embed(prefix, Ipv4Addr::new(192, 0, 2, 1));
    out.push(case(
        &ip6_arpa(a),
        PTR,
        Udp,
        NoAa("RFC 6147 5.3.1: BIND's reverse zone is authoritative (AA=1)"),
    ));
    // A name under the prefix's reverse zone that is not a full address
    // (the first 8 nibbles dropped): an empty non-terminal.
    let short = ip6_arpa(a).splitn(9, '.').last().unwrap().to_string();
    out.push(case(
        &short,
        PTR,
        Udp,
        NoAa("RFC 6147 5.3.1: BIND's reverse zone is authoritative (AA=1)"),
    ));
    out
}

/// What a mismatch means, for the message.
fn compare(prefix: &str, c: &Case, ours: &Seen, bind: &Seen) -> Vec<String> {
    let mut bad = Vec::new();
    let what = format!("[{prefix}] {} {} over {:?}", c.name, c.rtype, c.transport);
    if let Compare::TcOnly(_) = c.compare {
        if ours.tc != bind.tc || !ours.tc {
            bad.push(format!("{what}: TC ours {} BIND {}", ours.tc, bind.tc));
        }
        return bad;
    }
    if ours.rcode != bind.rcode {
        bad.push(format!(
            "{what}: rcode ours {} BIND {}",
            ours.rcode, bind.rcode
        ));
    }
    let flags = |s: &Seen| (s.ad, s.ra, s.tc);
    if flags(ours) != flags(bind) {
        bad.push(format!(
            "{what}: (AD, RA, TC) ours {:?} BIND {:?}",
            flags(ours),
            flags(bind)
        ));
    }
    if c.compare.aa() && ours.aa != bind.aa {
        bad.push(format!("{what}: AA ours {} BIND {}", ours.aa, bind.aa));
    }
    let (o, b) = (&ours.answer, &bind.answer);
    if o.keys().ne(b.keys()) {
        bad.push(format!(
            "{what}: answer RRs\n  ours {:?}\n  BIND {:?}",
            ours.rrs(),
            bind.rrs()
        ));
    } else if c.compare.ttl() {
        for (k, to) in o {
            let tb = b[k];
            if to.abs_diff(tb) > TTL_SLACK {
                bad.push(format!("{what}: TTL of {k:?}: ours {to} BIND {tb}"));
            }
        }
    }
    bad
}

fn differential(prefix: &str) {
    if let Err(why) = nsd::can_run().and_then(|_| named_can_run()) {
        eprintln!("skipped: {why}");
        return;
    }
    let nsd = Nsd::start();
    // The upstream of both DNS64s: a recursive resolver (what
    // `dns64.upstream` is meant to be), here a plain BIND forwarding to
    // nsd. (Both answer as recursive servers, RA=1 and AA=0, whatever
    // their upstream says of itself.)
    let resolver = Named::start(None, nsd.addr());
    let named = Named::start(Some(prefix), resolver.addr);

    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/cgn.toml");
    let mut cfg = Config::from_file(&path).expect("config/cgn.toml");
    let p: Nat64Prefix = prefix.parse().unwrap();
    cfg.translation.prefix = p;
    // BIND synthesizes every A (`mapped { any; }`); the zone's addresses
    // are documentation addresses, non-global under RFC 6052 §3.1, and
    // some on cgn.toml's outside link, which a network-specific prefix
    // denies by default (`translation.deny4`).
    cfg.translation.allow_non_global_ipv4 = true;
    cfg.translation.deny4 = Some(Vec::new());
    cfg.dns64.prefix = p;
    cfg.dns64.listen = vec![(Ipv4Addr::LOCALHOST, 0).into()];
    cfg.dns64.upstream = vec![resolver.addr];
    cfg.dns64.rate_limit_qps = 0;
    let ours = server::start(&cfg, ServerOptions::default()).expect("our server starts");
    let ours_addr = ours.local_addrs()[0];

    let mut bad = Vec::new();
    let all = cases(prefix);
    for c in &all {
        let o = ask(ours_addr, &c.name, c.rtype, c.transport);
        let b = ask(named.addr, &c.name, c.rtype, c.transport);
        // Never AD on what either built (RFC 6147 §5.5): checked on ours
        // whatever BIND does.
        assert!(!o.ad, "{} {}: AD set on ours", c.name, c.rtype);
        if let Some(why) = c.compare.why() {
            let ttls = |s: &Seen| s.answer.values().copied().collect::<Vec<_>>();
            eprintln!(
                "[{prefix}] {} {} narrowed ({why}); TTLs ours {:?} BIND {:?}",
                c.name,
                c.rtype,
                ttls(&o),
                ttls(&b)
            );
        }
        bad.extend(compare(prefix, c, &o, &b));
    }
    // A few cases asserted outright on ours too, so that the comparison
    // cannot pass on two equal failures: (name, type, transport, rcode,
    // how many answer RRs of the type asked).
    let z = |l: &str| format!("{l}.{}", nsd::ZONE);
    let ptr = ip6_arpa(embed(prefix, Ipv4Addr::new(192, 0, 2, 1)));
    let check = |name: &str, rtype: RecordType, transport: Transport, rcode, n: usize| {
        let o = ask(ours_addr, name, rtype, transport);
        let got = o.answer.keys().filter(|(_, t, _)| *t == rtype).count();
        assert_eq!(
            (o.rcode, got),
            (rcode, n),
            "[{prefix}] {name} {rtype} over {transport:?}: {:?}",
            o.rrs()
        );
    };
    {
        use RecordType::{AAAA, PTR};
        use ResponseCode::{NXDomain, NoError};
        use Transport::{Tcp, Udp, UdpEdns};
        check(&z("v4only"), AAAA, Udp, NoError, 1);
        check(&z("v4multi"), AAAA, Udp, NoError, 2);
        check(&z("dual"), AAAA, Udp, NoError, 1);
        check(&z("mapped"), AAAA, Udp, NoError, 1);
        check(&z("chain"), AAAA, Udp, NoError, 1);
        check(&z("host.old"), AAAA, Udp, NoError, 1);
        check(&z("many"), AAAA, Tcp, NoError, 40);
        check(&z("many"), AAAA, UdpEdns, NoError, 40);
        check(&z("absent"), AAAA, Udp, NXDomain, 0);
        check("ipv4only.arpa.", AAAA, Udp, NoError, 2);
        check(&ptr, PTR, Udp, NoError, 1);
    }
    let v4only = ask(ours_addr, &z("v4only"), RecordType::AAAA, Transport::Udp);
    let want = embed(prefix, Ipv4Addr::new(192, 0, 2, 1)).to_string();
    assert!(
        v4only
            .answer
            .keys()
            .any(|(_, t, d)| *t == RecordType::AAAA && *d == want),
        "v4only AAAA: {:?}",
        v4only.rrs()
    );
    assert_eq!(ours.stats().refused.load(Ordering::Relaxed), 0);
    assert!(ours.stats().synthesized.load(Ordering::Relaxed) > 0);
    ours.stop();
    drop(named);
    drop(resolver);
    assert!(
        bad.is_empty(),
        "{} of {} cases differ from BIND:\n{}",
        bad.len(),
        all.len(),
        bad.join("\n")
    );
}

#[test]
fn same_as_bind_well_known_prefix() {
    differential("64:ff9b::/96");
}

#[test]
fn same_as_bind_network_specific_40() {
    differential("2001:db8:6400::/40");
}
