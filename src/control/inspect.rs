//! The inspection routes' logic (`/sessions`, `/bib`, `/blocks`): query
//! strings, the walk over the workers, the cursor and the JSON.
//!
//! What it promises:
//! - The control side never touches a worker's tables: each page is asked
//!   of the owning worker through its request queue
//!   (`dataplane::worker::Shared::inspect`) and answered by it between
//!   bursts (`nat64::inspect`). A worker that does not answer within
//!   [`WORKER_TIMEOUT`] makes the request fail, naming the worker.
//! - Every round of a response asks all the workers whose walk is not over
//!   at once (each for the rows still wanted) and merges their pages in
//!   worker order, keeping at most `limit` rows (default
//!   [`DEFAULT_LIMIT`], at most [`MAX_LIMIT`]); rounds go on until `limit`
//!   rows or the end. `next` is an opaque cursor to pass back as `cursor`
//!   for the following rows (`null`: no more): where each worker's walk
//!   goes on, at the first row not shown. An entry that stays while an
//!   operator pages through is shown once.
//! - A bad query string is an error naming the parameter (HTTP 400).
//!
//! Deviation: a response may hold fewer than `limit` rows with a `next`
//! when the walk took longer than [`WALK_BUDGET`] (a sparse filter over
//! big tables); the next page goes on from there.

#[cfg(test)]
mod tests;

use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};

use crossbeam::channel;
use serde::Serialize;

use crate::dataplane::worker::{InspectRequest, Shared};
use crate::nat64::inspect::{
    parse_proto, proto_name, BibRow, BlockRow, Page, Prefix, Query, Rows, SessionRow, Table,
};

/// Rows per response unless `limit` says otherwise.
pub const DEFAULT_LIMIT: usize = 100;
/// The largest `limit`.
pub const MAX_LIMIT: usize = 10_000;
/// How long a worker has to answer one page request.
pub const WORKER_TIMEOUT: Duration = Duration::from_secs(1);
/// How long one response may walk the workers before it returns what it
/// has (with `next`).
pub const WALK_BUDGET: Duration = Duration::from_secs(2);

/// A request that cannot be answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The query string is wrong (HTTP 400); the message names the
    /// parameter.
    BadRequest(String),
    /// A worker did not answer (HTTP 503); the message names it.
    Unavailable(String),
}

/// Where a walk is: for each worker (index), the slot of its table the
/// walk goes on at; `None`: that worker's walk is over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor(pub Vec<Option<usize>>);

impl Cursor {
    /// A walk from the start over `workers` workers.
    pub fn start(workers: usize) -> Cursor {
        Cursor(vec![Some(0); workers])
    }

    /// The cursor as the API hands it out: the slots joined by `.`, `-`
    /// for a worker that is done.
    pub fn encode(&self) -> String {
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|p| p.map_or_else(|| "-".to_string(), |s| s.to_string()))
            .collect();
        parts.join(".")
    }

    /// A cursor [`Cursor::encode`] wrote.
    pub fn decode(s: &str) -> Option<Cursor> {
        s.split('.')
            .map(|p| match p {
                "-" => Some(None),
                n => n.parse().ok().map(Some),
            })
            .collect::<Option<Vec<_>>>()
            .map(Cursor)
    }
}

/// A parsed inspection request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub table: Table,
    pub subscriber: Option<Prefix>,
    pub proto: Option<crate::nat64::L4>,
    pub limit: usize,
    /// `None`: from the start.
    pub cursor: Option<Cursor>,
}

