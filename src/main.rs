//! The `muster` binary; everything lives in the library so tests drive the same code.

fn main() -> std::process::ExitCode {
    match muster::cli::main() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("muster: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
