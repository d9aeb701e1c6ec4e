//! The flat JSON format (the design's §4: the user's first configuration file), mapped onto the sectioned shape.
//!
//! `dblcl*` → `[local_db]`, `dbrmthost`/`dbrmtport` → `[peer]`, `vip` → `[vip]`,
//! `role` → `role`. The flat object is rewritten as the sectioned one and decoded like
//! any sectioned file, so the values are parsed in one place; anything it lacks takes
//! the defaults of [`super::resolve`].

use serde_json::{Map, Value};

use super::error::ConfigError;

/// Every flat key and the sectioned field it fills: the one list of the flat format's keys.
/// It tells a flat file from a sectioned one, rewrites it, and names both in messages.
const KEYS: [(&str, &str); 9] = [
    ("dblclhost", "local_db.host"),
    ("dblcluser", "local_db.user"),
    ("dblclpass", "local_db.password"),
    ("dblclname", "local_db.dbname"),
    ("dblclport", "local_db.port"),
    ("dbrmthost", "peer.address"),
    ("dbrmtport", "peer.db_port"),
    ("vip", "vip.address"),
    ("role", "role"),
];

/// A JSON object is flat when it has one of the flat format's keys at top level (`vip` as a
/// string: in the sectioned shape `vip` is a table; `role` is a key of both shapes).
pub(crate) fn is_flat(value: &Value) -> bool {
    let Some(obj) = value.as_object() else {
        return false;
    };
    obj.iter().any(|(k, v)| match k.as_str() {
        "vip" => v.is_string(),
        "role" => false,
        k => KEYS.iter().any(|(flat, _)| *flat == k),
    })
}

/// Rewrites a flat object as the sectioned one (`{"dblclport": "5433"}` →
/// `{"local_db": {"port": "5433"}}`). A key outside the flat format's list is refused like an
/// unknown key anywhere else.
pub(crate) fn to_sectioned(value: Value) -> Result<Value, ConfigError> {
    let Value::Object(flat) = value else {
        return Ok(value);
    };
    let mut out = Map::new();
    for (key, value) in flat {
        let Some((_, sectioned)) = KEYS.iter().find(|(f, _)| *f == key) else {
            let expected: Vec<String> = KEYS.iter().map(|(f, _)| format!("`{f}`")).collect();
            return Err(ConfigError::Decode {
                message: format!(
                    "unknown field `{key}`, expected one of {}",
                    expected.join(", ")
                ),
                field: key,
            });
        };
        match sectioned.split_once('.') {
            Some((section, field)) => {
                let table = out
                    .entry(section)
                    .or_insert_with(|| Value::Object(Map::new()));
                if let Value::Object(table) = table {
                    table.insert(field.to_owned(), value);
                }
            }
            None => {
                out.insert((*sectioned).to_owned(), value);
            }
        }
    }
    Ok(Value::Object(out))
}

/// For a flat file, names a sectioned field by the flat key with its sectioned
/// meaning (`dbrmthost (peer.address)`); `None` for a field no flat key fills, or one
/// spelled alike in both shapes.
pub(crate) fn flat_name(sectioned: &str) -> Option<String> {
    KEYS.iter()
        .find(|(flat, s)| *s == sectioned && flat != s)
        .map(|(flat, s)| format!("{flat} ({s})"))
}
