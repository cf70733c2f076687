//! The DNS64's upstream client: forwards one wire-format DNS query to the
//! configured resolvers (`dns64.upstream`, in order) and returns the first
//! answer that matches it.
//!
//! What is promised, per [`Upstream::query`]:
//!
//! - The query must be a DNS message with exactly one question
//!   ([`UpstreamError::Malformed`] otherwise). Only its message ID is
//!   changed on the way out: every try gets a fresh random ID from the
//!   operating system (never the client's), and the answer comes back with
//!   the client's ID restored.
//! - Each try over UDP uses a fresh socket bound to port 0 (the kernel picks
//!   a random source port) and connected to the server, and waits at most
//!   the timeout. A datagram whose source, ID, QR bit or question (name
//!   without regard to ASCII case, type, class) does not match is dropped,
//!   counted, and the wait goes on until the timeout.
//! - An answer with TC set is retried once at the same server over TCP
//!   (RFC 7766: two-byte length prefix) within a new timeout; a TCP answer
//!   that does not match is a failed try.
//! - A timeout, a network error or a failed TCP retry moves on to the next
//!   server of the list; when every server has failed the result is
//!   [`UpstreamError::AllFailed`], so a query takes at most about
//!   2 × servers × timeout.
//! - At most `max_in_flight` queries are under way at once; one more is
//!   refused at once with [`UpstreamError::Busy`] rather than queued.
//! - [`UpstreamStats`] counts what happened, for the control side to
//!   publish (plain relaxed atomics).
//!
//! Not promised or not built yet: no caching, no EDNS handling (the client's
//! OPT record is forwarded as it is), no retry at the same server over UDP,
//! no TCP connection reuse, no DNSSEC validation. The runtime that drives
//! these futures (a current-thread tokio runtime on the control side) is
//! the responder's job.

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use domain::base::Message;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::Semaphore;
use tokio::time::timeout_at;

/// The largest DNS message: what a TCP length prefix can say and what a UDP
/// receive buffer must hold.
const MAX_MESSAGE: usize = 65_535;

/// The DNS header's size.
const HEADER_LEN: usize = 12;

/// Why [`Upstream::query`] returned no answer.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    /// The query is not a DNS message with exactly one question (or is
    /// longer than 65535 bytes); also a try's reason when a TCP answer does
    /// not match the query.
    #[error("malformed DNS message: {0}")]
    Malformed(&'static str),
    /// A try got no matching answer within the timeout.
    #[error("no answer within the timeout")]
    Timeout,
    /// A try failed on the network (a refused port, an unreachable server,
    /// a closed TCP connection).
    #[error("network error: {0}")]
    Io(#[from] io::Error),
    /// Every server of the list failed; `last` is the last try's reason
    /// ([`Timeout`](Self::Timeout), [`Io`](Self::Io) or
    /// [`Malformed`](Self::Malformed)).
    #[error("all {tries} upstream tries failed, the last: {last}")]
    AllFailed {
        /// Tries made, UDP and TCP together.
        tries: usize,
        /// Why the last one failed.
        last: Box<UpstreamError>,
    },
    /// `max_in_flight` queries are already under way.
    #[error("too many upstream queries in flight")]
    Busy,
}

/// An upstream's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The answer as the server sent it, with the client's message ID.
    pub message: Vec<u8>,
    /// The server that answered.
    pub server: SocketAddr,
    /// Whether it came over TCP (after a truncated UDP answer).
    pub tcp: bool,
    /// From the call to the answer, failed tries at earlier servers
    /// included.
    pub latency: Duration,
}

/// Upper bounds, in milliseconds, of [`UpstreamStats::latency`]'s buckets;
/// the last bucket counts everything slower than the last bound.
pub const LATENCY_BUCKETS_MS: [u64; 12] = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000];

/// What the client counts. Relaxed atomics, only ever increased, read by
/// the control side whenever it likes (no snapshot is consistent across
/// fields).
#[derive(Debug, Default)]
pub struct UpstreamStats {
    /// Calls of [`Upstream::query`], refused and malformed ones included.
    pub queries: AtomicU64,
    /// Queries that got an answer.
    pub answered: AtomicU64,
    /// Queries sent over UDP (one per try).
    pub udp: AtomicU64,
    /// Truncated UDP answers retried over TCP.
    pub tcp_retries: AtomicU64,
    /// Tries that got no matching answer within the timeout.
    pub timeouts: AtomicU64,
    /// Tries that failed on the network or with a non-matching TCP answer.
    pub errors: AtomicU64,
    /// Queries for which every server failed ([`UpstreamError::AllFailed`]).
    pub failures: AtomicU64,
    /// Queries refused at the in-flight limit ([`UpstreamError::Busy`]).
    pub busy: AtomicU64,
    /// Received messages dropped because source, ID, QR or question did
    /// not match (or they did not parse).
    pub mismatched: AtomicU64,
    /// Latency of the answered queries: `latency[i]` counts those at most
    /// [`LATENCY_BUCKETS_MS`]`[i]` ms and above the bucket before; the last
    /// counts the slower ones. Not cumulative.
    pub latency: [AtomicU64; LATENCY_BUCKETS_MS.len() + 1],
    /// Sum of those latencies, in microseconds (a histogram's `_sum`).
    pub latency_sum_us: AtomicU64,
}

