//! `twinbeat`: the failover daemon and CLI.
fn main() -> std::process::ExitCode {
    twinbeat::main()
}
