//! The DNS64 server: UDP and TCP listeners on every `dns64.listen`
//! address, driving the synthesis core ([`Dns64`]) with the upstream
//! client ([`Upstream`]), on one std thread running a tokio current-thread
//! runtime, pinned to the control side's CPU when asked
//! ([`ServerOptions::pin_cpu`]), never on a worker's core.
//!
//! # What is promised
//!
//! - UDP (RFC 1035 §4.2.1): the answer fits the client's EDNS UDP payload
//!   size (RFC 6891 §6.2.5, clamped to 512..=4096), 512 bytes without EDNS;
//!   one that does not fit is cut to the header and question with TC=1
//!   (RFC 1035 §4.2.1, RFC 6891 §7), so the client retries over TCP.
//! - TCP (RFC 7766): the 2-byte length prefix, several queries per
//!   connection, answered as each is ready (pipelined, maybe out of order,
//!   §6.2.1.1), at most [`TCP_IN_FLIGHT`] in flight per connection (reading
//!   pauses beyond), an idle timeout ([`ServerOptions::tcp_idle`], [`TCP_IDLE`] by
//!   default, §6.2.3), at most
//!   [`TCP_CONNECTIONS`] connections (others are closed at once).
//! - Not an open resolver ([`Acl`]): a query is answered when it arrived on
//!   a socket bound (SO_BINDTODEVICE) to the inside interface
//!   ([`ServerOptions::inside_iface`]; loopback listen addresses are not
//!   bound), or its source is loopback ([`ServerOptions::allow_loopback`],
//!   on by default; tests turn it off to see REFUSED), or its source lies
//!   in `dns64.allow`. Others get REFUSED (RFC 1035 §4.1.1 rcode 5) with
//!   their question, counted in [`Dns64Stats::refused`]; a message with QR
//!   set or without a readable question gets nothing (no reflection).
//! - Rate limit ([`RateLimiter`]): `dns64.rate_limit_qps` per client, a
//!   token bucket with a burst of one second's worth. IPv4 clients are
//!   counted per address; IPv6 clients per `pool4.subscriber_prefix_len`
//!   prefix (a /56 by default): that is what the NAT64 calls one
//!   subscriber, and a subscriber picks any address in its prefix, so a
//!   per-address limit would not limit it. The table holds at most
//!   [`RATE_TABLE`] clients; when full, the bucket created first is
//!   reused. The excess is dropped silently and counted
//!   ([`Dns64Stats::rate_limited`]). The rate limit applies before the
//!   ACL, so refused floods are bounded too.
//! - A malformed query is never forwarded: the core answers FORMERR (or
//!   NOTIMP) or drops it.
//!
//! # Cache and coalescing
//!
//! Every client query, after the ACL and the rate limit, goes through one
//! function, `resolve` (`Ctx::resolve` in this file): bytes in, the answer
//! bytes (or nothing) out, transport-independent (truncation for the
//! client's UDP size happens after it). There, keyed by the client's
//! question ([`client_question`]): a [`Cache`] hit is the stored answer
//! rewritten for this client (ID, question spelling, TTLs counted down;
//! [`Dns64Stats::cache_hits`]); on a miss ([`Dns64Stats::cache_misses`]) the
//! [`Coalescer`] makes the first asker the leader, which runs the core and
//! its upstream exchanges, inserts the final answer into the cache and
//! publishes it; identical questions arriving meanwhile follow and get the
//! leader's answer rewritten for them ([`Dns64Stats::coalesced`]), or
//! SERVFAIL when the leader got none. More than [`UPSTREAM_IN_FLIGHT`]
//! distinct questions in flight: the query is resolved without
//! coalescing. Queries the core answers without upstream data (no
//! readable question, FORMERR, NOTIMP) bypass both.
//!
//! # Reload
//!
//! [`ServerHandle::reload`] (SIGHUP, `control::reload`) applies a new
//! `[dns64]` without closing a socket: the synthesis core and the ACL are
//! one value (`Live`) behind a lock taken once per query to clone an
//! `Arc`, so a query runs to its answer with the settings it started with;
//! the rate limit, the upstream servers and timeout, and the cache (emptied
//! and sized anew) are replaced in place. `listen` and `enabled` need a
//! restart.
//!
//! # Counting answers
//!
//! The core does not say which kind of answer it built; the server derives
//! it from the sequence of [`Step`]s: an answer given without asking
//! upstream is *local* (ipv4only.arpa, the PTR empty non-terminals, FORMERR
//! and NOTIMP, the last two also counted in `formerr`); an answer after
//! the core asked upstream a question other than the client's (the A query
//! after a NODATA AAAA answer, the `in-addr.arpa` PTR, the SOA of
//! `filter_a`) is *synthesized*; any other answer after asking upstream is
//! *passthrough*.
//!
//! # Deviations
//!
//! - A TCP answer over 65535 bytes (which the core cannot build from a
//!   single upstream message) is dropped and counted in `dropped`.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use domain::base::iana::Rcode;
use domain::base::{Message, MessageBuilder, ToName};
use socket2::{Domain, Protocol, Socket, Type};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::{mpsc, watch, Semaphore};