/// [`UpstreamStats`] read at one moment, as plain numbers.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct UpstreamCounts {
    pub queries: u64,
    pub answered: u64,
    pub udp: u64,
    pub tcp_retries: u64,
    pub timeouts: u64,
    pub errors: u64,
    pub failures: u64,
    pub busy: u64,
    pub mismatched: u64,
    pub latency: [u64; LATENCY_BUCKETS_MS.len() + 1],
    pub latency_sum_us: u64,
}

impl UpstreamStats {
    /// Every counter, read one after the other.
    pub fn counts(&self) -> UpstreamCounts {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        UpstreamCounts {
            queries: get(&self.queries),
            answered: get(&self.answered),
            udp: get(&self.udp),
            tcp_retries: get(&self.tcp_retries),
            timeouts: get(&self.timeouts),
            errors: get(&self.errors),
            failures: get(&self.failures),
            busy: get(&self.busy),
            mismatched: get(&self.mismatched),
            latency: std::array::from_fn(|i| get(&self.latency[i])),
            latency_sum_us: get(&self.latency_sum_us),
        }
    }

    fn record_latency(&self, latency: Duration) {
        let ms = latency.as_millis();
        let i = LATENCY_BUCKETS_MS
            .iter()
            .position(|&b| ms <= u128::from(b))
            .unwrap_or(LATENCY_BUCKETS_MS.len());
        bump(&self.latency[i]);
        let us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.latency_sum_us.fetch_add(us, Ordering::Relaxed);
    }
}

fn bump(a: &AtomicU64) {
    a.fetch_add(1, Ordering::Relaxed);
}

/// The upstream client: the servers in failover order, the per-try
/// timeout, the in-flight limit and the counters. Share it (`Arc`) between
/// the tasks that answer clients.
#[derive(Debug)]
pub struct Upstream {
    /// The servers and the per-try timeout, replaced whole on reload
    /// ([`Upstream::set_servers`]); each query reads them once.
    targets: RwLock<Arc<Targets>>,
    in_flight: Semaphore,
    stats: UpstreamStats,
}

/// The servers in failover order and the per-try timeout.
#[derive(Debug)]
struct Targets {
    servers: Vec<SocketAddr>,
    timeout: Duration,
}

impl Upstream {
    /// A client for `servers`, tried in this order, each try waiting at
    /// most `timeout`, with at most `max_in_flight` queries under way.
    pub fn new(servers: Vec<SocketAddr>, timeout: Duration, max_in_flight: usize) -> Self {
        Self {
            targets: RwLock::new(Arc::new(Targets { servers, timeout })),
            in_flight: Semaphore::new(max_in_flight.min(Semaphore::MAX_PERMITS)),
            stats: UpstreamStats::default(),
        }
    }

    /// The counters.
    pub fn stats(&self) -> &UpstreamStats {
        &self.stats
    }

    /// The servers, in failover order.
    pub fn servers(&self) -> Vec<SocketAddr> {
        self.targets().servers.clone()
    }

    /// A reload's `dns64.upstream` and `dns64.timeout_ms`: queries that
    /// start from now on use them (those under way finish with the old
    /// ones); the counters go on.
    pub fn set_servers(&self, servers: Vec<SocketAddr>, timeout: Duration) {
        let next = Arc::new(Targets { servers, timeout });
        match self.targets.write() {
            Ok(mut t) => *t = next,
            Err(poisoned) => *poisoned.into_inner() = next,
        }
    }

