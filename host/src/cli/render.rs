//! `nix2dream render`: load the deployment and the plugins, render, build
//! the images and VM roots asked for, then write (or `--check`) the output;
//! said as text on stderr or as one JSON report on stdout.

use super::args::{FormatArgs, LimitArgs, NixArgs};
use super::{json, Ui};
use anyhow::{bail, Result};
use clap::Args;
use nix2dream::exit::{self, Failure, OrFail};
use nix2dream::messages::{self, Message, RenderFailed};
use nix2dream::plugin::engine::Cache;
use nix2dream::plugin::Plugin;
use nix2dream::text::printable;
use nix2dream::{deployment, image_requests, input, output, render, vm_requests};
use std::path::PathBuf;
use std::process::ExitCode;

/// The cache's record of store layer digests, and how many it keeps.
const LAYER_RECORD: &str = "image-layers";
const LAYER_RECORD_LIMIT: usize = 4096;

#[derive(Args)]
pub struct RenderArgs {
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
    /// Render in memory and exit 1 if DIR differs (for CI drift checks).
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
    #[command(flatten)]
    pub format: FormatArgs,
}

/// What the render did, for the text or the JSON output.
#[derive(Default)]
struct Done {
    plugins: Vec<json::PluginRef>,
    /// Usage paragraphs to show after a first render: (plugin label, text).
    usage: Vec<(String, String)>,
    messages: Vec<Message>,
    written: Vec<String>,
    removed: Vec<String>,
    drift: Option<Vec<output::Difference>>,
    /// The layers the images used, to save once the render is written.
    measured: Option<nix2dream::image::MeasuredLayers>,
    closures: Option<nix2dream::image::KnownClosures>,
}

pub fn run(args: RenderArgs, ui: Ui) -> Result<ExitCode> {
    let mut done = Done::default();
    let result = render(&args, ui, &mut done);
    if args.format.json() {
        return Ok(print_json(&args, &done, result));
    }
    // Text: what was said before a failure is still worth reading.
    print_messages(&done.messages, ui);
    if let Err(e) = &result {
        if let Some(failed) = exit::unmarked(e).downcast_ref::<RenderFailed>().filter(|_| ui.verbose) {
            // -v: every error, one per service (the error line groups them).
            print_messages(&failed.errors, ui);
        }
    }
    let code = result?;
    if let Some(diffs) = &done.drift {
        if diffs.is_empty() {
            if !ui.quiet {
                eprintln!("{} is up to date", args.out.display());
            }
        } else {
            eprintln!("{} is out of date (re-run without --check to update it):", args.out.display());
            for diff in diffs {
                eprintln!("  {}", printable(&diff.to_string()));
            }
        }
        return Ok(code);
    }
    if !ui.quiet {
        eprintln!(
            "wrote {} file(s) to {}{}",
            done.written.len(),
            args.out.display(),
            if done.removed.is_empty() { String::new() } else { format!(", removed {} stale one(s)", done.removed.len()) }
        );
        for (label, usage) in &done.usage {
            eprintln!("{label}: {}", printable(usage));
        }
    }
    Ok(code)
}

fn print_messages(messages: &[Message], ui: Ui) {
    for (severity, text) in messages::grouped(messages, ui.verbose) {
        let level = messages::severity_name(severity);
        if !(ui.quiet && level == "info") {
            eprintln!("{level}: {text}");
        }
    }
}

fn print_json(args: &RenderArgs, done: &Done, result: Result<ExitCode>) -> ExitCode {
    let mut diagnostics: Vec<json::Diagnostic> = done.messages.iter().map(json::Diagnostic::from).collect();
    let (exit_code, error) = match &result {
        Ok(code) => (if *code == ExitCode::SUCCESS { 0 } else { exit::DRIFT }, None),
        Err(e) => {
            if let Some(failed) = exit::unmarked(e).downcast_ref::<RenderFailed>() {
                diagnostics.extend(failed.errors.iter().map(json::Diagnostic::from));
            }
            (exit::number_of(e), Some(printable(&format!("{e:#}"))))
        }
    };
    json::print(&json::RenderReport {
        schema: json::RenderReport::SCHEMA,
        ok: error.is_none() && exit_code == 0,
        exit_code,
        output: args.out.display().to_string(),
        check: args.check,
        plugins: done.plugins.clone(),
        written: done.written.clone(),
        removed: done.removed.clone(),
        drift: done.drift.iter().flatten().map(|d| json::Drift { path: d.path.clone(), what: d.what.clone() }).collect(),
        diagnostics,
        error,
    });
    ExitCode::from(exit_code)
}

