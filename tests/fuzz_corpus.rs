//! Runs every committed corpus file (fuzz/corpus/<target>/) through the same
//! harness the cargo-fuzz targets use, plus every truncation of each
//! hand-written seed (`seed-*`), so CI replays what fuzzing found without a
//! fuzzing toolchain. (The minimised corpora already hold short inputs;
//! truncating all of them would take minutes in a debug build.)
use std::fs;
use std::path::Path;

fn run(target: &str, f: fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut n = 0;
    for entry in fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        let data = fs::read(&path).unwrap();
        let seed = path
            .file_name()
            .is_some_and(|name| name.to_string_lossy().starts_with("seed-"));
        if seed {
            for len in 0..data.len() {
                f(&data[..len]);
            }
        }
        f(&data);
        n += 1;
    }
    assert!(n >= 3, "{target}: only {n} seeds in {}", dir.display());
}

#[test]
fn fuzz_seeds_wire_parse() {
    run("wire_parse", nat64_dpdk::fuzzing::wire_parse);
}

#[test]
fn fuzz_seeds_xlat_6to4() {
    run("xlat_6to4", nat64_dpdk::fuzzing::xlat_6to4);
}

#[test]
fn fuzz_seeds_xlat_4to6() {
    run("xlat_4to6", nat64_dpdk::fuzzing::xlat_4to6);
}

#[test]
fn fuzz_seeds_dataplane_frames() {
    run("dataplane_frames", nat64_dpdk::fuzzing::dataplane_frames);
}

#[test]
fn fuzz_seeds_dns64_exchange() {
    run("dns64_exchange", nat64_dpdk::fuzzing::dns64_exchange);
}

#[test]
fn fuzz_seeds_pipeline_sequence() {
    run("pipeline_sequence", nat64_dpdk::fuzzing::pipeline_sequence);
}
