//! The `nix2dream` command line.

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use nix2dream::plugin::{engine, limits::Limits, registry, Plugin, Severity};
use nix2dream::{deployment, evaluate, image_requests, input, output, render, vm_requests};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "nix2dream", version, about = "Define services once with Nix modules; render them for any service manager through sandboxed WebAssembly plugins")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Render a deployment (`.json`, or `.nix` evaluated through Nix) with one or more plugins.
    Render(RenderArgs),
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
    /// List or inspect plugins.
    #[command(subcommand)]
    Plugins(PluginsCommand),
}

#[derive(Subcommand)]
enum PluginsCommand {
    /// Bundled plugins and those on NIX2DREAM_PLUGIN_PATH.
    List {
        #[command(flatten)]
        limits: LimitArgs,
    },
    /// What a plugin is, supports and accepts.
    Inspect {
        /// A plugin name or a path to a .wasm file.
        plugin: String,
        #[command(flatten)]
        limits: LimitArgs,
    },
}

#[derive(Args)]
struct NixArgs {
    /// nixpkgs (at least its lib/) to evaluate with; else NIX2DREAM_NIXPKGS, else <nixpkgs> on NIX_PATH.
    #[arg(long, value_name = "PATH")]
    nixpkgs: Option<PathBuf>,
}

#[derive(Args)]
struct LimitArgs {
    /// Memory a plugin may use, in MiB.
    #[arg(long, value_name = "MIB", default_value_t = Limits::default().memory_bytes >> 20)]
    memory_limit: usize,
    /// CPU budget of one plugin call, in wasmtime fuel units (about one per instruction).
    #[arg(long, value_name = "UNITS", default_value_t = Limits::default().fuel)]
    fuel: u64,
    /// Largest total size of what one plugin may render, in MiB.
    #[arg(long, value_name = "MIB", default_value_t = Limits::default().output_bytes >> 20)]
    output_limit: usize,
    /// Largest total size of the image archives one render may build, in MiB.
    #[arg(long, value_name = "MIB", default_value_t = image_requests::DEFAULT_IMAGE_LIMIT_MIB)]
    image_limit: u64,
    /// Do not read or write the compiled-plugin cache.
    #[arg(long)]
    no_cache: bool,
}

impl LimitArgs {
    fn limits(&self) -> Limits {
        Limits { memory_bytes: self.memory_limit << 20, fuel: self.fuel, output_bytes: self.output_limit << 20 }
    }

    fn load(&self, spec: &str) -> Result<Plugin> {
        let file = registry::resolve(spec)?;
        let cache = if self.no_cache { None } else { engine::default_cache_dir() };
        Plugin::load(&file, self.limits(), cache.as_deref())
    }
}

#[derive(Args)]
struct RenderArgs {
    /// A plugin: a bundled name (e.g. `procfile`), a name on NIX2DREAM_PLUGIN_PATH, or a .wasm file.
    #[arg(long = "plugin", short = 'p', required = true, value_name = "PLUGIN")]
    plugins: Vec<String>,
    /// The deployment: a nix2dream/v1 JSON file or a services.nix.
    input: PathBuf,
    /// Output directory (one plugin: its files at the top; several: one folder per plugin).
    #[arg(long, short = 'o', value_name = "DIR")]
    out: PathBuf,
    /// Make options a plugin ignores an error instead of a warning.
    #[arg(long)]
    strict: bool,
    /// Do not warn that a plugin ignores this core option (repeatable).
    #[arg(long = "allow-unsupported", value_name = "OPTION")]
    allow_unsupported: Vec<String>,
    /// Render in memory and exit non-zero if DIR differs (for CI drift checks).
    #[arg(long)]
    check: bool,
    /// Overwrite files in DIR that nix2dream did not write.
    #[arg(long)]
    force: bool,
    #[command(flatten)]
    limits: LimitArgs,
    #[command(flatten)]
    nix: NixArgs,
}

fn print_message(severity: Severity, text: &str) {
    let level = match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "info",
    };
    eprintln!("{level}: {text}");
}

