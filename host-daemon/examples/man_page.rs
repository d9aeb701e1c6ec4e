//! Writes the `twinbeat(1)` man page, generated from the command line's own
//! description (clap_mangen), to the file named by the first argument: the page the
//! Debian package ships (`tests/package.sh`).

use std::path::PathBuf;

fn main() -> std::io::Result<()> {
    let out = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .ok_or_else(|| std::io::Error::other("usage: man_page OUTPUT.1"))?;
    let mut page = Vec::new();
    clap_mangen::Man::new(twinbeat::command()).render(&mut page)?;
    std::fs::write(out, page)
}