/// Parse the query string of a `table` route: `subscriber=PREFIX`,
/// `proto=udp|tcp|icmp` (not for blocks), `limit=N`, `cursor=C`.
pub fn parse(table: Table, query: &str) -> Result<Request, Error> {
    let bad = |m: String| Error::BadRequest(m);
    let mut r = Request {
        table,
        subscriber: None,
        proto: None,
        limit: DEFAULT_LIMIT,
        cursor: None,
    };
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        match &*k {
            "subscriber" => {
                r.subscriber = Some(v.parse().map_err(|e| bad(format!("subscriber: {e}")))?)
            }
            "proto" if table != Table::Blocks => {
                r.proto = Some(
                    parse_proto(&v)
                        .ok_or_else(|| bad(format!("proto: {v:?} is not one of udp, tcp, icmp")))?,
                )
            }
            "limit" => {
                r.limit = v
                    .parse()
                    .ok()
                    .filter(|n| (1..=MAX_LIMIT).contains(n))
                    .ok_or_else(|| {
                        bad(format!(
                            "limit: {v:?} is not a number from 1 to {MAX_LIMIT}"
                        ))
                    })?
            }
            "cursor" => {
                r.cursor = Some(Cursor::decode(&v).ok_or_else(|| {
                    bad(format!(
                        "cursor: {v:?} is not a cursor this server handed out"
                    ))
                })?)
            }
            other => return Err(bad(format!("unknown parameter {other:?}"))),
        }
    }
    Ok(r)
}

/// Ask every worker of `asks` for its page at once; their answers in the
/// same order, or why one is missing.
fn ask_all(shared: &Shared, asks: &[(usize, Query)]) -> Result<Vec<Page>, Error> {
    let deadline = Instant::now() + WORKER_TIMEOUT;
    let mut replies = Vec::with_capacity(asks.len());
    for &(w, query) in asks {
        let (tx, rx) = channel::bounded(1);
        let queued = shared
            .inspect
            .get(w)
            .is_some_and(|q| q.push(InspectRequest { query, reply: tx }).is_ok());
        if !queued {
            return Err(Error::Unavailable(format!(
                "worker {w}: request queue full (the worker is not polling)"
            )));
        }
        replies.push((w, rx));
    }
    replies
        .into_iter()
        .map(|(w, rx)| {
            rx.recv_deadline(deadline).map_err(|_| {
                Error::Unavailable(format!(
                    "worker {w}: no answer within {} s",
                    WORKER_TIMEOUT.as_secs()
                ))
            })
        })
        .collect()
}

/// The rows of one response with the worker that holds each, and where
/// the walk goes on.
#[derive(Debug, Default)]
pub struct Collected {
    pub sessions: Vec<(usize, SessionRow)>,
    pub bib: Vec<(usize, BibRow)>,
    pub blocks: Vec<(usize, BlockRow)>,
    pub next: Option<Cursor>,
}

impl Collected {
    fn len(&self) -> usize {
        self.sessions.len() + self.bib.len() + self.blocks.len()
    }

    fn add(&mut self, w: usize, rows: Rows) {
        match rows {
            Rows::Sessions(r) => self.sessions.extend(r.into_iter().map(|r| (w, r))),
            Rows::Bib(r) => self.bib.extend(r.into_iter().map(|r| (w, r))),
            Rows::Blocks(r) => self.blocks.extend(r.into_iter().map(|r| (w, r))),
        }
    }
}

/// Walk the workers from `req.cursor` until `req.limit` rows, the end, or
/// [`WALK_BUDGET`], in rounds: `ask` gets the pages of all the workers
/// (worker, query) it is given, in that order.
pub fn collect(
    req: &Request,
    workers: usize,
    mut ask: impl FnMut(&[(usize, Query)]) -> Result<Vec<Page>, Error>,
) -> Result<Collected, Error> {
    let start = Instant::now();
    let Cursor(mut pos) = req.cursor.clone().unwrap_or_else(|| Cursor::start(workers));
    if pos.len() != workers {
        return Err(Error::BadRequest(format!(
            "cursor: made for {} workers, this box has {workers}",
            pos.len()
        )));
    }
    let mut out = Collected::default();
    while out.len() < req.limit && start.elapsed() <= WALK_BUDGET {
        let want = req.limit - out.len();
        let asks: Vec<(usize, Query)> = (0..workers)
            .filter_map(|w| {
                let from = pos[w]?;
                Some((
                    w,
                    Query {
                        table: req.table,
                        subscriber: req.subscriber,
                        proto: req.proto,
                        from,
                        limit: want,
                    },
                ))
            })
            .collect();
        if asks.is_empty() {
            break;
        }
        let pages = ask(&asks)?;
        for (&(w, _), mut page) in asks.iter().zip(pages) {
            let room = req.limit - out.len();
            if page.rows.len() > room {
                // This worker's walk goes on at its first row not shown.
                pos[w] = page.slots.get(room).copied();
                page.rows.truncate(room);
            } else {
                pos[w] = page.next;
            }
            out.add(w, page.rows);
        }
    }
    out.next = pos.iter().any(Option::is_some).then_some(Cursor(pos));
    Ok(out)
}

