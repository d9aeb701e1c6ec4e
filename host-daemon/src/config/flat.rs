//! The user's flat JSON file from the notes, mapped onto the sectioned shape.
//!
//! `dblcl*` → `[local_db]`, `dbrmthost`/`dbrmtport` → `[peer]`, `vip` → `[vip]`,
//! `role` → `role`. Anything it lacks takes the defaults of [`super::resolve`].

use serde::Deserialize;

use super::raw::{RawConfig, RawLocalDb, RawPeer, RawVip};
use super::units::Port;

/// The keys of the notes' file. Unknown keys are refused like everywhere else.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FlatConfig {
    role: Option<String>,
    dblclhost: Option<String>,
    dblcluser: Option<String>,
    dblclpass: Option<String>,
    dblclname: Option<String>,
    dblclport: Option<Port>,
    dbrmthost: Option<String>,
    dbrmtport: Option<Port>,
    vip: Option<String>,
}

/// The flat keys, used to tell a flat JSON file from a sectioned one.
const FLAT_KEYS: [&str; 8] = [
    "dblclhost",
    "dblcluser",
    "dblclpass",
    "dblclname",
    "dblclport",
    "dbrmthost",
    "dbrmtport",
    "vip",
];

/// A JSON object is flat when it has one of the notes' keys at top level (`vip` as a
/// string: in the sectioned shape `vip` is a table).
pub(crate) fn is_flat(value: &serde_json::Value) -> bool {
    let Some(obj) = value.as_object() else {
        return false;
    };
    obj.iter().any(|(k, v)| match k.as_str() {
        "vip" => v.is_string(),
        k => FLAT_KEYS.contains(&k),
    })
}

impl FlatConfig {
    /// Maps the flat keys onto the sectioned shape.
    pub(crate) fn into_raw(self) -> RawConfig {
        RawConfig {
            role: self.role,
            local_db: Some(RawLocalDb {
                host: self.dblclhost,
                port: self.dblclport,
                user: self.dblcluser,
                password: self.dblclpass,
                dbname: self.dblclname,
                ..RawLocalDb::default()
            }),
            peer: Some(RawPeer {
                address: self.dbrmthost,
                db_port: self.dbrmtport,
                ..RawPeer::default()
            }),
            vip: Some(RawVip {
                address: self.vip,
                ..RawVip::default()
            }),
            ..RawConfig::default()
        }
    }
}

/// Maps a flat key to the sectioned field it fills, so errors can name both.
pub(crate) fn sectioned_name(flat_key: &str) -> Option<&'static str> {
    Some(match flat_key {
        "dblclhost" => "local_db.host",
        "dblcluser" => "local_db.user",
        "dblclpass" => "local_db.password",
        "dblclname" => "local_db.dbname",
        "dblclport" => "local_db.port",
        "dbrmthost" => "peer.address",
        "dbrmtport" => "peer.db_port",
        "vip" => "vip.address",
        "role" => "role",
        _ => return None,
    })
}
