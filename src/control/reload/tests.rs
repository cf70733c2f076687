//! Tests of the reload decision: the file as a reload reads it, judged
//! against the running configuration (the contract's example).

use super::*;
use crate::config::reload::KEYS;

/// `config/cgn.toml`'s text.
fn contract_text() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/cgn.toml");
    std::fs::read_to_string(path).unwrap()
}

/// `text` written to a fresh file under the temp dir.
fn file(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("nat64-reload-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn running() -> Config {
    Config::from_str(&contract_text()).unwrap()
}

#[test]
fn a_file_that_fails_changes_nothing_and_names_the_key() {
    let text = contract_text().replace("block_size = 512", "block_size = 300");
    let path = file("bad-value.toml", &text);
    match Reloader::judge(&path, &running()) {
        Outcome::Failed(e) => assert!(e.starts_with("pool4.block_size: "), "{e}"),
        other => panic!("{other:?}"),
    }
    let path = file("bad-syntax.toml", "[timeouts\nudp = 60\n");
    assert!(matches!(
        Reloader::judge(&path, &running()),
        Outcome::Failed(_)
    ));
    let missing = file("gone.toml", "").with_file_name("missing.toml");
    match Reloader::judge(&missing, &running()) {
        Outcome::Failed(e) => assert!(e.contains("missing.toml"), "{e}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn unchanged_refused_and_applied_outcomes() {
    let path = file("same.toml", &contract_text());
    assert!(matches!(
        Reloader::judge(&path, &running()),
        Outcome::Unchanged
    ));
    let text = contract_text().replace(
        "addresses = [\"192.0.2.0/26\", ",
        "addresses = [\"192.0.2.0/25\", ",
    );
    let path = file("pool.toml", &text);
    match Reloader::judge(&path, &running()) {
        Outcome::Refused(r) => assert_eq!(
            r.to_string(),
            "reload refused: pool4.addresses cannot change without a restart"
        ),
        other => panic!("{other:?}"),
    }
    let text = contract_text().replace("udp = 300", "udp = 60");
    let path = file("udp.toml", &text);
    match Reloader::judge(&path, &running()) {
        Outcome::Apply(new, changes) => {
            assert_eq!(new.timeouts.udp.as_secs(), 60);
            assert_eq!(changes.to_string(), "timeouts.udp");
            assert!(KEYS.iter().any(|k| k.path == "timeouts.udp"));
        }
        other => panic!("{other:?}"),
    }
}
