//! The `nix2dream` command line.

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use nix2dream::exit::{self, Failure, OrFail};
use nix2dream::plugin::{engine, limits::Limits, registry, Plugin, Severity};
use nix2dream::text::printable;
use nix2dream::{deployment, evaluate, image_requests, input, interrupt, output, render, vm_requests};
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
    /// List or inspect plugins; create and build your own (`plugin` works too).
    #[command(subcommand, visible_alias = "plugin")]
    Plugins(PluginsCommand),
    /// Manage the compiled-plugin cache.
    #[command(subcommand)]
    Cache(CacheCommand),
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
    },
    /// What a plugin is, supports and accepts.
    Inspect {
        /// A plugin name or a path to a .wasm file.
        plugin: String,
        #[command(flatten)]
        limits: LoadArgs,
    },
    #[command(flatten)]
    Dev(nix2dream::sdk::DevCommand),
}

#[derive(Args)]
struct NixArgs {
    /// nixpkgs (at least its lib/) to evaluate with; else NIX2DREAM_NIXPKGS, else <nixpkgs> on NIX_PATH.
    #[arg(long, value_name = "PATH")]
    nixpkgs: Option<PathBuf>,
}

/// What loading a plugin and asking its `info()` takes (every command
/// that loads plugins).
#[derive(Args)]
struct LoadArgs {
    /// Memory a plugin may use, in MiB.
    #[arg(long, value_name = "MIB", default_value_t = Limits::default().memory_bytes >> 20)]
    memory_limit: usize,
    /// CPU budget of one plugin call, in wasmtime fuel units (about one per instruction).
    #[arg(long, value_name = "UNITS", default_value_t = Limits::default().fuel)]
    fuel: u64,
    /// Largest plugin file that is compiled, in MiB.
    #[arg(long, value_name = "MIB", default_value_t = Limits::default().plugin_bytes >> 20)]
    plugin_size_limit: usize,
    /// Do not read or write the compiled-plugin cache.
    #[arg(long)]
    no_cache: bool,
}

/// What a render adds: bounds on what it produces (only `render` takes them,
/// so `plugins list` and `inspect` do not accept flags that would do nothing).
#[derive(Args)]
struct LimitArgs {
    #[command(flatten)]
    load: LoadArgs,
    /// Largest total size of what one plugin may render, in MiB.
    #[arg(long, value_name = "MIB", default_value_t = Limits::default().output_bytes >> 20)]
    output_limit: usize,
    /// Largest total size of the image archives one render may build, in MiB.
    #[arg(long, value_name = "MIB", default_value_t = image_requests::DEFAULT_IMAGE_LIMIT_MIB)]
    image_limit: u64,
}

impl LimitArgs {
    fn cache(&self) -> Option<engine::Cache> {
        self.load.cache()
    }

    fn load(&self, spec: &str, cache: Option<&engine::Cache>) -> Result<Plugin> {
        self.load.load_with(spec, cache, self.output_limit << 20)
    }
}

impl LoadArgs {
    fn limits(&self, output_bytes: usize) -> Limits {
        Limits {
            memory_bytes: self.memory_limit << 20,
            fuel: self.fuel,
            output_bytes,
            plugin_bytes: self.plugin_size_limit << 20,
        }
    }

    /// The compiled-plugin cache, unless disabled or unsafe (then said once).
    fn cache(&self) -> Option<engine::Cache> {
        if self.no_cache {
            return None;
        }
        engine::Cache::open_default().unwrap_or_else(|e| {
            eprintln!("warning: not using the compiled-plugin cache: {}", printable(&format!("{e:#}")));
            None
        })
    }

    /// Loads a plugin for `plugins list`/`inspect` (no render: the default output limit).
    fn load(&self, spec: &str, cache: Option<&engine::Cache>) -> Result<Plugin> {
        self.load_with(spec, cache, Limits::default().output_bytes)
    }

