use std::process::ExitCode;

fn main() -> ExitCode {
    synlab::cli::run()
}