use super::cache::{client_question, Cache, Coalescer, Role};
use super::upstream::{Upstream, UpstreamStats};
use super::{Ask, Dns64, Question, Settings, Step, UpstreamReply};
use crate::config::{unmapped, ClientList, Config};

/// Default idle timeout of a TCP connection (RFC 7766 §6.2.3).
pub const TCP_IDLE: Duration = Duration::from_secs(10);
/// Most TCP connections open at once.
pub const TCP_CONNECTIONS: usize = 256;
/// Most queries in flight on one TCP connection.
pub const TCP_IN_FLIGHT: usize = 16;
/// Most clients the rate limiter tracks.
pub const RATE_TABLE: usize = 65536;
/// Most upstream queries in flight.
pub const UPSTREAM_IN_FLIGHT: usize = 4096;

/// How to run the server.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// Pin the server's thread to this CPU (the main lcore's).
    pub pin_cpu: Option<usize>,
    /// The kernel interface (TAP) of the inside side: listen sockets on
    /// non-loopback addresses are bound to it, and what arrives on them
    /// is allowed.
    pub inside_iface: Option<String>,
    /// Answer clients with a loopback source (local tools, benchmarks).
    /// Default true.
    pub allow_loopback: bool,
    /// Close a TCP connection after this long without a query (RFC 7766
    /// §6.2.3). Default [`TCP_IDLE`].
    pub tcp_idle: Duration,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            pin_cpu: None,
            inside_iface: None,
            allow_loopback: true,
            tcp_idle: TCP_IDLE,
        }
    }
}

/// Why the server did not start.
#[derive(Debug)]
pub enum ServerError {
    /// A socket could not be set up: the key, the address, the error.
    Socket {
        key: &'static str,
        addr: SocketAddr,
        error: io::Error,
    },
    /// The thread or its runtime could not be started.
    Runtime(io::Error),
}

impl fmt::Display for ServerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServerError::Socket { key, addr, error } => write!(f, "{key} {addr}: {error}"),
            ServerError::Runtime(e) => write!(f, "dns64 server thread: {e}"),
        }
    }
}

impl std::error::Error for ServerError {}

/// The server's counters: plain atomics, only ever incremented.
#[derive(Debug)]
pub struct Dns64Stats {
    /// Queries received over UDP (every datagram, before ACL and limit).
    pub udp_queries: AtomicU64,
    /// Queries received over TCP.
    pub tcp_queries: AtomicU64,
    /// Answers built by synthesis (see the module docs: after asking
    /// upstream another question than the client's).
    pub synthesized: AtomicU64,
    /// Answers passed through from upstream (ID and flags the client's).
    pub passthrough: AtomicU64,
    /// Answers built without asking upstream (ipv4only.arpa, empty
    /// non-terminals, FORMERR, NOTIMP).
    pub local: AtomicU64,
    /// Queries answered REFUSED (client outside the ACL).
    pub refused: AtomicU64,
    /// Queries dropped by the rate limit.
    pub rate_limited: AtomicU64,
    /// Queries answered from the answer cache.
    pub cache_hits: AtomicU64,
    /// Cacheable queries the cache did not answer.
    pub cache_misses: AtomicU64,
    /// Queries answered with the answer of an identical question already
    /// in flight (coalesced; no upstream query of their own).
    pub coalesced: AtomicU64,
    /// UDP answers cut to header and question with TC=1.
    pub truncated: AtomicU64,
    /// FORMERR or NOTIMP answers (malformed query, other opcode).
    pub formerr: AtomicU64,
    /// Queries dropped (not a query; no answer from the core; unreadable).
    pub dropped: AtomicU64,
    /// TCP connections closed at once, over [`TCP_CONNECTIONS`].
    pub tcp_rejected: AtomicU64,
    /// TCP connections closed on the idle timeout.
    pub tcp_idle_closed: AtomicU64,
    /// Upstream queries that failed (timeout, errors, busy); their detail
    /// and the latency histogram are in [`Dns64Stats::upstream`].
    pub upstream_failed: AtomicU64,
    upstream: Arc<Upstream>,
}

