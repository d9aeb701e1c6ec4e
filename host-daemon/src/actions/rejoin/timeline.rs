//! Timelines and WAL positions as PostgreSQL writes them: LSNs (`0/3000060`), the new
//! primary's timeline history file (where the old timeline forked off) and WAL
//! segment file names (which timeline and position each holds).

/// Parses an LSN as PostgreSQL prints it (`X/Y`, hexadecimal).
pub(crate) fn parse_lsn(text: &str) -> Option<u64> {
    let (hi, lo) = text.trim().split_once('/')?;
    let hi = u64::from_str_radix(hi, 16).ok()?;
    let lo = u64::from_str_radix(lo, 16).ok()?;
    (hi <= u64::from(u32::MAX) && lo <= u64::from(u32::MAX)).then_some((hi << 32) | lo)
}

/// Formats an LSN as PostgreSQL prints it.
pub(crate) fn format_lsn(lsn: u64) -> String {
    format!("{:X}/{:X}", lsn >> 32, lsn & 0xFFFF_FFFF)
}

/// The name of timeline `tli`'s history file in `pg_wal`.
pub(crate) fn history_file_name(tli: u32) -> String {
    format!("{tli:08X}.history")
}

/// Where timeline `old` ended in a history file (`<parent tli>\t<switch LSN>\t<reason>`
/// lines, `#` comments): the position past which `old`'s WAL is not in the new
/// timeline's history. `None` when the file does not list `old` as a parent.
pub(crate) fn fork_point(history: &str, old: u32) -> Option<u64> {
    history
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .find_map(|l| {
            let mut fields = l.split_whitespace();
            let parent: u32 = fields.next()?.parse().ok()?;
            let switch = parse_lsn(fields.next()?)?;
            (parent == old).then_some(switch)
        })
}

/// A WAL segment file's name read back: its timeline and segment number, for a
/// cluster whose segments are `segment_size` bytes. `None` for any other file.
pub(crate) fn segment_of(name: &str, segment_size: u64) -> Option<(u32, u64)> {
    if name.len() != 24 || !name.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let tli = u32::from_str_radix(&name[0..8], 16).ok()?;
    let log = u64::from_str_radix(&name[8..16], 16).ok()?;
    let seg = u64::from_str_radix(&name[16..24], 16).ok()?;
    let per_log = 0x1_0000_0000u64.checked_div(segment_size)?;
    Some((tli, log * per_log + seg))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lsns_read_and_print_as_postgresql_does() {
        assert_eq!(parse_lsn("0/3000060"), Some(0x3000060));
        assert_eq!(parse_lsn("1/0"), Some(1 << 32));
        assert_eq!(format_lsn(0x1_0300_0060), "1/3000060");
        assert_eq!(parse_lsn("0/xyz"), None);
        assert_eq!(parse_lsn("3000060"), None);
    }

    #[test]
    fn the_fork_point_is_the_old_timelines_switch_position() {
        // `00000003.history` after two promotions.
        let history = "1\t0/3000148\tno recovery target specified\n\n2\t0/50000A0\tno recovery target specified\n";
        assert_eq!(history_file_name(3), "00000003.history");
        assert_eq!(fork_point(history, 1), Some(0x3000148));
        assert_eq!(fork_point(history, 2), Some(0x50000A0));
        assert_eq!(fork_point(history, 3), None);
        assert_eq!(fork_point("# comment\n", 1), None);
    }

    #[test]
    fn segment_names_give_timeline_and_number() {
        let size = 16 << 20;
        assert_eq!(segment_of("000000010000000000000003", size), Some((1, 3)));
        assert_eq!(
            segment_of("000000020000000100000002", size),
            Some((2, 256 + 2))
        );
        assert_eq!(segment_of("00000002.history", size), None);
        assert_eq!(segment_of("000000010000000000000003.partial", size), None);
        assert_eq!(segment_of("archive_status", size), None);
    }
}
