//! The `pantau` binary: parses the command line and hands over to `pantau::cli`.

fn main() -> std::process::ExitCode {
    pantau::cli::main()
}