impl Dns64Stats {
    /// The upstream client's counters: queries, timeouts, errors,
    /// failures, TCP retries and the latency histogram.
    pub fn upstream(&self) -> &UpstreamStats {
        self.upstream.stats()
    }

    fn new(upstream: Arc<Upstream>) -> Self {
        Dns64Stats {
            udp_queries: AtomicU64::new(0),
            tcp_queries: AtomicU64::new(0),
            synthesized: AtomicU64::new(0),
            passthrough: AtomicU64::new(0),
            local: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            rate_limited: AtomicU64::new(0),
            cache_hits: AtomicU64::new(0),
            cache_misses: AtomicU64::new(0),
            coalesced: AtomicU64::new(0),
            truncated: AtomicU64::new(0),
            formerr: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            tcp_rejected: AtomicU64::new(0),
            tcp_idle_closed: AtomicU64::new(0),
            upstream_failed: AtomicU64::new(0),
            upstream,
        }
    }
}

fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

/// Who may ask: see the module documentation.
#[derive(Debug, Clone, Default)]
pub struct Acl {
    /// Loopback sources are allowed.
    pub allow_loopback: bool,
    /// `dns64.allow`.
    pub allow: ClientList,
}

impl Acl {
    /// Whether a query from `source` that arrived on a socket bound to
    /// the inside interface (`inside`) or not is answered.
    pub fn allows(&self, source: IpAddr, inside: bool) -> bool {
        inside
            || (self.allow_loopback && unmapped(source).is_loopback())
            || self.allow.contains(source)
    }
}

/// Per-client token buckets: see the module documentation.
#[derive(Debug)]
pub struct RateLimiter {
    qps: u32,
    v6_len: u8,
    capacity: usize,
    buckets: HashMap<IpAddr, (f64, Instant)>,
    order: VecDeque<IpAddr>,
}

impl RateLimiter {
    /// `qps` per client (0: off), IPv6 clients keyed by their `v6_len`
    /// prefix, at most `capacity` clients tracked.
    pub fn new(qps: u32, v6_len: u8, capacity: usize) -> Self {
        RateLimiter {
            qps,
            v6_len: v6_len.min(128),
            capacity: capacity.max(1),
            buckets: HashMap::new(),
            order: VecDeque::new(),
        }
    }

    /// A reload's `dns64.rate_limit_qps` (0: off); the clients' buckets
    /// stay, refilled at the new rate and holding at most a second of it.
    pub fn set_qps(&mut self, qps: u32) {
        self.qps = qps;
        let cap = f64::from(qps);
        for (tokens, _) in self.buckets.values_mut() {
            *tokens = tokens.min(cap);
        }
    }

    /// The key a source is counted under.
    pub fn key(&self, source: IpAddr) -> IpAddr {
        match unmapped(source) {
            IpAddr::V6(a) => {
                let mask = match self.v6_len {
                    0 => 0,
                    n => u128::MAX << (128 - u32::from(n)),
                };
                IpAddr::V6(Ipv6Addr::from(u128::from(a) & mask))
            }
            v4 => v4,
        }
    }

