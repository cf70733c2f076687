//! The HTTP listener at `metrics.listen`: `/metrics`, `/healthz` and the
//! inspection routes (`/sessions`, `/bib`, `/blocks`, see
//! `control::inspect`).
//!
//! What it promises:
//! - One thread (`http`), pinned to the main lcore's CPU like the DNS64
//!   server, never a worker's, serving one request at a time with
//!   `tiny_http` (no HTTP parsing of our own). Start-up fails, naming
//!   `metrics.listen`, when the address cannot be bound; a non-loopback
//!   address is allowed with a warning unless `metrics.allow` names the
//!   clients (subscriber addresses and the inspection routes are open to
//!   whoever reaches it).
//! - Who is answered ([`HttpAcl`]): loopback, and the clients of
//!   `metrics.allow` (every client that reaches the listener when the key
//!   is absent). Anyone else gets `403`, counted in
//!   `nat64_http_refused_total`, before the request is looked at. A reload
//!   swaps the list.
//! - `/metrics`: every counter in the Prometheus text format
//!   (`text/plain; version=0.0.4`), from one [`MetricsSource`], the same
//!   text `--counters` writes.
//! - `/healthz`: `200 ok` while every worker made a poll pass within
//!   [`POLL_LATE`] and both ports' links are up; otherwise `503` with one
//!   line per problem (`worker 2: no poll for 3.2 s`, `outside port
//!   net_tap1: link down`). Link states are the control loop's, refreshed
//!   every 100 ms.
//! - Only `GET` (and `HEAD`); anything else is `405`; unknown paths `404`.
//!
//! Deviation: requests are served one after the other; an inspection
//! request holds the thread for at most `inspect::WALK_BUDGET` plus one
//! worker's timeout.

#[cfg(test)]
mod tests;

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::thread::JoinHandle;
use std::time::Duration;

use prometheus::IntCounter;
use tiny_http::{Header, Method, Response, Server};
use tracing::{info, warn};

use super::inspect::{self, Error as InspectError};
use crate::config::{unmapped, ClientList};
use crate::dataplane::worker::Shared;
use crate::nat64::inspect::Table;
use crate::nat64::Millis;

/// Where `/metrics` gets its text; swapping the renderer is one line.
pub type MetricsSource = Arc<dyn Fn() -> String + Send + Sync>;

/// The workers' clock (milliseconds since `Shared::epoch_tsc`), read on
/// the HTTP thread.
pub type Clock = Arc<dyn Fn() -> Millis + Send + Sync>;

/// A worker that has not polled for this long is unhealthy.
pub const POLL_LATE: Millis = 1_000;

/// `/metrics`'s Content-Type (the Prometheus text format 0.0.4).
pub const METRICS_CONTENT_TYPE: &str = "text/plain; version=0.0.4";

/// A port's link, as the control loop last saw it.
#[derive(Debug)]
pub struct PortLink {
    /// `inside` or `outside`.
    pub role: &'static str,
    /// The DPDK port name.
    pub name: String,
    pub up: AtomicBool,
}

/// Who the listener answers (`metrics.allow`): loopback always (the
/// box's own `ctl`), and the list, or everyone when there is none.
#[derive(Debug, Default)]
pub struct HttpAcl(RwLock<Option<ClientList>>);

impl HttpAcl {
    /// The ACL of `metrics.allow` (`None`: the key absent).
    pub fn new(allow: Option<ClientList>) -> HttpAcl {
        HttpAcl(RwLock::new(allow))
    }

    /// Replace the list (a reload).
    pub fn set(&self, allow: Option<ClientList>) {
        *self.0.write().unwrap_or_else(PoisonError::into_inner) = allow;
    }

    /// Whether a request from `source` is answered.
    pub fn allows(&self, source: IpAddr) -> bool {
        unmapped(source).is_loopback()
            || self
                .0
                .read()
                .unwrap_or_else(PoisonError::into_inner)
                .as_ref()
                .is_none_or(|l| l.contains(source))
    }
}

/// What the handlers read.
pub struct Context {
    pub metrics: MetricsSource,
    pub shared: Arc<Shared>,
    pub clock: Clock,
    pub links: Arc<[PortLink; 2]>,
    /// Who is answered.
    pub acl: Arc<HttpAcl>,
    /// Requests refused by `acl` (`nat64_http_refused_total`).
    pub refused: IntCounter,
}

/// The running listener; [`HttpServer::stop`] (or dropping it) ends its
/// thread.
pub struct HttpServer {
    server: Arc<Server>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    addr: SocketAddr,
    acl: Arc<HttpAcl>,
}

impl HttpServer {
    /// The address it listens on (the port chosen when `metrics.listen`
    /// asks for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Who it answers from now on (`metrics.allow` reloaded).
    pub fn set_allow(&self, allow: Option<ClientList>) {
        self.acl.set(allow);
    }

