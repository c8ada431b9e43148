//! The `nix2dream` command line: the commands and their flags (clap), and
//! what each prints. The library (`nix2dream::…`) does the work.

mod args;
mod json;
mod manual;
mod plugins;
mod render;

use anyhow::{bail, Context, Result};
use args::{FormatArgs, LoadArgs, NixArgs};
use clap::{Args, Parser, Subcommand, ValueEnum};
use nix2dream::exit::{Failure, OrFail};
use nix2dream::plugin::engine;
use nix2dream::{deployment, evaluate, input, progress};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "nix2dream", version, about = "Define services once with Nix modules; render them for any service manager through sandboxed WebAssembly plugins")]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
    #[command(flatten)]
    ui: UiArgs,
}

/// How much is said on stderr (every command takes them).
#[derive(Args)]
struct UiArgs {
    /// Say only warnings and errors: no progress, no summary, no usage hints.
    #[arg(long, short = 'q', global = true, conflicts_with = "verbose")]
    quiet: bool,
    /// Say more: every service that sets an ignored option (instead of a few and a count), each plugin loaded.
    #[arg(long, short = 'v', global = true)]
    verbose: bool,
    /// Progress of slow steps (compiling a plugin, assembling images) on stderr: auto shows it on a terminal only.
    #[arg(long, global = true, value_enum, value_name = "WHEN", default_value_t = Progress::Auto)]
    progress: Progress,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Progress {
    Auto,
    Always,
    Never,
}

/// What the commands need to know about how to talk.
#[derive(Clone, Copy)]
pub struct Ui {
    pub quiet: bool,
    pub verbose: bool,
}

#[derive(Subcommand)]
enum Command {
    /// Render a deployment (`.json`, or `.nix` evaluated through Nix) with one or more plugins.
    Render(render::RenderArgs),
    /// Evaluate a services.nix (or validate a deployment JSON) and print its deployment JSON.
    Eval {
        /// The services.nix file, or a deployment `.json` to validate.
        input: PathBuf,
        #[command(flatten)]
        nix: NixArgs,
    },
    /// Print every core option (type, default, description), from the Nix declarations.
    Options {
        /// Print JSON instead of Markdown.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        nix: NixArgs,
    },
    /// List or inspect plugins; create and build your own (`plugin` works too).
    #[command(subcommand, visible_alias = "plugin")]
    Plugins(PluginsCommand),
    /// Manage the compiled-plugin cache.
    #[command(subcommand)]
    Cache(CacheCommand),
    /// Print a shell completion script: `nix2dream completions bash > /etc/bash_completion.d/nix2dream`.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Write the manual pages (nix2dream.1 and one per command) into DIR, e.g. for a package.
    Manpages {
        #[arg(value_name = "DIR")]
        dir: PathBuf,
    },
}

#[derive(Subcommand)]
enum CacheCommand {
    /// Remove every compiled plugin from the cache (NIX2DREAM_CACHE_DIR, else ~/.cache/nix2dream).
    Clean,
}

#[derive(Subcommand)]
enum PluginsCommand {
    /// Bundled plugins and those on NIX2DREAM_PLUGIN_PATH.
    List {
        #[command(flatten)]
        limits: LoadArgs,
        #[command(flatten)]
        format: FormatArgs,
    },
    /// What a plugin is, supports and accepts.
    Inspect {
        /// A plugin name or a path to a .wasm file.
        plugin: String,
        #[command(flatten)]
        limits: LoadArgs,
        #[command(flatten)]
        format: FormatArgs,
    },
    #[command(flatten)]
    Dev(nix2dream::sdk::DevCommand),
}

impl Command {
    /// Whether the result goes to stdout as JSON (then progress stays off
    /// unless asked, like on a non-terminal).
    fn prints_json(&self) -> bool {
        match self {
            Command::Render(args) => args.format.json(),
            Command::Plugins(PluginsCommand::List { format, .. } | PluginsCommand::Inspect { format, .. }) => format.json(),
            _ => false,
        }
    }
}

impl Cli {
    /// Chooses how progress is shown for this run.
    pub fn configure_progress(&self) {
        let display = match self.ui.progress {
            Progress::Never => progress::Display::Hidden,
            Progress::Always if std::io::stderr().is_terminal() => progress::Display::Terminal,
            Progress::Always => progress::Display::Lines,
            Progress::Auto if self.ui.quiet || self.command.prints_json() || !std::io::stderr().is_terminal() => progress::Display::Hidden,
            Progress::Auto => progress::Display::Terminal,
        };
        progress::configure(display);
    }
}

/// Runs the command; an error it returns is printed by `main`, except where
/// the command printed it itself as JSON (then `Err` is never returned).
pub fn run(cli: Cli) -> Result<ExitCode> {
    let ui = Ui { quiet: cli.ui.quiet, verbose: cli.ui.verbose };
    match cli.command {
        Command::Render(args) => return render::run(args, ui),
        Command::Eval { input, nix } => {
            let value = input::json_of(&input, nix.nixpkgs.as_deref())?;
            // Validate too, so `eval` reports what `render` would refuse.
            deployment::from_value(&value).with_context(|| format!("invalid deployment {}", input.display()))?;
            println!("{}", serde_json::to_string_pretty(&value)?);
        }
        Command::Options { json, nix } => {
            let options = evaluate::options_json(nix.nixpkgs.as_deref())?;
            if json {
                println!("{}", serde_json::to_string_pretty(&options)?);
            } else {
                print!("{}", evaluate::options_markdown(&options));
            }
        }
        Command::Plugins(PluginsCommand::List { limits, format }) => return plugins::list(&limits, format.json()),
        Command::Plugins(PluginsCommand::Inspect { plugin, limits, format }) => return plugins::inspect(&plugin, &limits, format.json()),
        Command::Plugins(PluginsCommand::Dev(command)) => nix2dream::sdk::run(command)?,
        Command::Cache(CacheCommand::Clean) => {
            let Some(dir) = engine::default_cache_dir() else {
                bail!("no cache directory: neither NIX2DREAM_CACHE_DIR, XDG_CACHE_HOME nor HOME is set");
            };
            let (files, bytes) = engine::clean(&dir).or_fail(Failure::Io)?;
            println!("removed {files} compiled plugin(s), {} KiB, from {}", bytes >> 10, dir.display());
        }
        Command::Completions { shell } => manual::completions(shell),
        Command::Manpages { dir } => manual::manpages(&dir).or_fail(Failure::Io)?,
    }
    Ok(ExitCode::SUCCESS)
}