    fn load_with(&self, spec: &str, cache: Option<&engine::Cache>, output_bytes: usize) -> Result<Plugin> {
        let resolved = registry::resolve(spec)?;
        for hidden in &resolved.shadowed {
            eprintln!(
                "warning: plugin {spec:?} is {} ({}), which shadows {} ({}): pass a path to choose one",
                resolved.file.display(),
                if hidden.origin == "bundled" { "from NIX2DREAM_PLUGIN_PATH" } else { "first on NIX2DREAM_PLUGIN_PATH" },
                hidden.file.display(),
                hidden.origin
            );
        }
        Plugin::load(&resolved.file, self.limits(output_bytes), cache)
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
    /// Fail at once when another nix2dream run is writing to DIR, instead of waiting for it.
    #[arg(long)]
    no_wait: bool,
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
    eprintln!("{level}: {}", printable(text));
}

fn run_render(args: RenderArgs) -> Result<ExitCode> {
    if args.out.as_os_str() == "-" {
        bail!("--out -: nix2dream writes a directory (files, and image archives beside them), not a stream; give a directory");
    }
    for option in &args.allow_unsupported {
        if !deployment::options::is_core_option(option) {
            bail!(
                "--allow-unsupported {option}: not a core option (known: {})",
                deployment::options::CORE_OPTIONS.join(", ")
            );
        }
    }
    let deployment = input::load(&args.input, args.nix.nixpkgs.as_deref())?;
    let cache = args.limits.cache();
    let plugins = args
        .plugins
        .iter()
        .map(|spec| args.limits.load(spec, cache.as_ref()))
        .collect::<Result<Vec<_>>>()
        .or_fail(Failure::Plugin)?;
    let options = render::Options { strict: args.strict, allow_unsupported: args.allow_unsupported.clone() };
    let mut outcome = render::render(&deployment, &plugins, &options).or_fail(Failure::Plugin)?;
    for message in &outcome.messages {
        print_message(message.severity, &message.text);
    }
    let wait = if args.no_wait { output::Wait::No } else { output::Wait::Yes };
    let image_limit = args.limits.image_limit << 20;
    if args.check {
        let mut out = output::OutputDir::open_existing(&args.out, wait).or_fail(Failure::Io)?;
        if let Some(out) = out.as_mut() {
            build_artifacts(&mut outcome, &deployment, out, image_limit, &options).or_fail(Failure::Plugin)?;
        }
        let diffs = output::differences(out.as_mut(), &args.out, &outcome.files).or_fail(Failure::Io)?;
        if diffs.is_empty() {
            eprintln!("{} is up to date", args.out.display());
            return Ok(ExitCode::SUCCESS);
        }
        eprintln!("{} is out of date (re-run without --check to update it):", args.out.display());
        for diff in diffs {
            eprintln!("  {}", printable(&diff));
        }
        return Ok(ExitCode::from(exit::DRIFT));
    }
    // The usage paragraphs are for a first render into this directory only.
    let first_render = !args.out.join(".nix2dream").exists();
    // Locked, and any interrupted render undone, before anything is staged.
    let mut out = output::OutputDir::open_for_writing(&args.out, wait).or_fail(Failure::Io)?;
    build_artifacts(&mut outcome, &deployment, &mut out, image_limit, &options).or_fail(Failure::Plugin)?;
    let written = out.write_all(&outcome.files, args.force).or_fail(Failure::Io)?;
    drop(out);
    eprintln!(
        "wrote {} file(s) to {}{}",
        written.written.len(),
        args.out.display(),
        if written.removed.is_empty() { String::new() } else { format!(", removed {} stale one(s)", written.removed.len()) }
    );
    for plugin in plugins.iter().filter(|p| first_render && !p.info.usage.is_empty()) {
        // With the real path: OUT is the plugin's folder when there are several.
        let dir = if plugins.len() > 1 { args.out.join(&plugin.info.name) } else { args.out.clone() };
        eprintln!("{}: {}", plugin.label(), printable(&plugin.info.usage.replace("OUT", &dir.display().to_string())));
    }
    Ok(ExitCode::SUCCESS)
}

/// Builds the image archives and VM roots the plugins asked for, inside the
/// output directory's stage folder (so an interrupted render leaves nothing
/// behind); VM roots share the image limit with the images.
fn build_artifacts(
    outcome: &mut render::Outcome,
    deployment: &deployment::Deployment,
    out: &mut output::OutputDir,
    image_limit: u64,
    options: &render::Options,
) -> Result<()> {
    if outcome.images.is_empty() && outcome.vm_roots.is_empty() {
        return Ok(());
    }
    let spool = out.spool_dir()?;
    let images = image_requests::build_all(&outcome.images, deployment, &spool, image_limit)?;
    for message in render::image_warnings(&images.warnings, options)? {
        print_message(message.severity, &message.text);
    }
    let vm_roots = vm_requests::build_all(&outcome.vm_roots, deployment, &spool, image_limit.saturating_sub(images.bytes))?;
    outcome.files.extend(images.files);
    outcome.files.extend(vm_roots);
    Ok(())
}

fn plugins_list(limits: &LoadArgs) -> Result<()> {
    let found = registry::list();
    let cache = limits.cache();
    if found.is_empty() {
        println!("no plugins found (bundled dir: {}; NIX2DREAM_PLUGIN_PATH: {})",
            registry::bundled_dir().map(|d| d.display().to_string()).unwrap_or_default(),
            std::env::var("NIX2DREAM_PLUGIN_PATH").unwrap_or_default());
    }
    let mut seen = std::collections::BTreeSet::new();
    for f in found {
        let shadowed = if seen.insert(f.name.clone()) { "" } else { " (shadowed)" };
        match limits.load(&f.file.display().to_string(), cache.as_ref()) {
            Ok(p) => println!("{:<12} {:<8} {:<22} {}{shadowed}\n{:<12} {}", f.name, p.info.version, f.origin, f.file.display(), "", p.info.description),
            Err(e) => println!("{:<12} {:<8} {:<22} {}{shadowed}\n{:<12} unusable: {e:#}", f.name, "?", f.origin, f.file.display(), ""),
        }
    }
    Ok(())
}

fn plugins_inspect(spec: &str, limits: &LoadArgs) -> Result<()> {
    let p = limits.load(spec, limits.cache().as_ref())?;
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
    println!(
        "addresses:   {}",
        match p.info.addressing {
            nix2dream::plugin::Addressing::Loopback => "127.0.0.1 (the services share one machine's network)",
            nix2dream::plugin::Addressing::ServiceName => "by service name (the manager's DNS)",
        }
    );
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
        Command::Plugins(PluginsCommand::List { limits }) => plugins_list(&limits).or_fail(Failure::Plugin)?,
        Command::Plugins(PluginsCommand::Inspect { plugin, limits }) => plugins_inspect(&plugin, &limits).or_fail(Failure::Plugin)?,
        Command::Plugins(PluginsCommand::Dev(command)) => nix2dream::sdk::run(command)?,
        Command::Cache(CacheCommand::Clean) => {
            let Some(dir) = engine::default_cache_dir() else {
                bail!("no cache directory: neither NIX2DREAM_CACHE_DIR, XDG_CACHE_HOME nor HOME is set");
            };
            let (files, bytes) = engine::clean(&dir).or_fail(Failure::Io)?;
            println!("removed {files} compiled plugin(s), {} KiB, from {}", bytes >> 10, dir.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn main() -> ExitCode {
    // Like other Unix tools, end quietly when the reader of stdout has gone
    // (`nix2dream plugins inspect compose | head`) instead of panicking.
    // SAFETY: called first, before any thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = Cli::parse();
    if let Err(e) = interrupt::install() {
        eprintln!("warning: cannot handle SIGINT/SIGTERM ({e:#}); an interrupted run may leave staged files for the next run to remove");
    }
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            // Errors quote deployment keys, paths and plugin text: escaped.
            eprintln!("error: {}", printable(&format!("{e:#}")));
            exit::code_of(&e)
        }
    }
}

