//! The one error type of configuration loading, and warnings.
//!
//! Every error prints as one line that names the field, the bad value and what is
//! expected; `check-config` and `run` exit with code 2 on any of them.

use std::fmt;
use std::path::PathBuf;

/// Why a configuration was refused.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ConfigError {
    /// The file could not be read.
    #[error("{}: cannot read the configuration file: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid TOML / JSON at all.
    #[error("{}: {format} syntax error{}: {message}", path.display(), line.map(|l| format!(" at line {l}")).unwrap_or_default())]
    Syntax {
        /// The file.
        path: PathBuf,
        /// `TOML` or `JSON`.
        format: &'static str,
        /// 1-based line of the error, when known.
        line: Option<usize>,
        /// The parser's message, on one line.
        message: String,
    },
    /// A key or value the schema refuses: unknown key, wrong type, unparsable value.
    /// The message comes from the decoder and quotes the value and what was expected.
    #[error("{field}: {message}")]
    Decode {
        /// Dotted path of the field (`checks.icmp.interval`).
        field: String,
        /// What is wrong, quoting the value and what was expected.
        message: String,
    },
    /// A value that decodes but breaks a rule (zero retries, timeout too long, …).
    #[error("{field}: invalid value {value}: expected {expected}")]
    Invalid {
        /// Dotted path of the field.
        field: String,
        /// The bad value, as written or as resolved.
        value: String,
        /// What is allowed.
        expected: String,
    },
}

impl ConfigError {
    /// An [`ConfigError::Invalid`] with the value quoted through `Debug` for strings.
    pub(crate) fn invalid(
        field: &str,
        value: impl fmt::Display,
        expected: impl Into<String>,
    ) -> Self {
        ConfigError::Invalid {
            field: field.to_owned(),
            value: value.to_string(),
            expected: expected.into(),
        }
    }

    /// The field the error names, when it names one (the tests check it; the message
    /// names it for the operator).
    #[cfg(test)]
    pub(crate) fn field(&self) -> Option<&str> {
        match self {
            ConfigError::Decode { field, .. } | ConfigError::Invalid { field, .. } => Some(field),
            ConfigError::Read { .. } | ConfigError::Syntax { .. } => None,
        }
    }

    /// Replaces the field name (used to show the flat JSON key instead of the
    /// sectioned one).
    pub(crate) fn rename_field(mut self, f: impl Fn(&str) -> Option<String>) -> Self {
        if let ConfigError::Decode { field, .. } | ConfigError::Invalid { field, .. } = &mut self {
            if let Some(new) = f(field) {
                *field = new;
            }
        }
        self
    }
}

/// Something suspicious that does not stop the node (or that only `run` refuses).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Warning {
    /// Dotted path of the field concerned.
    pub field: String,
    /// What is suspicious and what it means.
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}