/// Answer an inspection request from the workers of `shared`: the JSON
/// body.
pub fn answer(shared: &Shared, req: &Request) -> Result<String, Error> {
    let got = collect(req, shared.inspect.len(), |asks| ask_all(shared, asks))?;
    Ok(to_json(req.table, &got))
}

/// A transport address in JSON.
#[derive(Serialize)]
struct Addr<A> {
    address: A,
    port: u16,
}

impl<A> From<(A, u16)> for Addr<A> {
    fn from((address, port): (A, u16)) -> Addr<A> {
        Addr { address, port }
    }
}

/// A remote address in both its forms.
#[derive(Serialize)]
struct Remote {
    ipv6: Ipv6Addr,
    ipv4: Ipv4Addr,
    port: u16,
}

#[derive(Serialize)]
struct SessionJson {
    worker: usize,
    protocol: &'static str,
    inside: Addr<Ipv6Addr>,
    outside: Addr<Ipv4Addr>,
    remote: Remote,
    /// TCP sessions only.
    state: Option<&'static str>,
    /// Seconds.
    expires_in: f64,
}

#[derive(Serialize)]
struct BibJson {
    worker: usize,
    protocol: &'static str,
    inside: Addr<Ipv6Addr>,
    outside: Addr<Ipv4Addr>,
    #[serde(rename = "static")]
    is_static: bool,
    sessions: u32,
}

#[derive(Serialize)]
struct BlockJson {
    worker: usize,
    address: Ipv4Addr,
    first_port: u16,
    size: u32,
    owner: String,
    /// Seconds.
    age: f64,
}

#[derive(Serialize)]
struct Response<T> {
    #[serde(flatten)]
    rows: T,
    next: Option<String>,
}

#[derive(Serialize)]
struct Sessions {
    sessions: Vec<SessionJson>,
}
#[derive(Serialize)]
struct Bib {
    bib: Vec<BibJson>,
}
#[derive(Serialize)]
struct Blocks {
    blocks: Vec<BlockJson>,
}

fn secs(ms: u64) -> f64 {
    ms as f64 / 1000.0
}

/// The response body: `{"<table>": [rows], "next": cursor or null}`.
pub fn to_json(table: Table, c: &Collected) -> String {
    let next = c.next.as_ref().map(Cursor::encode);
    let text = match table {
        Table::Sessions => serde_json::to_string(&Response {
            rows: Sessions {
                sessions: c
                    .sessions
                    .iter()
                    .map(|&(worker, r)| SessionJson {
                        worker,
                        protocol: proto_name(r.proto),
                        inside: r.inside.into(),
                        outside: r.outside.into(),
                        remote: Remote {
                            ipv6: r.remote6,
                            ipv4: r.remote.0,
                            port: r.remote.1,
                        },
                        state: r.tcp.map(|s| s.name()),
                        expires_in: secs(r.expires_in),
                    })
                    .collect(),
            },
            next,
        }),
        Table::Bib => serde_json::to_string(&Response {
            rows: Bib {
                bib: c
                    .bib
                    .iter()
                    .map(|&(worker, r)| BibJson {
                        worker,
                        protocol: proto_name(r.proto),
                        inside: r.inside.into(),
                        outside: r.outside.into(),
                        is_static: r.is_static,
                        sessions: r.sessions,
                    })
                    .collect(),
            },
            next,
        }),
        Table::Blocks => serde_json::to_string(&Response {
            rows: Blocks {
                blocks: c
                    .blocks
                    .iter()
                    .map(|&(worker, r)| BlockJson {
                        worker,
                        address: r.addr,
                        first_port: r.first_port,
                        size: r.size,
                        owner: r.owner.to_string(),
                        age: secs(r.age),
                    })
                    .collect(),
            },
            next,
        }),
    };
    // Serializing these plain structs cannot fail.
    text.unwrap_or_default()
}
