//! `nat64-dpdk ctl`: the operator CLI. It asks a running box's HTTP
//! listener (`metrics.listen`) and prints what it answers.
//!
//! `sessions`, `bib` and `blocks` print the rows of one response as an
//! aligned table (`--json`: the response body unchanged), then, when more
//! rows remain, the `--cursor` that shows them; `stats` prints the
//! non-zero counters of `/metrics`; `health` prints `/healthz` and exits 1
//! when the box is unhealthy. Exit status: 0 ok, 1 the box answered with
//! an error or could not be reached, 2 bad command line.

use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use serde_json::Value;

/// Query a running nat64-dpdk's HTTP listener (`metrics.listen`).
#[derive(Parser, Debug)]
#[command(name = "nat64-dpdk ctl", bin_name = "nat64-dpdk ctl")]
pub struct CtlOpts {
    /// The listener's base URL [default: http://127.0.0.1:9464, the default
    /// metrics.listen].
    #[arg(long, global = true, value_name = "URL")]
    url: Option<String>,
    /// Only this subscriber prefix (e.g. 2001:db8:1::/56) or address.
    #[arg(long, global = true, value_name = "PREFIX")]
    subscriber: Option<String>,
    /// Only this protocol: udp, tcp or icmp (sessions, bib).
    #[arg(long, global = true, value_name = "PROTO")]
    proto: Option<String>,
    /// Rows to show at most (the server's default: 100).
    #[arg(long, global = true, value_name = "N")]
    limit: Option<usize>,
    /// Go on where a previous listing stopped (its `next`).
    #[arg(long, global = true, value_name = "CURSOR")]
    cursor: Option<String>,
    /// Print the JSON the server sent, unchanged.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    what: What,
}

#[derive(Subcommand, Debug, Clone, Copy, PartialEq, Eq)]
enum What {
    /// Sessions (/sessions).
    Sessions,
    /// BIB entries (/bib).
    Bib,
    /// Port blocks in use (/blocks).
    Blocks,
    /// The non-zero counters (/metrics).
    Stats,
    /// The health check (/healthz); exit status 1 when unhealthy.
    Health,
}

/// Run `nat64-dpdk ctl ARGS` (`args` starts with the words `nat64-dpdk
/// ctl`'s program name).
pub fn main(args: Vec<String>) -> ExitCode {
    let opts = match CtlOpts::try_parse_from(args) {
        Ok(o) => o,
        Err(e) => e.exit(),
    };
    match run(&opts) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}

/// The default base URL: `metrics.listen`'s default (the configuration's
/// own, so the two cannot drift apart).
fn default_url() -> String {
    let listen = nat64_dpdk::config::raw::Metrics::default().listen;
    format!("http://{listen}")
}

fn run(o: &CtlOpts) -> Result<ExitCode, String> {
    let base = o.url.clone().unwrap_or_else(default_url);
    let base = base.trim_end_matches('/');
    let path = match o.what {
        What::Sessions => "/sessions",
        What::Bib => "/bib",
        What::Blocks => "/blocks",
        What::Stats => "/metrics",
        What::Health => "/healthz",
    };
    let agent = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(30))
        .build();
    let mut req = agent.get(&format!("{base}{path}"));
    if matches!(o.what, What::Sessions | What::Bib | What::Blocks) {
        for (k, v) in [
            ("subscriber", o.subscriber.clone()),
            ("proto", o.proto.clone()),
            ("limit", o.limit.map(|n| n.to_string())),
            ("cursor", o.cursor.clone()),
        ] {
            if let Some(v) = v {
                req = req.query(k, &v);
            }
        }
    }
    let (status, body) = match req.call() {
        Ok(r) => (r.status(), r.into_string().map_err(|e| e.to_string())?),
        Err(ureq::Error::Status(code, r)) => (code, r.into_string().unwrap_or_default()),
        // ureq's message names the URL.
        Err(e) => return Err(e.to_string()),
    };
    match (o.what, status) {
        (What::Health, 200 | 503) => {
            print!("{body}");
            Ok(ExitCode::from(u8::from(status != 200)))
        }
        (_, 200) if o.json => {
            print!("{body}");
            Ok(ExitCode::SUCCESS)
        }
        (What::Stats, 200) => {
            print!("{}", stats(&body));
            Ok(ExitCode::SUCCESS)
        }
        (what, 200) => {
            let v: Value = serde_json::from_str(&body).map_err(|e| format!("{path}: {e}"))?;
            let key = path.trim_start_matches('/');
            let rows = v
                .get(key)
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            print!("{}", table(&rows));
            if let Some(next) = v.get("next").and_then(Value::as_str) {
                println!("(more: nat64-dpdk ctl {} --cursor {next})", name(what));
            }
            Ok(ExitCode::SUCCESS)
        }
        (_, code) => Err(format!("{base}{path}: HTTP {code}: {}", body.trim_end())),
    }
}

fn name(w: What) -> &'static str {
    match w {
        What::Sessions => "sessions",
        What::Bib => "bib",
        What::Blocks => "blocks",
        What::Stats => "stats",
        What::Health => "health",
    }
}

/// One cell: a transport address `{address, port}` as `addr port`, other
/// objects flattened by the caller, null as `-`.
fn cell(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        Value::Object(m) if m.len() == 2 && m.contains_key("address") && m.contains_key("port") => {
            format!("{} {}", cell(&m["address"]), cell(&m["port"]))
        }
        other => other.to_string(),
    }
}

/// A row's columns in order: nested objects other than transport
/// addresses become `outer.inner` columns.
fn columns(row: &Value, prefix: &str, out: &mut Vec<(String, String)>) {
    let Some(m) = row.as_object() else {
        return;
    };
    for (k, v) in m {
        let name = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match v {
            Value::Object(o) if !(o.len() == 2 && o.contains_key("address")) => {
                columns(v, &name, out)
            }
            _ => out.push((name, cell(v))),
        }
    }
}

/// The rows as an aligned table with a header line.
pub fn table(rows: &[Value]) -> String {
    let cells: Vec<Vec<(String, String)>> = rows
        .iter()
        .map(|r| {
            let mut c = Vec::new();
            columns(r, "", &mut c);
            c
        })
        .collect();
    let Some(first) = cells.first() else {
        return "(none)\n".into();
    };
    let header: Vec<&str> = first.iter().map(|(k, _)| k.as_str()).collect();
    let mut width: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in &cells {
        for (w, (_, v)) in width.iter_mut().zip(row) {
            *w = (*w).max(v.len());
        }
    }
    let line = |vals: Vec<&str>| {
        let mut l = vals
            .iter()
            .zip(&width)
            .map(|(v, w)| format!("{v:<w$}"))
            .collect::<Vec<_>>()
            .join("  ");
        l.truncate(l.trim_end().len());
        l + "\n"
    };
    let mut out = line(header.clone());
    for row in &cells {
        out.push_str(&line(row.iter().map(|(_, v)| v.as_str()).collect()));
    }
    out
}

/// The non-zero samples of a Prometheus text exposition, aligned.
pub fn stats(text: &str) -> String {
    let samples: Vec<(&str, &str)> = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| l.rsplit_once(' '))
        .filter(|(_, v)| v.parse::<f64>().is_ok_and(|x| x != 0.0))
        .collect();
    let w = samples.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    samples
        .iter()
        .map(|(k, v)| format!("{k:<w$}  {v}\n"))
        .collect()
}

#[cfg(test)]
#[path = "ctl/tests.rs"]
mod tests;
