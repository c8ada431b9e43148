//! The `nix2dream` executable: process set-up, then the command line (`cli/`).

mod cli;

use clap::Parser;
use nix2dream::exit;
use nix2dream::interrupt;
use nix2dream::text::printable;
use std::process::ExitCode;

// Reading a big deployment and the records a plugin returns is mostly
// allocation: mimalloc does it in less time than glibc's malloc
// (docs/benchmarks.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // Like other Unix tools, end quietly when the reader of stdout has gone
    // (`nix2dream plugins inspect compose | head`) instead of panicking.
    // SAFETY: called first, before any thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = cli::Cli::parse();
    cli.configure_progress();
    if let Err(e) = interrupt::install() {
        eprintln!("warning: cannot handle SIGINT/SIGTERM ({e:#}); an interrupted run may leave staged files for the next run to remove");
    }
    match cli::run(cli) {
        Ok(code) => code,
        Err(e) => {
            // Errors quote deployment keys, paths and plugin text: escaped.
            eprintln!("error: {}", printable(&format!("{e:#}")));
            exit::code_of(&e)
        }
    }
}
