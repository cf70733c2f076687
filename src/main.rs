//! The `nat64-dpdk` binary: `nat64-dpdk [EAL options] -- --config FILE [--check]`,
//! or `nat64-dpdk ctl ...`, the operator CLI (`ctl`), which talks to a
//! running box's HTTP listener and never starts DPDK.
//!
//! Everything before the first `--` goes to DPDK's EAL unchanged (with the
//! program name as its argv[0]); what follows is ours, parsed by clap.
//! Exit status: 0 on success (or a clean stop on SIGINT/SIGTERM), 1 if DPDK
//! could not start (EAL, ports, memory), 2 for a bad command line or
//! configuration. SIGHUP reloads the configuration (`control::reload`).
//!
//! `--version` (before or after `--`) prints [`VERSION_LINE`]: the package
//! version, the git commit and the DPDK version it was built from (recorded
//! by `build.rs`); the start-up log opens with the same line.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{CommandFactory, Parser};
use nat64_dpdk::config::Config;
use nat64_dpdk::control::{self, RunOptions, Signals};
use nat64_dpdk::dataplane::worker::TestStall;
use std::time::Duration;
use tracing::{error, info, warn};
use tracing_subscriber::EnvFilter;

/// Large allocations (the per-worker NAT64 tables) on transparent huge
/// pages: fewer TLB misses per lookup.
#[global_allocator]
static GLOBAL: nat64_dpdk::dpdk::HugeAlloc = nat64_dpdk::dpdk::HugeAlloc;

/// What `--version` prints after the program name (clap's version string).
const VERSION: &str = nat64_dpdk::version!();

/// `nat64-dpdk --version`'s line, also the start-up log's first.
const VERSION_LINE: &str = concat!("nat64-dpdk ", nat64_dpdk::version!());

const USAGE: &str = "nat64-dpdk [EAL options] -- --config FILE [--check] [--counters FILE] [--exit-after-idle MS] [--no-exception-path] [--dns64-only]";

const EAL_HELP: &str = "\
EAL options (before `--`, handed to DPDK unchanged; the DPDK documentation lists them all):
  -l, --lcores LIST     lcores to run on; the first is the main (control) lcore,
                        the others are workers (e.g. -l 0-3)
  -a, --allow PCI       use only this PCI device (e.g. -a 0000:03:00.0), once per port
      --vdev DEVICE     add a virtual port, e.g. --vdev net_tap0 (a Linux TAP
                        interface) or --vdev net_ring0; name it in inside.device
                        / outside.device
      --no-pci          do not probe PCI devices (vdev-only setups and tests)
      --no-huge -m 512  run without hugepages on 512 MB of ordinary memory
                        (demos and tests; scripts/setup.sh reserves hugepages)
      --file-prefix NAME
                        keep this process's runtime files apart, so several DPDK
                        processes can run at once
      --log-level LEVEL DPDK's own log level (e.g. 7, or pmd.net.tap:debug)

Examples:
  nat64-dpdk -l 0-3 -a 0000:03:00.0 -a 0000:03:00.1 -- --config /etc/nat64-dpdk/cgn.toml
  nat64-dpdk -l 0-1 --no-pci --no-huge -m 512 --vdev net_tap0 --vdev net_tap1 -- --config config/demo.toml
  nat64-dpdk -- --config config/cgn.toml --check

Exit status: 0 ok, 1 DPDK could not start, 2 bad command line or configuration.

