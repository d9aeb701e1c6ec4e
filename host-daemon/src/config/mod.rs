//! Configuration: the TOML contract (`host-daemon/README.md`, "Configuration") and the
//! notes' flat JSON.
//!
//! [`load`] reads a file (format by extension, else by content: `{` means JSON),
//! decodes it with unknown keys refused, and resolves it: every default filled in, the
//! names, addresses, passwords and host facts checked (`resolve`). The engine's part is
//! then mapped onto `twinbeat_core::Config` once (`to_core`), where the engine checks
//! its own settings against its one set of bounds; its typed field ids are named here
//! as the file names them (`engine_errors`). The result is a [`Loaded`]: the effective
//! [`Config`], the engine's config and the [`Warning`]s; [`render_toml`] prints it
//! (password redacted) for `check-config`.

pub(crate) mod defaults;
mod engine_errors;
mod error;
mod fingerprint;
mod flat;
pub(crate) mod host;
mod raw;
mod render;
mod resolve;
mod to_core;
mod types;

#[cfg(test)]
mod tests;
pub(crate) mod units;

use std::path::{Path, PathBuf};

pub(crate) use error::{ConfigError, Warning};
pub(crate) use fingerprint::{pair_fingerprint, pair_settings};
pub(crate) use host::HostFacts;
pub(crate) use render::render_toml;
pub(crate) use resolve::HostChecks;
pub(crate) use to_core::node_number;
pub(crate) use types::*;

use twinbeat_core as engine;

/// Environment variable holding the database password.
pub(crate) const PASSWORD_ENV: &str = "TWINBEAT_PG_PASSWORD";

/// The two accepted file formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    /// The sectioned TOML of the contract.
    Toml,
    /// JSON with comments and trailing commas (JSON5): the flat JSON format, or the
    /// sectioned shape written as JSON.
    Json,
}

/// A loaded configuration and what looked suspicious on the way.
#[derive(Debug, Clone)]
pub(crate) struct Loaded {
    /// The effective configuration.
    pub config: Config,
    /// The engine's part of it, checked by the engine: what `run` starts the engine
    /// with, and where the derived values (the "auto" failure window) come from.
    pub engine: engine::Config,
    /// Warnings, each naming its field.
    pub warnings: Vec<Warning>,
    /// Whether the file was the flat JSON format.
    pub flat: bool,
}

/// Picks the format: `.toml` / `.json` / `.json5` by extension, else `{` as the first
/// non-blank character means JSON.
pub(crate) fn detect_format(path: &Path, text: &str) -> Format {
    match path.extension().and_then(|e| e.to_str()) {
        Some("toml") => Format::Toml,
        Some("json" | "json5") => Format::Json,
        _ if text.trim_start().starts_with('{') => Format::Json,
        _ => Format::Toml,
    }
}

/// Reads and checks a configuration file against the running host.
pub(crate) fn load(path: &Path, mode: HostChecks) -> Result<Loaded, ConfigError> {
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
                        flat::flat_name("local_db.password").unwrap_or_default()
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
pub(crate) fn load_str(
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
        timings: Profile::default().timings(),
        from_profile: Vec::new(),
    };
    let rename = |f: &str| flat.then(|| flat::flat_name(f)).flatten();
    let config = resolver.resolve(raw).map_err(|e| e.rename_field(rename))?;
    let engine = to_core::to_core(&config).map_err(|e| e.rename_field(rename))?;
    let mut warnings = resolver.warnings;
    for w in &mut warnings {
        if let Some(n) = rename(&w.field) {
            w.field = n;
        }
    }
    Ok(Loaded {
        config,
        engine,
        warnings,
        flat,
    })
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
    let flat = flat::is_flat(&value);
    let value = if flat {
        flat::to_sectioned(value)?
    } else {
        value
    };
    let raw = serde_path_to_error::deserialize(value).map_err(|e| {
        let e = decode_err(e);
        if flat {
            e.rename_field(flat::flat_name)
        } else {
            e
        }
    })?;
    Ok((raw, flat))
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
pub(crate) fn default_path() -> PathBuf {
    PathBuf::from("/etc/twinbeat/twinbeat.toml")
}
