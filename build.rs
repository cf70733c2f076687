//! Records what this build is, for `nat64-dpdk --version` and the start-up
//! log: `NAT64_VERSION` (the package version), `NAT64_GIT_COMMIT` (`git
//! rev-parse --short HEAD`, or "unknown" outside a git checkout or without
//! git) and `NAT64_DPDK_VERSION` (`pkg-config --modversion libdpdk`, or
//! "unknown"), each as a `cargo:rustc-env`.
//!
//! It reruns when HEAD moves: on a commit (the ref HEAD points at changes)
//! or a checkout (HEAD itself changes), and when pkg-config's environment
//! changes.

use std::env;
use std::path::PathBuf;
use std::process::Command;

/// The trimmed stdout of `cmd args`, if it ran and succeeded.
fn output(cmd: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(cmd).args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?;
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_string())
}

/// `git <args>` in the package's directory.
fn git(args: &[&str]) -> Option<String> {
    let dir = env::var("CARGO_MANIFEST_DIR").ok()?;
    let mut all = vec!["-C", dir.as_str()];
    all.extend_from_slice(args);
    output("git", &all)
}

/// The short commit of HEAD; watches HEAD and the ref it points at (in a
/// worktree HEAD lives in its own git dir, the refs in the common one).
fn git_commit() -> Option<String> {
    let commit = git(&["rev-parse", "--short", "HEAD"])?;
    let abs = |p: String| {
        let p = PathBuf::from(p);
        if p.is_absolute() {
            Some(p)
        } else {
            Some(PathBuf::from(env::var("CARGO_MANIFEST_DIR").ok()?).join(p))
        }
    };
    if let Some(head) = git(&["rev-parse", "--git-path", "HEAD"]).and_then(abs) {
        println!("cargo:rerun-if-changed={}", head.display());
    }
    if let Some(name) = git(&["symbolic-ref", "-q", "HEAD"]) {
        let loose = git(&["rev-parse", "--git-path", &name]).and_then(abs);
        match loose {
            Some(path) if path.exists() => println!("cargo:rerun-if-changed={}", path.display()),
            // A packed ref: it moves out of packed-refs into a loose file
            // on its next update.
            _ => {
                if let Some(packed) = git(&["rev-parse", "--git-path", "packed-refs"]).and_then(abs)
                {
                    if packed.exists() {
                        println!("cargo:rerun-if-changed={}", packed.display());
                    }
                }
            }
        }
    }
    Some(commit)
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    for var in [
        "PKG_CONFIG",
        "PKG_CONFIG_PATH",
        "PKG_CONFIG_LIBDIR",
        "PKG_CONFIG_SYSROOT_DIR",
    ] {
        println!("cargo:rerun-if-env-changed={var}");
    }
    let version = env::var("CARGO_PKG_VERSION").unwrap_or_else(|_| "unknown".into());
    let commit = git_commit().unwrap_or_else(|| "unknown".into());
    let pkg_config = env::var("PKG_CONFIG").unwrap_or_else(|_| "pkg-config".into());
    let dpdk =
        output(&pkg_config, &["--modversion", "libdpdk"]).unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=NAT64_VERSION={version}");
    println!("cargo:rustc-env=NAT64_GIT_COMMIT={commit}");
    println!("cargo:rustc-env=NAT64_DPDK_VERSION={dpdk}");
}
