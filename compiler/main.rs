//! The `hplanc` command: parses arguments and hands over to the library.

fn main() -> std::process::ExitCode {
    hplanc::cli::main()
}
