//! Configuration: the TOML contract of issue 4 and the notes' flat JSON.
//!
//! [`load`] reads a file (format by extension, else by content: `{` means JSON),
//! decodes it with unknown keys refused, fills in every default and checks the rules.
//! The result is an effective [`Config`] plus [`Warning`]s; [`render_toml`] prints it
//! (password redacted) for `check-config`, and [`to_core`] maps it onto
//! `twinbeat_core::Config`.

pub mod defaults;
mod error;
mod flat;
pub mod host;
mod raw;
mod render;
mod resolve;
mod to_core;
mod types;

#[cfg(test)]
mod tests;
pub mod units;

use std::path::{Path, PathBuf};

pub use error::{ConfigError, Warning};
pub use host::HostFacts;
pub use render::render_toml;
pub use resolve::{HostChecks, MAX_INTERVAL, MAX_RETRIES, MAX_TIMEOUT};
pub use to_core::{from_core_error, node_number, to_core};
pub use types::*;

/// Environment variable holding the database password.
pub const PASSWORD_ENV: &str = "TWINBEAT_PG_PASSWORD";

/// The two accepted file formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// The sectioned TOML of the contract.
    Toml,
    /// JSON with comments and trailing commas (JSON5): the notes' flat file, or the
    /// sectioned shape written as JSON.
    Json,
}

/// A loaded configuration and what looked suspicious on the way.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The effective configuration.
    pub config: Config,
    /// Warnings, each naming its field.
    pub warnings: Vec<Warning>,
    /// Whether the file was the notes' flat JSON.
    pub flat: bool,
}

/// Picks the format: `.toml` / `.json` / `.json5` by extension, else `{` as the first
/// non-blank character means JSON.
pub fn detect_format(path: &Path, text: &str) -> Format {
    match path.extension().and_then(|e| e.to_str()) {
        Some("toml") => Format::Toml,
        Some("json" | "json5") => Format::Json,
        _ if text.trim_start().starts_with('{') => Format::Json,
        _ => Format::Toml,
    }
}

/// Reads and checks a configuration file against the running host.
pub fn load(path: &Path, mode: HostChecks) -> Result<Loaded, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    let facts = HostFacts::from_system();
    let env_password = std::env::var(PASSWORD_ENV).ok().filter(|p| !p.is_empty());
    let mut loaded = load_str(path, &text, &facts, mode, env_password)?;
    if holds_password(&loaded.config) {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(m) = std::fs::metadata(path) {
            let mode = m.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                loaded.warnings.push(Warning {
                    field: if loaded.flat {
                        flat_name("local_db.password").unwrap_or_default()
                    } else {
                        "local_db.password".to_owned()
                    },
                    message: format!(
                        "{} holds a password and is readable by group or others (mode {mode:o}): chmod 600 it, or use password_file / {PASSWORD_ENV}",
                        path.display()
                    ),
                });
            }
        }
    }
    Ok(loaded)
}

fn holds_password(c: &Config) -> bool {
    matches!(c.local_db.conn.password, PasswordSource::Inline(_))
        || matches!(c.peer.db.password, PasswordSource::Inline(_))
}

/// Decodes and checks configuration text; `path` only names the file in errors and
/// picks the format. Host facts and the environment are passed in, so tests control
/// them.
pub fn load_str(
    path: &Path,
    text: &str,
    facts: &HostFacts,
    mode: HostChecks,
    env_password: Option<String>,
) -> Result<Loaded, ConfigError> {
    let (raw, flat) = match detect_format(path, text) {
        Format::Toml => (decode_toml(path, text)?, false),
        Format::Json => decode_json(path, text)?,
    };
    let mut resolver = resolve::Resolver {
        facts,
        mode,
        env_password,
        warnings: Vec::new(),
    };
    let rename = |f: &str| flat.then(|| flat_name(f)).flatten();
    let config = resolver.resolve(raw).map_err(|e| e.rename_field(rename))?;
    to_core(&config).map_err(|e| e.rename_field(rename))?;
    let mut warnings = resolver.warnings;
    if flat {
        for w in &mut warnings {
            if let Some(n) = flat_name(&w.field) {
                w.field = n;
            }
        }
    }
    Ok(Loaded {
        config,
        warnings,
        flat,
    })
}

/// For a flat file, names a field by the notes' key with its sectioned meaning.
fn flat_name(sectioned: &str) -> Option<String> {
    const KEYS: [&str; 9] = [
        "dblclhost",
        "dblcluser",
        "dblclpass",
        "dblclname",
        "dblclport",
        "dbrmthost",
        "dbrmtport",
        "vip",
        "role",
    ];
    KEYS.iter()
        .find(|k| flat::sectioned_name(k) == Some(sectioned) && **k != sectioned)
        .map(|k| format!("{k} ({sectioned})"))
}

fn decode_toml(path: &Path, text: &str) -> Result<raw::RawConfig, ConfigError> {
    let de = toml::Deserializer::new(text);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let field = e.path().to_string();
        let inner = e.into_inner();
        let message = one_line(inner.message());
        if field == "." || field.is_empty() {
            let line = inner
                .span()
                .map(|s| text[..s.start.min(text.len())].lines().count().max(1));
            // A syntax error has no field; an unknown top-level key does, in the message.
            if let Some(key) = unknown_key(&message) {
                return ConfigError::Decode {
                    field: key,
                    message,
                };
            }
            return ConfigError::Syntax {
                path: path.to_owned(),
                format: "TOML",
                line,
                message,
            };
        }
        ConfigError::Decode { field, message }
    })
}

fn decode_json(path: &Path, text: &str) -> Result<(raw::RawConfig, bool), ConfigError> {
    let value: serde_json::Value = json5::from_str(text).map_err(|e| ConfigError::Syntax {
        path: path.to_owned(),
        format: "JSON",
        line: None,
        message: one_line(&e.to_string()),
    })?;
    let decode_err = |e: serde_path_to_error::Error<serde_json::Error>| {
        let field = e.path().to_string();
        let message = one_line(&e.into_inner().to_string());
        let field = if field == "." || field.is_empty() {
            unknown_key(&message).unwrap_or(field)
        } else {
            field
        };
        ConfigError::Decode { field, message }
    };
    if flat::is_flat(&value) {
        let f: flat::FlatConfig = serde_path_to_error::deserialize(value).map_err(decode_err)?;
        Ok((f.into_raw(), true))
    } else {
        Ok((
            serde_path_to_error::deserialize(value).map_err(decode_err)?,
            false,
        ))
    }
}

/// The key named by serde's "unknown field `x`" message.
fn unknown_key(message: &str) -> Option<String> {
    let rest = message.strip_prefix("unknown field `")?;
    Some(rest[..rest.find('`')?].to_owned())
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The default path of the configuration file.
pub fn default_path() -> PathBuf {
    PathBuf::from("/etc/twinbeat/twinbeat.toml")
}
