//! `[local_db]` and `[local_db.service]`: how to reach the local PostgreSQL (the
//! password from the file, a password file or the environment), its check timing
//! (defaults filled in; the engine checks it), and how it is restarted and stopped.

use std::path::PathBuf;

use super::{absolute, missing, non_empty, required, Resolver, R};
use crate::config::defaults as d;
use crate::config::error::ConfigError;
use crate::config::raw::{RawLocalDb, RawService};
use crate::config::types::*;
use crate::config::units::Port;

impl Resolver<'_> {
    pub(super) fn local_db(&mut self, raw: Option<RawLocalDb>) -> R<LocalDb> {
        let raw = raw.unwrap_or_default();
        let password = match self.password("local_db", raw.password, raw.password_file)? {
            Some(p) => p,
            None => self
                .env_password
                .clone()
                .map_or(PasswordSource::None, |p| PasswordSource::Env(Secret(p))),
        };
        let conn = DbConn {
            host: non_empty("local_db.host", raw.host, d::DB_HOST)?,
            port: raw.port.unwrap_or(Port(d::DB_PORT)).0,
            user: non_empty("local_db.user", raw.user, d::DB_USER)?,
            password,
            dbname: non_empty("local_db.dbname", raw.dbname, d::DB_NAME)?,
        };
        Ok(LocalDb {
            conn,
            check_interval: self.timed(
                "local_db.check_interval",
                raw.check_interval,
                self.timings.local_db.0,
            ),
            timeout: self.timed("local_db.timeout", raw.timeout, self.timings.local_db.1),
            retries: raw.retries.unwrap_or(d::RETRIES),
            service: self.service(raw.service)?,
        })
    }

    pub(super) fn service(&mut self, raw: Option<RawService>) -> R<Service> {
        let raw = raw.unwrap_or_default();
        let f = |k: &str| format!("local_db.service.{k}");
        let data_dir = raw
            .data_dir
            .map(|p| {
                absolute(
                    &f("data_dir"),
                    p,
                    "an absolute path (the cluster's data directory)",
                )
            })
            .transpose()?
            .map(PathBuf::from);
        let config_file = raw
            .config_file
            .map(|p| {
                absolute(
                    &f("config_file"),
                    p,
                    "an absolute path (the cluster's postgresql.conf)",
                )
            })
            .transpose()?
            .map(PathBuf::from);
        if let Some(p) = &config_file {
            // pg_ctl hands it to the server inside one shell word.
            if p.to_string_lossy().contains('\'') {
                return Err(ConfigError::invalid(
                    &f("config_file"),
                    format!("{:?}", p.display().to_string()),
                    "a path without a single quote",
                ));
            }
        }
        let manager = match raw.manager.as_deref().unwrap_or(d::MANAGER) {
            "pg_ctl" => ServiceManager::PgCtl {
                pg_ctl: PathBuf::from(raw.pg_ctl.unwrap_or_else(|| d::PG_CTL.to_owned())),
                data_dir: required(
                    &f("data_dir"),
                    data_dir,
                    "the data directory, required with manager = \"pg_ctl\"",
                )?,
            },
            "systemd" => ServiceManager::Systemd {
                data_dir,
                unit: match raw.unit {
                    Some(u) if !u.trim().is_empty() => u,
                    Some(u) => {
                        return Err(ConfigError::invalid(
                            &f("unit"),
                            format!("{u:?}"),
                            "a unit name",
                        ))
                    }
                    None if raw.manager.is_none() => d::UNIT.to_owned(),
                    None => {
                        return Err(missing(
                            &f("unit"),
                            "a unit name, required with manager = \"systemd\"",
                        ))
                    }
                },
            },
            "command" => ServiceManager::Command {
                data_dir,
                restart_command: command(&f("restart_command"), raw.restart_command)?,
                stop_command: command(&f("stop_command"), raw.stop_command)?,
            },
            other => {
                return Err(ConfigError::invalid(
                    &f("manager"),
                    format!("{other:?}"),
                    "one of \"pg_ctl\", \"systemd\", \"command\"",
                ))
            }
        };
        if manager.data_dir().is_none() {
            self.warn(
                &f("data_dir"),
                "not set: learned at start from the local DB (SHOW data_directory); \
                 while it is unknown a stop or restart cannot be confirmed by PID (a restart \
                 cannot escalate to SIGKILL) and the start \
                 guard (standby.signal on the primary) is off"
                    .to_owned(),
            );
        }
        let restart_grace = self.timed(
            "local_db.service.restart_grace",
            raw.restart_grace,
            self.timings.restart_grace,
        );
        Ok(Service {
            manager,
            config_file,
            restart_grace,
        })
    }
}

/// A shell command the `command` manager needs: given and not blank.
fn command(field: &str, v: Option<String>) -> R<String> {
    required(
        field,
        v.filter(|c| !c.trim().is_empty()),
        "a command, required with manager = \"command\"",
    )
}
