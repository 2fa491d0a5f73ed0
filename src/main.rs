//! The `postura` binary: parse flags, run, map the outcome to an exit code.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = match postura::cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            // clap prints help/version with exit 0 and usage errors with exit 2.
            let _ = error.print();
            return ExitCode::from(if error.use_stderr() { postura::cli::EXIT_USAGE } else { postura::cli::EXIT_OK });
        }
    };
    cli.init_logging();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("postura: cannot start the async runtime: {error}");
            return ExitCode::from(postura::cli::EXIT_USAGE);
        }
    };
    runtime.block_on(postura::cli::execute(cli))
}