fn run_render(args: RenderArgs) -> Result<ExitCode> {
    for option in &args.allow_unsupported {
        if !deployment::options::is_core_option(option) {
            bail!(
                "--allow-unsupported {option}: not a core option (known: {})",
                deployment::options::CORE_OPTIONS.join(", ")
            );
        }
    }
    let deployment = input::load(&args.input, args.nix.nixpkgs.as_deref())?;
    let plugins = args.plugins.iter().map(|spec| args.limits.load(spec)).collect::<Result<Vec<_>>>()?;
    let options = render::Options { strict: args.strict, allow_unsupported: args.allow_unsupported.clone() };
    let mut outcome = render::render(&deployment, &plugins, &options)?;
    for message in &outcome.messages {
        print_message(message.severity, &message.text);
    }
    // Image archives are spooled here until written (or compared) below.
    let spool = tempfile::tempdir().context("creating a temporary directory for image archives")?;
    let images = image_requests::build_all(&outcome.images, &deployment, spool.path(), args.limits.image_limit << 20)?;
    for message in render::image_warnings(&images.warnings, &options)? {
        print_message(message.severity, &message.text);
    }
    // VM roots share the image limit with the images.
    let used: u64 = images.files.iter().filter_map(|f| match &f.contents { output::Contents::Spooled(p) => std::fs::metadata(p).ok(), _ => None }).map(|m| m.len()).sum();
    let vm_roots = vm_requests::build_all(&outcome.vm_roots, &deployment, spool.path(), (args.limits.image_limit << 20).saturating_sub(used))?;
    outcome.files.extend(images.files);
    outcome.files.extend(vm_roots);
    if args.check {
        let diffs = output::differences(&args.out, &outcome.files)?;
        if diffs.is_empty() {
            eprintln!("{} is up to date", args.out.display());
            return Ok(ExitCode::SUCCESS);
        }
        eprintln!("{} is out of date (re-run without --check to update it):", args.out.display());
        for diff in diffs {
            eprintln!("  {diff}");
        }
        return Ok(ExitCode::FAILURE);
    }
    let written = output::write_all(&args.out, &outcome.files, args.force)?;
    eprintln!(
        "wrote {} file(s) to {}{}",
        written.written.len(),
        args.out.display(),
        if written.removed.is_empty() { String::new() } else { format!(", removed {} stale one(s)", written.removed.len()) }
    );
    for plugin in &plugins {
        if !plugin.info.usage.is_empty() {
            eprintln!("{}: {}", plugin.label(), plugin.info.usage);
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn plugins_list(limits: &LimitArgs) -> Result<()> {
    let found = registry::list();
    if found.is_empty() {
        println!("no plugins found (bundled dir: {}; NIX2DREAM_PLUGIN_PATH: {})",
            registry::bundled_dir().map(|d| d.display().to_string()).unwrap_or_default(),
            std::env::var("NIX2DREAM_PLUGIN_PATH").unwrap_or_default());
    }
    let mut seen = std::collections::BTreeSet::new();
    for f in found {
        let shadowed = if seen.insert(f.name.clone()) { "" } else { " (shadowed)" };
        match limits.load(&f.file.display().to_string()) {
            Ok(p) => println!("{:<12} {:<8} {:<22} {}{shadowed}\n{:<12} {}", f.name, p.info.version, f.origin, f.file.display(), "", p.info.description),
            Err(e) => println!("{:<12} {:<8} {:<22} {}{shadowed}\n{:<12} unusable: {e:#}", f.name, "?", f.origin, f.file.display(), ""),
        }
    }
    Ok(())
}

fn plugins_inspect(spec: &str, limits: &LimitArgs) -> Result<()> {
    let p = limits.load(spec)?;
    let unsupported: Vec<&str> = deployment::options::CORE_OPTIONS
        .iter()
        .copied()
        .filter(|o| !p.info.supported_options.iter().any(|s| s == o))
        .collect();
    println!("name:        {}", p.info.name);
    println!("version:     {}", p.info.version);
    println!("file:        {}", p.file.display());
    println!("contract:    nix2dream:manager@{}", p.wit_version);
    println!(
        "loaded:      {}",
        match p.origin {
            nix2dream::plugin::Origin::Cached => "from the compiled-plugin cache",
            nix2dream::plugin::Origin::Compiled => "compiled now",
        }
    );
    println!("description: {}", p.info.description);
    println!("supports:    {}", p.info.supported_options.join(" "));
    println!("ignores:     {}", unsupported.join(" "));
    println!("usage:       {}", p.info.usage.trim_end().replace('\n', "\n             "));
    if !p.info.settings_schema.is_empty() {
        let pretty = serde_json::from_str::<serde_json::Value>(&p.info.settings_schema)
            .and_then(|v| serde_json::to_string_pretty(&v))
            .unwrap_or_else(|_| p.info.settings_schema.clone());
        println!("settings schema:\n{pretty}");
    }
    Ok(())
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Render(args) => return run_render(args),
        Command::Eval { input, nix } => {
            let value = input::json_of(&input, nix.nixpkgs.as_deref())?;
            // Validate too, so `eval` reports what `render` would refuse.
            deployment::from_value(value.clone()).with_context(|| format!("invalid deployment {}", input.display()))?;
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
        Command::Plugins(PluginsCommand::List { limits }) => plugins_list(&limits)?,
        Command::Plugins(PluginsCommand::Inspect { plugin, limits }) => plugins_inspect(&plugin, &limits)?,
    }
    Ok(ExitCode::SUCCESS)
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