    /// Stop listening and wait for the thread (as dropping it does).
    pub fn stop(self) {}
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        self.server.unblock();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Bind `listen` and serve on a thread pinned to `pin_cpu`.
pub fn start(
    listen: SocketAddr,
    ctx: Context,
    pin_cpu: Option<usize>,
) -> Result<HttpServer, String> {
    let listed = ctx
        .acl
        .0
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .is_some();
    if !listen.ip().is_loopback() && !listed {
        warn!(
            "metrics.listen {listen} is not a loopback address: /metrics, /healthz and the \
             inspection routes (subscriber addresses) are open to whoever reaches it; \
             metrics.allow names the clients to answer"
        );
    }
    let server = Server::http(listen).map_err(|e| format!("metrics.listen {listen}: {e}"))?;
    let addr = server
        .server_addr()
        .to_ip()
        .ok_or_else(|| format!("metrics.listen {listen}: not an IP listener"))?;
    let server = Arc::new(server);
    let acl = Arc::clone(&ctx.acl);
    let stop = Arc::new(AtomicBool::new(false));
    let (srv, stopping) = (Arc::clone(&server), Arc::clone(&stop));
    let thread = std::thread::Builder::new()
        .name("http".into())
        .spawn(move || {
            if let Some(id) = pin_cpu {
                if !core_affinity::set_for_current(core_affinity::CoreId { id }) {
                    warn!("http: cannot pin the thread to CPU {id}");
                }
            }
            serve(&srv, &ctx, &stopping);
        })
        .map_err(|e| format!("http thread: {e}"))?;
    let cpu = pin_cpu.map_or_else(|| "unpinned".to_string(), |c| format!("CPU {c}"));
    info!("http: listening on {addr} (/metrics, /healthz, /sessions, /bib, /blocks), {cpu}");
    Ok(HttpServer {
        server,
        stop,
        thread: Some(thread),
        addr,
        acl,
    })
}

/// Answer requests until `stop`.
fn serve(server: &Server, ctx: &Context, stop: &AtomicBool) {
    while !stop.load(Ordering::Relaxed) {
        let req = match server.recv_timeout(Duration::from_millis(500)) {
            Ok(Some(r)) => r,
            Ok(None) => continue,
            Err(e) => {
                warn!("http: {e}");
                continue;
            }
        };
        let allowed = req.remote_addr().is_some_and(|a| ctx.acl.allows(a.ip()));
        let reply = if !allowed {
            ctx.refused.inc();
            Reply::text(403, "not in metrics.allow\n".into())
        } else {
            match req.method() {
                Method::Get | Method::Head => route(ctx, req.url()),
                _ => Reply::text(405, "only GET and HEAD\n".into()),
            }
        };
        let mut resp = Response::from_string(reply.body).with_status_code(reply.status);
        if let Ok(ct) = Header::from_bytes("Content-Type", reply.content_type) {
            resp = resp.with_header(ct);
        }
        // A client that went away is its own problem.
        let _ = req.respond(resp);
    }
}

/// A response before it is sent.
#[derive(Debug, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
}

impl Reply {
    fn text(status: u16, body: String) -> Reply {
        Reply {
            status,
            content_type: "text/plain; charset=utf-8",
            body,
        }
    }
}

/// The reply to `GET url` (path and query string).
pub fn route(ctx: &Context, url: &str) -> Reply {
    let (path, query) = url.split_once('?').unwrap_or((url, ""));
    let table = match path {
        "/metrics" => {
            return Reply {
                status: 200,
                content_type: METRICS_CONTENT_TYPE,
                body: (ctx.metrics)(),
            }
        }
        "/healthz" => {
            let polls: Vec<Millis> = ctx.shared.stats.iter().map(|s| s.last_poll()).collect();
            let links: Vec<(&str, &str, bool)> = ctx
                .links
                .iter()
                .map(|l| (l.role, l.name.as_str(), l.up.load(Ordering::Relaxed)))
                .collect();
            return match health((ctx.clock)(), &polls, &links) {
                Ok(()) => Reply::text(200, "ok\n".into()),
                Err(problems) => Reply::text(503, problems.join("\n") + "\n"),
            };
        }
        "/sessions" => Table::Sessions,
        "/bib" => Table::Bib,
        "/blocks" => Table::Blocks,
        _ => {
            return Reply::text(
                404,
                format!("no {path}: try /metrics, /healthz, /sessions, /bib, /blocks\n"),
            )
        }
    };
    match inspect::parse(table, query).and_then(|r| inspect::answer(&ctx.shared, &r)) {
        Ok(json) => Reply {
            status: 200,
            content_type: "application/json",
            body: json + "\n",
        },
        Err(InspectError::BadRequest(m)) => Reply::text(400, m + "\n"),
        Err(InspectError::Unavailable(m)) => Reply::text(503, m + "\n"),
    }
}

/// Whether the box is healthy at millisecond `now`, given each worker's
/// last poll pass and each port's link (role, name, up); the problems when
/// it is not.
pub fn health(
    now: Millis,
    polls: &[Millis],
    links: &[(&str, &str, bool)],
) -> Result<(), Vec<String>> {
    let mut problems = Vec::new();
    for (w, &last) in polls.iter().enumerate() {
        let late = now.saturating_sub(last);
        if late > POLL_LATE {
            problems.push(format!(
                "worker {w}: no poll for {:.1} s",
                late as f64 / 1000.0
            ));
        }
    }
    for &(role, name, up) in links {
        if !up {
            problems.push(format!("{role} port {name}: link down"));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}