    /// The current servers and timeout.
    fn targets(&self) -> Arc<Targets> {
        match self.targets.read() {
            Ok(t) => Arc::clone(&t),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Forward `query` (a wire-format DNS query with one question) and
    /// return the first matching answer; see the module documentation for
    /// the rules.
    pub async fn query(&self, query: &[u8]) -> Result<Response, UpstreamError> {
        let start = Instant::now();
        bump(&self.stats.queries);
        let Ok(_permit) = self.in_flight.try_acquire() else {
            bump(&self.stats.busy);
            return Err(UpstreamError::Busy);
        };
        check_query(query)?;
        let client_id = u16::from_be_bytes([query[0], query[1]]);
        let mut out = query.to_vec();
        let mut tries = 0;
        let mut last = None;
        let targets = self.targets();
        let timeout = targets.timeout;
        for &server in &targets.servers {
            tries += 1;
            set_id(&mut out, fresh_id(client_id)?);
            bump(&self.stats.udp);
            let mut tcp = false;
            let mut result = self.try_udp(server, &out, timeout).await;
            if let Ok(answer) = &result {
                if Message::from_slice(answer).is_ok_and(|m| m.header().tc()) {
                    tries += 1;
                    tcp = true;
                    bump(&self.stats.tcp_retries);
                    set_id(&mut out, fresh_id(client_id)?);
                    result = self.try_tcp(server, &out, timeout).await;
                }
            }
            match result {
                Ok(mut message) => {
                    set_id(&mut message, client_id);
                    let latency = start.elapsed();
                    bump(&self.stats.answered);
                    self.stats.record_latency(latency);
                    return Ok(Response {
                        message,
                        server,
                        tcp,
                        latency,
                    });
                }
                Err(e) => {
                    bump(match e {
                        UpstreamError::Timeout => &self.stats.timeouts,
                        _ => &self.stats.errors,
                    });
                    last = Some(e);
                }
            }
        }
        bump(&self.stats.failures);
        Err(UpstreamError::AllFailed {
            tries,
            last: Box::new(
                last.unwrap_or(UpstreamError::Malformed("no upstream server configured")),
            ),
        })
    }

    /// One try over UDP: the first matching answer within the timeout.
    async fn try_udp(
        &self,
        server: SocketAddr,
        query: &[u8],
        timeout: Duration,
    ) -> Result<Vec<u8>, UpstreamError> {
        let deadline = tokio::time::Instant::now() + timeout;
        let local: SocketAddr = match server {
            SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
            SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
        };
        let socket = UdpSocket::bind(local).await?;
        socket.connect(server).await?;
        socket.send(query).await?;
        let mut buf = vec![0; MAX_MESSAGE];
        loop {
            let (len, from) = timeout_at(deadline, socket.recv_from(&mut buf))
                .await
                .map_err(|_| UpstreamError::Timeout)??;
            let answer = &buf[..len];
            if from == server && is_answer(answer, query) {
                return Ok(answer.to_vec());
            }
            bump(&self.stats.mismatched);
        }
    }

    /// One try over TCP (RFC 7766): connect, send, read one answer, all
    /// within the timeout.
    async fn try_tcp(
        &self,
        server: SocketAddr,
        query: &[u8],
        timeout: Duration,
    ) -> Result<Vec<u8>, UpstreamError> {
        let exchange = async {
            let mut stream = TcpStream::connect(server).await?;
            let len = u16::try_from(query.len())
                .map_err(|_| UpstreamError::Malformed("query longer than 65535 bytes"))?;
            let mut framed = Vec::with_capacity(2 + query.len());
            framed.extend_from_slice(&len.to_be_bytes());
            framed.extend_from_slice(query);
            stream.write_all(&framed).await?;
            let mut len = [0; 2];
            stream.read_exact(&mut len).await?;
            let mut answer = vec![0; usize::from(u16::from_be_bytes(len))];
            stream.read_exact(&mut answer).await?;
            Ok::<_, UpstreamError>(answer)
        };
        let answer = tokio::time::timeout(timeout, exchange)
            .await
            .map_err(|_| UpstreamError::Timeout)??;
        if is_answer(&answer, query) {
            Ok(answer)
        } else {
            bump(&self.stats.mismatched);
            Err(UpstreamError::Malformed(
                "TCP answer does not match the query",
            ))
        }
    }
}

/// `Ok` when `query` is a message of at most 65535 bytes with exactly one
/// question.
fn check_query(query: &[u8]) -> Result<(), UpstreamError> {
    if query.len() > MAX_MESSAGE {
        return Err(UpstreamError::Malformed("query longer than 65535 bytes"));
    }
    let message = Message::from_slice(query)
        .map_err(|_| UpstreamError::Malformed("shorter than a header"))?;
    if message.header().qr() {
        return Err(UpstreamError::Malformed("QR set: not a query"));
    }
    message
        .sole_question()
        .map_err(|_| UpstreamError::Malformed("not exactly one question"))?;
    Ok(())
}

/// Whether `answer` answers `query`: QR set, the same ID, one question,
/// the same question (name compared without regard to ASCII case). Never
/// panics, whatever the bytes.
fn is_answer(answer: &[u8], query: &[u8]) -> bool {
    let (Ok(answer), Ok(query)) = (Message::from_slice(answer), Message::from_slice(query)) else {
        return false;
    };
    answer.header_counts().qdcount() == 1 && answer.is_answer(query)
}

/// A random message ID other than `client`'s.
fn fresh_id(client: u16) -> Result<u16, UpstreamError> {
    loop {
        let mut b = [0; 2];
        getrandom::fill(&mut b).map_err(|e| io::Error::other(e.to_string()))?;
        let id = u16::from_be_bytes(b);
        if id != client {
            return Ok(id);
        }
    }
}

/// Write `id` into the header of `message` (at least a header long).
fn set_id(message: &mut [u8], id: u16) {
    if message.len() >= HEADER_LEN {
        message[..2].copy_from_slice(&id.to_be_bytes());
    }
}

#[cfg(test)]
mod tests;
