//! The password sources of `[local_db]` and `[peer]`: inline, or a file (absolute,
//! readable, warned about when others may read it).

use std::path::PathBuf;

use super::{absolute, Resolver, R};
use crate::config::error::ConfigError;
use crate::config::types::{PasswordSource, Secret};

impl Resolver<'_> {
    pub(super) fn password(
        &mut self,
        section: &str,
        inline: Option<String>,
        file: Option<String>,
    ) -> R<Option<PasswordSource>> {
        match (inline, file) {
            (Some(_), Some(f)) => Err(ConfigError::invalid(
                &format!("{section}.password_file"),
                format!("{f:?}"),
                "either password or password_file, not both",
            )),
            (Some(p), None) => Ok(Some(PasswordSource::Inline(Secret(p)))),
            (None, Some(f)) => {
                let field = format!("{section}.password_file");
                let f = absolute(&field, f, "an absolute path")?;
                match std::fs::metadata(&f) {
                    Ok(m) => {
                        use std::os::unix::fs::PermissionsExt;
                        if m.permissions().mode() & 0o077 != 0 {
                            self.warn(&field, format!("{f:?} holds a password and is readable by group or others (mode {:o}): chmod 600 it", m.permissions().mode() & 0o777));
                        }
                    }
                    Err(e) => self.host_problem(
                        &field,
                        format!("{f:?}"),
                        &format!("a readable file ({e})"),
                    )?,
                }
                Ok(Some(PasswordSource::File(PathBuf::from(f))))
            }
            (None, None) => Ok(None),
        }
    }
}
