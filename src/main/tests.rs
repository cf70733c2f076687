use super::*;

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|a| a.to_string()).collect()
}

#[test]
fn split_at_first_double_dash() {
    let cli = split_args(s(&[
        "p", "-l", "0", "--vdev", "net_tap0", "--", "--config", "f", "--", "x",
    ]))
    .unwrap();
    assert_eq!(
        cli,
        Cli::Run {
            eal: s(&["p", "-l", "0", "--vdev", "net_tap0"]),
            ours: s(&["p", "--config", "f", "--", "x"])
        }
    );
}

#[test]
fn help_before_or_without_double_dash() {
    assert_eq!(split_args(s(&["p", "--help"])).unwrap(), Cli::Help);
    assert_eq!(
        split_args(s(&["p", "-l", "0", "-h", "--", "--config", "f"])).unwrap(),
        Cli::Help
    );
    // After `--`, clap handles --help itself.
    assert!(matches!(
        split_args(s(&["p", "--", "--help"])).unwrap(),
        Cli::Run { .. }
    ));
}

#[test]
fn version_before_or_without_double_dash() {
    assert_eq!(split_args(s(&["p", "--version"])).unwrap(), Cli::Version);
    assert_eq!(
        split_args(s(&["p", "-V", "--", "x"])).unwrap(),
        Cli::Version
    );
    // After `--`, clap prints the same version line.
    let e = Opts::try_parse_from(s(&["p", "--version"])).unwrap_err();
    assert_eq!(e.kind(), clap::error::ErrorKind::DisplayVersion);
    assert_eq!(e.to_string().trim_end(), VERSION_LINE);
    assert!(
        VERSION_LINE.starts_with(&format!(
            "nat64-dpdk {} (commit ",
            env!("CARGO_PKG_VERSION")
        )),
        "{VERSION_LINE}"
    );
}

#[test]
fn missing_double_dash_is_explained() {
    let e = split_args(s(&["p", "--config", "f"])).unwrap_err();
    assert!(e.contains("put `--` between"), "{e}");
    let e = split_args(s(&["p"])).unwrap_err();
    assert!(e.contains("missing `-- --config FILE`"), "{e}");
}

#[test]
fn clap_parses_our_half() {
    let o = Opts::try_parse_from(s(&["p", "--config", "x.toml", "--check"])).unwrap();
    assert!(o.check);
    assert_eq!(o.config, PathBuf::from("x.toml"));
    assert!(Opts::try_parse_from(s(&["p"])).is_err());
    Opts::command().debug_assert();
}