Operator CLI (asks a running box's metrics.listen; `nat64-dpdk ctl --help`):
  nat64-dpdk ctl [--url URL] sessions|bib|blocks|stats|health [--subscriber P]
                 [--proto P] [--limit N] [--cursor C] [--json]";

/// Carrier-grade stateful NAT64 (RFC 6146) with DNS64 on DPDK.
#[derive(Parser, Debug)]
#[command(
    name = "nat64-dpdk",
    version = VERSION,
    override_usage = USAGE,
    after_help = EAL_HELP,
    next_help_heading = "Options (after `--`)"
)]
struct Opts {
    /// The configuration file (see config/cgn.toml).
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    /// Validate the configuration, print its summary and exit (0 valid,
    /// 2 invalid) without starting DPDK.
    #[arg(long)]
    check: bool,
    /// Write every counter in the Prometheus text format to FILE (replaced
    /// atomically every 100 ms and at exit); `-` prints them to stdout at exit.
    #[arg(long, value_name = "FILE")]
    counters: Option<PathBuf>,
    /// Exit cleanly once no packet has arrived for MS milliseconds (offline
    /// runs over net_pcap).
    #[arg(long, value_name = "MS")]
    exit_after_idle: Option<u64>,
    /// Do not create the kernel TAP interfaces that carry traffic for the
    /// box itself (offline runs; ARP, ND and ping are still answered).
    #[arg(long)]
    no_exception_path: bool,
    /// Run only the DNS64 server of `[dns64]` (no EAL, no ports, EAL
    /// options ignored) until SIGINT/SIGTERM: a DNS64 box of its own, and
    /// the benchmarks.
    #[arg(long)]
    dns64_only: bool,
    /// Tests only: worker ID stops polling for FOR_MS milliseconds once its
    /// clock reaches AT_MS (so the health check can be seen to notice).
    #[arg(long, value_name = "ID:AT_MS:FOR_MS", hide = true, value_parser = parse_stall)]
    test_stall_worker: Option<TestStall>,
}

/// `--test-stall-worker ID:AT_MS:FOR_MS`.
fn parse_stall(s: &str) -> Result<TestStall, String> {
    let bad = || format!("{s:?}: want ID:AT_MS:FOR_MS, e.g. 1:5000:3000");
    let mut it = s.split(':').map(str::parse::<u64>);
    match (it.next(), it.next(), it.next(), it.next()) {
        (Some(Ok(w)), Some(Ok(at_ms)), Some(Ok(for_ms)), None) => Ok(TestStall {
            worker: u16::try_from(w).map_err(|_| bad())?,
            at_ms,
            for_ms,
        }),
        _ => Err(bad()),
    }
}

/// The command line split at the first `--`.
#[derive(Debug, PartialEq)]
enum Cli {
    /// `-h` / `--help` before (or without) `--`.
    Help,
    /// `-V` / `--version` before (or without) `--`.
    Version,
    /// EAL argv (program name first) and our arguments (program name first,
    /// for clap).
    Run { eal: Vec<String>, ours: Vec<String> },
}

/// Split argv at the first `--`.
fn split_args(args: Vec<String>) -> Result<Cli, String> {
    let mut it = args.into_iter();
    let prog = it.next().unwrap_or_else(|| "nat64-dpdk".to_string());
    let rest: Vec<String> = it.collect();
    let (eal_part, our_part) = match rest.iter().position(|a| a == "--") {
        Some(i) => (&rest[..i], Some(&rest[i + 1..])),
        None => (&rest[..], None),
    };
    if eal_part.iter().any(|a| a == "-h" || a == "--help") {
        return Ok(Cli::Help);
    }
    if eal_part.iter().any(|a| a == "-V" || a == "--version") {
        return Ok(Cli::Version);
    }
    let Some(our_part) = our_part else {
        if eal_part
            .iter()
            .any(|a| a == "--config" || a.starts_with("--config=") || a == "--check")
        {
            return Err(format!(
                "put `--` between the EAL options and ours: {USAGE} (e.g. nat64-dpdk -- --config FILE --check)"
            ));
        }
        return Err(format!(
            "missing `-- --config FILE`; usage: {USAGE} (--help explains both halves)"
        ));
    };
    let mut eal = vec![prog.clone()];
    eal.extend(eal_part.iter().cloned());
    let mut ours = vec![prog];
    ours.extend(our_part.iter().cloned());
    Ok(Cli::Run { eal, ours })
}

