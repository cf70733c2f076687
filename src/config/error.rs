//! Start-up configuration errors. Each one names the key to fix.

use std::fmt;
use std::io;
use std::path::PathBuf;

/// Why a configuration was refused. `Display` always says where: the file,
/// the TOML line, or the key path (`pool4.block_size`, `dns64.listen[0]`).
#[derive(Debug)]
pub enum ConfigError {
    /// The file could not be read.
    Read { path: PathBuf, source: io::Error },
    /// The text is not TOML (the message carries line and column).
    Syntax(String),
    /// A key the contract does not know. `within` is the section, e.g.
    /// `[translation]` or `static_bib[0]`; `None` at the top level.
    UnknownKey { key: String, within: Option<String> },
    /// A key whose value is of the wrong type or range, or inconsistent
    /// with another key.
    Invalid { key: String, reason: String },
}

impl ConfigError {
    /// A value problem at key path `key`.
    pub fn invalid(key: impl Into<String>, reason: impl Into<String>) -> Self {
        ConfigError::Invalid {
            key: key.into(),
            reason: reason.into(),
        }
    }

    /// The key path the error is about, where there is one.
    pub fn key(&self) -> Option<&str> {
        match self {
            ConfigError::Invalid { key, .. } | ConfigError::UnknownKey { key, .. } => Some(key),
            ConfigError::Read { .. } | ConfigError::Syntax(_) => None,
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Read { path, source } => {
                write!(f, "cannot read {}: {source}", path.display())
            }
            ConfigError::Syntax(msg) => write!(f, "not valid TOML: {msg}"),
            ConfigError::UnknownKey {
                key,
                within: Some(within),
            } => write!(f, "unknown key {key:?} in {within}"),
            ConfigError::UnknownKey { key, within: None } => {
                write!(f, "unknown section or key {key:?} at the top level")
            }
            ConfigError::Invalid { key, reason } => write!(f, "{key}: {reason}"),
        }
    }
}

impl std::error::Error for ConfigError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ConfigError::Read { source, .. } => Some(source),
            _ => None,
        }
    }
}