    /// Take a token for `source` at `now`; false: drop the query.
    pub fn allow(&mut self, source: IpAddr, now: Instant) -> bool {
        if self.qps == 0 {
            return true;
        }
        let key = self.key(source);
        let rate = f64::from(self.qps);
        if !self.buckets.contains_key(&key) {
            if self.buckets.len() >= self.capacity {
                if let Some(old) = self.order.pop_front() {
                    self.buckets.remove(&old);
                }
            }
            self.order.push_back(key);
            self.buckets.insert(key, (rate, now));
        }
        let Some((tokens, last)) = self.buckets.get_mut(&key) else {
            return true;
        };
        let elapsed = now.saturating_duration_since(*last).as_secs_f64();
        *tokens = (*tokens + elapsed * rate).min(rate);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// A running server.
pub struct ServerHandle {
    stop: watch::Sender<bool>,
    thread: Option<JoinHandle<()>>,
    stats: Arc<Dns64Stats>,
    local: Vec<SocketAddr>,
    /// What [`ServerHandle::reload`] changes.
    ctx: Arc<Ctx>,
}

impl ServerHandle {
    /// A reload's `[dns64]` (and `translation.allow_non_global_ipv4`,
    /// `translation.deny4`),
    /// applied while the sockets stay open: the synthesis settings
    /// (`prefix`, `exclude`, `filter_a`, `synthesize_ptr`,
    /// `synthesize_on_error`) and the ACL (`allow`) are swapped whole, so
    /// a query sees either the old or the new ones, never a mix; the rate
    /// limit (`rate_limit_qps`) applies to the next query, keeping the
    /// clients' buckets; the upstream servers and timeout to the next
    /// upstream exchange; the cache is emptied and sized anew
    /// (`cache_entries`), as its answers were built with the old
    /// settings. Counters go on. `listen` and `enabled` are not read: they
    /// need a restart.
    pub fn reload(&self, cfg: &Config) {
        let ctx = &self.ctx;
        let d = &cfg.dns64;
        let live = Arc::new(Live::new(cfg, ctx.allow_loopback));
        match ctx.live.write() {
            Ok(mut l) => *l = live,
            Err(poisoned) => *poisoned.into_inner() = live,
        }
        if let Ok(mut l) = ctx.limiter.lock() {
            l.set_qps(d.rate_limit_qps);
        }
        ctx.upstream.set_servers(d.upstream.clone(), d.timeout);
        if let Ok(mut c) = ctx.cache.lock() {
            *c = Cache::new(d.cache_entries);
        }
    }

    /// Stop every listener and connection and join the thread.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        let _ = self.stop.send(true);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }

    /// The counters.
    pub fn stats(&self) -> Arc<Dns64Stats> {
        Arc::clone(&self.stats)
    }

    /// The bound addresses, one per `dns64.listen` entry (UDP and TCP
    /// share the port; a port 0 is resolved here).
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.local.clone()
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        self.shutdown();
    }
}

struct Listener {
    udp: std::net::UdpSocket,
    tcp: std::net::TcpListener,
    inside: bool,
}

/// Bind UDP and TCP on `addr` (the same port), bound to `iface` if given.
fn bind(addr: SocketAddr, iface: Option<&str>) -> io::Result<Listener> {
    let iface = iface.filter(|_| !addr.ip().is_loopback());
    let mut last = None;
    for _ in 0..16 {
        let udp = socket(addr, Type::DGRAM, Protocol::UDP, iface)?;
        udp.bind(&addr.into())?;
        let port = udp
            .local_addr()?
            .as_socket()
            .map(|a| a.port())
            .unwrap_or(addr.port());
        let tcp = socket(addr, Type::STREAM, Protocol::TCP, iface)?;
        let mut at = addr;
        at.set_port(port);
        match tcp.bind(&at.into()).and_then(|()| tcp.listen(128)) {
            Ok(()) => {
                return Ok(Listener {
                    udp: udp.into(),
                    tcp: tcp.into(),
                    inside: iface.is_some(),
                })
            }
            // Port 0: the UDP port may be taken for TCP; try another.
            Err(e) if addr.port() == 0 => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::other("no free port")))
}

fn socket(addr: SocketAddr, ty: Type, proto: Protocol, iface: Option<&str>) -> io::Result<Socket> {
    let s = Socket::new(Domain::for_address(addr), ty, Some(proto))?;
    if addr.is_ipv6() {
        s.set_only_v6(true)?;
    }
    s.set_reuse_address(true)?;
    s.set_nonblocking(true)?;
    if let Some(name) = iface {
        s.bind_device(Some(name.as_bytes()))?;
    }
    Ok(s)
}

/// Start the server on `cfg.dns64.listen` with `cfg.dns64.upstream`.
pub fn start(cfg: &Config, opts: ServerOptions) -> Result<ServerHandle, ServerError> {
    let d = &cfg.dns64;
    let mut listeners = Vec::new();
    let mut local = Vec::new();
    for &addr in &d.listen {
        let l = bind(addr, opts.inside_iface.as_deref()).map_err(|error| ServerError::Socket {
            key: "dns64.listen",
            addr,
            error,
        })?;
        local.push(l.udp.local_addr().map_err(ServerError::Runtime)?);
        listeners.push(l);
    }
    let upstream = Arc::new(Upstream::new(
        d.upstream.clone(),
        d.timeout,
        UPSTREAM_IN_FLIGHT,
    ));
    let stats = Arc::new(Dns64Stats::new(Arc::clone(&upstream)));
    let ctx = Arc::new(Ctx {
        live: RwLock::new(Arc::new(Live::new(cfg, opts.allow_loopback))),
        allow_loopback: opts.allow_loopback,
        upstream,
        stats: Arc::clone(&stats),
        limiter: Mutex::new(RateLimiter::new(
            d.rate_limit_qps,
            cfg.pool4.subscriber_prefix_len,
            RATE_TABLE,
        )),
        tcp_idle: opts.tcp_idle,
        cache: Mutex::new(Cache::new(d.cache_entries)),
        coalescer: Coalescer::new(UPSTREAM_IN_FLIGHT),
    });
    let reload_ctx = Arc::clone(&ctx);
    let (stop, stop_rx) = watch::channel(false);
    let pin = opts.pin_cpu;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
        .map_err(ServerError::Runtime)?;
    let thread = std::thread::Builder::new()
        .name("dns64".into())
        .spawn(move || {
            if let Some(cpu) = pin {
                if !core_affinity::set_for_current(core_affinity::CoreId { id: cpu }) {
                    tracing::warn!("dns64: cannot pin the server thread to CPU {cpu}");
                }
            }
            runtime.block_on(serve(ctx, listeners, stop_rx));
        })
        .map_err(ServerError::Runtime)?;
    Ok(ServerHandle {
        stop,
        thread: Some(thread),
        stats,
        local,
        ctx: reload_ctx,
    })
}

/// The settings a reload replaces whole ([`ServerHandle::reload`]): the
/// synthesis core and the ACL, read once per query.
struct Live {
    dns64: Dns64,
    acl: Acl,
}

impl Live {
    fn new(cfg: &Config, allow_loopback: bool) -> Live {
        let d = &cfg.dns64;
        Live {
            dns64: Dns64::new(Settings::new(cfg)),
            acl: Acl {
                allow_loopback,
                allow: d.allow.clone(),
            },
        }
    }
}

struct Ctx {
    /// Swapped whole on reload; a query takes the current one once and
    /// keeps it to its answer.
    live: RwLock<Arc<Live>>,
    /// [`ServerOptions::allow_loopback`], kept for reloads.
    allow_loopback: bool,
    upstream: Arc<Upstream>,
    stats: Arc<Dns64Stats>,
    limiter: Mutex<RateLimiter>,
    tcp_idle: Duration,
    cache: Mutex<Cache>,
    coalescer: Coalescer,
}

async fn serve(ctx: Arc<Ctx>, listeners: Vec<Listener>, stop: watch::Receiver<bool>) {
    let mut tasks = tokio::task::JoinSet::new();
    for l in listeners {
        let inside = l.inside;
        match UdpSocket::from_std(l.udp) {
            Ok(udp) => {
                tasks.spawn(udp_loop(Arc::clone(&ctx), udp, inside, stop.clone()));
            }
            Err(e) => tracing::error!("dns64: UDP socket: {e}"),
        }
        match TcpListener::from_std(l.tcp) {
            Ok(tcp) => {
                tasks.spawn(tcp_loop(Arc::clone(&ctx), tcp, inside, stop.clone()));
            }
            Err(e) => tracing::error!("dns64: TCP listener: {e}"),
        }
    }
    while tasks.join_next().await.is_some() {}
}

async fn stopped(mut stop: watch::Receiver<bool>) {
    while !*stop.borrow_and_update() {
        if stop.changed().await.is_err() {
            return;
        }
    }
}

impl Ctx {
    /// The live settings now.
    fn live(&self) -> Arc<Live> {
        match self.live.read() {
            Ok(l) => Arc::clone(&l),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// ACL and rate limit: `Err(None)` drop, `Err(Some(refused))` answer
    /// REFUSED, `Ok(())` go on.
    fn admit(&self, query: &[u8], source: IpAddr, inside: bool) -> Result<(), Option<Vec<u8>>> {
        let ok = self
            .limiter
            .lock()
            .map(|mut l| l.allow(source, Instant::now()))
            .unwrap_or(true);
        if !ok {
            bump(&self.stats.rate_limited);
            return Err(None);
        }
        if self.live().acl.allows(source, inside) {
            return Ok(());
        }
        match refused(query) {
            Some(r) => {
                bump(&self.stats.refused);
                Err(Some(r))
            }
            None => {
                bump(&self.stats.dropped);
                Err(None)
            }
        }
    }

    /// The answer to one admitted client query, or `None` to send
    /// nothing: from the cache, from an identical question in flight, or
    /// from the core and upstream (see the module documentation).
    /// Transport-independent, bytes in, bytes out.
    async fn resolve(&self, query: &[u8]) -> Option<Vec<u8>> {
        let Some(key) = client_question(query) else {
            return self.run_core(query).await;
        };
        if let Some(answer) = self.cached(&key, query) {
            return Some(answer);
        }
        self.resolve_missed(key, query).await
    }

    /// The cached answer to `query` (its question `key`), rewritten for
    /// this client, counted as a hit; `None` (not counted) on a miss.
    fn cached(&self, key: &Question, query: &[u8]) -> Option<Vec<u8>> {
        let hit = self
            .cache
            .lock()
            .ok()
            .and_then(|mut c| c.get(key, query, Instant::now()));
        if hit.is_some() {
            bump(&self.stats.cache_hits);
        }
        hit
    }

    /// [`Ctx::resolve`] after a cache miss: coalesce with an identical
    /// question in flight, or lead the exchange and cache its answer.
    async fn resolve_missed(&self, key: Question, query: &[u8]) -> Option<Vec<u8>> {
        bump(&self.stats.cache_misses);
        match self.coalescer.join(&key) {
            Role::Leader(guard) => {
                let answer = self.run_core(query).await;
                match &answer {
                    Some(a) => {
                        if let Ok(mut c) = self.cache.lock() {
                            c.insert(key, a, Instant::now());
                        }
                        guard.publish(a);
                    }
                    None => guard.fail(),
                }
                answer
            }
            Role::Follower(f) => {
                bump(&self.stats.coalesced);
                match f.wait(query).await {
                    Some(a) => Some(a),
                    None => servfail(query),
                }
            }
            Role::Busy => self.run_core(query).await,
        }
    }

    /// The core and its upstream exchanges for one client query.
    async fn run_core(&self, query: &[u8]) -> Option<Vec<u8>> {
        // One query, one set of settings, even across a reload.
        let live = self.live();
        let mut step = live.dns64.query(query);
        let mut client: Option<Question> = None;
        let mut synthesized = false;
        loop {
            match step {
                Step::Answer(answer) => {
                    let counter = match &client {
                        None => {
                            if matches!(rcode(&answer), 1 | 4) {
                                bump(&self.stats.formerr);
                            }
                            &self.stats.local
                        }
                        Some(_) if synthesized => &self.stats.synthesized,
                        Some(_) => &self.stats.passthrough,
                    };
                    bump(counter);
                    return Some(answer);
                }
                Step::Drop => {
                    bump(&self.stats.dropped);
                    return None;
                }
                Step::Ask(Ask { question, pending }) => {
                    match &client {
                        None => {
                            // The first question is the client's unless
                            // the core rewrote it (PTR, filter_a SOA).
                            synthesized |= !same_as_query(&question, query);
                            client = Some(question.clone());
                        }
                        Some(first) => {
                            synthesized |=
                                first.name != question.name || first.qtype != question.qtype;
                        }
                    }
                    let out = question.to_query(0);
                    step = match self.upstream.query(&out).await {
                        Ok(r) => live
                            .dns64
                            .resume(pending, UpstreamReply::Response(&r.message)),
                        Err(_) => {
                            bump(&self.stats.upstream_failed);
                            live.dns64.resume(pending, UpstreamReply::Failed)
                        }
                    };
                }
            }
        }
    }
}

/// Whether `q` asks the client's own question (name and type).
fn same_as_query(q: &Question, query: &[u8]) -> bool {
    let Ok(msg) = Message::from_slice(query) else {
        return false;
    };
    let Ok(cq) = msg.sole_question() else {
        return false;
    };
    cq.qtype() == q.qtype && cq.qname().name_eq(&q.name)
}

fn rcode(msg: &[u8]) -> u8 {
    msg.get(3).map_or(0, |b| b & 0x0f)
}

/// REFUSED with the client's question; `None` for a response or a
/// message whose question cannot be read.
fn refused(query: &[u8]) -> Option<Vec<u8>> {
    answer_with(query, Rcode::REFUSED)
}

/// SERVFAIL with the client's question (a coalesced question whose leader
/// got no answer).
fn servfail(query: &[u8]) -> Option<Vec<u8>> {
    answer_with(query, Rcode::SERVFAIL)
}

fn answer_with(query: &[u8], rcode: Rcode) -> Option<Vec<u8>> {
    let msg = Message::from_slice(query).ok()?;
    if msg.header().qr() {
        return None;
    }
    msg.sole_question().ok()?;
    let b = MessageBuilder::new_vec().start_answer(msg, rcode).ok()?;
    Some(b.finish())
}

/// The client's UDP payload size: EDNS's, clamped to 512..=4096; 512
/// without EDNS (RFC 6891 §6.2.3, §6.2.5).
fn udp_limit(query: &[u8]) -> usize {
    Message::from_slice(query)
        .ok()
        .and_then(|m| m.opt().map(|o| o.udp_payload_size()))
        .map_or(512, |s| usize::from(s).clamp(512, 4096))
}

/// `answer` if it fits in `limit`, else its header, question and OPT with
/// TC=1 (RFC 1035 §4.2.1, RFC 6891 §7), and whether it was cut.
fn fit(answer: Vec<u8>, limit: usize) -> (Vec<u8>, bool) {
    if answer.len() <= limit {
        return (answer, false);
    }
    let cut = Message::from_slice(&answer).ok().and_then(|m| {
        let rcode = m.header().rcode();
        let mut add = MessageBuilder::new_vec()
            .start_answer(m, rcode)
            .ok()?
            .additional();
        // The OPT record stays (RFC 6891 §7): the client learns our size.
        if let Some(opt) = m.opt() {
            let (size, dnssec_ok) = (opt.udp_payload_size(), opt.dnssec_ok());
            add.opt(|o| {
                o.set_udp_payload_size(size);
                o.set_dnssec_ok(dnssec_ok);
                Ok(())
            })
            .ok()?;
        }
        let mut out = add.finish();
        // The answer's own flags, with TC.
        out[2] = answer[2] | 0x02;
        out[3] = answer[3];
        Some(out)
    });
    match cut {
        Some(c) => (c, true),
        // Header only: cannot happen for an answer the core built.
        None => {
            let mut h = answer[..12.min(answer.len())].to_vec();
            h.resize(12, 0);
            h[2] |= 0x02;
            h[4..12].fill(0);
            (h, true)
        }
    }
}

async fn udp_loop(ctx: Arc<Ctx>, socket: UdpSocket, inside: bool, stop: watch::Receiver<bool>) {
    let socket = Arc::new(socket);
    let mut buf = vec![0u8; 65535];
    let stopping = stopped(stop.clone());
    tokio::pin!(stopping);
    loop {
        let (n, from) = tokio::select! {
            _ = &mut stopping => return,
            r = socket.recv_from(&mut buf) => match r {
                Ok(x) => x,
                Err(e) => {
                    tracing::debug!("dns64: UDP receive: {e}");
                    continue;
                }
            },
        };
        bump(&ctx.stats.udp_queries);
        let query = buf[..n].to_vec();
        match ctx.admit(&query, from.ip(), inside) {
            Ok(()) => {}
            Err(Some(r)) => {
                let _ = socket.send_to(&r, from).await;
                continue;
            }
            Err(None) => continue,
        }
        // A cache hit is answered here, in the receive loop: no task, no
        // copy of the stop signal; only a miss spawns (it waits upstream).
        let key = client_question(&query);
        if let Some(answer) = key.as_ref().and_then(|k| ctx.cached(k, &query)) {
            let (answer, cut) = fit(answer, udp_limit(&query));
            if cut {
                bump(&ctx.stats.truncated);
            }
            let _ = socket.send_to(&answer, from).await;
            continue;
        }
        let ctx = Arc::clone(&ctx);
        let socket = Arc::clone(&socket);
        let stop = stop.clone();
        tokio::spawn(async move {
            let answer = async {
                match key {
                    Some(key) => ctx.resolve_missed(key, &query).await,
                    None => ctx.run_core(&query).await,
                }
            };
            tokio::select! {
                _ = stopped(stop) => {}
                answer = answer => {
                    if let Some(answer) = answer {
                        let (answer, cut) = fit(answer, udp_limit(&query));
                        if cut {
                            bump(&ctx.stats.truncated);
                        }
                        let _ = socket.send_to(&answer, from).await;
                    }
                }
            }
        });
    }
}

async fn tcp_loop(ctx: Arc<Ctx>, listener: TcpListener, inside: bool, stop: watch::Receiver<bool>) {
    let connections = Arc::new(Semaphore::new(TCP_CONNECTIONS));
    let stopping = stopped(stop.clone());
    tokio::pin!(stopping);
    loop {
        let (stream, from) = tokio::select! {
            _ = &mut stopping => return,
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    tracing::debug!("dns64: TCP accept: {e}");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
        };
        let Ok(permit) = Arc::clone(&connections).try_acquire_owned() else {
            bump(&ctx.stats.tcp_rejected);
            drop(stream);
            continue;
        };
        let ctx = Arc::clone(&ctx);
        let stop = stop.clone();
        tokio::spawn(async move {
            tokio::select! {
                _ = stopped(stop) => {}
                _ = connection(ctx, stream, from.ip(), inside) => {}
            }
            drop(permit);
        });
    }
}

/// One TCP connection (RFC 7766): read length-prefixed queries, answer
/// each as it is ready through one writer.
async fn connection(ctx: Arc<Ctx>, stream: TcpStream, source: IpAddr, inside: bool) {
    let _ = stream.set_nodelay(true);
    let (mut rd, mut wr) = stream.into_split();
    let (tx, mut rx) = mpsc::channel::<Vec<u8>>(TCP_IN_FLIGHT);
    let stats = Arc::clone(&ctx.stats);
    let writer = tokio::spawn(async move {
        while let Some(answer) = rx.recv().await {
            let Ok(len) = u16::try_from(answer.len()) else {
                bump(&stats.dropped);
                continue;
            };
            let mut framed = Vec::with_capacity(answer.len() + 2);
            framed.extend_from_slice(&len.to_be_bytes());
            framed.extend_from_slice(&answer);
            if wr.write_all(&framed).await.is_err() {
                return;
            }
        }
        let _ = wr.shutdown().await;
    });
    let in_flight = Arc::new(Semaphore::new(TCP_IN_FLIGHT));
    loop {
        let mut len = [0u8; 2];
        match tokio::time::timeout(ctx.tcp_idle, rd.read_exact(&mut len)).await {
            Err(_) => {
                bump(&ctx.stats.tcp_idle_closed);
                break;
            }
            Ok(Err(_)) => break,
            Ok(Ok(_)) => {}
        }
        let mut query = vec![0u8; usize::from(u16::from_be_bytes(len))];
        match tokio::time::timeout(ctx.tcp_idle, rd.read_exact(&mut query)).await {
            Ok(Ok(_)) => {}
            _ => break,
        }
        bump(&ctx.stats.tcp_queries);
        match ctx.admit(&query, source, inside) {
            Ok(()) => {}
            Err(Some(r)) => {
                if tx.send(r).await.is_err() {
                    break;
                }
                continue;
            }
            Err(None) => continue,
        }
        let Ok(permit) = Arc::clone(&in_flight).acquire_owned().await else {
            break;
        };
        let ctx = Arc::clone(&ctx);
        let tx = tx.clone();
        tokio::spawn(async move {
            if let Some(answer) = ctx.resolve(&query).await {
                let _ = tx.send(answer).await;
            }
            drop(permit);
        });
    }
    drop(tx);
    let _ = writer.await;
}

#[cfg(test)]
mod tests;