fn main() -> ExitCode {
    let args: Result<Vec<String>, OsString> =
        std::env::args_os().map(OsString::into_string).collect();
    let args = match args {
        Ok(a) => a,
        Err(bad) => {
            eprintln!("error: argument {bad:?} is not valid UTF-8");
            return ExitCode::from(2);
        }
    };
    // `nat64-dpdk ctl ...`: the operator CLI, no EAL.
    if args.get(1).is_some_and(|a| a == "ctl") {
        return ctl::main(args.into_iter().skip(1).collect());
    }
    let (eal_args, opts) = match split_args(args) {
        Ok(Cli::Help) => {
            // Printing help can only fail if stdout is gone.
            let _ = Opts::command().print_help();
            return ExitCode::SUCCESS;
        }
        Ok(Cli::Version) => {
            println!("{VERSION_LINE}");
            return ExitCode::SUCCESS;
        }
        Ok(Cli::Run { eal, ours }) => match Opts::try_parse_from(ours) {
            Ok(opts) => (eal, opts),
            Err(e) => e.exit(), // --help / --version exit 0, mistakes exit 2
        },
        Err(msg) => {
            eprintln!("error: {msg}");
            return ExitCode::from(2);
        }
    };

    let config = match Config::from_file(&opts.config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    if opts.check {
        for w in &config.warnings {
            eprintln!("warning: {w}");
        }
        println!("{}", config.summary());
        return ExitCode::SUCCESS;
    }

    init_logging(config.logging.level.as_str());
    info!("{VERSION_LINE}");
    for w in &config.warnings {
        warn!("{w}");
    }
    let result = if opts.dns64_only {
        run_dns64_only(&config, &opts.config)
    } else {
        run(&eal_args, &config, &opts)
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}

/// Logs to stderr at `logging.level`, or as RUST_LOG says when it is set.
fn init_logging(level: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .with_target(false)
        .init();
}

/// The SIGINT/SIGTERM (stop) and SIGHUP (reload) flags; without them the
/// process still runs, stopped by SIGKILL.
fn signals() -> Signals {
    Signals::install().unwrap_or_else(|e| {
        warn!("cannot install the signal handlers ({e}); stop with SIGKILL, no reload");
        Signals::default()
    })
}

/// Install the signal handlers, then run the dataplane until SIGINT or
/// SIGTERM (or `--exit-after-idle`), reloading on SIGHUP.
fn run(
    eal_args: &[String],
    config: &Config,
    opts: &Opts,
) -> Result<(), Box<dyn std::error::Error>> {
    let signals = signals();
    let run_opts = RunOptions {
        counters: opts.counters.clone(),
        exit_after_idle: opts.exit_after_idle.map(Duration::from_millis),
        no_exception_path: opts.no_exception_path,
        test_stall: opts.test_stall_worker,
        config_path: Some(opts.config.clone()),
    };
    control::run(eal_args, config, &run_opts, &signals)
}

/// `--dns64-only`: the DNS64 server alone, until SIGINT/SIGTERM. SIGHUP
/// reloads `[dns64]` as in a full run (the same judgement: a change of a
/// key that needs a restart refuses the reload).
fn run_dns64_only(config: &Config, path: &Path) -> Result<(), Box<dyn std::error::Error>> {
    use nat64_dpdk::control::reload::{Outcome, Reloader};
    use nat64_dpdk::dns64::server::{self, ServerOptions};
    if !config.dns64.enabled {
        return Err("--dns64-only, but dns64.enabled = false".into());
    }
    let signals = signals();
    let handle = server::start(config, ServerOptions::default())?;
    for a in handle.local_addrs() {
        info!("dns64: listening on {a} (UDP and TCP)");
    }
    let mut running = config.clone();
    while !signals.wait(Duration::from_secs(1)) {
        if !signals.take_reload() {
            continue;
        }
        match Reloader::judge(path, &running) {
            Outcome::Failed(e) => error!(
                "reload: {}: {e}; the running configuration stays",
                path.display()
            ),
            Outcome::Refused(r) => error!("{r}; the running configuration stays"),
            Outcome::Unchanged => info!("reload: {}: no change", path.display()),
            Outcome::Apply(new, changes) => {
                handle.reload(&new);
                info!("reload: {}: applied {changes}", path.display());
                running = *new;
            }
        }
    }
    info!("dns64: stopping");
    handle.stop();
    Ok(())
}

#[path = "main/ctl.rs"]
mod ctl;

#[cfg(test)]
#[path = "main/tests.rs"]
mod tests;
