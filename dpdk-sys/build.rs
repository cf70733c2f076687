//! Finds the system DPDK with pkg-config, generates bindings for the APIs
//! nat64-dpdk uses into OUT_DIR, compiles the C shim and emits the link
//! flags. Every flag of `pkg-config --cflags libdpdk` goes to both bindgen
//! and the C compiler, so both see the same `rte_config.h` and `-march`.

use std::env;
use std::path::PathBuf;
use std::process::{exit, Command};

const NOT_FOUND: &str = "dpdk-sys: DPDK not found via pkg-config (libdpdk); install it: \
apt-get install libdpdk-dev libclang-dev pkg-config (or run scripts/setup.sh)";

/// Runs `pkg-config <args> libdpdk` and splits its output into flags.
fn pkg_config(args: &[&str]) -> Option<Vec<String>> {
    let tool = env::var("PKG_CONFIG").unwrap_or_else(|_| "pkg-config".into());
    let out = Command::new(tool).args(args).arg("libdpdk").output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?;
    Some(text.split_whitespace().map(str::to_owned).collect())
}

fn main() {
    if pkg_config(&["--exists"]).is_none() {
        eprintln!("{NOT_FOUND}");
        exit(1);
    }
    // `-include rte_config.h` stays two tokens in order, as both cc and
    // clang take it.
    let cflags = pkg_config(&["--cflags"]).unwrap_or_else(|| {
        eprintln!("{NOT_FOUND}");
        exit(1)
    });
    let libs = pkg_config(&["--libs"]).unwrap_or_else(|| {
        eprintln!("{NOT_FOUND}");
        exit(1)
    });

    // Printed only once DPDK is found, so a failed build shows just the one
    // line above (cargo reruns a failed build script anyway).
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=shim");
    for var in [
        "PKG_CONFIG",
        "PKG_CONFIG_PATH",
        "PKG_CONFIG_LIBDIR",
        "PKG_CONFIG_SYSROOT_DIR",
    ] {
        println!("cargo:rerun-if-env-changed={var}");
    }

    let manifest =
        PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let shim_dir = manifest.join("shim");
    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));

    // The shim: non-inline wrappers around DPDK's static inline functions.
    let mut cc = cc::Build::new();
    cc.file(shim_dir.join("shim.c"))
        .include(&shim_dir)
        .warnings(true);
    for flag in &cflags {
        cc.flag(flag);
    }
    cc.compile("nat64_dpdk_shim");

    // Bindings. Only rte_* / RTE_* / shim_* items, to keep them small.
    let bindings = bindgen::Builder::default()
        .header(shim_dir.join("wrapper.h").to_string_lossy())
        .clang_args(&cflags)
        .clang_arg(format!("-I{}", shim_dir.display()))
        .allowlist_function("rte_.*|shim_.*")
        .allowlist_type("rte_.*")
        .allowlist_var("RTE_.*|E_RTE_.*|SOCKET_ID_ANY|RING_F_.*|shim_.*")
        // DPDK 22.11 declares these packed structs with an aligned member,
        // which Rust rejects (E0588); nat64-dpdk never looks inside them.
        .opaque_type("rte_l2tpv2_combined_msg_hdr")
        .opaque_type("rte_gtp_psc_generic_hdr")
        .use_core()
        .ctypes_prefix("::core::ffi")
        .prepend_enum_name(false)
        .derive_default(true)
        .generate_comments(false)
        .parse_callbacks(Box::new(bindgen::CargoCallbacks::new()))
        .generate()
        .unwrap_or_else(|e| {
            eprintln!(
                "dpdk-sys: bindgen failed on the DPDK headers: {e} (is libclang-dev installed?)"
            );
            exit(1)
        });
    bindings
        .write_to_file(out.join("bindings.rs"))
        .expect("write bindings to OUT_DIR");

    // Link exactly what pkg-config says. Debian's shared DPDK loads its PMDs
    // (net_tap, net_ring, ...) as plugins from the driver directory compiled
    // into EAL, so they need no link flag here.
    for flag in &libs {
        if let Some(dir) = flag.strip_prefix("-L") {
            println!("cargo:rustc-link-search=native={dir}");
        } else if let Some(lib) = flag.strip_prefix("-l") {
            println!("cargo:rustc-link-lib={lib}");
        }
        // `-Wl,--as-needed` and friends: rustc already links with
        // --as-needed on GNU targets, and link args do not propagate from a
        // dependency's build script anyway.
    }
}
