//! Value types of the configuration file: durations, sizes, ports and the failure window.
//!
//! Each one deserialises from the forms the contract allows and, on anything else, fails
//! with a message that quotes the bad value and says what was expected, so the one-line
//! error of `check-config` names both.

use std::fmt;
use std::time::Duration;

use serde::de::{self, Deserialize, Deserializer, Visitor};

/// A duration written as a string: `"1ms"`, `"10ms"`, `"2s"`, `"1m 30s"` (humantime).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DurationStr(pub Duration);

/// A size in bytes: `"1MiB"`, `"512KiB"`, `"16MB"`, `"4096"` or a bare integer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Size(pub u64);

/// A TCP port given as a number (`5432`) or a string (`"5432"`, as in the flat JSON format).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Port(pub u16);

/// `failover.failure_window`: `"auto"` or a duration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WindowSetting {
    /// Twice the slowest path's `retries` × `timeout`.
    Auto,
    /// An explicit window.
    Fixed(Duration),
}

/// Parses a humantime duration, with the error text used in config errors.
pub(crate) fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s.trim()).map_err(|_| {
        format!(
            "invalid duration {s:?}: expected a duration string such as \"10ms\", \"2s\" or \"1m\""
        )
    })
}

/// Formats a duration the way the config file writes it (`"1ms"`, `"2s"`, `"1m 30s"`).
pub(crate) fn format_duration(d: Duration) -> String {
    humantime::format_duration(d).to_string()
}

/// Parses a size such as `"1MiB"`; units B, kB/KB, KiB, MB, MiB, GB, GiB (case-insensitive).
pub(crate) fn parse_size(s: &str) -> Result<u64, String> {
    let bad = || {
        format!(
            "invalid size {s:?}: expected a byte count such as \"1MiB\", \"512KiB\" or \"4096\""
        )
    };
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num.parse().map_err(|_| bad())?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" | "k" => 1_000,
        "kib" => 1 << 10,
        "mb" => 1_000_000,
        "mib" => 1 << 20,
        "gb" => 1_000_000_000,
        "gib" => 1 << 30,
        _ => return Err(bad()),
    };
    n.checked_mul(mult).ok_or_else(bad)
}

/// Formats a size with the largest binary unit that divides it exactly.
pub(crate) fn format_size(n: u64) -> String {
    const UNITS: [(u64, &str); 3] = [(1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")];
    for (m, u) in UNITS {
        if n != 0 && n % m == 0 {
            return format!("{}{u}", n / m);
        }
    }
    format!("{n}B")
}

impl<'de> Deserialize<'de> for DurationStr {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = DurationStr;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration string such as \"10ms\" or \"2s\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<DurationStr, E> {
                parse_duration(v).map(DurationStr).map_err(E::custom)
            }
        }
        d.deserialize_str(V)
    }
}

impl<'de> Deserialize<'de> for Size {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Size;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a size such as \"1MiB\" or a byte count")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Size, E> {
                parse_size(v).map(Size).map_err(E::custom)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Size, E> {
                Ok(Size(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Size, E> {
                u64::try_from(v)
                    .map(Size)
                    .map_err(|_| E::custom(format!("invalid size {v}: expected a byte count ≥ 0")))
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for Port {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        fn port<E: de::Error>(shown: &dyn fmt::Debug, v: Option<u64>) -> Result<Port, E> {
            match v.and_then(|v| u16::try_from(v).ok()) {
                Some(p) if p != 0 => Ok(Port(p)),
                _ => Err(E::custom(format!(
                    "invalid port {shown:?}: expected a number from 1 to 65535"
                ))),
            }
        }
        impl Visitor<'_> for V {
            type Value = Port;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a port number from 1 to 65535, as a number or a string")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Port, E> {
                port(&v, v.trim().parse().ok())
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Port, E> {
                port(&v, Some(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Port, E> {
                port(&v, u64::try_from(v).ok())
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for WindowSetting {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = WindowSetting;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("\"auto\" or a duration string such as \"2s\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<WindowSetting, E> {
                if v.trim() == "auto" {
                    return Ok(WindowSetting::Auto);
                }
                parse_duration(v).map(WindowSetting::Fixed).map_err(|_| {
                    E::custom(format!(
                        "invalid failure window {v:?}: expected \"auto\" or a duration such as \"2s\""
                    ))
                })
            }
        }
        d.deserialize_str(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_and_print() {
        assert_eq!(parse_size("1MiB"), Ok(1 << 20));
        assert_eq!(parse_size("512 KiB"), Ok(512 << 10));
        assert_eq!(parse_size("16MB"), Ok(16_000_000));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert!(parse_size("1 parsec").is_err());
        assert!(parse_size("MiB").is_err());
        assert!(parse_size("99999999999999GiB").is_err());
        assert_eq!(format_size(1 << 20), "1MiB");
        assert_eq!(format_size(1500), "1500B");
    }

    #[test]
    fn durations_round_trip() {
        for s in ["1ms", "10ms", "2s", "1m 30s"] {
            let d = parse_duration(s).unwrap();
            assert_eq!(format_duration(d), s);
        }
        assert!(parse_duration("10 parsecs").is_err());
    }
}