fn render(args: &RenderArgs, ui: Ui, done: &mut Done) -> Result<ExitCode> {
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
    let cache = args.limits.load.cache();
    let plugins = args
        .plugins
        .iter()
        .map(|spec| args.limits.load(spec, cache.as_ref()))
        .collect::<Result<Vec<_>>>()
        .or_fail(Failure::Plugin)?;
    done.plugins = plugins.iter().map(json::PluginRef::from).collect();
    if ui.verbose && !args.format.json() {
        for p in &plugins {
            eprintln!("info: {} is {} ({})", p.label(), p.file.display(), json::origin_name(p.origin));
        }
    }
    let options = render::Options { strict: args.strict, allow_unsupported: args.allow_unsupported.clone() };
    let mut outcome = render::render(&deployment, &plugins, &options).or_fail(Failure::Plugin)?;
    done.messages = std::mem::take(&mut outcome.messages);
    let wait = if args.no_wait { output::Wait::No } else { output::Wait::Yes };
    let image_limit = args.limits.image_limit_bytes();
    if args.check {
        let mut out = output::OutputDir::open_existing(&args.out, wait).or_fail(Failure::Io)?;
        if let Some(out) = out.as_mut() {
            // Compared byte for byte: nothing is kept on trust.
            build_artifacts(&mut outcome, &deployment, out, image_limit, &options, done, Reuse::Nothing).or_fail(Failure::Plugin)?;
        }
        let diffs = output::differences(out.as_mut(), &args.out, &outcome.files).or_fail(Failure::Io)?;
        let code = if diffs.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(exit::DRIFT) };
        done.drift = Some(diffs);
        return Ok(code);
    }
    // The usage paragraphs are for a first render into this directory only.
    let first_render = !args.out.join(".nix2dream").exists();
    // Locked, and any interrupted render undone, before anything is staged.
    let mut out = output::OutputDir::open_for_writing(&args.out, wait).or_fail(Failure::Io)?;
    build_artifacts(&mut outcome, &deployment, &mut out, image_limit, &options, done, Reuse::Earlier(cache.as_ref())).or_fail(Failure::Plugin)?;
    let written = out.write_all(&outcome.files, args.force).or_fail(Failure::Io)?;
    if let Some(measured) = &done.measured {
        out.save_measured_layers(measured);
    }
    if let Some(closures) = &done.closures {
        out.save_known_closures(closures);
    }
    drop(out);
    done.written = written.written;
    done.removed = written.removed;
    done.usage = usage(&plugins, args, first_render);
    Ok(ExitCode::SUCCESS)
}

/// The plugins' usage paragraphs, with the real path (OUT is the plugin's
/// folder when there are several); only after a first render.
fn usage(plugins: &[Plugin], args: &RenderArgs, first_render: bool) -> Vec<(String, String)> {
    plugins
        .iter()
        .filter(|p| first_render && !p.info.usage.is_empty())
        .map(|p| {
            let dir = if plugins.len() > 1 { args.out.join(&p.info.name) } else { args.out.clone() };
            (p.label(), p.info.usage.replace("OUT", &shown_path(&dir)))
        })
        .collect()
}

/// A path as usage text shows it: a relative one starts with `./` so that
/// it is a path to Nix too (`imports = [ ./deploy/module.nix ]`), and
/// reads the same to a shell.
fn shown_path(dir: &std::path::Path) -> String {
    let text = dir.display().to_string();
    if dir.is_relative() && !text.starts_with("./") && !text.starts_with("../") {
        format!("./{text}")
    } else {
        text
    }
}

/// What `build_artifacts` may take from earlier renders.
enum Reuse<'a> {
    /// Nothing (`--check`, which trusts nothing).
    Nothing,
    /// What earlier renders into this directory left, and the layer digests
    /// recorded in this cache's record by renders into any directory.
    Earlier(Option<&'a Cache>),
}

/// Builds the image archives and VM roots the plugins asked for, inside the
/// output directory's stage folder (so an interrupted render leaves nothing
/// behind); VM roots share the image limit with the images. With
/// `Reuse::Earlier`, an image whose archive in place is what it would be
/// again is kept, not built again, the store layers whose digests earlier
/// renders measured are not hashed again, and the closures earlier renders
/// into this directory found are not asked again.
fn build_artifacts(
    outcome: &mut render::Outcome,
    deployment: &deployment::Deployment,
    out: &mut output::OutputDir,
    image_limit: u64,
    options: &render::Options,
    done: &mut Done,
    reuse: Reuse,
) -> Result<()> {
    if outcome.images.is_empty() && outcome.vm_roots.is_empty() {
        return Ok(());
    }
    let spool = out.spool_dir()?;
    let (cache, (unchanged, mut measured, mut closures)) = match reuse {
        Reuse::Earlier(cache) => (cache, (out.unchanged_files(), out.measured_layers(), out.known_closures())),
        Reuse::Nothing => (None, Default::default()),
    };
    let cache = cache.filter(|_| !outcome.images.is_empty());
    let shared = cache.and_then(|c| c.read_record(LAYER_RECORD)).unwrap_or_default();
    measured.add_json(&shared);
    let images = image_requests::build_all(&outcome.images, deployment, &spool, image_limit, &unchanged, &mut measured, &mut closures)?;
    if let Some(cache) = cache {
        cache.write_record(LAYER_RECORD, &measured.to_json_with(&shared, LAYER_RECORD_LIMIT));
    }
    done.measured = Some(measured);
    done.closures = Some(closures);
    done.messages.extend(render::image_warnings(&images.warnings, options)?);
    let vm_roots = vm_requests::build_all(&outcome.vm_roots, deployment, &spool, image_limit.saturating_sub(images.bytes))?;
    outcome.files.extend(images.files);
    outcome.files.extend(vm_roots);
    Ok(())
}
